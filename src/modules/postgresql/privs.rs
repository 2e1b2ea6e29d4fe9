//! `postgresql_privs`: GRANT/REVOKE on databases, schemas, tables, sequences,
//! functions, and default privileges, planned from the objects' ACLs
//! (`datacl`, `nspacl`, `relacl`, `proacl`, `pg_default_acl`; a NULL ACL read as
//! `acldefault`, i.e. what the object's owner and PUBLIC implicitly hold).
//!
//! Only missing privileges are granted and only held ones revoked, so
//! `REVOKE … FROM PUBLIC` and default privileges converge (a second run changes
//! nothing). Undo is the inverse statements for exactly what changed.

use super::session::{Login, Session};
use super::sql::{AclItem, grantee, literal, priv_letter};
use super::{invoke, list_arg, pg_args, present, sql_change, with_login};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use crate::modules::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, argx,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

mod read;

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_privs",
    summary: "Grant or revoke privileges on PostgreSQL objects, and default privileges",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: pg_args![
        required("database", Str, "Database holding the objects.").aliases(&["db"]),
        required("roles", List, "Roles to grant to / revoke from; PUBLIC for everyone.")
            .aliases(&["role"]),
        arg("state", Str, "present grants, absent revokes.").choices(&["present", "absent"]),
        arg(
            "privs",
            List,
            "Privileges, e.g. SELECT,INSERT or ALL (comma-separated or a list).",
        )
        .aliases(&["priv"]),
        arg("type", Str, "Kind of object (default table).").choices(&[
            "database",
            "schema",
            "table",
            "sequence",
            "function",
            "default_privs",
        ]),
        arg(
            "objs",
            List,
            "Objects: names (schema-qualified or in `schema`), ALL_IN_SCHEMA, `f(int:text)` for functions; for default_privs TABLES, SEQUENCES, FUNCTIONS, TYPES, SCHEMAS or ALL_DEFAULT; for database the database itself by default.",
        )
        .aliases(&["obj"]),
        arg("schema", Str, "Schema of the objects (default public; for default_privs: none)."),
        arg(
            "target_roles",
            List,
            "default_privs: the roles whose future objects get the privileges (default: the login role).",
        ),
        arg(
            "grant_option",
            Bool,
            "yes: grant WITH GRANT OPTION; no: also take a held grant option away.",
        )
        .aliases(&["admin_option"]),
    ],
};

pub struct PostgresqlPrivs;

/// One object as SQL names it, with its ACL.
#[derive(Debug, Clone)]
struct Obj {
    /// The object in a GRANT statement (`TABLE "public"."t"`, `DATABASE "d"`, …).
    sql: String,
    acl: Vec<AclItem>,
}

struct PrivsAction {
    args: Args,
    login: Login,
    database: String,
    roles: Vec<String>,
    present: bool,
    privs: Vec<String>,
    kind: String,
    objs: Vec<String>,
    schema: Option<String>,
    target_roles: Vec<String>,
    grant_option: Option<bool>,
    seen: Option<Vec<Obj>>,
    /// The database does not exist (yet): nothing can be read or planned exactly.
    db_missing: bool,
}

const DEFAULT_KINDS: &[(&str, char, &str)] = &[
    ("TABLES", 'r', "r"),
    ("SEQUENCES", 'S', "s"),
    ("FUNCTIONS", 'f', "f"),
    ("TYPES", 'T', "T"),
    ("SCHEMAS", 'n', "n"),
];

/// Every privilege a kind of object has, in GRANT's order.
fn all_privs(kind: &str, default_kind: Option<&str>) -> &'static [&'static str] {
    let k = default_kind.unwrap_or(kind);
    match k {
        "database" => &["CREATE", "CONNECT", "TEMPORARY"],
        "schema" | "SCHEMAS" => &["USAGE", "CREATE"],
        "sequence" | "SEQUENCES" => &["USAGE", "SELECT", "UPDATE"],
        "function" | "FUNCTIONS" => &["EXECUTE"],
        "TYPES" => &["USAGE"],
        _ => &[
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
            "TRUNCATE",
            "REFERENCES",
            "TRIGGER",
        ],
    }
}

impl Module for PostgresqlPrivs {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        Ok(Box::new(build(args)?))
    }
}

