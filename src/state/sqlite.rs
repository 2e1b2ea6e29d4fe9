//! SQLite backend: one database file (WAL), plus one flock'ed file per
//! inventory in `<db>.locks/` for the run lock, which the kernel releases
//! when the holding process dies.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{
    COUNTS_SQL, Counts, LedgerEntry, LockGuard, LockHolder, PendingHandler, RunDetail, RunId,
    RunMeta, RunRow, RunSummary, StateError, StateStore, TaskRecord, UndoEntry, UndoState, blob,
};

/// Schema migrations, applied in order; `PRAGMA user_version` counts the
/// applied ones. Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('apply', 'rollback')),
    rollback_of     INTEGER REFERENCES runs(id),
    playbook        TEXT NOT NULL,
    inventory       TEXT NOT NULL,
    limit_pattern   TEXT,
    extra_vars      TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    controller_host TEXT NOT NULL,
    tool_version    TEXT NOT NULL,
    check_mode      INTEGER NOT NULL,
    pid             INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    started         TEXT NOT NULL,
    finished        TEXT
);
CREATE INDEX runs_inventory ON runs (inventory, id);
CREATE INDEX runs_rollback_of ON runs (rollback_of);
CREATE TABLE task_results (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run         INTEGER NOT NULL REFERENCES runs(id),
    host        TEXT NOT NULL,
    task        TEXT NOT NULL,
    location    TEXT NOT NULL,
    status      TEXT NOT NULL,
    changed     INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    summary     TEXT,
    diff        TEXT,
    recorded    TEXT NOT NULL
);
CREATE INDEX task_results_run ON task_results (run, id);
CREATE TABLE undo (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    run      INTEGER NOT NULL REFERENCES runs(id),
    seq      INTEGER NOT NULL,
    host     TEXT NOT NULL,
    task     TEXT NOT NULL,
    location TEXT NOT NULL,
    summary  TEXT NOT NULL,
    undo     TEXT NOT NULL,
    blobs    TEXT NOT NULL,
    state    TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    recorded TEXT NOT NULL,
    finished TEXT,
    UNIQUE (run, seq)
);
CREATE TABLE blobs (
    sha256   TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    data     BLOB NOT NULL,
    stored   TEXT NOT NULL
);
CREATE TABLE pending_handlers (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    inventory TEXT NOT NULL,
    host      TEXT NOT NULL,
    handler   TEXT NOT NULL,
    run       INTEGER NOT NULL REFERENCES runs(id),
    UNIQUE (inventory, host, handler)
);
CREATE TABLE locks (
    inventory       TEXT PRIMARY KEY,
    run             INTEGER,
    user_name       TEXT NOT NULL,
    controller_host TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    since           TEXT NOT NULL,
    command         TEXT NOT NULL,
    token           TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE ledger (
    key      TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    status   TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    detail   TEXT NOT NULL,
    started  TEXT NOT NULL,
    finished TEXT
);
"#,
];

/// Schema version this build writes and reads.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) struct SqliteStore {
    path: PathBuf,
    lock_dir: PathBuf,
    conn: Arc<Mutex<Connection>>,
    this_host: String,
}

fn lock_conn(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the connection leaves no half-done transaction
    // (rusqlite rolls back on drop), so the connection stays usable.
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

/// Creates missing directories owner-only: the store may hold file contents.
fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| StateError::io(dir, e))
}

fn open_private_file(path: &Path) -> Result<File, StateError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| StateError::io(path, e))
}

impl SqliteStore {
    pub(super) fn open(path: &Path) -> Result<SqliteStore, StateError> {
        if let Some(parent) = path.parent() {
            create_private_dir(parent)?;
        }
        // Create the file ourselves so it is 0600 from the first byte; SQLite
        // gives its -wal and -shm files the mode of the database file.
        if !path.exists() {
            drop(open_private_file(path)?);
        }
        let open_err = |e: rusqlite::Error| StateError::Open {
            target: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(15))
            .map_err(open_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError::Open {
                target: path.display().to_string(),
                reason: format!("cannot switch to WAL journaling (got {mode:?})"),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        let mut lock_dir = path.as_os_str().to_owned();
        lock_dir.push(".locks");
        Ok(SqliteStore {
            path: path.to_path_buf(),
            lock_dir: PathBuf::from(lock_dir),
            conn: Arc::new(Mutex::new(conn)),
            this_host: super::this_controller(),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock_conn(&self.conn)
    }

    fn lock_file(&self, inventory: &str) -> PathBuf {
        self.lock_dir
            .join(format!("{:016x}.lock", super::lock_key(inventory) as u64))
    }

    /// A write transaction whose commit is fsynced before it returns; other
    /// writes use synchronous=NORMAL, which a later FULL commit makes durable
    /// too since the WAL is synced as a whole.
    fn durable<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        })();
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        result
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StateError>,
    ) -> Result<T, StateError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v = f(&tx)?;
        tx.commit()?;
        Ok(v)
    }

