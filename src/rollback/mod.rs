//! Rollback: the inverse of a recorded run, built from its undo journal in
//! reverse order, checked against what the hosts show now, then applied.
//!
//! Each step is planned against the state the later steps (already planned,
//! since the order is reversed) will leave, so a file the run wrote twice is
//! first put back to its middle state and then to its original one. A path
//! that no longer looks like what the run left is drift: the rollback refuses
//! it unless forced, and names the path and what differs.

pub mod checks;
pub mod connect;
pub mod execute;
pub mod hosts;
pub mod record;
pub mod render;

use crate::connection::{Become, Connection};
use crate::modules::TextDiff;
use crate::modules::target::{FileKind, FileState, Target};
use crate::output::diff::unified;
use crate::state::{RunId, StateError, StateStore, UndoEntry};
use record::{PathState, UndoAction, UndoRecord};
use std::collections::{BTreeMap, HashMap};

/// What one rollback step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOp {
    /// The path already looks as it did before the run.
    AlreadyDone,
    /// Remove a file or link the run created.
    Remove { path: String, kind: FileKind },
    /// Remove a directory the run created (it holds nothing else).
    RemoveDir { path: String, force: bool },
    /// Put the prior state back.
    Restore { prior: PathState },
    /// Run the inverse module task; `summary` is what its plan says.
    Invoke {
        module: String,
        args: serde_json::Map<String, serde_json::Value>,
        summary: String,
    },
    /// Run a recorded task again once the host's other steps are done (a
    /// restart, so that the service loads the restored configuration).
    Replay {
        module: String,
        args: serde_json::Map<String, serde_json::Value>,
        summary: String,
    },
    /// The change has no undo.
    Irreversible { why: String },
}

impl StepOp {
    /// Whether applying the step changes the host.
    pub fn acts(&self) -> bool {
        !matches!(self, StepOp::AlreadyDone | StepOp::Irreversible { .. })
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub entry: UndoEntry,
    pub record: UndoRecord,
    pub op: StepOp,
    /// How the host drifted from what the run left, when it did.
    pub drift: Option<Drift>,
}

#[derive(Debug, Clone)]
pub struct Drift {
    pub path: String,
    pub what: Vec<String>,
    /// What the run left → what is there now, for text files both known.
    pub diff: Option<String>,
}

#[derive(Debug, Default)]
pub struct RollbackPlan {
    pub run: RunId,
    /// Per host, in the order the steps run.
    pub hosts: BTreeMap<String, Vec<Step>>,
    /// Hosts that could not be observed.
    pub unreachable: BTreeMap<String, String>,
}

impl RollbackPlan {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.hosts.values().flatten()
    }

    pub fn changes(&self) -> usize {
        self.steps().filter(|s| s.op.acts()).count()
    }

    pub fn drifted(&self) -> Vec<&Step> {
        self.steps().filter(|s| s.drift.is_some()).collect()
    }

    pub fn irreversible(&self) -> Vec<&Step> {
        self.steps()
            .filter(|s| matches!(s.op, StepOp::Irreversible { .. }))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("journal entry {id} of run {run} cannot be read: {msg}")]
    BadRecord { run: RunId, id: i64, msg: String },
}

/// The open connection of each observed host, reused to apply.
pub type Connections = HashMap<String, Box<dyn Connection>>;

/// Opens connections for the hosts of a rollback.
pub trait Connector {
    fn connect(&mut self, host: &str, record: &UndoRecord) -> Box<dyn Connection>;
    fn become_for(&self, record: &UndoRecord) -> Option<Become>;
}

