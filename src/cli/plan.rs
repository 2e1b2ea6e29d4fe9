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
    /// Save the plan to FILE; `apply FILE` then applies exactly it, or refuses
    /// if a host or an input file changed since.
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

pub fn exec(args: PlanArgs) -> Result<i32, CliError> {
    let (playbook, inventory) = args.run.load()?;
    let mut opts = args.run.options(true)?;
    opts.fingerprint = args.out.is_some();
    let sink = args.run.sink(args.run.diff);
    let report = run_playbook(&playbook, &inventory, &opts, sink.as_ref())
        .map_err(super::apply::run_error)?;
    if !args.run.json {
        let failed: Vec<&str> = report
            .stats
            .iter()
            .filter(|(_, s)| s.failed > 0 || s.unreachable > 0)
            .map(|(h, _)| h.as_str())
            .collect();
        print!(
            "\n{}",
            tbuddy_deploy::vault::taint::scrub(&report.plan.render_incomplete(&failed))
        );
    }
    let code = report.exit_code();
    if let Some(out) = &args.out {
        if code != exit::OK {
            return Err(CliError::usage(format!(
                "error: the plan failed on some host; {} was not written",
                out.display()
            )));
        }
        let saved = super::saved_plan::save(&args.run, &opts, &report)?;
        saved
            .write(out)
            .map_err(|e| CliError::usage(format!("error: {e}")))?;
        if !args.run.json {
            println!(
                "Saved the plan to {}. Apply exactly it with `tbuddy-deploy apply {}`.",
                out.display(),
                out.display()
            );
        }
    }
    if code == exit::OK && args.detailed_exitcode && !report.plan.steps.is_empty() {
        return Ok(exit::CHANGES_PENDING);
    }
    Ok(code)
}
