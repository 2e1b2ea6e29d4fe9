//! Modules: each one validates its arguments, observes the target, states the
//! exact change (with what it would replace), and applies only that change.
//!
//! `plan`/`--check` stop after `diff`, so nothing a module does before `apply`
//! may change the host.

pub mod attrs;
pub mod mode;
pub mod registry;
pub mod spec;
pub mod target;
pub mod textedit;

mod apt;
mod assert;
mod command;
mod content;
mod debug;
mod fail;
mod file;
mod get_url;
mod git;
mod lineedit;
mod net;
mod pause;
mod pip;
pub(crate) mod postgresql;
mod repository;
mod service;
mod set_fact;
mod setup;
mod sqlite_to_postgres;
mod stat;
mod tempfile;
mod user;

pub use target::{FileKind, FileState, Planned, Target};

use serde_json::{Map, Value};
use std::path::PathBuf;

pub type Args = Map<String, Value>;
pub type Returns = Map<String, Value>;

/// A module's answer to "what would you change?".
#[derive(Debug, Clone)]
pub struct Change {
    /// One line for plans and logs, e.g. "create file /etc/app.conf (0644)".
    pub summary: String,
    /// Before/after text for `--diff`.
    pub diff: Option<TextDiff>,
    /// What to restore to undo this change.
    pub undo: Undo,
    /// Whether check mode can vouch for the outcome.
    pub predictable: bool,
    /// The state each touched path will have afterwards, so that in a plan
    /// later tasks on the same host see this change as if it had been made.
    pub after: Vec<(String, FileState)>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TextDiff {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// The prior state a change replaces.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Undo {
    /// The path did not exist: undo removes it.
    Create { path: String },
    /// The path existed: undo puts this back.
    Restore {
        path: String,
        prior: target::PriorFile,
    },
    /// Undone by running a module: the inverse of the change as a task,
    /// e.g. `apt: {name: nginx, state: absent}` for an install. The rollback
    /// plans it like any task (observe, diff), so an inverse whose work is
    /// already done is a no-op. `become_user` overrides the change's own.
    Invoke {
        module: String,
        args: serde_json::Map<String, serde_json::Value>,
        /// One line for the rollback plan, e.g. "remove package nginx".
        summary: String,
    },
    /// Nothing to put back, but the change must be made once more after a
    /// rollback restored what it acted on: a restart or reload of a running
    /// service, so that it loads the restored configuration. Replayed at the
    /// end of the host's rollback, once per distinct task, and only when the
    /// rollback changes something else on that host.
    Replay {
        module: String,
        args: serde_json::Map<String, serde_json::Value>,
        /// One line for the rollback plan, e.g. "restart service tbuddy".
        summary: String,
    },
    /// Nothing to restore, say why (e.g. an arbitrary command).
    Irreversible(String),
    /// The change only affects this run's variables.
    Nothing,
}

/// A failed module call: a message and any return values worth registering.
#[derive(Debug, Clone)]
pub struct ModuleError {
    pub msg: String,
    pub returns: Returns,
    pub unreachable: bool,
}

impl ModuleError {
    pub fn new(msg: impl Into<String>) -> Self {
        ModuleError {
            msg: msg.into(),
            returns: Map::new(),
            unreachable: false,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.returns.insert(key.into(), value.into());
        self
    }
}

impl std::fmt::Display for ModuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

pub type ModResult<T> = Result<T, ModuleError>;

/// Controller-side evaluation a module may need while validating (assert's
/// conditions, debug's `var`, rendering a template file).
pub trait Evaluator {
    fn eval(&self, expr: &str) -> Result<Value, String>;
    fn cond(&self, expr: &str) -> Result<bool, String>;
    fn render_text(&self, text: &str, name: &str) -> Result<String, String>;
}

/// What a module may consult while validating; nothing here touches a host.
pub struct ModuleCx<'a> {
    pub eval: &'a dyn Evaluator,
    /// Directories searched for `src` files: role dirs first, then the playbook dir.
    pub search_dirs: Vec<PathBuf>,
    pub check_mode: bool,
}

impl ModuleCx<'_> {
    /// Finds a controller-side file under `<dir>/<sub>/` or `<dir>/` for each search dir.
    pub fn find_file(&self, sub: &str, name: &str) -> ModResult<PathBuf> {
        let p = std::path::Path::new(name);
        if p.is_absolute() {
            return if p.exists() {
                Ok(p.to_path_buf())
            } else {
                Err(ModuleError::new(format!("could not find file {name}")))
            };
        }
        for dir in &self.search_dirs {
            for cand in [dir.join(sub).join(name), dir.join(name)] {
                if cand.exists() {
                    return Ok(cand);
                }
            }
        }
        let searched: Vec<String> = self
            .search_dirs
            .iter()
            .map(|d| d.join(sub).display().to_string())
            .collect();
        Err(ModuleError::new(format!(
            "could not find {name} (searched {})",
            searched.join(", ")
        )))
    }
}

/// One module call for one host.
pub trait Action: Send {
    /// Reads the target's current state. Never changes anything.
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()>;
    /// The exact change from what `observe` saw; `None` when already converged.
    fn diff(&self) -> ModResult<Option<Change>>;
    /// Performs `change`, which came from `diff`.
    fn apply(&mut self, change: &Change, t: &mut Target<'_>) -> ModResult<()>;
    /// Return values for `register` (besides changed/failed/msg, which the runner sets).
    fn returns(&self) -> Returns {
        Map::new()
    }
}

pub trait Module: Sync {
    fn spec(&self) -> &'static spec::ModuleSpec;
    /// Checks the (already templated) arguments and builds the action.
    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>>;
}

/// Argument accessors with errors phrased for users.
pub mod argx {
    use super::{Args, ModResult, ModuleError};
    use serde_json::Value;

    pub fn string(args: &Args, key: &str) -> ModResult<Option<String>> {
        match args.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(if *b { "True" } else { "False" }.into())),
            Some(other) => Err(ModuleError::new(format!(
                "argument `{key}` must be a string, got {other}"
            ))),
        }
    }

    pub fn req_string(args: &Args, key: &str) -> ModResult<String> {
        string(args, key)?
            .ok_or_else(|| ModuleError::new(format!("missing required argument: {key}")))
    }

    pub fn boolean(args: &Args, key: &str, default: bool) -> ModResult<bool> {
        match args.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => crate::modules::spec::as_bool(v).ok_or_else(|| {
                ModuleError::new(format!("argument `{key}` must be a boolean, got {v}"))
            }),
        }
    }

    pub fn choice(args: &Args, key: &str, choices: &[&str], default: &str) -> ModResult<String> {
        let v = string(args, key)?.unwrap_or_else(|| default.to_string());
        if choices.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(ModuleError::new(format!(
                "value of {key} must be one of: {}, got: {v}",
                choices.join(", ")
            )))
        }
    }

    pub fn number(args: &Args, key: &str) -> ModResult<Option<f64>> {
        match args.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                ModuleError::new(format!("argument `{key}` must be a number, got {s}"))
            }),
            Some(v) => Err(ModuleError::new(format!(
                "argument `{key}` must be a number, got {v}"
            ))),
        }
    }
}
