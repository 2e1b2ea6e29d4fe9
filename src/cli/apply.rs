//! `apply`: run the playbook and make the changes. On a terminal it shows the
//! plan first and asks; with `-y` or without a terminal it goes straight on.

use super::{CliError, RunArgs, exit};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use tbuddy_deploy::run::{RunError, run_playbook};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes", alias = "auto-approve")]
    pub yes: bool,
    /// Check mode: report what would change, change nothing (same as `plan`).
    #[arg(short = 'C', long)]
    pub check: bool,
}

pub fn run_error(e: RunError) -> CliError {
    match e {
        RunError::Load(d) => CliError::usage(d.render()),
        RunError::Usage(m) => CliError::usage(format!("error: {m}")),
    }
}

pub fn exec(args: ApplyArgs) -> Result<i32, CliError> {
    let (playbook, inventory) = args.run.load()?;
    let interactive = !args.yes && !args.check && !args.run.json && std::io::stdin().is_terminal();
    if interactive {
        let opts = args.run.options(true)?;
        let sink = args.run.sink(true);
        let report =
            run_playbook(&playbook, &inventory, &opts, sink.as_ref()).map_err(run_error)?;
        println!("\n{}", report.plan.render());
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
    let opts = args.run.options(args.check)?;
    let sink = args.run.sink(args.run.diff);
    let report = run_playbook(&playbook, &inventory, &opts, sink.as_ref()).map_err(run_error)?;
    Ok(report.exit_code())
}
