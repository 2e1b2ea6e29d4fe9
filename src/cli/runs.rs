//! `runs` and `show`: the recorded history.

use super::CliError;
use super::store::{StateArgs, state_error};
use clap::Args;
use tbuddy_deploy::state::{RunKind, RunSummary, UndoState};

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// How many runs to list, newest first.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run id (see `runs`).
    pub run: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

pub fn exec_runs(args: RunsArgs) -> Result<i32, CliError> {
    let store = args.state.open()?;
    let runs = store.runs(args.limit).map_err(state_error)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).expect("summaries serialize")
        );
        return Ok(0);
    }
    if runs.is_empty() {
        println!("No runs recorded in {}.", store.describe());
        return Ok(0);
    }
    let rows: Vec<[String; 8]> = runs.iter().map(row).collect();
    let head = [
        "ID",
        "STARTED",
        "KIND",
        "PLAYBOOK",
        "INVENTORY",
        "HOSTS",
        "OK/CHANGED/FAILED",
        "STATUS",
    ];
    let mut widths = head.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(head.to_vec()));
    for r in &rows {
        println!("{}", line(r.iter().map(String::as_str).collect()));
    }
    Ok(0)
}

fn kind(k: &RunKind) -> String {
    match k {
        RunKind::Apply => "apply".into(),
        RunKind::Rollback { of } => format!("rollback of {of}"),
    }
}

fn row(r: &RunSummary) -> [String; 8] {
    [
        r.id.to_string(),
        r.started.clone(),
        kind(&r.kind),
        r.playbook.clone(),
        shorten(&r.inventory, 40),
        r.hosts.to_string(),
        format!("{}/{}/{}", r.ok, r.changed, r.failed + r.unreachable),
        r.status.to_string(),
    ]
}

fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

pub fn exec_show(args: ShowArgs) -> Result<i32, CliError> {
    let store = args.state.open()?;
    let d = store.run(args.run).map_err(state_error)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&d).expect("details serialize")
        );
        return Ok(0);
    }
    let s = &d.summary;
    println!("Run {} ({}): {}", s.id, kind(&s.kind), s.status);
    println!("  playbook:  {}", d.meta.playbook);
    println!("  inventory: {}", d.meta.inventory);
    if let Some(limit) = &d.meta.limit {
        println!("  limit:     {limit}");
    }
    println!(
        "  by:        {}@{} with tbuddy-deploy {}",
        d.meta.user, d.meta.controller_host, d.meta.tool_version
    );
    println!(
        "  started:   {}{}",
        s.started,
        s.finished
            .as_deref()
            .map(|f| format!(", finished {f}"))
            .unwrap_or_default()
    );
    if d.meta.extra_vars.as_object().is_some_and(|m| !m.is_empty()) {
        println!("  extra vars: {}", d.meta.extra_vars);
    }
    let rollbacks = store.rollbacks_of(s.id).map_err(state_error)?;
    if !rollbacks.is_empty() {
        let ids: Vec<String> = rollbacks.iter().map(i64::to_string).collect();
        println!("  rolled back by run(s): {}", ids.join(", "));
    }
    let mut host = "";
    for t in &d.tasks {
        if t.host != host {
            host = &t.host;
            println!("\n{host}:");
        }
        let mut line = format!(
            "  {:<11} {} ({}, {} ms)",
            t.status, t.task, t.location, t.duration_ms
        );
        if let Some(summary) = &t.summary {
            line.push_str(&format!(": {summary}"));
        }
        println!("{line}");
        if let Some(diff) = &t.diff {
            for l in diff.lines() {
                println!("      {l}");
            }
        }
    }
    if !d.undo.is_empty() {
        println!("\nundo journal:");
        for u in &d.undo {
            let state = match u.state {
                UndoState::Pending => "pending (the run ended before the change was confirmed)",
                UndoState::Done => "done",
                UndoState::Failed => "failed",
            };
            println!("  #{} {}: {} [{state}]", u.seq, u.host, u.summary);
        }
    }
    Ok(0)
}
