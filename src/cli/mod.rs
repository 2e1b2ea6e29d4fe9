//! Command-line definitions, one file per subcommand; each calls the library.

mod apply;
mod batch_rollback;
mod check_syntax;
mod doc;
mod force_unlock;
mod inventory;
mod migrate;
mod plan;
mod prompt;
mod rollback;
mod run_args;
mod runs;
mod saved_plan;
mod store;
mod vault;

use clap::{Parser, Subcommand};

pub use run_args::RunArgs;

/// Exit codes, as documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const USAGE: i32 = 4;
    pub const CHANGES_PENDING: i32 = 5;
}

#[derive(Debug, Parser)]
#[command(
    name = "tbuddy-deploy",
    version,
    about = "Ansible-style playbooks with exact plans",
    long_about = "Runs Ansible-style YAML playbooks. `plan` shows exactly what would change, \
                  `apply` makes those changes."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub vault: vault::VaultArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what a playbook would change, per host, without changing anything.
    Plan(plan::PlanArgs),
    /// Run a playbook and make the changes.
    Apply(apply::ApplyArgs),
    /// Parse and validate a playbook without contacting any host.
    CheckSyntax(check_syntax::CheckSyntaxArgs),
    /// Show the resolved inventory: hosts, groups and variables.
    Inventory(inventory::InventoryArgs),
    /// Describe the built-in modules and their arguments.
    Doc(doc::DocArgs),
    /// List recorded runs, newest first.
    Runs(runs::RunsArgs),
    /// Show one recorded run: per host and task, with diffs and the undo journal.
    Show(runs::ShowArgs),
    /// Undo a recorded run from its journal (refuses where hosts drifted since).
    Rollback(rollback::RollbackArgs),
    /// Break the run lock of an inventory whose holder is gone.
    ForceUnlock(force_unlock::ForceUnlockArgs),
    /// Copy an SQLite database into PostgreSQL: translated, preflighted, verified.
    Migrate(migrate::MigrateArgs),
    /// Encrypt, decrypt, view, edit or rekey Ansible Vault files.
    Vault(vault::VaultCmdArgs),
}

/// An error that ends the command with a message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: exit::USAGE,
        }
    }
}

impl From<tbuddy_deploy::diag::Diagnostic> for CliError {
    fn from(d: tbuddy_deploy::diag::Diagnostic) -> Self {
        CliError::usage(d.render())
    }
}

pub fn run(cli: Cli) -> Result<i32, CliError> {
    tbuddy_deploy::vault::install(cli.vault.keyring()?);
    match cli.command {
        Command::Plan(a) => plan::exec(a),
        Command::Apply(a) => apply::exec(a),
        Command::CheckSyntax(a) => check_syntax::exec(a),
        Command::Inventory(a) => inventory::exec(a),
        Command::Doc(a) => doc::exec(a),
        Command::Runs(a) => runs::exec_runs(a),
        Command::Show(a) => runs::exec_show(a),
        Command::Rollback(a) => rollback::exec(a),
        Command::ForceUnlock(a) => force_unlock::exec(a),
        Command::Migrate(a) => migrate::exec(a),
        Command::Vault(a) => vault::exec(a, &cli.vault),
    }
}
