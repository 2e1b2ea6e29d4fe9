//! Why a rollback plan must not be applied as it stands: hosts drifted since
//! the run, or changes that have no undo.

use super::{RollbackPlan, drift_report};
use crate::state::RunId;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "refusing to roll back run {run}: {count} path(s) changed since that run\n{report}\
         Nothing was changed. Use --force to roll back anyway."
    )]
    Drift {
        run: RunId,
        count: usize,
        report: String,
    },
    #[error(
        "refusing to roll back run {run}: {count} change(s) cannot be undone\n{list}\n\
         Nothing was changed. Use --force to undo the rest and leave these as they are."
    )]
    Irreversible {
        run: RunId,
        count: usize,
        list: String,
    },
}

/// The first reason to refuse `plan`, unless `force`.
pub fn refusal(plan: &RollbackPlan, force: bool) -> Option<Refusal> {
    if force {
        return None;
    }
    let drifted = plan.drifted();
    if !drifted.is_empty() {
        return Some(Refusal::Drift {
            run: plan.run,
            count: drifted.len(),
            report: drift_report(plan),
        });
    }
    let irreversible = plan.irreversible();
    if !irreversible.is_empty() {
        let list: Vec<String> = irreversible
            .iter()
            .map(|s| {
                format!(
                    "  {}: {} ({})",
                    s.entry.host, s.entry.summary, s.entry.location
                )
            })
            .collect();
        return Some(Refusal::Irreversible {
            run: plan.run,
            count: irreversible.len(),
            list: list.join("\n"),
        });
    }
    None
}
