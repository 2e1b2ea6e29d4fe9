//! A persistent shell on the target: one long-lived `sh` (under sudo when becoming)
//! that runs many scripts, one after the other, over a single channel.
//!
//! Starting a command the ordinary way costs a new SSH session, a login shell and, with
//! `become`, a sudo (PAM) session: about 15 ms of the host's CPU each time, which is most of
//! a run's cost on a busy fleet. The persistent shell pays that once per host and user.
//!
//! Protocol (the shell's program is `LOOP`): the controller sends a header line
//! `MARK SCRIPT_LEN INPUT_LEN|-`, then the script's bytes, then the input's bytes, then
//! `MARK` on a line of its own. The shell stores script and input in its private temporary
//! directory (`head -c` reads exactly the bytes asked for, so nothing of the next frame is
//! consumed) and reads the closing line: a frame cut short (the controller died) ends the
//! shell instead of running a truncated script or input. Then it prints `MARK R` on stdout once the script
//! is about to start, runs it as `sh SCRIPT <INPUT` (stdout and stderr straight to the
//! channel), then prints `MARK RC` on stdout and `MARK` on stderr. `MARK` is random for each
//! command and travels only on stdin, so no script can print it by accident, even by listing
//! processes. The script runs in its own `sh` process: nothing it sets (variables, `cd`,
//! `umask`, `exit`) leaks into the next one, and it never reads the channel itself.
//!
//! Scripts with unbounded input (`Stdin::Reader`) keep the ordinary path, since their length
//! is unknown when the header is written.

use super::Output;
use super::sudo::{find, nonce};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The line the shell prints once it is ready for scripts.
pub(crate) const READY: &str = "TBUDDY-SHELL-READY";

/// The shell's program. Exit statuses 97/98 mean it could not create or fill its
/// temporary files; the controller then falls back to one session per command.
pub(crate) const LOOP: &str = r#"d=$(mktemp -d "${TMPDIR:-/tmp}/.tbuddy-sh.XXXXXXXX") || exit 97
trap 'rm -rf "$d"' EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM
echo TBUDDY-SHELL-READY
while IFS=' ' read -r m n i; do
  head -c "$n" >"$d/s" || exit 98
  if [ "$i" = - ]; then f=/dev/null; else head -c "$i" >"$d/i" || exit 98; f=$d/i; fi
  IFS= read -r e || exit 98
  [ "$e" = "$m" ] || exit 98
  printf '%s R\n' "$m"
  sh "$d/s" <"$f"
  r=$?
  if [ "$f" != /dev/null ]; then : >"$d/i"; fi
  printf '%s %s\n' "$m" "$r"
  printf '%s\n' "$m" >&2
done
"#;

/// Why a script did not complete on the shell.
#[derive(Debug)]
pub(crate) enum ShellError {
    /// The shell ended before the script started: running it elsewhere is safe.
    NotStarted(String),
    /// The shell ended while the script ran; it may have partly run.
    Lost(String),
}

/// The shell's three streams, and whatever arrived after the last end marker.
pub(crate) struct ShellIo<W, O, E> {
    stdin: W,
    stdout: O,
    stderr: E,
    out_buf: Vec<u8>,
    err_buf: Vec<u8>,
}

