//! `postgresql_membership`: which roles are members of which groups
//! (`pg_auth_members`). Undo grants back or revokes exactly the memberships
//! that changed.

use super::session::{Login, Session};
use super::sql::{ident, literal};
use super::{invoke, list_arg, pg_args, present, sql_change, with_login};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use crate::modules::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target,
};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_membership",
    summary: "Add roles to or remove them from PostgreSQL group roles",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: pg_args![
        required("groups", List, "Group roles.").aliases(&["group", "source_role", "source_roles"]),
        required("target_roles", List, "Member roles.").aliases(&["target_role", "user", "users"]),
        arg(
            "state",
            Str,
            "present grants membership, absent revokes it."
        )
        .choices(&["present", "absent"]),
        arg("db", Str, "Database to connect to (same as login_db)."),
    ],
};

pub struct PostgresqlMembership;

struct MembershipAction {
    args: Args,
    login: Login,
    groups: Vec<String>,
    members: Vec<String>,
    present: bool,
    /// (group, member) pairs that hold now.
    seen: Option<BTreeSet<(String, String)>>,
}

impl Module for PostgresqlMembership {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let mut login = Login::from_args(args)?;
        if login.db.is_none() {
            login.db = crate::modules::argx::string(args, "db")?;
        }
        let groups = list_arg(args, "groups")?;
        let members = list_arg(args, "target_roles")?;
        if groups.is_empty() || members.is_empty() {
            return Err(ModuleError::new(
                "groups and target_roles must not be empty",
            ));
        }
        Ok(Box::new(MembershipAction {
            args: args.clone(),
            login,
            groups,
            members,
            present: present(args)?,
            seen: None,
        }))
    }
}

impl MembershipAction {
    /// The pairs to change.
    fn pending(&self) -> Vec<(String, String)> {
        let seen = self.seen.as_ref().expect("observe runs before diff");
        let mut out = Vec::new();
        for g in &self.groups {
            for m in &self.members {
                let pair = (g.clone(), m.clone());
                if seen.contains(&pair) != self.present {
                    out.push(pair);
                }
            }
        }
        out
    }

    fn statements(&self) -> Vec<String> {
        self.pending()
            .iter()
            .map(|(g, m)| {
                if self.present {
                    format!("GRANT {} TO {}", ident(g), ident(m))
                } else {
                    format!("REVOKE {} FROM {}", ident(g), ident(m))
                }
            })
            .collect()
    }
}

impl Action for MembershipAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let names = |v: &[String]| v.iter().map(|s| literal(s)).collect::<Vec<_>>().join(", ");
        let rows = Session::new(t, &self.login, None).rows(&format!(
            "SELECT g.rolname AS g, m.rolname AS m FROM pg_auth_members am \
             JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member \
             WHERE g.rolname IN ({}) AND m.rolname IN ({})",
            names(&self.groups),
            names(&self.members)
        ))?;
        self.seen = Some(
            rows.iter()
                .filter_map(|r| {
                    Some((
                        r.get("g")?.as_str()?.to_string(),
                        r.get("m")?.as_str()?.to_string(),
                    ))
                })
                .collect(),
        );
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let pending = self.pending();
        if pending.is_empty() {
            return Ok(None);
        }
        let groups: BTreeSet<&String> = pending.iter().map(|(g, _)| g).collect();
        let members: BTreeSet<&String> = pending.iter().map(|(_, m)| m).collect();
        let mut args = Map::new();
        // The inverse covers the changed pairs; when only some pairs changed the
        // cross product may name pairs that did not: those are already in the
        // inverse state only if they were changed, so restrict to one pair each.
        let undo = if groups.len() * members.len() == pending.len() {
            args.insert(
                "groups".into(),
                Value::from(groups.into_iter().cloned().collect::<Vec<_>>()),
            );
            args.insert(
                "target_roles".into(),
                Value::from(members.into_iter().cloned().collect::<Vec<_>>()),
            );
            args.insert(
                "state".into(),
                if self.present { "absent" } else { "present" }.into(),
            );
            invoke(
                "postgresql_membership",
                with_login(args, &self.args),
                "restore the prior role memberships".into(),
            )
        } else {
            let sql: Vec<String> = pending
                .iter()
                .map(|(g, m)| {
                    if self.present {
                        format!("REVOKE {} FROM {}", ident(g), ident(m))
                    } else {
                        format!("GRANT {} TO {}", ident(g), ident(m))
                    }
                })
                .collect();
            args.insert("query".into(), sql.join(";\n").into());
            invoke(
                "postgresql_query",
                with_login(args, &self.args),
                "restore the prior role memberships".into(),
            )
        };
        Ok(Some(sql_change(&self.statements(), undo)))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let stmts = self.statements();
        Session::new(t, &self.login, None).execute(&stmts)
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        if self.seen.is_some() {
            r.insert("queries".into(), self.statements().into());
        }
        r
    }
}
