//! System modules end to end through the binary: `user`/`group` over SSH on the
//! loopback sshd test hosts (private /etc and /home).

use std::path::{Path, PathBuf};

mod common;

use common::{recap_hosts, run};

// ---- user and group over SSH --------------------------------------------------

fn ssh_inventory(test: &str) -> Option<PathBuf> {
    match std::env::var_os("TBUDDY_TEST_SSH_INVENTORY") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "{test}: TBUDDY_TEST_SSH_INVENTORY is not set (tests/run-all.sh starts sshd test hosts)"
            )
        }
        _ => {
            eprintln!("NOT RUN: {test}: set TBUDDY_TEST_SSH_INVENTORY (see tests/hosts/README.md)");
            None
        }
    }
}

const HASH: &str = "$6$tbsalt$QWxvbmdGYWtlSGFzaEZvclRlc3RzT25seQ";

const USERS: &str = r#"
- hosts: sshd1
  gather_facts: no
  tasks:
    - group: {name: tbsvc, system: yes}
    - user:
        name: tbsvc
        system: yes
        group: tbsvc
        groups: [adm]
        home: /home/tbsvc
        shell: /bin/sh
        comment: service account
        password: "$6$tbsalt$QWxvbmdGYWtlSGFzaEZvclRlc3RzT25seQ"
      register: u
    - assert:
        that:
          - u.password == 'NOT_LOGGING_PASSWORD'
          - u.home == '/home/tbsvc'
"#;

/// Asserts whether the account, its group and its home exist on sshd1. Runs in
/// a directory of its own, so that its runs are not the project's last run.
fn probe(project: &Path, present: bool) {
    let dir = &project.join("probe");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(project.join("hosts.yml"), dir.join("hosts.yml")).unwrap();
    let want = if present { "0" } else { "2" };
    let home = if present { "true" } else { "false" };
    std::fs::write(
        dir.join("probe.yml"),
        format!(
            r#"
- hosts: sshd1
  gather_facts: no
  tasks:
    - shell: getent passwd tbsvc; echo rc=$?; getent group tbsvc; echo grc=$?; id -Gn tbsvc 2>/dev/null; test -d /home/tbsvc && echo home; true
      register: p
      changed_when: false
    - assert:
        that:
          - "'rc={want}' in p.stdout"
          - "'grc={want}' in p.stdout"
          - "('home' in p.stdout_lines) == {home}"
          - "{present} == ('adm' in p.stdout)"
        fail_msg: "{{{{ p.stdout }}}}"
"#,
            present = if present { "true" } else { "false" },
        ),
    )
    .unwrap();
    let (code, text) = run(dir, &["apply", "-i", "hosts.yml", "probe.yml", "-y"]);
    assert_eq!(code, 0, "probe (present={present}) failed:\n{text}");
}

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn user_and_group_apply_converge_plan_and_roll_back() {
    let test = "user_and_group_apply_converge_plan_and_roll_back";
    let Some(inv) = ssh_inventory(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(&inv, d.join("hosts.yml")).unwrap();
    std::fs::write(d.join("site.yml"), USERS).unwrap();
    // The hash is in the playbook, not in `-e` (extra vars are recorded with the run).
    assert!(USERS.contains(HASH));
    // Leftovers of an interrupted earlier run, removed by the modules themselves.
    let clean = d.join("probe");
    std::fs::create_dir_all(&clean).unwrap();
    std::fs::copy(&inv, clean.join("hosts.yml")).unwrap();
    std::fs::write(
        clean.join("clean.yml"),
        "- hosts: sshd1\n  gather_facts: no\n  tasks:\n    - user: {name: tbsvc, state: absent, remove: yes}\n    - group: {name: tbsvc, state: absent}\n",
    )
    .unwrap();
    let (code, text) = run(&clean, &["apply", "-i", "hosts.yml", "clean.yml", "-y"]);
    assert_eq!(code, 0, "clean:\n{text}");
    probe(d, false);

    let (code, text) = run(d, &["plan", "-i", "hosts.yml", "site.yml"]);
    assert_eq!(code, 0, "plan:\n{text}");
    assert!(text.contains("create system user tbsvc"), "{text}");
    assert!(!text.contains(HASH), "the hash shows in the plan:\n{text}");
    probe(d, false);

    let (code, text) = run(d, &["apply", "-i", "hosts.yml", "site.yml", "-y", "--json"]);
    assert_eq!(code, 0, "apply:\n{text}");
    assert_eq!(recap_hosts(&text)["sshd1"]["changed"], 2, "{text}");
    assert!(
        !text.contains(HASH),
        "the hash shows in the output:\n{text}"
    );
    probe(d, true);

    let (code, text) = run(d, &["apply", "-i", "hosts.yml", "site.yml", "-y", "--json"]);
    assert_eq!(code, 0, "second apply:\n{text}");
    assert_eq!(
        recap_hosts(&text)["sshd1"]["changed"],
        0,
        "not idempotent:\n{text}"
    );

    let (code, text) = run(d, &["rollback", "--last", "-y", "-i", "hosts.yml"]);
    assert_eq!(code, 0, "rollback:\n{text}");
    assert!(text.contains("remove user tbsvc"), "{text}");
    probe(d, false);

    let db = std::fs::read(d.join(".tbuddy/state.db")).expect("state db");
    assert!(
        !db.windows(HASH.len()).any(|w| w == HASH.as_bytes()),
        "the password hash is in the state db"
    );
    // The hash's distinctive tail, in case it was stored in pieces.
    assert!(
        !db.windows(20)
            .any(|w| w == &HASH.as_bytes()[HASH.len() - 20..])
    );
}
