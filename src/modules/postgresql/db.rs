//! `postgresql_db`: databases, observed in `pg_database`.
//!
//! Undo: a created database is dropped again, but only while it holds no
//! tables (`only_if_empty`), so a rollback never throws away data written
//! since; a changed owner or connection limit gets its prior value back; a
//! dropped database cannot be brought back.

use super::session::{Login, Session};
use super::sql::{ident, literal};
use super::{invoke, pg_args, present, sql_change, with_login};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use crate::modules::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use serde_json::{Map, Value, json};

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_db",
    summary: "Create, change or drop a PostgreSQL database",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: pg_args![
        required("name", Str, "The database.").aliases(&["db", "datname"]),
        arg(
            "state",
            Str,
            "present/absent: whether the database should exist; dump/restore: write it to / load it from `target` on the database host.",
        )
        .choices(&["present", "absent", "dump", "restore"]),
        arg(
            "target",
            Path,
            "dump/restore: the file on the database host; .sql is plain SQL (psql), .tar the tar format, anything else the custom format (pg_restore).",
        ),
        arg("owner", Str, "Role owning the database."),
        arg(
            "template",
            Str,
            "Template to create it from (only when creating)."
        ),
        arg(
            "encoding",
            Str,
            "Encoding, e.g. UTF8 (only when creating; a mismatch is an error)."
        ),
        arg(
            "lc_collate",
            Str,
            "LC_COLLATE (only when creating; a mismatch is an error)."
        ),
        arg(
            "lc_ctype",
            Str,
            "LC_CTYPE (only when creating; a mismatch is an error)."
        ),
        arg("conn_limit", Int, "CONNECTION LIMIT (-1: none)."),
        arg(
            "force",
            Bool,
            "With state absent: drop even with sessions connected (WITH (FORCE))."
        ),
        arg(
            "only_if_empty",
            Bool,
            "With state absent: refuse to drop a database that has tables (rollback sets it).",
        ),
    ],
};

pub struct PostgresqlDb;

#[derive(Debug, Clone)]
struct SeenDb {
    owner: String,
    encoding: String,
    collate: String,
    ctype: String,
    conn_limit: i64,
    /// User tables, counted only for `only_if_empty`.
    tables: i64,
}

struct DbAction {
    args: Args,
    login: Login,
    name: String,
    present: bool,
    owner: Option<String>,
    template: Option<String>,
    encoding: Option<String>,
    lc_collate: Option<String>,
    lc_ctype: Option<String>,
    conn_limit: Option<i64>,
    force: bool,
    only_if_empty: bool,
    seen: Option<Option<SeenDb>>,
}

impl Module for PostgresqlDb {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let state = argx::choice(
            args,
            "state",
            &["present", "absent", "dump", "restore"],
            "present",
        )?;
        if state == "dump" || state == "restore" {
            return super::dump::action(args, state == "dump");
        }
        let conn_limit = match argx::number(args, "conn_limit")? {
            Some(n) if n.fract() == 0.0 && n >= -1.0 => Some(n as i64),
            Some(n) => return Err(ModuleError::new(format!("conn_limit: invalid value {n}"))),
            None => None,
        };
        Ok(Box::new(DbAction {
            args: args.clone(),
            login: Login::from_args(args)?,
            name: argx::req_string(args, "name")?,
            present: present(args)?,
            owner: argx::string(args, "owner")?.filter(|s| !s.is_empty()),
            template: argx::string(args, "template")?.filter(|s| !s.is_empty()),
            encoding: argx::string(args, "encoding")?.filter(|s| !s.is_empty()),
            lc_collate: argx::string(args, "lc_collate")?.filter(|s| !s.is_empty()),
            lc_ctype: argx::string(args, "lc_ctype")?.filter(|s| !s.is_empty()),
            conn_limit,
            force: argx::boolean(args, "force", false)?,
            only_if_empty: argx::boolean(args, "only_if_empty", false)?,
            seen: None,
        }))
    }
}

fn same_encoding(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.to_ascii_uppercase().replace(['-', '_'], "");
    norm(a) == norm(b)
}

impl DbAction {
    /// The tables seen in a database that `only_if_empty` keeps from a drop.
    fn tables_kept(&self) -> Option<i64> {
        match &self.seen {
            Some(Some(cur)) if !self.present && self.only_if_empty && cur.tables > 0 => {
                Some(cur.tables)
            }
            _ => None,
        }
    }

