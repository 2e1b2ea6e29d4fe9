//! Conformance corpus: runs every case in `tests/corpus/NN-name/` against the
//! `tbuddy-deploy` binary and compares the exit code, the per-host recap and
//! the resulting sandbox tree with the ground truth recorded with real
//! ansible-core by `tests/corpus/record.sh` (`expected.json` in each case).
//!
//! For every case the test makes a fresh sandbox (the case's `seed/` copied
//! in), copies the case directory to a temporary working directory and runs,
//! from there, against that same sandbox:
//!
//! * check:   `tbuddy-deploy plan  -i <inv> site.yml -e sandbox=<DIR> --json`
//! * apply:   `tbuddy-deploy apply -i <inv> site.yml -e sandbox=<DIR> --json -y`
//! * reapply: the same as apply.
//!
//! All mismatching cases are reported (the test does not stop at the first).
//!
//! Environment:
//! * `CORPUS_CASE=NN-name` (or a comma-separated list) runs only those cases.
//! * `CORPUS_JOBS=N` runs N cases in parallel (default: up to 4).

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tbuddy-deploy");
const STEPS: [&str; 3] = ["check", "apply", "reapply"];
const INVENTORY_NAMES: [&str; 4] = [
    "inventory.yml",
    "inventory.yaml",
    "inventory.ini",
    "inventory",
];
const RECAP_KEYS: [&str; 7] = [
    "ok",
    "changed",
    "unreachable",
    "failed",
    "skipped",
    "rescued",
    "ignored",
];
/// Set for every run, exactly as record.sh does (used by the env lookup case).
const FIXED_ENV: [(&str, &str); 1] = [("CORPUS_GREETING", "hello from the environment")];
const STEP_TIMEOUT: Duration = Duration::from_secs(180);

/// How the hosts of every case are reached. The cases' inventories say
/// `ansible_connection=local`; the SSH variants override that with extra vars
/// (the highest precedence), so every inventory host becomes a login to one
/// loopback sshd test host that shares /tmp (and so the sandbox) with this machine.
#[derive(Clone)]
enum Transport {
    Local,
    Ssh { vars: Value, become_: bool },
}

#[test]
fn corpus() {
    run_corpus(&Transport::Local);
}

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn corpus_over_ssh_as_root() {
    if let Some(vars) = ssh_vars("root") {
        run_corpus(&Transport::Ssh {
            vars,
            become_: false,
        });
    }
}

#[test]
#[ignore = "needs sshd test hosts: run tests/run-all.sh"]
fn corpus_over_ssh_as_unprivileged_user_with_become() {
    let user = std::env::var("TBUDDY_SSH_TEST_SUDO_USER").unwrap_or_else(|_| "tbuddy".into());
    if let Some(vars) = ssh_vars(&user) {
        run_corpus(&Transport::Ssh {
            vars,
            become_: true,
        });
    }
}

/// Connection variables for the sshd test host named by TBUDDY_SSH_TEST_*
/// (exported by tests/run-all.sh). Missing: a failure under CI, else not run.
fn ssh_vars(user: &str) -> Option<Value> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(host), Some(port), Some(key), Some(known)) = (
        get("TBUDDY_SSH_TEST_HOST"),
        get("TBUDDY_SSH_TEST_PORT"),
        get("TBUDDY_SSH_TEST_KEY"),
        get("TBUDDY_SSH_TEST_KNOWN_HOSTS"),
    ) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "TBUDDY_SSH_TEST_HOST/PORT/KEY/KNOWN_HOSTS are not set: start tests/hosts/sshd-up.sh (tests/run-all.sh does)"
        );
        eprintln!(
            "NOT RUN: TBUDDY_SSH_TEST_HOST is not set (tests/run-all.sh starts sshd test hosts)"
        );
        return None;
    };
    Some(serde_json::json!({
        "ansible_connection": "ssh",
        "ansible_host": host,
        "ansible_port": port.parse::<u16>().expect("TBUDDY_SSH_TEST_PORT is a port number"),
        "ansible_user": user,
        "ansible_ssh_private_key_file": key,
        "ansible_ssh_common_args": format!(
            "-o UserKnownHostsFile={known} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
        ),
    }))
}

