//! Making a saved plan from a `plan` run and checking one before `apply FILE`.

use super::store::{project_dir, redact_vars};
use super::{CliError, RunArgs};
use std::path::PathBuf;
use tbuddy_deploy::inventory::Inventory;
use tbuddy_deploy::output::{Event, EventSink};
use tbuddy_deploy::plan::saved::{
    FORMAT, SavedArgs, SavedPlan, SavedStep, input_checksums, vars_checksum,
};
use tbuddy_deploy::playbook::Playbook;
use tbuddy_deploy::run::{RunOptions, RunReport, run_playbook};

/// Exit code when a saved plan no longer matches.
pub const STALE: i32 = 1;

fn inputs(run: &RunArgs) -> Result<std::collections::BTreeMap<String, String>, CliError> {
    let project = project_dir()?;
    let key = Inventory::key(&run.inventory, &project);
    let sources: Vec<PathBuf> = [PathBuf::from(&key)]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
    input_checksums(&project, &run.playbook, &sources)
        .map_err(|e| CliError::usage(format!("error: {e}")))
}

pub fn save(run: &RunArgs, opts: &RunOptions, report: &RunReport) -> Result<SavedPlan, CliError> {
    let vars = serde_json::to_value(&*opts.extra_vars).unwrap_or_default();
    let secret = redact_vars(&vars) != vars;
    Ok(SavedPlan {
        tbuddy_plan: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        args: SavedArgs {
            playbook: run.playbook.display().to_string(),
            inventory: run.inventory.clone(),
            limit: run.limit.clone(),
            tags: run.tags.clone(),
            skip_tags: run.skip_tags.clone(),
            extra_vars: (!secret).then_some(vars.clone()),
            extra_vars_sha256: vars_checksum(&vars),
            become_default: run.become_default,
            become_user: run.become_user.clone(),
            remote_user: run.user.clone(),
        },
        inputs: inputs(run)?,
        observed: report.observed.clone(),
        steps: SavedStep::from_plan(&report.plan),
    })
}

/// Turns `apply FILE` into the run the plan was made from. Extra variables
/// that were kept out of the file must be given again, identically.
pub fn restore_args(saved: &SavedPlan, run: &mut RunArgs) -> Result<(), CliError> {
    let a = &saved.args;
    run.playbook = PathBuf::from(&a.playbook);
    run.inventory = a.inventory.clone();
    run.limit = a.limit.clone();
    run.tags = a.tags.clone();
    run.skip_tags = a.skip_tags.clone();
    run.become_default = a.become_default;
    run.become_user = a.become_user.clone();
    run.user = a.remote_user.clone();
    match &a.extra_vars {
        Some(vars) => run.extra_vars = vec![vars.to_string()],
        None => {
            if run.extra_vars.is_empty() {
                return Err(CliError {
                    message: "error: the plan was made with extra variables that look secret, \
                              which the plan file does not hold: pass the same -e options again"
                        .into(),
                    code: STALE,
                });
            }
        }
    }
    Ok(())
}

struct Quiet;
impl EventSink for Quiet {
    fn emit(&self, _: Event) {}
}

/// Re-plans and refuses unless inputs, observed states and steps are exactly
/// those of the saved plan.
pub fn verify(
    saved: &SavedPlan,
    run: &RunArgs,
    playbook: &Playbook,
    inventory: &Inventory,
) -> Result<(), CliError> {
    let stale = |what: &str, items: Vec<String>| CliError {
        message: format!(
            "error: refusing to apply the saved plan: {what}:\n  {}\nNothing was changed. Make a new plan.",
            items.join("\n  ")
        ),
        code: STALE,
    };
    let changed = saved.changed_inputs(&inputs(run)?);
    if !changed.is_empty() {
        return Err(stale("input files changed since it was made", changed));
    }
    let mut opts = run.options(true)?;
    let vars = serde_json::to_value(&*opts.extra_vars).unwrap_or_default();
    if vars_checksum(&vars) != saved.args.extra_vars_sha256 {
        return Err(stale(
            "the extra variables differ",
            vec!["-e values are not the ones the plan was made with".into()],
        ));
    }
    opts.fingerprint = true;
    let report =
        run_playbook(playbook, inventory, &opts, &Quiet).map_err(super::apply::run_error)?;
    if report.exit_code() != 0 {
        return Err(stale(
            "planning again failed on some host",
            vec!["run `tbuddy-deploy plan` to see why".into()],
        ));
    }
    let drift = saved.drift(&report.observed);
    if !drift.is_empty() {
        return Err(stale("hosts changed since it was made", drift));
    }
    let now = SavedStep::from_plan(&report.plan);
    if now != saved.steps {
        let mut diffs = Vec::new();
        for s in saved.steps.iter().filter(|s| !now.contains(s)) {
            diffs.push(format!(
                "no longer: {}: {} ({})",
                s.host, s.summary, s.location
            ));
        }
        for s in now.iter().filter(|s| !saved.steps.contains(s)) {
            diffs.push(format!(
                "now also: {}: {} ({})",
                s.host, s.summary, s.location
            ));
        }
        if diffs.is_empty() {
            diffs.push("the steps come in another order".into());
        }
        return Err(stale("the plan would now be different", diffs));
    }
    Ok(())
}