/// Reads the journal of `run` (hosts accepted by `want_host`) and observes
/// every path it touched, building the plan without changing anything.
pub fn plan(
    store: &dyn StateStore,
    run: RunId,
    want_host: &dyn Fn(&str) -> bool,
    force: bool,
    connector: &mut dyn Connector,
) -> Result<(RollbackPlan, Connections), RollbackError> {
    // Tasks that ended reporting no change (`changed_when: false`) made no
    // change a rollback must answer for, even if their module ran.
    let detail = store.run(run)?;
    let unchanged: std::collections::HashSet<(String, String)> = {
        let tasks = detail.tasks;
        let changed: std::collections::HashSet<(String, String)> = tasks
            .iter()
            .filter(|t| t.changed)
            .map(|t| (t.host.clone(), t.location.clone()))
            .collect();
        tasks
            .into_iter()
            .map(|t| (t.host, t.location))
            .filter(|k| !changed.contains(k))
            .collect()
    };
    let mut by_host: BTreeMap<String, Vec<(UndoEntry, UndoRecord)>> = BTreeMap::new();
    for entry in detail.undo {
        if !want_host(&entry.host) {
            continue;
        }
        let record: UndoRecord =
            serde_json::from_value(entry.undo.clone()).map_err(|e| RollbackError::BadRecord {
                run,
                id: entry.id,
                msg: e.to_string(),
            })?;
        by_host
            .entry(entry.host.clone())
            .or_default()
            .push((entry, record));
    }
    let mut plan = RollbackPlan {
        run,
        ..Default::default()
    };
    let mut conns = HashMap::new();
    for (host, mut entries) in by_host {
        entries.sort_by_key(|(e, _)| std::cmp::Reverse(e.seq));
        let mut conn = connector.connect(&host, &entries[0].1);
        // Where each path ends up once everything is undone: the state before
        // the first change to it. A path already there needs no step at all.
        let mut origin: HashMap<String, PathState> = HashMap::new();
        for (_, record) in entries.iter().rev() {
            let (path, state) = match &record.action {
                UndoAction::Remove { path } => (path.clone(), absent_state(path)),
                UndoAction::Restore { prior } => (prior.path.clone(), prior.clone()),
                UndoAction::Irreversible { .. }
                | UndoAction::Invoke { .. }
                | UndoAction::Replay { .. } => continue,
            };
            origin.entry(path).or_insert(state);
        }
        let mut planner = HostPlanner {
            run,
            unchanged: &unchanged,
            expected: HashMap::new(),
            origin,
            settled: Default::default(),
            force,
            store,
        };
        let mut steps = Vec::new();
        let mut failed = None;
        for (entry, record) in entries {
            let mut target = Target {
                conn: conn.as_mut(),
                become_as: connector.become_for(&record),
                env: Vec::new(),
                planned: None,
                seen: None,
            };
            match planner.step(&mut target, entry, record) {
                Ok(step) => steps.push(step),
                Err(msg) => {
                    failed = Some(msg);
                    break;
                }
            }
        }
        match failed {
            Some(msg) => {
                plan.unreachable.insert(host, msg);
            }
            None => {
                plan.hosts.insert(host.clone(), replays_last(steps));
                conns.insert(host, conn);
            }
        }
    }
    Ok((plan, conns))
}

struct HostPlanner<'a> {
    run: RunId,
    /// (host, task location) of tasks that reported no change.
    unchanged: &'a std::collections::HashSet<(String, String)>,
    /// States earlier-planned (later-recorded) steps leave behind.
    expected: HashMap<String, FileState>,
    /// The state each path had before the run.
    origin: HashMap<String, PathState>,
    /// Paths found already back in their state from before the run.
    settled: std::collections::HashSet<String>,
    force: bool,
    store: &'a dyn StateStore,
}

