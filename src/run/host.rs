//! One host's walk through a play: sections, blocks with rescue/always,
//! includes, handlers and the failure policy.

use super::RunOptions;
use super::lockstep::Batch;
use crate::connection::{ConnSpec, Connection, LocalConnection};

use crate::inventory::Inventory;
use crate::output::{Event, EventSink, HostStats, Status};
use crate::plan::PlanStep;
use crate::playbook::{Action, Block, Common, Item, MetaAction, Play, Task, Vars};
use crate::template::{self, Scope};
use crate::vars::{PlayVars, TaskVarsRequest, task_scope};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;

/// How a walk through a list of tasks ended for this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Failed,
    /// `meta: end_play` / `end_host`: stop this host quietly.
    End,
}

pub(super) struct HostRunner<'a> {
    pub host: String,
    pub play: &'a Play,
    pub pv: Arc<PlayVars>,
    pub opts: &'a RunOptions,
    pub sink: &'a dyn EventSink,
    pub group_names: Vec<String>,
    pub stats: HostStats,
    pub steps: Vec<PlanStep>,
    pub conn: Option<Box<dyn Connection>>,
    /// Connections to `delegate_to` hosts.
    pub delegates: std::collections::HashMap<String, Box<dyn Connection>>,
    /// In a plan: the state planned changes will leave, for later tasks to observe.
    pub planned: crate::modules::Planned,
    /// Handlers notified and not yet run, by index in `play.handlers`.
    notified: Vec<bool>,
    /// Keywords of enclosing play/role/blocks, outermost first.
    pub chain: Vec<Common>,
    pub include_vars: Vec<Arc<Vars>>,
    pub role_params: Option<Vars>,
    /// Inside a block that has a rescue section: failures there are not final.
    pub rescue_depth: u32,
    pub unreachable: bool,
    /// The last failed task's name and result, for `ansible_failed_task`/`_result` in rescue.
    pub last_failure: Option<(String, Value)>,
    /// The hosts of this batch, for lockstep, abort signals and run_once.
    pub batch: &'a Batch,
    /// How often each task has run on this host (run_once keys).
    pub occurrences: std::collections::HashMap<usize, u32>,
    /// When the current task started, for its recorded duration.
    pub task_started: std::time::Instant,
    /// Resolved connections by host name, for the undo journal.
    pub conn_specs: std::collections::HashMap<String, ConnSpec>,
    /// Path states this plan observed (when saving a plan).
    pub observed: crate::modules::target::Observed,
}

impl<'a> HostRunner<'a> {
    pub fn new(
        host: &str,
        play: &'a Play,
        pv: Arc<PlayVars>,
        inventory: &Inventory,
        opts: &'a RunOptions,
        sink: &'a dyn EventSink,
        batch: &'a Batch,
    ) -> Self {
        let mut runner = HostRunner {
            host: host.to_string(),
            play,
            pv,
            opts,
            sink,
            group_names: inventory.group_names(host),
            stats: HostStats::default(),
            steps: Vec::new(),
            conn: None,
            delegates: Default::default(),
            planned: Default::default(),
            notified: vec![false; play.handlers.len()],
            chain: vec![play.common.clone()],
            include_vars: Vec::new(),
            role_params: None,
            rescue_depth: 0,
            unreachable: false,
            last_failure: None,
            batch,
            occurrences: Default::default(),
            task_started: std::time::Instant::now(),
            conn_specs: Default::default(),
            observed: Default::default(),
        };
        runner.resume_pending_handlers();
        runner
    }

    /// Handlers an earlier run notified here and never ran (it died first)
    /// are notified again, so the change they react to is not left half done.
    fn resume_pending_handlers(&mut self) {
        let Some(rec) = &self.opts.recorder else {
            return;
        };
        for (name, run) in rec.pending_for(&self.host) {
            if let Some(i) = self
                .play
                .handlers
                .iter()
                .position(|h| handler_key(h).as_deref() == Some(name.as_str()))
            {
                self.notified[i] = true;
                self.sink.emit(Event::Warning {
                    message: format!(
                        "{}: handler '{name}' was notified by run {run}, which ended before it ran; it runs in this play",
                        self.host
                    ),
                });
            }
        }
    }

    pub fn finish(self) -> (HostStats, Vec<PlanStep>, crate::modules::target::Observed) {
        (self.stats, self.steps, self.observed)
    }

    /// The host's connection, opened on first use and kept for the play.
    pub fn connection(&mut self) -> Result<&mut Box<dyn Connection>, String> {
        if self.conn.is_none() {
            self.conn = Some(self.open_connection()?);
        }
        Ok(self.conn.as_mut().expect("just opened"))
    }

    /// The connection to a `delegate_to` host, opened on first use and kept.
    pub fn delegate_connection(&mut self, name: &str) -> Result<&mut Box<dyn Connection>, String> {
        if !self.delegates.contains_key(name) {
            let conn: Box<dyn Connection> = if matches!(name, "localhost" | "127.0.0.1" | "::1")
                && !self.pv.inventory_vars.contains_key(name)
            {
                Box::new(LocalConnection)
            } else if self.pv.inventory_vars.contains_key(name) {
                let scope = self.scope_of(name);
                self.open_connection_with(name, &scope)?
            } else {
                return Err(format!(
                    "delegate_to: no host named {name} in the inventory"
                ));
            };
            self.delegates.insert(name.to_string(), conn);
        }
        Ok(self.delegates.get_mut(name).expect("just inserted"))
    }

