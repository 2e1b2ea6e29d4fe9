//! `become` through sudo, shared by every connection that runs a shell.
//!
//! The inner shell prints a random marker line on stderr as its first act, so the caller
//! knows exactly when sudo has let the script run. Until then stdin carries nothing but the
//! answer to *our* prompt: with NOPASSWD sudo (or a fresh timestamp) sudo never asks, and a
//! password written blindly would end up in the script's input. Everything sudo printed
//! before the marker (prompt, lecture, warnings) is dropped from the reported stderr.

use super::{Become, Exec, sh_quote, with_env};
use std::sync::atomic::{AtomicU64, Ordering};

/// What runs on the target, and how `become` talks to sudo.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The program and its arguments (`sh -c …` or `sudo … sh -c …`).
    pub argv: Vec<String>,
    /// sudo: the line the inner shell prints on stderr once sudo let it run.
    pub marker: Option<String>,
    /// sudo -S: our prompt, answered with the password (sent on stdin, never in argv).
    pub prompt: Option<String>,
    pub become_user: Option<String>,
}

impl Plan {
    /// The argv as one POSIX shell command line.
    pub fn command_line(&self) -> String {
        self.argv
            .iter()
            .map(|a| sh_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether stdin is held back until sudo has started the script.
    pub fn gated(&self) -> bool {
        self.marker.is_some()
    }
}

/// The plan for `req` when the commands run as `current_user` (login or process user).
pub(crate) fn plan(req: &Exec<'_>, current_user: Option<&str>) -> Plan {
    let script = with_env(req.script, req.env);
    match req.become_as {
        Some(b) if current_user != Some(b.user.as_str()) => become_plan(&script, b),
        _ => Plan {
            argv: vec!["sh".into(), "-c".into(), script],
            marker: None,
            prompt: None,
            become_user: None,
        },
    }
}

fn become_plan(script: &str, b: &Become) -> Plan {
    let id = nonce();
    let marker = format!("TBUDDY-BECOME-OK-{id}");
    let mut argv: Vec<String> = vec!["sudo".into(), "-H".into()];
    let prompt = b.password.as_ref().map(|_| {
        let prompt = format!("[tbuddy become {id}] password: ");
        argv.extend(["-S".into(), "-p".into(), prompt.clone()]);
        prompt
    });
    if prompt.is_none() {
        argv.push("-n".into());
    }
    argv.extend([
        "-u".into(),
        b.user.clone(),
        "sh".into(),
        "-c".into(),
        format!("echo {marker} >&2; {script}"),
    ]);
    Plan {
        argv,
        marker: Some(marker),
        prompt,
        become_user: Some(b.user.clone()),
    }
}

/// The password to write when sudo prompts, if this plan has a prompt.
pub(crate) fn password<'a>(req: &Exec<'a>, plan: &Plan) -> Option<&'a str> {
    req.become_as
        .and_then(|b| b.password.as_deref())
        .filter(|_| plan.prompt.is_some())
}

/// What the stderr scanner saw, in order, while sudo was still in charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Prompt,
    Ready,
}

/// Scans sudo's stderr for our prompt and marker. Everything up to and including the
/// marker line is sudo's (prompt, lecture, warnings) and is dropped from the output.
#[derive(Debug)]
pub(crate) struct Scanner {
    marker_line: Vec<u8>,
    prompt: Option<Vec<u8>>,
    pub buf: Vec<u8>,
    pos: usize,
    pub ready: bool,
    pub prompts: usize,
}

impl Scanner {
    pub fn new(marker: &str, prompt: Option<&str>) -> Self {
        Scanner {
            marker_line: format!("{marker}\n").into_bytes(),
            prompt: prompt.map(|p| p.as_bytes().to_vec()),
            buf: Vec::new(),
            pos: 0,
            ready: false,
            prompts: 0,
        }
    }

    /// Adds stderr bytes; returns the events they completed.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(data);
        let mut events = Vec::new();
        while !self.ready {
            let hay = &self.buf[self.pos..];
            let m = find(hay, &self.marker_line);
            let p = self.prompt.as_deref().and_then(|p| find(hay, p));
            match (p, m) {
                (Some(pi), mi) if mi.is_none_or(|mi| pi < mi) => {
                    self.pos += pi + self.prompt.as_ref().map_or(0, Vec::len);
                    self.prompts += 1;
                    events.push(Event::Prompt);
                }
                (_, Some(mi)) => {
                    let end = self.pos + mi + self.marker_line.len();
                    self.buf.drain(..end);
                    self.pos = 0;
                    self.ready = true;
                    events.push(Event::Ready);
                }
                _ => break,
            }
        }
        events
    }

    /// The stderr to report: after the marker, or (sudo failed) everything minus prompts.
    pub fn into_stderr(self) -> Vec<u8> {
        if self.ready {
            return self.buf;
        }
        match &self.prompt {
            Some(p) => {
                let s = String::from_utf8_lossy(&self.buf);
                s.replace(std::str::from_utf8(p).unwrap_or_default(), "")
                    .into_bytes()
            }
            None => self.buf,
        }
    }
}

/// Where `needle` first occurs in `hay` (None for an empty needle).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Where a writer is in the sudo conversation; see `Gate::next`.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    answered: bool,
    /// sudo asked a second time: the password was wrong.
    pub wrong_password: bool,
}

