//! The state store: run history, per-task results, the write-ahead undo
//! journal, content blobs, pending handler notifications and the per-inventory
//! run lock.
//!
//! Two backends implement [`StateStore`]: SQLite (`.tbuddy/state.db`, the
//! default) and PostgreSQL (`state = "postgres://…"`, for teams). Both expose
//! a blocking API; the PostgreSQL one drives a private runtime, so it may be
//! called from plain threads as well as from inside an async task.
//!
//! Values handed to the store (extra vars, diffs, summaries) must already be
//! redacted by the caller: the store writes what it is given.

mod blob;
mod config;
mod postgres;
pub mod redact;
mod sqlite;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use config::{ProjectConfig, read_project_config};

/// Identifier of a run, increasing with time within one store.
pub type RunId = i64;

/// What a run did: a normal apply, or the rollback of an earlier run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunKind {
    Apply,
    Rollback { of: RunId },
}

/// Everything known about a run when it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub kind: RunKind,
    pub playbook: String,
    /// The inventory key: canonical path(s) of the inventory sources.
    pub inventory: String,
    pub limit: Option<String>,
    /// Already redacted by the caller.
    pub extra_vars: serde_json::Value,
    pub user: String,
    pub controller_host: String,
    pub tool_version: String,
    pub check_mode: bool,
    pub pid: u32,
}

/// Status of a run. `Interrupted` is never stored: it is derived for a run
/// still marked running whose process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Ok,
    Failed,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one task on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub host: String,
    pub task: String,
    /// `file:line` of the task.
    pub location: String,
    /// ok | changed | failed | skipped | unreachable | rescued | ignored
    pub status: String,
    pub changed: bool,
    pub duration_ms: u64,
    pub summary: Option<String>,
    /// Already redacted unified diff.
    pub diff: Option<String>,
}

/// Where an undo record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoState {
    /// Journaled before the change; the change was not confirmed (yet).
    Pending,
    /// The change was applied: undoing it restores the recorded state.
    Done,
    /// The change failed.
    Failed,
}

impl UndoState {
    pub fn as_str(self) -> &'static str {
        match self {
            UndoState::Pending => "pending",
            UndoState::Done => "done",
            UndoState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self, StateError> {
        match s {
            "pending" => Ok(UndoState::Pending),
            "done" => Ok(UndoState::Done),
            "failed" => Ok(UndoState::Failed),
            other => Err(StateError::Corrupt(format!("unknown undo state {other:?}"))),
        }
    }
}

/// One entry of the write-ahead undo journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoEntry {
    /// 0 when new; assigned by [`StateStore::journal_undo`].
    pub id: i64,
    pub run: RunId,
    /// Order within the run, assigned by the store (1, 2, …).
    pub seq: i64,
    pub host: String,
    pub task: String,
    pub location: String,
    pub summary: String,
    /// Opaque JSON produced by the module that made the change.
    pub undo: serde_json::Value,
    /// sha256 (hex) of the blobs this undo refers to.
    pub blobs: Vec<String>,
    pub state: UndoState,
}

/// A handler notified on a host whose run ended before the handler ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingHandler {
    pub inventory: String,
    pub host: String,
    pub handler: String,
    pub run: RunId,
}

/// Who holds (or held) the run lock of an inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub run: Option<RunId>,
    pub user: String,
    pub controller_host: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub since: String,
    pub command: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{} (pid {}",
            self.user, self.controller_host, self.pid
        )?;
        if let Some(run) = self.run {
            write!(f, ", run {run}")?;
        }
        write!(f, ") since {}", self.since)?;
        if !self.command.is_empty() {
            write!(f, ": {}", self.command)?;
        }
        Ok(())
    }
}

