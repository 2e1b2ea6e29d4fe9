//! The typed playbook tree. Values that may hold templates stay as data
//! (`serde_json::Value`) and are rendered per host at run time.

use crate::diag::Span;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;

pub type Vars = Map<String, Value>;

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    pub hosts: String,
    pub span: Span,
    pub basedir: PathBuf,
    pub vars: Vars,
    /// Paths (templates) relative to the playbook directory, each with where it was written.
    pub vars_files: Vec<(String, Span)>,
    pub gather_facts: bool,
    pub serial: Option<Value>,
    pub strategy: Strategy,
    pub max_fail_percentage: Option<f64>,
    pub any_errors_fatal: bool,
    /// Keywords tasks inherit (become, tags, when is not allowed on plays, ...).
    pub common: Common,
    pub pre_tasks: Vec<Item>,
    pub roles: Vec<RoleUse>,
    pub tasks: Vec<Item>,
    pub post_tasks: Vec<Item>,
    pub handlers: Vec<Arc<Task>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Linear,
    Free,
}

/// A role as listed under a play's `roles:`; its files are loaded eagerly.
#[derive(Debug, Clone)]
pub struct RoleUse {
    pub role: Arc<Role>,
    /// The role entry's own keywords (when, tags, become, vars given as role params).
    pub common: Common,
    pub params: Vars,
    pub tasks: Vec<Item>,
}

#[derive(Debug)]
pub struct Role {
    pub name: String,
    pub path: PathBuf,
    pub defaults: Arc<Vars>,
    pub vars: Arc<Vars>,
}

#[derive(Debug, Clone)]
pub enum Item {
    Task(Arc<Task>),
    Block(Arc<Block>),
}

#[derive(Debug, Clone)]
pub struct Block {
    pub name: Option<String>,
    pub span: Span,
    pub common: Common,
    pub block: Vec<Item>,
    pub rescue: Vec<Item>,
    pub always: Vec<Item>,
}

/// A `when`/`changed_when`/`failed_when`/`until` condition.
#[derive(Debug, Clone)]
pub enum Cond {
    Literal(bool),
    Expr(String),
}

/// Keywords that blocks, roles and plays pass down to their tasks.
#[derive(Debug, Clone, Default)]
pub struct Common {
    pub when: Vec<Cond>,
    pub tags: Vec<String>,
    pub vars: Vars,
    pub become_on: Option<bool>,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    pub ignore_errors: Option<Value>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    pub environment: Option<Value>,
    pub run_once: Option<Value>,
    pub delegate_to: Option<String>,
    /// The role whose files (templates/, files/) and vars apply, if any.
    pub role: Option<Arc<Role>>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub name: Option<String>,
    pub span: Span,
    pub common: Common,
    pub action: Action,
    pub looping: Option<Loop>,
    pub loop_control: LoopControl,
    pub register: Option<String>,
    pub notify: Vec<String>,
    pub listen: Vec<String>,
    pub changed_when: Option<Vec<Cond>>,
    pub failed_when: Option<Vec<Cond>>,
    pub until: Option<Vec<Cond>>,
    pub retries: Option<Value>,
    pub delay: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// A module call; `module` is the canonical short name.
    Module { module: String, args: Value },
    /// `include_tasks`: loaded when reached, per host.
    IncludeTasks { file: String, vars: Vars },
    /// `meta: flush_handlers` and friends.
    Meta(MetaAction),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaAction {
    FlushHandlers,
    EndPlay,
    EndHost,
    Noop,
    ClearFacts,
    ClearHostErrors,
    RefreshInventory,
}

#[derive(Debug, Clone)]
pub enum Loop {
    /// `loop:` or `with_items:`/`with_list:`; `flatten_one` is with_items' one-level flattening.
    Items { source: Value, flatten_one: bool },
    /// `with_dict:`: items become `{key, value}`.
    Dict(Value),
}

#[derive(Debug, Clone, Default)]
pub struct LoopControl {
    pub loop_var: Option<String>,
    pub index_var: Option<String>,
    pub label: Option<Value>,
    pub pause: Option<Value>,
    pub extended: bool,
}

impl Task {
    /// The name shown in output: the task name, else the module and its arguments.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match &self.action {
            Action::Module { module, .. } => module.clone(),
            Action::IncludeTasks { file, .. } => format!("include_tasks {file}"),
            Action::Meta(_) => "meta".into(),
        }
    }

    pub fn module_name(&self) -> Option<&str> {
        match &self.action {
            Action::Module { module, .. } => Some(module),
            _ => None,
        }
    }
}

impl Item {
    pub fn span(&self) -> &Span {
        match self {
            Item::Task(t) => &t.span,
            Item::Block(b) => &b.span,
        }
    }
}
