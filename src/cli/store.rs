//! Opening the state store and the run lock for the commands that need them.

use super::CliError;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use tbuddy_deploy::state::{self, LockGuard, LockHolder, StateError, StateSpec, StateStore};

/// Exit code when the state store refuses (locked, drift, nothing recorded).
pub const REFUSED: i32 = 1;

#[derive(Debug, Args, Clone)]
pub struct StateArgs {
    /// The state store: a path to an SQLite file or a postgres:// URL
    /// (default: `state` in tbuddy.toml, else .tbuddy/state.db).
    #[arg(long = "state", value_name = "URL|PATH")]
    pub state: Option<String>,
}

impl StateArgs {
    pub fn open(&self) -> Result<Arc<dyn StateStore>, CliError> {
        let project = project_dir()?;
        let spec = StateSpec::resolve(self.state.as_deref(), &project).map_err(state_error)?;
        let store: Arc<dyn StateStore> = state::open(&spec).map(Arc::from).map_err(state_error)?;
        Ok(Arc::new(state::redact::Redacting(store)))
    }
}

pub fn project_dir() -> Result<PathBuf, CliError> {
    std::env::current_dir()
        .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}")))
}

pub fn state_error(e: StateError) -> CliError {
    CliError {
        message: format!("error: {e}"),
        code: REFUSED,
    }
}

/// Takes the run lock of `inventory`, failing at once if another run holds it.
pub fn lock(
    store: &dyn StateStore,
    inventory: &str,
    command: &str,
) -> Result<Box<dyn LockGuard>, CliError> {
    store
        .lock(inventory, &holder(command))
        .map_err(|e| match e {
            StateError::Locked(h) => CliError {
                message: format!(
                    "error: another run holds the lock of inventory {inventory}: {h}\n\
                     Wait for it to finish; if it is gone for good, run `tbuddy-deploy force-unlock`."
                ),
                code: REFUSED,
            },
            other => state_error(other),
        })
}

pub fn holder(command: &str) -> LockHolder {
    LockHolder {
        run: None,
        user: user_name(),
        controller_host: state::this_controller(),
        pid: std::process::id(),
        since: state::now_rfc3339(),
        command: command.to_string(),
    }
}

pub fn user_name() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The command line as typed, for lock holder messages.
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Extra variables as recorded: values of keys that look secret are replaced.
pub fn redact_vars(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if looks_secret(k) {
                        Value::String("<redacted>".into())
                    } else {
                        redact_vars(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_vars).collect()),
        other => other.clone(),
    }
}

fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "secret", "token", "key", "credential", "private"]
        .iter()
        .any(|w| k.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_looking_keys_are_redacted_at_any_depth() {
        let v =
            json!({"app": "x", "db_password": "hunter2", "nested": {"api_token": "t", "port": 1}});
        let r = redact_vars(&v);
        assert_eq!(r["app"], "x");
        assert_eq!(r["db_password"], "<redacted>");
        assert_eq!(r["nested"]["api_token"], "<redacted>");
        assert_eq!(r["nested"]["port"], 1);
    }
}
