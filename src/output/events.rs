//! The event stream every run produces; the console and `--json` render it.

use crate::modules::TextDiff;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
    Unreachable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unreachable => "unreachable",
        }
    }
}

/// Per-host counters, as in Ansible's PLAY RECAP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

// Events are built, emitted and dropped one at a time, so the size of the
// largest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    PlaybookStart {
        playbook: String,
        check_mode: bool,
    },
    PlayStart {
        name: String,
        hosts: Vec<String>,
        /// Tasks every host is offered before anything runs: fact gathering and
        /// the task entries the tag filter selects. Included files, rescue
        /// sections and handlers add to a host's count when they run.
        tasks_total: usize,
    },
    /// A task is about to run on `host`.
    TaskStart {
        host: String,
        task: String,
        location: String,
        handler: bool,
    },
    /// The outcome of a task (or one loop item) on a host.
    HostResult {
        host: String,
        task: String,
        location: String,
        status: Status,
        #[serde(skip_serializing_if = "Option::is_none")]
        item: Option<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        msg: Option<String>,
        /// What changed (or would change), one line.
        #[serde(skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        diff: Option<TextDiff>,
        /// Failed, but the task said ignore_errors.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        ignored: bool,
        /// A loop's per-item results are reported before this summary event.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        loop_summary: bool,
        /// The full result, for `-v` and `--json`.
        #[serde(skip_serializing_if = "Value::is_null")]
        result: Box<Value>,
    },
    Included {
        host: String,
        file: String,
        /// The task entries of the file the tag filter selects for this host.
        tasks: usize,
    },
    /// A block failed on `host` and its rescue section, `tasks` entries long, runs.
    Rescue {
        host: String,
        tasks: usize,
    },
    /// `host` is through with the current play (or batch); its counts for it.
    HostDone {
        host: String,
        stats: HostStats,
    },
    Warning {
        message: String,
    },
    NoHostsMatched {
        play: String,
    },
    Recap {
        hosts: IndexMap<String, HostStats>,
    },
}

pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}
