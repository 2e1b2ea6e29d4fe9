//! `postgresql_info` (a subset): server version, databases, roles, settings
//! and the extensions of the connected database. Reads only.

use super::session::{Login, Session};
use super::{list_arg, pg_args};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use crate::modules::{Action, Args, Change, ModResult, Module, ModuleCx, Returns, Target, argx};
use serde_json::{Map, Value, json};

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_info",
    summary: "Report server version, databases, roles, settings and extensions",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: pg_args![
        arg(
            "filter",
            List,
            "Subsets to report: version, databases, roles, settings, extensions (default all); `!name` leaves one out.",
        ),
        arg("db", Str, "Database to connect to (same as login_db)."),
    ],
};

pub struct PostgresqlInfo;

const SUBSETS: &[&str] = &["version", "databases", "roles", "settings", "extensions"];

struct InfoAction {
    login: Login,
    subsets: Vec<&'static str>,
    result: Map<String, Value>,
}

impl Module for PostgresqlInfo {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let mut login = Login::from_args(args)?;
        if login.db.is_none() {
            login.db = argx::string(args, "db")?;
        }
        let filter = list_arg(args, "filter")?;
        let wanted: Vec<&String> = filter.iter().filter(|f| !f.starts_with('!')).collect();
        let subsets = SUBSETS
            .iter()
            .copied()
            .filter(|s| wanted.is_empty() || wanted.iter().any(|w| w == s))
            .filter(|s| !filter.iter().any(|f| f.strip_prefix('!') == Some(s)))
            .collect();
        Ok(Box::new(InfoAction {
            login,
            subsets,
            result: Map::new(),
        }))
    }
}

fn keyed(rows: Vec<Map<String, Value>>, key: &str) -> Value {
    let mut out = Map::new();
    for mut r in rows {
        if let Some(Value::String(k)) = r.remove(key) {
            out.insert(k, Value::Object(r));
        }
    }
    Value::Object(out)
}

impl Action for InfoAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let mut s = Session::new(t, &self.login, None);
        for subset in self.subsets.clone() {
            let v = match subset {
                "version" => {
                    let r = s
                        .row(
                            "SELECT current_setting('server_version') AS full, \
                             current_setting('server_version_num')::int AS num",
                        )?
                        .unwrap_or_default();
                    let num = r.get("num").and_then(Value::as_i64).unwrap_or(0);
                    json!({"full": r.get("full"), "major": num / 10000, "minor": num % 10000})
                }
                "databases" => keyed(
                    s.rows(
                        "SELECT datname AS name, pg_get_userbyid(datdba) AS owner, \
                         pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, \
                         datctype AS ctype, datconnlimit AS conn_limit, datacl::text[] AS access_priv, \
                         CASE WHEN has_database_privilege(oid, 'CONNECT') THEN pg_database_size(oid) END AS size \
                         FROM pg_database WHERE datallowconn ORDER BY 1",
                    )?,
                    "name",
                ),
                "roles" => keyed(
                    s.rows(
                        "SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolcanlogin AS canlogin, \
                         r.rolcreatedb AS createdb, r.rolcreaterole AS createrole, \
                         r.rolconnlimit AS conn_limit, r.rolvaliduntil::text AS valid_until, \
                         coalesce((SELECT array_agg(g.rolname ORDER BY g.rolname) FROM pg_auth_members m \
                         JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '{}') AS member_of \
                         FROM pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1",
                    )?,
                    "name",
                ),
                "settings" => keyed(
                    s.rows(
                        "SELECT name, setting, unit, context, source, pending_restart \
                         FROM pg_settings ORDER BY 1",
                    )?,
                    "name",
                ),
                _ => keyed(
                    s.rows(
                        "SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema \
                         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1",
                    )?,
                    "name",
                ),
            };
            self.result.insert(subset.to_string(), v);
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