    fn base_args(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), self.name.clone().into());
        with_login(m, &self.args)
    }

    /// The statements to run and the undo, or `None` when converged.
    fn plan(&self) -> ModResult<Option<(Vec<String>, Undo)>> {
        let seen = self.seen.as_ref().expect("observe runs before diff");
        let db = ident(&self.name);
        match (self.present, seen) {
            (true, None) => {
                let mut s = format!("CREATE DATABASE {db}");
                if let Some(o) = &self.owner {
                    s.push_str(&format!(" OWNER {}", ident(o)));
                }
                if let Some(t) = &self.template {
                    s.push_str(&format!(" TEMPLATE {}", ident(t)));
                }
                if let Some(e) = &self.encoding {
                    s.push_str(&format!(" ENCODING {}", literal(e)));
                }
                if let Some(c) = &self.lc_collate {
                    s.push_str(&format!(" LC_COLLATE {}", literal(c)));
                }
                if let Some(c) = &self.lc_ctype {
                    s.push_str(&format!(" LC_CTYPE {}", literal(c)));
                }
                if let Some(n) = self.conn_limit {
                    s.push_str(&format!(" CONNECTION LIMIT {n}"));
                }
                let mut args = self.base_args();
                args.insert("state".into(), "absent".into());
                args.insert("only_if_empty".into(), true.into());
                let undo = invoke(
                    "postgresql_db",
                    args,
                    format!("drop database {} unless it has tables", self.name),
                );
                Ok(Some((vec![s], undo)))
            }
            (true, Some(cur)) => {
                for (what, want, have) in [
                    ("encoding", &self.encoding, &cur.encoding),
                    ("lc_collate", &self.lc_collate, &cur.collate),
                    ("lc_ctype", &self.lc_ctype, &cur.ctype),
                ] {
                    if let Some(w) = want
                        && !same_encoding(w, have)
                    {
                        return Err(ModuleError::new(format!(
                            "database {} exists with {what} {have}, not {w}; PostgreSQL cannot change it in place",
                            self.name
                        )));
                    }
                }
                let mut stmts = Vec::new();
                let mut undo = self.base_args();
                if let Some(o) = &self.owner
                    && *o != cur.owner
                {
                    stmts.push(format!("ALTER DATABASE {db} OWNER TO {}", ident(o)));
                    undo.insert("owner".into(), cur.owner.clone().into());
                }
                if let Some(n) = self.conn_limit
                    && n != cur.conn_limit
                {
                    stmts.push(format!("ALTER DATABASE {db} CONNECTION LIMIT {n}"));
                    undo.insert("conn_limit".into(), cur.conn_limit.into());
                }
                if stmts.is_empty() {
                    return Ok(None);
                }
                let undo = invoke(
                    "postgresql_db",
                    undo,
                    format!("restore owner/connection limit of database {}", self.name),
                );
                Ok(Some((stmts, undo)))
            }
            (false, None) => Ok(None),
            (false, Some(_)) => {
                // `only_if_empty` is checked when the drop is made (see
                // apply): in a rollback, an earlier step may empty it first.
                let s = if self.force {
                    format!("DROP DATABASE {db} WITH (FORCE)")
                } else {
                    format!("DROP DATABASE {db}")
                };
                Ok(Some((
                    vec![s],
                    Undo::Irreversible(format!(
                        "database {} was dropped; its data is not kept",
                        self.name
                    )),
                )))
            }
        }
    }
}

impl Action for DbAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let mut s = Session::new(t, &self.login, None);
        let row = s.row(&format!(
            "SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding, \
             datcollate AS collate, datctype AS ctype, datconnlimit AS conn_limit \
             FROM pg_database WHERE datname = {}",
            literal(&self.name)
        ))?;
        let Some(r) = row else {
            self.seen = Some(None);
            return Ok(());
        };
        let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut seen = SeenDb {
            owner: text("owner"),
            encoding: text("encoding"),
            collate: text("collate"),
            ctype: text("ctype"),
            conn_limit: r.get("conn_limit").and_then(Value::as_i64).unwrap_or(-1),
            tables: 0,
        };
        if !self.present && self.only_if_empty {
            let mut s = Session::new(t, &self.login, Some(&self.name));
            seen.tables = s
                .row(
                    "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> 'information_schema' \
                     AND n.nspname NOT LIKE 'pg\\_%'",
                )?
                .and_then(|r| r.get("n").and_then(Value::as_i64))
                .unwrap_or(0);
        }
        self.seen = Some(Some(seen));
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let mut change = self.plan()?.map(|(stmts, undo)| sql_change(&stmts, undo));
        if let (Some(c), Some(n)) = (&mut change, self.tables_kept()) {
            c.summary
                .push_str(&format!(" (only if it holds no tables by then: {n} now)"));
        }
        Ok(change)
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        if let Some(n) = self.tables_kept() {
            return Err(ModuleError::new(format!(
                "database {} has {n} table(s) now: not dropping it (drop it yourself with postgresql_db state=absent if its data can go)",
                self.name
            )));
        }
        if let Some((stmts, _)) = self.plan()? {
            let mut s = Session::new(t, &self.login, None);
            if !self.present {
                s.close_sessions_on(&self.name);
            }
            s.execute(&stmts)?;
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        r.insert("db".into(), self.name.clone().into());
        if let Some(Ok(Some((stmts, _)))) = self.seen.as_ref().map(|_| self.plan()) {
            r.insert("queries".into(), json!(stmts));
        }
        r
    }
}
