//! Flags shared by `plan` and `apply`, named as in ansible-playbook.

use super::CliError;
use clap::{Args, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use tbuddy_deploy::inventory::Inventory;
use tbuddy_deploy::output::EventSink;
use tbuddy_deploy::output::console::Console;
use tbuddy_deploy::output::json::JsonLines;
use tbuddy_deploy::output::live::LiveBlock;
use tbuddy_deploy::playbook::{Playbook, load_playbook};
use tbuddy_deploy::run::{RunOptions, TagFilter};
use tbuddy_deploy::vars::parse_extra_vars;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The playbook to run.
    pub playbook: PathBuf,
    /// Inventory: a name (inventory/NAME.yml or inventory/NAME/) or a path.
    #[arg(short = 'i', long = "inventory", default_value = "local")]
    pub inventory: String,
    /// Only run on hosts matching this pattern.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long, value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// Extra variables: key=value, YAML/JSON, or @file (repeatable; highest precedence).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Show unified diffs of file changes.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// More output (-v results, -vv task paths).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print one JSON event per line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Live per-host progress under the output: auto shows it when stdout is a
    /// terminal (not TERM=dumb); never with --json.
    #[arg(long, value_enum, env = "TBUDDY_PROGRESS", default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// How many hosts to work on at once (default: all, up to 100).
    #[arg(short = 'f', long, default_value_t = 100)]
    pub forks: usize,
    /// Log in as this user when the inventory names none.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Run tasks with sudo unless a play, task or host says otherwise.
    #[arg(short = 'b', long = "become")]
    pub become_default: bool,
    /// The user to become (default root).
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    /// Ask for the sudo password once (it is sent on stdin, never shown or logged).
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    /// Trust the key of an SSH host not yet in known_hosts (known keys are still checked).
    #[arg(long)]
    pub accept_new_host_keys: bool,
}

impl RunArgs {
    pub fn load(&self) -> Result<(Playbook, Inventory), CliError> {
        let project = std::env::current_dir()
            .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}")))?;
        let mut inventory = Inventory::load_with_vault(
            &self.inventory,
            &project,
            tbuddy_deploy::vault::inventory_decryptor(),
        )
        .map_err(|e| CliError::usage(render_inventory_error(e)))?;
        if !self.playbook.exists() {
            return Err(CliError::usage(format!(
                "error: the playbook {} does not exist",
                self.playbook.display()
            )));
        }
        let playbook = load_playbook(&self.playbook)?;
        if let Some(dir) = self.playbook.parent() {
            let dir = if dir.as_os_str().is_empty() {
                std::path::Path::new(".")
            } else {
                dir
            };
            inventory
                .add_vars_dirs(dir)
                .map_err(|e| CliError::usage(render_inventory_error(e)))?;
        }
        let mut seen = std::collections::HashSet::new();
        for host in inventory.hosts() {
            for v in inventory.host_vars(&host.name).values() {
                tbuddy_deploy::vault::register_inline(v, &mut seen);
            }
        }
        Ok((playbook, inventory))
    }

    pub fn options(&self, check: bool) -> Result<RunOptions, CliError> {
        let base = std::env::current_dir().unwrap_or_default();
        let extra = parse_extra_vars(&self.extra_vars, &base)
            .map_err(|e| CliError::usage(format!("error: {e}")))?;
        Ok(RunOptions {
            check,
            diff: self.diff,
            tags: TagFilter {
                only: self.tags.clone(),
                skip: self.skip_tags.clone(),
            },
            limit: self.limit.clone(),
            extra_vars: Arc::new(extra),
            forks: self.forks,
            verbosity: self.verbose,
            become_password: if self.ask_become_pass {
                Some(super::prompt::secret("BECOME password: ")?)
            } else {
                None
            },
            become_default: self.become_default,
            become_user_default: self.become_user.clone(),
            remote_user: self.user.clone(),
            accept_new_host_keys: self.accept_new_host_keys,
            recorder: None,
            fingerprint: false,
            stop_at_failed_batch: false,
        })
    }

    /// Where events go; secret values are redacted on the way.
    pub fn sink(&self, show_diff: bool) -> Box<dyn EventSink> {
        Box::new(tbuddy_deploy::output::redact::Redacting(
            self.unredacted_sink(show_diff),
        ))
    }

    fn unredacted_sink(&self, show_diff: bool) -> Box<dyn EventSink> {
        if self.json {
            Box::new(JsonLines::default())
        } else {
            let tty = std::io::stdout().is_terminal();
            let color = tty && std::env::var_os("NO_COLOR").is_none();
            let console = Console::new(color, show_diff, self.verbose);
            let term = std::env::var("TERM").ok();
            if live_progress(self.progress, tty, term.as_deref()) {
                Box::new(console.with_live(LiveBlock::stdout(color)))
            } else {
                Box::new(console)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    Auto,
    Always,
    Never,
}

/// Whether to draw the live view: `always` draws it wherever stdout goes;
/// `auto` only on a terminal that can move its cursor.
fn live_progress(mode: ProgressMode, tty: bool, term: Option<&str>) -> bool {
    match mode {
        ProgressMode::Always => true,
        ProgressMode::Never => false,
        ProgressMode::Auto => tty && term.is_some_and(|t| !t.is_empty() && t != "dumb"),
    }
}

pub fn render_inventory_error(e: tbuddy_deploy::inventory::InventoryError) -> String {
    use tbuddy_deploy::inventory::InventoryError;
    match e {
        InventoryError::Diag(d) => d.render(),
        InventoryError::Yaml(y) => y.0.render(),
        other => format!("error: {other}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_modes() {
        use ProgressMode::*;
        assert!(live_progress(Auto, true, Some("xterm-256color")));
        assert!(!live_progress(Auto, false, Some("xterm")));
        assert!(!live_progress(Auto, true, Some("dumb")));
        assert!(!live_progress(Auto, true, None));
        assert!(live_progress(Always, false, Some("dumb")));
        assert!(!live_progress(Never, true, Some("xterm")));
    }
}
