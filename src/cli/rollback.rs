//! `rollback RUN|--last`: undo a recorded run from its journal, refusing where
//! a host drifted since, and record the rollback as a run of its own.

use super::store::{self, REFUSED, StateArgs, state_error};
use super::{CliError, exit};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use tbuddy_deploy::inventory::{Inventory, glob};
use tbuddy_deploy::rollback::checks::refusal;
use tbuddy_deploy::rollback::connect::RecordedConnector;
use tbuddy_deploy::rollback::execute::apply_plan;
use tbuddy_deploy::rollback::render::plan_text;
use tbuddy_deploy::rollback::{self};
use tbuddy_deploy::state::{RunId, RunKind, RunMeta, RunStatus, StateStore};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The run to undo (see `runs`).
    #[arg(required_unless_present = "last", conflicts_with = "last")]
    pub run: Option<RunId>,
    /// Undo the newest apply on the inventory (`-i`) that changed something.
    #[arg(long)]
    pub last: bool,
    /// With --last: the inventory whose newest apply to undo.
    #[arg(short = 'i', long = "inventory", default_value = "local")]
    pub inventory: String,
    /// Only these hosts (comma-separated names or globs).
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Roll back even where hosts drifted since the run, and skip irreversible changes.
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes", alias = "auto-approve")]
    pub yes: bool,
    /// Show the rollback plan only.
    #[arg(long = "plan", alias = "check")]
    pub plan_only: bool,
    /// Ask for the sudo password once (for changes made with become).
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Trust the key of an SSH host not yet in known_hosts.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn exec(args: RollbackArgs) -> Result<i32, CliError> {
    let store = args.state.open()?;
    let run = match args.run {
        Some(r) => r,
        None => {
            let key = Inventory::key(&args.inventory, &store::project_dir()?);
            last_changing_run(store.as_ref(), &key)?.ok_or_else(|| CliError {
                message: format!(
                    "error: no apply on inventory {key} is recorded in {}",
                    store.describe()
                ),
                code: REFUSED,
            })?
        }
    };
    let detail = store.run(run).map_err(state_error)?;
    if detail.meta.check_mode {
        return Err(CliError {
            message: format!("error: run {run} was a check-mode run: it changed nothing"),
            code: REFUSED,
        });
    }
    if detail.summary.status == RunStatus::Running {
        return Err(CliError {
            message: format!("error: run {run} is still running"),
            code: REFUSED,
        });
    }
    let inventory = detail.meta.inventory.clone();
    let _lock = store::lock(store.as_ref(), &inventory, &store::command_line())?;

    let patterns: Vec<String> = args
        .limit
        .as_deref()
        .map(|l| l.split(',').map(|p| p.trim().to_string()).collect())
        .unwrap_or_default();
    let want = |host: &str| patterns.is_empty() || patterns.iter().any(|p| glob::matches(p, host));
    let password = if args.ask_become_pass {
        Some(super::prompt::secret("BECOME password: ")?)
    } else {
        None
    };
    let mut connect = RecordedConnector {
        accept_new_host_keys: args.accept_new_host_keys,
        become_password: password,
    };
    let (plan, mut conns) = rollback::plan(store.as_ref(), run, &want, args.force, &mut connect)
        .map_err(|e| CliError {
            message: format!("error: {e}"),
            code: REFUSED,
        })?;
    println!("{}", plan_text(&plan, &detail.meta.playbook));

    if !plan.unreachable.is_empty() {
        return Err(CliError {
            message: format!(
                "error: cannot observe {} host(s); nothing was changed",
                plan.unreachable.len()
            ),
            code: REFUSED,
        });
    }
    if let Some(r) = refusal(&plan, args.force) {
        return Err(CliError {
            message: format!("error: {r}"),
            code: REFUSED,
        });
    }
    if plan.changes() == 0 {
        println!("Nothing to roll back: the hosts already look as they did before run {run}.");
        return Ok(exit::OK);
    }
    if args.plan_only {
        return Ok(exit::CHANGES_PENDING);
    }
    if !args.yes && std::io::stdin().is_terminal() {
        print!("Roll back these changes? Only 'yes' will be accepted: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            println!("Rollback cancelled.");
            return Ok(exit::OK);
        }
    }

    let meta = RunMeta {
        kind: RunKind::Rollback { of: run },
        playbook: detail.meta.playbook.clone(),
        inventory: inventory.clone(),
        limit: args.limit.clone(),
        extra_vars: serde_json::Value::Object(Default::default()),
        user: store::user_name(),
        controller_host: tbuddy_deploy::state::this_controller(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        check_mode: false,
        pid: std::process::id(),
    };
    let new_run = store.begin_run(&meta).map_err(state_error)?;
    store
        .set_lock_run(&inventory, new_run)
        .map_err(state_error)?;
    println!();
    let recap = apply_plan(
        &plan,
        &mut conns,
        &connect,
        store.as_ref(),
        new_run,
        &mut |line| println!("{line}"),
    );
    print!("{}", recap.render());
    let failed = recap.failed();
    store
        .finish_run(new_run, failed == 0)
        .map_err(state_error)?;
    println!(
        "\nRollback of run {run} recorded as run {new_run} in {}.",
        store.describe()
    );
    Ok(if failed == 0 { exit::OK } else { 2 })
}

/// The newest apply on `inventory` with journaled changes that no rollback
/// undid in full: a run that changed nothing, or one already rolled back on
/// all its hosts, is never what "undo the last run" means.
fn last_changing_run(store: &dyn StateStore, inventory: &str) -> Result<Option<RunId>, CliError> {
    const LOOK_BACK: usize = 1000;
    let runs = store.runs(LOOK_BACK).map_err(state_error)?;
    let mut undone = std::collections::HashSet::new();
    for r in &runs {
        if let RunKind::Rollback { of } = r.kind
            && r.status == RunStatus::Ok
            && store.run(r.id).map_err(state_error)?.meta.limit.is_none()
        {
            undone.insert(of);
        }
    }
    for run in runs {
        let changed = run.changed > 0 || run.status == RunStatus::Interrupted;
        if run.inventory == inventory
            && !undone.contains(&run.id)
            && run.kind == RunKind::Apply
            && !run.check_mode
            && changed
            && !store.undo_entries(run.id).map_err(state_error)?.is_empty()
        {
            return Ok(Some(run.id));
        }
    }
    Ok(None)
}
