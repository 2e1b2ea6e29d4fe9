//! One play: select hosts, load vars_files, run every host, collect results.

use super::host::HostRunner;
use super::lockstep::{self, Batch};
use super::{FailedBatch, RunError, RunOptions};
use crate::diag::Diagnostic;
use crate::inventory::Inventory;
use crate::modules::target::Observed;
use crate::output::{Event, EventSink, HostStats};
use crate::plan::PlanStep;
use crate::playbook::{Play, Strategy, Vars};
use crate::template;
use crate::vars::{HostLive, PlayVars};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(super) struct PlayOutcome {
    pub stats: Vec<(String, HostStats)>,
    pub steps: Vec<PlanStep>,
    pub observed: Vec<(String, Observed)>,
    pub live: HashMap<String, HostLive>,
    pub failed_batch: Option<FailedBatch>,
}

pub(super) fn run_play(
    play: &Play,
    inventory: &Inventory,
    opts: &RunOptions,
    sink: &dyn EventSink,
    live: HashMap<String, HostLive>,
    dropped: &std::collections::HashSet<String>,
) -> Result<PlayOutcome, RunError> {
    let mut hosts = select_hosts(play, inventory, opts)?;
    hosts.retain(|h| !dropped.contains(h));
    let name = if play.name.is_empty() {
        play.hosts.clone()
    } else {
        play.name.clone()
    };
    sink.emit(Event::PlayStart {
        name: name.clone(),
        hosts: hosts.clone(),
        tasks_total: opts.tags.offered_in_play(play),
    });
    if hosts.is_empty() {
        sink.emit(Event::NoHostsMatched { play: name });
        return Ok(PlayOutcome {
            stats: vec![],
            steps: vec![],
            observed: vec![],
            live,
            failed_batch: None,
        });
    }
    let magic = magic_vars(play, inventory, &hosts, opts);
    let pv = PlayVars::new(
        inventory,
        &hosts,
        play.vars.clone(),
        Map::new(),
        opts.extra_vars.clone(),
        magic.clone(),
        live,
    );
    let vars_files = load_vars_files(play, &pv)?;
    let live = std::mem::take(&mut *pv.live.write().expect("live vars lock"));
    let mut pv = PlayVars::new(
        inventory,
        &hosts,
        play.vars.clone(),
        vars_files,
        opts.extra_vars.clone(),
        magic,
        live,
    );
    Arc::get_mut(&mut pv)
        .expect("not shared yet")
        .roles
        .extend(play.roles.iter().map(|r| r.role.clone()));

    let batches = lockstep::batches(play.serial.as_ref(), &hosts)
        .map_err(|e| Diagnostic::new(&play.span, e))?;
    let mut stats = Vec::new();
    let mut steps = Vec::new();
    let mut observed = Vec::new();
    let mut failed_batch = None;
    for (number, batch_hosts) in batches.into_iter().enumerate() {
        let batch = Batch::new(
            batch_hosts.len(),
            play.strategy == Strategy::Linear,
            play.any_errors_fatal,
            play.max_fail_percentage,
        );
        let (batch_stats, batch_steps, batch_observed) =
            run_batch(&batch_hosts, &batch, play, &pv, inventory, opts, sink);
        let failed = batch_failure(&batch, play, &batch_stats);
        stats.extend(batch_stats);
        steps.extend(batch_steps);
        observed.extend(batch_observed);
        if opts.stop_at_failed_batch
            && let Some(why) = failed
        {
            sink.emit(Event::Warning {
                message: format!(
                    "stopping the rollout: batch {} ({}) failed: {why}",
                    number + 1,
                    batch_hosts.join(", ")
                ),
            });
            failed_batch = Some(FailedBatch {
                play: name.clone(),
                number: number + 1,
                hosts: batch_hosts,
                why,
            });
            break;
        }
        if let Some(why) = batch.aborted() {
            sink.emit(Event::Warning {
                message: format!("stopping the play: {why}"),
            });
            break;
        }
    }
    let live = std::mem::take(&mut *pv.live.write().expect("live vars lock"));
    Ok(PlayOutcome {
        stats,
        steps,
        observed,
        live,
        failed_batch,
    })
}

/// Why a finished batch counts as failed for a rollout: the play was stopped
/// (any_errors_fatal, max_fail_percentage exceeded), or, when the play sets
/// no max_fail_percentage, any host of it failed or was unreachable.
fn batch_failure(batch: &Batch, play: &Play, stats: &[(String, HostStats)]) -> Option<String> {
    if let Some(why) = batch.aborted() {
        return Some(why);
    }
    if play.max_fail_percentage.is_some() {
        return None;
    }
    let bad: Vec<&str> = stats
        .iter()
        .filter(|(_, s)| s.failed > 0 || s.unreachable > 0)
        .map(|(h, _)| h.as_str())
        .collect();
    (!bad.is_empty()).then(|| format!("{} failed or unreachable", bad.join(", ")))
}

