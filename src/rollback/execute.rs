//! Applying a rollback plan host by host and recording every step as a task
//! of the rollback run. A failed step stops its host: later steps may depend
//! on it.

use super::{Connections, Connector, RollbackPlan, apply_step, describe};
use crate::modules::Target;
use crate::state::{RunId, StateStore, TaskRecord};
use std::collections::BTreeMap;

/// What the rollback did on one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostRecap {
    pub ok: usize,
    pub changed: usize,
    pub failed: bool,
    pub unreachable: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RollbackRecap {
    pub hosts: BTreeMap<String, HostRecap>,
}

impl RollbackRecap {
    /// Hosts whose rollback failed or could not reach them.
    pub fn failed(&self) -> usize {
        self.hosts
            .values()
            .filter(|h| h.failed || h.unreachable)
            .count()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (host, r) in &self.hosts {
            out.push_str(&format!(
                "{host:<26} : ok={:<4} changed={:<4} unreachable={:<4} failed={}\n",
                r.ok,
                r.changed,
                u8::from(r.unreachable),
                u8::from(r.failed)
            ));
        }
        out
    }
}

/// Applies `plan` over the connections it was observed through, recording
/// each step in `new_run`; `say` gets one line per step.
pub fn apply_plan(
    plan: &RollbackPlan,
    conns: &mut Connections,
    connector: &dyn Connector,
    store: &dyn StateStore,
    new_run: RunId,
    say: &mut dyn FnMut(&str),
) -> RollbackRecap {
    let mut recap = RollbackRecap::default();
    for (host, steps) in &plan.hosts {
        let Some(conn) = conns.get_mut(host) else {
            continue;
        };
        let r = recap.hosts.entry(host.clone()).or_default();
        for step in steps {
            if !step.op.acts() {
                continue;
            }
            let started = std::time::Instant::now();
            let mut target = Target {
                conn: conn.as_mut(),
                become_as: connector.become_for(&step.record),
                env: Vec::new(),
                planned: None,
                seen: None,
            };
            let what = describe(&step.op);
            let result = apply_step(step, &mut target, store);
            let (status, summary) = match &result {
                Ok(()) => {
                    r.changed += 1;
                    r.ok += 1;
                    say(&format!("changed: [{host}] => {what}"));
                    ("changed", what.clone())
                }
                Err(e) => {
                    r.failed = true;
                    say(&format!("fatal: [{host}]: FAILED! => {what}: {e}"));
                    ("failed", format!("{what}: {e}"))
                }
            };
            let _ = store.record_task(
                new_run,
                &TaskRecord {
                    host: host.clone(),
                    task: format!("undo: {}", step.entry.task),
                    location: step.entry.location.clone(),
                    status: status.into(),
                    changed: result.is_ok(),
                    duration_ms: started.elapsed().as_millis() as u64,
                    summary: Some(summary),
                    diff: None,
                },
            );
            if r.failed {
                break;
            }
        }
    }
    recap
}

/// Records that a host could not be reached for its rollback.
pub fn record_unreachable(
    recap: &mut RollbackRecap,
    store: &dyn StateStore,
    new_run: RunId,
    host: &str,
    why: &str,
) {
    recap.hosts.entry(host.to_string()).or_default().unreachable = true;
    let _ = store.record_task(
        new_run,
        &TaskRecord {
            host: host.to_string(),
            task: "undo: reach the host".into(),
            location: String::new(),
            status: "unreachable".into(),
            changed: false,
            duration_ms: 0,
            summary: Some(why.to_string()),
            diff: None,
        },
    );
}
