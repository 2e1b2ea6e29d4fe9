//! `plan`: run the playbook in check mode and list every change it would make.

use super::{CliError, RunArgs, exit};
use clap::Args;
use tbuddy_deploy::run::run_playbook;

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Exit 0 when nothing would change and 5 when something would.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn exec(args: PlanArgs) -> Result<i32, CliError> {
    let (playbook, inventory) = args.run.load()?;
    let opts = args.run.options(true)?;
    let sink = args.run.sink(args.run.diff);
    let report = run_playbook(&playbook, &inventory, &opts, sink.as_ref())
        .map_err(super::apply::run_error)?;
    if !args.run.json {
        print!("\n{}", report.plan.render());
    }
    let code = report.exit_code();
    if code == exit::OK && args.detailed_exitcode && !report.plan.steps.is_empty() {
        return Ok(exit::CHANGES_PENDING);
    }
    Ok(code)
}
