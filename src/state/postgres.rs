//! PostgreSQL backend: tables in the `tbuddy` schema, the run lock as a
//! session-level advisory lock held on a connection of its own (the server
//! drops it when that session ends, so a killed run cannot leave it behind).
//!
//! The API is blocking: each call drives a private current-thread runtime.
//! Called from inside another runtime, the call runs on a scoped thread,
//! since a runtime cannot be blocked on from within one.

use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::connection::postgres::{
    ConnectFailure, PgError, SslMode, connect_with, split_tls_params,
};
use std::path::PathBuf;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, Row};

use super::{
    COUNTS_SQL, Counts, LedgerEntry, LockGuard, LockHolder, PendingHandler, RunDetail, RunId,
    RunMeta, RunRow, RunSummary, StateError, StateStore, TaskRecord, UndoEntry, UndoState, blob,
};

/// Schema migrations, applied in order; `tbuddy.schema_version` holds the
/// number applied. Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tbuddy.runs (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('apply', 'rollback')),
    rollback_of     bigint REFERENCES tbuddy.runs(id),
    playbook        text NOT NULL,
    inventory       text NOT NULL,
    limit_pattern   text,
    extra_vars      jsonb NOT NULL,
    user_name       text NOT NULL,
    controller_host text NOT NULL,
    tool_version    text NOT NULL,
    check_mode      boolean NOT NULL,
    pid             bigint NOT NULL,
    status          text NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    started         timestamptz NOT NULL,
    finished        timestamptz
);
CREATE INDEX runs_inventory ON tbuddy.runs (inventory, id);
CREATE INDEX runs_rollback_of ON tbuddy.runs (rollback_of);
CREATE TABLE tbuddy.task_results (
    id          bigserial PRIMARY KEY,
    run         bigint NOT NULL REFERENCES tbuddy.runs(id),
    host        text NOT NULL,
    task        text NOT NULL,
    location    text NOT NULL,
    status      text NOT NULL,
    changed     boolean NOT NULL,
    duration_ms bigint NOT NULL,
    summary     text,
    diff        text,
    recorded    timestamptz NOT NULL
);
CREATE INDEX task_results_run ON tbuddy.task_results (run, id);
CREATE TABLE tbuddy.undo (
    id       bigserial PRIMARY KEY,
    run      bigint NOT NULL REFERENCES tbuddy.runs(id),
    seq      bigint NOT NULL,
    host     text NOT NULL,
    task     text NOT NULL,
    location text NOT NULL,
    summary  text NOT NULL,
    undo     jsonb NOT NULL,
    blobs    jsonb NOT NULL,
    state    text NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    recorded timestamptz NOT NULL,
    finished timestamptz,
    UNIQUE (run, seq)
);
CREATE TABLE tbuddy.blobs (
    sha256   text PRIMARY KEY,
    size     bigint NOT NULL,
    encoding text NOT NULL,
    data     bytea NOT NULL,
    stored   timestamptz NOT NULL
);
CREATE TABLE tbuddy.pending_handlers (
    id        bigserial PRIMARY KEY,
    inventory text NOT NULL,
    host      text NOT NULL,
    handler   text NOT NULL,
    run       bigint NOT NULL REFERENCES tbuddy.runs(id),
    UNIQUE (inventory, host, handler)
);
CREATE TABLE tbuddy.locks (
    inventory       text PRIMARY KEY,
    run             bigint,
    user_name       text NOT NULL,
    controller_host text NOT NULL,
    pid             bigint NOT NULL,
    since           timestamptz NOT NULL,
    command         text NOT NULL,
    token           text NOT NULL
);
"#,
    r#"
CREATE TABLE tbuddy.ledger (
    key      text PRIMARY KEY,
    kind     text NOT NULL,
    status   text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    detail   jsonb NOT NULL,
    started  timestamptz NOT NULL,
    finished timestamptz
);
"#,
];

pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Timestamps go out as RFC 3339 text, like the SQLite backend's.
macro_rules! ts {
    ($col:literal) => {
        concat!(
            "to_char(",
            $col,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    };
}

const RUN_COLUMNS: &str = concat!(
    "r.id, ",
    ts!("r.started"),
    ", ",
    ts!("r.finished"),
    ", r.kind, r.rollback_of, r.playbook, r.inventory, r.limit_pattern, r.extra_vars::text, \
     r.user_name, r.controller_host, r.tool_version, r.check_mode, r.pid, r.status"
);

/// Key of the transaction-level lock that serialises schema migrations.
const MIGRATION_LOCK: &str = "tbuddy-deploy schema migration";

struct Shared {
    /// `None` only while dropping.
    rt: Option<Runtime>,
    config: Config,
    ssl: SslMode,
    root_cert: Option<PathBuf>,
    target: String,
    this_host: String,
}

impl Shared {
    /// Runs `fut` to completion on the private runtime.
    fn block<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let Some(rt) = self.rt.as_ref() else {
            unreachable!("the runtime lives as long as the store");
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| match s.spawn(|| rt.block_on(fut)).join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
        } else {
            rt.block_on(fut)
        }
    }

    async fn connect(&self) -> Result<(Client, JoinHandle<()>), StateError> {
        let open_error = |reason: String| StateError::Open {
            target: self.target.clone(),
            reason,
        };
        match connect_with(&self.config, self.ssl, self.root_cert.as_deref()).await {
            Ok(pair) => Ok(pair),
            Err(ConnectFailure::Tls(e)) => Err(open_error(e.to_string())),
            // Errors after this surface on the client's next query.
            Err(ConnectFailure::Server(e)) => Err(open_error(describe_error(&e))),
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside an async context.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

pub(super) struct PgStore {
    shared: Arc<Shared>,
    /// One connection; the mutex keeps transactions of different threads apart.
    client: Mutex<Client>,
    _conn_task: JoinHandle<()>,
}

/// `url` with any password replaced, for messages.
pub(super) fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = out[auth_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let userinfo = &out[auth_start..auth_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(auth_start + colon + 1..auth_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&");
        out = format!("{head}{query}");
    }
    out
}

/// A message with the server's own words when there are some.
pub(super) fn describe_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s
}

/// Refuses TLS settings this backend cannot honour yet (client certificates).
fn check_client_certs(url: &str, target: &str) -> Result<(), StateError> {
    let Some((_, query)) = url.split_once('?') else {
        return Ok(());
    };
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let k = k.to_ascii_lowercase();
        if k == "sslcert" || k == "sslkey" {
            return Err(StateError::TlsUnsupported {
                target: target.to_string(),
                setting: format!("{k}={v}"),
            });
        }
    }
    Ok(())
}

fn holder_from_row(r: &Row) -> Result<LockHolder, StateError> {
    Ok(LockHolder {
        run: r.try_get(0)?,
        user: r.try_get(1)?,
        controller_host: r.try_get(2)?,
        pid: u32::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
        since: r.try_get(4)?,
        command: r.try_get(5)?,
    })
}

const HOLDER_COLUMNS: &str = concat!(
    "run, user_name, controller_host, pid, ",
    ts!("since"),
    ", command"
);

fn run_from_row(r: &Row) -> Result<RunRow, StateError> {
    Ok(RunRow {
        id: r.try_get(0)?,
        started: r.try_get(1)?,
        finished: r.try_get(2)?,
        kind: r.try_get(3)?,
        rollback_of: r.try_get(4)?,
        playbook: r.try_get(5)?,
        inventory: r.try_get(6)?,
        limit: r.try_get(7)?,
        extra_vars: r.try_get(8)?,
        user: r.try_get(9)?,
        controller_host: r.try_get(10)?,
        tool_version: r.try_get(11)?,
        check_mode: r.try_get(12)?,
        pid: u32::try_from(r.try_get::<_, i64>(13)?).unwrap_or(0),
        status: r.try_get(14)?,
    })
}

fn counts_from_row(r: &Row, first: usize) -> Result<Counts, StateError> {
    let n = |i: usize| -> Result<u64, StateError> {
        Ok(u64::try_from(r.try_get::<_, i64>(first + i)?).unwrap_or(0))
    };
    Ok(Counts {
        hosts: n(0)?,
        ok: n(1)?,
        changed: n(2)?,
        failed: n(3)?,
        unreachable: n(4)?,
        skipped: n(5)?,
    })
}

fn undo_from_row(r: &Row) -> Result<UndoEntry, StateError> {
    let undo: String = r.try_get(7)?;
    let blobs: String = r.try_get(8)?;
    let state: String = r.try_get(9)?;
    Ok(UndoEntry {
        id: r.try_get(0)?,
        run: r.try_get(1)?,
        seq: r.try_get(2)?,
        host: r.try_get(3)?,
        task: r.try_get(4)?,
        location: r.try_get(5)?,
        summary: r.try_get(6)?,
        undo: super::json_from_db(&undo, "undo record")?,
        blobs: super::blobs_from_db(&blobs)?,
        state: UndoState::parse(&state)?,
    })
}

/// A foreign key failure on insert means the run does not exist.
fn run_missing(run: RunId) -> impl FnOnce(tokio_postgres::Error) -> StateError {
    move |e| {
        if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
            StateError::NotFound(format!("run {run}"))
        } else {
            StateError::Postgres(e)
        }
    }
}

/// Selects whether the advisory lock of `key` is granted to some session of
/// this database (`pg_locks` shows a bigint key as two oids, objsubid 1).
const LOCK_HOLDERS_SQL: &str = "SELECT pid FROM pg_locks
     WHERE locktype = 'advisory' AND granted AND objsubid = 1
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND classid::text::bigint = $1 AND objid::text::bigint = $2";

fn key_parts(key: i64) -> (i64, i64) {
    let k = key as u64;
    ((k >> 32) as i64, (k & 0xffff_ffff) as i64)
}

impl PgStore {
    pub(super) fn open(url: &str) -> Result<PgStore, StateError> {
        let target = redact_url(url);
        check_client_certs(url, &target)?;
        let (url, ssl, root_cert) = split_tls_params(url);
        let ssl = match ssl {
            Some(mode) => mode.parse().map_err(|e: PgError| StateError::Open {
                target: target.clone(),
                reason: e.to_string(),
            })?,
            None => SslMode::Prefer,
        };
        let mut config = Config::from_str(&url).map_err(|e| StateError::Open {
            target: target.clone(),
            reason: describe_error(&e),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(15));
        }
        if config.get_application_name().is_none() {
            config.application_name("tbuddy-deploy state");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StateError::Open {
                target: target.clone(),
                reason: format!("cannot start the I/O runtime: {e}"),
            })?;
        let shared = Arc::new(Shared {
            rt: Some(rt),
            config,
            ssl,
            root_cert: root_cert.map(PathBuf::from),
            target,
            this_host: super::this_controller(),
        });
        let (mut client, task) = shared.block(shared.connect())?;
        shared.block(migrate(&mut client))?;
        Ok(PgStore {
            shared,
            client: Mutex::new(client),
            _conn_task: task,
        })
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn block<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        self.shared.block(fut)
    }

    fn holder_row(&self, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            let row = c
                .query_opt(
                    &format!("SELECT {HOLDER_COLUMNS} FROM tbuddy.locks WHERE inventory = $1"),
                    &[&inventory],
                )
                .await?;
            row.as_ref().map(holder_from_row).transpose()
        })
    }

    fn lock_pids(&self, inventory: &str) -> Result<Vec<i32>, StateError> {
        let (hi, lo) = key_parts(super::lock_key(inventory));
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            let rows = c.query(LOCK_HOLDERS_SQL, &[&hi, &lo]).await?;
            rows.iter()
                .map(|r| r.try_get::<_, i32>(0).map_err(StateError::from))
                .collect()
        })
    }

    fn summaries(&self, filter: &str, arg: i64) -> Result<Vec<(RunRow, RunSummary)>, StateError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS}, c.* FROM (SELECT * FROM tbuddy.runs {filter}) r
               LEFT JOIN LATERAL (SELECT {COUNTS_SQL} FROM tbuddy.task_results t
                                   WHERE t.run = r.id) c ON true
              ORDER BY r.id DESC"
        );
        let rows = {
            let mut guard = self.client();
            let c: &mut Client = &mut guard;
            self.block(async move { c.query(&sql, &[&arg]).await })?
        };
        let mut out = Vec::with_capacity(rows.len());
        let mut probe = super::StatusProbe::new(self, &self.shared.this_host);
        for r in &rows {
            let run = run_from_row(r)?;
            let counts = counts_from_row(r, 15)?;
            let mut summary = run.clone().into_summary(counts)?;
            probe.settle(&mut summary, run.pid, &run.controller_host)?;
            out.push((run, summary));
        }
        Ok(out)
    }
}

