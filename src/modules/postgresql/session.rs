//! Talking to PostgreSQL from a module, over one of two transports:
//!
//! - on a host: `psql` run on the target (as the task's `become_user`, usually
//!   `postgres`), SQL on its standard input, `-X -q -A -t -v ON_ERROR_STOP=1`;
//! - direct: a session from the controller, for hosts with
//!   `ansible_connection: postgres` (see `connection::postgres`).
//!
//! Reads come back as one JSON document (`json_agg` of the rows), so the output
//! of `psql` needs no column or row separators that data could contain.
//! Statements are sent one by one, each committing on its own, as `psql` does.

use super::sql::ident;
use crate::connection::postgres::{PgError, PgOptions, PostgresConnection, SslMode};
use crate::modules::{Args, ModResult, ModuleError, Target, argx};
use serde_json::{Map, Value};

/// How long a `psql` run may take on the host before it is ended.
const PSQL_TIMEOUT_SECS: u32 = 300;
const CONNECT_TIMEOUT_SECS: u32 = 10;

/// The `login_*` arguments every module takes.
#[derive(Clone, Default)]
pub struct Login {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: Option<String>,
    pub unix_socket: Option<String>,
    pub ssl_mode: Option<String>,
    pub ca_cert: Option<String>,
    pub session_role: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Login({:?}@{:?}:{:?}/{:?})",
            self.user, self.host, self.port, self.db
        )
    }
}

/// Argument names of [`Login`] that may be recorded (not the password).
const RECORDABLE: &[&str] = &[
    "login_host",
    "login_port",
    "login_user",
    "login_db",
    "login_unix_socket",
    "ssl_mode",
    "ca_cert",
    "session_role",
];

impl Login {
    pub fn from_args(args: &Args) -> ModResult<Login> {
        let port = match argx::number(args, "login_port")? {
            None => None,
            Some(p) if (1.0..=65535.0).contains(&p) && p.fract() == 0.0 => Some(p as u16),
            Some(p) => return Err(ModuleError::new(format!("login_port: invalid port {p}"))),
        };
        let ssl_mode = argx::string(args, "ssl_mode")?;
        if let Some(m) = &ssl_mode {
            m.parse::<SslMode>()
                .map_err(|e| ModuleError::new(format!("ssl_mode: {e}")))?;
        }
        Ok(Login {
            host: argx::string(args, "login_host")?.filter(|s| !s.is_empty()),
            port,
            user: argx::string(args, "login_user")?,
            password: argx::string(args, "login_password")?.filter(|s| !s.is_empty()),
            db: argx::string(args, "login_db")?,
            unix_socket: argx::string(args, "login_unix_socket")?.filter(|s| !s.is_empty()),
            ssl_mode,
            ca_cert: argx::string(args, "ca_cert")?,
            session_role: argx::string(args, "session_role")?,
        })
    }

