//! The PostgreSQL side: where to connect (a URL or community.postgresql's
//! login_* arguments), connecting (with TLS as `sslmode` asks, like the
//! `postgres` connection), and what already exists.

use std::path::PathBuf;

use crate::connection::postgres::{
    ConnectFailure, PgOptions, SslMode, connect_with, describe_config,
};
use tokio_postgres::Client;
use tokio_postgres::config::Config;

use super::error::{MigrateError, PgContext};
use super::types::PgType;

/// A target database.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub config: Config,
    /// For messages and the ledger key: no password.
    pub display: String,
    pub ssl: SslMode,
    /// The CA file for verify-ca/verify-full (otherwise the system's roots).
    pub root_cert: Option<PathBuf>,
}

impl TargetSpec {
    /// A libpq URL or keyword string; `ssl_mode` (as community.postgresql
    /// names it) overrides the URL's sslmode.
    pub fn parse(url: &str, ssl_mode: Option<&str>) -> Result<TargetSpec, MigrateError> {
        let opts = PgOptions::parse(url)
            .map_err(|e| MigrateError::Target(format!("cannot parse the PostgreSQL URL: {e}")))?;
        let ssl = match ssl_mode {
            Some(m) => parse_ssl_mode(m)?,
            None => opts.ssl,
        };
        let display = describe(&opts.config);
        Ok(TargetSpec {
            config: opts.config,
            display,
            ssl,
            root_cert: opts.root_cert,
        })
    }

    /// From a PostgreSQL connection's options (a host's `pg_url` with a task's overrides).
    pub fn from_options(opts: &PgOptions) -> TargetSpec {
        TargetSpec {
            config: opts.config.clone(),
            display: describe(&opts.config),
            ssl: opts.ssl,
            root_cert: opts.root_cert.clone(),
        }
    }

    /// From login_host/login_port/login_user/login_password/db/login_unix_socket.
    pub fn from_parts(
        host: Option<&str>,
        unix_socket: Option<&str>,
        port: Option<u16>,
        user: &str,
        password: Option<&str>,
        db: &str,
        ssl_mode: Option<&str>,
    ) -> Result<TargetSpec, MigrateError> {
        let mut config = Config::new();
        config.user(user).dbname(db).port(port.unwrap_or(5432));
        match (host, unix_socket) {
            (Some(h), _) if !h.is_empty() => {
                config.host(h);
            }
            (_, Some(s)) if !s.is_empty() => {
                config.host_path(s);
            }
            _ => {
                config.host_path("/var/run/postgresql");
            }
        }
        if let Some(p) = password {
            config.password(p);
        }
        let ssl = parse_ssl_mode(ssl_mode.unwrap_or("prefer"))?;
        let display = describe(&config);
        Ok(TargetSpec {
            config,
            display,
            ssl,
            root_cert: None,
        })
    }

    /// The CA file for verify-ca/verify-full (community.postgresql's `ca_cert`).
    pub fn with_ca_cert(mut self, ca_cert: Option<&str>) -> TargetSpec {
        if let Some(c) = ca_cert.filter(|c| !c.is_empty()) {
            self.root_cert = Some(PathBuf::from(c));
        }
        self
    }

    pub async fn connect(&self) -> Result<Client, MigrateError> {
        match connect_with(&self.config, self.ssl, self.root_cert.as_deref()).await {
            Ok((client, _task)) => Ok(client),
            Err(ConnectFailure::Tls(e)) => {
                Err(MigrateError::Target(format!("{}: {e}", self.display)))
            }
            Err(ConnectFailure::Server(e)) => {
                Err(e).doing(|| format!("connecting to {}", self.display))
            }
        }
    }
}

fn parse_ssl_mode(mode: &str) -> Result<SslMode, MigrateError> {
    mode.parse().map_err(|_| {
        MigrateError::Target(format!(
            "unknown ssl_mode {mode:?} (disable, allow, prefer, require, verify-ca, verify-full)"
        ))
    })
}

fn describe(c: &Config) -> String {
    format!("postgresql://{}", describe_config(c))
}

/// Which of `names` exist as tables in `schema`, with their row estimate
/// (exact count when small).
pub async fn existing_tables(
    c: &Client,
    schema: &str,
    names: &[String],
) -> Result<Vec<String>, MigrateError> {
    let rows = c
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname = ANY($2)",
            &[&schema, &names],
        )
        .await
        .doing(|| "listing existing tables".into())?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Columns of an existing table: (name, type, nullable).
pub async fn existing_columns(
    c: &Client,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, Option<PgType>, String, bool)>, MigrateError> {
    let rows = c
        .query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull \
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
               JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
              ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await
        .doing(|| format!("reading the columns of {schema}.{table}"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let ty: String = r.get(1);
            (r.get(0), PgType::from_catalog(&ty), ty, r.get(2))
        })
        .collect())
}

/// Whether the table holds at least one row.
pub async fn has_rows(c: &Client, schema: &str, table: &str) -> Result<bool, MigrateError> {
    let q = super::sqltext::quote_ident;
    let row = c
        .query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM {}.{})", q(schema), q(table)),
            &[],
        )
        .await
        .doing(|| format!("looking into {schema}.{table}"))?;
    Ok(row.get(0))
}

/// The number of rows of the table.
pub async fn count_rows(c: &Client, schema: &str, table: &str) -> Result<u64, MigrateError> {
    let q = super::sqltext::quote_ident;
    let row = c
        .query_one(
            &format!("SELECT count(*) FROM {}.{}", q(schema), q(table)),
            &[],
        )
        .await
        .doing(|| format!("counting the rows of {schema}.{table}"))?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}
