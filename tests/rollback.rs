//! Recorded runs and rollback, end to end through the binary on the local
//! connection: byte-for-byte restores, drift refusal, a run killed with
//! SIGKILL, pending handlers, and the run lock. Every scenario runs against
//! both state backends: SQLite (the default) and a throwaway PostgreSQL
//! cluster (marked ignored: `tests/run-all.sh` runs it).

#[path = "../src/testsupport/pg.rs"]
mod pg;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tbuddy-deploy");

/// A project directory with a sandbox the playbooks write into.
struct Project {
    dir: tempfile::TempDir,
    /// `--state URL` for PostgreSQL; SQLite uses the default location.
    state: Option<String>,
    /// Options for commands that reach hosts (`-i`, `-b`): the built-in
    /// local inventory when empty.
    target: Vec<String>,
}

impl Project {
    fn new(state: Option<String>) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("tbuddy-rollback-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(dir.path().join("sandbox")).unwrap();
        fs::create_dir_all(dir.path().join("templates")).unwrap();
        Project {
            dir,
            state,
            target: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn sandbox(&self) -> PathBuf {
        self.path().join("sandbox")
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("TBUDDY_STATE")
            .stdin(Stdio::null());
        // `plan` reads no state: it has no --state.
        if let Some(url) = self.state.as_ref().filter(|_| args[0] != "plan") {
            cmd.arg("--state").arg(url);
        }
        match args[0] {
            "apply" | "plan" => cmd.args(&self.target),
            // The inventory, for --last; become comes from the undo records.
            "rollback" => cmd.args(self.target.iter().filter(|a| *a != "-b")),
            _ => &mut cmd,
        };
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn apply(&self, playbook: &str, extra: &[&str]) -> Output {
        let sandbox = format!("sandbox={}", self.sandbox().display());
        let mut args = vec!["apply", playbook, "-y", "-e", &sandbox];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn runs(&self) -> Vec<Value> {
        let out = self.run(&["runs", "--json"]);
        assert!(out.status.success(), "runs failed: {}", text(&out));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("runs --json is a list")
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Everything below `root`: kind, mode, owner, and content or link target.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let md = fs::symlink_metadata(&p).unwrap();
            let who = format!("{}:{}", md.uid(), md.gid());
            let desc = if md.file_type().is_symlink() {
                format!("link -> {} {who}", fs::read_link(&p).unwrap().display())
            } else if md.is_dir() {
                format!("dir {:04o} {who}", md.permissions().mode() & 0o7777)
            } else {
                format!(
                    "file {:04o} {who} {:?}",
                    md.permissions().mode() & 0o7777,
                    String::from_utf8_lossy(&fs::read(&p).unwrap())
                )
            };
            out.insert(rel, desc);
            if md.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn is_root() -> bool {
    nix_uid() == 0
}

fn nix_uid() -> u32 {
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1)
}

/// Seeded files with modes (and, as root, owners) the run will change.
fn seed(p: &Project) {
    let s = p.sandbox();
    fs::create_dir_all(s.join("etc")).unwrap();
    fs::create_dir_all(s.join("bin")).unwrap();
    fs::write(s.join("etc/app.conf"), "port=8080\nmode=old\n").unwrap();
    fs::set_permissions(s.join("etc/app.conf"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(s.join("etc/hosts.txt"), "a\nb\n").unwrap();
    fs::write(s.join("bin/run.sh"), "#!/bin/sh\necho run\n").unwrap();
    fs::set_permissions(s.join("bin/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(s.join("old.txt"), "to be removed\n").unwrap();
    symlink("release-1", s.join("current")).unwrap();
    if is_root() {
        // nobody:nogroup on Debian
        std::os::unix::fs::chown(s.join("etc/app.conf"), Some(65534), Some(65534)).unwrap();
    }
}

const SITE: &str = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: Release directory (nested, new)
      file:
        path: "{{ sandbox }}/srv/app/releases/r2"
        state: directory
        mode: "0750"
    - name: Render the config over the seeded one
      template:
        src: app.conf.j2
        dest: "{{ sandbox }}/etc/app.conf"
        mode: "0600"
    - name: Edit the same file again
      lineinfile:
        path: "{{ sandbox }}/etc/app.conf"
        line: "extra=1"
    - name: Add a host line
      lineinfile:
        path: "{{ sandbox }}/etc/hosts.txt"
        line: c
    - name: A new file inside the new directory
      copy:
        content: "2.0\n"
        dest: "{{ sandbox }}/srv/app/releases/r2/VERSION"
    - name: Relink current
      file:
        path: "{{ sandbox }}/current"
        src: release-2
        state: link
    - name: Tighten the script
      file:
        path: "{{ sandbox }}/bin/run.sh"
        mode: "0700"
    - name: Remove a seeded file
      file:
        path: "{{ sandbox }}/old.txt"
        state: absent
"#;

fn setup_site(p: &Project) {
    p.write("site.yml", SITE);
    p.write("templates/app.conf.j2", "port={{ 9000 + 1 }}\nmode=new\n");
    seed(p);
}

// ---- scenarios, each run against both backends ---------------------------

fn rollback_restores_everything(p: &Project) {
    setup_site(p);
    let before = snapshot(&p.sandbox());
    let out = p.apply("site.yml", &[]);
    assert!(out.status.success(), "apply: {}", text(&out));
    let applied = snapshot(&p.sandbox());
    assert_ne!(before, applied, "the apply changed nothing");
    assert!(applied.contains_key("srv/app/releases/r2/VERSION"));

    let out = p.run(&["rollback", "--last", "-y"]);
    assert!(out.status.success(), "rollback: {}", text(&out));
    assert_eq!(
        snapshot(&p.sandbox()),
        before,
        "the rollback did not restore the sandbox\n{}",
        text(&out)
    );

    let runs = p.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["kind"]["type"], "rollback", "{runs:?}");
    assert_eq!(runs[0]["kind"]["of"], runs[1]["id"]);
    assert_eq!(runs[0]["status"], "ok");

    // A second rollback of the same run finds nothing to do.
    let first = runs[1]["id"].as_i64().unwrap().to_string();
    let out = p.run(&["rollback", &first, "-y"]);
    assert!(out.status.success(), "second rollback: {}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Nothing to roll back"),
        "{}",
        text(&out)
    );
    assert_eq!(snapshot(&p.sandbox()), before);
    assert_eq!(p.runs().len(), 2, "a no-op rollback records no run");

    let out = p.run(&["show", &first]);
    assert!(out.status.success(), "show: {}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("Render the config over the seeded one"),
        "{shown}"
    );
    assert!(shown.contains("rolled back by run"), "{shown}");
}

fn rollback_refuses_drift(p: &Project) {
    setup_site(p);
    let before = snapshot(&p.sandbox());
    let out = p.apply("site.yml", &[]);
    assert!(out.status.success(), "apply: {}", text(&out));
    fs::write(
        p.sandbox().join("etc/app.conf"),
        "port=9001\nmode=edited by hand\nextra=1\n",
    )
    .unwrap();
    let drifted = snapshot(&p.sandbox());
    let out = p.run(&["rollback", "--last", "-y"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("etc/app.conf"), "{err}");
    assert!(err.contains("content differs"), "{err}");
    assert!(
        err.contains("+mode=edited by hand"),
        "the drift diff is shown: {err}"
    );
    assert_eq!(
        snapshot(&p.sandbox()),
        drifted,
        "a refused rollback changed something"
    );

    let out = p.run(&["rollback", "--last", "-y", "--force"]);
    assert!(out.status.success(), "forced rollback: {}", text(&out));
    assert_eq!(snapshot(&p.sandbox()), before);
}

const SLOW: &str = r#"
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Render the config
      template:
        src: app.conf.j2
        dest: "{{ sandbox }}/etc/app.conf"
      notify: restart app
    - name: Long step
      command: sleep 60
      when: not (fast | default(false) | bool)
  handlers:
    - name: restart app
      copy:
        content: "restarted\n"
        dest: "{{ sandbox }}/restarted"
"#;

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_apply(p: &Project, playbook: &str) -> Child {
    let sandbox = format!("sandbox={}", p.sandbox().display());
    p.command(&["apply", playbook, "-y", "-e", &sandbox])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn killed_run_is_interrupted_rolled_back_and_its_handler_runs_next(p: &Project) {
    p.write("slow.yml", SLOW);
    p.write("templates/app.conf.j2", "port=9001\n");
    seed(p);
    let before = snapshot(&p.sandbox());
    let conf = p.sandbox().join("etc/app.conf");
    let mut child = spawn_apply(p, "slow.yml");
    wait_for("the config to be written", Duration::from_secs(30), || {
        fs::read_to_string(&conf).is_ok_and(|c| c == "port=9001\n")
    });
    // The change is confirmed in the journal right after it is made.
    std::thread::sleep(Duration::from_millis(500));
    nix_kill9(&child);
    let _ = child.wait();

    let runs = p.runs();
    assert_eq!(runs[0]["status"], "interrupted", "{runs:?}");
    assert!(runs[0]["changed"].as_u64().unwrap() >= 1, "{runs:?}");
    let id = runs[0]["id"].as_i64().unwrap().to_string();

    // The command it was running has no undo: refused unless forced.
    let out = p.run(&["rollback", &id, "-y"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be undone"),
        "{}",
        text(&out)
    );
    let out = p.run(&["rollback", &id, "-y", "--force"]);
    assert!(out.status.success(), "rollback: {}", text(&out));
    assert_eq!(snapshot(&p.sandbox()), before);

    // The handler the killed run notified still runs on the next apply.
    let sandbox = format!("sandbox={}", p.sandbox().display());
    let out = p.run(&["apply", "slow.yml", "-y", "-e", &sandbox, "-e", "fast=true"]);
    assert!(out.status.success(), "next apply: {}", text(&out));
    assert_eq!(
        fs::read_to_string(p.sandbox().join("restarted")).unwrap(),
        "restarted\n"
    );
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(all.contains(&format!("notified by run {id}")), "{all}");

    // Once it ran, it is no longer pending.
    fs::remove_file(p.sandbox().join("restarted")).unwrap();
    let out = p.run(&["apply", "slow.yml", "-y", "-e", &sandbox, "-e", "fast=true"]);
    assert!(out.status.success(), "third apply: {}", text(&out));
    assert!(!p.sandbox().join("restarted").exists(), "{}", text(&out));
}

fn second_apply_fails_fast_naming_the_first(p: &Project) {
    p.write("slow.yml", SLOW);
    p.write("templates/app.conf.j2", "port=9001\n");
    seed(p);
    let mut first = spawn_apply(p, "slow.yml");
    let conf = p.sandbox().join("etc/app.conf");
    wait_for("the first apply to start", Duration::from_secs(30), || {
        fs::read_to_string(&conf).is_ok_and(|c| c == "port=9001\n")
    });
    let start = Instant::now();
    let out = p.apply("slow.yml", &["-e", "fast=true"]);
    let took = start.elapsed();
    nix_kill9(&first);
    let _ = first.wait();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds the lock"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(
        took < Duration::from_secs(20),
        "waited {took:?} instead of failing fast"
    );

    // The lock died with the killed process: the next apply goes ahead.
    let out = p.apply("slow.yml", &["-e", "fast=true"]);
    assert!(out.status.success(), "apply after the kill: {}", text(&out));
}

fn nix_kill9(child: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
}

fn saved_plan_applies_exactly_or_refuses(p: &Project) {
    setup_site(p);
    p.write(
        "templates/app.conf.j2",
        "port={{ 9000 + 1 }}\npassword={{ db_password }}\n",
    );
    let sandbox = format!("sandbox={}", p.sandbox().display());
    let plan = |out: &str| {
        p.run(&[
            "plan",
            "site.yml",
            "-e",
            &sandbox,
            "-e",
            "db_password=hunter2",
            "--out",
            out,
        ])
    };
    let out = plan("plan.json");
    assert!(out.status.success(), "plan --out: {}", text(&out));
    let saved = fs::read_to_string(p.path().join("plan.json")).unwrap();
    assert!(
        !saved.contains("hunter2"),
        "a secret is in the plan file:\n{saved}"
    );
    let md = fs::metadata(p.path().join("plan.json")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);

    // A host file the plan looked at changes: refused, naming it.
    let before = snapshot(&p.sandbox());
    fs::write(p.sandbox().join("etc/hosts.txt"), "a\nb\nzzz\n").unwrap();
    let edited = snapshot(&p.sandbox());
    let out = p.run(&[
        "apply",
        "plan.json",
        "-e",
        &sandbox,
        "-e",
        "db_password=hunter2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("etc/hosts.txt"), "{err}");
    assert_eq!(
        snapshot(&p.sandbox()),
        edited,
        "a refused plan changed something"
    );
    fs::write(p.sandbox().join("etc/hosts.txt"), "a\nb\n").unwrap();
    assert_eq!(snapshot(&p.sandbox()), before);

    // An input file changes: refused, naming it.
    let out = plan("plan2.json");
    assert!(out.status.success(), "{}", text(&out));
    p.write("templates/app.conf.j2", "port=1\n");
    let out = p.run(&[
        "apply",
        "plan2.json",
        "-e",
        &sandbox,
        "-e",
        "db_password=hunter2",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("templates/app.conf.j2: changed"),
        "{}",
        text(&out)
    );
    p.write(
        "templates/app.conf.j2",
        "port={{ 9000 + 1 }}\npassword={{ db_password }}\n",
    );

    // Secret extra vars are not in the file: they must be given again.
    let out = p.run(&["apply", "plan2.json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass the same -e"));
    let out = p.run(&[
        "apply",
        "plan2.json",
        "-e",
        &sandbox,
        "-e",
        "db_password=other",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(snapshot(&p.sandbox()), before);

    // Unchanged: applied, exactly the planned steps.
    let out = p.run(&[
        "apply",
        "plan2.json",
        "-e",
        &sandbox,
        "-e",
        "db_password=hunter2",
    ]);
    assert!(out.status.success(), "apply plan2.json: {}", text(&out));
    assert_eq!(
        fs::read_to_string(p.sandbox().join("etc/app.conf")).unwrap(),
        "port=9001\npassword=hunter2\nextra=1\n"
    );
    assert!(p.sandbox().join("srv/app/releases/r2/VERSION").is_file());
}

/// A command that reports no change is no reason to refuse a rollback.
#[test]
fn unchanged_commands_do_not_block_a_rollback() {
    let p = Project::new(None);
    seed(&p);
    p.write(
        "probe.yml",
        r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: Look, do not touch
      command: "cat {{ sandbox }}/etc/hosts.txt"
      changed_when: false
    - name: A real change
      copy:
        content: "new\n"
        dest: "{{ sandbox }}/etc/hosts.txt"
"#,
    );
    let before = snapshot(&p.sandbox());
    let out = p.apply("probe.yml", &[]);
    assert!(out.status.success(), "apply: {}", text(&out));
    let out = p.run(&["rollback", "--last", "-y"]);
    assert!(out.status.success(), "rollback: {}", text(&out));
    assert_eq!(snapshot(&p.sandbox()), before);
}

// ---- SQLite -----------------------------------------------------------------

#[test]
fn sqlite_saved_plan() {
    saved_plan_applies_exactly_or_refuses(&Project::new(None));
}

#[test]
fn sqlite_rollback_restores_everything() {
    rollback_restores_everything(&Project::new(None));
}

#[test]
fn sqlite_rollback_refuses_drift() {
    rollback_refuses_drift(&Project::new(None));
}

#[test]
fn sqlite_killed_run() {
    killed_run_is_interrupted_rolled_back_and_its_handler_runs_next(&Project::new(None));
}

#[test]
fn sqlite_run_lock() {
    second_apply_fails_fast_naming_the_first(&Project::new(None));
}

#[test]
fn sqlite_state_file_is_private() {
    let p = Project::new(None);
    setup_site(&p);
    let out = p.apply("site.yml", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let md = fs::metadata(p.path().join(".tbuddy/state.db")).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
}

// ---- over SSH ---------------------------------------------------------------

/// A project whose inventory is the loopback sshd test host (which shares
/// /tmp, so the sandbox is checked from here), logging in as `user`.
fn ssh_project(test: &str, user: &str, become_: bool) -> Option<Project> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(host), Some(port), Some(key), Some(known)) = (
        get("TBUDDY_SSH_TEST_HOST"),
        get("TBUDDY_SSH_TEST_PORT"),
        get("TBUDDY_SSH_TEST_KEY"),
        get("TBUDDY_SSH_TEST_KNOWN_HOSTS"),
    ) else {
        pg::not_run(
            test,
            "TBUDDY_SSH_TEST_* not set (tests/run-all.sh starts sshd test hosts)",
        );
        return None;
    };
    let mut p = Project::new(None);
    p.write(
        "ssh.yml",
        &format!(
            "all:\n  hosts:\n    target:\n      ansible_host: {host}\n      ansible_port: {port}\n      \
             ansible_user: {user}\n      ansible_ssh_private_key_file: {key}\n      \
             ansible_ssh_common_args: '-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes'\n"
        ),
    );
    p.target = vec!["-i".into(), "ssh.yml".into()];
    if become_ {
        p.target.push("-b".into());
    }
    Some(p)
}

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn ssh_rollback_restores_everything_as_root() {
    if let Some(p) = ssh_project("ssh_rollback_restores_everything_as_root", "root", false) {
        rollback_restores_everything(&p);
    }
}

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn ssh_rollback_restores_everything_with_become() {
    let user = std::env::var("TBUDDY_SSH_TEST_SUDO_USER").unwrap_or_else(|_| "tbuddy".into());
    if let Some(p) = ssh_project("ssh_rollback_restores_everything_with_become", &user, true) {
        rollback_restores_everything(&p);
    }
}

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn ssh_rollback_refuses_drift() {
    if let Some(p) = ssh_project("ssh_rollback_refuses_drift", "root", false) {
        rollback_refuses_drift(&p);
    }
}

// ---- PostgreSQL -------------------------------------------------------------

fn with_pg(test: &str, scenario: fn(&Project)) {
    let Some(cluster) = pg::PgCluster::start(test) else {
        return;
    };
    let url = cluster.create_database("tbuddy_state");
    scenario(&Project::new(Some(url)));
}

#[test]
#[ignore = "needs PostgreSQL 15: run tests/run-all.sh"]
fn postgres_rollback_restores_everything() {
    with_pg(
        "postgres_rollback_restores_everything",
        rollback_restores_everything,
    );
}

#[test]
#[ignore = "needs PostgreSQL 15: run tests/run-all.sh"]
fn postgres_rollback_refuses_drift() {
    with_pg("postgres_rollback_refuses_drift", rollback_refuses_drift);
}

#[test]
#[ignore = "needs PostgreSQL 15: run tests/run-all.sh"]
fn postgres_killed_run() {
    with_pg(
        "postgres_killed_run",
        killed_run_is_interrupted_rolled_back_and_its_handler_runs_next,
    );
}

#[test]
#[ignore = "needs PostgreSQL 15: run tests/run-all.sh"]
fn postgres_saved_plan() {
    with_pg("postgres_saved_plan", saved_plan_applies_exactly_or_refuses);
}

#[test]
#[ignore = "needs PostgreSQL 15: run tests/run-all.sh"]
fn postgres_run_lock() {
    with_pg(
        "postgres_run_lock",
        second_apply_fails_fast_naming_the_first,
    );
}

/// `rollback --last` twice undoes the two newest applies in turn: a run
/// already rolled back is not "the last run" any more.
#[test]
fn rollback_last_steps_back_through_the_runs() {
    let p = Project::new(None);
    let play = |name: &str| {
        format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - copy: {{content: \"x\\n\", dest: \"{{{{ sandbox }}}}/{name}\"}}\n"
        )
    };
    p.write("a.yml", &play("a"));
    p.write("b.yml", &play("b"));
    for pb in ["a.yml", "b.yml"] {
        let out = p.apply(pb, &[]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = p.run(&["rollback", "--last", "-y"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(p.sandbox().join("a").exists() && !p.sandbox().join("b").exists());
    let out = p.run(&["rollback", "--last", "-y"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!p.sandbox().join("a").exists(), "{}", text(&out));
}
