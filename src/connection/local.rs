//! The `local` connection: scripts run on the controller itself.
//!
//! `become` goes through sudo the same way as over ssh (see `sudo.rs`): stdin is held back
//! until sudo has asked for the password or started the script, so the password never
//! reaches the script's input.

use super::sudo::{self, Event, Gate, Scanner, Step};
use super::{ConnError, Connection, Exec, Output, STREAM_CHUNK, Stdin};
use std::io::{self, Read, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;

#[derive(Debug, Default)]
pub struct LocalConnection;

fn current_user() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
}

impl Connection for LocalConnection {
    fn exec_stdin(&mut self, req: &Exec<'_>, stdin: Stdin<'_>) -> Result<Output, ConnError> {
        run(req, stdin, None)
    }

    fn exec_stdout_to(
        &mut self,
        req: &Exec<'_>,
        out: &mut (dyn Write + Send),
    ) -> Result<Output, ConnError> {
        run(req, Stdin::Null, Some(out))
    }

    fn describe(&self) -> String {
        "local".into()
    }
}

/// Runs one command; its stdout is collected, or copied to `sink` as it arrives.
fn run(
    req: &Exec<'_>,
    stdin: Stdin<'_>,
    sink: Option<&mut (dyn Write + Send)>,
) -> Result<Output, ConnError> {
    {
        let plan = sudo::plan(req, current_user().as_deref());
        let password = sudo::password(req, &plan);
        let wants_stdin = !matches!(stdin, Stdin::Null) || password.is_some();
        let mut cmd = Command::new(&plan.argv[0]);
        cmd.args(&plan.argv[1..])
            .stdin(if wants_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| ConnError::Unreachable(format!("cannot start {}: {e}", plan.argv[0])))?;
        let child_in = child.stdin.take();
        let mut child_out = child.stdout.take().expect("stdout is piped");
        let child_err = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel::<Event>();
        let gate = plan.gated().then_some(rx);
        let marker = plan.marker.as_deref();
        let prompt = plan.prompt.as_deref();

        // One thread writes stdin and one reads stderr while this one reads stdout: a
        // script that fills its output pipes before reading all its input cannot deadlock.
        let (fed, stdout, err) = std::thread::scope(|s| {
            let writer = s.spawn(move || feed(child_in, stdin, gate, password));
            let err_reader = s.spawn(move || read_stderr(child_err, marker, prompt, tx));
            let mut buf = Vec::new();
            let out = match sink {
                Some(w) => io::copy(&mut child_out, w).map(|_| buf),
                None => child_out.read_to_end(&mut buf).map(|_| buf),
            };
            // Closed before waiting: a command whose output is no longer taken must not
            // block on a full pipe.
            drop(child_out);
            let fed = writer.join().expect("stdin writer panicked");
            let err = err_reader.join().expect("stderr reader panicked");
            (fed, out, err)
        });
        let status = child
            .wait()
            .map_err(|e| ConnError::Failed(format!("waiting for the command: {e}")))?;
        use std::os::unix::process::ExitStatusExt;
        let rc = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let stdout = stdout.map_err(|e| ConnError::Failed(format!("reading stdout: {e}")))?;
        let (stderr, ready, prompts) =
            err.map_err(|e| ConnError::Failed(format!("reading stderr: {e}")))?;
        if !ready {
            let user = plan.become_user.as_deref().unwrap_or("?");
            let said = one_line(&String::from_utf8_lossy(&stderr), 6);
            return Err(ConnError::Failed(sudo::become_error(
                user,
                &said,
                fed.wrong_password,
                prompts,
                rc,
            )));
        }
        if let Some(e) = fed.read_error {
            return Err(ConnError::Failed(format!(
                "reading the input for the command: {e}"
            )));
        }
        Ok(Output { rc, stdout, stderr })
    }
}

/// How writing stdin went.
#[derive(Debug, Default)]
struct Fed {
    wrong_password: bool,
    read_error: Option<io::Error>,
}