impl HostPlanner<'_> {
    fn current(&mut self, t: &mut Target<'_>, path: &str) -> Result<FileState, String> {
        if let Some(st) = self.expected.get(path) {
            return Ok(st.clone());
        }
        let st = t.stat(path, false).map_err(|e| e.msg)?;
        if self
            .origin
            .get(path)
            .is_some_and(|o| o.differences(&st).is_empty())
        {
            self.settled.insert(path.to_string());
        }
        Ok(st)
    }

    /// A path this rollback (or an earlier one) already brought back.
    fn is_settled(&mut self, t: &mut Target<'_>, path: &str) -> Result<bool, String> {
        self.current(t, path)?;
        Ok(self.settled.contains(path))
    }

    fn step(
        &mut self,
        t: &mut Target<'_>,
        entry: UndoEntry,
        record: UndoRecord,
    ) -> Result<Step, String> {
        let mut drift = None;
        let op = match &record.action {
            UndoAction::Irreversible { .. }
                if self
                    .unchanged
                    .contains(&(entry.host.clone(), entry.location.clone())) =>
            {
                StepOp::AlreadyDone
            }
            UndoAction::Irreversible { why } => StepOp::Irreversible { why: why.clone() },
            // Whether it runs depends on the host's other steps: replays_last.
            UndoAction::Replay {
                module,
                args,
                summary,
            } => StepOp::Replay {
                module: module.clone(),
                args: args.clone(),
                summary: summary.clone(),
            },
            UndoAction::Invoke { module, args, .. } => {
                // Planned like a task: an inverse already in effect is no step.
                let mut action = inverse_action(module, args)?;
                action.observe(t).map_err(|e| e.msg)?;
                match action.diff().map_err(|e| e.msg)? {
                    None => StepOp::AlreadyDone,
                    Some(change) => StepOp::Invoke {
                        module: module.clone(),
                        args: args.clone(),
                        summary: change.summary,
                    },
                }
            }
            UndoAction::Remove { path } if self.is_settled(t, path)? => StepOp::AlreadyDone,
            UndoAction::Restore { prior } if self.is_settled(t, &prior.path)? => {
                StepOp::AlreadyDone
            }
            UndoAction::Remove { path } => {
                let now = self.current(t, path)?;
                let op = if !now.exists() {
                    StepOp::AlreadyDone
                } else if now.kind == FileKind::Directory {
                    let left = self.unexpected_children(t, path)?;
                    if !left.is_empty() {
                        drift = Some(Drift {
                            path: path.clone(),
                            what: vec![format!(
                                "holds what the run did not create: {}",
                                preview(&left)
                            )],
                            diff: None,
                        });
                    }
                    StepOp::RemoveDir {
                        path: path.clone(),
                        force: self.force,
                    }
                } else {
                    drift = self.drift(t, &record, path, &now)?;
                    StepOp::Remove {
                        path: path.clone(),
                        kind: now.kind,
                    }
                };
                self.expected.insert(path.clone(), FileState::absent());
                op
            }
            UndoAction::Restore { prior } => {
                let now = self.current(t, &prior.path)?;
                let op = if prior.differences(&now).is_empty() {
                    StepOp::AlreadyDone
                } else {
                    drift = self.drift(t, &record, &prior.path, &now)?;
                    StepOp::Restore {
                        prior: prior.clone(),
                    }
                };
                self.expected
                    .insert(prior.path.clone(), planned_state(prior));
                op
            }
        };
        Ok(Step {
            entry,
            record,
            op,
            drift,
        })
    }

    /// Files and links below `dir` that the plan does not remove. (Empty
    /// directories inside go with it: the removal deletes empty ones only.)
    fn unexpected_children(
        &mut self,
        t: &mut Target<'_>,
        dir: &str,
    ) -> Result<Vec<String>, String> {
        let out = t
            .run_ok(
                &format!(
                    "find {} -mindepth 1 ! -type d 2>/dev/null | head -n 1000",
                    crate::connection::sh_quote(dir)
                ),
                None,
            )
            .map_err(|e| e.msg)?;
        Ok(out
            .stdout_str()
            .lines()
            .filter(|p| self.expected.get(*p).is_none_or(|st| st.exists()))
            .map(String::from)
            .collect())
    }

    /// Compares the path with what the run left there.
    fn drift(
        &mut self,
        t: &mut Target<'_>,
        record: &UndoRecord,
        path: &str,
        now: &FileState,
    ) -> Result<Option<Drift>, String> {
        if self.expected.contains_key(path) {
            // An earlier-planned step of this rollback already accounts for it.
            return Ok(None);
        }
        let Some(left) = record.after.iter().find(|a| a.path == path) else {
            return Ok(None);
        };
        let what = left.differences(now);
        if what.is_empty() {
            return Ok(None);
        }
        let mut diff = None;
        if left.kind == FileKind::File
            && now.kind == FileKind::File
            && let Some(blob) = &left.content_blob
            && let Ok(before) = self.store.get_blob(blob)
            && let Ok(current) = t.stat(path, true)
            && let Some(now_content) = &current.content
        {
            diff = Some(unified(&TextDiff {
                path: format!("{path} (as run {} left it → now)", self.run),
                before: String::from_utf8_lossy(&before).into_owned(),
                after: String::from_utf8_lossy(now_content).into_owned(),
            }));
        }
        Ok(Some(Drift {
            path: path.to_string(),
            what,
            diff,
        }))
    }
}

