//! The state behind the live progress view: which host of the running play is
//! waiting, running which task, or finished, with tasks done out of offered.
//! Built from the event stream alone and rendered as plain lines; `live`
//! draws them on a terminal.
//!
//! A host's `total` starts at the play's `tasks_total` (fact gathering plus the
//! task entries the tag filter selects) and grows when a file is included, a
//! rescue section runs or a handler runs. `done` counts the tasks the host has
//! finished, skipped ones included. A host that fails or ends early stops
//! short of its total.

use super::events::{Event, HostStats};
use indexmap::IndexMap;
use std::time::{Duration, Instant};

/// How a host finished the play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Changed,
    Failed,
    Unreachable,
}

impl Outcome {
    fn of(st: &HostStats) -> Outcome {
        if st.unreachable > 0 {
            Outcome::Unreachable
        } else if st.failed > 0 {
            Outcome::Failed
        } else if st.changed > 0 {
            Outcome::Changed
        } else {
            Outcome::Ok
        }
    }

    fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Changed => "changed",
            Outcome::Failed => "failed",
            Outcome::Unreachable => "unreachable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// Not started: a later serial batch, or no fork free yet.
    Waiting,
    /// Working; `task` is the task in progress and when it started, if any.
    Running {
        task: Option<(String, Instant)>,
    },
    Finished(Outcome),
}

#[derive(Debug, Clone)]
pub struct HostProgress {
    pub state: HostState,
    pub done: usize,
    pub total: usize,
    /// A task has started and not yet reported its end.
    open: bool,
}

impl HostProgress {
    fn new(total: usize) -> Self {
        HostProgress {
            state: HostState::Waiting,
            done: 0,
            total,
            open: false,
        }
    }

    /// The task in progress is over, whatever ended it.
    fn close(&mut self) {
        if self.open {
            self.open = false;
            self.done += 1;
            if let HostState::Running { task } = &mut self.state {
                *task = None;
            }
        }
    }

    /// The lower the sooner a host is shown when not all fit.
    fn rank(&self) -> u8 {
        match self.state {
            HostState::Finished(Outcome::Failed | Outcome::Unreachable) => 0,
            HostState::Running { .. } => 1,
            HostState::Finished(Outcome::Changed) => 2,
            HostState::Finished(Outcome::Ok) => 3,
            HostState::Waiting => 4,
        }
    }

    fn summary_word(&self) -> &'static str {
        match self.state {
            HostState::Waiting => "waiting",
            HostState::Running { .. } => "running",
            HostState::Finished(o) => o.word(),
        }
    }
}

/// The running play as the live view shows it.
#[derive(Debug, Default)]
pub struct Progress {
    started: Option<Instant>,
    play: Option<String>,
    hosts: IndexMap<String, HostProgress>,
}

impl Progress {
    /// Whether there is a play in progress to show.
    pub fn active(&self) -> bool {
        self.play.is_some() && !self.hosts.is_empty()
    }

    pub fn host(&self, name: &str) -> Option<&HostProgress> {
        self.hosts.get(name)
    }

    pub fn apply(&mut self, event: &Event, now: Instant) {
        match event {
            Event::PlaybookStart { .. } => {
                self.started.get_or_insert(now);
            }
            Event::PlayStart {
                name,
                hosts,
                tasks_total,
            } => {
                self.started.get_or_insert(now);
                self.play = Some(name.clone());
                self.hosts = hosts
                    .iter()
                    .map(|h| (h.clone(), HostProgress::new(*tasks_total)))
                    .collect();
            }
            Event::TaskStart {
                host,
                task,
                handler,
                ..
            } => {
                let h = self.entry(host);
                h.close();
                if *handler {
                    h.total += 1;
                }
                h.open = true;
                h.state = HostState::Running {
                    task: Some((task.clone(), now)),
                };
            }
            // Loop items report before the task's own result, which ends it.
            Event::HostResult { host, item, .. } if item.is_none() => self.entry(host).close(),
            Event::HostResult { .. } => {}
            Event::Included { host, tasks, .. } => {
                let h = self.entry(host);
                h.close();
                h.total += tasks;
            }
            Event::Rescue { host, tasks } => self.entry(host).total += tasks,
            Event::HostDone { host, stats } => {
                let h = self.entry(host);
                h.close();
                h.state = HostState::Finished(Outcome::of(stats));
            }
            Event::Recap { .. } => {
                self.play = None;
                self.hosts.clear();
            }
            Event::NoHostsMatched { .. } | Event::Warning { .. } => {}
        }
    }