/// Writes the command's input. Under sudo (`gate`), nothing is written until sudo has
/// either asked for the password (answered once) or started the script.
fn feed(
    w: Option<ChildStdin>,
    input: Stdin<'_>,
    gate: Option<mpsc::Receiver<Event>>,
    password: Option<&str>,
) -> Fed {
    let mut fed = Fed::default();
    let Some(mut w) = w else {
        return fed;
    };
    if let Some(rx) = gate {
        let mut g = Gate::default();
        loop {
            match g.next(rx.recv().ok()) {
                Step::Answer => {
                    let line = format!("{}\n", password.unwrap_or_default());
                    if w.write_all(line.as_bytes())
                        .and_then(|()| w.flush())
                        .is_err()
                    {
                        return fed;
                    }
                }
                Step::Proceed => break,
                Step::GiveUp => {
                    fed.wrong_password = g.wrong_password;
                    return fed;
                }
            }
        }
    }
    // The script may exit without reading everything: a write error (EPIPE) just ends
    // the input.
    match input {
        Stdin::Null => {}
        Stdin::Bytes(data) => {
            let _ = w.write_all(data);
        }
        Stdin::Reader(r) => {
            let mut buf = vec![0u8; STREAM_CHUNK];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        fed.read_error = Some(e);
                        break;
                    }
                }
            }
        }
    }
    fed
}

/// Reads stderr to the end; under sudo, scans it for the prompt and marker and reports
/// them to the writer. Returns the stderr to report, whether the script ran, and how
/// many times sudo prompted.
fn read_stderr(
    mut r: impl Read,
    marker: Option<&str>,
    prompt: Option<&str>,
    tx: mpsc::Sender<Event>,
) -> io::Result<(Vec<u8>, bool, usize)> {
    let Some(marker) = marker else {
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)?;
        return Ok((buf, true, 0));
    };
    let mut scanner = Scanner::new(marker, prompt);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if scanner.ready {
            scanner.buf.extend_from_slice(&chunk[..n]);
        } else {
            for ev in scanner.feed(&chunk[..n]) {
                let _ = tx.send(ev);
            }
        }
    }
    drop(tx);
    let (ready, prompts) = (scanner.ready, scanner.prompts);
    Ok((scanner.into_stderr(), ready, prompts))
}