/// What the stdin writer does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Write the password line.
    Answer,
    /// The script runs: write its input.
    Proceed,
    /// Close stdin without writing input (sudo failed or asks again).
    GiveUp,
}

impl Gate {
    /// The writer's reaction to the next scanner event (`None`: stderr ended).
    pub fn next(&mut self, ev: Option<Event>) -> Step {
        match ev {
            Some(Event::Prompt) if !self.answered => {
                self.answered = true;
                Step::Answer
            }
            // Asked again: the password was wrong. Closing stdin makes sudo give up.
            Some(Event::Prompt) => {
                self.wrong_password = true;
                Step::GiveUp
            }
            Some(Event::Ready) => Step::Proceed,
            None => Step::GiveUp,
        }
    }
}

/// The error for a become that never reached the script. `said` is sudo's stderr, tidied.
pub(crate) fn become_error(
    user: &str,
    said: &str,
    wrong_password: bool,
    prompts: usize,
    rc: i32,
) -> String {
    if wrong_password || prompts > 1 {
        format!("become {user}: incorrect sudo password ({said})")
    } else if said.contains("a password is required") {
        format!(
            "become {user}: sudo needs a password; set ansible_become_password or use \
             --ask-become-pass ({said})"
        )
    } else {
        format!("become {user}: sudo failed with status {rc} ({said})")
    }
}

/// 16 hex digits from std's randomly keyed SipHash (no extra dependency). Used for
/// directory names and the sudo prompt/marker, where unpredictability is a nicety.
pub(crate) fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn become_plan_keeps_password_out_of_argv() {
        let b = Become {
            user: "postgres".into(),
            password: Some("s3cret-Pw".into()),
        };
        let env = vec![("A".to_string(), "1".to_string())];
        let req = Exec {
            script: "echo hi",
            become_as: Some(&b),
            env: &env,
            ..Default::default()
        };
        let p = plan(&req, Some("root"));
        let line = p.command_line();
        assert!(!line.contains("s3cret"));
        assert!(line.starts_with("sudo -H -S -p '[tbuddy become "));
        assert!(line.contains(" -u postgres sh -c "));
        assert!(line.contains("export A=1; echo hi"));
        assert_eq!(password(&req, &p), Some("s3cret-Pw"));
        let prompt = p.prompt.unwrap();
        assert!(!prompt.contains('%'), "sudo expands % escapes in prompts");

        let b = Become {
            user: "root".into(),
            password: None,
        };
        let req = Exec {
            script: "id",
            become_as: Some(&b),
            ..Default::default()
        };
        let p = plan(&req, Some("deploy"));
        assert!(p.command_line().starts_with("sudo -H -n -u root sh -c "));
        assert!(p.gated() && p.prompt.is_none());
        // already that user: no sudo at all
        let p = plan(&req, Some("root"));
        assert_eq!(p.command_line(), "sh -c id");
        assert!(!p.gated());
        assert_eq!(p.argv, ["sh", "-c", "id"]);
    }

    #[test]
    fn scanner_handles_split_prompt_and_marker() {
        let mut s = Scanner::new("MARK", Some("[p] pw: "));
        assert_eq!(s.feed(b"sudo: unable to resolve host x\nlecture [p] p"), []);
        assert_eq!(s.feed(b"w: "), [Event::Prompt]);
        assert_eq!(s.feed(b"\nMA"), []);
        assert_eq!(s.feed(b"RK\nreal stderr\n"), [Event::Ready]);
        assert!(s.ready);
        s.buf.extend_from_slice(b"more\n");
        assert_eq!(s.into_stderr(), b"real stderr\nmore\n");

        // wrong password: two prompts, no marker; prompts are removed from the report
        let mut s = Scanner::new("MARK", Some("[p] pw: "));
        assert_eq!(
            s.feed(b"[p] pw: Sorry, try again.\n[p] pw: "),
            [Event::Prompt, Event::Prompt]
        );
        s.feed(b"sudo: 1 incorrect password attempt\n");
        assert!(!s.ready);
        assert_eq!(
            String::from_utf8(s.into_stderr()).unwrap(),
            "Sorry, try again.\nsudo: 1 incorrect password attempt\n"
        );

        // no password needed: the marker comes first
        let mut s = Scanner::new("MARK", Some("[p] pw: "));
        assert_eq!(s.feed(b"MARK\n[p] pw: from the script\n"), [Event::Ready]);
        assert_eq!(s.into_stderr(), b"[p] pw: from the script\n");
    }

    #[test]
    fn gate_answers_once_and_gives_up_on_a_second_prompt() {
        let mut g = Gate::default();
        assert_eq!(g.next(Some(Event::Prompt)), Step::Answer);
        assert_eq!(g.next(Some(Event::Ready)), Step::Proceed);
        let mut g = Gate::default();
        assert_eq!(g.next(Some(Event::Prompt)), Step::Answer);
        assert_eq!(g.next(Some(Event::Prompt)), Step::GiveUp);
        assert!(g.wrong_password);
        let mut g = Gate::default();
        assert_eq!(g.next(None), Step::GiveUp);
        assert!(!g.wrong_password);
    }
}
