//! Errors of the migration engine.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("SQLite source {}: {source}", path.display())]
    Source {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", describe_pg(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("PostgreSQL, while {doing}: {}", describe_pg(.source))]
    PostgresAt {
        doing: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("invalid target: {0}")]
    Target(String),
    #[error("schema cannot be translated: {0}")]
    Schema(String),
    #[error("preflight refused the migration: {0}")]
    Preflight(String),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("state store: {0}")]
    State(#[from] crate::state::StateError),
    #[error("migration refused: {0}")]
    Refused(String),
}

/// The server's message with its detail and position, or the client error.
pub fn describe_pg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" ({d})"));
            }
            if let Some(w) = db.where_() {
                s.push_str(&format!(" [{w}]"));
            }
            s
        }
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

/// Attaches what was being done to a PostgreSQL error.
pub(crate) trait PgContext<T> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, MigrateError>;
}

impl<T> PgContext<T> for Result<T, tokio_postgres::Error> {
    fn doing(self, what: impl FnOnce() -> String) -> Result<T, MigrateError> {
        self.map_err(|source| MigrateError::PostgresAt {
            doing: what(),
            source,
        })
    }
}