/// Moves the replays after every other step of the host, keeping one per
/// distinct task; they are needed only when something else is undone.
fn replays_last(steps: Vec<Step>) -> Vec<Step> {
    let (mut replays, mut rest): (Vec<Step>, Vec<Step>) = steps
        .into_iter()
        .partition(|s| matches!(s.op, StepOp::Replay { .. }));
    // The journal is walked newest first; replay in the order the run did.
    replays.reverse();
    let needed = rest.iter().any(|s| s.op.acts());
    // A service the rollback itself starts or stops loads the restored
    // configuration then, or is meant to stay down: no replay for it.
    // So is a service whose package the rollback removes (named like the
    // package, as apt's plan assumes): it is gone by the time replays run.
    let handled: Vec<serde_json::Value> = rest
        .iter()
        .flat_map(|s| match &s.op {
            StepOp::Invoke { module, args, .. } if module == "service" => {
                args.get("name").cloned().into_iter().collect()
            }
            StepOp::Invoke { module, args, .. } if module == "apt" => {
                // Removed: all names of a `state: absent` task, or the `NAME-`
                // words of apt's own undo.
                let absent = args.get("state").is_some_and(|v| v == "absent");
                let names: Vec<&serde_json::Value> = match args.get("name") {
                    Some(serde_json::Value::Array(names)) => names.iter().collect(),
                    Some(name) => vec![name],
                    None => Vec::new(),
                };
                names
                    .into_iter()
                    .filter_map(|n| n.as_str())
                    .filter_map(|n| match n.strip_suffix('-') {
                        Some(pkg) => Some(pkg.to_string()),
                        None => absent.then(|| n.to_string()),
                    })
                    .map(serde_json::Value::from)
                    .collect()
            }
            _ => Vec::new(),
        })
        .collect();
    let mut seen = Vec::new();
    for mut step in replays {
        let key = match &step.op {
            StepOp::Replay { module, args, .. } => (module.clone(), args.clone()),
            _ => unreachable!("partitioned"),
        };
        if seen.contains(&key)
            || key.0 == "service" && key.1.get("name").is_some_and(|n| handled.contains(n))
        {
            continue;
        }
        seen.push(key);
        if !needed {
            step.op = StepOp::AlreadyDone;
        }
        rest.push(step);
    }
    rest
}

fn absent_state(path: &str) -> PathState {
    PathState {
        path: path.to_string(),
        kind: FileKind::Absent,
        mode: 0,
        owner: String::new(),
        group: String::new(),
        sha1: None,
        link_target: None,
        content_blob: None,
        backup_path: None,
    }
}

fn planned_state(prior: &PathState) -> FileState {
    FileState {
        kind: prior.kind,
        mode: prior.mode,
        owner: prior.owner.clone(),
        group: prior.group.clone(),
        sha1: prior.sha1.clone(),
        link_target: prior.link_target.clone(),
        ..FileState::absent()
    }
}

fn preview(paths: &[String]) -> String {
    let mut s = paths.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
    if paths.len() > 3 {
        s.push_str(&format!(" and {} more", paths.len() - 3));
    }
    s
}

/// The module action that undoes a change, from its recorded arguments.
fn inverse_action(
    module: &str,
    args: &serde_json::Map<String, serde_json::Value>,
) -> Result<Box<dyn crate::modules::Action>, String> {
    let m = crate::modules::registry::get(module)
        .ok_or_else(|| format!("the undo names module {module}, which this version lacks"))?;
    if let Some((key, _)) = args
        .iter()
        .find(|(_, v)| crate::state::redact::is_sealed_arg(v))
    {
        return Err(format!(
            "the undo's argument {key} is sealed with the run's vault password: give it \
             (--vault-password-file, --vault-id or --ask-vault-pass)"
        ));
    }
    let cx = crate::modules::ModuleCx {
        eval: &NoTemplates,
        search_dirs: Vec::new(),
        check_mode: false,
    };
    m.validate(args, &cx).map_err(|e| e.msg)
}

/// Undo arguments are recorded already rendered: nothing is left to evaluate.
struct NoTemplates;

impl crate::modules::Evaluator for NoTemplates {
    fn eval(&self, expr: &str) -> Result<serde_json::Value, String> {
        Err(format!("an undo record cannot evaluate `{expr}`"))
    }
    fn cond(&self, expr: &str) -> Result<bool, String> {
        Err(format!("an undo record cannot evaluate `{expr}`"))
    }
    fn render_text(&self, _text: &str, name: &str) -> Result<String, String> {
        Err(format!("an undo record cannot render {name}"))
    }
}