fn run_corpus(transport: &Transport) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus");
    let all = list_cases(&root);
    assert!(!all.is_empty(), "no cases found in {}", root.display());

    let cases: Vec<String> = match std::env::var("CORPUS_CASE") {
        Ok(sel) if !sel.trim().is_empty() => {
            let wanted: Vec<String> = sel
                .split(',')
                .map(|s| {
                    s.trim()
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .filter(|s| !s.is_empty())
                .collect();
            let unknown: Vec<&String> = wanted.iter().filter(|w| !all.contains(w)).collect();
            assert!(
                unknown.is_empty(),
                "CORPUS_CASE names unknown case(s): {unknown:?}; known: {all:?}"
            );
            wanted
        }
        _ => all,
    };

    let jobs = std::env::var("CORPUS_JOBS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or_else(|| {
            thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .min(4)
        })
        .max(1)
        .min(cases.len());

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<(), String>>>> = Mutex::new(vec![None; cases.len()]);
    thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= cases.len() {
                        break;
                    }
                    let case_dir = root.join(&cases[i]);
                    let outcome = std::panic::catch_unwind(|| run_case(&case_dir, transport))
                        .unwrap_or_else(|p| Err(format!("  panicked: {}", panic_message(&p))));
                    results.lock().unwrap()[i] = Some(outcome);
                }
            });
        }
    });

    let results = results.into_inner().unwrap();
    let mut failed = Vec::new();
    for (case, outcome) in cases.iter().zip(results) {
        match outcome.expect("every case ran") {
            Ok(()) => eprintln!("ok   {case}"),
            Err(report) => {
                eprintln!("FAIL {case}\n{report}");
                failed.push(case.clone());
            }
        }
    }
    eprintln!(
        "corpus: {} passed, {} failed (of {})",
        cases.len() - failed.len(),
        failed.len(),
        cases.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {} corpus case(s) differ from ansible-core:\n  {}",
        failed.len(),
        cases.len(),
        failed.join("\n  ")
    );
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Case directories: `NN-name` with a `site.yml`, sorted.
fn list_cases(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root).unwrap_or_else(|e| panic!("reading {}: {e}", root.display())) {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let b = name.as_bytes();
        let numbered =
            b.len() > 3 && b[0].is_ascii_digit() && b[1].is_ascii_digit() && b[2] == b'-';
        if numbered && entry.path().join("site.yml").is_file() {
            out.push(name);
        }
    }
    out.sort();
    out
}