/// The last lines of a text, on one line.
fn one_line(s: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(max_lines)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Become;
    use crate::connection::testinput::{Broken, noise, noise_bytes};

    fn sha1_hex(data: &[u8]) -> String {
        crate::modules::target::sha1_hex(data)
    }

    fn run(c: &mut LocalConnection, script: &str, stdin: Stdin<'_>) -> Output {
        c.exec_stdin(
            &Exec {
                script,
                ..Default::default()
            },
            stdin,
        )
        .unwrap()
    }

    #[test]
    fn streams_a_reader_through_the_script() {
        let mut c = LocalConnection;
        let n = 24 * 1024 * 1024 + 5;
        let want = sha1_hex(&noise_bytes(n));
        let out = run(&mut c, "sha1sum; echo e >&2", Stdin::Reader(&mut noise(n)));
        assert_eq!(out.rc, 0);
        assert_eq!(out.stdout_str(), format!("{want}  -\n"));
        assert_eq!(out.stderr_str(), "e\n");

        // 4 MiB of output before reading any input: no deadlock
        let out = run(
            &mut c,
            "head -c 4194304 /dev/zero; wc -c",
            Stdin::Reader(&mut noise(n)),
        );
        assert_eq!(out.stdout.len(), 4194304 + format!("{n}\n").len());
        // a script that ignores its input still finishes
        let out = run(&mut c, "echo done", Stdin::Reader(&mut noise(n)));
        assert_eq!(out.stdout_str(), "done\n");
        // bytes and nothing
        assert_eq!(run(&mut c, "cat", Stdin::Bytes(b"abc")).stdout, b"abc");
        assert_eq!(run(&mut c, "wc -c", Stdin::Null).stdout_str().trim(), "0");
        // the plain exec passes req.stdin
        let out = c
            .exec(&Exec {
                script: "tr a-z A-Z",
                stdin: Some(b"xy"),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.stdout, b"XY");
    }

    /// Writes into a vector until `limit` bytes, then fails.
    struct Limited(Vec<u8>, usize);

    impl Write for Limited {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0.len() >= self.1 {
                return Err(io::Error::other("controller disk full"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_streams_into_a_writer() {
        let mut c = LocalConnection;
        let req = Exec {
            script: "head -c 3000000 /dev/zero; echo e >&2; exit 3",
            ..Default::default()
        };
        let mut sink = Limited(Vec::new(), usize::MAX);
        let out = c.exec_stdout_to(&req, &mut sink).unwrap();
        assert_eq!((out.rc, out.stdout.len()), (3, 0));
        assert_eq!(out.stderr_str(), "e\n");
        assert_eq!(sink.0.len(), 3_000_000);
        // a writer that fails ends the command instead of leaving it blocked
        let endless = Exec {
            script: "cat /dev/zero",
            ..Default::default()
        };
        let err = c
            .exec_stdout_to(&endless, &mut Limited(Vec::new(), 1 << 20))
            .unwrap_err();
        assert!(err.to_string().contains("controller disk full"), "{err}");
    }

    #[test]
    fn a_failing_reader_fails_the_exec() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("got");
        let script = format!("cat > {}", f.display());
        let err = LocalConnection
            .exec_stdin(
                &Exec {
                    script: &script,
                    ..Default::default()
                },
                Stdin::Reader(&mut Broken(3)),
            )
            .unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        // the script saw end of input after what could be read
        assert_eq!(
            std::fs::metadata(&f).unwrap().len(),
            3 * STREAM_CHUNK as u64
        );
    }

    /// sudo as root never asks for a password, as with NOPASSWD: the password must not
    /// reach the script's input, and sudo's own chatter must not reach its stderr.
    #[test]
    fn become_password_never_reaches_the_script() {
        if current_user().as_deref() != Some("root") || which("sudo").is_none() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("needs root and sudo");
            }
            eprintln!("NOT RUN: needs root and sudo");
            return;
        }
        let mut c = LocalConnection;
        let b = Become {
            user: "nobody".into(),
            password: Some("never-sent-pw".into()),
        };
        let data = noise_bytes(3 * 1024 * 1024 + 7);
        for stdin in [
            Stdin::Bytes(&data),
            Stdin::Reader(&mut noise(data.len() as u64)),
        ] {
            let out = c
                .exec_stdin(
                    &Exec {
                        script: "id -un; cat | sha1sum; echo e >&2",
                        become_as: Some(&b),
                        ..Default::default()
                    },
                    stdin,
                )
                .unwrap();
            assert_eq!(out.rc, 0);
            assert_eq!(
                out.stdout_str(),
                format!("nobody\n{}  -\n", sha1_hex(&data))
            );
            assert_eq!(out.stderr_str(), "e\n");
        }
        // no input at all: the password is not the script's input either
        let out = c
            .exec(&Exec {
                script: "wc -c",
                become_as: Some(&b),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.stdout_str().trim(), "0");
        // sudo refuses: a clear error, not a module failure
        let bad = Become {
            user: "no-such-user-tbuddy".into(),
            password: None,
        };
        let err = c
            .exec(&Exec {
                script: "true",
                become_as: Some(&bad),
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("become no-such-user-tbuddy"),
            "{err}"
        );
        // becoming oneself needs no sudo
        let me = Become {
            user: "root".into(),
            password: Some("x".into()),
        };
        let out = c
            .exec(&Exec {
                script: "cat",
                stdin: Some(b"in"),
                become_as: Some(&me),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.stdout, b"in");
    }

    fn which(prog: &str) -> Option<std::path::PathBuf> {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(prog))
                .find(|p| p.is_file())
        })
    }
}
