//! One conformance suite, run against both backends, plus the checks that
//! need a process of their own (a lock holder killed with SIGKILL) or
//! backend-specific access (schema version, file modes).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

fn meta(inventory: &str) -> RunMeta {
    RunMeta {
        kind: RunKind::Apply,
        playbook: "playbooks/site.yml".into(),
        inventory: inventory.into(),
        limit: None,
        extra_vars: serde_json::json!({"release": "1.2.3", "token": "<redacted>"}),
        user: "deploy".into(),
        controller_host: this_controller(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        check_mode: false,
        pid: std::process::id(),
    }
}

fn holder(command: &str) -> LockHolder {
    LockHolder {
        run: None,
        user: "deploy".into(),
        controller_host: this_controller(),
        pid: std::process::id(),
        since: now_rfc3339(),
        command: command.into(),
    }
}

fn task(host: &str, name: &str, status: &str) -> TaskRecord {
    TaskRecord {
        host: host.into(),
        task: name.into(),
        location: "site.yml:3".into(),
        status: status.into(),
        changed: status == "changed",
        duration_ms: 12,
        summary: Some(format!("{name} on {host}")),
        diff: (status == "changed").then(|| "--- before\n+++ after\n-a\n+b\n".into()),
    }
}

fn undo(run: RunId, host: &str, n: usize) -> UndoEntry {
    UndoEntry {
        id: 0,
        run,
        seq: 0,
        host: host.into(),
        task: format!("task {n}"),
        location: format!("site.yml:{n}"),
        summary: format!("restore /etc/app.conf ({n})"),
        undo: serde_json::json!({"module": "copy", "path": "/etc/app.conf", "existed": true, "n": n}),
        blobs: vec![],
        state: UndoState::Pending,
    }
}

fn summary_of(store: &dyn StateStore, run: RunId) -> RunSummary {
    store
        .runs(1000)
        .unwrap()
        .into_iter()
        .find(|s| s.id == run)
        .expect("run listed")
}

/// A pid that certainly belonged to a process that has exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait true");
    pid
}

/// The behaviour every backend must show.
fn conformance(store: &dyn StateStore) {
    type Step = fn(&dyn StateStore);
    let steps: [(&str, Step); 10] = [
        ("runs and tasks", runs_and_tasks),
        ("undo journal", undo_journal),
        ("blobs", blobs),
        ("pending handlers", pending_handlers),
        ("lock fails fast", lock_fail_fast),
        ("force unlock", force_unlock),
        ("interrupted detection", interrupted_detection),
        ("concurrent writers", concurrent_writers),
        ("from async context", from_async_context),
        ("ledger", ledger),
    ];
    for (name, step) in steps {
        let t0 = Instant::now();
        step(store);
        eprintln!("conformance: {name}: {:?}", t0.elapsed());
    }
}

fn ledger(store: &dyn StateStore) {
    let key = "sqlite_to_postgres app.db -> postgresql://app@db:5432/app/public";
    assert_eq!(store.ledger_get(key).unwrap(), None);
    let mut e = LedgerEntry {
        key: key.into(),
        kind: "sqlite_to_postgres".into(),
        status: "running".into(),
        detail: serde_json::json!({"tables": ["users", "bookings"]}),
        started: now_rfc3339(),
        finished: None,
    };
    store.ledger_put(&e).unwrap();
    assert_eq!(store.ledger_get(key).unwrap().as_ref(), Some(&e));
    e.status = "done".into();
    e.finished = Some(now_rfc3339());
    e.detail = serde_json::json!({"tables": ["users", "bookings"], "rows": {"users": 3}});
    store.ledger_put(&e).unwrap();
    assert_eq!(store.ledger_get(key).unwrap().as_ref(), Some(&e));
    assert!(store.ledger_remove(key).unwrap());
    assert!(!store.ledger_remove(key).unwrap());
    assert_eq!(store.ledger_get(key).unwrap(), None);
}