/// Runs the three steps of one case; Err holds a readable report of every difference.
fn run_case(case_dir: &Path, transport: &Transport) -> Result<(), String> {
    let expected_path = case_dir.join("expected.json");
    let expected: Value = match fs::read_to_string(&expected_path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| format!("  {}: {e}", expected_path.display()))?,
        Err(e) => {
            return Err(format!(
                "  {}: {e} (record it with tests/corpus/record.sh)",
                expected_path.display()
            ));
        }
    };
    let inventory = INVENTORY_NAMES
        .iter()
        .find(|n| case_dir.join(n).is_file())
        .ok_or_else(|| {
            format!(
                "  no inventory file ({}) in {}",
                INVENTORY_NAMES.join(", "),
                case_dir.display()
            )
        })?;

    let tmp = tempfile::Builder::new()
        .prefix("tbuddy-corpus-")
        .tempdir()
        .map_err(|e| format!("  tempdir: {e}"))?;
    let work = tmp.path().join("case");
    let sandbox = tmp.path().join("sandbox");
    let state = tmp.path().join("state");
    copy_case(case_dir, &work).map_err(|e| format!("  copying the case: {e}"))?;
    fs::create_dir(&sandbox).map_err(|e| format!("  sandbox: {e}"))?;
    fs::create_dir(&state).map_err(|e| format!("  state dir: {e}"))?;
    let seed = case_dir.join("seed");
    if seed.is_dir() {
        copy_seed(&seed, &sandbox).map_err(|e| format!("  copying seed/: {e}"))?;
    }
    let sandbox_str = sandbox.to_str().expect("utf-8 temp path").to_string();

    let mut report = Vec::new();
    for step in STEPS {
        let want = &expected[step];
        if !want.is_object() {
            report.push(format!("  {step}: expected.json has no \"{step}\" section"));
            continue;
        }
        let mut args: Vec<String> = vec![
            if step == "check" { "plan" } else { "apply" }.to_string(),
            "-i".into(),
            inventory.to_string(),
            "site.yml".into(),
            "-e".into(),
            format!("sandbox={sandbox_str}"),
            "--json".into(),
        ];
        if step != "check" {
            args.push("-y".into());
        }
        if let Transport::Ssh { vars, become_ } = transport {
            args.push("-e".into());
            args.push(vars.to_string());
            if *become_ {
                args.push("--become".into());
            }
        }
        let run = match run_binary(&work, &state, &args) {
            Ok(r) => r,
            Err(e) => {
                report.push(format!("  {step}: {e}"));
                continue;
            }
        };

        let mut diffs = Vec::new();
        let want_code = want["exit_code"].as_i64().unwrap_or(-1);
        match run.code {
            Some(c) if i64::from(c) == want_code => {}
            Some(c) => diffs.push(format!("exit code: expected {want_code}, got {c}")),
            None => diffs.push(format!(
                "exit code: expected {want_code}, got none ({})",
                run.note
            )),
        }
        let mut hosts_off = BTreeSet::new();
        let want_recap = match deviation_recap(&expected, step) {
            Ok(Some(recap)) => recap,
            Ok(None) => &want["recap"],
            Err(e) => {
                report.push(format!("  {step}: {e}"));
                continue;
            }
        };
        match last_recap(&run.stdout) {
            Some(got) => compare_recap(want_recap, &got, &mut diffs, &mut hosts_off),
            None => diffs.push("recap: no {\"event\":\"recap\"} line on stdout".to_string()),
        }
        match walk_tree(&sandbox, &sandbox_str) {
            Ok(got) => compare_tree(&deviation_tree(&expected, step), &got, &mut diffs),
            Err(e) => diffs.push(format!("tree: walking the sandbox failed: {e}")),
        }

        if !diffs.is_empty() {
            let cmd = format!("tbuddy-deploy {}", args.join(" ")).replace(&sandbox_str, "$SANDBOX");
            report.push(format!("  {step}: `{cmd}`"));
            for d in &diffs {
                report.push(format!("    {d}"));
            }
            for host in &hosts_off {
                if let Some(trace) = want["trace"][host.as_str()].as_array() {
                    report.push(format!("    ansible-core's task results for {host}:"));
                    for t in trace {
                        report.push(format!("      {}", t.as_str().unwrap_or("?")));
                    }
                }
            }
            push_tail(&mut report, "stdout", &run.stdout, 30, &sandbox_str);
            push_tail(&mut report, "stderr", &run.stderr, 20, &sandbox_str);
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report.join("\n"))
    }
}

/// A documented, intended difference from ansible-core for one step:
/// `"deviations": {"check": {"why": "...", "recap": {...}}}` in expected.json.
/// The recap replaces ansible's; a deviation without a reason is refused.
fn deviation_recap<'a>(expected: &'a Value, step: &str) -> Result<Option<&'a Value>, String> {
    let Some(dev) = expected.get("deviations").and_then(|d| d.get(step)) else {
        return Ok(None);
    };
    let why = dev.get("why").and_then(Value::as_str).unwrap_or("").trim();
    if why.is_empty() {
        return Err(format!("expected.json: deviations.{step} has no \"why\""));
    }
    dev.get("recap")
        .filter(|r| r.is_object())
        .map(Some)
        .ok_or_else(|| format!("expected.json: deviations.{step} has no \"recap\" object"))
}