    fn open_connection(&self) -> Result<Box<dyn Connection>, String> {
        let scope = self.base_scope();
        self.open_connection_with(&self.host, &scope)
    }

    fn open_connection_with(
        &self,
        host: &str,
        scope: &Arc<Scope>,
    ) -> Result<Box<dyn Connection>, String> {
        Ok(self
            .conn_spec(host, scope)?
            .open(self.opts.accept_new_host_keys))
    }

    /// How `host` is reached, from its variables and the run's options.
    pub fn conn_spec(&self, host: &str, scope: &Arc<Scope>) -> Result<ConnSpec, String> {
        let connection = match scope.get("ansible_connection").map_err(|e| e.0)? {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Ok(ConnSpec::resolve(host, connection.as_deref(), |k| {
            scope.get(k).map_err(|e| e.0)
        })?
        .with_default_user(self.opts.remote_user.as_deref()))
    }

    /// The resolved connection of `host` (this host or a delegate), cached.
    pub fn conn_spec_of(&mut self, host: &str) -> Result<ConnSpec, String> {
        if let Some(spec) = self.conn_specs.get(host) {
            return Ok(spec.clone());
        }
        let spec = if host != self.host
            && matches!(host, "localhost" | "127.0.0.1" | "::1")
            && !self.pv.inventory_vars.contains_key(host)
        {
            ConnSpec::Local
        } else {
            let scope = self.scope_of(host);
            self.conn_spec(host, &scope)?
        };
        self.conn_specs.insert(host.to_string(), spec.clone());
        Ok(spec)
    }

    /// Variables without any task context (for connection settings).
    pub fn base_scope(&self) -> Arc<Scope> {
        self.scope_of(&self.host)
    }

    fn scope_of(&self, host: &str) -> Arc<Scope> {
        task_scope(
            &self.pv,
            TaskVarsRequest {
                host,
                group_names: self.group_names.clone(),
                role: None,
                role_params: None,
                chain: &[],
                include_vars: &[],
                loop_vars: None,
            },
        )
    }

    pub fn run(&mut self) {
        self.run_sections();
        let failed = self.stats.failed > 0 || self.stats.unreachable > 0;
        self.batch.leave(failed);
        self.sink.emit(Event::HostDone {
            host: self.host.clone(),
            stats: self.stats.clone(),
        });
    }

    fn run_sections(&mut self) {
        let play = self.play;
        if play.gather_facts && self.gather_facts() == Flow::Failed {
            return;
        }
        let sections: [&[Item]; 1] = [&play.pre_tasks];
        for items in sections {
            if self.items(items) != Flow::Continue {
                return;
            }
        }
        if self.flush_handlers() != Flow::Continue {
            return;
        }
        for role in &play.roles {
            self.chain.push(role.common.clone());
            self.role_params = Some(role.params.clone());
            let flow = self.items(&role.tasks);
            self.role_params = None;
            self.chain.pop();
            if flow != Flow::Continue {
                return;
            }
        }
        if self.items(&play.tasks) != Flow::Continue {
            return;
        }
        if self.flush_handlers() != Flow::Continue {
            return;
        }
        if self.items(&play.post_tasks) != Flow::Continue {
            return;
        }
        self.flush_handlers();
    }

    fn gather_facts(&mut self) -> Flow {
        let task = Arc::new(Task {
            name: Some("Gathering Facts".into()),
            span: self.play.span.clone(),
            common: Common::default(),
            action: Action::Module {
                module: "setup".into(),
                args: Value::Object(Map::new()),
            },
            looping: None,
            loop_control: Default::default(),
            register: None,
            notify: vec![],
            listen: vec![],
            changed_when: None,
            failed_when: None,
            until: None,
            retries: None,
            delay: None,
        });
        // Fact gathering runs whatever tags were asked for, as in Ansible.
        self.run_task(&task, false, true)
    }

    pub fn items(&mut self, items: &[Item]) -> Flow {
        for item in items {
            let flow = match item {
                Item::Task(t) => self.run_task(t, false, false),
                Item::Block(b) => self.block(b),
            };
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    fn block(&mut self, b: &Arc<Block>) -> Flow {
        self.chain.push(b.common.clone());
        let protected = !b.rescue.is_empty();
        if protected {
            self.rescue_depth += 1;
        }
        let mut flow = self.items(&b.block);
        if protected {
            self.rescue_depth -= 1;
        }
        if flow == Flow::Failed && protected && !self.unreachable {
            self.stats.rescued += 1;
            let mut failure = Common::default();
            if let Some((name, result)) = self.last_failure.take() {
                failure.vars.insert(
                    "ansible_failed_task".into(),
                    serde_json::json!({ "name": name }),
                );
                failure.vars.insert("ansible_failed_result".into(), result);
            }
            self.chain.push(failure);
            self.sink.emit(Event::Rescue {
                host: self.host.clone(),
                tasks: self.opts.tags.offered(&b.rescue, &self.chain),
            });
            flow = self.items(&b.rescue);
            self.chain.pop();
        }
        if !b.always.is_empty() && !self.unreachable && flow != Flow::End {
            let always = self.items(&b.always);
            if always != Flow::Continue {
                flow = always;
            }
        }
        self.chain.pop();
        flow
    }

    /// Tags of the task including everything it inherits.
    pub fn effective_tags(&self, task: &Task) -> BTreeSet<String> {
        self.chain
            .iter()
            .flat_map(|c| c.tags.iter())
            .chain(task.common.tags.iter())
            .cloned()
            .collect()
    }

    pub fn meta(&mut self, m: MetaAction) -> Flow {
        match m {
            MetaAction::FlushHandlers => self.flush_handlers(),
            MetaAction::EndPlay | MetaAction::EndHost => Flow::End,
            MetaAction::ClearFacts => {
                self.pv
                    .update_live(&self.host, |l| l.facts = Arc::new(Map::new()));
                Flow::Continue
            }
            MetaAction::Noop | MetaAction::ClearHostErrors | MetaAction::RefreshInventory => {
                Flow::Continue
            }
        }
    }

    /// Marks handlers for `names` (handler names or `listen` topics).
    pub fn notify(&mut self, names: &[String], scope: &Arc<Scope>) -> Result<(), String> {
        for raw in names {
            let name = match template::render_str(raw, scope).map_err(|e| e.0)? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let mut found = false;
            for (i, h) in self.play.handlers.iter().enumerate() {
                let role_qualified = h
                    .common
                    .role
                    .as_ref()
                    .zip(h.name.as_ref())
                    .map(|(r, n)| format!("{} : {n}", r.name));
                if h.name.as_deref() == Some(name.as_str())
                    || role_qualified.as_deref() == Some(name.as_str())
                    || h.listen.contains(&name)
                {
                    self.notified[i] = true;
                    found = true;
                    if let (Some(rec), Some(key)) = (&self.opts.recorder, handler_key(h)) {
                        rec.notified(&self.host, &key);
                    }
                }
            }
            if !found {
                return Err(format!(
                    "The requested handler '{name}' was not found in either the main handlers list nor in the listening handlers list"
                ));
            }
        }
        Ok(())
    }

    /// Runs notified handlers once each, in the order they are defined.
    pub fn flush_handlers(&mut self) -> Flow {
        loop {
            let Some(i) = self.notified.iter().position(|n| *n) else {
                return Flow::Continue;
            };
            self.notified[i] = false;
            let handler = self.play.handlers[i].clone();
            let saved = std::mem::replace(&mut self.chain, vec![self.play.common.clone()]);
            let flow = self.run_task(&handler, true, false);
            self.chain = saved;
            if flow != Flow::Continue {
                return flow;
            }
            if let (Some(rec), Some(key)) = (&self.opts.recorder, handler_key(&handler)) {
                rec.handler_ran(&self.host, &key);
            }
        }
    }

    pub fn emit_result(&self, task: &str, location: &str, status: Status, r: ResultView) {
        self.sink.emit(Event::HostResult {
            host: self.host.clone(),
            task: task.to_string(),
            location: location.to_string(),
            status,
            item: r.item,
            msg: r.msg,
            summary: r.summary,
            diff: r.diff,
            ignored: r.ignored,
            loop_summary: r.loop_summary,
            result: Box::new(r.result),
        });
    }
}

/// The parts of a result an event carries.
#[derive(Default)]
pub(super) struct ResultView {
    pub item: Option<Value>,
    pub msg: Option<String>,
    pub summary: Option<String>,
    pub diff: Option<crate::modules::TextDiff>,
    pub ignored: bool,
    pub loop_summary: bool,
    pub result: Value,
}

/// What Ansible shows in place of a `no_log: true` task's result.
pub const NO_LOG_MESSAGE: &str =
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

impl ResultView {
    /// The view a `no_log: true` task shows: its status and nothing else.
    pub fn hidden_if(self, hidden: bool) -> ResultView {
        if !hidden {
            return self;
        }
        let mut result = serde_json::Map::new();
        result.insert("censored".into(), NO_LOG_MESSAGE.into());
        if let Some(changed) = self.result.get("changed") {
            result.insert("changed".into(), changed.clone());
        }
        ResultView {
            item: self.item.map(|_| Value::String("<redacted>".into())),
            msg: None,
            summary: None,
            diff: None,
            ignored: self.ignored,
            loop_summary: self.loop_summary,
            result: Value::Object(result),
        }
    }
}

/// How a handler is named in the state store: its name, role-qualified.
fn handler_key(h: &Task) -> Option<String> {
    let name = h.name.as_ref()?;
    Some(match &h.common.role {
        Some(role) => format!("{} : {name}", role.name),
        None => name.clone(),
    })
}
