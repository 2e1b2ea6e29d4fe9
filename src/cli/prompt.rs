//! Reading a secret from the terminal without echoing it.

use super::CliError;
use nix::sys::termios::{self, LocalFlags, SetArg};
use std::io::{BufRead, Write};

/// Asks on /dev/tty so that piped stdin and redirected output don't matter.
pub fn secret(prompt: &str) -> Result<String, CliError> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            CliError::usage(format!(
                "error: cannot ask for a password without a terminal: {e}"
            ))
        })?;
    let mut out = tty
        .try_clone()
        .map_err(|e| CliError::usage(e.to_string()))?;
    let _ = write!(out, "{prompt}");
    let _ = out.flush();
    let saved = termios::tcgetattr(&tty).map_err(|e| CliError::usage(e.to_string()))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&tty, SetArg::TCSANOW, &quiet)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    let _ = termios::tcsetattr(&tty, SetArg::TCSANOW, &saved);
    let _ = writeln!(out);
    read.map_err(|e| CliError::usage(e.to_string()))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