fn build(args: &Args) -> ModResult<PrivsAction> {
    {
        let kind = argx::choice(
            args,
            "type",
            &[
                "database",
                "schema",
                "table",
                "sequence",
                "function",
                "default_privs",
            ],
            "table",
        )?;
        let database = argx::req_string(args, "database")?;
        let mut objs = list_arg(args, "objs")?;
        if kind == "function" {
            // `f(int:text)`: colons separate arguments, as commas separate objects.
            objs = objs.iter().map(|o| o.replace(':', ",")).collect();
        }
        if objs.is_empty() {
            if kind == "database" {
                objs.push(database.clone());
            } else {
                return Err(ModuleError::new(format!(
                    "objs is required for type {kind}"
                )));
            }
        }
        let privs: Vec<String> = list_arg(args, "privs")?
            .into_iter()
            .map(|p| p.to_ascii_uppercase())
            .collect();
        if privs.is_empty() {
            return Err(ModuleError::new("privs is required"));
        }
        for p in &privs {
            if p != "ALL" && p != "ALL PRIVILEGES" && priv_letter(p).is_none() {
                return Err(ModuleError::new(format!("unknown privilege {p}")));
            }
        }
        if kind == "default_privs" {
            for o in &objs {
                if o != "ALL_DEFAULT" && !DEFAULT_KINDS.iter().any(|(k, _, _)| k == o) {
                    return Err(ModuleError::new(format!(
                        "default_privs objs must be TABLES, SEQUENCES, FUNCTIONS, TYPES, SCHEMAS or ALL_DEFAULT, got {o}"
                    )));
                }
            }
        }
        let roles = list_arg(args, "roles")?;
        if roles.is_empty() {
            return Err(ModuleError::new("roles is required"));
        }
        let mut login = Login::from_args(args)?;
        login.db = Some(database.clone());
        Ok(PrivsAction {
            args: args.clone(),
            login,
            database,
            roles,
            present: present(args)?,
            privs,
            kind,
            objs,
            schema: argx::string(args, "schema")?.filter(|s| !s.is_empty()),
            target_roles: list_arg(args, "target_roles")?,
            grant_option: match args.get("grant_option") {
                None | Some(Value::Null) => None,
                Some(_) => Some(argx::boolean(args, "grant_option", false)?),
            },
            seen: None,
            db_missing: false,
        })
    }
}

/// Privileges a role holds on an object: letter → grantable.
fn held(acl: &[AclItem], role: &str) -> BTreeMap<char, bool> {
    let who = if role.eq_ignore_ascii_case("public") {
        ""
    } else {
        role
    };
    let mut out = BTreeMap::new();
    for item in acl.iter().filter(|i| i.grantee == who) {
        for (c, g) in &item.privs {
            let e = out.entry(*c).or_insert(false);
            *e |= *g;
        }
    }
    out
}

/// One GRANT/REVOKE and the statement undoing it.
struct Stmt {
    run: String,
    undo: String,
}

impl PrivsAction {
    fn schema(&self) -> &str {
        self.schema.as_deref().unwrap_or("public")
    }