/// One line of the run history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: RunId,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: Option<String>,
    pub kind: RunKind,
    pub playbook: String,
    pub inventory: String,
    pub user: String,
    pub check_mode: bool,
    /// Distinct hosts with at least one task record.
    pub hosts: u64,
    /// Tasks that succeeded, changed or not (as in Ansible's recap).
    pub ok: u64,
    pub changed: u64,
    pub failed: u64,
    pub unreachable: u64,
    pub skipped: u64,
    pub status: RunStatus,
}

/// Everything recorded about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub meta: RunMeta,
    pub summary: RunSummary,
    /// In the order they were recorded.
    pub tasks: Vec<TaskRecord>,
    /// By `seq`.
    pub undo: Vec<UndoEntry>,
}

/// Held run lock; dropping it releases the lock.
pub trait LockGuard: Send {}

/// The state store. All methods are blocking and safe to call from several
/// threads at once.
pub trait StateStore: Send + Sync {
    /// Records the start of a run (status `running`). When this process holds
    /// the lock of `meta.inventory`, the run id is attached to the lock.
    fn begin_run(&self, meta: &RunMeta) -> Result<RunId, StateError>;
    /// Marks the run `ok` or `failed` and sets its finish time.
    fn finish_run(&self, run: RunId, ok: bool) -> Result<(), StateError>;
    fn record_task(&self, run: RunId, rec: &TaskRecord) -> Result<(), StateError>;
    /// Write-ahead: the entry is durable (SQLite `synchronous=FULL` commit,
    /// PostgreSQL commit) before this returns. `id`, `seq` of `entry` are
    /// ignored and assigned here; returns the new id.
    fn journal_undo(&self, entry: &UndoEntry) -> Result<i64, StateError>;
    /// Marks a journaled entry `done` (the change was applied) or `failed`.
    /// With `confirmed`, the entry's undo JSON and blob list are replaced by
    /// the completed record (e.g. with what the change left on the host).
    fn finish_undo(
        &self,
        id: i64,
        done: bool,
        confirmed: Option<(&serde_json::Value, &[String])>,
    ) -> Result<(), StateError>;
    /// Stores content compressed and deduplicated; returns its sha256 (hex).
    fn put_blob(&self, content: &[u8]) -> Result<String, StateError>;
    /// The content stored under a sha256, verified against it.
    fn get_blob(&self, sha256: &str) -> Result<Vec<u8>, StateError>;
    /// Newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StateError>;
    fn run(&self, run: RunId) -> Result<RunDetail, StateError>;
    /// The newest run on `inventory`. With `kind_apply_only`, only apply runs
    /// that were not in check mode count (the ones there is something to roll back).
    fn last_run(&self, inventory: &str, kind_apply_only: bool)
    -> Result<Option<RunId>, StateError>;
    /// By `seq`.
    fn undo_entries(&self, run: RunId) -> Result<Vec<UndoEntry>, StateError>;
    /// Rollback runs of `run`, oldest first.
    fn rollbacks_of(&self, run: RunId) -> Result<Vec<RunId>, StateError>;
    /// Adds (or refreshes) a pending notification; durable before it returns.
    fn add_pending_handler(&self, p: &PendingHandler) -> Result<(), StateError>;
    fn clear_pending_handler(
        &self,
        inventory: &str,
        host: &str,
        handler: &str,
    ) -> Result<(), StateError>;
    /// In the order they were first added.
    fn pending_handlers(&self, inventory: &str) -> Result<Vec<PendingHandler>, StateError>;
    /// Takes the run lock of `inventory`, or fails at once with
    /// [`StateError::Locked`] naming the holder. The lock dies with the
    /// process (flock / PostgreSQL session advisory lock), so a killed run
    /// never leaves it behind. Dropping the guard releases it.
    fn lock(&self, inventory: &str, holder: &LockHolder) -> Result<Box<dyn LockGuard>, StateError>;
    /// Breaks the lock of `inventory` even if a live process holds it, and
    /// returns who held it (as last recorded), if anyone.
    fn force_unlock(&self, inventory: &str) -> Result<Option<LockHolder>, StateError>;
    /// Attaches a run id to the lock this process holds on `inventory`.
    fn set_lock_run(&self, inventory: &str, run: RunId) -> Result<(), StateError>;
    /// Who holds the lock of `inventory` now, if anyone.
    fn lock_holder(&self, inventory: &str) -> Result<Option<LockHolder>, StateError>;
    /// Where the store lives, for messages (a PostgreSQL URL without its password).
    fn describe(&self) -> String;
    /// The ledger entry of a one-time step (e.g. a data migration), if any.
    fn ledger_get(&self, key: &str) -> Result<Option<LedgerEntry>, StateError>;
    /// Creates or replaces the entry under `entry.key`; durable before it returns.
    fn ledger_put(&self, entry: &LedgerEntry) -> Result<(), StateError>;
    /// Removes an entry; returns whether there was one.
    fn ledger_remove(&self, key: &str) -> Result<bool, StateError>;
}

