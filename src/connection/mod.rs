//! How commands reach a host. Modules speak POSIX shell to the target, so a
//! connection only needs to run a script (with optional stdin) and say how it ended.

mod local;
mod spec;
mod ssh;

pub use local::LocalConnection;
pub use spec::{ConnSpec, SSH_VARS};
pub use ssh::{DEFAULT_CONNECT_TIMEOUT, SshConnection, SshParams};

use std::fmt;

/// Who to become on the target for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    pub user: String,
    /// The sudo password, if sudo needs one; sent on stdin, never in argv or logs.
    pub password: Option<String>,
}

/// One shell script to run on the target.
#[derive(Debug, Default)]
pub struct Exec<'a> {
    pub script: &'a str,
    pub stdin: Option<&'a [u8]>,
    pub become_as: Option<&'a Become>,
    /// Extra environment (the task's `environment:`), exported before the script.
    pub env: &'a [(String, String)],
}

#[derive(Debug, Clone)]
pub struct Output {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The host could not be reached at all: counted as `unreachable`.
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Failed(String),
}

pub trait Connection: Send {
    /// Runs `sh -c script` on the target.
    fn exec(&mut self, req: &Exec<'_>) -> Result<Output, ConnError>;

    /// A short description for messages (`local`, `ssh root@10.0.0.5:22`).
    fn describe(&self) -> String;
}

impl fmt::Debug for dyn Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Quotes a word for POSIX sh.
pub fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r#"'"'"'"#))
}

/// Prefixes `export K=V;` for each environment entry.
pub fn with_env(script: &str, env: &[(String, String)]) -> String {
    if env.is_empty() {
        return script.to_string();
    }
    let mut out = String::new();
    for (k, v) in env {
        out.push_str(&format!("export {k}={}; ", sh_quote(v)));
    }
    out.push_str(script);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_posix_safe() {
        assert_eq!(sh_quote("/etc/app.conf"), "/etc/app.conf");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(sh_quote(""), "''");
    }
}
