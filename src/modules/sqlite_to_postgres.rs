//! `sqlite_to_postgres`: the migration engine (src/migrate) as a playbook
//! step. Where it reads and writes follows the task's host:
//!
//! - local connection: `src` is a controller file, the server is reached from
//!   the controller with community.postgresql's login_* arguments;
//! - SSH host: `src` is a file on the host. A consistent snapshot is taken
//!   there (sqlite3's `.backup`, else python3's backup API; as the task's
//!   become user), streamed to a private controller file and removed from the
//!   host. The host's own server (no login_host, a socket directory, or
//!   localhost) is reached through an SSH forward over the connection's control
//!   master; any other login_host directly from the controller;
//! - `ansible_connection: postgres` host: `src` is a controller file, the
//!   server is the host's `pg_url` (the task's `db`, login_user,
//!   login_password, ssl_mode and ca_cert override the URL's).
//!
//! `observe` takes the snapshot and runs the preflight (it writes nothing);
//! `apply` loads and verifies. The ledger lives in the project's state store,
//! keyed by host and path for a host's file, so a done migration is a no-op
//! afterwards.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::postgresql::SSL_MODES;
use super::postgresql::session::{Login, direct_options, server_install_planned};
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::connection::{LocalForward, RemoteEnd, sh_quote};
use crate::migrate::{self, Inspection, Options, Outcome, Quiet, Snapshot, SourceId, TargetSpec};
use crate::state::{self, StateSpec, StateStore};

pub static SQLITE_TO_POSTGRES: ModuleSpec = ModuleSpec {
    name: "sqlite_to_postgres",
    summary: "Copy an SQLite database into PostgreSQL: translated, preflighted, verified",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required(
            "src",
            Path,
            "The SQLite database: on the host for an SSH host (snapshot there, fetched), on \
             the controller for a local or `ansible_connection: postgres` host.",
        ),
        arg("db", Str, "The target database.").aliases(&["login_db"]),
        arg(
            "login_host",
            Str,
            "Host of the PostgreSQL server (default: the unix socket). On an SSH host, none, a \
             socket directory or localhost/127.0.0.1/::1 is the host's own server, reached \
             through an SSH forward (needs a password role); any other name is connected to \
             from the controller. Not allowed on a postgres host (pg_url has the address).",
        ),
        arg(
            "login_unix_socket",
            Path,
            "Directory of the server's unix socket (default /var/run/postgresql; on the host \
             for an SSH host).",
        ),
        arg("login_port", Int, "Port (default 5432)."),
        arg(
            "login_user",
            Str,
            "Role to connect as (default postgres; a postgres host: pg_url's user).",
        ),
        arg(
            "login_password",
            Str,
            "Password of login_user; required in practice through an SSH forward, where \
             peer/ident authentication cannot work.",
        ),
        arg(
            "ssl_mode",
            Str,
            "As libpq's sslmode: disable, allow/prefer (TLS when offered), require (TLS, \
             unverified), verify-ca, verify-full (default prefer). Through an SSH forward the \
             tunnel encrypts: only disable/allow/prefer, and no TLS is negotiated.",
        )
        .choices(SSL_MODES),
        arg(
            "ca_cert",
            Path,
            "CA certificate file for verify-ca/verify-full (default: the system's roots).",
        ),
        arg("schema", Str, "Target schema (default public)."),
        arg("identifiers", Str, "lower (default) or preserve.").choices(&["lower", "preserve"]),
        arg(
            "policies",
            Dict,
            "TABLE.COLUMN: fail|null|cast|text for values that do not convert.",
        ),
        arg(
            "booleans",
            List,
            "TABLE.COLUMN of INTEGER 0/1 flags to migrate as boolean.",
        ),
        arg(
            "naive_timezone",
            Str,
            "Zone of datetimes without an offset: UTC (default), ±HH:MM, or a zone name (Europe/Berlin) from the system zone database; skipped or repeated local times are findings.",
        ),
        arg(
            "into_existing",
            Bool,
            "Load into existing tables, matching columns by name.",
        ),
        arg(
            "existing_rows",
            Str,
            "With into_existing, rows the tables already hold: refuse (default) the run, or replace them, saving them in the state store for state: absent to restore.",
        )
        .choices(&["refuse", "replace"]),
        arg("jobs", Int, "Tables loaded at the same time (default 2)."),
        arg(
            "backup",
            Bool,
            "Before loading, keep a consistent copy of the source next to it \
             (SRC.PID.YYYY-MM-DD@HH:MM:SS~, mode 0600), returned as backup_file; a rollback \
             keeps it. Not on `postgres` hosts.",
        ),
        arg(
            "state",
            Str,
            "present migrates; absent rolls a recorded migration back.",
        )
        .choices(&["present", "absent"]),
    ],
};

