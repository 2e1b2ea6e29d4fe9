//! `postgresql_set` (also `postgresql_alter_system`): server settings through
//! `ALTER SYSTEM`, then `pg_reload_conf()`.
//!
//! Observed in `pg_settings` (current value, context) and, where readable,
//! `pg_file_settings` (the value written to postgresql.auto.conf): a value
//! already written there, or already in effect, is no change. A setting whose
//! context is `postmaster` takes effect only after a restart: the result says
//! `restart_required`, and the task reports changed so handlers run.
//!
//! Undo: the prior postgresql.auto.conf value is set again, or the setting reset.

use super::session::{Login, Session};
use super::sql::{literal, qualified};
use super::{invoke, pg_args, sql_change, with_login};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use crate::modules::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, argx,
};
use serde_json::{Map, Value};

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_set",
    summary: "Change a server setting with ALTER SYSTEM and reload",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: pg_args![
        required("name", Str, "The setting, e.g. work_mem."),
        arg(
            "value",
            Str,
            "The value, as in postgresql.conf (e.g. 64MB)."
        ),
        arg(
            "reset",
            Bool,
            "Remove the setting from postgresql.auto.conf (ALTER SYSTEM RESET)."
        ),
        arg("db", Str, "Database to connect to (same as login_db)."),
    ],
};

pub struct PostgresqlSet;

#[derive(Debug, Clone, Default)]
struct SeenSetting {
    /// `current_setting()` (with unit).
    current: String,
    context: String,
    /// The value in postgresql.auto.conf, if any (None also when unreadable).
    auto: Option<String>,
}

struct SetAction {
    args: Args,
    login: Login,
    name: String,
    value: Option<String>,
    reset: bool,
    seen: Option<SeenSetting>,
}

impl Module for PostgresqlSet {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let mut login = Login::from_args(args)?;
        if login.db.is_none() {
            login.db = argx::string(args, "db")?;
        }
        let value = argx::string(args, "value")?;
        let reset = argx::boolean(args, "reset", false)?;
        if value.is_none() && !reset {
            return Err(ModuleError::new(
                "postgresql_set needs `value` or `reset: yes`",
            ));
        }
        Ok(Box::new(SetAction {
            args: args.clone(),
            login,
            name: argx::req_string(args, "name")?,
            value,
            reset,
            seen: None,
        }))
    }
}

impl SetAction {
    fn plan(&self) -> Option<(Vec<String>, crate::modules::Undo)> {
        let seen = self.seen.as_ref().expect("observe runs before diff");
        let name = qualified(&self.name);
        let stmt = if self.reset {
            seen.auto.as_ref()?;
            format!("ALTER SYSTEM RESET {name}")
        } else {
            let v = self.value.as_deref().unwrap_or("");
            if seen.auto.as_deref() == Some(v) || (seen.auto.is_none() && seen.current == v) {
                return None;
            }
            format!("ALTER SYSTEM SET {name} = {}", literal(v))
        };
        let mut args = Map::new();
        args.insert("name".into(), self.name.clone().into());
        match &seen.auto {
            Some(prior) => args.insert("value".into(), prior.clone().into()),
            None => args.insert("reset".into(), true.into()),
        };
        let undo = invoke(
            "postgresql_set",
            with_login(args, &self.args),
            format!("put setting {} back", self.name),
        );
        Some((vec![stmt, "SELECT pg_reload_conf()".into()], undo))
    }
}

impl Action for SetAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let mut s = Session::new(t, &self.login, None);
        let n = literal(&self.name);
        let r = s
            .row(&format!(
                "SELECT current_setting(name) AS current, context FROM pg_settings WHERE name = {n}"
            ))?
            .ok_or_else(|| ModuleError::new(format!("unknown setting {}", self.name)))?;
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut seen = SeenSetting {
            current: text("current"),
            context: text("context"),
            auto: None,
        };
        let readable = s
            .row("SELECT has_function_privilege('pg_show_all_file_settings()', 'EXECUTE') AS ok")?
            .and_then(|r| r.get("ok").and_then(Value::as_bool))
            .unwrap_or(false);
        if readable {
            seen.auto = s
                .row(&format!(
                    "SELECT setting FROM pg_file_settings WHERE name = {n} \
                     AND sourcefile LIKE '%/postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1"
                ))?
                .and_then(|r| r.get("setting").and_then(Value::as_str).map(String::from));
        }
        self.seen = Some(seen);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(self.plan().map(|(s, u)| sql_change(&s, u)))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        if let Some((stmts, _)) = self.plan() {
            Session::new(t, &self.login, None).execute(&stmts)?;
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        if let Some(seen) = &self.seen {
            r.insert("name".into(), self.name.clone().into());
            r.insert("prev_val_pretty".into(), seen.current.clone().into());
            r.insert("context".into(), seen.context.clone().into());
            r.insert(
                "restart_required".into(),
                (seen.context == "postmaster" && self.plan().is_some()).into(),
            );
        }
        r
    }
}
