//! Shared by the end-to-end tests: running the binary as a user would.
// Each test crate uses its own part of this module.
#![allow(dead_code)]

pub mod booking;

use std::path::Path;
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_tbuddy-deploy");

/// Runs the binary in `dir` (stdin closed, no colour, the default state
/// store); returns the exit code and stdout followed by stderr.
pub fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TBUDDY_STATE")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The per-host recap counters of a `--json` run (its last recap event).
pub fn recap_hosts(text: &str) -> serde_json::Value {
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("\"event\":\"recap\""))
        .unwrap_or_else(|| panic!("no recap in:\n{text}"));
    serde_json::from_str::<serde_json::Value>(line).unwrap()["hosts"].clone()
}

/// Every value of every table, with blobs decompressed too, as one text.
pub fn state_text(db: &Path) -> String {
    use std::io::Read;
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = String::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) => {
                        out += &String::from_utf8_lossy(b);
                    }
                    rusqlite::types::ValueRef::Blob(b) => {
                        out += &String::from_utf8_lossy(b);
                        let mut plain = Vec::new();
                        if flate2::read::ZlibDecoder::new(b)
                            .read_to_end(&mut plain)
                            .is_ok()
                        {
                            out += &String::from_utf8_lossy(&plain);
                        }
                    }
                    _ => {}
                }
                out.push('\n');
            }
        }
    }
    out
}