    /// The login arguments as given, without the password, for undo records.
    pub fn recordable(args: &Args) -> Map<String, Value> {
        args.iter()
            .filter(|(k, _)| RECORDABLE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A connection to one database of the target's server.
/// The unit a planned install of the `postgresql` package leaves (apt's plan).
const PLANNED_SERVER_UNIT: &str = "/lib/systemd/system/postgresql.service";

/// Whether, in a plan, an earlier step installs the PostgreSQL server on the host.
pub fn server_install_planned(planned: Option<&crate::modules::target::Planned>) -> bool {
    planned
        .and_then(|p| p.get(PLANNED_SERVER_UNIT))
        .is_some_and(|st| st.exists())
}

pub struct Session<'s, 't, 'a> {
    t: &'s mut Target<'a>,
    login: &'t Login,
    db: Option<String>,
}

impl<'s, 't, 'a> Session<'s, 't, 'a> {
    /// A session on database `db` (else `login_db`, else the server's default).
    pub fn new(t: &'s mut Target<'a>, login: &'t Login, db: Option<&str>) -> Self {
        Session {
            t,
            login,
            db: db.map(String::from).or_else(|| login.db.clone()),
        }
    }

    /// Ends this transport's open sessions on `db` (a direct host keeps them
    /// for the run), so that the database can be dropped.
    pub fn close_sessions_on(&mut self, db: &str) {
        if let Some(pc) = self.t.conn.postgres() {
            pc.close_sessions_on(db);
        }
    }

    /// Rows of a read-only `SELECT`, as JSON objects keyed by column name.
    pub fn rows(&mut self, select: &str) -> ModResult<Vec<Map<String, Value>>> {
        let wrapped = format!("SELECT coalesce(json_agg(q), '[]'::json)::text FROM ({select}\n) q");
        let text = self.scalar_text(&wrapped)?.unwrap_or_else(|| "[]".into());
        let v: Value = serde_json::from_str(text.trim()).map_err(|e| {
            ModuleError::new(format!("unexpected answer from PostgreSQL ({e}): {text}"))
        })?;
        Ok(match v {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|r| match r {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    /// The first row of a `SELECT`, if any.
    pub fn row(&mut self, select: &str) -> ModResult<Option<Map<String, Value>>> {
        Ok(self.rows(select)?.into_iter().next())
    }

    /// Runs statements in order, each in its own transaction; stops at the first error.
    pub fn execute(&mut self, statements: &[String]) -> ModResult<()> {
        if statements.is_empty() {
            return Ok(());
        }
        if self.t.conn.postgres().is_some() {
            let role = self.login.session_role.clone();
            let mut all = Vec::new();
            if let Some(r) = &role {
                all.push(format!("SET ROLE {}", ident(r)));
            }
            all.extend(statements.iter().cloned());
            if role.is_some() {
                all.push("RESET ROLE".into());
            }
            for s in &all {
                self.direct(s)?;
            }
            return Ok(());
        }
        let mut sql = String::new();
        for s in statements {
            sql.push_str(s);
            sql.push_str(";\n");
        }
        self.psql(&sql).map(|_| ())
    }

    /// In a plan, an earlier step installs the PostgreSQL package on this
    /// host: the server it brings up is empty, so every read finds nothing
    /// (and the host, which has no `postgres` user yet, is not asked).
    pub fn server_planned(&mut self) -> bool {
        self.t.conn.postgres().is_none() && server_install_planned(self.t.planned)
    }

    /// The first column of the first row, as text.
    fn scalar_text(&mut self, select: &str) -> ModResult<Option<String>> {
        if self.server_planned() {
            return Ok(None);
        }
        if self.t.conn.postgres().is_some() {
            if let Some(r) = &self.login.session_role {
                self.direct(&format!("SET ROLE {}", ident(r)))?;
            }
            let rows = self.direct(select);
            if self.login.session_role.is_some() {
                self.direct("RESET ROLE")?;
            }
            return Ok(rows?
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next().flatten()));
        }
        let out = self.psql(&format!("{select};\n"))?;
        Ok(Some(out))
    }

    fn direct(&mut self, sql: &str) -> ModResult<Vec<Vec<Option<String>>>> {
        let login = self.login.clone();
        let db = self.db.clone();
        let pc = self.t.conn.postgres().expect("checked by the caller");
        let opts = direct_options(pc, &login, db.as_deref())?;
        let client = pc.client(&opts).map_err(pg_err)?;
        client.simple(sql).map_err(pg_err)
    }

    /// A shell command running a PostgreSQL client program (`psql …`, `pg_dump …`)
    /// on the target with the login arguments: connection options, and the
    /// password and TLS settings in its environment. With `with_db`, `-d` names
    /// this session's database.
    pub fn client_command(&self, program: &str, with_db: bool, timeout: Option<u32>) -> String {
        let l = self.login;
        let q = crate::connection::sh_quote;
        let mut env = format!("PGCONNECT_TIMEOUT={CONNECT_TIMEOUT_SECS} PGAPPNAME=tbuddy-deploy");
        if let Some(p) = &l.password {
            env.push_str(&format!(" PGPASSWORD={}", q(p)));
        }
        if let Some(m) = &l.ssl_mode {
            env.push_str(&format!(" PGSSLMODE={}", q(m)));
        }
        if let Some(c) = &l.ca_cert {
            env.push_str(&format!(" PGSSLROOTCERT={}", q(c)));
        }
        let mut cmd = match timeout {
            Some(secs) => format!("{env} timeout {secs} {program}"),
            None => format!("{env} {program}"),
        };
        if let Some(h) = l.unix_socket.as_ref().or(l.host.as_ref()) {
            cmd.push_str(&format!(" -h {}", q(h)));
        }
        if let Some(p) = l.port {
            cmd.push_str(&format!(" -p {p}"));
        }
        if let Some(u) = &l.user {
            cmd.push_str(&format!(" -U {}", q(u)));
        }
        if with_db {
            cmd.push_str(&format!(
                " -d {}",
                q(self.db.as_deref().unwrap_or("postgres"))
            ));
        }
        cmd
    }

    /// Runs `psql` on the target with `sql` on its input; returns its output.
    fn psql(&mut self, sql: &str) -> ModResult<String> {
        let l = self.login;
        let cmd = self.client_command(
            "psql -X -q -A -t -v ON_ERROR_STOP=1 -f -",
            true,
            Some(PSQL_TIMEOUT_SECS),
        );
        let mut input = String::new();
        if let Some(r) = &l.session_role {
            input.push_str(&format!("SET ROLE {};\n", ident(r)));
        }
        input.push_str(sql);
        let script = format!(
            "command -v psql >/dev/null 2>&1 || {{ echo 'psql is not installed on this host' >&2; exit 127; }}\n{cmd}"
        );
        let out = self.t.exec(&script, Some(input.as_bytes()))?;
        if out.rc != 0 {
            let err = out.stderr_str();
            let err = err
                .lines()
                .map(|l| l.strip_prefix("psql:-:").map_or(l, |r| r.trim_start()))
                .collect::<Vec<_>>()
                .join("\n");
            let msg = match out.rc {
                124 => format!("psql: no answer within {PSQL_TIMEOUT_SECS} s"),
                _ if err.trim().is_empty() => format!("psql failed with exit code {}", out.rc),
                _ => err.trim().to_string(),
            };
            return Err(ModuleError::new(msg).with("rc", out.rc));
        }
        Ok(out.stdout_str())
    }
}

/// The session options for a host with `ansible_connection: postgres`: its `pg_url`, with
/// the task's login_user, login_password, `db` (else login_db), ssl_mode and ca_cert
/// in place of the URL's. The address stays the URL's: login_host, login_port and
/// login_unix_socket are refused.
pub fn direct_options(
    pc: &PostgresConnection,
    login: &Login,
    db: Option<&str>,
) -> ModResult<PgOptions> {
    let mut opts: PgOptions = pc.options().map_err(pg_err)?.clone();
    if login.host.is_some() || login.port.is_some() || login.unix_socket.is_some() {
        return Err(ModuleError::new(format!(
            "host {}: with `ansible_connection: postgres` the server's address comes from pg_url; \
             drop login_host/login_port/login_unix_socket",
            pc.host()
        )));
    }
    if let Some(u) = &login.user {
        opts.config.user(u.as_str());
    }
    if let Some(p) = &login.password {
        opts.config.password(p.as_str());
    }
    if let Some(d) = db.or(login.db.as_deref()) {
        opts.config.dbname(d);
    }
    if let Some(m) = &login.ssl_mode {
        opts.ssl = m.parse().map_err(pg_err)?;
    }
    if let Some(c) = &login.ca_cert {
        opts.root_cert = Some(c.into());
    }
    Ok(opts)
}

fn pg_err(e: PgError) -> ModuleError {
    let unreachable = matches!(e, PgError::Connect { .. } | PgError::Timeout { .. });
    ModuleError {
        unreachable,
        ..ModuleError::new(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Become, LocalConnection};
    use crate::testsupport::pg::PgCluster;

    /// The `psql` transport on the local connection, as `postgres` (via become)
    /// when running as root, like a task with `become_user: postgres`.
    #[test]
    fn psql_transport_reads_json_rows_and_stops_at_the_first_error() {
        let Some(c) = PgCluster::start("psql_transport") else {
            return;
        };
        let mut conn = LocalConnection;
        let root = nix::unistd::Uid::effective().is_root();
        let mut t = Target {
            conn: &mut conn,
            become_as: root.then(|| Become {
                user: "postgres".into(),
                password: None,
            }),
            env: Vec::new(),
            planned: None,
            seen: None,
        };
        let login = Login {
            unix_socket: Some(c.socket_dir().display().to_string()),
            port: Some(c.port()),
            ..Login::default()
        };
        let mut s = Session::new(&mut t, &login, None);
        let rows = s
            .rows("SELECT 'a|b\nc' AS odd, NULL::text AS nothing, 42 AS n UNION ALL SELECT '', 'x', 0")
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["odd"], "a|b\nc");
        assert_eq!(rows[0]["nothing"], Value::Null);
        assert_eq!(rows[0]["n"], 42);
        assert!(s.rows("SELECT 1 AS x WHERE false").unwrap().is_empty());
        let err = s
            .execute(&[
                "CREATE TABLE t (id int)".into(),
                "INSERT INTO nowhere VALUES (1)".into(),
                "CREATE TABLE never (id int)".into(),
            ])
            .unwrap_err();
        assert!(
            err.msg.contains("relation \"nowhere\" does not exist"),
            "{}",
            err.msg
        );
        let tables = s
            .rows("SELECT relname FROM pg_class WHERE relname IN ('t', 'never')")
            .unwrap();
        assert_eq!(tables.len(), 1, "psql went on after the error: {tables:?}");
        let role = Login {
            session_role: Some("nobody_here".into()),
            ..login.clone()
        };
        let err = Session::new(&mut t, &role, None)
            .rows("SELECT 1")
            .unwrap_err();
        assert!(err.msg.contains("nobody_here"), "{}", err.msg);
    }
}
