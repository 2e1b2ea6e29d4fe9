//! `apply --rollback-on-failure`: after a rollout stopped at a failed batch,
//! roll that batch's hosts back from what the run recorded, as a rollback
//! run of its own.

use super::CliError;
use super::apply::ApplyArgs;
use tbuddy_deploy::rollback::connect::RecordedConnector;
use tbuddy_deploy::rollback::hosts::roll_back_hosts;
use tbuddy_deploy::run::FailedBatch;
use tbuddy_deploy::state::{RunId, RunKind, RunMeta, StateStore};

/// The exit code of a rollout that stopped at a failed batch.
const BATCH_FAILED: i32 = 2;

pub fn exec(
    args: &ApplyArgs,
    store: &dyn StateStore,
    run: RunId,
    apply_meta: &RunMeta,
    batch: &FailedBatch,
    become_password: Option<String>,
) -> Result<i32, CliError> {
    // Text goes to stderr with --json so that stdout stays one event a line.
    let json = args.run.json;
    let mut say = |line: &str| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let hosts = batch.hosts.join(", ");
    say(&format!(
        "\nBatch {} of play \"{}\" failed ({}): the rollout stopped; rolling back {hosts}.\n",
        batch.number, batch.play, batch.why
    ));
    let meta = RunMeta {
        kind: RunKind::Rollback { of: run },
        limit: Some(batch.hosts.join(",")),
        extra_vars: serde_json::Value::Object(Default::default()),
        ..apply_meta.clone()
    };
    let mut connector = RecordedConnector {
        accept_new_host_keys: args.run.accept_new_host_keys,
        become_password,
    };
    let done = roll_back_hosts(
        store,
        run,
        &batch.hosts,
        args.force_rollback,
        &mut connector,
        &meta,
        &mut say,
    )
    .map_err(|e| CliError {
        message: format!("error: rolling back batch {}: {e}", batch.number),
        code: BATCH_FAILED,
    })?;
    if !done.not_undone.is_empty() {
        say(
            "\nChanges with nothing recorded to undo (they stay done; rerun what must see the restored state, e.g. a restart):",
        );
        for line in &done.not_undone {
            say(&format!("  {line}"));
        }
    }
    let limit = batch.hosts.join(",");
    if let Some(refused) = &done.refused {
        say(&format!(
            "\nThe rollback of batch {} was refused: {refused}\nBy hand: tbuddy-deploy rollback {run} -l {limit} --force",
            batch.number
        ));
        return Ok(BATCH_FAILED);
    }
    say(&format!(
        "\nROLLBACK RECAP (batch {}: {hosts})",
        batch.number
    ));
    for line in done.recap.render().lines() {
        say(line);
    }
    let rolled_back: Vec<&str> = done
        .recap
        .hosts
        .iter()
        .filter(|(_, r)| !r.failed && !r.unreachable)
        .map(|(h, _)| h.as_str())
        .collect();
    let failed: Vec<&str> = done
        .recap
        .hosts
        .iter()
        .filter(|(_, r)| r.failed || r.unreachable)
        .map(|(h, _)| h.as_str())
        .collect();
    let untouched: Vec<&str> = batch
        .hosts
        .iter()
        .filter(|h| !done.recap.hosts.contains_key(*h))
        .map(String::as_str)
        .collect();
    if !untouched.is_empty() {
        say(&format!(
            "Nothing to roll back on: {}",
            untouched.join(", ")
        ));
    }
    if !rolled_back.is_empty() {
        say(&format!("Rolled back: {}", rolled_back.join(", ")));
    }
    if !failed.is_empty() {
        say(&format!(
            "Rollback FAILED on: {} (retry with `tbuddy-deploy rollback {run} -l {}`)",
            failed.join(", "),
            failed.join(",")
        ));
    }
    match done.run {
        Some(r) => say(&format!(
            "Run {run} recorded in {}; its rollback of batch {} recorded as run {r}.",
            store.describe(),
            batch.number
        )),
        None => say(&format!("Run {run} recorded in {}.", store.describe())),
    }
    Ok(BATCH_FAILED)
}