/// A one-time step recorded in the state store's ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub key: String,
    /// What kind of step, e.g. `sqlite_to_postgres`.
    pub kind: String,
    /// running | done | failed
    pub status: String,
    /// Step-specific JSON (what was created, row counts, checksums).
    pub detail: serde_json::Value,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: Option<String>,
}

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSpec {
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

/// The project configuration file holding the `state` key.
pub const PROJECT_CONFIG: &str = "tbuddy.toml";
/// Environment variable naming the state store.
pub const STATE_ENV: &str = "TBUDDY_STATE";

impl StateSpec {
    /// In order of precedence: `--state`, then `$TBUDDY_STATE`, then
    /// `state = "…"` in `<project>/tbuddy.toml`, then the default
    /// `<project>/.tbuddy/state.db`. A relative SQLite path from the config
    /// file is taken relative to the project directory.
    pub fn resolve(cli: Option<&str>, project_dir: &Path) -> Result<StateSpec, StateError> {
        if let Some(v) = cli {
            return StateSpec::parse(v, None).map_err(|msg| StateError::InvalidSpec {
                origin: "--state".into(),
                msg,
            });
        }
        if let Ok(v) = std::env::var(STATE_ENV)
            && !v.trim().is_empty()
        {
            return StateSpec::parse(&v, None).map_err(|msg| StateError::InvalidSpec {
                origin: format!("${STATE_ENV}"),
                msg,
            });
        }
        let file = project_dir.join(PROJECT_CONFIG);
        if let Some(cfg) = read_project_config(&file)?
            && let Some((line, v)) = cfg.get("state")
        {
            return StateSpec::parse(v, Some(project_dir)).map_err(|msg| StateError::Config {
                file: file.clone(),
                line: *line,
                msg,
            });
        }
        Ok(StateSpec::Sqlite(
            project_dir.join(".tbuddy").join("state.db"),
        ))
    }

    /// A URL or a path; relative paths are joined to `base` when given.
    pub fn parse(value: &str, base: Option<&Path>) -> Result<StateSpec, String> {
        let v = value.trim();
        if v.is_empty() {
            return Err("the state store location is empty".into());
        }
        let lower = v.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(StateSpec::Postgres(v.to_string()));
        }
        let path = if let Some(rest) = v.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = v.strip_prefix("sqlite:") {
            rest
        } else if lower.contains("://") {
            return Err(format!(
                "unsupported state store URL {v:?}: use postgres://… or a path to an SQLite file"
            ));
        } else {
            v
        };
        let path = PathBuf::from(path);
        Ok(StateSpec::Sqlite(match base {
            Some(b) if path.is_relative() => b.join(path),
            _ => path,
        }))
    }
}

impl fmt::Display for StateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateSpec::Sqlite(p) => write!(f, "{}", p.display()),
            StateSpec::Postgres(url) => f.write_str(&postgres::redact_url(url)),
        }
    }
}

