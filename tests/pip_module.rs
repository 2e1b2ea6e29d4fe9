//! `pip` end to end on the local connection: a virtualenv and wheels made by
//! the test, installed with `--no-index` (no network).

use std::path::Path;
use std::process::Command;

mod common;

use common::run;

/// A minimal pure-Python wheel of `tbuddy-probe` at `version`.
fn make_wheel(dir: &Path, version: &str) {
    let script = format!(
        r#"
import zipfile
v = "{version}"
name = "tbuddy_probe-%s-py3-none-any.whl" % v
di = "tbuddy_probe-%s.dist-info" % v
files = {{
    "tbuddy_probe/__init__.py": "VERSION = %r\n" % v,
    di + "/METADATA": "Metadata-Version: 2.1\nName: tbuddy-probe\nVersion: %s\n" % v,
    di + "/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}}
files[di + "/RECORD"] = "".join("%s,,\n" % f for f in list(files) + [di + "/RECORD"])
with zipfile.ZipFile(name, "w") as z:
    for f, text in files.items():
        z.writestr(f, text)
"#
    );
    let ok = Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "could not build a test wheel with python3");
}

fn installed(venv: &Path) -> String {
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", "import tbuddy_probe; print(tbuddy_probe.VERSION)"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn pip_installs_into_a_virtualenv_updates_and_rolls_back() {
    let venv_ok = Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !venv_ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3-venv is not installed (tests/hosts/install-deps.sh installs it)"
        );
        eprintln!("NOT RUN: python3 venv support is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("wheels")).unwrap();
    make_wheel(&d.join("wheels"), "1.0");
    make_wheel(&d.join("wheels"), "2.0");
    let venv = d.join("venv");
    let site = |version: &str| {
        format!(
            "- hosts: localhost\n  gather_facts: no\n  tasks:\n    - pip:\n        name: tbuddy-probe=={version}\n        virtualenv: \"{}\"\n        extra_args: \"--no-index --find-links {}\"\n",
            venv.display(),
            d.join("wheels").display()
        )
    };
    std::fs::write(d.join("v1.yml"), site("1.0")).unwrap();
    std::fs::write(d.join("v2.yml"), site("2.0")).unwrap();

    let (code, out) = run(d, &["plan", "v1.yml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("create virtualenv"), "{out}");
    assert!(!venv.exists(), "plan created the virtualenv");

    let (code, out) = run(d, &["apply", "v1.yml", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(installed(&venv), "1.0");
    let (code, out) = run(d, &["apply", "v1.yml", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("changed=0"), "{out}");

    let (code, out) = run(d, &["apply", "v2.yml", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(installed(&venv), "2.0");

    let (code, out) = run(d, &["rollback", "--last", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(installed(&venv), "1.0", "{out}");
    let (code, out) = run(d, &["rollback", "1", "-y"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !venv.exists(),
        "the virtualenv the first run made is gone: {out}"
    );
}
