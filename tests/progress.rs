//! The live progress view as a user sees it: the binary runs under a real
//! pseudo-terminal, and what it wrote is replayed on a small terminal model
//! to check that the block was drawn, stayed within its bounds and left
//! nothing behind. Without a terminal the output carries no escape codes.

use nix::pty::{Winsize, openpty};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

const PLAYBOOK: &str = r#"
- hosts: all
  gather_facts: no
  tasks:
    - name: nap one
      command: sleep 0.4
    - name: nap two
      command: sleep 0.4
"#;

fn project(hosts: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = String::from("[fleet]\n");
    for i in 0..hosts {
        inv.push_str(&format!("node{i} ansible_connection=local\n"));
    }
    std::fs::write(dir.path().join("hosts.ini"), inv).unwrap();
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    dir
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tbuddy-deploy"));
    cmd.args(["apply", "-y", "-i", "hosts.ini", "site.yml"])
        .args(args)
        .current_dir(dir)
        .env_remove("TBUDDY_PROGRESS")
        .env_remove("COLUMNS")
        .env_remove("LINES")
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` with stdout and stderr on a pseudo-terminal `rows`×`cols`.
fn run_on_pty(mut cmd: Command, rows: u16, cols: u16) -> (i32, String) {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(&size, None).expect("openpty");
    let mut child = {
        let out = Stdio::from(pty.slave.try_clone().unwrap());
        let err = Stdio::from(pty.slave);
        cmd.stdout(out).stderr(err).spawn().expect("binary runs")
    };
    // Dropping `cmd` closes our copies of the terminal side, so reading ends
    // (EIO) once the child and everything it started have exited.
    drop(cmd);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
        bytes
    });
    let status = child.wait().unwrap();
    let bytes = reader.join().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn run_piped(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The screen after replaying `text`: enough of a terminal for what the view
/// writes (text, CR, LF, cursor up, clear to end of screen, colours).
fn screen(text: &str) -> Vec<String> {
    let mut rows: Vec<Vec<char>> = vec![vec![]];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                if rows.len() <= row {
                    rows.push(vec![]);
                }
            }
            '\x1b' => {
                assert_eq!(chars.next(), Some('['), "only CSI sequences are used");
                let mut arg = String::new();
                let cmd = loop {
                    let c = chars.next().expect("complete sequence");
                    if c.is_ascii_digit() || c == ';' {
                        arg.push(c);
                    } else {
                        break c;
                    }
                };
                match cmd {
                    'A' => {
                        let n: usize = arg.parse().unwrap_or(1);
                        row = row.checked_sub(n).expect("cursor moved above the output");
                    }
                    'J' => {
                        rows[row].truncate(col);
                        rows.truncate(row + 1);
                    }
                    'm' => {}
                    other => panic!("unexpected escape sequence {arg}{other}"),
                }
            }
            c => {
                let line = &mut rows[row];
                while line.len() < col {
                    line.push(' ');
                }
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    rows.into_iter().map(|r| r.into_iter().collect()).collect()
}

fn sorted(lines: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = lines
        .into_iter()
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

#[test]
fn live_view_on_a_terminal_is_drawn_and_erased() {
    let dir = project(3);
    let (code, text) = run_on_pty(command(dir.path(), &["--progress", "always"]), 40, 100);
    assert_eq!(code, 0, "{text}");
    let sgr = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
    assert!(!sgr.is_match(&text), "NO_COLOR is respected: {text:?}");
    let running =
        regex::Regex::new(r"(?m)^  node[0-2]  [0-2]/2  running \d+s  nap (one|two)\r?$").unwrap();
    assert!(
        running.is_match(&text),
        "a host line while running:\n{text}"
    );
    assert!(
        text.contains("/3 hosts done · 3 running · "),
        "the overall line:\n{text}"
    );
    assert!(text.contains("\x1b[J"), "the block is redrawn in place");

    // After the last erase come plain lines only, down to the recap.
    let tail = &text[text.rfind("\x1b[J").unwrap() + 3..];
    assert!(tail.contains("\r\nPLAY RECAP ***"), "{tail:?}");
    assert!(!tail.contains("hosts done"), "{tail:?}");
    assert!(!tail.contains('\x1b'), "{tail:?}");
    assert_eq!(
        tail.lines()
            .filter(|l| l.contains(": ok=2    changed=2"))
            .count(),
        3,
        "{tail}"
    );

    // What stays on the screen is exactly what a run without the view prints.
    let shown = screen(&text);
    assert!(
        shown.iter().all(|l| !l.contains("hosts done")),
        "{shown:#?}"
    );
    let (code, plain) = run_piped(&mut command(dir.path(), &["--progress", "never"]));
    assert_eq!(code, 0, "{plain}");
    // Each apply is recorded as a run of its own: its number differs.
    let recorded = regex::Regex::new(r"^Run \d+ recorded in ").unwrap();
    let keep = |l: &String| !recorded.is_match(l);
    assert_eq!(
        sorted(shown.into_iter().filter(keep)),
        sorted(plain.lines().map(String::from).filter(keep))
    );
}

#[test]
fn many_hosts_stay_within_a_small_terminal() {
    let dir = project(12);
    // auto: on, since stdout is a terminal
    let (code, text) = run_on_pty(command(dir.path(), &[]), 10, 80);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("  … and "), "the rest is summed up:\n{text}");
    let up = regex::Regex::new(r"\x1b\[(\d+)A").unwrap();
    let heights: Vec<usize> = up
        .captures_iter(&text)
        .map(|c| c[1].parse().unwrap())
        .collect();
    assert!(!heights.is_empty(), "{text}");
    assert!(heights.iter().all(|h| *h <= 5), "{heights:?}");
    assert!(
        screen(&text).iter().all(|l| !l.contains("hosts done")),
        "{text}"
    );
}

#[test]
fn no_live_view_without_a_terminal_or_on_a_dumb_one() {
    let dir = project(2);
    let (code, plain) = run_piped(&mut command(dir.path(), &[]));
    assert_eq!(code, 0, "{plain}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("TASK [nap two] ***"), "{plain}");
    assert!(plain.contains("\nPLAY RECAP ***"), "{plain}");
    assert!(!plain.contains("hosts done"), "{plain}");

    let (code, json) = run_piped(&mut command(
        dir.path(),
        &["--json", "--progress", "always"],
    ));
    assert_eq!(code, 0, "{json}");
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON event a line");
        if v["event"] == "play_start" {
            assert_eq!(v["tasks_total"], 2, "{line}");
        }
    }

    let mut dumb = command(dir.path(), &[]);
    dumb.env("TERM", "dumb");
    let (code, text) = run_on_pty(dumb, 24, 80);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.contains("PLAY RECAP"), "{text}");
}