/// Opens (creating and migrating when needed) the store `spec` names.
pub fn open(spec: &StateSpec) -> Result<Box<dyn StateStore>, StateError> {
    Ok(match spec {
        StateSpec::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
        StateSpec::Postgres(url) => Box::new(postgres::PgStore::open(url)?),
    })
}

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "the run lock is held by {0}; wait for that run to finish, or if it is gone for good, \
         break the lock with `tbuddy-deploy force-unlock`"
    )]
    Locked(LockHolder),
    #[error("{0} not found in the state store")]
    NotFound(String),
    #[error("state store {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state store (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("state store (PostgreSQL): {}", postgres::describe_error(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error("cannot open the state store {target}: {reason}")]
    Open { target: String, reason: String },
    #[error(
        "the state store has schema version {found}, but this tbuddy-deploy supports versions up to \
         {supported}: it was written by a newer tbuddy-deploy; upgrade this one"
    )]
    Schema { found: i64, supported: i64 },
    #[error("{}:{line}: {msg}", file.display())]
    Config {
        file: PathBuf,
        line: usize,
        msg: String,
    },
    #[error("{origin}: {msg}")]
    InvalidSpec { origin: String, msg: String },
    #[error(
        "client certificates for the state store are not supported yet ({setting} in \
         {target}); use password or peer authentication"
    )]
    TlsUnsupported { target: String, setting: String },
    #[error("the state store is damaged: {0}")]
    Corrupt(String),
    /// Content sealed with a vault password this run cannot open.
    #[error(
        "content kept in the state store is vault-encrypted and cannot be opened ({0}); give \
         the vault password of the run that stored it (--vault-password-file or --vault-id)"
    )]
    Sealed(String),
}