impl<W, O, E> ShellIo<W, O, E>
where
    W: AsyncWrite + Unpin + Send,
    O: AsyncRead + Unpin + Send,
    E: AsyncRead + Unpin + Send,
{
    /// `err_buf` is stderr already read past sudo's marker while starting.
    pub fn new(stdin: W, stdout: O, stderr: E, err_buf: Vec<u8>) -> Self {
        ShellIo {
            stdin,
            stdout,
            stderr,
            out_buf: Vec::new(),
            err_buf,
        }
    }

    /// Waits for the ready line. On failure, says what the shell printed on stderr.
    pub async fn wait_ready(&mut self) -> Result<(), String> {
        let line = format!("{READY}\n");
        match read_until(&mut self.stdout, &mut self.out_buf, line.as_bytes()).await {
            Ok(Some(at)) => {
                self.out_buf.drain(..at + line.len());
                Ok(())
            }
            Ok(None) => {
                // Collect what it said (it has exited, so stderr ends too).
                let _ = self.stderr.read_to_end(&mut self.err_buf).await;
                Err(String::from_utf8_lossy(&self.err_buf).trim().to_string())
            }
            Err(e) => Err(format!("reading from the shell: {e}")),
        }
    }

    /// Runs one script with `input` (None: `/dev/null`) and reports how it ended.
    pub async fn run(&mut self, script: &str, input: Option<&[u8]>) -> Result<Output, ShellError> {
        let mark = format!("TBUDDY-END-{}{}", nonce(), nonce());
        let header = format!(
            "{mark} {} {}\n",
            script.len(),
            input.map_or_else(|| "-".to_string(), |b| b.len().to_string())
        );
        let started = format!("{mark} R\n");
        let end_out = format!("{mark} ");
        let end_err = format!("{mark}\n");

        let stdin = &mut self.stdin;
        let end_err = &end_err;
        let writer = async move {
            stdin.write_all(header.as_bytes()).await?;
            stdin.write_all(script.as_bytes()).await?;
            if let Some(b) = input {
                stdin.write_all(b).await?;
            }
            stdin.write_all(end_err.as_bytes()).await?;
            stdin.flush().await
        };
        let (stdout, out_buf) = (&mut self.stdout, &mut self.out_buf);
        let out_reader = async move {
            // Anything before the start line came from an earlier script's leftovers
            // (a background process still writing): it is not this script's output.
            let Some(at) = read_until(stdout, out_buf, started.as_bytes()).await? else {
                return Ok::<_, std::io::Error>(Outcome::NotStarted);
            };
            out_buf.drain(..at + started.len());
            let Some(at) = read_until(stdout, out_buf, end_out.as_bytes()).await? else {
                return Ok(Outcome::Lost);
            };
            let body: Vec<u8> = out_buf.drain(..at).collect();
            out_buf.drain(..end_out.len());
            let Some(nl) = read_until(stdout, out_buf, b"\n").await? else {
                return Ok(Outcome::Lost);
            };
            let rc_text: Vec<u8> = out_buf.drain(..=nl).collect();
            let rc = std::str::from_utf8(&rc_text[..nl])
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .unwrap_or(-1);
            Ok(Outcome::Done(body, rc))
        };
        let (stderr, err_buf) = (&mut self.stderr, &mut self.err_buf);
        let err_reader = async move {
            let found = read_until(stderr, err_buf, end_err.as_bytes()).await?;
            Ok::<_, std::io::Error>(found.map(|at| {
                let body: Vec<u8> = err_buf.drain(..at).collect();
                err_buf.drain(..end_err.len());
                body
            }))
        };
        let (w, out, err) = tokio::join!(writer, out_reader, err_reader);
        let said = |err: &Result<Option<Vec<u8>>, std::io::Error>, buf: &[u8]| {
            let text = match err {
                Ok(Some(b)) => String::from_utf8_lossy(b).into_owned(),
                _ => String::from_utf8_lossy(buf).into_owned(),
            };
            let text = text.trim();
            if text.is_empty() {
                String::new()
            } else {
                format!(" ({text})")
            }
        };
        match out {
            Ok(Outcome::Done(stdout, rc)) => match err {
                Ok(Some(stderr)) => Ok(Output { rc, stdout, stderr }),
                Ok(None) => Err(ShellError::Lost(
                    "the remote shell's error output ended early".into(),
                )),
                Err(e) => Err(ShellError::Lost(format!("reading remote stderr: {e}"))),
            },
            Ok(Outcome::NotStarted) => Err(ShellError::NotStarted(format!(
                "the remote shell ended before the script started{}{}",
                w.err().map(|e| format!(": {e}")).unwrap_or_default(),
                said(&err, &self.err_buf)
            ))),
            Ok(Outcome::Lost) => Err(ShellError::Lost(format!(
                "the remote shell ended while the script ran{}",
                said(&err, &self.err_buf)
            ))),
            Err(e) => Err(ShellError::Lost(format!("reading remote stdout: {e}"))),
        }
    }
}