fn runs_and_tasks(store: &dyn StateStore) {
    let inv = "conf/runs";
    assert_eq!(store.last_run(inv, false).unwrap(), None);
    let r1 = store.begin_run(&meta(inv)).unwrap();
    store
        .record_task(r1, &task("web1", "install", "changed"))
        .unwrap();
    store
        .record_task(r1, &task("web1", "config", "ok"))
        .unwrap();
    store
        .record_task(r1, &task("web2", "install", "failed"))
        .unwrap();
    store
        .record_task(r1, &task("web3", "install", "unreachable"))
        .unwrap();
    store
        .record_task(r1, &task("web2", "cleanup", "skipped"))
        .unwrap();
    store.finish_run(r1, false).unwrap();

    let mut check = meta(inv);
    check.check_mode = true;
    let r2 = store.begin_run(&check).unwrap();
    store.finish_run(r2, true).unwrap();
    let mut rb = meta(inv);
    rb.kind = RunKind::Rollback { of: r1 };
    let r3 = store.begin_run(&rb).unwrap();
    store.finish_run(r3, true).unwrap();
    let r4 = store.begin_run(&rb).unwrap();
    store.finish_run(r4, true).unwrap();
    assert!(r1 < r2 && r2 < r3 && r3 < r4);

    let s = summary_of(store, r1);
    assert_eq!(s.status, RunStatus::Failed);
    assert_eq!((s.hosts, s.ok, s.changed, s.failed), (3, 2, 1, 1));
    assert_eq!((s.unreachable, s.skipped), (1, 1));
    assert_eq!(s.kind, RunKind::Apply);
    assert_eq!(s.inventory, inv);
    assert!(s.started.ends_with('Z') && s.finished.is_some(), "{s:?}");

    let listed = store.runs(3).unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    let d = store.run(r1).unwrap();
    assert_eq!(d.meta, meta(inv));
    assert_eq!(d.summary, s);
    let names: Vec<_> = d
        .tasks
        .iter()
        .map(|t| (t.host.as_str(), t.task.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("web1", "install"),
            ("web1", "config"),
            ("web2", "install"),
            ("web3", "install"),
            ("web2", "cleanup")
        ]
    );
    assert_eq!(d.tasks[0], task("web1", "install", "changed"));

    assert_eq!(
        store.run(r3).unwrap().meta.kind,
        RunKind::Rollback { of: r1 }
    );
    assert_eq!(store.rollbacks_of(r1).unwrap(), vec![r3, r4]);
    assert_eq!(store.rollbacks_of(r3).unwrap(), Vec::<RunId>::new());
    assert_eq!(store.last_run(inv, false).unwrap(), Some(r4));
    // Check-mode runs and rollbacks have nothing to roll back.
    assert_eq!(store.last_run(inv, true).unwrap(), Some(r1));
    assert_eq!(store.last_run("conf/none", true).unwrap(), None);
}

