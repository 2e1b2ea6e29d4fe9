//! The migration as a whole: inspect (snapshot, schema, translation,
//! preflight, what the target and the ledger hold: writes nothing), then
//! execute (write-ahead ledger entry, load, keys and constraints, sequences,
//! verification, ledger done) or roll back what a recorded run created.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_postgres::Client;

use super::checksum::TableSum;
use super::error::{MigrateError, PgContext, describe_pg};
use super::keep::{self, Keeper};
use super::load::{self, Prepare};
use super::options::{ExistingRows, Options};
use super::preflight::{self, Report};
use super::snapshot::Snapshot;
use super::source::{self, SourceSchema};
use super::sqltext::quote_ident;
use super::target::{self, TargetSpec};
use super::translate::{self, TargetTable, Translation};
use super::types::PgType;
use super::{LEDGER_KIND, existing, verify};
use crate::state::{LedgerEntry, LockHolder, StateStore};

/// Told what happens while a migration runs (progress bars, logs).
pub trait Observer: Sync {
    fn phase(&self, _what: &str) {}
    /// The load starts: per table its name, row count and a live counter.
    fn loading(&self, _tables: &[(String, u64, Arc<AtomicU64>)]) {}
    fn loaded(&self) {}
}

/// An observer that shows nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// Which SQLite database a migration reads, as the ledger and messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceId {
    /// A file on the controller, by its canonical path.
    Controller(PathBuf),
    /// A file on a managed host (read through a snapshot fetched from there).
    Host { host: String, path: String },
}

impl SourceId {
    /// A controller file; the path is made canonical when it exists.
    pub fn controller(path: &Path) -> SourceId {
        SourceId::Controller(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceId::Controller(p) => write!(f, "{}", p.display()),
            SourceId::Host { host, path } => write!(f, "{host}:{path}"),
        }
    }
}

/// Everything known before writing.
pub struct Inspection {
    pub source: SourceId,
    pub target: TargetSpec,
    pub opts: Options,
    pub snapshot: Snapshot,
    pub schema: SourceSchema,
    pub translation: Translation,
    pub preflight: Report,
    /// Target tables (by target name) that exist now.
    pub existing: Vec<String>,
    /// Of those, the ones holding rows.
    pub nonempty: Vec<String>,
    /// Row counts of the tables holding rows (existing-schema mode).
    pub row_counts: Vec<(String, u64)>,
    /// Whether the target schema exists.
    pub schema_exists: bool,
    pub ledger: Option<LedgerEntry>,
    pub key: String,
}

/// What a run did.
#[derive(Debug)]
pub enum Outcome {
    /// The ledger says this migration is done; nothing was touched.
    AlreadyDone(LedgerEntry),
    Migrated {
        tables: Vec<TableSummary>,
        phases: Vec<(String, Duration)>,
        total: Duration,
    },
}

#[derive(Debug, Clone)]
pub struct TableSummary {
    pub source: String,
    pub target: String,
    pub rows: u64,
    pub load: Duration,
    pub verified: bool,
}

/// The ledger key of migrating `source` into `target`'s `schema`: a controller file by
/// its canonical path, a host's file as `HOST:PATH` (so the same path on two hosts, or on
/// a host and the controller, are different migrations).
pub fn ledger_key(source: &SourceId, target: &TargetSpec, schema: &str) -> String {
    format!(
        "{LEDGER_KIND} {source} -> {} schema {schema}",
        target.display
    )
}

/// A runtime of our own, on a thread of our own, so callers may be async.
fn block_on<T: Send>(f: impl std::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(f)
        })
        .join()
        .expect("migration thread")
    })
}

/// Snapshot, schema, translation, target state and preflight: writes nothing.
pub fn inspect(
    source: &Path,
    target: &TargetSpec,
    opts: &Options,
    store: &dyn StateStore,
) -> Result<Inspection, MigrateError> {
    let snapshot = Snapshot::take(source)?;
    inspect_snapshot(snapshot, SourceId::controller(source), target, opts, store)
}