/// One line describing a step for the plan.
pub fn describe(op: &StepOp) -> String {
    match op {
        StepOp::AlreadyDone => "already as before the run".into(),
        StepOp::Remove { path, kind } => format!("remove {} {path}", noun(*kind)),
        StepOp::RemoveDir { path, .. } => format!("remove directory {path}"),
        StepOp::Restore { prior } => match prior.kind {
            FileKind::Absent => format!("remove {}", prior.path),
            FileKind::File => format!(
                "restore {} (content, mode {:04o}, {}:{})",
                prior.path, prior.mode, prior.owner, prior.group
            ),
            FileKind::Directory => format!(
                "restore directory {} (mode {:04o}, {}:{})",
                prior.path, prior.mode, prior.owner, prior.group
            ),
            FileKind::Link => format!(
                "restore link {} -> {}",
                prior.path,
                prior.link_target.as_deref().unwrap_or("?")
            ),
            FileKind::Other => format!("restore {}", prior.path),
        },
        StepOp::Invoke { summary, .. } => summary.clone(),
        StepOp::Replay { summary, .. } => format!("{summary} again (after the restores)"),
        StepOp::Irreversible { why } => format!("irreversible: {why}"),
    }
}

fn noun(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Link => "link",
        FileKind::Directory => "directory",
        _ => "file",
    }
}

/// Performs one step on the host.
pub fn apply_step(step: &Step, t: &mut Target<'_>, store: &dyn StateStore) -> Result<(), String> {
    use crate::connection::sh_quote;
    match &step.op {
        StepOp::AlreadyDone | StepOp::Irreversible { .. } => Ok(()),
        StepOp::Remove { path, .. } => t
            .run_ok(&format!("rm -f -- {}", sh_quote(path)), None)
            .map(|_| ())
            .map_err(|e| e.msg),
        StepOp::RemoveDir { path, force } => {
            let cmd = if *force {
                format!("rm -rf -- {}", sh_quote(path))
            } else {
                // Only what the run created is left: remove empty directories bottom-up.
                format!(
                    "find {p} -depth -type d -empty -delete && [ ! -e {p} ] || {{ echo \"{p} is not empty\" >&2; exit 1; }}",
                    p = sh_quote(path)
                )
            };
            t.run_ok(&cmd, None).map(|_| ()).map_err(|e| e.msg)
        }
        StepOp::Restore { prior } => restore(prior, t, store),
        StepOp::Invoke { module, args, .. } => {
            let mut action = inverse_action(module, args)?;
            action.observe(t).map_err(|e| e.msg)?;
            match action.diff().map_err(|e| e.msg)? {
                Some(change) => action.apply(&change, t).map_err(|e| e.msg),
                None => Ok(()),
            }
        }
        StepOp::Replay { module, args, .. } => {
            let mut action = inverse_action(module, args)?;
            if let Err(e) = action.observe(t) {
                // An earlier step of this rollback removed what it acts on
                // (the package of the service): nothing is left to restart.
                return if e.returns.get("missing") == Some(&serde_json::Value::Bool(true)) {
                    Ok(())
                } else {
                    Err(e.msg)
                };
            }
            match action.diff().map_err(|e| e.msg)? {
                Some(change) => action.apply(&change, t).map_err(|e| e.msg),
                None => Ok(()),
            }
        }
    }
}

