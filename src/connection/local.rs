//! The `local` connection: scripts run on the controller itself.

use super::{Become, ConnError, Connection, Exec, Output, with_env};
use std::io::Write;
use std::process::{Command, Stdio};

#[derive(Debug, Default)]
pub struct LocalConnection;

impl LocalConnection {
    fn command(script: &str, become_as: Option<&Become>) -> Command {
        let current = nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.name);
        match become_as {
            Some(b) if current.as_deref() != Some(b.user.as_str()) => {
                let mut c = Command::new("sudo");
                if b.password.is_some() {
                    c.args(["-S", "-p", ""]);
                } else {
                    c.arg("-n");
                }
                c.args(["-H", "-u", &b.user, "sh", "-c", script]);
                c
            }
            _ => {
                let mut c = Command::new("sh");
                c.args(["-c", script]);
                c
            }
        }
    }
}

impl Connection for LocalConnection {
    fn exec(&mut self, req: &Exec<'_>) -> Result<Output, ConnError> {
        let script = with_env(req.script, req.env);
        let mut cmd = Self::command(&script, req.become_as);
        // sudo -S reads the password as the first line of stdin, before the script's own input.
        let password = req
            .become_as
            .and_then(|b| b.password.as_deref())
            .filter(|_| cmd.get_program() == "sudo");
        let stdin: Option<Vec<u8>> = match (password, req.stdin) {
            (Some(pw), data) => {
                let mut buf = format!("{pw}\n").into_bytes();
                buf.extend_from_slice(data.unwrap_or_default());
                Some(buf)
            }
            (None, data) => data.map(<[u8]>::to_vec),
        };
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| ConnError::Unreachable(format!("cannot start sh: {e}")))?;
        if let Some(data) = stdin {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            // A writer thread avoids a deadlock when the script fills its output
            // pipes before reading all of its input.
            let writer = std::thread::spawn(move || {
                let _ = stdin.write_all(&data);
            });
            let out = child
                .wait_with_output()
                .map_err(|e| ConnError::Failed(e.to_string()))?;
            let _ = writer.join();
            return Ok(to_output(out));
        }
        let out = child
            .wait_with_output()
            .map_err(|e| ConnError::Failed(e.to_string()))?;
        Ok(to_output(out))
    }

    fn describe(&self) -> String {
        "local".into()
    }
}

fn to_output(out: std::process::Output) -> Output {
    use std::os::unix::process::ExitStatusExt;
    Output {
        rc: out
            .status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}
