//! How commands reach a host. Modules speak POSIX shell to the target, so a
//! connection only needs to run a script (with optional stdin) and say how it ended.
//!
//! Input can be streamed: `Connection::exec_stdin` with `Stdin::Reader` sends a reader's
//! bytes in chunks as the script consumes them, so a file of any size crosses with
//! bounded controller memory.

mod local;
pub mod postgres;
mod shell;
mod spec;
mod ssh;
mod sudo;

pub use local::LocalConnection;
pub use postgres::PostgresConnection;
pub use spec::{ConnSpec, SSH_VARS};
pub use ssh::{DEFAULT_CONNECT_TIMEOUT, LocalForward, RemoteEnd, SshConnection, SshParams};
pub(crate) use sudo::nonce;

use std::fmt;
use std::io::{Read, Write};

/// Chunk size for streamed input.
pub const STREAM_CHUNK: usize = 128 * 1024;

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

/// What a command reads on its standard input.
pub enum Stdin<'a> {
    /// Nothing (end of input at once).
    Null,
    /// These bytes.
    Bytes(&'a [u8]),
    /// Everything the reader yields, read in chunks of `STREAM_CHUNK` while the command
    /// consumes them; never held in memory whole. Reading starts only once the command
    /// runs (after sudo let it), so a command that never started consumed nothing.
    ///
    /// A read error ends the input early (the command sees end of file) and fails the
    /// exec once the command has finished. Scripts that must not act on a partial input
    /// check what they got (see `Target::put_file`).
    Reader(&'a mut (dyn Read + Send)),
}

impl<'a> From<Option<&'a [u8]>> for Stdin<'a> {
    fn from(b: Option<&'a [u8]>) -> Self {
        b.map_or(Stdin::Null, Stdin::Bytes)
    }
}

impl fmt::Debug for Stdin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stdin::Null => f.write_str("Null"),
            Stdin::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Stdin::Reader(_) => f.write_str("Reader"),
        }
    }
}

pub trait Connection: Send {
    /// Runs `sh -c script` on the target, with `req.stdin` as its input.
    fn exec(&mut self, req: &Exec<'_>) -> Result<Output, ConnError> {
        self.exec_stdin(req, Stdin::from(req.stdin))
    }

    /// Runs `sh -c script` on the target with `stdin` as its input (`req.stdin` is not
    /// used). Output is collected while input is written, so a script that fills its
    /// output pipes before reading all of its input cannot deadlock.
    fn exec_stdin(&mut self, req: &Exec<'_>, stdin: Stdin<'_>) -> Result<Output, ConnError>;

    /// Runs `sh -c script` on the target without input and writes its standard output to
    /// `out` as it arrives, so an output of any size crosses with bounded controller memory.
    /// The returned `stdout` is empty. A failed write to `out` fails the exec.
    fn exec_stdout_to(
        &mut self,
        req: &Exec<'_>,
        out: &mut (dyn Write + Send),
    ) -> Result<Output, ConnError> {
        let mut o = self.exec_stdin(req, Stdin::Null)?;
        out.write_all(&o.stdout)
            .map_err(|e| ConnError::Failed(format!("writing the command's output: {e}")))?;
        o.stdout.clear();
        Ok(o)
    }

    /// A short description for messages (`local`, `ssh root@10.0.0.5:22`).
    fn describe(&self) -> String;

    /// The SSH connection behind this one, for what only SSH offers (port forwards).
    fn ssh(&mut self) -> Option<&mut SshConnection> {
        None
    }

    /// A PostgreSQL server reached directly (`ansible_connection: postgres`).
    fn postgres(&mut self) -> Option<&mut PostgresConnection> {
        None
    }
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

/// Test inputs shared by the connections' tests.
#[cfg(test)]
pub(crate) mod testinput {
    use std::io::{self, Read};

    /// Deterministic bytes that do not compress (xorshift).
    pub struct Noise {
        x: u64,
        left: u64,
    }

    impl Read for Noise {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            for b in &mut buf[..n] {
                self.x ^= self.x << 13;
                self.x ^= self.x >> 7;
                self.x ^= self.x << 17;
                *b = (self.x >> 24) as u8;
            }
            self.left -= n as u64;
            Ok(n)
        }
    }

    pub fn noise(n: u64) -> Noise {
        Noise {
            x: 0x9E37_79B9_7F4A_7C15,
            left: n,
        }
    }

    pub fn noise_bytes(n: u64) -> Vec<u8> {
        let mut v = Vec::new();
        noise(n).read_to_end(&mut v).expect("in memory");
        v
    }

    /// Yields `chunks` full buffers of `x`, then fails.
    pub struct Broken(pub u32);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            self.0 -= 1;
            buf.fill(b'x');
            Ok(buf.len())
        }
    }
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