enum Outcome {
    NotStarted,
    Lost,
    Done(Vec<u8>, i32),
}

/// Reads into `buf` until it contains `needle`; returns its offset, or None at end of file.
async fn read_until<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    needle: &[u8],
) -> std::io::Result<Option<usize>> {
    let mut from = 0;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        if let Some(at) = find(&buf[from..], needle) {
            return Ok(Some(from + at));
        }
        from = buf.len().saturating_sub(needle.len() - 1);
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

    type LocalShell = ShellIo<ChildStdin, ChildStdout, ChildStderr>;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    async fn start() -> (Child, LocalShell) {
        let mut child = Command::new("sh")
            .args(["-c", LOOP])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut io = ShellIo::new(
            child.stdin.take().unwrap(),
            child.stdout.take().unwrap(),
            child.stderr.take().unwrap(),
            Vec::new(),
        );
        io.wait_ready().await.unwrap();
        (child, io)
    }

    #[test]
    fn runs_scripts_in_turn_with_exact_output_and_status() {
        rt().block_on(async {
            let (_child, mut sh) = start().await;
            let out = sh.run("echo hi; echo err >&2; exit 3", None).await.unwrap();
            assert_eq!(out.stdout, b"hi\n");
            assert_eq!(out.stderr, b"err\n");
            assert_eq!(out.rc, 3);

            // no trailing newline, binary bytes, input of exact length
            let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
            let out = sh.run("cat; printf end", Some(&data)).await.unwrap();
            assert_eq!(&out.stdout[..data.len()], &data[..]);
            assert_eq!(&out.stdout[data.len()..], b"end");
            assert_eq!(out.rc, 0);

            // nothing leaks between scripts: variables, cwd, umask, exit
            let out = sh
                .run("X=1; cd /; umask 077; export Y=2; exit 0", None)
                .await
                .unwrap();
            assert_eq!(out.rc, 0);
            let out = sh
                .run(r#"echo "[$X][$Y][$m][$d][$i]"; umask; pwd"#, None)
                .await
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(text.starts_with("[][][][][]\n"), "{text}");
            assert_ne!(text.lines().nth(1), Some("0077"), "{text}");

            // the script cannot read the channel: its stdin is /dev/null or its input
            let out = sh.run("cat; echo after", None).await.unwrap();
            assert_eq!(out.stdout, b"after\n");
            let out = sh.run("", Some(b"")).await.unwrap();
            assert_eq!((out.rc, out.stdout.len()), (0, 0));
        });
    }

    #[test]
    fn a_frame_cut_short_runs_nothing() {
        rt().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("ran");
            let (mut child, mut sh) = start().await;
            let script = format!("echo partial >{}; exit 0", f.display());
            let frame = format!("M {} -\n{}", script.len() + 10, script);
            sh.stdin.write_all(frame.as_bytes()).await.unwrap();
            drop(sh);
            let status = child.wait().await.unwrap();
            assert_eq!(status.code(), Some(98));
            assert!(!f.exists());
        });
    }

    #[test]
    fn a_script_that_kills_the_shell_is_reported_and_the_next_does_not_start() {
        rt().block_on(async {
            let (_child, mut sh) = start().await;
            let err = sh.run("echo partial; kill -9 $PPID", None).await;
            assert!(matches!(err, Err(ShellError::Lost(_))), "{err:?}");
            let err = sh.run("echo never", None).await;
            assert!(matches!(err, Err(ShellError::NotStarted(_))), "{err:?}");
        });
    }

    #[test]
    fn leftover_output_of_a_background_process_is_not_the_next_scripts() {
        rt().block_on(async {
            let (_child, mut sh) = start().await;
            let out = sh
                .run("(sleep 0.2; echo stray) & echo now", None)
                .await
                .unwrap();
            assert_eq!(out.stdout, b"now\n");
            std::thread::sleep(std::time::Duration::from_millis(400));
            let out = sh.run("echo mine", None).await.unwrap();
            assert_eq!(out.stdout, b"mine\n");
        });
    }
}
