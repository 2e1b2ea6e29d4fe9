//! `git` end to end on the local connection against a repository made by the
//! test (file paths only: no network).

use std::path::Path;
use std::process::Command;

mod common;

use common::run;

fn sh(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn git_clones_updates_and_rolls_back_to_the_prior_commit() {
    if Command::new("git").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "git is not installed"
        );
        eprintln!("NOT RUN: git is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sh(
        d,
        "git init -q -b main src && cd src && echo one > app.txt && git add app.txt && git commit -qm one && git tag v1 \
         && echo two > app.txt && git commit -qam two && git tag -a v2 -m v2",
    );
    let v1 = sh(d, "git -C src rev-parse v1");
    let v2 = sh(d, "git -C src rev-parse v2^{commit}");
    let site = |version: &str| {
        format!(
            "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - git: {{repo: \"{}/src\", dest: \"{}/app\", version: {version}}}\n      register: g\n    - debug: var=g.after\n",
            d.display(),
            d.display()
        )
    };
    std::fs::write(d.join("v1.yml"), site("v1")).unwrap();
    std::fs::write(d.join("v2.yml"), site("v2")).unwrap();

    let (code, out) = run(d, &["plan", "v1.yml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("clone"), "{out}");
    assert!(!d.join("app").exists(), "plan cloned");

    let (code, out) = run(d, &["apply", "v1.yml", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sh(d, "git -C app rev-parse HEAD"), v1);
    assert_eq!(
        std::fs::read_to_string(d.join("app/app.txt")).unwrap(),
        "one\n"
    );
    let (code, out) = run(d, &["apply", "v1.yml", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("changed=0"), "{out}");

    let (code, out) = run(d, &["apply", "v2.yml", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        sh(d, "git -C app rev-parse HEAD"),
        v2,
        "an annotated tag means its commit"
    );

    // Undo the update: back at v1. Then undo the clone: gone.
    let (code, out) = run(d, &["rollback", "--last", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(sh(d, "git -C app rev-parse HEAD"), v1);
    let runs = run(d, &["runs", "--json"]).1;
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    let first = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"]["type"] == "apply")
        .map(|r| r["id"].as_i64().unwrap())
        .min()
        .unwrap();
    let (code, out) = run(d, &["rollback", &first.to_string(), "-y"]);
    assert_eq!(code, 0, "{out}");
    assert!(!d.join("app").exists(), "{out}");

    // Local changes are not thrown away without force.
    run(d, &["apply", "v1.yml", "-y"]);
    std::fs::write(d.join("app/app.txt"), "edited\n").unwrap();
    let (code, out) = run(d, &["apply", "v2.yml", "-y"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("Local modifications exist"), "{out}");
    assert_eq!(
        std::fs::read_to_string(d.join("app/app.txt")).unwrap(),
        "edited\n"
    );
}