/// Runs one batch: a thread per host, at most `forks` at once.
fn run_batch(
    hosts: &[String],
    batch: &Batch,
    play: &Play,
    pv: &Arc<PlayVars>,
    inventory: &Inventory,
    opts: &RunOptions,
    sink: &dyn EventSink,
) -> BatchOutcome {
    let results: Mutex<Vec<HostOutcome>> = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    // Lockstep needs every host of the batch running at once.
    let forks = if play.strategy == Strategy::Linear {
        hosts.len()
    } else {
        opts.forks.clamp(1, 100).min(hosts.len())
    };
    std::thread::scope(|s| {
        for _ in 0..forks {
            s.spawn(|| {
                loop {
                    let idx = {
                        let mut n = next.lock().expect("host queue lock");
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(host) = hosts.get(idx) else { break };
                    let mut runner =
                        HostRunner::new(host, play, pv.clone(), inventory, opts, sink, batch);
                    runner.run();
                    let (stats, steps, seen) = runner.finish();
                    results
                        .lock()
                        .expect("results lock")
                        .push((idx, stats, steps, seen));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results lock");
    results.sort_by_key(|(i, ..)| *i);
    let mut stats = Vec::new();
    let mut steps = Vec::new();
    let mut observed = Vec::new();
    for (i, st, s, seen) in results {
        stats.push((hosts[i].clone(), st));
        steps.extend(s);
        if !seen.is_empty() {
            observed.push((hosts[i].clone(), seen));
        }
    }
    (stats, steps, observed)
}

/// A host's place in the batch, its counts, plan steps and observations.
type HostOutcome = (usize, HostStats, Vec<PlanStep>, Observed);

type BatchOutcome = (
    Vec<(String, HostStats)>,
    Vec<PlanStep>,
    Vec<(String, Observed)>,
);

fn select_hosts(
    play: &Play,
    inventory: &Inventory,
    opts: &RunOptions,
) -> Result<Vec<String>, RunError> {
    // A templated `hosts:` may use extra vars only (as in Ansible).
    let pattern = if template::is_template(&play.hosts) {
        let scope = template::Scope::from_layers(vec![opts.extra_vars.clone()]);
        match template::render_str(&play.hosts, &scope) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => return Err(Diagnostic::new(&play.span, format!("hosts: {e}")).into()),
        }
    } else {
        play.hosts.clone()
    };
    let mut hosts = inventory
        .select(&pattern)
        .map_err(|e| Diagnostic::new(&play.span, e.to_string()))?;
    if let Some(limit) = &opts.limit {
        let allowed = inventory
            .select(limit)
            .map_err(|e| RunError::Usage(format!("--limit: {e}")))?;
        hosts.retain(|h| allowed.contains(h));
    }
    Ok(hosts)
}

fn magic_vars(play: &Play, inventory: &Inventory, hosts: &[String], opts: &RunOptions) -> Vars {
    let mut m = Map::new();
    let groups: Map<String, Value> = inventory
        .groups_map()
        .into_iter()
        .map(|(g, hs)| (g, Value::from(hs)))
        .collect();
    m.insert("groups".into(), Value::Object(groups));
    let dir = std::fs::canonicalize(&play.basedir).unwrap_or_else(|_| play.basedir.clone());
    m.insert("playbook_dir".into(), dir.display().to_string().into());
    m.insert("ansible_play_hosts".into(), Value::from(hosts.to_vec()));
    m.insert("ansible_play_hosts_all".into(), Value::from(hosts.to_vec()));
    m.insert("ansible_play_batch".into(), Value::from(hosts.to_vec()));
    m.insert("play_hosts".into(), Value::from(hosts.to_vec()));
    m.insert("ansible_play_name".into(), play.name.clone().into());
    m.insert("ansible_check_mode".into(), opts.check.into());
    m.insert("ansible_diff_mode".into(), opts.diff.into());
    m.insert(
        "ansible_version".into(),
        serde_json::json!({
            "full": "2.17.0", "major": 2, "minor": 17, "revision": 0, "string": "2.17.0"
        }),
    );
    m.insert(
        "ansible_run_tags".into(),
        Value::from(if opts.tags.only.is_empty() {
            vec!["all".to_string()]
        } else {
            opts.tags.only.clone()
        }),
    );
    m.insert(
        "ansible_skip_tags".into(),
        Value::from(opts.tags.skip.clone()),
    );
    m.insert(
        "ansible_playbook_python".into(),
        Value::from("/usr/bin/python3"),
    );
    m.insert("omit".into(), template::OMIT.into());
    m
}

/// vars_files are read once per play; their names may use play and extra vars.
fn load_vars_files(play: &Play, pv: &Arc<PlayVars>) -> Result<Vars, RunError> {
    let mut out = Map::new();
    for (file, span) in &play.vars_files {
        let scope = template::Scope::from_layers(vec![
            pv.play.clone(),
            Arc::new(out.clone()),
            pv.extra.clone(),
            pv.magic.clone(),
        ]);
        let name = match template::render_str(file, &scope) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => return Err(Diagnostic::new(span, format!("vars_files: {e}")).into()),
        };
        let path = play.basedir.join(&name);
        if !path.is_file() {
            return Err(
                Diagnostic::new(span, format!("vars file `{name}` not found"))
                    .with_hint(format!("looked for {}", path.display()))
                    .into(),
            );
        }
        let node = crate::yaml::load_file(&path).map_err(|e| e.0)?;
        match node.to_value() {
            Value::Object(m) => out.extend(m),
            Value::Null => {}
            _ => {
                return Err(Diagnostic::new(&node.span, "a vars file must be a mapping").into());
            }
        }
    }
    Ok(out)
}