    fn entry(&mut self, host: &str) -> &mut HostProgress {
        self.hosts
            .entry(host.to_string())
            .or_insert_with(|| HostProgress::new(0))
    }

    /// The view as at most `max_lines` lines of at most `width - 1` columns:
    /// an overall line, then one line per host. When the hosts do not fit,
    /// failed and running hosts come first and the rest are summed up.
    pub fn render(&self, now: Instant, width: usize, max_lines: usize, color: bool) -> Vec<String> {
        let Some(play) = &self.play else {
            return vec![];
        };
        if self.hosts.is_empty() || max_lines == 0 {
            return vec![];
        }
        let width = width.saturating_sub(1).max(20);
        let finished = self
            .hosts
            .values()
            .filter(|h| matches!(h.state, HostState::Finished(_)))
            .count();
        let running = self
            .hosts
            .values()
            .filter(|h| matches!(h.state, HostState::Running { .. }))
            .count();
        let failed = self.hosts.values().filter(|h| h.rank() == 0).count();
        let mut overall = format!("{finished}/{} hosts done", self.hosts.len());
        if running > 0 {
            overall.push_str(&format!(" · {running} running"));
        }
        if failed > 0 {
            overall.push_str(&format!(" · {failed} failed"));
        }
        let since = self.started.map_or(Duration::ZERO, |s| now - s);
        overall.push_str(&format!(" · {} · PLAY [{play}]", elapsed(since)));
        let mut lines = vec![truncate(&overall, width)];

        let mut shown: Vec<(&String, &HostProgress)> = self.hosts.iter().collect();
        let mut rest: Vec<&HostProgress> = Vec::new();
        if shown.len() + 1 > max_lines {
            let slots = max_lines.saturating_sub(2);
            shown.sort_by_key(|(_, h)| h.rank());
            rest = shown.split_off(slots).into_iter().map(|(_, h)| h).collect();
        }
        let name_width = shown
            .iter()
            .map(|(n, _)| n.chars().count())
            .max()
            .unwrap_or(0)
            .min(30);
        let count_width = shown
            .iter()
            .map(|(_, h)| digits(h.total.max(h.done)))
            .max()
            .unwrap_or(1);
        for (name, h) in shown {
            let total = h.total.max(h.done);
            let lead = format!(
                "  {name:<name_width$}  {:>count_width$}/{total:<count_width$}  ",
                h.done
            );
            let (word, detail) = match &h.state {
                HostState::Running {
                    task: Some((task, started)),
                } => ("running", format!(" {}  {task}", elapsed(now - *started))),
                _ => (h.summary_word(), String::new()),
            };
            lines.push(paint_line(
                &lead,
                word,
                &detail,
                width,
                color.then(|| code(&h.state)),
            ));
        }
        if !rest.is_empty() && lines.len() < max_lines {
            lines.push(truncate(&more(&rest), width));
        }
        lines
    }
}

