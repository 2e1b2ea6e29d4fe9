//! `postgresql_user`: login roles, observed in `pg_roles` (and `pg_authid` for
//! the password verifier, where readable).
//!
//! Passwords go to the server only as SCRAM-SHA-256 verifiers computed here;
//! an unchanged password is recognised by recomputing the verifier with the
//! stored salt and iteration count. No password or verifier appears in plans,
//! results or the state store.
//!
//! Undo: a created role is dropped again; changed attributes, connection limit,
//! expiry and settings get their prior values back. A password change and a
//! dropped role cannot be undone (the prior verifier is never recorded).

use super::scram;
use super::session::{Login, Session};
use super::sql::{ident, literal, qualified};
use super::{REDACTED, invoke, list_arg, pg_args, present, sql_change, with_login};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use crate::modules::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_user",
    summary: "Create, change or drop a PostgreSQL role (SCRAM-SHA-256 passwords)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: pg_args![
        required("name", Str, "The role.").aliases(&["user"]),
        arg("state", Str, "Whether the role should exist.").choices(&["present", "absent"]),
        arg(
            "password",
            Str,
            "Password; sent as a SCRAM-SHA-256 verifier computed on the controller, never shown.",
        ),
        arg(
            "update_password",
            Str,
            "`always` (default) sets a differing password; `on_create` only for new roles.",
        )
        .choices(&["always", "on_create"]),
        arg(
            "encrypted",
            Bool,
            "Accepted for compatibility; passwords are always sent encrypted.",
        ),
        arg(
            "role_attr_flags",
            Str,
            "Attributes, comma-separated: [NO]SUPERUSER, [NO]CREATEROLE, [NO]CREATEDB, [NO]INHERIT, [NO]LOGIN, [NO]REPLICATION, [NO]BYPASSRLS.",
        ),
        arg("conn_limit", Int, "CONNECTION LIMIT (-1: none)."),
        arg("expires", Str, "VALID UNTIL: a timestamp, or `infinity`.",),
        arg(
            "configuration",
            Dict,
            "Settings for the role's sessions (`ALTER ROLE … SET`); others are left alone.",
        ),
        arg("db", Str, "Database to connect to (same as login_db)."),
    ],
};

pub struct PostgresqlUser;

const ATTRS: &[(&str, &str)] = &[
    ("SUPERUSER", "rolsuper"),
    ("CREATEROLE", "rolcreaterole"),
    ("CREATEDB", "rolcreatedb"),
    ("INHERIT", "rolinherit"),
    ("LOGIN", "rolcanlogin"),
    ("REPLICATION", "rolreplication"),
    ("BYPASSRLS", "rolbypassrls"),
];

/// Parses `role_attr_flags` into attribute → wanted value.
pub fn parse_flags(s: &str) -> ModResult<BTreeMap<&'static str, bool>> {
    let mut out = BTreeMap::new();
    for f in s.split([',', ' ']).map(str::trim).filter(|f| !f.is_empty()) {
        let up = f.to_ascii_uppercase();
        let (name, on) = match up.strip_prefix("NO") {
            Some(rest) if ATTRS.iter().any(|(a, _)| *a == rest) => (rest.to_string(), false),
            _ => (up.clone(), true),
        };
        let Some((attr, _)) = ATTRS.iter().find(|(a, _)| *a == name) else {
            return Err(ModuleError::new(format!(
                "role_attr_flags: unknown attribute {f} (use {})",
                ATTRS.iter().map(|(a, _)| *a).collect::<Vec<_>>().join(", ")
            )));
        };
        out.insert(*attr, on);
    }
    Ok(out)
}

fn flag(attr: &str, on: bool) -> String {
    if on {
        attr.to_string()
    } else {
        format!("NO{attr}")
    }
}

#[derive(Debug, Clone, Default)]
struct SeenRole {
    attrs: BTreeMap<&'static str, bool>,
    conn_limit: i64,
    valid_until: Option<String>,
    expires_same: bool,
    config: BTreeMap<String, String>,
    /// The stored verifier: `None` when unreadable (no access to pg_authid).
    verifier: Option<Option<String>>,
}

struct UserAction {
    args: Args,
    login: Login,
    db: Option<String>,
    name: String,
    present: bool,
    password: Option<String>,
    password_always: bool,
    flags: BTreeMap<&'static str, bool>,
    conn_limit: Option<i64>,
    expires: Option<String>,
    config: BTreeMap<String, String>,
    /// Chosen once, so that plan and apply show and run the same verifier.
    salt: [u8; 16],
    seen: Option<Option<SeenRole>>,
    note: Option<String>,
}

