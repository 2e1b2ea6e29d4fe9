//! What `postgresql_privs` reads: the ACLs of the named objects and the
//! default ACLs, from the catalogs, or as a database the plan creates will
//! have them.

use super::super::session::Session;
use super::super::sql::{AclItem, ident, literal, parse_aclitem};
use super::{DEFAULT_KINDS, Obj, PrivsAction};
use crate::modules::{ModResult, ModuleError};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

fn acl_of(row: &Map<String, Value>) -> ModResult<Vec<AclItem>> {
    let items = match row.get("acl") {
        Some(Value::Array(a)) => a,
        _ => return Ok(Vec::new()),
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .map(|s| {
            parse_aclitem(s).ok_or_else(|| ModuleError::new(format!("unreadable ACL entry {s}")))
        })
        .collect()
}

/// How a catalog row names its object in SQL.
type SqlName = fn(&Map<String, Value>) -> String;

impl PrivsAction {
    /// Reads the ACLs of the named objects.
    pub(super) fn read_objects(&self, s: &mut Session<'_, '_, '_>) -> ModResult<Vec<Obj>> {
        let list = |names: &[String]| {
            names
                .iter()
                .map(|n| literal(n))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (query, name_col, make): (String, &str, SqlName) = match self.kind.as_str() {
            "database" => (
                format!(
                    "SELECT datname AS name, coalesce(datacl, acldefault('d', datdba))::text[] AS acl \
                         FROM pg_database WHERE datname IN ({}) ORDER BY 1",
                    list(&self.objs)
                ),
                "name",
                |r| format!("DATABASE {}", ident(r["name"].as_str().unwrap_or(""))),
            ),
            "schema" => (
                format!(
                    "SELECT nspname AS name, coalesce(nspacl, acldefault('n', nspowner))::text[] AS acl \
                         FROM pg_namespace WHERE nspname IN ({}) ORDER BY 1",
                    list(&self.objs)
                ),
                "name",
                |r| format!("SCHEMA {}", ident(r["name"].as_str().unwrap_or(""))),
            ),
            "table" | "sequence" => {
                let (kinds, def, word) = if self.kind == "table" {
                    ("'r', 'p', 'v', 'm', 'f'", "r", "TABLE")
                } else {
                    ("'S'", "s", "SEQUENCE")
                };
                let filter = if self.objs.iter().any(|o| o == "ALL_IN_SCHEMA") {
                    format!("n.nspname = {}", literal(self.schema()))
                } else {
                    let pairs: Vec<String> = self
                        .objs
                        .iter()
                        .map(|o| {
                            let (sch, name) =
                                o.split_once('.').unwrap_or((self.schema(), o.as_str()));
                            format!("({}, {})", literal(sch), literal(name))
                        })
                        .collect();
                    format!("(n.nspname, c.relname) IN ({})", pairs.join(", "))
                };
                let q = format!(
                    "SELECT n.nspname AS schema, c.relname AS name, '{word}' AS word, \
                         coalesce(c.relacl, acldefault('{def}', c.relowner))::text[] AS acl \
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                         WHERE c.relkind IN ({kinds}) AND {filter} ORDER BY 1, 2"
                );
                (q, "name", |r| {
                    format!(
                        "{} {}.{}",
                        r["word"].as_str().unwrap_or("TABLE"),
                        ident(r["schema"].as_str().unwrap_or("")),
                        ident(r["name"].as_str().unwrap_or(""))
                    )
                })
            }
            _ => {
                let filter = if self.objs.iter().any(|o| o == "ALL_IN_SCHEMA") {
                    format!(
                        "p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = {}) AND p.prokind IN ('f', 'p')",
                        literal(self.schema())
                    )
                } else {
                    let sigs: Vec<String> = self
                        .objs
                        .iter()
                        .map(|o| {
                            let full = if o.split('(').next().unwrap_or("").contains('.') {
                                o.clone()
                            } else {
                                format!("{}.{o}", ident(self.schema()))
                            };
                            format!("to_regprocedure({})", literal(&full))
                        })
                        .collect();
                    format!("p.oid IN ({})", sigs.join(", "))
                };
                (
                    format!(
                        "SELECT p.oid::regprocedure::text AS name, \
                             coalesce(p.proacl, acldefault('f', p.proowner))::text[] AS acl \
                             FROM pg_proc p WHERE {filter} ORDER BY 1"
                    ),
                    "name",
                    |r| format!("FUNCTION {}", r["name"].as_str().unwrap_or("")),
                )
            }
        };
        let rows = s.rows(&query)?;
        let explicit = !self.objs.iter().any(|o| o == "ALL_IN_SCHEMA");
        if explicit && rows.len() < self.objs.len() {
            let found: BTreeSet<String> = rows
                .iter()
                .filter_map(|r| r.get(name_col).and_then(Value::as_str).map(String::from))
                .collect();
            let missing: Vec<&String> = self
                .objs
                .iter()
                .filter(|o| {
                    let bare = o.rsplit('.').next().unwrap_or(o);
                    !found.contains(o.as_str()) && !found.contains(bare)
                })
                .collect();
            return Err(ModuleError::new(format!(
                "{} not found in database {}: {}",
                self.kind,
                self.database,
                missing
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        rows.iter()
            .map(|r| {
                Ok(Obj {
                    sql: make(r),
                    acl: acl_of(r)?,
                })
            })
            .collect()
    }

    /// Reads default ACLs: one "object" per (target role, kind).
    pub(super) fn read_defaults(&self, s: &mut Session<'_, '_, '_>) -> ModResult<Vec<Obj>> {
        let targets = if self.target_roles.is_empty() {
            let me = s
                .row("SELECT current_user AS me")?
                .and_then(|r| r.get("me").and_then(Value::as_str).map(String::from))
                .unwrap_or_default();
            vec![me]
        } else {
            self.target_roles.clone()
        };
        let kinds: Vec<&(&str, char, &str)> = if self.objs.iter().any(|o| o == "ALL_DEFAULT") {
            DEFAULT_KINDS
                .iter()
                .filter(|(k, _, _)| self.schema.is_none() || *k != "SCHEMAS")
                .collect()
        } else {
            DEFAULT_KINDS
                .iter()
                .filter(|(k, _, _)| self.objs.iter().any(|o| o == k))
                .collect()
        };
        let nsp = match &self.schema {
            Some(sch) => format!(
                "coalesce((SELECT oid FROM pg_namespace WHERE nspname = {}), 0)",
                literal(sch)
            ),
            None => "0".into(),
        };
        let mut out = Vec::new();
        for target in &targets {
            for (word, objtype, defchar) in &kinds {
                // Without a global entry the built-in defaults apply (PUBLIC may
                // execute functions and use types); a schema entry only adds.
                let fallback = if self.schema.is_some() {
                    "'{}'::aclitem[]".to_string()
                } else {
                    format!(
                        "coalesce(acldefault('{defchar}', (SELECT oid FROM pg_roles WHERE rolname = {})), '{{}}'::aclitem[])",
                        literal(target)
                    )
                };
                let r = s.row(&format!(
                    "SELECT coalesce((SELECT d.defaclacl FROM pg_default_acl d \
                     WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = {}) \
                     AND d.defaclnamespace = {nsp} AND d.defaclobjtype = '{objtype}'), {fallback})::text[] AS acl",
                    literal(target)
                ))?;
                let acl = match r {
                    Some(r) => acl_of(&r)?,
                    None => Vec::new(),
                };
                let scope = match &self.schema {
                    Some(sch) => format!(" IN SCHEMA {}", ident(sch)),
                    None => String::new(),
                };
                out.push(Obj {
                    sql: format!("FOR ROLE {}{scope}|{word}", ident(target)),
                    acl,
                });
            }
        }
        Ok(out)
    }

    /// The ACLs the objects will have in a database that an earlier task of
    /// this plan creates (from template0): PUBLIC may connect to it and use
    /// `public`, no tables yet, built-in default privileges. `None` where that
    /// cannot be told (named tables, other schemas).
    pub(super) fn assumed_for_new_db(
        &self,
        s: &mut Session<'_, '_, '_>,
    ) -> ModResult<Option<Vec<Obj>>> {
        let item = |t: &str| parse_aclitem(t).expect("a valid ACL item");
        let all_in_schema = self.objs.iter().any(|o| o == "ALL_IN_SCHEMA");
        Ok(match self.kind.as_str() {
            "database" if self.objs == [self.database.clone()] => Some(vec![Obj {
                sql: format!("DATABASE {}", ident(&self.database)),
                acl: vec![item("=Tc/postgres")],
            }]),
            "schema" if self.objs == ["public"] => Some(vec![Obj {
                sql: format!("SCHEMA {}", ident("public")),
                acl: vec![
                    item("pg_database_owner=UC/pg_database_owner"),
                    item("=U/pg_database_owner"),
                ],
            }]),
            "table" | "sequence" | "function" if all_in_schema && self.schema() == "public" => {
                Some(Vec::new())
            }
            "default_privs" => {
                let targets = if self.target_roles.is_empty() {
                    vec![
                        s.row("SELECT current_user AS me")?
                            .and_then(|r| r.get("me").and_then(Value::as_str).map(String::from))
                            .unwrap_or_default(),
                    ]
                } else {
                    self.target_roles.clone()
                };
                let mut out = Vec::new();
                for target in &targets {
                    for (word, _, _) in DEFAULT_KINDS.iter().filter(|(k, _, _)| {
                        self.objs.iter().any(|o| o == k)
                            || (self.objs.iter().any(|o| o == "ALL_DEFAULT")
                                && (self.schema.is_none() || *k != "SCHEMAS"))
                    }) {
                        let acl = match (self.schema.is_some(), *word) {
                            (false, "FUNCTIONS") => vec![item("=X/postgres")],
                            (false, "TYPES") => vec![item("=U/postgres")],
                            _ => Vec::new(),
                        };
                        let scope = match &self.schema {
                            Some(sch) => format!(" IN SCHEMA {}", ident(sch)),
                            None => String::new(),
                        };
                        out.push(Obj {
                            sql: format!("FOR ROLE {}{scope}|{word}", ident(target)),
                            acl,
                        });
                    }
                }
                Some(out)
            }
            _ => None,
        })
    }
}