/// [`inspect`] of a snapshot taken elsewhere (e.g. on a managed host and fetched), which
/// the ledger knows as `source`.
pub fn inspect_snapshot(
    snapshot: Snapshot,
    source: SourceId,
    target: &TargetSpec,
    opts: &Options,
    store: &dyn StateStore,
) -> Result<Inspection, MigrateError> {
    inspect_against(snapshot, source, target, opts, store, true)
}

/// [`inspect_snapshot`] for a plan in which the target database does not
/// exist yet (an earlier step creates it, or installs the server): it is
/// taken as empty, and only the source is read.
pub fn inspect_for_new_database(
    snapshot: Snapshot,
    source: SourceId,
    target: &TargetSpec,
    opts: &Options,
    store: &dyn StateStore,
    why: &str,
) -> Result<Inspection, MigrateError> {
    if opts.existing_schema {
        return Err(MigrateError::Refused(format!(
            "{} does not exist yet, so there are no existing tables to load into",
            target.display
        )));
    }
    let mut insp = inspect_against(snapshot, source, target, opts, store, false)?;
    insp.translation.notes.push(format!(
        "{} cannot be read yet ({why}): planned as a new, empty database, which an earlier \
         step must create",
        target.display
    ));
    Ok(insp)
}

/// In a plan: whether the target can be inspected. `Err(why)` (the
/// server's own words) when the database does not exist yet, or the role
/// cannot log in yet — both may be made by earlier steps of the same plan;
/// any other failure (no server, TLS) is an error.
pub fn target_ready(target: &TargetSpec) -> Result<Result<(), String>, MigrateError> {
    use tokio_postgres::error::SqlState;
    let not_yet = [
        SqlState::INVALID_CATALOG_NAME,
        SqlState::INVALID_PASSWORD,
        SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
    ];
    block_on(async {
        match target.connect().await {
            Ok(_) => Ok(Ok(())),
            Err(MigrateError::PostgresAt { source, .. })
                if not_yet.iter().any(|c| source.code() == Some(c)) =>
            {
                Ok(Err(describe_pg(&source)))
            }
            Err(e) => Err(e),
        }
    })
}

fn inspect_against(
    snapshot: Snapshot,
    source: SourceId,
    target: &TargetSpec,
    opts: &Options,
    store: &dyn StateStore,
    live: bool,
) -> Result<Inspection, MigrateError> {
    let conn = snapshot.open()?;
    let schema = source::read(&conn)?;
    let mut translation = translate::translate(&schema, opts).map_err(MigrateError::Schema)?;
    let key = ledger_key(&source, target, &opts.schema);
    let ledger = store.ledger_get(&key)?;
    let names: Vec<String> = translation.tables.iter().map(|t| t.name.clone()).collect();
    let (existing, nonempty, row_counts, schema_exists) = if !live {
        // A new database has the public schema and nothing else.
        (Vec::new(), Vec::new(), Vec::new(), opts.schema == "public")
    } else {
        block_on(async {
            let c = target.connect().await?;
            let schema_exists: bool = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                    &[&opts.schema],
                )
                .await
                .doing(|| "looking up the target schema".into())?
                .get(0);
            let existing = target::existing_tables(&c, &opts.schema, &names).await?;
            let mut nonempty = Vec::new();
            let mut row_counts = Vec::new();
            for t in &existing {
                if target::has_rows(&c, &opts.schema, t).await? {
                    nonempty.push(t.clone());
                    if opts.existing_schema {
                        row_counts
                            .push((t.clone(), target::count_rows(&c, &opts.schema, t).await?));
                    }
                }
            }
            if opts.existing_schema {
                existing::adapt(&c, &mut translation, opts).await?;
            }
            Ok::<_, MigrateError>((existing, nonempty, row_counts, schema_exists))
        })?
    };
    drop(conn);
    let preflight = preflight::run(
        snapshot.path(),
        &translation,
        &opts.naive_zone,
        opts.jobs,
        opts.full_integrity_check,
    )?;
    // VARCHAR(n) is kept only where every value fits.
    if !opts.existing_schema {
        for t in &mut translation.tables {
            for c in &mut t.columns {
                if let (Some(n), PgType::Text) = (c.max_len, c.ty) {
                    let scan = preflight.columns.get(&(t.source.clone(), c.source.clone()));
                    let longest = scan.map_or(0, |s| s.max_chars);
                    if longest <= n as usize {
                        c.ty = PgType::Varchar(n);
                    } else {
                        translation.notes.push(format!(
                            "{}.{}: declared with a length of {n} but holds values of up to {longest} characters: text",
                            t.source, c.source
                        ));
                    }
                }
            }
        }
    }
    Ok(Inspection {
        source,
        target: target.clone(),
        opts: opts.clone(),
        snapshot,
        schema,
        translation,
        preflight,
        existing,
        nonempty,
        row_counts,
        schema_exists,
        ledger,
        key,
    })
}