    /// The privilege keywords wanted on one kind of object.
    fn wanted(&self, default_kind: Option<&str>) -> Vec<&'static str> {
        let all = all_privs(&self.kind, default_kind);
        if self
            .privs
            .iter()
            .any(|p| p == "ALL" || p == "ALL PRIVILEGES")
        {
            return all.to_vec();
        }
        all.iter()
            .copied()
            .filter(|a| {
                self.privs
                    .iter()
                    .any(|p| p == a || (p == "TEMP" && *a == "TEMPORARY"))
            })
            .collect()
    }

    fn statements(&self) -> Vec<Stmt> {
        let objs = self.seen.as_deref().unwrap_or(&[]);
        let mut out = Vec::new();
        for obj in objs {
            let (prefix, on, default_kind) = match obj.sql.split_once('|') {
                Some((head, word)) => (
                    format!("ALTER DEFAULT PRIVILEGES {head} "),
                    word.to_string(),
                    Some(word),
                ),
                None => (String::new(), obj.sql.clone(), None),
            };
            let wanted = self.wanted(default_kind);
            for role in &self.roles {
                let have = held(&obj.acl, role);
                let to = grantee(role);
                let letter = |p: &str| priv_letter(p).expect("known privilege");
                if self.present {
                    let with_go = self.grant_option == Some(true);
                    let missing: Vec<&str> = wanted
                        .iter()
                        .copied()
                        .filter(|p| match have.get(&letter(p)) {
                            None => true,
                            Some(g) => with_go && !g,
                        })
                        .collect();
                    if !missing.is_empty() {
                        let list = missing.join(", ");
                        let go = if with_go { " WITH GRANT OPTION" } else { "" };
                        // Undo takes away what was missing: the grant option
                        // alone where the privilege itself was held.
                        let (fresh, upgraded): (Vec<&str>, Vec<&str>) =
                            missing.iter().partition(|p| !have.contains_key(&letter(p)));
                        let mut undo = Vec::new();
                        if !fresh.is_empty() {
                            undo.push(format!(
                                "{prefix}REVOKE {} ON {on} FROM {to}",
                                fresh.join(", ")
                            ));
                        }
                        if !upgraded.is_empty() {
                            undo.push(format!(
                                "{prefix}REVOKE GRANT OPTION FOR {} ON {on} FROM {to}",
                                upgraded.join(", ")
                            ));
                        }
                        out.push(Stmt {
                            run: format!("{prefix}GRANT {list} ON {on} TO {to}{go}"),
                            undo: undo.join(";\n"),
                        });
                    }
                    if self.grant_option == Some(false) {
                        let grantable: Vec<&str> = wanted
                            .iter()
                            .copied()
                            .filter(|p| have.get(&letter(p)) == Some(&true))
                            .collect();
                        if !grantable.is_empty() {
                            let list = grantable.join(", ");
                            out.push(Stmt {
                                run: format!(
                                    "{prefix}REVOKE GRANT OPTION FOR {list} ON {on} FROM {to}"
                                ),
                                undo: format!(
                                    "{prefix}GRANT {list} ON {on} TO {to} WITH GRANT OPTION"
                                ),
                            });
                        }
                    }
                } else {
                    let held_now: Vec<&str> = wanted
                        .iter()
                        .copied()
                        .filter(|p| have.contains_key(&letter(p)))
                        .collect();
                    if !held_now.is_empty() {
                        let plain: Vec<&str> = held_now
                            .iter()
                            .copied()
                            .filter(|p| have.get(&letter(p)) == Some(&false))
                            .collect();
                        let grantable: Vec<&str> = held_now
                            .iter()
                            .copied()
                            .filter(|p| have.get(&letter(p)) == Some(&true))
                            .collect();
                        let mut undo = Vec::new();
                        if !plain.is_empty() {
                            undo.push(format!(
                                "{prefix}GRANT {} ON {on} TO {to}",
                                plain.join(", ")
                            ));
                        }
                        if !grantable.is_empty() {
                            undo.push(format!(
                                "{prefix}GRANT {} ON {on} TO {to} WITH GRANT OPTION",
                                grantable.join(", ")
                            ));
                        }
                        out.push(Stmt {
                            run: format!(
                                "{prefix}REVOKE {} ON {on} FROM {to}",
                                held_now.join(", ")
                            ),
                            undo: undo.join(";\n"),
                        });
                    }
                }
            }
        }
        out
    }
}

