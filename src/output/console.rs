//! Human output in Ansible's familiar shape: PLAY/TASK headers, one line per
//! host result, unified diffs with `--diff`, and the PLAY RECAP.

use super::diff::unified;
use super::events::{Event, EventSink, HostStats, Status};
use super::live::LiveBlock;
use std::io::Write;
use std::sync::Mutex;

pub struct Console {
    color: bool,
    show_diff: bool,
    verbosity: u8,
    /// The last task header printed, so concurrent hosts share one header.
    last_header: Mutex<String>,
    /// The live progress view under the lines, on a terminal.
    live: Option<LiveBlock>,
}

impl Console {
    pub fn new(color: bool, show_diff: bool, verbosity: u8) -> Self {
        Console {
            color,
            show_diff,
            verbosity,
            last_header: Mutex::new(String::new()),
            live: None,
        }
    }

    /// Adds the live progress view; the lines printed stay the same.
    pub fn with_live(mut self, live: LiveBlock) -> Self {
        self.live = Some(live);
        self
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn status_color(status: Status) -> &'static str {
        match status {
            Status::Ok => "32",
            Status::Changed => "33",
            Status::Failed | Status::Unreachable => "31",
            Status::Skipped => "36",
        }
    }

    fn header(kind: &str, name: &str) -> String {
        let title = format!("{kind} [{name}] ");
        let stars = 80usize.saturating_sub(title.chars().count()).max(3);
        format!("\n{title}{}", "*".repeat(stars))
    }

    fn render(&self, event: &Event) -> Option<String> {
        Some(match event {
            Event::PlaybookStart { .. } => return None,
            Event::PlayStart { name, .. } => {
                *self.last_header.lock().expect("header lock") = String::new();
                Self::header("PLAY", name)
            }
            Event::NoHostsMatched { .. } => "skipping: no hosts matched".into(),
            Event::TaskStart {
                task,
                location,
                handler,
                ..
            } => {
                let key = format!("{location}|{task}");
                let mut last = self.last_header.lock().expect("header lock");
                if *last == key {
                    return None;
                }
                *last = key;
                let kind = if *handler { "RUNNING HANDLER" } else { "TASK" };
                let mut s = Self::header(kind, task);
                if self.verbosity >= 2 {
                    s.push_str(&format!("\ntask path: {location}"));
                }
                s
            }
            Event::HostResult {
                host,
                location,
                status,
                item,
                msg,
                summary,
                diff,
                ignored,
                loop_summary,
                result,
                ..
            } => {
                if *loop_summary && *status != Status::Failed {
                    return None;
                }
                let mut out = String::new();
                if self.show_diff
                    && let Some(d) = diff
                {
                    out.push_str(&unified(d));
                }
                let word = match status {
                    Status::Ok => "ok",
                    Status::Changed => "changed",
                    Status::Failed if *ignored => "failed",
                    Status::Failed => "fatal",
                    Status::Skipped => "skipping",
                    Status::Unreachable => "fatal",
                };
                let mut line = format!("{word}: [{host}]");
                if let Some(item) = item {
                    line.push_str(&format!(" => (item={})", label(item)));
                }
                match status {
                    Status::Failed | Status::Unreachable => {
                        let what = if *status == Status::Unreachable {
                            "UNREACHABLE!"
                        } else {
                            "FAILED!"
                        };
                        line = format!(
                            "{line}: {what} => {}",
                            serde_json::to_string(&compact(result, msg)).unwrap_or_default()
                        );
                    }
                    _ => {
                        if let Some(shown) = shown_value(result, self.verbosity) {
                            line.push_str(&format!(" => {shown}"));
                        } else if self.verbosity >= 1
                            && let Some(s) = summary
                        {
                            line.push_str(&format!(" => {s}"));
                        }
                    }
                }
                if *status == Status::Failed && !*ignored {
                    line.push_str(&format!("\n  task: {location}"));
                }
                out.push_str(&self.paint(Self::status_color(*status), &line));
                if *ignored {
                    out.push_str(&format!("\n{}", self.paint("36", "...ignoring")));
                }
                out
            }
            Event::Included { host, file, .. } => format!("included: {file} for {host}"),
            Event::Rescue { .. } | Event::HostDone { .. } => return None,
            Event::Warning { message } => self.paint("35", &format!("[WARNING]: {message}")),
            Event::Recap { hosts } => {
                let mut s = format!("\nPLAY RECAP {}", "*".repeat(69));
                for (host, st) in hosts {
                    s.push('\n');
                    s.push_str(&recap_line(host, st));
                }
                s.push('\n');
                s
            }
        })
    }
}

/// `host : ok=N changed=N ...` exactly as Ansible lays it out.
pub fn recap_line(host: &str, st: &HostStats) -> String {
    format!(
        "{host:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={:<4}",
        st.ok, st.changed, st.unreachable, st.failed, st.skipped, st.rescued, st.ignored
    )
}

fn label(item: &serde_json::Value) -> String {
    match item {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Debug output and `-v` results are shown as indented JSON, like Ansible.
fn shown_value(result: &serde_json::Value, verbosity: u8) -> Option<String> {
    let obj = result.as_object()?;
    if let Some(v) = obj.get("__debug__") {
        return Some(pretty4(v));
    }
    if verbosity >= 1 {
        let mut clean = obj.clone();
        clean.retain(|k, _| !k.starts_with("__"));
        return serde_json::to_string(&clean).ok();
    }
    None
}

/// JSON indented by four spaces, as Ansible prints results.
fn pretty4(v: &serde_json::Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    let _ = v.serialize(&mut ser);
    String::from_utf8(buf).unwrap_or_default()
}

fn compact(result: &serde_json::Value, msg: &Option<String>) -> serde_json::Value {
    let mut m = result.as_object().cloned().unwrap_or_default();
    m.retain(|k, _| !k.starts_with("__"));
    if let Some(msg) = msg {
        m.entry("msg").or_insert(msg.clone().into());
    }
    serde_json::Value::Object(m)
}

impl EventSink for Console {
    fn emit(&self, event: Event) {
        if let Some(live) = &self.live {
            live.show(&event, || self.render(&event));
            return;
        }
        if let Some(text) = self.render(&event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_matches_ansible_layout() {
        let st = HostStats {
            ok: 3,
            changed: 1,
            ..HostStats::default()
        };
        assert_eq!(
            recap_line("localhost", &st),
            "localhost                  : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   "
        );
    }
}
