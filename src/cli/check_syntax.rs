//! `check-syntax`: load and validate a playbook without touching any host.

use super::CliError;
use clap::Args;
use std::path::PathBuf;
use tbuddy_deploy::playbook::load_playbook;

#[derive(Debug, Args)]
pub struct CheckSyntaxArgs {
    /// Playbooks to check.
    #[arg(required = true)]
    pub playbooks: Vec<PathBuf>,
}

pub fn exec(args: CheckSyntaxArgs) -> Result<i32, CliError> {
    for path in &args.playbooks {
        let pb = load_playbook(path)?;
        let tasks: usize = pb
            .plays
            .iter()
            .map(|p| p.pre_tasks.len() + p.tasks.len() + p.post_tasks.len() + p.handlers.len())
            .sum();
        println!(
            "playbook: {} ({} play{}, {tasks} top-level tasks) OK",
            path.display(),
            pb.plays.len(),
            if pb.plays.len() == 1 { "" } else { "s" }
        );
    }
    Ok(super::exit::OK)
}