/// What [`execute`] would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    NoOp,
    Refuse(String),
    /// Migrate, first dropping (create mode) or emptying (existing mode)
    /// these tables left by an earlier attempt.
    Migrate {
        clean_first: Vec<String>,
        /// Existing tables whose rows (this many) are saved for a rollback
        /// and replaced (`existing_rows: replace`).
        replace: Vec<(String, u64)>,
    },
}

impl Inspection {
    pub fn action(&self) -> Action {
        if let Some(l) = &self.ledger
            && l.status == "done"
        {
            return Action::NoOp;
        }
        let ours: Vec<String> = self
            .ledger
            .as_ref()
            .and_then(|l| l.detail.get("tables"))
            .and_then(|v| serde_json::from_value::<Vec<String>>(v.clone()).ok())
            .unwrap_or_default();
        let blocking = self.preflight.blocking();
        if blocking > 0 {
            return Action::Refuse(format!(
                "the preflight found {blocking} problem(s); fix the data or choose a policy per column (--policy TABLE.COLUMN=null|cast|text)"
            ));
        }
        let schema = &self.opts.schema;
        let replace_mode = self.opts.existing_rows == ExistingRows::Replace;
        if replace_mode && !self.opts.existing_schema {
            return Action::Refuse(
                "existing_rows: replace applies to loading into existing tables (--into-existing)"
                    .into(),
            );
        }
        if self.opts.existing_schema {
            let earlier_mode = self
                .ledger
                .as_ref()
                .map(|l| {
                    l.detail
                        .get("existing_rows")
                        .and_then(|v| v.as_str())
                        .unwrap_or("refuse")
                        .to_string()
                })
                .unwrap_or_else(|| self.opts.existing_rows.as_str().to_string());
            if earlier_mode != self.opts.existing_rows.as_str() {
                return Action::Refuse(format!(
                    "an earlier attempt of this migration ran with existing_rows {earlier_mode}; run it again the same way, or roll it back first"
                ));
            }
            let count = |t: &String| {
                self.row_counts
                    .iter()
                    .find(|(n, _)| n == t)
                    .map_or(0, |(_, c)| *c)
            };
            if replace_mode {
                // Tables whose rows an earlier attempt saved are emptied and
                // loaded again; the rest are saved first (their rows are the
                // pre-migration ones: a table is saved before it changes).
                let saved: Vec<String> = self
                    .ledger
                    .as_ref()
                    .map(|l| keep::recorded(l).into_iter().map(|(t, _)| t).collect())
                    .unwrap_or_default();
                let clean_first = self
                    .nonempty
                    .iter()
                    .filter(|t| saved.contains(t))
                    .cloned()
                    .collect();
                let replace = self
                    .nonempty
                    .iter()
                    .filter(|t| !saved.contains(t))
                    .map(|t| (t.clone(), count(t)))
                    .collect();
                return Action::Migrate {
                    clean_first,
                    replace,
                };
            }
            let foreign: Vec<String> = self
                .nonempty
                .iter()
                .filter(|t| !ours.contains(t))
                .map(|t| format!("{schema}.{t} ({} rows)", count(t)))
                .collect();
            if !foreign.is_empty() {
                return Action::Refuse(format!(
                    "target table(s) {} already hold rows; to replace them, keeping them for a rollback to restore, use --existing-rows replace (module: existing_rows: replace), or empty them first",
                    foreign.join(", ")
                ));
            }
            let clean: Vec<String> = self.nonempty.clone();
            return Action::Migrate {
                clean_first: clean,
                replace: Vec::new(),
            };
        }
        let foreign: Vec<&String> = self.existing.iter().filter(|t| !ours.contains(t)).collect();
        if !foreign.is_empty() {
            return Action::Refuse(format!(
                "target table(s) {} already exist and were not created by this migration; drop them, or load into them with --into-existing",
                join(&foreign, schema)
            ));
        }
        let clean: Vec<String> = ours
            .into_iter()
            .filter(|t| self.existing.contains(t))
            .collect();
        Action::Migrate {
            clean_first: clean,
            replace: Vec::new(),
        }
    }

