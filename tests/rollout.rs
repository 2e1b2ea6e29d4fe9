//! `apply --rollback-on-failure` on the local connection: a rollout in
//! `serial` batches whose health gate fails on one host of batch 2. Batch 1
//! stays applied, batch 2 is rolled back exactly, batch 3 never runs, and
//! the rollback is a run of its own in the state store.

mod common;

use common::run;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const HOSTS: [&str; 5] = ["app1", "app2", "app3", "app4", "app5"];

const PLAYBOOK: &str = r#"
- hosts: app
  gather_facts: no
  serial: [1, "50%", "100%"]
  tasks:
    - name: configuration for the new backend
      copy:
        dest: "{{ root }}/app.env"
        content: "DB_TYPE=postgresql\nDATABASE_URL=postgresql://app@db/{{ inventory_hostname }}\n"
        mode: "0600"
      notify: restart app
    - name: release directory
      file: {path: "{{ root }}/releases/2", state: directory, mode: "0755"}
    - name: release marker
      copy: {dest: "{{ root }}/releases/2/VERSION", content: "2\n"}
    - name: the old marker goes
      file: {path: "{{ root }}/legacy.flag", state: absent}
    - meta: flush_handlers
    - name: health gate
      command: grep -q healthy {{ root }}/health
      changed_when: false
  handlers:
    - name: restart app
      copy: {dest: "{{ root }}/restarted", content: "restarted\n"}
"#;

/// One host directory per inventory host, seeded with the old state; app3
/// reports unhealthy.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = String::from("all:\n  children:\n    app:\n      hosts:\n");
    for h in HOSTS {
        let root = dir.path().join("hosts").join(h);
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("app.env"), "DB_TYPE=sqlite\n").unwrap();
        fs::set_permissions(root.join("app.env"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(root.join("legacy.flag"), "old\n").unwrap();
        fs::set_permissions(root.join("legacy.flag"), fs::Permissions::from_mode(0o640)).unwrap();
        let health = if h == "app3" {
            "failing\n"
        } else {
            "healthy\n"
        };
        fs::write(root.join("health"), health).unwrap();
        inv.push_str(&format!(
            "        {h}:\n          ansible_connection: local\n          root: {}\n",
            root.display()
        ));
    }
    fs::create_dir_all(dir.path().join("inventory")).unwrap();
    fs::write(dir.path().join("inventory/fleet.yml"), inv).unwrap();
    fs::write(dir.path().join("rollout.yml"), PLAYBOOK).unwrap();
    dir
}

/// Every path below a host directory: kind, mode and content.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let md = fs::symlink_metadata(&p).unwrap();
            let mode = md.permissions().mode() & 0o7777;
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if md.is_dir() {
                out.insert(rel, format!("dir {mode:04o}"));
                stack.push(p);
            } else {
                let content = fs::read_to_string(&p).unwrap();
                out.insert(rel, format!("file {mode:04o} {content:?}"));
            }
        }
    }
    out
}