fn undo_journal(store: &dyn StateStore) {
    let inv = "conf/undo";
    let run = store.begin_run(&meta(inv)).unwrap();
    let other = store.begin_run(&meta(inv)).unwrap();
    let mut ids = Vec::new();
    for n in 1..=5 {
        let mut e = undo(run, if n % 2 == 0 { "db1" } else { "web1" }, n);
        e.seq = 99; // assigned by the store, whatever the caller says
        if n == 2 {
            let sha = store.put_blob(b"old contents\n").unwrap();
            e.blobs = vec![sha];
        }
        ids.push(store.journal_undo(&e).unwrap());
        // Another run's journal does not disturb this run's order.
        store.journal_undo(&undo(other, "web9", n)).unwrap();
    }
    store.finish_undo(ids[0], true, None).unwrap();
    store.finish_undo(ids[1], false, None).unwrap();
    // A confirmed change replaces its record (what the change left) and blobs.
    let left = store.put_blob(b"new contents\n").unwrap();
    let completed = serde_json::json!({"host": "web1", "n": 3, "after": "left"});
    store
        .finish_undo(
            ids[2],
            true,
            Some((&completed, std::slice::from_ref(&left))),
        )
        .unwrap();

    let entries = store.undo_entries(run).unwrap();
    assert_eq!(entries.len(), 5);
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(entries.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    let states: Vec<_> = entries.iter().map(|e| e.state).collect();
    use UndoState::*;
    assert_eq!(states, [Done, Failed, Done, Pending, Pending]);
    let mut want = undo(run, "db1", 2);
    want.id = ids[1];
    want.seq = 2;
    want.state = Failed;
    want.blobs = vec![blob::sha256_hex(b"old contents\n")];
    assert_eq!(entries[1], want);
    assert_eq!(store.get_blob(&want.blobs[0]).unwrap(), b"old contents\n");
    assert_eq!(entries[2].undo, completed);
    assert_eq!(entries[2].blobs, vec![left]);
    assert_eq!(store.undo_entries(other).unwrap().len(), 5);
    assert_eq!(store.run(run).unwrap().undo, entries);

    assert!(matches!(
        store.finish_undo(i64::MAX, true, None),
        Err(StateError::NotFound(_))
    ));
    assert!(matches!(
        store.journal_undo(&undo(987_654_321, "x", 1)),
        Err(StateError::NotFound(_))
    ));
    assert!(matches!(
        store.record_task(987_654_321, &task("x", "y", "ok")),
        Err(StateError::NotFound(_))
    ));
    assert!(matches!(
        store.finish_run(987_654_321, true),
        Err(StateError::NotFound(_))
    ));
    assert!(matches!(
        store.run(987_654_321),
        Err(StateError::NotFound(_))
    ));
    let mut bad = meta(inv);
    bad.kind = RunKind::Rollback { of: 987_654_321 };
    assert!(matches!(
        store.begin_run(&bad),
        Err(StateError::NotFound(_))
    ));
}

fn blobs(store: &dyn StateStore) {
    // Big and compressible.
    let text: Vec<u8> = (0..40_000)
        .flat_map(|i| format!("line {i}: the quick brown fox\n").into_bytes())
        .collect();
    // Binary, incompressible, every byte value including NUL.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend((0..200_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    for content in [&text[..], &binary[..], b"", b"\0\xff\x00"] {
        let sha = store.put_blob(content).unwrap();
        assert_eq!(sha, blob::sha256_hex(content));
        assert_eq!(store.put_blob(content).unwrap(), sha, "deduplicated");
        assert_eq!(store.get_blob(&sha).unwrap(), content);
        assert_eq!(store.get_blob(&sha.to_uppercase()).unwrap(), content);
    }
    assert_eq!(
        blob::sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let missing = "0".repeat(64);
    assert!(matches!(
        store.get_blob(&missing),
        Err(StateError::NotFound(_))
    ));
    assert!(matches!(
        store.get_blob("nope"),
        Err(StateError::NotFound(_))
    ));
}

fn pending_handlers(store: &dyn StateStore) {
    let inv = "conf/handlers";
    let r1 = store.begin_run(&meta(inv)).unwrap();
    let r2 = store.begin_run(&meta(inv)).unwrap();
    let p = |host: &str, handler: &str, run| PendingHandler {
        inventory: inv.into(),
        host: host.into(),
        handler: handler.into(),
        run,
    };
    store
        .add_pending_handler(&p("web1", "restart nginx", r1))
        .unwrap();
    store
        .add_pending_handler(&p("web2", "restart nginx", r1))
        .unwrap();
    store
        .add_pending_handler(&p("web1", "reload app", r1))
        .unwrap();
    // Notified again by a later run: one entry, the later run.
    store
        .add_pending_handler(&p("web1", "restart nginx", r2))
        .unwrap();
    let other = PendingHandler {
        inventory: "conf/other".into(),
        ..p("web1", "restart nginx", r1)
    };
    store.add_pending_handler(&other).unwrap();
    assert_eq!(
        store.pending_handlers(inv).unwrap(),
        [
            p("web1", "restart nginx", r2),
            p("web2", "restart nginx", r1),
            p("web1", "reload app", r1)
        ]
    );
    store
        .clear_pending_handler(inv, "web1", "restart nginx")
        .unwrap();
    store
        .clear_pending_handler(inv, "web1", "never notified")
        .unwrap();
    assert_eq!(
        store.pending_handlers(inv).unwrap(),
        [p("web2", "restart nginx", r1), p("web1", "reload app", r1)]
    );
    assert_eq!(store.pending_handlers("conf/other").unwrap(), [other]);
}

fn lock_fail_fast(store: &dyn StateStore) {
    let inv = "conf/lock";
    assert_eq!(store.lock_holder(inv).unwrap(), None);
    let h = holder("apply -i prod site.yml");
    let guard = store.lock(inv, &h).unwrap();
    assert_eq!(store.lock_holder(inv).unwrap(), Some(h.clone()));

    let t0 = Instant::now();
    let err = match store.lock(inv, &holder("apply again")) {
        Err(e) => e,
        Ok(_) => panic!("second lock of the same inventory succeeded"),
    };
    assert!(t0.elapsed() < Duration::from_secs(3), "fails fast");
    match &err {
        StateError::Locked(got) => assert_eq!(got, &h),
        other => panic!("expected Locked, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("deploy@") && msg.contains(&format!("pid {}", h.pid)),
        "{msg}"
    );
    assert!(
        msg.contains("apply -i prod site.yml") && msg.contains("force-unlock"),
        "{msg}"
    );

    // Another inventory is independent.
    let other = store.lock("conf/lock-other", &holder("other")).unwrap();

    // begin_run attaches the run to the lock this process holds.
    let run = store.begin_run(&meta(inv)).unwrap();
    assert_eq!(store.lock_holder(inv).unwrap().unwrap().run, Some(run));
    store.set_lock_run(inv, run).unwrap();

    drop(guard);
    assert_eq!(store.lock_holder(inv).unwrap(), None);
    let again = store.lock(inv, &holder("third")).unwrap();
    drop(again);
    drop(other);
    assert!(matches!(
        store.set_lock_run(inv, run),
        Err(StateError::NotFound(_))
    ));
}

fn force_unlock(store: &dyn StateStore) {
    let inv = "conf/force";
    assert_eq!(store.force_unlock(inv).unwrap(), None);
    let h = holder("stuck apply");
    let stuck = store.lock(inv, &h).unwrap();
    assert_eq!(store.force_unlock(inv).unwrap(), Some(h));
    assert_eq!(store.lock_holder(inv).unwrap(), None);
    let h2 = holder("next apply");
    let next = store.lock(inv, &h2).unwrap();
    // The broken guard going away must not release or erase the new holder.
    drop(stuck);
    assert_eq!(store.lock_holder(inv).unwrap(), Some(h2.clone()));
    assert!(matches!(
        store.lock(inv, &holder("third")),
        Err(StateError::Locked(got)) if got == h2
    ));
    drop(next);
    assert_eq!(store.lock_holder(inv).unwrap(), None);
}

fn interrupted_detection(store: &dyn StateStore) {
    // Its process is gone, and nobody holds the lock.
    let inv = "conf/interrupted";
    let mut m = meta(inv);
    m.pid = dead_pid();
    let dead = store.begin_run(&m).unwrap();
    assert_eq!(summary_of(store, dead).status, RunStatus::Interrupted);
    assert_eq!(
        store.run(dead).unwrap().summary.status,
        RunStatus::Interrupted
    );
    // Finishing it later still records the real outcome.
    store.finish_run(dead, true).unwrap();
    assert_eq!(summary_of(store, dead).status, RunStatus::Ok);

    // This process holds the lock for its run: running.
    let guard = store.lock(inv, &holder("apply")).unwrap();
    let live = store.begin_run(&meta(inv)).unwrap();
    assert_eq!(summary_of(store, live).status, RunStatus::Running);
    assert_eq!(store.run(live).unwrap().summary.status, RunStatus::Running);
    // An older run still marked running lost the lock to this one.
    let mut foreign = meta(inv);
    foreign.controller_host = "elsewhere.example".into();
    foreign.pid = 1;
    let stale = store.begin_run(&foreign).unwrap();
    store.set_lock_run(inv, live).unwrap();
    assert_eq!(summary_of(store, stale).status, RunStatus::Interrupted);
    drop(guard);
    // Lock released without finish_run: the run was interrupted.
    assert_eq!(summary_of(store, live).status, RunStatus::Interrupted);
    store.finish_run(live, false).unwrap();
    assert_eq!(summary_of(store, live).status, RunStatus::Failed);
}

fn concurrent_writers(store: &dyn StateStore) {
    let inv = "conf/threads";
    let run = store.begin_run(&meta(inv)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for n in 0..25 {
                    let host = format!("host{t}");
                    store.record_task(run, &task(&host, "t", "ok")).unwrap();
                    store.journal_undo(&undo(run, &host, n)).unwrap();
                }
            });
        }
    });
    let s = summary_of(store, run);
    assert_eq!((s.hosts, s.ok), (4, 100));
    let seqs: Vec<i64> = store
        .undo_entries(run)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
}

