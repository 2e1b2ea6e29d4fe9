//! `rollback RUN|--last`: undo a recorded run from its journal, refusing where
//! a host drifted since, and record the rollback as a run of its own.

use super::store::{self, REFUSED, StateArgs, state_error};
use super::{CliError, exit};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use tbuddy_deploy::connection::{Become, Connection};
use tbuddy_deploy::inventory::{Inventory, glob};
use tbuddy_deploy::modules::Target;
use tbuddy_deploy::rollback::record::UndoRecord;
use tbuddy_deploy::rollback::{self, Connector, RollbackPlan, StepOp};
use tbuddy_deploy::state::{RunId, RunKind, RunMeta, RunStatus, StateStore, TaskRecord};

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

struct Connect {
    accept_new_host_keys: bool,
    password: Option<String>,
}

impl Connector for Connect {
    fn connect(&mut self, _host: &str, record: &UndoRecord) -> Box<dyn Connection> {
        record.conn.open(self.accept_new_host_keys)
    }

    fn become_for(&self, record: &UndoRecord) -> Option<Become> {
        record.become_user.as_ref().map(|user| Become {
            user: user.clone(),
            password: self.password.clone(),
        })
    }
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
    let mut connect = Connect {
        accept_new_host_keys: args.accept_new_host_keys,
        password,
    };
    let (plan, mut conns) = rollback::plan(store.as_ref(), run, &want, args.force, &mut connect)
        .map_err(|e| CliError {
            message: format!("error: {e}"),
            code: REFUSED,
        })?;
    print_plan(&plan, &detail.meta.playbook);

    if !plan.unreachable.is_empty() {
        return Err(CliError {
            message: format!(
                "error: cannot observe {} host(s); nothing was changed",
                plan.unreachable.len()
            ),
            code: REFUSED,
        });
    }
    let drifted = plan.drifted();
    if !drifted.is_empty() && !args.force {
        return Err(CliError {
            message: format!(
                "error: refusing to roll back run {run}: {} path(s) changed since that run\n{}\
                 Nothing was changed. Use --force to roll back anyway.",
                drifted.len(),
                rollback::drift_report(&plan)
            ),
            code: REFUSED,
        });
    }
    let irreversible = plan.irreversible();
    if !irreversible.is_empty() && !args.force {
        let list: Vec<String> = irreversible
            .iter()
            .map(|s| {
                format!(
                    "  {}: {} ({})",
                    s.entry.host, s.entry.summary, s.entry.location
                )
            })
            .collect();
        return Err(CliError {
            message: format!(
                "error: refusing to roll back run {run}: {} change(s) cannot be undone\n{}\n\
                 Nothing was changed. Use --force to undo the rest and leave these as they are.",
                irreversible.len(),
                list.join("\n")
            ),
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
    let failed = apply(&plan, &mut conns, &connect, store.as_ref(), new_run);
    store
        .finish_run(new_run, failed == 0)
        .map_err(state_error)?;
    println!(
        "\nRollback of run {run} recorded as run {new_run} in {}.",
        store.describe()
    );
    Ok(if failed == 0 { exit::OK } else { 2 })
}

/// The newest apply on `inventory` with journaled changes: a run that
/// changed nothing is never what "undo the last run" means.
fn last_changing_run(store: &dyn StateStore, inventory: &str) -> Result<Option<RunId>, CliError> {
    const LOOK_BACK: usize = 1000;
    for run in store.runs(LOOK_BACK).map_err(state_error)? {
        let changed = run.changed > 0 || run.status == RunStatus::Interrupted;
        if run.inventory == inventory
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

fn print_plan(plan: &RollbackPlan, playbook: &str) {
    println!("Rollback of run {} ({playbook}):", plan.run);
    for (host, steps) in &plan.hosts {
        println!("\n{host}:");
        for step in steps {
            let mark = match (&step.op, &step.drift) {
                (_, Some(_)) => "! ",
                (StepOp::AlreadyDone, _) => "  ",
                (StepOp::Irreversible { .. }, _) => "x ",
                _ => "~ ",
            };
            println!(
                "  {mark}{}   [undoes \"{}\", {}]",
                rollback::describe(&step.op),
                step.entry.task,
                step.entry.location
            );
            if let Some(d) = &step.drift {
                println!("      drift: {} {}", d.path, d.what.join(", "));
            }
        }
    }
    for (host, why) in &plan.unreachable {
        println!("\n{host}: UNREACHABLE: {why}");
    }
    println!(
        "\nRollback: {} change(s), {} already undone, {} drifted, {} irreversible.",
        plan.changes(),
        plan.steps().filter(|s| s.op == StepOp::AlreadyDone).count(),
        plan.drifted().len(),
        plan.irreversible().len()
    );
}

/// Applies the steps host by host; returns how many failed. A failed step
/// stops that host (later steps may depend on it).
fn apply(
    plan: &RollbackPlan,
    conns: &mut std::collections::HashMap<String, Box<dyn Connection>>,
    connect: &Connect,
    store: &dyn StateStore,
    new_run: RunId,
) -> usize {
    let mut failed = 0;
    println!();
    for (host, steps) in &plan.hosts {
        let Some(conn) = conns.get_mut(host) else {
            continue;
        };
        let (mut changed, mut ok) = (0, 0);
        let mut host_failed = false;
        for step in steps {
            if matches!(step.op, StepOp::AlreadyDone | StepOp::Irreversible { .. }) {
                continue;
            }
            let started = std::time::Instant::now();
            let mut target = Target {
                conn: conn.as_mut(),
                become_as: connect.become_for(&step.record),
                env: Vec::new(),
                planned: None,
                seen: None,
            };
            let what = rollback::describe(&step.op);
            let result = rollback::apply_step(step, &mut target, store);
            let (status, summary) = match &result {
                Ok(()) => {
                    changed += 1;
                    ok += 1;
                    println!("changed: [{host}] => {what}");
                    ("changed", what.clone())
                }
                Err(e) => {
                    host_failed = true;
                    println!("fatal: [{host}]: FAILED! => {what}: {e}");
                    ("failed", format!("{what}: {e}"))
                }
            };
            let _ = store.record_task(
                new_run,
                &TaskRecord {
                    host: host.clone(),
                    task: format!("undo: {}", step.entry.task),
                    location: step.entry.location.clone(),
                    status: status.into(),
                    changed: result.is_ok(),
                    duration_ms: started.elapsed().as_millis() as u64,
                    summary: Some(summary),
                    diff: None,
                },
            );
            if host_failed {
                break;
            }
        }
        if host_failed {
            failed += 1;
        }
        println!(
            "{host:<26} : ok={ok:<4} changed={changed:<4} failed={}",
            u8::from(host_failed)
        );
    }
    failed
}