/// Ansible's tree for a step with a deviation's `tree` entries laid over it
/// (an entry set to null is a path that tbuddy-deploy does not leave).
fn deviation_tree(expected: &Value, step: &str) -> Value {
    let mut tree = expected[step]["tree"].clone();
    if let (Some(over), Some(t)) = (
        expected["deviations"][step]["tree"].as_object(),
        tree.as_object_mut(),
    ) {
        for (path, entry) in over {
            if entry.is_null() {
                t.remove(path);
            } else {
                t.insert(path.clone(), entry.clone());
            }
        }
    }
    tree
}

fn push_tail(report: &mut Vec<String>, what: &str, text: &str, n: usize, sandbox: &str) {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        report.push(format!("    {what}: (empty)"));
        return;
    }
    let start = lines.len().saturating_sub(n);
    report.push(format!(
        "    {what} ({}):",
        if start > 0 {
            format!("last {n} of {} lines", lines.len())
        } else {
            "all lines".into()
        }
    ));
    for l in &lines[start..] {
        let l = l.replace(sandbox, "$SANDBOX");
        let l = if l.chars().count() > 300 {
            l.chars().take(300).collect::<String>() + "…"
        } else {
            l
        };
        report.push(format!("      {l}"));
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    note: String,
}

/// Runs the binary with umask 022 (through /bin/sh), stdin closed, a private
/// state dir, and a time limit.
fn run_binary(work: &Path, state: &Path, args: &[String]) -> Result<Run, String> {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("umask 022 && exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args);
    cmd.current_dir(work)
        .env("TBUDDY_STATE_DIR", state)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in FIXED_ENV {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {BIN}: {e}"))?;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let mut note = String::new();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() > STEP_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                note = format!("killed after {}s", STEP_TIMEOUT.as_secs());
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {BIN}: {e}")),
        }
    };
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    let code = status.and_then(|st| {
        if st.code().is_none() {
            note = format!("terminated by {st}");
        }
        st.code()
    });
    Ok(Run {
        code,
        stdout,
        stderr,
        note,
    })
}

/// The `hosts` object of the last stdout line that is `{"event":"recap",...}`.
fn last_recap(stdout: &str) -> Option<Map<String, Value>> {
    stdout.lines().rev().find_map(|line| {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        let v: Value = serde_json::from_str(line).ok()?;
        if v.get("event")?.as_str()? != "recap" {
            return None;
        }
        v.get("hosts")?.as_object().cloned()
    })
}

fn compare_recap(
    want: &Value,
    got: &Map<String, Value>,
    diffs: &mut Vec<String>,
    hosts_off: &mut BTreeSet<String>,
) {
    let empty = Map::new();
    let want = want.as_object().unwrap_or(&empty);
    let hosts: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for host in hosts {
        match (want.get(host), got.get(host)) {
            (Some(_), None) => {
                diffs.push(format!(
                    "recap {host}: missing (expected {})",
                    counts(&want[host])
                ));
                hosts_off.insert(host.clone());
            }
            (None, Some(g)) => diffs.push(format!("recap {host}: unexpected host ({})", counts(g))),
            (Some(w), Some(g)) => {
                let mut off = Vec::new();
                for k in RECAP_KEYS {
                    let (wv, gv) = (
                        w.get(k).and_then(Value::as_i64),
                        g.get(k).and_then(Value::as_i64),
                    );
                    if wv != gv {
                        let show =
                            |v: Option<i64>| v.map_or("missing".to_string(), |n| n.to_string());
                        off.push(format!("{k} expected {} got {}", show(wv), show(gv)));
                    }
                }
                if !off.is_empty() {
                    diffs.push(format!(
                        "recap {host}: {} (expected: {}; got: {})",
                        off.join(", "),
                        counts(w),
                        counts(g)
                    ));
                    hosts_off.insert(host.clone());
                }
            }
            (None, None) => unreachable!(),
        }
    }
}