/// The executor calls the store from async tasks: that must not panic.
fn from_async_context(store: &dyn StateStore) {
    let inv = "conf/async";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let guard = store.lock(inv, &holder("async")).unwrap();
        let run = store.begin_run(&meta(inv)).unwrap();
        store.record_task(run, &task("h", "t", "ok")).unwrap();
        assert_eq!(summary_of(store, run).status, RunStatus::Running);
        store.finish_run(run, true).unwrap();
        drop(guard);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(!store.runs(1).unwrap().is_empty());
        drop(store.lock(inv, &holder("async 2")).unwrap());
    });
}

/// Two stores on the same location behave like two controllers.
fn two_stores(spec: &StateSpec) {
    let a = open(spec).unwrap();
    let b = open(spec).unwrap();
    let inv = "conf/two";
    let h = holder("controller a");
    let guard = a.lock(inv, &h).unwrap();
    assert!(
        matches!(b.lock(inv, &holder("controller b")), Err(StateError::Locked(got)) if got == h)
    );
    let run = a.begin_run(&meta(inv)).unwrap();
    assert_eq!(b.run(run).unwrap().summary.status, RunStatus::Running);
    drop(guard);
    drop(b.lock(inv, &holder("controller b")).unwrap());
}

const CHILD_ENV: &str = "TBUDDY_STATE_TEST_CHILD";
const CHILD_INV: &str = "conf/killed";

