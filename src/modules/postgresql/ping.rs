//! `postgresql_ping`: whether the server answers, and its version. Reads only.

use super::pg_args;
use super::session::{Login, Session};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use crate::modules::{Action, Args, Change, ModResult, Module, ModuleCx, Returns, Target};
use serde_json::{Map, Value, json};

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_ping",
    summary: "Check that a PostgreSQL server answers; report its version",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: pg_args![arg("db", Str, "Database to connect to (same as login_db).")],
};

pub struct PostgresqlPing;

struct PingAction {
    login: Login,
    result: Map<String, Value>,
}

impl Module for PostgresqlPing {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let mut login = Login::from_args(args)?;
        if login.db.is_none() {
            login.db = crate::modules::argx::string(args, "db")?;
        }
        Ok(Box::new(PingAction {
            login,
            result: Map::new(),
        }))
    }
}

impl Action for PingAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let row = Session::new(t, &self.login, None).row(
            "SELECT current_setting('server_version') AS full, \
             current_setting('server_version_num')::int AS num",
        );
        match row {
            Ok(Some(r)) => {
                let num = r.get("num").and_then(Value::as_i64).unwrap_or(0);
                self.result.insert("is_available".into(), true.into());
                self.result.insert(
                    "server_version".into(),
                    json!({
                        "full": r.get("full").cloned().unwrap_or(Value::Null),
                        "major": num / 10000,
                        "minor": num % 10000,
                    }),
                );
                self.result.insert("conn_err_msg".into(), "".into());
            }
            Ok(None) => {
                self.result.insert("is_available".into(), false.into());
            }
            Err(e) => {
                self.result.insert("is_available".into(), false.into());
                self.result.insert("conn_err_msg".into(), e.msg.into());
            }
        }
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(None)
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn returns(&self) -> Returns {
        self.result.clone()
    }
}
