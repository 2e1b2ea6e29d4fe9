//! The executor: runs a loaded playbook against resolved hosts, in check mode
//! (`plan`) or for real (`apply`), and reports through an event sink.

mod host;
mod lockstep;
mod play;
pub mod record;
mod tags;
mod task;

pub use tags::TagFilter;

use crate::diag::Diagnostic;
use crate::inventory::Inventory;
use crate::output::{Event, EventSink, HostStats};
use crate::plan::Plan;
use crate::playbook::{Playbook, Vars};
use indexmap::IndexMap;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Plan only: observe and diff, never apply.
    pub check: bool,
    pub diff: bool,
    pub tags: TagFilter,
    pub limit: Option<String>,
    pub extra_vars: Arc<Vars>,
    pub forks: usize,
    pub verbosity: u8,
    /// From `--ask-become-pass`; host vars (ansible_become_password) take precedence.
    pub become_password: Option<String>,
    /// `--become`/`--become-user`: defaults when no play, task or host says otherwise.
    pub become_default: bool,
    pub become_user_default: Option<String>,
    /// `--user`: the SSH login when the inventory names none.
    pub remote_user: Option<String>,
    /// Trust unknown SSH host keys on first use (known keys are still checked).
    pub accept_new_host_keys: bool,
    /// Where an apply is recorded (none in a plan).
    pub recorder: Option<Arc<record::Recorder>>,
    /// In a plan: keep a fingerprint of every path state observed (saved plans).
    pub fingerprint: bool,
    /// Stop the whole run at the first failed `serial` batch (see
    /// `FailedBatch`), so that it can be rolled back.
    pub stop_at_failed_batch: bool,
}

/// The batch a run stopped at under `RunOptions::stop_at_failed_batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedBatch {
    pub play: String,
    /// 1-based, within its play.
    pub number: usize,
    /// Every host of the batch, the healthy ones too.
    pub hosts: Vec<String>,
    pub why: String,
}

#[derive(Debug, Default)]
pub struct RunReport {
    pub stats: IndexMap<String, HostStats>,
    /// Every change made (apply) or that would be made (check), in order per host.
    pub plan: Plan,
    /// With `RunOptions::fingerprint`: per host, the path states the plan relied on.
    pub observed: std::collections::BTreeMap<String, crate::modules::target::Observed>,
    /// With `RunOptions::stop_at_failed_batch`: the batch the run stopped at.
    pub failed_batch: Option<FailedBatch>,
}

impl RunReport {
    /// Exit code as documented: 0 ok, 2 a host failed, 3 no host reachable.
    pub fn exit_code(&self) -> i32 {
        if self.stats.is_empty() {
            return 0;
        }
        let all_unreachable = self.stats.values().all(|s| s.unreachable > 0);
        if all_unreachable {
            return 3;
        }
        let any_failed = self
            .stats
            .values()
            .any(|s| s.failed > 0 || s.unreachable > 0);
        if any_failed { 2 } else { 0 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Load(#[from] Diagnostic),
    #[error("{0}")]
    Usage(String),
}

/// Runs every play of `playbook` and emits the recap.
pub fn run_playbook(
    playbook: &Playbook,
    inventory: &Inventory,
    opts: &RunOptions,
    sink: &dyn EventSink,
) -> Result<RunReport, RunError> {
    sink.emit(Event::PlaybookStart {
        playbook: playbook.path.display().to_string(),
        check_mode: opts.check,
    });
    let mut report = RunReport::default();
    let mut live = std::collections::HashMap::new();
    // Hosts that failed or were unreachable take no part in later plays.
    let mut dropped = std::collections::HashSet::new();
    for p in &playbook.plays {
        let outcome = play::run_play(p, inventory, opts, sink, live, &dropped)?;
        live = outcome.live;
        for (host, st) in outcome.stats {
            if st.failed > 0 || st.unreachable > 0 {
                dropped.insert(host.clone());
            }
            let total = report.stats.entry(host).or_default();
            add(total, &st);
        }
        report.plan.steps.extend(outcome.steps);
        for (host, seen) in outcome.observed {
            let all = report.observed.entry(host).or_default();
            for (path, fp) in seen {
                all.entry(path).or_insert(fp);
            }
        }
        if outcome.failed_batch.is_some() {
            // The rollout stops here: no later play starts.
            report.failed_batch = outcome.failed_batch;
            break;
        }
    }
    sink.emit(Event::Recap {
        hosts: report.stats.clone(),
    });
    Ok(report)
}

fn add(total: &mut HostStats, st: &HostStats) {
    total.ok += st.ok;
    total.changed += st.changed;
    total.unreachable += st.unreachable;
    total.failed += st.failed;
    total.skipped += st.skipped;
    total.rescued += st.rescued;
    total.ignored += st.ignored;
}