pub struct SqliteToPostgres;

/// Where a server's unix sockets are unless login_unix_socket says.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// How the server of a task on an SSH host is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerRoute {
    /// From the controller, with the login arguments as given (a managed server).
    Direct,
    /// The host's own server: through an SSH forward to this end on the host.
    Forward(RemoteEnd),
}

/// The route for login_host/login_unix_socket/port on an SSH host: none, a socket
/// directory, or a loopback name is the host's own server.
fn server_route(host: Option<&str>, unix_socket: Option<&str>, port: u16) -> ServerRoute {
    let socket = |dir: &str| ServerRoute::Forward(RemoteEnd::Unix(socket_file(dir, port)));
    match host.map(str::trim).filter(|h| !h.is_empty()) {
        None => socket(unix_socket.unwrap_or(DEFAULT_SOCKET_DIR)),
        Some(h) if h.starts_with('/') => socket(h),
        Some(h @ ("localhost" | "127.0.0.1" | "::1" | "[::1]")) => {
            ServerRoute::Forward(RemoteEnd::Tcp {
                host: h.trim_matches(['[', ']']).to_string(),
                port,
            })
        }
        Some(_) => ServerRoute::Direct,
    }
}

/// The socket file a server listening in `dir` on `port` creates.
fn socket_file(dir: &str, port: u16) -> PathBuf {
    Path::new(dir).join(format!(".s.PGSQL.{port}"))
}

/// The task's connection, as far as this module cares.
enum Place {
    Controller,
    /// An SSH host, by its inventory name.
    Ssh(String),
    /// `ansible_connection: postgres`.
    PgHost,
}

fn place(t: &mut Target<'_>) -> Place {
    if let Some(ssh) = t.conn.ssh() {
        Place::Ssh(ssh.params().host.clone())
    } else if t.conn.postgres().is_some() {
        Place::PgHost
    } else {
        Place::Controller
    }
}

/// Where this task reads and writes, once its host is known.
struct Resolved {
    source: SourceId,
    target: TargetSpec,
    forward: Option<Forward>,
}

/// An SSH forward to open around each use of the server: the controller end (a socket
/// in a private directory, removed on drop) and the host end.
struct Forward {
    _dir: PrivateDir,
    listen: PathBuf,
    remote: RemoteEnd,
    host: String,
}