/// Not a test on its own: the child process of [`lock_released_on_kill`].
/// Takes the lock, starts a run, reports, and waits to be killed.
#[test]
fn child_lock_holder() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let spec = StateSpec::parse(&spec, None).unwrap();
    let store = open(&spec).unwrap();
    let _guard = store.lock(CHILD_INV, &holder("child apply")).unwrap();
    let run = store.begin_run(&meta(CHILD_INV)).unwrap();
    store
        .record_task(run, &task("web1", "t", "changed"))
        .unwrap();
    println!("\nLOCKED {run}");
    std::thread::sleep(Duration::from_secs(120));
    panic!("the parent test should have killed this process");
}

/// A lock holder killed with SIGKILL leaves no lock behind, and its run
/// shows as interrupted.
fn lock_released_on_kill(spec: &StateSpec) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "state::tests::child_lock_holder", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, spec.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let run: RunId = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("LOCKED ")
                .map(|(_, r)| r.trim().parse().unwrap())
        })
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!("child exited without taking the lock")
        });

    let store = open(spec).unwrap();
    match store.lock(CHILD_INV, &holder("parent")) {
        Err(StateError::Locked(h)) => {
            assert_eq!((h.pid, h.run), (child.id(), Some(run)));
            assert_eq!(h.command, "child apply");
        }
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("lock taken while the child holds it"),
    }
    assert_eq!(summary_of(&*store, run).status, RunStatus::Running);

    child.kill().unwrap(); // SIGKILL: no destructor runs in the child
    child.wait().unwrap();

    // The kernel (flock) or the server (session end) lets go; give the
    // server a moment to notice the closed connection.
    let deadline = Instant::now() + Duration::from_secs(20);
    let guard = loop {
        match store.lock(CHILD_INV, &holder("parent")) {
            Ok(g) => break g,
            Err(StateError::Locked(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("lock not released after SIGKILL: {e}"),
        }
    };
    let s = summary_of(&*store, run);
    assert_eq!(s.status, RunStatus::Interrupted);
    assert_eq!(s.changed, 1);
    drop(guard);
}

/// A store written by a newer version is refused, naming both versions.
fn schema_too_new(spec: &StateSpec, bump_to_99: impl FnOnce(), supported: i64) {
    drop(open(spec).unwrap());
    bump_to_99();
    match open(spec) {
        Err(e @ StateError::Schema { found: 99, .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("99") && msg.contains(&supported.to_string()),
                "{msg}"
            );
            assert!(msg.contains("newer"), "{msg}");
        }
        Err(e) => panic!("expected a schema error, got {e}"),
        Ok(_) => panic!("a store with a newer schema was opened"),
    }
}

// ---- SQLite -------------------------------------------------------------

fn sqlite_spec(dir: &tempfile::TempDir) -> StateSpec {
    StateSpec::Sqlite(dir.path().join(".tbuddy").join("state.db"))
}

#[test]
fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&sqlite_spec(&dir)).unwrap();
    conformance(&*store);
}

#[test]
fn sqlite_two_stores() {
    let dir = tempfile::tempdir().unwrap();
    two_stores(&sqlite_spec(&dir));
}

#[test]
fn sqlite_lock_released_on_kill() {
    let dir = tempfile::tempdir().unwrap();
    lock_released_on_kill(&sqlite_spec(&dir));
}