    pub fn create_sql(&self) -> Vec<String> {
        if self.opts.existing_schema {
            return Vec::new();
        }
        self.translation
            .tables
            .iter()
            .map(|t| translate::create_table_sql(t, &self.opts.schema))
            .collect()
    }

    pub fn post_load_sql(&self) -> Vec<String> {
        let s = &self.opts.schema;
        let tables = &self.translation.tables;
        let mut v: Vec<String> = tables
            .iter()
            .flat_map(|t| translate::post_load_sql(t, s))
            .collect();
        v.extend(tables.iter().flat_map(|t| translate::fk_sql(t, s)));
        v.extend(tables.iter().filter_map(|t| translate::sequence_sql(t, s)));
        v
    }
}

fn join(names: &[&String], schema: &str) -> String {
    names
        .iter()
        .map(|n| format!("{schema}.{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn holder(key: &str) -> LockHolder {
    LockHolder {
        run: None,
        user: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        controller_host: crate::state::this_controller(),
        pid: std::process::id(),
        since: crate::state::now_rfc3339(),
        command: format!("migrate ({key})"),
    }
}

/// Runs the migration the inspection describes.
pub fn execute(
    insp: &Inspection,
    store: &dyn StateStore,
    obs: &dyn Observer,
) -> Result<Outcome, MigrateError> {
    let clean_first = match insp.action() {
        Action::NoOp => {
            return Ok(Outcome::AlreadyDone(
                insp.ledger.clone().expect("no-op comes from the ledger"),
            ));
        }
        Action::Refuse(why) => return Err(MigrateError::Refused(why)),
        Action::Migrate { clean_first, .. } => clean_first,
    };
    let _lock = store.lock(&format!("migrate:{}", insp.key), &holder(&insp.key))?;
    let started = crate::state::now_rfc3339();
    let tables: Vec<String> = insp
        .translation
        .tables
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let created_schema = !insp.schema_exists
        || insp
            .ledger
            .as_ref()
            .and_then(|l| l.detail.get("created_schema"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    let mode = if insp.opts.existing_schema {
        "existing"
    } else {
        "create"
    };
    let mut entry = LedgerEntry {
        key: insp.key.clone(),
        kind: LEDGER_KIND.into(),
        status: "running".into(),
        detail: json!({
            "mode": mode,
            "schema": insp.opts.schema,
            "tables": tables,
            "created_schema": created_schema,
            "source": insp.source.to_string(),
            "target": insp.target.display,
        }),
        started,
        finished: None,
    };
    if insp.opts.existing_schema {
        entry.detail["existing_rows"] = json!(insp.opts.existing_rows.as_str());
        // Rows an earlier attempt saved stay the pre-migration rows.
        if let Some(saved) = insp.ledger.as_ref().and_then(|l| l.detail.get("saved")) {
            entry.detail["saved"] = saved.clone();
        }
    }
    // Write-ahead: the ledger names what this run may create before it exists.
    store.ledger_put(&entry)?;
    let t0 = Instant::now();
    let already_saved: Vec<String> = keep::recorded(&entry).into_iter().map(|(t, _)| t).collect();
    let entry = Mutex::new(entry);
    let keeper = Keeper {
        store,
        entry: &entry,
    };
    let result = block_on(run_async(insp, &clean_first, &keeper, &already_saved, obs));
    let mut entry = entry.into_inner().expect("ledger entry");
    entry.finished = Some(crate::state::now_rfc3339());
    match result {
        Ok((tables, phases)) => {
            let rows: serde_json::Map<String, serde_json::Value> = tables
                .iter()
                .map(|t| (t.target.clone(), json!(t.rows)))
                .collect();
            entry.status = "done".into();
            entry.detail["rows"] = serde_json::Value::Object(rows);
            store.ledger_put(&entry)?;
            Ok(Outcome::Migrated {
                tables,
                phases,
                total: t0.elapsed(),
            })
        }
        Err(e) => {
            entry.status = "failed".into();
            entry.detail["error"] = json!(e.to_string());
            store.ledger_put(&entry)?;
            Err(e)
        }
    }
}

type Phases = Vec<(String, Duration)>;

async fn run_async(
    insp: &Inspection,
    clean_first: &[String],
    keeper: &Keeper<'_>,
    already_saved: &[String],
    obs: &dyn Observer,
) -> Result<(Vec<TableSummary>, Phases), MigrateError> {
    let opts = &insp.opts;
    let schema = &opts.schema;
    let tables = &insp.translation.tables;
    let jobs = opts.jobs.clamp(1, 8).min(tables.len().max(1));
    let mut phases = Vec::new();
    let mut clients = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let c = insp.target.connect().await?;
        // Loads commit without waiting for the WAL flush; the synchronous
        // commits of the key and constraint phase flush them all before
        // the run reports success.
        c.batch_execute("SET synchronous_commit = off")
            .await
            .doing(|| "setting up the connection".into())?;
        clients.push(c);
    }
    let t = Instant::now();
    {
        let c = &clients[0];
        if !opts.existing_schema {
            c.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quote_ident(schema)
            ))
            .await
            .doing(|| format!("creating schema {schema}"))?;
            for name in clean_first.iter().rev() {
                obs.phase(&format!(
                    "dropping {schema}.{name} left by an earlier attempt"
                ));
                c.batch_execute(&format!(
                    "DROP TABLE IF EXISTS {}.{} CASCADE",
                    quote_ident(schema),
                    quote_ident(name)
                ))
                .await
                .doing(|| format!("dropping {schema}.{name}"))?;
            }
        }
    }
    // Load: tables in FK order, `jobs` at a time.
    obs.phase("loading");
    let counters: Vec<(String, u64, Arc<AtomicU64>)> = tables
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.rows.max(0) as u64,
                Arc::new(AtomicU64::new(0)),
            )
        })
        .collect();
    obs.loading(&counters);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<(TableSum, Duration)>>> = Mutex::new(vec![None; tables.len()]);
    let snapshot = insp.snapshot.path();
    let work = clients.iter_mut().map(|c| {
        let next = &next;
        let failed = &failed;
        let results = &results;
        let counters = &counters;
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= tables.len() || failed.load(Ordering::SeqCst) {
                    return Ok::<(), MigrateError>(());
                }
                let t = &tables[i];
                let prepare = if opts.existing_schema && opts.existing_rows == ExistingRows::Replace
                {
                    Prepare::Replace {
                        keeper,
                        save: !already_saved.contains(&t.name),
                    }
                } else if opts.existing_schema {
                    Prepare::Truncate
                } else {
                    Prepare::Create(translate::create_table_sql(t, schema))
                };
                let t0 = Instant::now();
                match load::load_table(
                    c,
                    t,
                    schema,
                    prepare,
                    snapshot,
                    &opts.naive_zone,
                    counters[i].2.clone(),
                )
                .await
                {
                    Ok(sum) => {
                        results.lock().expect("results")[i] = Some((sum, t0.elapsed()));
                    }
                    Err(e) => {
                        failed.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
            }
        }
    });
    futures_util::future::try_join_all(work).await?;
    obs.loaded();
    let sums: Vec<(TableSum, Duration)> = results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every table loaded"))
        .collect();
    phases.push(("load".to_string(), t.elapsed()));

    // Keys, constraints and indexes per table, in parallel; then FKs and sequences.
    let t = Instant::now();
    for c in &clients {
        c.batch_execute("SET synchronous_commit = on")
            .await
            .doing(|| "setting up the connection".into())?;
    }
    if !opts.existing_schema {
        obs.phase("building keys, constraints and indexes");
        let next = AtomicUsize::new(0);
        let work = clients.iter().map(|c| {
            let next = &next;
            async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(t) = tables.get(i) else {
                        return Ok::<(), MigrateError>(());
                    };
                    for sql in translate::post_load_sql(t, schema) {
                        c.batch_execute(&sql).await.doing(|| sql.clone())?;
                    }
                }
            }
        });
        futures_util::future::try_join_all(work).await?;
        // Added NOT VALID (no scan, brief locks), then validated in
        // parallel: VALIDATE takes locks that do not conflict with each other.
        obs.phase("adding foreign keys");
        let mut validate = Vec::new();
        for t in tables {
            for (add, check) in translate::fk_sql_parts(t, schema) {
                clients[0].batch_execute(&add).await.doing(|| add.clone())?;
                validate.push(check);
            }
        }
        let next = AtomicUsize::new(0);
        let work = clients.iter().map(|c| {
            let next = &next;
            let validate = &validate;
            async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(sql) = validate.get(i) else {
                        return Ok::<(), MigrateError>(());
                    };
                    c.batch_execute(sql).await.doing(|| sql.clone())?;
                }
            }
        });
        futures_util::future::try_join_all(work).await?;
    }
    for t in tables {
        if let Some(sql) = translate::sequence_sql(t, schema) {
            clients[0].batch_execute(&sql).await.doing(|| sql.clone())?;
        }
    }
    if opts.existing_schema {
        reset_existing_sequences(&clients[0], tables, schema).await?;
    }
    phases.push(("keys, constraints, indexes".to_string(), t.elapsed()));

    // Verify every table.
    let t = Instant::now();
    obs.phase("verifying row counts and checksums");
    let next = AtomicUsize::new(0);
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let work = clients.iter().map(|c| {
        let next = &next;
        let errors = &errors;
        let sums = &sums;
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(t) = tables.get(i) else {
                    return;
                };
                if let Err(e) =
                    verify::check(c, t, schema, &sums[i].0, snapshot, &opts.naive_zone).await
                {
                    errors.lock().expect("errors").push(e.to_string());
                }
            }
        }
    });
    futures_util::future::join_all(work).await;
    let errors = errors.into_inner().expect("errors");
    if !errors.is_empty() {
        return Err(MigrateError::Verify(errors.join("\n")));
    }
    phases.push(("verify".to_string(), t.elapsed()));
    let summary = tables
        .iter()
        .zip(&sums)
        .map(|(t, (sum, d))| TableSummary {
            source: t.source.clone(),
            target: t.name.clone(),
            rows: sum.rows,
            load: *d,
            verified: true,
        })
        .collect();
    Ok((summary, phases))
}

