//! Fleet runs over real SSH against the loopback sshd test hosts that
//! tests/run-all.sh starts (tests/hosts/sshd-up.sh). The inventory path comes
//! from TBUDDY_TEST_SSH_INVENTORY; without it these tests fail under CI=true
//! and are reported as not run otherwise.

use std::path::{Path, PathBuf};

mod common;
use common::{recap_hosts, run};

fn inventory() -> Option<PathBuf> {
    match std::env::var_os("TBUDDY_TEST_SSH_INVENTORY") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "TBUDDY_TEST_SSH_INVENTORY is not set: start tests/hosts/sshd-up.sh (tests/run-all.sh does)"
            )
        }
        None => {
            eprintln!("NOT RUN: set TBUDDY_TEST_SSH_INVENTORY (see tests/hosts/README.md)");
            None
        }
    }
}

/// The test inventory plus an unreachable host, written next to a playbook.
fn workdir(inv: &Path, playbook: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(inv, dir.path().join("hosts.yml")).unwrap();
    std::fs::write(
        dir.path().join("down.yml"),
        "all:\n  hosts:\n    ghost:\n      ansible_host: 127.0.100.250\n      ansible_port: 9\n      ansible_connection: ssh\n      ansible_user: root\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("site.yml"), playbook).unwrap();
    dir
}

#[test]
fn unreachable_and_failing_hosts_are_reported_and_others_finish() {
    let Some(inv) = inventory() else { return };
    let dir = workdir(
        &inv,
        r#"
- hosts: all
  gather_facts: no
  tasks:
    - name: marker
      copy: {dest: "/tmp/tbuddy-ssh-test-{{ inventory_hostname }}", content: "hi\n"}
    - name: fails on the first host only
      fail: {msg: "boom"}
      when: inventory_hostname == groups['sshd'][0]
    - name: the others carry on
      command: rm -f /tmp/tbuddy-ssh-test-{{ inventory_hostname }}
"#,
    );
    // Both inventories at once: -i may repeat in Ansible; here a directory does the merge.
    let invdir = dir.path().join("inv");
    std::fs::create_dir(&invdir).unwrap();
    std::fs::rename(dir.path().join("hosts.yml"), invdir.join("hosts.yml")).unwrap();
    std::fs::rename(dir.path().join("down.yml"), invdir.join("down.yml")).unwrap();
    let (code, text) = run(
        dir.path(),
        &["apply", "-i", "inv", "site.yml", "-y", "--json"],
    );
    assert_eq!(
        code, 2,
        "one failed and one unreachable host give exit 2:\n{text}"
    );
    let r = recap_hosts(&text);
    assert_eq!(r["ghost"]["unreachable"], 1, "{text}");
    assert_eq!(r["sshd1"]["failed"], 1, "{text}");
    assert_eq!(r["sshd2"]["failed"], 0, "{text}");
    assert_eq!(r["sshd2"]["changed"], 2, "{text}");
    assert!(
        text.contains("127.0.100.250"),
        "the ssh error names the address:\n{text}"
    );
}

#[test]
fn become_through_sudo_with_and_without_a_password() {
    let Some(inv) = inventory() else { return };
    let dir = workdir(
        &inv,
        r#"
- name: login user with passwordless sudo
  hosts: sshd
  gather_facts: no
  vars:
    ansible_user: "{{ tbuddy_user }}"
  tasks:
    - command: id -un
      register: plain
      changed_when: false
    - command: id -un
      become: yes
      register: rooted
      changed_when: false

- name: login user whose sudo asks for a password
  hosts: sshd
  gather_facts: no
  vars:
    ansible_user: "{{ tbuddy_pw_user }}"
    ansible_become_password: "{{ tbuddy_pw_password }}"
  tasks:
    - command: id -un
      become: yes
      register: pw
      changed_when: false
    - assert:
        that:
          - plain.stdout == tbuddy_user
          - rooted.stdout == 'root'
          - pw.stdout == 'root'
"#,
    );
    let (code, text) = run(dir.path(), &["apply", "-i", "hosts.yml", "site.yml", "-y"]);
    assert_eq!(code, 0, "{text}");
    let secret = std::fs::read_to_string(&inv)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("tbuddy_pw_password: "))
        .map(|s| s.trim_matches('\'').to_string())
        .unwrap_or_default();
    assert!(!secret.is_empty());
    assert!(
        !text.contains(&secret),
        "the sudo password leaked into the output"
    );
}