impl Action for PrivsAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        // Database ACLs are readable from any database; the rest need this one.
        let db = if self.kind == "database" {
            None
        } else {
            Some(self.database.as_str())
        };
        let mut login = self.login.clone();
        if db.is_none() {
            login.db = self.login_db_arg();
        }
        {
            let mut probe = login.clone();
            probe.db = self.login_db_arg();
            let exists = Session::new(t, &probe, None)
                .row(&format!(
                    "SELECT 1 AS x FROM pg_database WHERE datname = {}",
                    literal(&self.database)
                ))?
                .is_some();
            if !exists {
                self.db_missing = true;
                let mut s = Session::new(t, &probe, None);
                self.seen = self.assumed_for_new_db(&mut s)?;
                return Ok(());
            }
        }
        let mut s = Session::new(t, &login, db);
        self.seen = Some(if self.kind == "default_privs" {
            self.read_defaults(&mut s)?
        } else {
            self.read_objects(&mut s)?
        });
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        if self.db_missing && self.seen.is_some() {
            // As for a new database: shown, but not vouched for.
            let run: Vec<String> = self.statements().into_iter().map(|s| s.run).collect();
            if run.is_empty() {
                return Ok(None);
            }
            let mut ch = sql_change(&run, crate::modules::Undo::Nothing);
            ch.summary = format!(
                "{} (database {} does not exist yet: as for a new one)",
                ch.summary, self.database
            );
            ch.predictable = false;
            return Ok(Some(ch));
        }
        if self.db_missing {
            return Ok(Some(Change {
                summary: format!(
                    "database {} does not exist (yet): the {} privileges for {} are planned once it does",
                    self.database,
                    self.privs.join(", "),
                    self.roles.join(", ")
                ),
                diff: None,
                undo: crate::modules::Undo::Nothing,
                predictable: false,
                after: Vec::new(),
            }));
        }
        let stmts = self.statements();
        if stmts.is_empty() {
            return Ok(None);
        }
        let run: Vec<String> = stmts.iter().map(|s| s.run.clone()).collect();
        let undo_sql: Vec<String> = stmts.iter().rev().map(|s| s.undo.clone()).collect();
        let mut args = Map::new();
        args.insert("db".into(), self.database.clone().into());
        args.insert("query".into(), undo_sql.join(";\n").into());
        let undo = invoke(
            "postgresql_query",
            with_login(args, &self.args),
            format!("restore the prior privileges in database {}", self.database),
        );
        Ok(Some(sql_change(&run, undo)))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        if self.db_missing {
            return Err(ModuleError::new(format!(
                "database {} does not exist",
                self.database
            )));
        }
        let run: Vec<String> = self.statements().into_iter().map(|s| s.run).collect();
        Session::new(t, &self.login, Some(&self.database)).execute(&run)
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        let q: Vec<String> = self.statements().into_iter().map(|s| s.run).collect();
        r.insert("queries".into(), q.into());
        r
    }
}

impl PrivsAction {
    /// `login_db` as given (for database ACLs, read from wherever we connect).
    fn login_db_arg(&self) -> Option<String> {
        argx::string(&self.args, "login_db").ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::super::sql::parse_aclitem;
    use super::*;

    fn action(args: Value) -> PrivsAction {
        let Value::Object(args) = args else { panic!() };
        build(&args).unwrap()
    }

    fn obj(sql: &str, acl: &[&str]) -> Obj {
        Obj {
            sql: sql.into(),
            acl: acl.iter().map(|a| parse_aclitem(a).unwrap()).collect(),
        }
    }

    #[test]
    fn revoking_from_public_touches_only_what_public_holds() {
        let mut a = action(serde_json::json!({
            "database": "client_001_db", "type": "database", "privs": "CONNECT,CREATE",
            "roles": "PUBLIC", "state": "absent"
        }));
        a.seen = Some(vec![obj(
            "DATABASE \"client_001_db\"",
            &["=Tc/postgres", "postgres=CTc/postgres"],
        )]);
        let s = a.statements();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].run,
            "REVOKE CONNECT ON DATABASE \"client_001_db\" FROM PUBLIC"
        );
        assert_eq!(
            s[0].undo,
            "GRANT CONNECT ON DATABASE \"client_001_db\" TO PUBLIC"
        );
        a.seen = Some(vec![obj(
            "DATABASE \"client_001_db\"",
            &["=T/postgres", "postgres=CTc/postgres"],
        )]);
        assert!(a.statements().is_empty());
    }

    #[test]
    fn grants_only_what_is_missing_and_default_privs_read_like_objects() {
        let mut a = action(serde_json::json!({
            "database": "d", "type": "default_privs", "privs": "SELECT",
            "objs": "TABLES", "roles": "monitoring_user"
        }));
        a.seen = Some(vec![obj(
            "FOR ROLE \"client_001\"|TABLES",
            &["client_001=arwdDxt/client_001"],
        )]);
        let s = a.statements();
        assert_eq!(
            s[0].run,
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"client_001\" GRANT SELECT ON TABLES TO \"monitoring_user\""
        );
        a.seen = Some(vec![obj(
            "FOR ROLE \"client_001\"|TABLES",
            &[
                "client_001=arwdDxt/client_001",
                "monitoring_user=r/client_001",
            ],
        )]);
        assert!(a.statements().is_empty());
    }
}