#[test]
fn sqlite_schema_too_new() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sqlite_spec(&dir);
    let StateSpec::Sqlite(path) = &spec else {
        unreachable!()
    };
    schema_too_new(
        &spec,
        || {
            let c = rusqlite::Connection::open(path).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        },
        sqlite::SCHEMA_VERSION,
    );
}

#[test]
fn sqlite_file_modes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = sqlite_spec(&dir);
    let store = open(&spec).unwrap();
    let run = store.begin_run(&meta("conf/modes")).unwrap();
    store.record_task(run, &task("h", "t", "ok")).unwrap();
    let guard = store.lock("conf/modes", &holder("modes")).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tbuddy = dir.path().join(".tbuddy");
    assert_eq!(mode(&tbuddy), 0o700);
    assert_eq!(mode(&tbuddy.join("state.db")), 0o600);
    assert_eq!(mode(&tbuddy.join("state.db-wal")), 0o600);
    let locks = tbuddy.join("state.db.locks");
    assert_eq!(mode(&locks), 0o700);
    for f in std::fs::read_dir(&locks).unwrap() {
        assert_eq!(mode(&f.unwrap().path()), 0o600);
    }
    drop(guard);
    // Reopening an existing, current store works and keeps the data.
    drop(store);
    assert_eq!(open(&spec).unwrap().runs(10).unwrap().len(), 1);
}

#[test]
fn sqlite_unwritable_location_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let err = match open(&StateSpec::Sqlite(file.join("state.db"))) {
        Err(e) => e,
        Ok(_) => panic!("opened a store below a regular file"),
    };
    assert!(err.to_string().contains("plain-file"), "{err}");
}

// ---- PostgreSQL ---------------------------------------------------------

#[test]
#[ignore = "needs PostgreSQL 15: run tests/run-all.sh"]
fn postgres_backend() {
    use crate::testsupport::pg::PgCluster;
    let Some(pg) = PgCluster::start("state::tests::postgres_backend") else {
        return;
    };
    let spec = StateSpec::Postgres(pg.create_database("state"));
    let store = open(&spec).unwrap();
    conformance(&*store);
    two_stores(&spec);
    lock_released_on_kill(&spec);
    drop(store);

    // sslmode values that need no TLS are accepted.
    let StateSpec::Postgres(url) = &spec else {
        unreachable!()
    };
    for mode in ["disable", "prefer"] {
        let s = open(&StateSpec::Postgres(format!("{url}?sslmode={mode}"))).unwrap();
        assert!(!s.runs(1).unwrap().is_empty());
    }

    let spec = StateSpec::Postgres(pg.create_database("newer"));
    schema_too_new(
        &spec,
        || {
            pg.psql("newer", "UPDATE tbuddy.schema_version SET version = 99");
        },
        postgres::SCHEMA_VERSION,
    );
}

#[test]
fn postgres_client_certificates_refused_before_connecting() {
    for setting in ["sslcert=/c.pem", "sslkey=/k.pem"] {
        let url = format!("postgres://u:secret@db.invalid/x?sslmode=verify-full&{setting}");
        let err = match open(&StateSpec::Postgres(url)) {
            Err(e) => e,
            Ok(_) => panic!("opened with {setting}"),
        };
        let msg = err.to_string();
        assert!(matches!(err, StateError::TlsUnsupported { .. }), "{msg}");
        assert!(msg.contains("client certificates"), "{msg}");
        assert!(!msg.contains("secret"), "password shown: {msg}");
    }
    // A TLS mode is accepted: the failure is reaching the (absent) server.
    let err = match open(&StateSpec::Postgres(
        "postgres://u:secret@db.invalid/x?sslmode=verify-full&connect_timeout=2".into(),
    )) {
        Err(e) => e,
        Ok(_) => panic!("connected to nothing"),
    };
    assert!(matches!(err, StateError::Open { .. }), "{err}");
    assert!(!err.to_string().contains("secret"), "password shown: {err}");
}

#[test]
fn postgres_unreachable_server_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().to_string_lossy().replace('/', "%2F");
    let url = format!("postgresql://u:secret@{host}:5999/db");
    let err = match open(&StateSpec::Postgres(url)) {
        Err(e) => e,
        Ok(_) => panic!("connected to nothing"),
    };
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot open the state store postgresql://u:***@"),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "{msg}");
}

// ---- pure helpers -------------------------------------------------------