fn runs(dir: &Path) -> Vec<serde_json::Value> {
    let (code, text) = run(dir, &["runs", "--json"]);
    assert_eq!(code, 0, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_failed_batch_is_rolled_back_and_the_rollout_stops() {
    let dir = project();
    let host = |h: &str| dir.path().join("hosts").join(h);
    let before: BTreeMap<&str, _> = HOSTS.iter().map(|h| (*h, snapshot(&host(h)))).collect();

    let (code, text) = run(
        dir.path(),
        &[
            "apply",
            "rollout.yml",
            "-i",
            "fleet",
            "-y",
            "--rollback-on-failure",
        ],
    );
    assert_eq!(code, 2, "a failed batch exits 2:\n{text}");

    // Batch 1 stays applied.
    let app1 = fs::read_to_string(host("app1").join("app.env")).unwrap();
    assert!(app1.contains("DB_TYPE=postgresql"), "{text}");
    assert!(host("app1").join("releases/2/VERSION").exists());
    assert!(host("app1").join("restarted").exists());
    assert!(!host("app1").join("legacy.flag").exists());

    // Batch 2 (app2 healthy, app3 not) is back as it was: content, mode,
    // files and directories the run created are gone, the removed one is back.
    for h in ["app2", "app3"] {
        assert_eq!(snapshot(&host(h)), before[h], "{h} restored:\n{text}");
    }
    // Batch 3 never ran.
    for h in ["app4", "app5"] {
        assert_eq!(snapshot(&host(h)), before[h], "{h} untouched:\n{text}");
    }
    assert!(!text.contains("[app4]"), "batch 3 never started:\n{text}");

    assert!(text.contains("stopping the rollout: batch 2"), "{text}");
    assert!(
        text.contains("ROLLBACK RECAP (batch 2: app2, app3)"),
        "{text}"
    );
    assert!(text.contains("Rolled back: app2, app3"), "{text}");

    // The state store has the apply and its rollback, linked.
    let all = runs(dir.path());
    assert_eq!(all.len(), 2, "{all:?}");
    let (rollback, apply) = (&all[0], &all[1]);
    let apply_id = apply["id"].clone();
    assert_eq!(rollback["kind"]["type"], "rollback", "{all:?}");
    assert_eq!(rollback["kind"]["of"], apply_id, "{all:?}");
    assert_eq!(rollback["status"], "ok", "{all:?}");
    assert_eq!(rollback["hosts"], 2, "{all:?}");
    assert_eq!(apply["status"], "failed", "{all:?}");

    // The rollback was of batch 2 only: a later manual rollback of the whole
    // run has only app1's changes left to undo.
    let id = apply_id.to_string();
    let (code, plan) = run(dir.path(), &["rollback", &id, "--plan"]);
    assert_eq!(code, 5, "changes pending (app1's):\n{plan}");
    assert!(plan.contains("app1:"), "{plan}");
    assert!(plan.contains("Rollback: 5 change(s)"), "{plan}");
}

#[test]
fn without_serial_the_whole_play_is_one_batch() {
    let dir = project();
    let host = |h: &str| dir.path().join("hosts").join(h);
    let before: BTreeMap<&str, _> = HOSTS.iter().map(|h| (*h, snapshot(&host(h)))).collect();
    let unbatched = PLAYBOOK.replace("  serial: [1, \"50%\", \"100%\"]\n", "");
    fs::write(dir.path().join("rollout.yml"), unbatched).unwrap();

    let (code, text) = run(
        dir.path(),
        &[
            "apply",
            "rollout.yml",
            "-i",
            "fleet",
            "-y",
            "--rollback-on-failure",
        ],
    );
    assert_eq!(code, 2, "{text}");
    for h in HOSTS {
        assert_eq!(snapshot(&host(h)), before[h], "{h} restored:\n{text}");
    }
    assert!(text.contains("batch 1"), "{text}");
}

#[test]
fn drift_refuses_the_batch_rollback_unless_forced() {
    // A later task edits the file behind the recorded copy's back (and says
    // it changed nothing): the rollback sees drift.
    let drifting = PLAYBOOK.replace(
        "    - meta: flush_handlers\n",
        "    - name: edited behind the journal's back\n      shell: echo EDITED >> {{ root }}/app.env\n      changed_when: false\n    - meta: flush_handlers\n",
    );
    for (force, restored) in [(false, false), (true, true)] {
        let dir = project();
        let host = |h: &str| dir.path().join("hosts").join(h);
        let before = snapshot(&host("app2"));
        fs::write(dir.path().join("rollout.yml"), &drifting).unwrap();
        let mut args = vec![
            "apply",
            "rollout.yml",
            "-i",
            "fleet",
            "-y",
            "--rollback-on-failure",
        ];
        if force {
            args.push("--force-rollback");
        }
        let (code, text) = run(dir.path(), &args);
        assert_eq!(code, 2, "{text}");
        assert_eq!(snapshot(&host("app2")) == before, restored, "{text}");
        let all = runs(dir.path());
        if force {
            assert_eq!(all.len(), 2, "{text}");
        } else {
            assert_eq!(all.len(), 1, "a refused rollback records no run:\n{text}");
            assert!(text.contains("changed since that run"), "{text}");
            assert!(
                text.contains("tbuddy-deploy rollback 1 -l app2,app3 --force"),
                "{text}"
            );
        }
    }
}

#[test]
fn by_hand_rollback_last_with_a_limit_undoes_only_those_hosts() {
    let dir = project();
    let host = |h: &str| dir.path().join("hosts").join(h);
    let before = snapshot(&host("app3"));
    // Without the flag the rollout goes on past app3's failure, as in Ansible.
    let (code, text) = run(dir.path(), &["apply", "rollout.yml", "-i", "fleet", "-y"]);
    assert_eq!(code, 2, "{text}");
    assert!(host("app5").join("restarted").exists(), "{text}");
    let (code, text) = run(
        dir.path(),
        &["rollback", "--last", "-i", "fleet", "-l", "app3", "-y"],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(snapshot(&host("app3")), before, "{text}");
    assert!(host("app2").join("restarted").exists(), "{text}");
    assert_eq!(runs(dir.path()).len(), 2);
}

#[test]
fn failures_within_max_fail_percentage_do_not_stop_the_rollout() {
    let dir = project();
    let host = |h: &str| dir.path().join("hosts").join(h);
    // Batch 2 is app2 and app3: one failure in two is 50%, not more.
    let tolerant = PLAYBOOK.replace(
        "  serial: [1, \"50%\", \"100%\"]\n",
        "  serial: [1, \"50%\", \"100%\"]\n  max_fail_percentage: 50\n",
    );
    fs::write(dir.path().join("rollout.yml"), tolerant).unwrap();
    let (code, text) = run(
        dir.path(),
        &[
            "apply",
            "rollout.yml",
            "-i",
            "fleet",
            "-y",
            "--rollback-on-failure",
        ],
    );
    assert_eq!(code, 2, "app3 still failed:\n{text}");
    assert!(!text.contains("ROLLBACK RECAP"), "{text}");
    for h in ["app2", "app5"] {
        assert!(host(h).join("restarted").exists(), "{h}:\n{text}");
    }
    assert_eq!(runs(dir.path()).len(), 1);
}
