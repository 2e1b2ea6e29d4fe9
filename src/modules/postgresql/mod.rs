//! PostgreSQL modules with community.postgresql's names and arguments.
//!
//! Each observes the catalogs (`pg_roles`, `pg_database`, ACLs, `pg_default_acl`,
//! `pg_settings`, `pg_hba_file_rules`) with `SELECT`s only, and states its change
//! as the exact statements apply runs (secrets shown as `<redacted>`). Plans and
//! check mode never send a writing statement. See `session` for the transports.

pub mod scram;
pub mod session;
pub mod sql;

mod db;
mod dump;
mod ext;
mod hba;
mod info;
mod membership;
mod ping;
mod privs;
mod query;
mod set;
mod user;

pub use db::PostgresqlDb;
pub use ext::PostgresqlExt;
pub use hba::PostgresqlPgHba;
pub use info::PostgresqlInfo;
pub use membership::PostgresqlMembership;
pub use ping::PostgresqlPing;
pub use privs::PostgresqlPrivs;
pub use query::PostgresqlQuery;
pub use set::PostgresqlSet;
pub use user::PostgresqlUser;

use super::spec::{ArgKind, ArgSpec, arg};
use super::{Change, Undo};
use serde_json::{Map, Value};

/// libpq's sslmode values, as the `ssl_mode` arguments take them.
pub const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// What plans and logs show instead of a secret.
pub const REDACTED: &str = "<redacted>";

pub const LOGIN_ARGS: [ArgSpec; 9] = [
    arg(
        "login_host",
        ArgKind::Str,
        "Host of the server for `psql` on the target (default: its unix socket).",
    ),
    arg("login_port", ArgKind::Int, "Port of the server (default 5432)."),
    arg(
        "login_user",
        ArgKind::Str,
        "Role to connect as (default: the OS user, i.e. `become_user`; with `connection: postgres`, the user of `pg_url`).",
    )
    .aliases(&["login"]),
    arg(
        "login_password",
        ArgKind::Str,
        "Password to connect with; never shown or recorded.",
    ),
    arg(
        "login_unix_socket",
        ArgKind::Str,
        "Directory of the server's unix socket on the target.",
    )
    .aliases(&["unix_socket"]),
    arg(
        "login_db",
        ArgKind::Str,
        "Database to connect to (default `postgres`).",
    ),
    arg(
        "ssl_mode",
        ArgKind::Str,
        "libpq sslmode: disable, allow, prefer, require, verify-ca, verify-full.",
    )
    .choices(SSL_MODES),
    arg(
        "ca_cert",
        ArgKind::Path,
        "CA certificate file to verify the server with (verify-ca, verify-full).",
    )
    .aliases(&["ssl_rootcert"]),
    arg(
        "session_role",
        ArgKind::Str,
        "Role to switch to (`SET ROLE`) after connecting; statements run as it.",
    ),
];

/// An argument table: the module's own arguments followed by [`LOGIN_ARGS`].
macro_rules! pg_args {
    ($($a:expr),* $(,)?) => {{
        const OWN: &[$crate::modules::spec::ArgSpec] = &[$($a),*];
        const N: usize = OWN.len() + $crate::modules::postgresql::LOGIN_ARGS.len();
        const ALL: [$crate::modules::spec::ArgSpec; N] = {
            let mut out = [$crate::modules::postgresql::LOGIN_ARGS[0]; N];
            let mut i = 0;
            while i < OWN.len() {
                out[i] = OWN[i];
                i += 1;
            }
            let mut j = 0;
            while j < $crate::modules::postgresql::LOGIN_ARGS.len() {
                out[OWN.len() + j] = $crate::modules::postgresql::LOGIN_ARGS[j];
                j += 1;
            }
            out
        };
        &ALL
    }};
}
pub(crate) use pg_args;

/// A change that runs statements: the plan shows `shown` (the same
/// statements with secrets redacted) on one line, and `--diff` one per line.
pub fn sql_change(shown: &[String], undo: Undo) -> Change {
    let mut text = shown.join(";\n");
    text.push_str(";\n");
    Change {
        summary: shown.join("; "),
        diff: Some(super::TextDiff {
            path: "SQL".into(),
            before: String::new(),
            after: text,
        }),
        undo,
        predictable: true,
        after: Vec::new(),
    }
}

/// The inverse task of a change, as an undo record.
pub fn invoke(module: &str, args: Map<String, Value>, summary: String) -> Undo {
    Undo::Invoke {
        module: module.into(),
        args,
        summary,
    }
}

/// `args` plus the login arguments of `from` that may be recorded.
pub fn with_login(mut args: Map<String, Value>, from: &super::Args) -> Map<String, Value> {
    for (k, v) in session::Login::recordable(from) {
        args.entry(k).or_insert(v);
    }
    args
}

/// A list argument: a YAML list or a comma-separated string.
pub fn list_arg(args: &super::Args, key: &str) -> super::ModResult<Vec<String>> {
    let items: Vec<String> = match args.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(s)) => s.split(',').map(String::from).collect(),
        Some(other) => {
            return Err(super::ModuleError::new(format!(
                "argument `{key}` must be a list, got {other}"
            )));
        }
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

/// `state` as present (true) or absent (false).
pub fn present(args: &super::Args) -> super::ModResult<bool> {
    Ok(super::argx::choice(args, "state", &["present", "absent"], "present")? == "present")
}
