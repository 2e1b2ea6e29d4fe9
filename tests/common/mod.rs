//! Shared by the end-to-end tests: running the binary as a user would.

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
