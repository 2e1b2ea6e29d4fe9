//! `apply --rollback-on-failure` over real SSH against the loopback sshd test
//! hosts (TBUDDY_TEST_SSH_INVENTORY, see tests/ssh_fleet.rs): batch 2 holds a
//! healthy host and one that cannot be reached, so it fails; the healthy one
//! is rolled back over SSH and batch 1 keeps the new version.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

mod common;
use common::run;

fn inventory() -> Option<PathBuf> {
    match std::env::var_os("TBUDDY_TEST_SSH_INVENTORY") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("TBUDDY_TEST_SSH_INVENTORY is not set (tests/run-all.sh sets it)")
        }
        None => {
            eprintln!("NOT RUN: set TBUDDY_TEST_SSH_INVENTORY (see tests/hosts/README.md)");
            None
        }
    }
}

/// The `sandbox` variable of `host` in the harness's inventory.
fn sandbox(inventory: &str, host: &str) -> PathBuf {
    let mut lines = inventory
        .lines()
        .skip_while(|l| l.trim() != format!("{host}:"));
    lines
        .find_map(|l| l.trim().strip_prefix("sandbox: ").map(PathBuf::from))
        .unwrap_or_else(|| panic!("no sandbox for {host} in:\n{inventory}"))
}

const PLAYBOOK: &str = r#"
- hosts: sshd:ghost
  gather_facts: no
  serial: [1, 2]
  tasks:
    - name: new configuration
      copy: {dest: "{{ sandbox }}/rollout/app.env", content: "DB_TYPE=postgresql\n", mode: "0600"}
    - name: health gate
      command: cat {{ sandbox }}/rollout/app.env
      changed_when: false
"#;

fn seed(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("app.env"), "DB_TYPE=sqlite\n").unwrap();
    fs::set_permissions(dir.join("app.env"), fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_batch_with_an_unreachable_host_is_rolled_back_over_ssh() {
    let Some(inv) = inventory() else { return };
    let text = fs::read_to_string(&inv).unwrap();
    let (one, two) = (
        sandbox(&text, "sshd1").join("rollout"),
        sandbox(&text, "sshd2").join("rollout"),
    );
    seed(&one);
    seed(&two);
    let dir = tempfile::tempdir().unwrap();
    let invdir = dir.path().join("inv");
    fs::create_dir(&invdir).unwrap();
    fs::copy(&inv, invdir.join("hosts.yml")).unwrap();
    fs::write(
        invdir.join("down.yml"),
        "all:\n  hosts:\n    ghost:\n      ansible_host: 127.0.100.250\n      ansible_port: 9\n      ansible_connection: ssh\n      ansible_user: root\n      sandbox: /nonexistent\n",
    )
    .unwrap();
    fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();

    let (code, out) = run(
        dir.path(),
        &[
            "apply",
            "-i",
            "inv",
            "site.yml",
            "-y",
            "--rollback-on-failure",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        fs::read_to_string(one.join("app.env")).unwrap(),
        "DB_TYPE=postgresql\n",
        "batch 1 stays:\n{out}"
    );
    assert_eq!(
        fs::read_to_string(two.join("app.env")).unwrap(),
        "DB_TYPE=sqlite\n",
        "{out}"
    );
    let mode = fs::metadata(two.join("app.env"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o644, "{out}");
    assert!(out.contains("Rolled back: sshd2"), "{out}");
    assert!(out.contains("Nothing to roll back on: ghost"), "{out}");
    let (_, runs) = run(dir.path(), &["runs"]);
    assert!(runs.contains("rollback of 1"), "{runs}");
    let _ = fs::remove_dir_all(&one);
    let _ = fs::remove_dir_all(&two);
}
