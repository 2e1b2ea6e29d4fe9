//! `apply`: run the playbook and make the changes. On a terminal it shows the
//! plan first and asks; with `-y` or without a terminal it goes straight on.

use super::saved_plan;
use super::store::{self, StateArgs};
use super::{CliError, RunArgs, exit};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use tbuddy_deploy::inventory::Inventory;
use tbuddy_deploy::plan::saved::SavedPlan;
use tbuddy_deploy::run::record::Recorder;
use tbuddy_deploy::run::{RunError, run_playbook};
use tbuddy_deploy::state::{RunKind, RunMeta};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The playbook, or a plan saved with `plan --out` (applied exactly, or refused).
    #[command(flatten)]
    pub run: RunArgs,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes", alias = "auto-approve")]
    pub yes: bool,
    /// Check mode: report what would change, change nothing (same as `plan`).
    #[arg(short = 'C', long)]
    pub check: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn run_error(e: RunError) -> CliError {
    match e {
        RunError::Load(d) => CliError::usage(d.render()),
        RunError::Usage(m) => CliError::usage(format!("error: {m}")),
    }
}

pub fn exec(mut args: ApplyArgs) -> Result<i32, CliError> {
    let saved = SavedPlan::detect(&args.run.playbook)
        .map_err(|e| CliError::usage(format!("error: {e}")))?;
    if let Some(saved) = &saved {
        saved_plan::restore_args(saved, &mut args.run)?;
        args.yes = true;
    }
    let (playbook, inventory) = args.run.load()?;
    if args.check {
        let opts = args.run.options(true)?;
        let sink = args.run.sink(args.run.diff);
        let report =
            run_playbook(&playbook, &inventory, &opts, sink.as_ref()).map_err(run_error)?;
        return Ok(report.exit_code());
    }
    // One apply per inventory at a time; the lock dies with this process.
    let store = args.state.open()?;
    let key = Inventory::key(&args.run.inventory, &store::project_dir()?);
    let _lock = store::lock(store.as_ref(), &key, &store::command_line())?;

    if let Some(saved) = &saved {
        saved_plan::verify(saved, &args.run, &playbook, &inventory)?;
    }
    let interactive = !args.yes && !args.run.json && std::io::stdin().is_terminal();
    if interactive {
        let opts = args.run.options(true)?;
        let sink = args.run.sink(true);
        let report =
            run_playbook(&playbook, &inventory, &opts, sink.as_ref()).map_err(run_error)?;
        println!(
            "\n{}",
            tbuddy_deploy::vault::taint::scrub(&report.plan.render())
        );
        if report.exit_code() != exit::OK {
            return Ok(report.exit_code());
        }
        if report.plan.steps.is_empty() {
            return Ok(exit::OK);
        }
        print!("Apply these changes? Only 'yes' will be accepted: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            println!("Apply cancelled.");
            return Ok(exit::OK);
        }
    }
    let mut opts = args.run.options(false)?;
    let meta = RunMeta {
        kind: RunKind::Apply,
        playbook: args.run.playbook.display().to_string(),
        inventory: key.clone(),
        limit: args.run.limit.clone(),
        extra_vars: store::redact_vars(
            &serde_json::to_value(&*opts.extra_vars).unwrap_or_default(),
        ),
        user: store::user_name(),
        controller_host: tbuddy_deploy::state::this_controller(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        check_mode: false,
        pid: std::process::id(),
    };
    let run = store.begin_run(&meta).map_err(store::state_error)?;
    store.set_lock_run(&key, run).map_err(store::state_error)?;
    let recorder = Recorder::new(store.clone(), run, key).map_err(store::state_error)?;
    opts.recorder = Some(Arc::new(recorder));
    let sink = args.run.sink(args.run.diff);
    let outcome = run_playbook(&playbook, &inventory, &opts, sink.as_ref());
    let ok = matches!(&outcome, Ok(r) if r.exit_code() == exit::OK);
    store.finish_run(run, ok).map_err(store::state_error)?;
    let report = outcome.map_err(run_error)?;
    if !args.run.json {
        eprintln!(
            "Run {run} recorded in {}; undo it with `tbuddy-deploy rollback {run}`.",
            store.describe()
        );
    }
    Ok(report.exit_code())
}