/// Existing tables: every serial/identity column's sequence past the loaded maximum.
async fn reset_existing_sequences(
    c: &Client,
    tables: &[TargetTable],
    schema: &str,
) -> Result<(), MigrateError> {
    for t in tables {
        let tq = format!("{}.{}", quote_ident(schema), quote_ident(&t.name));
        for col in t.columns.iter().filter(|c| c.ty.is_integer()) {
            let sql = format!(
                "SELECT setval(s, greatest(coalesce((SELECT max({q}) FROM {tq}), 0), 1), (SELECT max({q}) FROM {tq}) IS NOT NULL) \
                   FROM pg_get_serial_sequence($1, $2) s WHERE s IS NOT NULL",
                q = quote_ident(&col.name),
            );
            c.query(&sql, &[&tq, &col.name])
                .await
                .doing(|| sql.clone())?;
        }
    }
    Ok(())
}

/// Undoes a recorded migration: drops the tables it created (or empties
/// the existing tables it loaded), then forgets the ledger entry.
pub fn rollback(
    source: &SourceId,
    target: &TargetSpec,
    schema: &str,
    store: &dyn StateStore,
) -> Result<Vec<String>, MigrateError> {
    let key = ledger_key(source, target, schema);
    let Some(entry) = store.ledger_get(&key)? else {
        return Err(MigrateError::Refused(format!(
            "nothing to roll back: the ledger has no migration of {} into {} (schema {schema})",
            source, target.display
        )));
    };
    let _lock = store.lock(&format!("migrate:{key}"), &holder(&key))?;
    let tables: Vec<String> = entry
        .detail
        .get("tables")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let existing_mode = entry.detail.get("mode").and_then(|m| m.as_str()) == Some("existing");
    let created_schema = entry
        .detail
        .get("created_schema")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let replaced = existing_mode
        && entry.detail.get("existing_rows").and_then(|v| v.as_str()) == Some("replace");
    if replaced {
        // Every table such a run changed was saved before it changed; the
        // others were not touched.
        let saved = keep::recorded(&entry);
        let done = block_on(async {
            let mut c = target.connect().await?;
            keep::restore(&mut c, schema, &saved, store).await
        })?;
        store.ledger_remove(&key)?;
        return Ok(done);
    }
    let done = block_on(async {
        let c = target.connect().await?;
        let mut done = Vec::new();
        let present = target::existing_tables(&c, schema, &tables).await?;
        let q = |t: &str| format!("{}.{}", quote_ident(schema), quote_ident(t));
        if existing_mode {
            let list: Vec<String> = tables
                .iter()
                .filter(|t| present.contains(t))
                .map(|t| q(t))
                .collect();
            if !list.is_empty() {
                c.batch_execute(&format!("TRUNCATE {}", list.join(", ")))
                    .await
                    .doing(|| "emptying the loaded tables".into())?;
                done.push(format!("emptied {}", list.join(", ")));
            }
        } else {
            // Children first: the reverse of the load order.
            let tx_sql: Vec<String> = tables
                .iter()
                .rev()
                .filter(|t| present.contains(t))
                .map(|t| format!("DROP TABLE {}", q(t)))
                .collect();
            if !tx_sql.is_empty() {
                let sql = format!("BEGIN; {}; COMMIT;", tx_sql.join("; "));
                if let Err(e) = c.batch_execute(&sql).await {
                    let _ = c.batch_execute("ROLLBACK").await;
                    return Err(e).doing(|| {
                        "dropping the migrated tables (another object may depend on them)".into()
                    });
                }
                done.extend(tx_sql);
            }
            if created_schema && schema != "public" {
                match c
                    .batch_execute(&format!("DROP SCHEMA {}", quote_ident(schema)))
                    .await
                {
                    Ok(()) => done.push(format!("DROP SCHEMA {}", quote_ident(schema))),
                    Err(_) => done.push(format!("schema {schema} kept: it is not empty")),
                }
            }
        }
        Ok::<_, MigrateError>(done)
    })?;
    store.ledger_remove(&key)?;
    Ok(done)
}