/// A 0700 directory on the controller with a short path (unix socket paths are limited
/// to about 100 bytes), removed with its content on drop.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new(prefix: &str) -> ModResult<PrivateDir> {
        let tmp = std::env::temp_dir();
        let base = if tmp.as_os_str().len() <= 48 && tmp.is_absolute() {
            tmp
        } else {
            PathBuf::from("/tmp")
        };
        let mut last = None;
        for _ in 0..8 {
            let dir = base.join(format!(
                "{prefix}-{}-{}",
                std::process::id(),
                &crate::connection::nonce()[..8]
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(PrivateDir(dir)),
                Err(e) => last = Some(e),
            }
        }
        Err(ModuleError::new(format!(
            "cannot create a private directory in {}: {}",
            base.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Job {
    src: String,
    login: Login,
    db: String,
    opts: Options,
    present: bool,
    backup: bool,
    args: Args,
    resolved: Option<Resolved>,
    inspection: Option<Inspection>,
    recorded: bool,
    outcome: Returns,
}

fn err(e: impl std::fmt::Display) -> ModuleError {
    ModuleError::new(e.to_string())
}

fn store() -> ModResult<Box<dyn StateStore>> {
    let dir = std::env::current_dir().map_err(err)?;
    let spec = StateSpec::resolve(None, &dir).map_err(err)?;
    state::open(&spec).map_err(err)
}

impl Module for SqliteToPostgres {
    fn spec(&self) -> &'static ModuleSpec {
        &SQLITE_TO_POSTGRES
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let src = argx::req_string(args, "src")?;
        let db = argx::string(args, "db")?
            .or(argx::string(args, "login_db")?)
            .ok_or_else(|| ModuleError::new("missing required argument: db"))?;
        let login = Login::from_args(args)?;
        let mut opts = Options {
            schema: argx::string(args, "schema")?.unwrap_or_else(|| "public".into()),
            ident_case: argx::choice(args, "identifiers", &["lower", "preserve"], "lower")?
                .parse()
                .map_err(ModuleError::new)?,
            existing_schema: argx::boolean(args, "into_existing", false)?,
            existing_rows: argx::choice(args, "existing_rows", &["refuse", "replace"], "refuse")?
                .parse()
                .map_err(ModuleError::new)?,
            ..Options::default()
        };
        if let Some(j) = argx::number(args, "jobs")? {
            opts.jobs = (j as usize).max(1);
        }
        if let Some(tz) = argx::string(args, "naive_timezone")? {
            opts.naive_zone = migrate::NaiveZone::parse(&tz).map_err(ModuleError::new)?;
        }
        if let Some(Value::Object(m)) = args.get("policies") {
            for (k, v) in m {
                let p = v.as_str().unwrap_or_default();
                opts.policies
                    .push(migrate::parse_policy(&format!("{k}={p}")).map_err(ModuleError::new)?);
            }
        }
        if let Some(Value::Array(list)) = args.get("booleans") {
            for v in list {
                let s = v.as_str().unwrap_or_default();
                opts.bool_columns
                    .push(migrate::parse_column_ref(s).map_err(ModuleError::new)?);
            }
        }
        let present = argx::choice(args, "state", &["present", "absent"], "present")? == "present";
        let job = Job {
            src,
            login,
            db,
            opts,
            present,
            backup: argx::boolean(args, "backup", false)?,
            args: args.clone(),
            resolved: None,
            inspection: None,
            recorded: false,
            outcome: Map::new(),
        };
        // Catch bad login arguments before any host is contacted.
        job.login_target(job.login.host.as_deref(), job.login.unix_socket.as_deref())?;
        Ok(Box::new(job))
    }
}

impl Job {
    fn port(&self) -> u16 {
        self.login.port.unwrap_or(5432)
    }

    /// The target from the login arguments, with this host/socket directory.
    fn login_target(&self, host: Option<&str>, socket: Option<&str>) -> ModResult<TargetSpec> {
        let user = self.login.user.as_deref().unwrap_or("postgres");
        Ok(TargetSpec::from_parts(
            host,
            socket,
            Some(self.port()),
            user,
            self.login.password.as_deref(),
            &self.db,
            self.login.ssl_mode.as_deref(),
        )
        .map_err(err)?
        .with_ca_cert(self.login.ca_cert.as_deref()))
    }

    /// Where `src` is read and how the server is reached, by the task's connection.
    fn resolve(&self, t: &mut Target<'_>) -> ModResult<Resolved> {
        match place(t) {
            Place::Controller => Ok(Resolved {
                source: SourceId::controller(Path::new(&self.src)),
                target: self.login_target(
                    self.login.host.as_deref(),
                    self.login.unix_socket.as_deref(),
                )?,
                forward: None,
            }),
            Place::PgHost => {
                let pc = t.conn.postgres().expect("a postgres host");
                let opts = direct_options(pc, &self.login, Some(&self.db))?;
                Ok(Resolved {
                    source: SourceId::controller(Path::new(&self.src)),
                    target: TargetSpec::from_options(&opts),
                    forward: None,
                })
            }
            Place::Ssh(host) => {
                let source = SourceId::Host {
                    host: host.clone(),
                    path: self.src.clone(),
                };
                let route = server_route(
                    self.login.host.as_deref(),
                    self.login.unix_socket.as_deref(),
                    self.port(),
                );
                let ServerRoute::Forward(remote) = route else {
                    return Ok(Resolved {
                        source,
                        target: self.login_target(self.login.host.as_deref(), None)?,
                        forward: None,
                    });
                };
                self.forwarded(source, host, remote)
            }
        }
    }

    /// The host's own server through an SSH forward: the engine connects to the
    /// controller end; the ledger and messages name the host end.
    fn forwarded(&self, source: SourceId, host: String, remote: RemoteEnd) -> ModResult<Resolved> {
        match self.login.ssl_mode.as_deref() {
            None | Some("disable" | "allow" | "prefer") => {}
            Some(m) => {
                return Err(ModuleError::new(format!(
                    "ssl_mode {m}: the server of host {host} is reached through an SSH forward, \
                     which SSH encrypts, and TLS cannot be negotiated through it; drop ssl_mode, \
                     or give login_host the server's name to connect from the controller"
                )));
            }
        }
        let dir = PrivateDir::new("tbuddy-pgfwd")?;
        let listen = socket_file(&dir.0.to_string_lossy(), self.port());
        let mut target = self.login_target(None, Some(&dir.0.to_string_lossy()))?;
        target.ssl = crate::connection::postgres::SslMode::Disable;
        let user = self.login.user.as_deref().unwrap_or("postgres");
        // As the server is named on the host: socket directory and port, or address.
        let at = match &remote {
            RemoteEnd::Unix(p) => {
                format!("{}:{}", p.parent().unwrap_or(p).display(), self.port())
            }
            tcp => tcp.to_string(),
        };
        target.display = format!(
            "postgresql://{user}@{at}/{} on {host} (through ssh)",
            self.db
        );
        Ok(Resolved {
            source,
            target,
            forward: Some(Forward {
                _dir: dir,
                listen,
                remote,
                host,
            }),
        })
    }

    /// Runs `f` with the server reachable: opens the SSH forward first when there is
    /// one, and closes it when `f` returns. Authentication failures through the forward
    /// are explained.
    fn with_server<T>(
        &self,
        t: &mut Target<'_>,
        f: impl FnOnce(&Resolved) -> Result<T, migrate::MigrateError>,
    ) -> ModResult<T> {
        let r = self.resolved.as_ref().expect("resolved in observe");
        let _open: Option<LocalForward> = match &r.forward {
            Some(fw) => {
                let _ = std::fs::remove_file(&fw.listen);
                let ssh = t.conn.ssh().expect("forwards only on ssh hosts");
                Some(ssh.forward_local(&fw.listen, &fw.remote).map_err(|e| {
                    ModuleError::new(format!(
                        "{e} (the server of host {} is reached through an SSH forward; the \
                         host's sshd must allow it: AllowStreamLocalForwarding for a socket, \
                         AllowTcpForwarding for localhost)",
                        fw.host
                    ))
                })?)
            }
            None => None,
        };
        f(r).map_err(|e| match &r.forward {
            Some(fw) => ModuleError::new(explain_forwarded(&e.to_string(), &fw.host)),
            None => err(e),
        })
    }
}

/// The message for a failure through an SSH forward: peer/ident authentication and a
/// missing password get the reason and the way out.
fn explain_forwarded(msg: &str, host: &str) -> String {
    let auth = ["Peer authentication failed", "Ident authentication failed"]
        .iter()
        .any(|n| msg.contains(n));
    let no_password = msg.contains("password missing");
    if !auth && !no_password {
        return msg.to_string();
    }
    format!(
        "{msg}\nThe server of host {host} is reached through an SSH forward: it sees the \
         connection as made by the SSH login user's sshd, so peer/ident authentication cannot \
         work. Use a role with a password (login_user and login_password) that pg_hba.conf \
         lets in with scram-sha-256 or md5 (`local` for a unix socket, `host` 127.0.0.1/::1 \
         for localhost)."
    )
}

/// The script that snapshots `src` on the host into a private temporary directory, with
/// sqlite3's `.backup` or else python3's backup API (each one read transaction, so a
/// writer neither blocks nor tears it). Prints `TOOL SIZE DIR`. Exit 3: `src` unusable;
/// 4: no tool.
fn snapshot_script(src: &str) -> String {
    format!(
        r#"src={src}
if [ ! -e "$src" ]; then echo "$src does not exist" >&2; exit 3; fi
if [ ! -f "$src" ]; then echo "$src is not a regular file" >&2; exit 3; fi
if [ ! -r "$src" ]; then echo "$src is not readable by $(id -un) (become a user who can read it)" >&2; exit 3; fi
d=$(mktemp -d "${{TMPDIR:-/tmp}}/tbuddy-snapshot.XXXXXXXX") || exit 1
f="$d/snapshot.sqlite"
if command -v sqlite3 >/dev/null 2>&1; then
  tool=sqlite3
  sqlite3 -readonly -bail -cmd '.timeout 30000' "$src" ".backup '$f'" >&2 || {{ rm -rf -- "$d"; exit 1; }}
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import sqlite3' 2>/dev/null; then
  tool=python3
  python3 -c 'import sqlite3, sys, urllib.parse
s = sqlite3.connect("file:" + urllib.parse.quote(sys.argv[1]) + "?mode=ro", uri=True, timeout=30)
d = sqlite3.connect(sys.argv[2])
s.backup(d)
d.close()
s.close()' "$src" "$f" >&2 || {{ rm -rf -- "$d"; exit 1; }}
else
  rm -rf -- "$d"
  echo "neither the sqlite3 command nor python3 with its sqlite3 module is installed" >&2
  exit 4
fi
printf '%s %s %s\n' "$tool" "$(wc -c < "$f")" "$d""#,
        src = sh_quote(src)
    )
}

/// Takes a consistent copy of `src` on the task's host and keeps it next to
/// `src` under a timestamped name (as Ansible names backups), private to
/// its owner. Returns the name.
fn keep_backup(t: &mut Target<'_>, src: &str) -> ModResult<String> {
    if matches!(place(t), Place::PgHost) {
        return Err(ModuleError::new(
            "backup: the source of a `postgres` host's task is on the controller; copy it \
             there yourself",
        ));
    }
    let out = t.run_ok(&snapshot_script(src), None)?;
    let (_, _, dir) = parse_snapshot_line(&out.stdout_str()).ok_or_else(|| {
        ModuleError::new(format!(
            "backup of {src}: unexpected output: {}",
            out.stdout_str().trim()
        ))
    })?;
    let (p, d) = (sh_quote(src), sh_quote(&dir));
    let out = t.run_ok(
        &format!(
            r#"b={p}.$$.$(date +%Y-%m-%d@%H:%M:%S)~
mv -- {d}/snapshot.sqlite "$b" && chmod 0600 "$b"; rc=$?; rm -rf -- {d}; [ $rc = 0 ] && printf %s "$b""#
        ),
        None,
    )?;
    Ok(out.stdout_str())
}

/// What `snapshot_script` printed: the tool, the size and the host's temporary directory.
fn parse_snapshot_line(out: &str) -> Option<(String, u64, String)> {
    let line = out.lines().rev().find(|l| !l.trim().is_empty())?;
    let mut w = line.split_whitespace();
    let tool = w.next()?.to_string();
    let size = w.next()?.parse().ok()?;
    let dir: Vec<&str> = w.collect();
    let dir = dir.join(" ");
    dir.contains("/tbuddy-snapshot.")
        .then_some((tool, size, dir))
}

/// Counts what passes through to a file.
struct Counting<W> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Snapshots `src` on the SSH host `host` (as the task's become user), streams it into a
/// private controller file and removes it from the host, also when fetching fails.
fn fetch_snapshot(t: &mut Target<'_>, host: &str, src: &str) -> ModResult<Snapshot> {
    let fail = |why: &str| {
        ModuleError::new(format!(
            "host {host}: cannot take a consistent snapshot of the SQLite database {src}: {why}"
        ))
    };
    let out = match t.run_ok(&snapshot_script(src), None) {
        Ok(o) => o,
        Err(e) if e.returns.get("rc").and_then(Value::as_i64) == Some(4) => {
            return Err(fail(&format!(
                "{}; install sqlite3 (the command-line shell) or python3 on the host",
                e.msg
            )));
        }
        Err(e) if e.unreachable => return Err(e),
        Err(e) => return Err(fail(&e.msg)),
    };
    let (tool, size, dir) = parse_snapshot_line(&out.stdout_str())
        .ok_or_else(|| fail(&format!("unexpected output: {}", out.stdout_str().trim())))?;
    let q = sh_quote(&dir);
    let fetched = (|| {
        let snap = Snapshot::reserve().map_err(err)?;
        let file = File::create(snap.path())
            .map_err(|e| ModuleError::new(format!("creating {}: {e}", snap.path().display())))?;
        let mut w = Counting {
            inner: BufWriter::with_capacity(crate::connection::STREAM_CHUNK, file),
            n: 0,
        };
        t.run_ok_to(
            &format!("cat -- {q}/snapshot.sqlite; rc=$?; rm -rf -- {q}; exit $rc"),
            &mut w,
        )?;
        w.flush()
            .map_err(|e| ModuleError::new(format!("writing {}: {e}", snap.path().display())))?;
        if w.n != size {
            return Err(ModuleError::new(format!(
                "the snapshot ({tool}) has {size} bytes on the host but {} arrived",
                w.n
            )));
        }
        Ok(snap)
    })();
    match fetched {
        Ok(snap) => Ok(snap),
        Err(e) => {
            // The fetch removes the host's copy itself; again, in case it never ran.
            let _ = t.run_ok(&format!("rm -rf -- {q}"), None);
            Err(ModuleError {
                msg: format!("host {host}: fetching the snapshot of {src}: {}", e.msg),
                ..e
            })
        }
    }
}

impl Action for Job {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let resolved = self.resolve(t)?;
        let host = match &resolved.source {
            SourceId::Host { host, .. } => Some(host.clone()),
            SourceId::Controller(_) => None,
        };
        self.resolved = Some(resolved);
        let store = store()?;
        if !self.present {
            let r = self.resolved.as_ref().expect("just set");
            let key = migrate::ledger_key(&r.source, &r.target, &self.opts.schema);
            self.recorded = store.ledger_get(&key).map_err(err)?.is_some();
            return Ok(());
        }
        let snapshot = match &host {
            Some(h) => Some(fetch_snapshot(t, h, &self.src)?),
            None => None,
        };
        let snapshot = match snapshot {
            Some(snap) => snap,
            None => Snapshot::take(Path::new(&self.src)).map_err(err)?,
        };
        let opts = self.opts.clone();
        let planning = t.planned.is_some();
        // In a plan, the server or the database may come from an earlier step:
        // the migration is then planned into an empty database.
        let inspect = |r: &Resolved, not_yet: Option<String>| match not_yet {
            Some(why) => migrate::inspect_for_new_database(
                snapshot,
                r.source.clone(),
                &r.target,
                &opts,
                &*store,
                &why,
            ),
            None => {
                migrate::inspect_snapshot(snapshot, r.source.clone(), &r.target, &opts, &*store)
            }
        };
        let insp = if planning
            && self.resolved.as_ref().is_some_and(|r| r.forward.is_some())
            && server_install_planned(t.planned)
        {
            let r = self.resolved.as_ref().expect("just set");
            inspect(r, Some("an earlier step installs the server".into())).map_err(err)?
        } else {
            self.with_server(t, |r| {
                let not_yet = match planning {
                    true => migrate::target_ready(&r.target)?.err(),
                    false => None,
                };
                inspect(r, not_yet)
            })?
        };
        self.inspection = Some(insp);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let r = self.resolved.as_ref().expect("observed");
        if !self.present {
            return Ok(self.recorded.then(|| Change {
                summary: format!(
                    "roll back the migration of {} into {}",
                    r.source, r.target.display
                ),
                diff: None,
                undo: Undo::Irreversible("the migrated data would have to be loaded again".into()),
                predictable: true,
                after: Vec::new(),
            }));
        }
        let insp = self.inspection.as_ref().expect("observed");
        match insp.action() {
            migrate::Action::NoOp => Ok(None),
            migrate::Action::Refuse(why) => {
                Err(ModuleError::new(format!("{why}\n{}", insp.plan_text())))
            }
            migrate::Action::Migrate { .. } => {
                let rows: i64 = insp.translation.tables.iter().map(|t| t.rows).sum();
                let mut inverse = self.args.clone();
                inverse.insert("state".into(), Value::from("absent"));
                Ok(Some(Change {
                    summary: format!(
                        "migrate {} tables ({} rows) from {} into {}{}",
                        insp.translation.tables.len(),
                        migrate::group(rows.max(0) as u64),
                        r.source,
                        r.target.display,
                        if self.backup {
                            ", keeping a copy of the source next to it"
                        } else {
                            ""
                        }
                    ),
                    diff: Some(super::TextDiff {
                        path: r.target.display.clone(),
                        before: String::new(),
                        after: insp.plan_text(),
                    }),
                    undo: Undo::Invoke {
                        module: "sqlite_to_postgres".into(),
                        args: inverse,
                        summary: "drop the tables the migration created".into(),
                    },
                    predictable: true,
                    after: Vec::new(),
                }))
            }
        }
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let store = store()?;
        let schema = self.opts.schema.clone();
        if !self.present {
            let done = self.with_server(t, |r| {
                migrate::rollback(&r.source, &r.target, &schema, &*store)
            })?;
            self.outcome.insert("rolled_back".into(), Value::from(done));
            return Ok(());
        }
        let insp = self.inspection.as_ref().expect("observed");
        if self.backup && !matches!(insp.action(), migrate::Action::NoOp) {
            let file = keep_backup(t, &self.src)?;
            self.outcome.insert("backup_file".into(), Value::from(file));
        }
        let outcome = self.with_server(t, |_| migrate::execute(insp, &*store, &Quiet))?;
        match outcome {
            Outcome::AlreadyDone(_) => {}
            Outcome::Migrated { tables, .. } => {
                let rows: Map<String, Value> = tables
                    .iter()
                    .map(|t| (t.target.clone(), Value::from(t.rows)))
                    .collect();
                self.outcome.insert("rows".into(), Value::Object(rows));
                self.outcome.insert("verified".into(), Value::from(true));
            }
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        self.outcome.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::LocalConnection;

    #[test]
    fn the_hosts_own_server_is_forwarded_others_are_direct() {
        let unix = |p: &str| ServerRoute::Forward(RemoteEnd::Unix(PathBuf::from(p)));
        assert_eq!(
            server_route(None, None, 5432),
            unix("/var/run/postgresql/.s.PGSQL.5432")
        );
        assert_eq!(
            server_route(Some(""), Some("/run/pg"), 5433),
            unix("/run/pg/.s.PGSQL.5433")
        );
        assert_eq!(
            server_route(Some("/tmp/sock"), Some("/ignored"), 6000),
            unix("/tmp/sock/.s.PGSQL.6000")
        );
        for (h, want) in [
            ("localhost", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("::1", "::1"),
            ("[::1]", "::1"),
        ] {
            assert_eq!(
                server_route(Some(h), None, 5432),
                ServerRoute::Forward(RemoteEnd::Tcp {
                    host: want.into(),
                    port: 5432
                }),
                "{h}"
            );
        }
        assert_eq!(
            server_route(Some("db.internal"), None, 5432),
            ServerRoute::Direct
        );
        assert_eq!(
            server_route(Some("10.0.0.7"), Some("/run/pg"), 5432),
            ServerRoute::Direct
        );
        assert_eq!(
            RemoteEnd::Tcp {
                host: "::1".into(),
                port: 5432
            }
            .to_string(),
            "[::1]:5432"
        );
    }

    #[test]
    fn authentication_failures_through_a_forward_are_explained() {
        let m = explain_forwarded("FATAL: Peer authentication failed for user \"app\"", "web1");
        assert!(
            m.contains("SSH forward") && m.contains("login_password"),
            "{m}"
        );
        assert!(m.contains("host web1"), "{m}");
        let m = explain_forwarded("invalid configuration: password missing", "web1");
        assert!(m.contains("scram-sha-256"), "{m}");
        assert_eq!(
            explain_forwarded("relation x does not exist", "w"),
            "relation x does not exist"
        );
    }

    #[test]
    fn snapshot_lines_are_parsed() {
        assert_eq!(
            parse_snapshot_line("sqlite3 8192 /tmp/tbuddy-snapshot.AbC123\n"),
            Some(("sqlite3".into(), 8192, "/tmp/tbuddy-snapshot.AbC123".into()))
        );
        assert_eq!(
            parse_snapshot_line("python3    12 /var/tmp/x y/tbuddy-snapshot.Q\n"),
            Some((
                "python3".into(),
                12,
                "/var/tmp/x y/tbuddy-snapshot.Q".into()
            ))
        );
        assert_eq!(parse_snapshot_line("sqlite3 12 /\n"), None);
        assert_eq!(parse_snapshot_line(""), None);
    }

    /// A PATH of links to the tools the snapshot script needs, plus `extra`.
    fn bin_with(dir: &Path, extra: &[&str]) -> String {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in ["mktemp", "rm", "id", "wc", "cat"].iter().chain(extra) {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("{tool} is not installed"));
            let _ = std::fs::remove_file(bin.join(tool));
            std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
        }
        bin.display().to_string()
    }

    fn snapshots_left(tmp: &Path) -> Vec<String> {
        std::fs::read_dir(tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tbuddy-snapshot."))
            .collect()
    }

    /// A WAL-mode source `bot.db` (table t with `values`, the connection kept open so
    /// the WAL stays) and an empty `tmp` directory, in `dir`.
    fn sample_source(dir: &Path, values: &str) -> (PathBuf, PathBuf, rusqlite::Connection) {
        let tmp = dir.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let src = dir.join("bot.db");
        let c = rusqlite::Connection::open(&src).unwrap();
        c.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES {values};"
        ))
        .unwrap();
        (src, tmp, c)
    }

    #[test]
    fn a_backup_is_a_private_consistent_copy_next_to_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let (src, tmp, c) = sample_source(dir.path(), "('a')");
        let mut conn = LocalConnection;
        let mut t = Target::local_for_tests(&mut conn);
        t.env = vec![("TMPDIR".into(), tmp.display().to_string())];
        let b = keep_backup(&mut t, src.to_str().unwrap()).unwrap();
        let name = Path::new(&b)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(name.starts_with("bot.db.") && name.ends_with('~'), "{name}");
        assert!(name.contains('@'), "{name}");
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&b).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // The WAL's row is in the copy: it is a backup, not a file copy.
        let n: i64 = rusqlite::Connection::open(&b)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(snapshots_left(&tmp), Vec::<String>::new());
        drop(c);
    }

    /// The snapshot and fetch, run through the local connection with each tool: the copy
    /// holds the data, and nothing stays in the host's temporary directory.
    #[test]
    fn snapshot_with_sqlite3_then_python3_else_a_clear_failure() {
        let dir = tempfile::tempdir().unwrap();
        let (src, tmp, _c) = sample_source(dir.path(), "('a'), ('b')");
        let src_s = src.to_str().unwrap();
        let mut conn = LocalConnection;
        let mut t = Target::local_for_tests(&mut conn);
        for (tool, extra) in [("sqlite3", &["sqlite3"][..]), ("python3", &["python3"][..])] {
            let path = bin_with(&dir.path().join(tool), extra);
            t.env = vec![
                ("PATH".into(), path),
                ("TMPDIR".into(), tmp.display().to_string()),
            ];
            let out = t.run_ok(&snapshot_script(src_s), None).unwrap();
            let (used, _, d) = parse_snapshot_line(&out.stdout_str()).unwrap();
            assert_eq!(used, tool);
            assert!(d.starts_with(tmp.to_str().unwrap()), "{d}");
            let _ = t.run_ok(&format!("rm -rf -- {}", sh_quote(&d)), None);
            let snap = fetch_snapshot(&mut t, "h1", src_s).unwrap();
            let copy = snap.open().unwrap();
            let n: i64 = copy
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 2, "{tool}");
            assert_eq!(snapshots_left(&tmp), Vec::<String>::new(), "{tool}");
        }
        // neither tool: the host and what is missing are named
        t.env = vec![
            ("PATH".into(), bin_with(&dir.path().join("none"), &[])),
            ("TMPDIR".into(), tmp.display().to_string()),
        ];
        let e = fetch_snapshot(&mut t, "h1", src_s).unwrap_err();
        assert!(e.msg.contains("host h1"), "{}", e.msg);
        assert!(e.msg.contains("install sqlite3"), "{}", e.msg);
        assert!(e.msg.contains(src_s), "{}", e.msg);
        assert_eq!(snapshots_left(&tmp), Vec::<String>::new());
        // a missing source is not created
        t.env.clear();
        let gone = dir.path().join("gone.db");
        let e = fetch_snapshot(&mut t, "h1", gone.to_str().unwrap()).unwrap_err();
        assert!(e.msg.contains("does not exist"), "{}", e.msg);
        assert!(!gone.exists());
    }
}