fn restore(prior: &PathState, t: &mut Target<'_>, store: &dyn StateStore) -> Result<(), String> {
    use crate::connection::sh_quote;
    let p = sh_quote(&prior.path);
    let (owner, group) = (Some(prior.owner.as_str()), Some(prior.group.as_str()));
    let owner = owner.filter(|o| !o.is_empty());
    let group = group.filter(|g| !g.is_empty());
    let now = t.stat(&prior.path, false).map_err(|e| e.msg)?;
    match prior.kind {
        FileKind::Absent => t
            .run_ok(&format!("rm -rf -- {p}"), None)
            .map(|_| ())
            .map_err(|e| e.msg),
        FileKind::Directory => {
            if now.kind != FileKind::Directory {
                if now.exists() {
                    t.run_ok(&format!("rm -f -- {p}"), None)
                        .map_err(|e| e.msg)?;
                }
                t.run_ok(&format!("mkdir -p -- {p}"), None)
                    .map_err(|e| e.msg)?;
            }
            t.set_attrs(&prior.path, Some(prior.mode), owner, group, false)
                .map_err(|e| e.msg)
        }
        FileKind::Link => {
            let target = prior.link_target.as_deref().unwrap_or_default();
            t.run_ok(&format!("ln -sfn -- {} {p}", sh_quote(target)), None)
                .map_err(|e| e.msg)?;
            t.set_attrs(&prior.path, None, owner, group, false)
                .map_err(|e| e.msg)
        }
        FileKind::File => {
            let same_content = now.kind == FileKind::File && now.sha1 == prior.sha1;
            if same_content {
                return t
                    .set_attrs(&prior.path, Some(prior.mode), owner, group, false)
                    .map_err(|e| e.msg);
            }
            if let Some(blob) = &prior.content_blob {
                let data = store.get_blob(blob).map_err(|e| e.to_string())?;
                if now.kind == FileKind::Directory {
                    return Err(format!(
                        "{} is now a directory; remove it to restore the file",
                        prior.path
                    ));
                }
                return t
                    .write_file(&prior.path, &data, Some(prior.mode), owner, group)
                    .map_err(|e| e.msg);
            }
            if let Some(backup) = &prior.backup_path {
                let b = sh_quote(backup);
                let want = prior.sha1.as_deref().unwrap_or_default();
                let script = format!(
                    "[ -f {b} ] || {{ echo \"the backup {backup} is gone\" >&2; exit 1; }}\n\
                     [ \"$(sha1sum < {b} | cut -c1-40)\" = {want} ] || {{ echo \"the backup {backup} does not match its recorded checksum\" >&2; exit 1; }}\n\
                     mv -f -- {b} {p}"
                );
                t.run_ok(&script, None).map_err(|e| e.msg)?;
                return t
                    .set_attrs(&prior.path, Some(prior.mode), owner, group, false)
                    .map_err(|e| e.msg);
            }
            Err(format!(
                "the content {} had before the run was not recorded",
                prior.path
            ))
        }
        FileKind::Other => Err(format!(
            "{} was a special file; it cannot be restored",
            prior.path
        )),
    }
}