/// Compares the target with the snapshot again (row counts and checksums),
/// naming the first differing row of each table that differs.
pub fn reverify(insp: &Inspection) -> Result<(), MigrateError> {
    let tables = &insp.translation.tables;
    let snapshot = insp.snapshot.path();
    let naive = &insp.opts.naive_zone;
    let sums: Vec<TableSum> = tables
        .iter()
        .map(|t| load::source_sum(t, snapshot, naive))
        .collect::<Result<_, _>>()?;
    block_on(async {
        let c = insp.target.connect().await?;
        let mut errors = Vec::new();
        for (t, sum) in tables.iter().zip(&sums) {
            if let Err(e) = verify::check(&c, t, &insp.opts.schema, sum, snapshot, naive).await {
                errors.push(e.to_string());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(MigrateError::Verify(errors.join("\n")))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_keys_tell_hosts_and_the_controller_apart() {
        let target = TargetSpec::parse("postgresql://app@db:5432/main", None).unwrap();
        let on = |host: &str| SourceId::Host {
            host: host.into(),
            path: "/srv/bot/bot.db".into(),
        };
        let a = ledger_key(&on("web1"), &target, "public");
        let b = ledger_key(&on("web2"), &target, "public");
        let local = ledger_key(
            &SourceId::controller(Path::new("/srv/bot/bot.db")),
            &target,
            "public",
        );
        assert_eq!(
            a,
            "sqlite_to_postgres web1:/srv/bot/bot.db -> postgresql://app@db:5432/main schema public"
        );
        assert_ne!(a, b);
        assert_ne!(a, local);
        // A controller file keeps the key it always had: its canonical path.
        assert_eq!(
            local,
            "sqlite_to_postgres /srv/bot/bot.db -> postgresql://app@db:5432/main schema public"
        );
    }
}