impl StateError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        StateError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Now, as RFC 3339 UTC with second precision (`2026-11-23T11:57:25Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc3339_from_unix(secs)
}

fn rfc3339_from_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = crate::civil::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The host name of this controller, as recorded in runs and locks.
pub fn this_controller() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether `pid` names a live process on this machine.
fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => true,
        // It exists but belongs to someone else.
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Settles the shown status of runs stored as running: a run is interrupted
/// when its process is known to be gone, when nobody holds its inventory's
/// lock, or when the lock has since been taken by another run. Each
/// inventory's lock is probed once per listing.
struct StatusProbe<'a> {
    store: &'a dyn StateStore,
    this_host: String,
    seen: Vec<(String, Option<LockHolder>)>,
}

impl<'a> StatusProbe<'a> {
    fn new(store: &'a dyn StateStore, this_host: &str) -> Self {
        StatusProbe {
            store,
            this_host: this_host.to_string(),
            seen: Vec::new(),
        }
    }

    fn settle(
        &mut self,
        s: &mut RunSummary,
        pid: u32,
        controller_host: &str,
    ) -> Result<(), StateError> {
        if s.status != RunStatus::Running {
            return Ok(());
        }
        if controller_host == self.this_host && !pid_alive(pid) {
            s.status = RunStatus::Interrupted;
            return Ok(());
        }
        let holder = match self.seen.iter().find(|(inv, _)| *inv == s.inventory) {
            Some((_, h)) => h.clone(),
            None => {
                let h = self.store.lock_holder(&s.inventory)?;
                self.seen.push((s.inventory.clone(), h.clone()));
                h
            }
        };
        let taken_over = match &holder {
            None => true,
            Some(h) => h.run.is_some_and(|r| r != s.id),
        };
        if taken_over {
            s.status = RunStatus::Interrupted;
        }
        Ok(())
    }
}

/// Named in a lock conflict whose holder has not recorded itself (yet).
fn unknown_holder() -> LockHolder {
    LockHolder {
        run: None,
        user: "(unknown)".into(),
        controller_host: "(unknown)".into(),
        pid: 0,
        since: "(unknown)".into(),
        command: String::new(),
    }
}

/// Unique per lock acquisition, so a guard only ever removes its own holder
/// row (the pid and start second may repeat).
fn lock_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// 64-bit key for an inventory's lock: stable across processes and versions.
fn lock_key(inventory: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("tbuddy-deploy run lock\0{inventory}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(b)
}

fn kind_to_db(kind: RunKind) -> (&'static str, Option<RunId>) {
    match kind {
        RunKind::Apply => ("apply", None),
        RunKind::Rollback { of } => ("rollback", Some(of)),
    }
}

fn kind_from_db(kind: &str, of: Option<RunId>) -> Result<RunKind, StateError> {
    match (kind, of) {
        ("apply", _) => Ok(RunKind::Apply),
        ("rollback", Some(of)) => Ok(RunKind::Rollback { of }),
        _ => Err(StateError::Corrupt(format!(
            "unknown run kind {kind:?} (rollback of {of:?})"
        ))),
    }
}

fn status_from_db(s: &str) -> Result<RunStatus, StateError> {
    match s {
        "running" => Ok(RunStatus::Running),
        "ok" => Ok(RunStatus::Ok),
        "failed" => Ok(RunStatus::Failed),
        other => Err(StateError::Corrupt(format!("unknown run status {other:?}"))),
    }
}

fn json_from_db(text: &str, what: &str) -> Result<serde_json::Value, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt(format!("{what}: {e}")))
}

fn blobs_from_db(text: &str) -> Result<Vec<String>, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt(format!("undo blob list: {e}")))
}

fn blobs_to_db(blobs: &[String]) -> String {
    serde_json::Value::from(blobs.to_vec()).to_string()
}

/// Counters of a run's task records.
#[derive(Default)]
struct Counts {
    hosts: u64,
    ok: u64,
    changed: u64,
    failed: u64,
    unreachable: u64,
    skipped: u64,
}

/// SQL fragment (valid in SQLite and PostgreSQL) computing [`Counts`] from
/// the `task_results` rows of a run, aliased `t`.
const COUNTS_SQL: &str = "count(DISTINCT t.host), \
     count(*) FILTER (WHERE t.status IN ('ok','changed')), \
     count(*) FILTER (WHERE t.changed), \
     count(*) FILTER (WHERE t.status = 'failed'), \
     count(*) FILTER (WHERE t.status = 'unreachable'), \
     count(*) FILTER (WHERE t.status = 'skipped')";

/// A `runs` row as both backends read it.
#[derive(Clone)]
struct RunRow {
    id: RunId,
    started: String,
    finished: Option<String>,
    kind: String,
    rollback_of: Option<RunId>,
    playbook: String,
    inventory: String,
    limit: Option<String>,
    extra_vars: String,
    user: String,
    controller_host: String,
    tool_version: String,
    check_mode: bool,
    pid: u32,
    status: String,
}

impl RunRow {
    fn meta(&self) -> Result<RunMeta, StateError> {
        Ok(RunMeta {
            kind: kind_from_db(&self.kind, self.rollback_of)?,
            playbook: self.playbook.clone(),
            inventory: self.inventory.clone(),
            limit: self.limit.clone(),
            extra_vars: json_from_db(&self.extra_vars, "extra vars")?,
            user: self.user.clone(),
            controller_host: self.controller_host.clone(),
            tool_version: self.tool_version.clone(),
            check_mode: self.check_mode,
            pid: self.pid,
        })
    }

    fn into_summary(self, c: Counts) -> Result<RunSummary, StateError> {
        Ok(RunSummary {
            id: self.id,
            kind: kind_from_db(&self.kind, self.rollback_of)?,
            status: status_from_db(&self.status)?,
            started: self.started,
            finished: self.finished,
            playbook: self.playbook,
            inventory: self.inventory,
            user: self.user,
            check_mode: self.check_mode,
            hosts: c.hosts,
            ok: c.ok,
            changed: c.changed,
            failed: c.failed,
            unreachable: c.unreachable,
            skipped: c.skipped,
        })
    }
}