impl Module for PostgresqlUser {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let conn_limit = match argx::number(args, "conn_limit")? {
            Some(n) if n.fract() == 0.0 && n >= -1.0 => Some(n as i64),
            Some(n) => return Err(ModuleError::new(format!("conn_limit: invalid value {n}"))),
            None => None,
        };
        let mut config = BTreeMap::new();
        match args.get("configuration") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    config.insert(k.clone(), v);
                }
            }
            Some(other) => {
                return Err(ModuleError::new(format!(
                    "configuration must be a mapping, got {other}"
                )));
            }
        }
        let _ = list_arg;
        let mut login = Login::from_args(args)?;
        let db = argx::string(args, "db")?;
        if login.db.is_none() {
            login.db = db.clone();
        }
        Ok(Box::new(UserAction {
            args: args.clone(),
            login,
            db,
            name: argx::req_string(args, "name")?,
            present: present(args)?,
            password: argx::string(args, "password")?.filter(|p| !p.is_empty()),
            password_always: argx::choice(
                args,
                "update_password",
                &["always", "on_create"],
                "always",
            )? == "always",
            flags: parse_flags(&argx::string(args, "role_attr_flags")?.unwrap_or_default())?,
            conn_limit,
            expires: argx::string(args, "expires")?.filter(|s| !s.is_empty()),
            config,
            salt: scram::new_salt(),
            seen: None,
            note: None,
        }))
    }
}

/// Statements as run and as shown.
struct Planned {
    run: Vec<String>,
    shown: Vec<String>,
    undo: Undo,
}

impl UserAction {
    fn base_args(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        if let Some(d) = &self.db {
            m.insert("db".into(), d.clone().into());
        }
        with_login(m, &self.args)
    }

    fn verifier(&self) -> Option<String> {
        self.password
            .as_ref()
            .map(|p| scram::verifier(p, &self.salt, scram::ITERATIONS))
    }

    fn plan(&self) -> ModResult<Option<Planned>> {
        let seen = self.seen.as_ref().expect("observe runs before diff");
        let role = ident(&self.name);
        let mut run = Vec::new();
        let mut shown = Vec::new();
        let mut push = |real: String, show: String| {
            run.push(real);
            shown.push(show);
        };
        match (self.present, seen) {
            (false, None) => Ok(None),
            (false, Some(_)) => {
                let s = format!("DROP ROLE {role}");
                push(s.clone(), s);
                Ok(Some(Planned {
                    run,
                    shown,
                    undo: Undo::Irreversible(format!(
                        "role {} was dropped; its password is not kept",
                        self.name
                    )),
                }))
            }
            (true, None) => {
                let mut opts = Vec::new();
                if !self.flags.contains_key("LOGIN") {
                    opts.push("LOGIN".to_string());
                }
                for (a, on) in &self.flags {
                    opts.push(flag(a, *on));
                }
                if let Some(n) = self.conn_limit {
                    opts.push(format!("CONNECTION LIMIT {n}"));
                }
                if let Some(e) = &self.expires {
                    opts.push(format!("VALID UNTIL {}", literal(e)));
                }
                let base = format!("CREATE ROLE {role} WITH {}", opts.join(" "));
                match self.verifier() {
                    Some(v) => push(
                        format!("{base} PASSWORD {}", literal(&v)),
                        format!("{base} PASSWORD {REDACTED}"),
                    ),
                    None => push(base.clone(), base),
                }
                for (k, v) in &self.config {
                    let s = format!("ALTER ROLE {role} SET {} TO {}", qualified(k), literal(v));
                    push(s.clone(), s);
                }
                let mut args = self.base_args();
                args.insert("state".into(), "absent".into());
                Ok(Some(Planned {
                    run,
                    shown,
                    undo: invoke("postgresql_user", args, format!("drop role {}", self.name)),
                }))
            }
            (true, Some(cur)) => {
                let mut opts = Vec::new();
                let mut prior_flags = Vec::new();
                let mut undo = self.base_args();
                for (a, on) in &self.flags {
                    let have = cur.attrs.get(a).copied().unwrap_or(false);
                    if have != *on {
                        opts.push(flag(a, *on));
                        prior_flags.push(flag(a, have));
                    }
                }
                if !prior_flags.is_empty() {
                    undo.insert("role_attr_flags".into(), prior_flags.join(",").into());
                }
                if let Some(n) = self.conn_limit
                    && n != cur.conn_limit
                {
                    opts.push(format!("CONNECTION LIMIT {n}"));
                    undo.insert("conn_limit".into(), cur.conn_limit.into());
                }
                if let Some(e) = &self.expires
                    && !cur.expires_same
                {
                    opts.push(format!("VALID UNTIL {}", literal(e)));
                    undo.insert(
                        "expires".into(),
                        cur.valid_until.clone().unwrap_or("infinity".into()).into(),
                    );
                }
                let mut password_changes = false;
                if let (Some(p), true) = (&self.password, self.password_always)
                    && let Some(stored) = &cur.verifier
                    && !stored.as_deref().is_some_and(|s| scram::matches(s, p))
                {
                    password_changes = true;
                }
                if !opts.is_empty() || password_changes {
                    let base = format!("ALTER ROLE {role} WITH {}", opts.join(" "));
                    let base = base.trim_end().to_string();
                    if password_changes {
                        let v = self.verifier().expect("a password is set");
                        push(
                            format!("{base} PASSWORD {}", literal(&v)),
                            format!("{base} PASSWORD {REDACTED}"),
                        );
                    } else {
                        push(base.clone(), base);
                    }
                }
                let mut prior_config = Map::new();
                for (k, v) in &self.config {
                    if cur.config.get(k) != Some(v) {
                        let s = format!("ALTER ROLE {role} SET {} TO {}", qualified(k), literal(v));
                        push(s.clone(), s);
                        if let Some(old) = cur.config.get(k) {
                            prior_config.insert(k.clone(), old.clone().into());
                        }
                    }
                }
                if !prior_config.is_empty() {
                    undo.insert("configuration".into(), Value::Object(prior_config));
                }
                if run.is_empty() {
                    return Ok(None);
                }
                let reversible = undo.len() > self.base_args().len();
                let undo = if reversible {
                    invoke(
                        "postgresql_user",
                        undo,
                        format!("restore the prior attributes of role {}", self.name),
                    )
                } else {
                    Undo::Irreversible(format!(
                        "the prior password of role {} is not recorded",
                        self.name
                    ))
                };
                Ok(Some(Planned { run, shown, undo }))
            }
        }
    }
}