fn counts(v: &Value) -> String {
    RECAP_KEYS
        .iter()
        .map(|k| {
            format!(
                "{k}={}",
                v.get(*k).map_or("?".to_string(), |n| n.to_string())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn compare_tree(want: &Value, got: &BTreeMap<String, Value>, diffs: &mut Vec<String>) {
    let empty = Map::new();
    let want = want.as_object().unwrap_or(&empty);
    let paths: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for p in paths {
        match (want.get(p), got.get(p)) {
            (Some(w), None) => diffs.push(format!("tree {p}: missing (expected {})", entry(w))),
            (None, Some(g)) => diffs.push(format!("tree {p}: unexpected ({})", entry(g))),
            (Some(w), Some(g)) if w != g => {
                diffs.push(format!("tree {p}: expected {}, got {}", entry(w), entry(g)));
            }
            _ => {}
        }
    }
}

fn entry(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
    match v.get("type").and_then(Value::as_str) {
        Some("file") => format!("file mode {} sha1 {}", s("mode"), s("sha1")),
        Some("dir") => format!("dir mode {}", s("mode")),
        Some("link") => format!("link -> {}", s("target")),
        _ => v.to_string(),
    }
}

/// The same walk as record.sh: relative '/'-separated path -> entry, sorted.
fn walk_tree(root: &Path, root_str: &str) -> std::io::Result<BTreeMap<String, Value>> {
    fn walk(
        dir: &Path,
        rel: &str,
        root_str: &str,
        out: &mut BTreeMap<String, Value>,
    ) -> std::io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let r = format!("{rel}{}", name.to_string_lossy());
            let md = fs::symlink_metadata(&path)?;
            let ft = md.file_type();
            let mode = format!("{:04o}", md.permissions().mode() & 0o7777);
            let mut e = Map::new();
            if ft.is_symlink() {
                let target = fs::read_link(&path)?.to_string_lossy().into_owned();
                let target = match target.strip_prefix(root_str) {
                    Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                        format!("${{sandbox}}{rest}")
                    }
                    _ => target,
                };
                e.insert("type".into(), "link".into());
                e.insert("target".into(), target.into());
                out.insert(r, Value::Object(e));
            } else if ft.is_dir() {
                e.insert("type".into(), "dir".into());
                e.insert("mode".into(), mode.into());
                out.insert(r.clone(), Value::Object(e));
                walk(&path, &format!("{r}/"), root_str, out)?;
            } else if ft.is_file() {
                let digest = Sha1::digest(fs::read(&path)?);
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                e.insert("type".into(), "file".into());
                e.insert("mode".into(), mode.into());
                e.insert("sha1".into(), hex.into());
                out.insert(r, Value::Object(e));
            } else {
                e.insert("type".into(), "other".into());
                out.insert(r, Value::Object(e));
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, "", root_str, &mut out)?;
    Ok(out)
}

/// Copies the case directory (playbooks, inventory, roles, …) to the working
/// directory, leaving out expected.json.
fn copy_case(src: &Path, dst: &Path) -> std::io::Result<()> {
    copy_dir(src, dst, true)
}

fn copy_dir(src: &Path, dst: &Path, top: bool) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        if top && name == "expected.json" {
            continue;
        }
        let (s, d) = (entry.path(), dst.join(&name));
        let ft = fs::symlink_metadata(&s)?.file_type();
        if ft.is_symlink() {
            symlink(fs::read_link(&s)?, &d)?;
        } else if ft.is_dir() {
            copy_dir(&s, &d, false)?;
        } else {
            fs::copy(&s, &d)?;
        }
    }
    Ok(())
}

/// Copies seed/ into the sandbox exactly like record.sh: directories 0755,
/// files 0755 when user-executable else 0644, symlinks as they are.
fn copy_seed(src: &Path, dst: &Path) -> std::io::Result<()> {
    let mut names: Vec<PathBuf> = fs::read_dir(src)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for s in names {
        let d = dst.join(s.file_name().unwrap());
        let md = fs::symlink_metadata(&s)?;
        if md.file_type().is_symlink() {
            symlink(fs::read_link(&s)?, &d)?;
        } else if md.is_dir() {
            fs::create_dir(&d)?;
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
            copy_seed(&s, &d)?;
        } else {
            fs::copy(&s, &d)?;
            let mode = if md.permissions().mode() & 0o100 != 0 {
                0o755
            } else {
                0o644
            };
            fs::set_permissions(&d, fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}