async fn migrate(c: &mut Client) -> Result<(), StateError> {
    let tx = c.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&super::lock_key(MIGRATION_LOCK)],
    )
    .await?;
    // Check before creating: CREATE … IF NOT EXISTS still needs the privilege.
    let has_schema: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tbuddy')",
            &[],
        )
        .await?
        .try_get(0)?;
    if !has_schema {
        tx.batch_execute("CREATE SCHEMA tbuddy").await?;
    }
    let has_version: bool = tx
        .query_one(
            "SELECT to_regclass('tbuddy.schema_version') IS NOT NULL",
            &[],
        )
        .await?
        .try_get(0)?;
    if !has_version {
        tx.batch_execute(
            "CREATE TABLE tbuddy.schema_version (version bigint NOT NULL);
             INSERT INTO tbuddy.schema_version VALUES (0);",
        )
        .await?;
    }
    let found: i64 = tx
        .query_opt("SELECT max(version) FROM tbuddy.schema_version", &[])
        .await?
        .and_then(|r| r.try_get::<_, Option<i64>>(0).ok().flatten())
        .unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StateError::Schema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        // Nothing to change; a read-only role may open an up-to-date store.
        tx.rollback().await?;
        return Ok(());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).await?;
        tx.execute(
            "UPDATE tbuddy.schema_version SET version = $1",
            &[&(i as i64 + 1)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

impl StateStore for PgStore {
    fn begin_run(&self, meta: &RunMeta) -> Result<RunId, StateError> {
        let (kind, of) = super::kind_to_db(meta.kind);
        let now = super::now_rfc3339();
        let extra = meta.extra_vars.to_string();
        let pid = i64::from(meta.pid);
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            let tx = c.transaction().await?;
            let row = tx
                .query_one(
                    "INSERT INTO tbuddy.runs (kind, rollback_of, playbook, inventory, limit_pattern,
                         extra_vars, user_name, controller_host, tool_version, check_mode, pid,
                         status, started)
                     VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7, $8, $9, $10, $11, 'running',
                             $12::text::timestamptz)
                     RETURNING id",
                    &[
                        &kind,
                        &of,
                        &meta.playbook,
                        &meta.inventory,
                        &meta.limit,
                        &extra,
                        &meta.user,
                        &meta.controller_host,
                        &meta.tool_version,
                        &meta.check_mode,
                        &pid,
                        &now,
                    ],
                )
                .await
                .map_err(|e| match of {
                    Some(of) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => {
                        StateError::NotFound(format!("run {of} (rolled back by this run)"))
                    }
                    _ => StateError::Postgres(e),
                })?;
            let id: i64 = row.try_get(0)?;
            tx.execute(
                "UPDATE tbuddy.locks SET run = $1 WHERE inventory = $2 AND pid = $3",
                &[&id, &meta.inventory, &pid],
            )
            .await?;
            tx.commit().await?;
            Ok(id)
        })
    }

    fn finish_run(&self, run: RunId, ok: bool) -> Result<(), StateError> {
        let status = if ok { "ok" } else { "failed" };
        let now = super::now_rfc3339();
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        let n = self.block(async move {
            c.execute(
                "UPDATE tbuddy.runs SET status = $1, finished = $2::text::timestamptz
                  WHERE id = $3",
                &[&status, &now, &run],
            )
            .await
        })?;
        if n == 0 {
            return Err(StateError::NotFound(format!("run {run}")));
        }
        Ok(())
    }

    fn record_task(&self, run: RunId, rec: &TaskRecord) -> Result<(), StateError> {
        let now = super::now_rfc3339();
        let ms = i64::try_from(rec.duration_ms).unwrap_or(i64::MAX);
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            c.execute(
                "INSERT INTO tbuddy.task_results (run, host, task, location, status, changed,
                     duration_ms, summary, diff, recorded)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::timestamptz)",
                &[
                    &run,
                    &rec.host,
                    &rec.task,
                    &rec.location,
                    &rec.status,
                    &rec.changed,
                    &ms,
                    &rec.summary,
                    &rec.diff,
                    &now,
                ],
            )
            .await
            .map_err(run_missing(run))?;
            Ok(())
        })
    }

    fn journal_undo(&self, entry: &UndoEntry) -> Result<i64, StateError> {
        let now = super::now_rfc3339();
        let undo = entry.undo.to_string();
        let blobs = super::blobs_to_db(&entry.blobs);
        let state = entry.state.as_str();
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            let tx = c.transaction().await?;
            // Serialises seq assignment for this run between sessions.
            tx.execute(
                "SELECT id FROM tbuddy.runs WHERE id = $1 FOR UPDATE",
                &[&entry.run],
            )
            .await?;
            let row = tx
                .query_one(
                    "INSERT INTO tbuddy.undo (run, seq, host, task, location, summary, undo, blobs,
                         state, recorded)
                     SELECT $1::bigint, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6::text::jsonb,
                            $7::text::jsonb, $8, $9::text::timestamptz
                       FROM tbuddy.undo WHERE run = $1::bigint
                     RETURNING id",
                    &[
                        &entry.run,
                        &entry.host,
                        &entry.task,
                        &entry.location,
                        &entry.summary,
                        &undo,
                        &blobs,
                        &state,
                        &now,
                    ],
                )
                .await
                .map_err(run_missing(entry.run))?;
            let id: i64 = row.try_get(0)?;
            // Returns once the commit is durable on the server
            // (synchronous_commit as the server is configured).
            tx.commit().await?;
            Ok(id)
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
        }
        .as_str();
        let now = super::now_rfc3339();
        let (undo, blobs) = match confirmed {
            Some((u, b)) => (Some(u.to_string()), Some(super::blobs_to_db(b))),
            None => (None, None),
        };
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        let n = self.block(async move {
            c.execute(
                "UPDATE tbuddy.undo SET state = $1, finished = $2::text::timestamptz,
                        undo = coalesce($4::text::jsonb, undo),
                        blobs = coalesce($5::text::jsonb, blobs)
                  WHERE id = $3",
                &[&state, &now, &id, &undo, &blobs],
            )
            .await
        })?;
        if n == 0 {
            return Err(StateError::NotFound(format!("undo entry {id}")));
        }
        Ok(())
    }

    fn put_blob(&self, content: &[u8]) -> Result<String, StateError> {
        let sha = blob::sha256_hex(content);
        let known = {
            let mut guard = self.client();
            let c: &mut Client = &mut guard;
            let sha = &sha;
            self.block(async move {
                c.query_one(
                    "SELECT EXISTS (SELECT 1 FROM tbuddy.blobs WHERE sha256 = $1)",
                    &[sha],
                )
                .await?
                .try_get::<_, bool>(0)
            })?
        };
        if known {
            return Ok(sha);
        }
        let (encoding, data) = blob::encode(content);
        let size = content.len() as i64;
        let now = super::now_rfc3339();
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        let sha_ref = &sha;
        self.block(async move {
            c.execute(
                "INSERT INTO tbuddy.blobs (sha256, size, encoding, data, stored)
                 VALUES ($1, $2, $3, $4, $5::text::timestamptz) ON CONFLICT (sha256) DO NOTHING",
                &[sha_ref, &size, &encoding, &data, &now],
            )
            .await
        })?;
        Ok(sha)
    }

    fn get_blob(&self, sha256: &str) -> Result<Vec<u8>, StateError> {
        let name = blob::check_name(sha256)?;
        let row = {
            let mut guard = self.client();
            let c: &mut Client = &mut guard;
            let name = &name;
            self.block(async move {
                c.query_opt(
                    "SELECT encoding, data FROM tbuddy.blobs WHERE sha256 = $1",
                    &[name],
                )
                .await
            })?
        };
        let row = row.ok_or_else(|| StateError::NotFound(format!("blob {name}")))?;
        blob::decode(&name, &row.try_get::<_, String>(0)?, row.try_get(1)?)
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .summaries("WHERE $1::bigint >= 0 ORDER BY id DESC LIMIT $1", limit)?
            .into_iter()
            .map(|(_, s)| s)
            .collect())
    }

    fn run(&self, run: RunId) -> Result<RunDetail, StateError> {
        let (row, summary) = self
            .summaries("WHERE id = $1", run)?
            .into_iter()
            .next()
            .ok_or_else(|| StateError::NotFound(format!("run {run}")))?;
        let meta = row.meta()?;
        let rows = {
            let mut guard = self.client();
            let c: &mut Client = &mut guard;
            self.block(async move {
                c.query(
                    "SELECT host, task, location, status, changed, duration_ms, summary, diff
                       FROM tbuddy.task_results WHERE run = $1 ORDER BY id",
                    &[&run],
                )
                .await
            })?
        };
        let tasks = rows
            .iter()
            .map(|r| {
                Ok(TaskRecord {
                    host: r.try_get(0)?,
                    task: r.try_get(1)?,
                    location: r.try_get(2)?,
                    status: r.try_get(3)?,
                    changed: r.try_get(4)?,
                    duration_ms: u64::try_from(r.try_get::<_, i64>(5)?).unwrap_or(0),
                    summary: r.try_get(6)?,
                    diff: r.try_get(7)?,
                })
            })
            .collect::<Result<Vec<_>, StateError>>()?;
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
            "SELECT max(id) FROM tbuddy.runs
              WHERE inventory = $1 AND kind = 'apply' AND NOT check_mode"
        } else {
            "SELECT max(id) FROM tbuddy.runs WHERE inventory = $1"
        };
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            Ok(c.query_one(sql, &[&inventory])
                .await?
                .try_get::<_, Option<i64>>(0)?)
        })
    }

    fn undo_entries(&self, run: RunId) -> Result<Vec<UndoEntry>, StateError> {
        let rows = {
            let mut guard = self.client();
            let c: &mut Client = &mut guard;
            self.block(async move {
                c.query(
                    "SELECT id, run, seq, host, task, location, summary, undo::text, blobs::text,
                            state
                       FROM tbuddy.undo WHERE run = $1 ORDER BY seq",
                    &[&run],
                )
                .await
            })?
        };
        rows.iter().map(undo_from_row).collect()
    }

    fn rollbacks_of(&self, run: RunId) -> Result<Vec<RunId>, StateError> {
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            let rows = c
                .query(
                    "SELECT id FROM tbuddy.runs
                      WHERE kind = 'rollback' AND rollback_of = $1 ORDER BY id",
                    &[&run],
                )
                .await?;
            rows.iter()
                .map(|r| r.try_get(0).map_err(StateError::from))
                .collect()
        })
    }

    fn add_pending_handler(&self, p: &PendingHandler) -> Result<(), StateError> {
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            c.execute(
                "INSERT INTO tbuddy.pending_handlers (inventory, host, handler, run)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (inventory, host, handler) DO UPDATE SET run = excluded.run",
                &[&p.inventory, &p.host, &p.handler, &p.run],
            )
            .await
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
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            c.execute(
                "DELETE FROM tbuddy.pending_handlers
                  WHERE inventory = $1 AND host = $2 AND handler = $3",
                &[&inventory, &host, &handler],
            )
            .await?;
            Ok(())
        })
    }

    fn pending_handlers(&self, inventory: &str) -> Result<Vec<PendingHandler>, StateError> {
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            let rows = c
                .query(
                    "SELECT inventory, host, handler, run FROM tbuddy.pending_handlers
                      WHERE inventory = $1 ORDER BY id",
                    &[&inventory],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(PendingHandler {
                        inventory: r.try_get(0)?,
                        host: r.try_get(1)?,
                        handler: r.try_get(2)?,
                        run: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn lock(&self, inventory: &str, holder: &LockHolder) -> Result<Box<dyn LockGuard>, StateError> {
        let key = super::lock_key(inventory);
        let shared = &self.shared;
        let (client, task) = self
            .block(async move {
                let (client, task) = shared.connect().await?;
                let got: bool = client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                    .await?
                    .try_get(0)?;
                if got {
                    Ok(Some((client, task)))
                } else {
                    drop(client);
                    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
                    Ok::<_, StateError>(None)
                }
            })?
            .map_or_else(
                || {
                    // The holder writes its row right after taking the lock.
                    for _ in 0..20 {
                        if let Some(h) = self.holder_row(inventory)? {
                            return Err(StateError::Locked(h));
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(StateError::Locked(super::unknown_holder()))
                },
                Ok,
            )?;
        let pid = i64::from(holder.pid);
        let token = super::lock_token();
        let guard = PgLock {
            shared: Arc::clone(&self.shared),
            client: Some(client),
            task: Some(task),
            key,
            inventory: inventory.to_string(),
            token: token.clone(),
        };
        let lock_client = guard.client.as_ref().map(|c| c as &Client);
        let Some(lc) = lock_client else {
            unreachable!("just set");
        };
        self.block(async move {
            lc.execute(
                "INSERT INTO tbuddy.locks (inventory, run, user_name, controller_host, pid, since,
                     command, token)
                 VALUES ($1, $2, $3, $4, $5, $6::text::timestamptz, $7, $8)
                 ON CONFLICT (inventory) DO UPDATE SET run = excluded.run,
                     user_name = excluded.user_name, controller_host = excluded.controller_host,
                     pid = excluded.pid, since = excluded.since, command = excluded.command,
                     token = excluded.token",
                &[
                    &inventory,
                    &holder.run,
                    &holder.user,
                    &holder.controller_host,
                    &pid,
                    &holder.since,
                    &holder.command,
                    &token,
                ],
            )
            .await
        })?;
        Ok(Box::new(guard))
    }

    fn force_unlock(&self, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        let held = self.lock_holder(inventory)?;
        for pid in self.lock_pids(inventory)? {
            let mut guard = self.client();
            let c: &mut Client = &mut guard;
            self.block(async move {
                c.execute("SELECT pg_terminate_backend($1)", &[&pid])
                    .await
                    .map(drop)
            })?;
        }
        // Termination is asynchronous: wait until the server has let go.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !self.lock_pids(inventory)?.is_empty() {
            if std::time::Instant::now() > deadline {
                return Err(StateError::Open {
                    target: self.shared.target.clone(),
                    reason: format!(
                        "the session holding the lock of {inventory} did not end after \
                         pg_terminate_backend"
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let row = {
            let mut guard = self.client();
            let c: &mut Client = &mut guard;
            self.block(async move {
                let row = c
                    .query_opt(
                        &format!(
                            "DELETE FROM tbuddy.locks WHERE inventory = $1
                             RETURNING {HOLDER_COLUMNS}"
                        ),
                        &[&inventory],
                    )
                    .await?;
                row.as_ref().map(holder_from_row).transpose()
            })?
        };
        Ok(held.or(row))
    }

    fn set_lock_run(&self, inventory: &str, run: RunId) -> Result<(), StateError> {
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        let n = self.block(async move {
            c.execute(
                "UPDATE tbuddy.locks SET run = $1 WHERE inventory = $2",
                &[&run, &inventory],
            )
            .await
        })?;
        if n == 0 {
            return Err(StateError::NotFound(format!("lock of {inventory}")));
        }
        Ok(())
    }

    fn lock_holder(&self, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        if self.lock_pids(inventory)?.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            self.holder_row(inventory)?
                .unwrap_or_else(super::unknown_holder),
        ))
    }

    fn describe(&self) -> String {
        self.shared.target.clone()
    }

    fn ledger_get(&self, key: &str) -> Result<Option<LedgerEntry>, StateError> {
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        let row = self.block(async move {
            c.query_opt(
                concat!(
                    "SELECT key, kind, status, detail::text, ",
                    ts!("started"),
                    ", ",
                    ts!("finished"),
                    " FROM tbuddy.ledger WHERE key = $1"
                ),
                &[&key],
            )
            .await
        })?;
        row.map(|r| {
            Ok(LedgerEntry {
                key: r.try_get(0)?,
                kind: r.try_get(1)?,
                status: r.try_get(2)?,
                detail: super::json_from_db(&r.try_get::<_, String>(3)?, "ledger detail")?,
                started: r.try_get(4)?,
                finished: r.try_get(5)?,
            })
        })
        .transpose()
    }

    fn ledger_put(&self, e: &LedgerEntry) -> Result<(), StateError> {
        let detail = e.detail.to_string();
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        self.block(async move {
            c.execute(
                "INSERT INTO tbuddy.ledger (key, kind, status, detail, started, finished)
                 VALUES ($1, $2, $3, $4::text::jsonb, $5::text::timestamptz, $6::text::timestamptz)
                 ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, status = excluded.status,
                   detail = excluded.detail, started = excluded.started, finished = excluded.finished",
                &[&e.key, &e.kind, &e.status, &detail, &e.started, &e.finished],
            )
            .await
        })?;
        Ok(())
    }

    fn ledger_remove(&self, key: &str) -> Result<bool, StateError> {
        let mut guard = self.client();
        let c: &mut Client = &mut guard;
        let n = self.block(async move {
            c.execute("DELETE FROM tbuddy.ledger WHERE key = $1", &[&key])
                .await
        })?;
        Ok(n > 0)
    }
}

struct PgLock {
    shared: Arc<Shared>,
    client: Option<Client>,
    task: Option<JoinHandle<()>>,
    key: i64,
    inventory: String,
    /// Identifies this acquisition's holder row.
    token: String,
}

impl LockGuard for PgLock {}

impl Drop for PgLock {
    fn drop(&mut self) {
        let client = self.client.take();
        let task = self.task.take();
        let (key, inventory, token) = (self.key, &self.inventory, &self.token);
        self.shared.block(async move {
            if let Some(c) = client {
                // Only our own row: after a force-unlock it may be a new holder's.
                let _ = c
                    .execute(
                        "DELETE FROM tbuddy.locks WHERE inventory = $1 AND token = $2",
                        &[inventory, token],
                    )
                    .await;
                let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&key]).await;
                // Closing the session releases the lock in any case.
                drop(c);
            }
            if let Some(t) = task {
                let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
            }
        });
    }
}
