//! Plan and apply on the local connection as a user runs them: a plan leaves
//! the filesystem untouched, apply converges, a second apply changes nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

mod common;
use common::{recap_hosts, run};

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: no
  vars:
    root: "{{ sandbox }}/srv"
    ports: [80, 443]
  tasks:
    - name: app directory
      file: path={{ root }}/etc state=directory mode=0750
    - name: config from template
      template:
        src: app.conf.j2
        dest: "{{ root }}/etc/app.conf"
        mode: "0640"
      notify: reload
    - name: env line
      lineinfile:
        path: "{{ root }}/etc/env"
        line: "DATABASE_URL=postgres://db/app"
        regexp: "^DATABASE_URL="
        create: yes
    - name: one file per port
      copy:
        content: "port {{ item }}\n"
        dest: "{{ root }}/etc/{{ item }}.port"
      loop: "{{ ports }}"
    - name: marker
      command: touch {{ root }}/marker
      args:
        creates: "{{ root }}/marker"
  handlers:
    - name: reload
      command: touch {{ root }}/reloaded
"#;

const TEMPLATE: &str = "# managed\n{% for p in ports %}listen {{ p }}\n{% endfor %}";

fn snapshot(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            let content = if meta.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                vec![]
            };
            out.insert(rel, (meta.permissions().mode() & 0o7777, content));
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn plan_is_read_only_apply_converges_and_reapply_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("sandbox");
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::create_dir(&sandbox).unwrap();
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    std::fs::write(dir.path().join("templates/app.conf.j2"), TEMPLATE).unwrap();
    let extra = format!("sandbox={}", sandbox.display());
    let before = snapshot(&sandbox);

    let (code, text) = run(dir.path(), &["plan", "site.yml", "-e", &extra, "--diff"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(snapshot(&sandbox), before, "plan changed the filesystem");
    assert!(
        text.contains("+listen 443"),
        "plan shows the rendered diff:\n{text}"
    );
    assert!(text.contains("Plan: 6 to change"), "{text}");

    let (code, text) = run(
        dir.path(),
        &["apply", "site.yml", "-e", &extra, "-y", "--json"],
    );
    assert_eq!(code, 0, "{text}");
    let r = recap_hosts(&text)["localhost"].clone();
    assert_eq!(
        (r["ok"].as_u64(), r["changed"].as_u64()),
        (Some(6), Some(6)),
        "{text}"
    );
    let after = snapshot(&sandbox);
    assert_eq!(after["srv/etc"].0, 0o750);
    assert_eq!(
        after["srv/etc/app.conf"],
        (0o640, b"# managed\nlisten 80\nlisten 443\n".to_vec())
    );
    assert_eq!(
        after["srv/etc/env"].1,
        b"DATABASE_URL=postgres://db/app\n".to_vec()
    );
    assert!(after.contains_key("srv/reloaded"), "the handler ran");

    let (code, text) = run(
        dir.path(),
        &["apply", "site.yml", "-e", &extra, "-y", "--json"],
    );
    assert_eq!(code, 0, "{text}");
    let r = recap_hosts(&text)["localhost"].clone();
    assert_eq!(
        r["changed"].as_u64(),
        Some(0),
        "second apply changed something:\n{text}"
    );
    let (code, text) = run(
        dir.path(),
        &["plan", "site.yml", "-e", &extra, "--detailed-exitcode"],
    );
    assert_eq!(code, 0, "converged plan has no changes:\n{text}");
    assert!(text.contains("No changes."), "{text}");
}

/// A command skipped by check mode is not retried by `until`: there is no
/// result to test, and a plan must not wait through the retries.
#[test]
fn until_does_not_retry_a_task_check_mode_skips() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - command: echo ready\n      register: r\n      until: r.stdout == 'ready'\n      retries: 5\n      delay: 2\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tbuddy-deploy"))
        .args(["plan", "site.yml", "--json"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let result = text
        .lines()
        .find(|l| l.contains("\"event\":\"host_result\""))
        .unwrap_or_else(|| panic!("no task result: {text}"));
    assert!(result.contains("\"status\":\"skipped\""), "{result}");
    assert!(!result.contains("\"attempts\""), "it was retried: {result}");
}

/// A plan that fails on a host says it is incomplete, never that the hosts
/// match the playbook.
#[test]
fn a_failed_plan_does_not_claim_there_is_nothing_to_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: broken\n      \
         stat: {path: /}\n      failed_when: true\n",
    )
    .unwrap();
    let (code, text) = run(dir.path(), &["plan", "site.yml"]);
    assert_eq!(code, 2, "{text}");
    assert!(!text.contains("No changes"), "{text}");
    assert!(
        text.contains("The plan is incomplete: it failed on localhost"),
        "{text}"
    );
}