#[test]
fn redacts_passwords_in_urls() {
    assert_eq!(
        postgres::redact_url("postgres://app:s3cr:et@db:5432/x?sslmode=disable&password=p"),
        "postgres://app:***@db:5432/x?sslmode=disable&password=***"
    );
    assert_eq!(
        postgres::redact_url("postgres://app@db/x"),
        "postgres://app@db/x"
    );
    assert_eq!(postgres::redact_url("postgres://db/x"), "postgres://db/x");
}

#[test]
fn rfc3339_dates() {
    assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339_from_unix(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339_from_unix(4_107_542_399), "2100-02-28T23:59:59Z");
    assert!(now_rfc3339().starts_with("20"));
}

#[test]
fn lock_keys_are_stable() {
    assert_eq!(
        lock_key("inventory/prod.yml"),
        lock_key("inventory/prod.yml")
    );
    assert_ne!(
        lock_key("inventory/prod.yml"),
        lock_key("inventory/stage.yml")
    );
    // Part of the on-disk / on-server format: must not change between versions.
    assert_eq!(lock_key(""), {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(b"tbuddy-deploy run lock\0");
        i64::from_be_bytes(d[..8].try_into().unwrap())
    });
}

#[test]
fn blob_encoding_compresses_only_when_it_helps() {
    let text = "abc".repeat(10_000).into_bytes();
    let (enc, data) = blob::encode(&text);
    assert_eq!(enc, blob::ZLIB);
    assert!(data.len() < text.len() / 10);
    let sha = blob::sha256_hex(&text);
    assert_eq!(blob::decode(&sha, enc, data).unwrap(), text);
    let (enc, data) = blob::encode(b"x");
    assert_eq!((enc, &data[..]), (blob::RAW, &b"x"[..]));
    assert!(matches!(
        blob::decode(&sha, blob::RAW, b"tampered".to_vec()),
        Err(StateError::Corrupt(_))
    ));
}

#[test]
fn project_config_reader() {
    let text = "# project settings\n\nstate = \"postgres://ops@db/tbuddy\"  # team store\n\
                other = 'kept as is'\n[table]\nstate = \"ignored\"\n";
    let cfg = config::parse(text).unwrap();
    assert_eq!(cfg["state"], (3, "postgres://ops@db/tbuddy".to_string()));
    assert_eq!(cfg["other"].1, "kept as is");
    assert_eq!(
        config::parse("a = \"q\\\"x\\\\\"").unwrap()["a"].1,
        "q\"x\\"
    );
    for (bad, line) in [
        ("ok = \"1\"\nstate postgres", 2),
        ("state = postgres://x", 1),
        ("\n\nstate = \"open", 3),
        ("state = \"a\" trailing", 1),
        ("state = \"a\"\nstate = \"b\"", 2),
    ] {
        assert_eq!(config::parse(bad).unwrap_err().0, line, "{bad:?}");
    }
}

#[test]
fn spec_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    let cli = StateSpec::resolve(Some("postgres://ops@db/t"), p).unwrap();
    assert_eq!(cli, StateSpec::Postgres("postgres://ops@db/t".into()));
    assert_eq!(
        StateSpec::resolve(Some("other.db"), p).unwrap(),
        StateSpec::Sqlite("other.db".into())
    );
    assert!(matches!(
        StateSpec::resolve(Some("mysql://x"), p),
        Err(StateError::InvalidSpec { .. })
    ));
    if std::env::var_os(STATE_ENV).is_some() {
        return; // the environment overrides what follows
    }
    assert_eq!(
        StateSpec::resolve(None, p).unwrap(),
        StateSpec::Sqlite(p.join(".tbuddy/state.db"))
    );
    std::fs::write(p.join(PROJECT_CONFIG), "state = \"var/state.db\"\n").unwrap();
    assert_eq!(
        StateSpec::resolve(None, p).unwrap(),
        StateSpec::Sqlite(p.join("var/state.db"))
    );
    std::fs::write(p.join(PROJECT_CONFIG), "# x\nstate = \"\"\n").unwrap();
    match StateSpec::resolve(None, p) {
        Err(e @ StateError::Config { line: 2, .. }) => {
            assert!(e.to_string().contains("tbuddy.toml:2:"), "{e}")
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    std::fs::write(p.join(PROJECT_CONFIG), "state = 'postgresql:///tbuddy'\n").unwrap();
    assert_eq!(
        StateSpec::resolve(None, p).unwrap(),
        StateSpec::Postgres("postgresql:///tbuddy".into())
    );
}
