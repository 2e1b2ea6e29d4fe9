//! Bad input: a clear message with file:line:col, a non-zero exit, and no change on the host.

use std::path::Path;
use std::process::Command;

struct Case {
    name: &'static str,
    playbook: &'static str,
    /// Expected exit code.
    code: i32,
    /// Substrings the error output must contain.
    expect: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "bad yaml",
        playbook: "- hosts: all\n  tasks:\n    - name: x\n      debug: msg=1\n     bad: indent\n",
        code: 4,
        expect: &["site.yml:5:"],
    },
    Case {
        name: "unknown module",
        playbook: "- hosts: all\n  tasks:\n    - name: t\n      copyy: {dest: /x, content: a}\n",
        code: 4,
        expect: &[
            "site.yml:4:7",
            "unknown module `copyy`",
            "did you mean `copy`?",
        ],
    },
    Case {
        name: "unknown argument",
        playbook: "- hosts: all\n  tasks:\n    - file:\n        path: \"{{ sandbox }}/f\"\n        stat: touch\n",
        code: 4,
        expect: &[
            "site.yml:5:9",
            "module `file` has no argument `stat`",
            "did you mean `state`?",
        ],
    },
    Case {
        name: "unsupported keyword",
        playbook: "- hosts: all\n  tasks:\n    - command: sleep 1\n      async: 10\n",
        code: 4,
        expect: &["site.yml:4:7", "async"],
    },
    Case {
        name: "unquoted template",
        playbook: "- hosts: all\n  vars:\n    a: {{ b }}\n  tasks: []\n",
        code: 4,
        expect: &["site.yml:3:", "quote"],
    },
    Case {
        name: "undefined variable",
        playbook: "- hosts: all\n  gather_facts: no\n  tasks:\n    - name: write\n      copy:\n        dest: \"{{ sandbox }}/out\"\n        content: \"{{ not_defined_anywhere }}\"\n",
        code: 2,
        expect: &["not_defined_anywhere", "site.yml:4:7"],
    },
    Case {
        name: "missing template",
        playbook: "- hosts: all\n  gather_facts: no\n  tasks:\n    - name: render\n      template:\n        src: nope.j2\n        dest: \"{{ sandbox }}/out\"\n",
        code: 2,
        expect: &["nope.j2", "site.yml:4:7"],
    },
];

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tbuddy-deploy"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bad_input_is_refused_with_a_position_and_changes_nothing() {
    let mut failures = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("sandbox");
        std::fs::create_dir(&sandbox).unwrap();
        std::fs::write(dir.path().join("site.yml"), case.playbook).unwrap();
        let extra = format!("sandbox={}", sandbox.display());
        for cmd in ["plan", "apply"] {
            let mut args = vec![cmd, "site.yml", "-e", &extra];
            if cmd == "apply" {
                args.push("-y");
            }
            let (code, text) = run(dir.path(), &args);
            if code != case.code {
                failures.push(format!(
                    "{} ({cmd}): exit {code}, want {}\n{text}",
                    case.name, case.code
                ));
            }
            for want in case.expect {
                if !text.contains(want) {
                    failures.push(format!(
                        "{} ({cmd}): output lacks {want:?}\n{text}",
                        case.name
                    ));
                }
            }
            let left: Vec<_> = std::fs::read_dir(&sandbox).unwrap().collect();
            if !left.is_empty() {
                failures.push(format!("{} ({cmd}): the sandbox was changed", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn check_syntax_reports_ok_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ok.yml"),
        "- hosts: all\n  tasks:\n    - debug: msg=hi\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "- hosts: all\n  tasks:\n    - debugg: msg=hi\n",
    )
    .unwrap();
    let (code, text) = run(dir.path(), &["check-syntax", "ok.yml"]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(dir.path(), &["check-syntax", "bad.yml"]);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("bad.yml:3:7"), "{text}");
}