/// The drift report for a refused rollback.
pub fn drift_report(plan: &RollbackPlan) -> String {
    let mut out = String::new();
    for step in plan.drifted() {
        let d = step.drift.as_ref().expect("drifted");
        out.push_str(&format!(
            "  {}: {} {} since run {} (task \"{}\", {})\n",
            step.entry.host,
            d.path,
            d.what.join(", "),
            plan.run,
            step.entry.task,
            step.entry.location
        ));
        if let Some(diff) = &d.diff {
            for line in diff.lines() {
                out.push_str("      ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{ConnSpec, LocalConnection};
    use crate::state::{RunKind, RunMeta, StateSpec, UndoState};

    struct Local;
    impl Connector for Local {
        fn connect(&mut self, _: &str, _: &UndoRecord) -> Box<dyn Connection> {
            Box::new(LocalConnection)
        }
        fn become_for(&self, _: &UndoRecord) -> Option<Become> {
            None
        }
    }

    /// A run whose one change is undone by running a module task.
    fn journal_invoke(store: &dyn StateStore, path: &str) -> RunId {
        let run = store
            .begin_run(&RunMeta {
                kind: RunKind::Apply,
                playbook: "site.yml".into(),
                inventory: "local".into(),
                limit: None,
                extra_vars: serde_json::json!({}),
                user: "u".into(),
                controller_host: "c".into(),
                tool_version: "t".into(),
                check_mode: false,
                pid: std::process::id(),
            })
            .unwrap();
        let record = UndoRecord {
            conn: ConnSpec::Local,
            become_user: None,
            action: UndoAction::Invoke {
                module: "file".into(),
                args: serde_json::json!({"path": path, "state": "absent"})
                    .as_object()
                    .unwrap()
                    .clone(),
                summary: format!("remove {path}"),
            },
            after: vec![],
        };
        let id = store
            .journal_undo(&UndoEntry {
                id: 0,
                run,
                seq: 0,
                host: "localhost".into(),
                task: "make it".into(),
                location: "site.yml:3:7".into(),
                summary: format!("create {path}"),
                undo: serde_json::to_value(&record).unwrap(),
                blobs: vec![],
                state: UndoState::Pending,
            })
            .unwrap();
        store.finish_undo(id, true, None).unwrap();
        store.finish_run(run, true).unwrap();
        run
    }

    #[test]
    fn an_inverse_module_task_is_planned_applied_and_then_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::state::open(&StateSpec::Sqlite(dir.path().join("s.db"))).unwrap();
        let file = dir.path().join("made");
        std::fs::write(&file, "x").unwrap();
        let run = journal_invoke(store.as_ref(), file.to_str().unwrap());
        let all = |_: &str| true;

        let (plan, mut conns) = super::plan(store.as_ref(), run, &all, false, &mut Local).unwrap();
        let steps = &plan.hosts["localhost"];
        assert!(matches!(&steps[0].op, StepOp::Invoke { module, .. } if module == "file"));
        assert_eq!(plan.changes(), 1);
        assert!(file.exists(), "planning changed nothing");

        let conn = conns.get_mut("localhost").unwrap();
        let mut t = Target {
            conn: conn.as_mut(),
            become_as: None,
            env: Vec::new(),
            planned: None,
            seen: None,
        };
        apply_step(&steps[0], &mut t, store.as_ref()).unwrap();
        assert!(!file.exists());

        let (again, _) = super::plan(store.as_ref(), run, &all, false, &mut Local).unwrap();
        assert_eq!(again.hosts["localhost"][0].op, StepOp::AlreadyDone);
        assert_eq!(again.changes(), 0);
    }

    fn step(op: StepOp) -> Step {
        Step {
            entry: UndoEntry {
                id: 0,
                run: 1,
                seq: 0,
                host: "h".into(),
                task: "t".into(),
                location: "site.yml:1:1".into(),
                summary: String::new(),
                undo: serde_json::Value::Null,
                blobs: vec![],
                state: UndoState::Done,
            },
            record: UndoRecord {
                conn: ConnSpec::Local,
                become_user: None,
                action: UndoAction::Irreversible { why: String::new() },
                after: vec![],
            },
            op,
            drift: None,
        }
    }

    fn replay(name: &str) -> StepOp {
        StepOp::Replay {
            module: "service".into(),
            args: serde_json::json!({"name": name, "state": "restarted"})
                .as_object()
                .unwrap()
                .clone(),
            summary: format!("restart service {name}"),
        }
    }

    fn restore(path: &str) -> StepOp {
        StepOp::Remove {
            path: path.into(),
            kind: FileKind::File,
        }
    }

    #[test]
    fn restarts_are_replayed_once_after_the_restores() {
        // Newest first, as the journal is walked: the second restart, the
        // env file, the first restart, the unit file.
        let steps = vec![
            step(replay("app")),
            step(restore("/etc/app/env")),
            step(replay("app")),
            step(replay("db")),
            step(restore("/etc/app/unit")),
        ];
        let out: Vec<String> = replays_last(steps)
            .iter()
            .map(|s| describe(&s.op))
            .collect();
        assert_eq!(
            out,
            [
                "remove file /etc/app/env",
                "remove file /etc/app/unit",
                "restart service db again (after the restores)",
                "restart service app again (after the restores)",
            ]
        );
    }

    #[test]
    fn no_replay_without_anything_else_to_undo_or_when_the_service_is_undone() {
        let out = replays_last(vec![step(replay("app")), step(StepOp::AlreadyDone)]);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|s| !s.op.acts()), "nothing else changes");

        let stop = StepOp::Invoke {
            module: "service".into(),
            args: serde_json::json!({"name": "app", "state": "stopped"})
                .as_object()
                .unwrap()
                .clone(),
            summary: "stop service app".into(),
        };
        let out = replays_last(vec![step(replay("app")), step(stop), step(restore("/x"))]);
        assert_eq!(out.len(), 2, "the stop decides, no restart after it");

        let remove = StepOp::Invoke {
            module: "apt".into(),
            args: serde_json::json!({"name": ["postgresql", "sqlite3"], "state": "absent"})
                .as_object()
                .unwrap()
                .clone(),
            summary: "remove packages postgresql, sqlite3".into(),
        };
        let out = replays_last(vec![step(replay("postgresql")), step(remove)]);
        assert_eq!(out.len(), 1, "the package and its service are gone");
        let undo_install = StepOp::Invoke {
            module: "apt".into(),
            args: serde_json::json!({"name": ["postgresql-", "perl-base=5.36.0-7"], "state": "present"})
                .as_object()
                .unwrap()
                .clone(),
            summary: "apt: remove postgresql".into(),
        };
        let out = replays_last(vec![step(replay("postgresql")), step(undo_install)]);
        assert_eq!(out.len(), 1, "apt's own undo removes it too");
    }
}