impl Action for UserAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let mut s = Session::new(t, &self.login, None);
        let cols: Vec<String> = ATTRS.iter().map(|(_, c)| c.to_string()).collect();
        let expires = match &self.expires {
            Some(e) => format!(
                "rolvaliduntil IS NOT DISTINCT FROM {}::timestamptz",
                literal(e)
            ),
            None => "true".into(),
        };
        let row = s.row(&format!(
            "SELECT {}, rolconnlimit AS conn_limit, rolvaliduntil::text AS valid_until, \
             {expires} AS expires_same, coalesce(rolconfig, '{{}}') AS config \
             FROM pg_roles WHERE rolname = {}",
            cols.join(", "),
            literal(&self.name)
        ))?;
        let Some(r) = row else {
            self.seen = Some(None);
            return Ok(());
        };
        let mut seen = SeenRole::default();
        for (a, c) in ATTRS {
            seen.attrs
                .insert(a, r.get(*c).and_then(Value::as_bool).unwrap_or(false));
        }
        seen.conn_limit = r.get("conn_limit").and_then(Value::as_i64).unwrap_or(-1);
        seen.valid_until = r
            .get("valid_until")
            .and_then(Value::as_str)
            .map(String::from);
        seen.expires_same = r
            .get("expires_same")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(Value::Array(items)) = r.get("config") {
            for it in items.iter().filter_map(Value::as_str) {
                if let Some((k, v)) = it.split_once('=') {
                    seen.config.insert(k.to_string(), v.to_string());
                }
            }
        }
        if self.password.is_some() && self.password_always {
            let readable = s
                .row("SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS ok")?
                .and_then(|r| r.get("ok").and_then(Value::as_bool))
                .unwrap_or(false);
            seen.verifier = if readable {
                let r = s.row(&format!(
                    "SELECT rolpassword AS v FROM pg_authid WHERE rolname = {}",
                    literal(&self.name)
                ))?;
                Some(r.and_then(|r| r.get("v").and_then(Value::as_str).map(String::from)))
            } else {
                self.note = Some(format!(
                    "the password of role {} cannot be compared (no access to pg_authid): left as it is",
                    self.name
                ));
                None
            };
        }
        self.seen = Some(Some(seen));
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(self.plan()?.map(|p| sql_change(&p.shown, p.undo)))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        if let Some(p) = self.plan()? {
            Session::new(t, &self.login, None).execute(&p.run)?;
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        r.insert("user".into(), self.name.clone().into());
        if let Some(Ok(Some(p))) = self.seen.as_ref().map(|_| self.plan()) {
            r.insert("queries".into(), p.shown.into());
        }
        if let Some(n) = &self.note {
            r.insert("warnings".into(), vec![n.clone()].into());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_both_ways_and_reject_unknowns() {
        let f = parse_flags("LOGIN,nocreatedb, NOSUPERUSER").unwrap();
        assert_eq!(f.get("LOGIN"), Some(&true));
        assert_eq!(f.get("CREATEDB"), Some(&false));
        assert_eq!(f.get("SUPERUSER"), Some(&false));
        assert!(parse_flags("FLY").is_err());
        assert!(parse_flags("").unwrap().is_empty());
    }
}