    fn holder_row(conn: &Connection, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        Ok(conn
            .query_row(
                "SELECT run, user_name, controller_host, pid, since, command
                   FROM locks WHERE inventory = ?1",
                [inventory],
                |r| {
                    Ok(LockHolder {
                        run: r.get(0)?,
                        user: r.get(1)?,
                        controller_host: r.get(2)?,
                        pid: r.get(3)?,
                        since: r.get(4)?,
                        command: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// The holder row, waiting briefly for it when the flock was just taken
    /// and its holder has not written the row yet.
    fn holder_for_message(&self, inventory: &str) -> Result<LockHolder, StateError> {
        for _ in 0..20 {
            if let Some(h) = Self::holder_row(&self.conn(), inventory)? {
                return Ok(h);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(super::unknown_holder())
    }

    fn summary_from(&self, conn: &Connection, row: RunRow) -> Result<RunSummary, StateError> {
        let c: Counts = conn.query_row(
            &format!("SELECT {COUNTS_SQL} FROM task_results t WHERE t.run = ?1"),
            [row.id],
            |r| {
                Ok(Counts {
                    hosts: r.get::<_, i64>(0)?.max(0) as u64,
                    ok: r.get::<_, i64>(1)?.max(0) as u64,
                    changed: r.get::<_, i64>(2)?.max(0) as u64,
                    failed: r.get::<_, i64>(3)?.max(0) as u64,
                    unreachable: r.get::<_, i64>(4)?.max(0) as u64,
                    skipped: r.get::<_, i64>(5)?.max(0) as u64,
                })
            },
        )?;
        row.into_summary(c)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StateError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StateError::Schema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// The columns of `runs` that summaries and details need.
const RUN_COLUMNS: &str = "id, started, finished, kind, rollback_of, playbook, inventory, \
     limit_pattern, extra_vars, user_name, controller_host, tool_version, check_mode, pid, status";

fn read_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        started: r.get(1)?,
        finished: r.get(2)?,
        kind: r.get(3)?,
        rollback_of: r.get(4)?,
        playbook: r.get(5)?,
        inventory: r.get(6)?,
        limit: r.get(7)?,
        extra_vars: r.get(8)?,
        user: r.get(9)?,
        controller_host: r.get(10)?,
        tool_version: r.get(11)?,
        check_mode: r.get(12)?,
        pid: r.get(13)?,
        status: r.get(14)?,
    })
}

fn undo_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(UndoEntry, String, String, String)> {
    Ok((
        UndoEntry {
            id: r.get(0)?,
            run: r.get(1)?,
            seq: r.get(2)?,
            host: r.get(3)?,
            task: r.get(4)?,
            location: r.get(5)?,
            summary: r.get(6)?,
            undo: serde_json::Value::Null,
            blobs: Vec::new(),
            state: UndoState::Pending,
        },
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

/// A foreign key failure on insert means the run does not exist.
fn run_missing(run: RunId) -> impl FnOnce(rusqlite::Error) -> StateError {
    move |e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StateError::NotFound(format!("run {run}"))
        }
        _ => StateError::Sqlite(e),
    }
}

impl StateStore for SqliteStore {
    fn begin_run(&self, meta: &RunMeta) -> Result<RunId, StateError> {
        let (kind, of) = super::kind_to_db(meta.kind);
        let now = super::now_rfc3339();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO runs (kind, rollback_of, playbook, inventory, limit_pattern, extra_vars,
                                   user_name, controller_host, tool_version, check_mode, pid,
                                   status, started)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'running', ?12)",
                params![
                    kind,
                    of,
                    meta.playbook,
                    meta.inventory,
                    meta.limit,
                    meta.extra_vars.to_string(),
                    meta.user,
                    meta.controller_host,
                    meta.tool_version,
                    meta.check_mode,
                    meta.pid,
                    now
                ],
            )
            .map_err(|e| match (&e, of) {
                (rusqlite::Error::SqliteFailure(f, _), Some(of))
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    StateError::NotFound(format!("run {of} (rolled back by this run)"))
                }
                _ => StateError::Sqlite(e),
            })?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE locks SET run = ?1 WHERE inventory = ?2 AND pid = ?3",
                params![id, meta.inventory, meta.pid],
            )?;
            Ok(id)
        })
    }

    fn finish_run(&self, run: RunId, ok: bool) -> Result<(), StateError> {
        let n = self.durable(|tx| {
            Ok(tx.execute(
                "UPDATE runs SET status = ?1, finished = ?2 WHERE id = ?3",
                params![if ok { "ok" } else { "failed" }, super::now_rfc3339(), run],
            )?)
        })?;
        if n == 0 {
            return Err(StateError::NotFound(format!("run {run}")));
        }
        Ok(())
    }

    fn record_task(&self, run: RunId, rec: &TaskRecord) -> Result<(), StateError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO task_results (run, host, task, location, status, changed, duration_ms,
                                           summary, diff, recorded)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    run,
                    rec.host,
                    rec.task,
                    rec.location,
                    rec.status,
                    rec.changed,
                    i64::try_from(rec.duration_ms).unwrap_or(i64::MAX),
                    rec.summary,
                    rec.diff,
                    super::now_rfc3339()
                ],
            )
            .map_err(run_missing(run))?;
            Ok(())
        })
    }

    fn journal_undo(&self, entry: &UndoEntry) -> Result<i64, StateError> {
        self.durable(|tx| {
            let seq: i64 = tx.query_row(
                "SELECT coalesce(max(seq), 0) + 1 FROM undo WHERE run = ?1",
                [entry.run],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO undo (run, seq, host, task, location, summary, undo, blobs, state,
                                   recorded)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    entry.run,
                    seq,
                    entry.host,
                    entry.task,
                    entry.location,
                    entry.summary,
                    entry.undo.to_string(),
                    super::blobs_to_db(&entry.blobs),
                    entry.state.as_str(),
                    super::now_rfc3339()
                ],
            )
            .map_err(run_missing(entry.run))?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn finish_undo(
        &self,
        id: i64,
        done: bool,
        confirmed: Option<(&serde_json::Value, &[String])>,
    ) -> Result<(), StateError> {
        let state = if done {
            UndoState::Done
        } else {
            UndoState::Failed
        };
        let (undo, blobs) = match confirmed {
            Some((u, b)) => (Some(u.to_string()), Some(super::blobs_to_db(b))),
            None => (None, None),
        };
        let n = self.write(|tx| {
            Ok(tx.execute(
                "UPDATE undo SET state = ?1, finished = ?2, undo = coalesce(?4, undo),
                                 blobs = coalesce(?5, blobs)
                  WHERE id = ?3",
                params![state.as_str(), super::now_rfc3339(), id, undo, blobs],
            )?)
        })?;
        if n == 0 {
            return Err(StateError::NotFound(format!("undo entry {id}")));
        }
        Ok(())
    }

    fn put_blob(&self, content: &[u8]) -> Result<String, StateError> {
        let sha = blob::sha256_hex(content);
        let known: bool = self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = ?1)",
            [&sha],
            |r| r.get(0),
        )?;
        if known {
            return Ok(sha);
        }
        // Compress outside the connection lock: it is the slow part.
        let (encoding, data) = blob::encode(content);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO blobs (sha256, size, encoding, data, stored)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (sha256) DO NOTHING",
                params![
                    sha,
                    content.len() as i64,
                    encoding,
                    data,
                    super::now_rfc3339()
                ],
            )?;
            Ok(())
        })?;
        Ok(sha)
    }

    fn get_blob(&self, sha256: &str) -> Result<Vec<u8>, StateError> {
        let name = blob::check_name(sha256)?;
        let row: Option<(String, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT encoding, data FROM blobs WHERE sha256 = ?1",
                [&name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (encoding, data) = row.ok_or_else(|| StateError::NotFound(format!("blob {name}")))?;
        blob::decode(&name, &encoding, data)
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StateError> {
        let mut out = Vec::new();
        let mut procs = Vec::new();
        {
            let conn = self.conn();
            let mut stmt = conn.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
            ))?;
            let rows = stmt
                .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], read_run)?
                .collect::<Result<Vec<_>, _>>()?;
            for row in rows {
                procs.push((row.pid, row.controller_host.clone()));
                out.push(self.summary_from(&conn, row)?);
            }
        }
        let mut probe = super::StatusProbe::new(self, &self.this_host);
        for (s, (pid, host)) in out.iter_mut().zip(procs) {
            probe.settle(s, pid, &host)?;
        }
        Ok(out)
    }

    fn run(&self, run: RunId) -> Result<RunDetail, StateError> {
        let (meta, mut summary, tasks) = {
            let conn = self.conn();
            let row = conn
                .query_row(
                    &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                    [run],
                    read_run,
                )
                .optional()?
                .ok_or_else(|| StateError::NotFound(format!("run {run}")))?;
            let meta = row.meta()?;
            let summary = self.summary_from(&conn, row)?;
            let mut stmt = conn.prepare(
                "SELECT host, task, location, status, changed, duration_ms, summary, diff
                   FROM task_results WHERE run = ?1 ORDER BY id",
            )?;
            let tasks = stmt
                .query_map([run], |r| {
                    Ok(TaskRecord {
                        host: r.get(0)?,
                        task: r.get(1)?,
                        location: r.get(2)?,
                        status: r.get(3)?,
                        changed: r.get(4)?,
                        duration_ms: r.get::<_, i64>(5)?.max(0) as u64,
                        summary: r.get(6)?,
                        diff: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            (meta, summary, tasks)
        };
        super::StatusProbe::new(self, &self.this_host).settle(
            &mut summary,
            meta.pid,
            &meta.controller_host,
        )?;
        let undo = self.undo_entries(run)?;
        Ok(RunDetail {
            meta,
            summary,
            tasks,
            undo,
        })
    }

    fn last_run(
        &self,
        inventory: &str,
        kind_apply_only: bool,
    ) -> Result<Option<RunId>, StateError> {
        let sql = if kind_apply_only {
            "SELECT max(id) FROM runs WHERE inventory = ?1 AND kind = 'apply' AND NOT check_mode"
        } else {
            "SELECT max(id) FROM runs WHERE inventory = ?1"
        };
        Ok(self.conn().query_row(sql, [inventory], |r| r.get(0))?)
    }

    fn undo_entries(&self, run: RunId) -> Result<Vec<UndoEntry>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, run, seq, host, task, location, summary, undo, blobs, state
               FROM undo WHERE run = ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([run], undo_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(mut e, undo, blobs, state)| {
                e.undo = super::json_from_db(&undo, "undo record")?;
                e.blobs = super::blobs_from_db(&blobs)?;
                e.state = UndoState::parse(&state)?;
                Ok(e)
            })
            .collect()
    }

    fn rollbacks_of(&self, run: RunId) -> Result<Vec<RunId>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM runs WHERE kind = 'rollback' AND rollback_of = ?1 ORDER BY id",
        )?;
        Ok(stmt
            .query_map([run], |r| r.get(0))?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn add_pending_handler(&self, p: &PendingHandler) -> Result<(), StateError> {
        self.durable(|tx| {
            tx.execute(
                "INSERT INTO pending_handlers (inventory, host, handler, run)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (inventory, host, handler) DO UPDATE SET run = excluded.run",
                params![p.inventory, p.host, p.handler, p.run],
            )
            .map_err(run_missing(p.run))?;
            Ok(())
        })
    }

    fn clear_pending_handler(
        &self,
        inventory: &str,
        host: &str,
        handler: &str,
    ) -> Result<(), StateError> {
        self.durable(|tx| {
            tx.execute(
                "DELETE FROM pending_handlers WHERE inventory = ?1 AND host = ?2 AND handler = ?3",
                params![inventory, host, handler],
            )?;
            Ok(())
        })
    }

    fn pending_handlers(&self, inventory: &str) -> Result<Vec<PendingHandler>, StateError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT inventory, host, handler, run FROM pending_handlers
              WHERE inventory = ?1 ORDER BY id",
        )?;
        Ok(stmt
            .query_map([inventory], |r| {
                Ok(PendingHandler {
                    inventory: r.get(0)?,
                    host: r.get(1)?,
                    handler: r.get(2)?,
                    run: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?)
    }

    fn lock(&self, inventory: &str, holder: &LockHolder) -> Result<Box<dyn LockGuard>, StateError> {
        create_private_dir(&self.lock_dir)?;
        let path = self.lock_file(inventory);
        let file = 'acquire: {
            // A few attempts: another process may be probing the lock for a
            // moment (lock_holder), or may have just replaced the file
            // (force_unlock).
            for _ in 0..10 {
                let file = open_private_file(&path)?;
                match file.try_lock() {
                    Ok(()) => {
                        // force_unlock removes the file; a lock on a removed
                        // file excludes nobody, so start over on the new one.
                        let same = std::fs::metadata(&path).ok().zip(file.metadata().ok());
                        match same {
                            Some((p, f)) if p.ino() == f.ino() && p.dev() == f.dev() => {
                                break 'acquire file;
                            }
                            _ => continue,
                        }
                    }
                    Err(std::fs::TryLockError::WouldBlock) => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(std::fs::TryLockError::Error(e)) => return Err(StateError::io(&path, e)),
                }
            }
            return Err(StateError::Locked(self.holder_for_message(inventory)?));
        };
        let token = super::lock_token();
        // For whoever looks at the file itself.
        let mut f = &file;
        let _ = f.set_len(0);
        let _ = writeln!(f, "{inventory}\npid {}", holder.pid);
        self.durable(|tx| {
            tx.execute(
                "INSERT INTO locks (inventory, run, user_name, controller_host, pid, since, command,
                                    token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (inventory) DO UPDATE SET run = excluded.run,
                     user_name = excluded.user_name, controller_host = excluded.controller_host,
                     pid = excluded.pid, since = excluded.since, command = excluded.command,
                     token = excluded.token",
                params![
                    inventory,
                    holder.run,
                    holder.user,
                    holder.controller_host,
                    holder.pid,
                    holder.since,
                    holder.command,
                    token
                ],
            )?;
            Ok(())
        })?;
        Ok(Box::new(SqliteLock {
            conn: Arc::clone(&self.conn),
            inventory: inventory.to_string(),
            token,
            _file: file,
        }))
    }

    fn force_unlock(&self, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        let held = self.lock_holder(inventory)?;
        let path = self.lock_file(inventory);
        // The flock of a live holder cannot be taken away from it; removing
        // the file makes the next locker use a fresh one.
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StateError::io(&path, e)),
        }
        let row = self.durable(|tx| {
            let row = Self::holder_row(tx, inventory)?;
            tx.execute("DELETE FROM locks WHERE inventory = ?1", [inventory])?;
            Ok(row)
        })?;
        Ok(held.or(row))
    }

    fn set_lock_run(&self, inventory: &str, run: RunId) -> Result<(), StateError> {
        let n = self.write(|tx| {
            Ok(tx.execute(
                "UPDATE locks SET run = ?1 WHERE inventory = ?2",
                params![run, inventory],
            )?)
        })?;
        if n == 0 {
            return Err(StateError::NotFound(format!("lock of {inventory}")));
        }
        Ok(())
    }

    fn lock_holder(&self, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        let path = self.lock_file(inventory);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::io(&path, e)),
        };
        // A shared lock succeeds exactly when nobody holds the exclusive one;
        // it is dropped at once.
        match file.try_lock_shared() {
            Ok(()) => Ok(None),
            Err(std::fs::TryLockError::WouldBlock) => Ok(Some(
                Self::holder_row(&self.conn(), inventory)?.unwrap_or_else(super::unknown_holder),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(StateError::io(&path, e)),
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn ledger_get(&self, key: &str) -> Result<Option<LedgerEntry>, StateError> {
        let row = self
            .conn()
            .query_row(
                "SELECT key, kind, status, detail, started, finished FROM ledger WHERE key = ?1",
                [key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(key, kind, status, detail, started, finished)| {
            Ok(LedgerEntry {
                key,
                kind,
                status,
                detail: super::json_from_db(&detail, "ledger detail")?,
                started,
                finished,
            })
        })
        .transpose()
    }

    fn ledger_put(&self, e: &LedgerEntry) -> Result<(), StateError> {
        self.conn().execute(
            "INSERT INTO ledger (key, kind, status, detail, started, finished)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, status = excluded.status,
               detail = excluded.detail, started = excluded.started, finished = excluded.finished",
            params![
                e.key,
                e.kind,
                e.status,
                e.detail.to_string(),
                e.started,
                e.finished
            ],
        )?;
        Ok(())
    }

    fn ledger_remove(&self, key: &str) -> Result<bool, StateError> {
        Ok(self
            .conn()
            .execute("DELETE FROM ledger WHERE key = ?1", [key])?
            > 0)
    }
}

struct SqliteLock {
    conn: Arc<Mutex<Connection>>,
    inventory: String,
    /// Identifies this acquisition's holder row.
    token: String,
    /// Closing it releases the flock.
    _file: File,
}

impl LockGuard for SqliteLock {}

impl Drop for SqliteLock {
    fn drop(&mut self) {
        // Only our own row: after a force-unlock it may belong to a new holder.
        let _ = lock_conn(&self.conn).execute(
            "DELETE FROM locks WHERE inventory = ?1 AND token = ?2",
            params![self.inventory, self.token],
        );
    }
}
