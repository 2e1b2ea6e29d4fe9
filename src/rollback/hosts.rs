//! Rolling back what one run changed on some of its hosts, as a rollback run
//! of its own: used by `apply --rollback-on-failure` for the hosts of the
//! batch that failed its rollout.

use super::checks::{Refusal, refusal};
use super::execute::{RollbackRecap, apply_plan, record_unreachable};
use super::render::plan_text;
use super::{Connector, RollbackError, plan};
use crate::state::{RunId, RunMeta, StateStore};
use std::collections::HashSet;

#[derive(Debug, Default)]
pub struct HostsRollback {
    /// The rollback run, when one was recorded (not when refused or empty).
    pub run: Option<RunId>,
    pub recap: RollbackRecap,
    pub refused: Option<Refusal>,
    /// Changes of the run on these hosts that recorded nothing to undo
    /// (restarts, for one), as "host: task (location)". They stay done.
    pub not_undone: Vec<String>,
}

/// Plans the rollback of `run` on `hosts`, shows it through `say`, and
/// applies it as the run `meta` describes unless drift or an irreversible
/// change refuses it (`force` overrides both). Unreachable hosts fail
/// their part; the others are still rolled back.
pub fn roll_back_hosts(
    store: &dyn StateStore,
    run: RunId,
    hosts: &[String],
    force: bool,
    connector: &mut dyn Connector,
    meta: &RunMeta,
    say: &mut dyn FnMut(&str),
) -> Result<HostsRollback, RollbackError> {
    let wanted: HashSet<&str> = hosts.iter().map(String::as_str).collect();
    let want = |h: &str| wanted.contains(h);
    let (plan, mut conns) = plan(store, run, &want, force, connector)?;
    say(&plan_text(&plan, &meta.playbook));
    let mut out = HostsRollback {
        not_undone: not_undone(store, run, &wanted)?,
        ..Default::default()
    };
    if let Some(r) = refusal(&plan, force) {
        out.refused = Some(r);
        return Ok(out);
    }
    if plan.changes() == 0 && plan.unreachable.is_empty() {
        say("Nothing to roll back: the hosts already look as they did before the run.");
        return Ok(out);
    }
    let new_run = store.begin_run(meta)?;
    store.set_lock_run(&meta.inventory, new_run)?;
    say("");
    let mut recap = apply_plan(&plan, &mut conns, &*connector, store, new_run, say);
    for (host, why) in &plan.unreachable {
        say(&format!("fatal: [{host}]: UNREACHABLE! => {why}"));
        record_unreachable(&mut recap, store, new_run, host, why);
    }
    store.finish_run(new_run, recap.failed() == 0)?;
    out.run = Some(new_run);
    out.recap = recap;
    Ok(out)
}

/// Tasks of `run` on `hosts` that reported a change but journaled no undo.
fn not_undone(
    store: &dyn StateStore,
    run: RunId,
    hosts: &HashSet<&str>,
) -> Result<Vec<String>, RollbackError> {
    let detail = store.run(run)?;
    let journaled: HashSet<(&str, &str)> = detail
        .undo
        .iter()
        .map(|e| (e.host.as_str(), e.location.as_str()))
        .collect();
    let mut out: Vec<String> = Vec::new();
    for t in &detail.tasks {
        if t.changed
            && hosts.contains(t.host.as_str())
            && !journaled.contains(&(t.host.as_str(), t.location.as_str()))
        {
            let line = format!("{}: {} ({})", t.host, t.task, t.location);
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    Ok(out)
}