/// `… and 37 more: 30 ok, 7 waiting`
fn more(rest: &[&HostProgress]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    let mut sorted = rest.to_vec();
    sorted.sort_by_key(|h| h.rank());
    for h in sorted {
        let word = h.summary_word();
        match counts.last_mut() {
            Some((w, n)) if *w == word => *n += 1,
            _ => counts.push((word, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
    format!("  … and {} more: {}", rest.len(), parts.join(", "))
}

fn code(state: &HostState) -> &'static str {
    match state {
        HostState::Waiting => "2",
        HostState::Running { .. } => "36",
        HostState::Finished(Outcome::Ok) => "32",
        HostState::Finished(Outcome::Changed) => "33",
        HostState::Finished(Outcome::Failed | Outcome::Unreachable) => "31",
    }
}

/// `lead` + `word` + `detail` cut to `width` columns, `word` in colour.
fn paint_line(lead: &str, word: &str, detail: &str, width: usize, color: Option<&str>) -> String {
    let plain = truncate(&format!("{lead}{word}{detail}"), width);
    let Some(code) = color else {
        return plain;
    };
    let chars: Vec<char> = plain.chars().collect();
    let start = lead.chars().count().min(chars.len());
    let end = (start + word.chars().count()).min(chars.len());
    if start == end {
        return plain;
    }
    let part = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    format!(
        "{}\x1b[{code}m{}\x1b[0m{}",
        part(0, start),
        part(start, end),
        part(end, chars.len())
    )
}

/// At most `width` characters; a cut line ends in `…`.
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

/// `7s`, `3m05s`, `1h02m`.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// How many lines the view may take on a terminal `height` rows tall: half the
/// screen (at least 5 rows) so the scrolling output stays readable, and never
/// the whole screen.
pub fn max_lines(height: usize) -> usize {
    let cap = height.saturating_sub(1).max(1);
    (height / 2).max(5).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn play(progress: &mut Progress, hosts: &[&str], total: usize, t: Instant) {
        progress.apply(
            &Event::PlayStart {
                name: "web".into(),
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                tasks_total: total,
            },
            t,
        );
    }

    fn start(progress: &mut Progress, host: &str, task: &str, handler: bool, t: Instant) {
        progress.apply(
            &Event::TaskStart {
                host: host.into(),
                task: task.into(),
                location: "site.yml:3:7".into(),
                handler,
            },
            t,
        );
    }

    fn result(progress: &mut Progress, host: &str, item: Option<Value>, t: Instant) {
        progress.apply(
            &Event::HostResult {
                host: host.into(),
                task: "t".into(),
                location: "site.yml:3:7".into(),
                status: crate::output::Status::Ok,
                item,
                msg: None,
                summary: None,
                diff: None,
                ignored: false,
                loop_summary: false,
                result: Box::new(Value::Null),
            },
            t,
        );
    }

    fn done(progress: &mut Progress, host: &str, stats: HostStats, t: Instant) {
        progress.apply(
            &Event::HostDone {
                host: host.into(),
                stats,
            },
            t,
        );
    }

    #[test]
    fn elapsed_is_short() {
        assert_eq!(elapsed(Duration::from_millis(900)), "0s");
        assert_eq!(elapsed(Duration::from_secs(59)), "59s");
        assert_eq!(elapsed(Duration::from_secs(65)), "1m05s");
        assert_eq!(elapsed(Duration::from_secs(3600 + 120 + 7)), "1h02m");
    }

    #[test]
    fn counts_follow_the_events() {
        let t = Instant::now();
        let mut p = Progress::default();
        play(&mut p, &["a", "b"], 3, t);
        assert_eq!(p.host("a").unwrap().state, HostState::Waiting);
        start(&mut p, "a", "one", false, t);
        // loop items do not end the task; its own result does
        result(&mut p, "a", Some("x".into()), t);
        assert_eq!(p.host("a").unwrap().done, 0);
        result(&mut p, "a", None, t);
        assert_eq!(p.host("a").unwrap().done, 1);
        // an include ends, and offers the included tasks
        start(&mut p, "a", "include", false, t);
        p.apply(
            &Event::Included {
                host: "a".into(),
                file: "more.yml".into(),
                tasks: 2,
            },
            t,
        );
        let a = p.host("a").unwrap();
        assert_eq!((a.done, a.total), (2, 5));
        // a task with no result of its own (run_once elsewhere) ends at the next start
        start(&mut p, "a", "once", false, t);
        start(&mut p, "a", "handler", true, t);
        let a = p.host("a").unwrap();
        assert_eq!((a.done, a.total), (3, 6));
        done(
            &mut p,
            "a",
            HostStats {
                ok: 4,
                changed: 1,
                ..Default::default()
            },
            t,
        );
        let a = p.host("a").unwrap();
        assert_eq!((a.done, a.total), (4, 6));
        assert_eq!(a.state, HostState::Finished(Outcome::Changed));
        p.apply(
            &Event::Rescue {
                host: "b".into(),
                tasks: 2,
            },
            t,
        );
        assert_eq!(p.host("b").unwrap().total, 5);
        done(
            &mut p,
            "b",
            HostStats {
                failed: 1,
                ..Default::default()
            },
            t,
        );
        assert_eq!(
            p.host("b").unwrap().state,
            HostState::Finished(Outcome::Failed)
        );
        p.apply(
            &Event::Recap {
                hosts: IndexMap::new(),
            },
            t,
        );
        assert!(!p.active());
    }

    #[test]
    fn renders_one_line_per_host() {
        let t = Instant::now();
        let mut p = Progress::default();
        play(&mut p, &["web1", "db", "web2"], 4, t);
        start(&mut p, "web1", "install packages", false, t);
        start(&mut p, "db", "one", false, t);
        result(&mut p, "db", None, t);
        done(
            &mut p,
            "db",
            HostStats {
                ok: 1,
                ..Default::default()
            },
            t,
        );
        let lines = p.render(t + Duration::from_secs(3), 80, 10, false);
        assert_eq!(
            lines,
            vec![
                "1/3 hosts done · 1 running · 3s · PLAY [web]",
                "  web1  0/4  running 3s  install packages",
                "  db    1/4  ok",
                "  web2  0/4  waiting",
            ]
        );
    }

    #[test]
    fn lines_fit_the_width_and_colour_only_the_state() {
        let t = Instant::now();
        let mut p = Progress::default();
        play(&mut p, &["web1"], 2, t);
        start(&mut p, "web1", &"x".repeat(200), false, t);
        let lines = p.render(t, 40, 10, false);
        assert!(lines.iter().all(|l| l.chars().count() <= 39), "{lines:?}");
        assert!(lines[1].ends_with('…'));
        let colored = p.render(t, 40, 10, true);
        assert!(colored[1].starts_with("  web1  0/2  \x1b[36mrunning\x1b[0m 0s  xxx"));
    }

    #[test]
    fn many_hosts_are_bounded_with_failed_and_running_first() {
        let t = Instant::now();
        let mut p = Progress::default();
        let names: Vec<String> = (0..50).map(|i| format!("h{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        play(&mut p, &refs, 2, t);
        for n in &names[..40] {
            done(
                &mut p,
                n,
                HostStats {
                    ok: 2,
                    ..Default::default()
                },
                t,
            );
        }
        done(
            &mut p,
            "h45",
            HostStats {
                failed: 1,
                ..Default::default()
            },
            t,
        );
        start(&mut p, "h47", "slow", false, t);
        let height = 24;
        let lines = p.render(t, 100, max_lines(height), false);
        assert_eq!(lines.len(), 12, "{lines:#?}");
        assert!(lines[1].starts_with("  h45  0/2  failed"), "{lines:#?}");
        assert!(lines[2].starts_with("  h47  0/2  running"), "{lines:#?}");
        assert_eq!(lines[11], "  … and 40 more: 32 ok, 8 waiting");
        assert!(lines[0].starts_with("41/50 hosts done · 1 running · 1 failed"));
        // a tiny terminal still gets a bounded view
        assert_eq!(max_lines(3), 2);
        assert_eq!(p.render(t, 100, 2, false).len(), 2);
        assert_eq!(p.render(t, 100, 1, false).len(), 1);
    }
}
