//! `postgresql_ext`: extensions in one database (`pg_extension`).
//!
//! Undo: a created extension is dropped again, an updated one goes back to its
//! prior version (where the extension ships that downgrade path); a dropped one
//! cannot be brought back with its objects' data.

use super::session::{Login, Session};
use super::sql::{ident, literal};
use super::{invoke, pg_args, present, sql_change, with_login};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use crate::modules::{
    Action, Args, Change, ModResult, Module, ModuleCx, Returns, Target, Undo, argx,
};
use serde_json::{Map, Value};

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_ext",
    summary: "Install, update or remove a PostgreSQL extension in a database",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: pg_args![
        required("name", Str, "The extension.").aliases(&["ext"]),
        required("db", Str, "Database to install it in.").aliases(&["database"]),
        arg("state", Str, "Whether it should be installed.").choices(&["present", "absent"]),
        arg(
            "schema",
            Str,
            "Schema for its objects (only when creating)."
        ),
        arg(
            "version",
            Str,
            "Version to install or update to; `latest` for the default version.",
        ),
        arg(
            "cascade",
            Bool,
            "CASCADE: also create/drop what it depends on / what depends on it."
        ),
    ],
};

pub struct PostgresqlExt;

struct ExtAction {
    args: Args,
    login: Login,
    db: String,
    name: String,
    present: bool,
    schema: Option<String>,
    version: Option<String>,
    cascade: bool,
    /// Installed version (None: not installed) and the default version on offer.
    seen: Option<(Option<String>, Option<String>)>,
}

impl Module for PostgresqlExt {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let db = argx::req_string(args, "db")?;
        let mut login = Login::from_args(args)?;
        login.db = Some(db.clone());
        Ok(Box::new(ExtAction {
            args: args.clone(),
            login,
            db,
            name: argx::req_string(args, "name")?,
            present: present(args)?,
            schema: argx::string(args, "schema")?.filter(|s| !s.is_empty()),
            version: argx::string(args, "version")?.filter(|s| !s.is_empty()),
            cascade: argx::boolean(args, "cascade", false)?,
            seen: None,
        }))
    }
}

impl ExtAction {
    fn plan(&self) -> Option<(Vec<String>, Undo)> {
        let (installed, default) = self.seen.clone().expect("observe runs before diff");
        let ext = ident(&self.name);
        let cascade = if self.cascade { " CASCADE" } else { "" };
        let want = match self.version.as_deref() {
            Some("latest") => default.clone(),
            v => v.map(String::from),
        };
        let mut args = Map::new();
        args.insert("name".into(), self.name.clone().into());
        args.insert("db".into(), self.db.clone().into());
        let args = with_login(args, &self.args);
        match (self.present, installed) {
            (false, None) => None,
            (false, Some(_)) => Some((
                vec![format!("DROP EXTENSION {ext}{cascade}")],
                Undo::Irreversible(format!("extension {} was dropped", self.name)),
            )),
            (true, None) => {
                let mut s = format!("CREATE EXTENSION {ext}");
                if let Some(sch) = &self.schema {
                    s.push_str(&format!(" SCHEMA {}", ident(sch)));
                }
                if let Some(v) = &want {
                    s.push_str(&format!(" VERSION {}", literal(v)));
                }
                s.push_str(cascade);
                let mut undo = args;
                undo.insert("state".into(), "absent".into());
                Some((
                    vec![s],
                    invoke(
                        "postgresql_ext",
                        undo,
                        format!("drop extension {}", self.name),
                    ),
                ))
            }
            (true, Some(have)) => {
                let want = want.filter(|w| *w != have)?;
                let mut undo = args;
                undo.insert("version".into(), have.clone().into());
                Some((
                    vec![format!(
                        "ALTER EXTENSION {ext} UPDATE TO {}",
                        literal(&want)
                    )],
                    invoke(
                        "postgresql_ext",
                        undo,
                        format!("put extension {} back to version {have}", self.name),
                    ),
                ))
            }
        }
    }
}

impl Action for ExtAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let r = Session::new(t, &self.login, None).row(&format!(
            "SELECT (SELECT extversion FROM pg_extension WHERE extname = {n}) AS installed, \
             (SELECT default_version FROM pg_available_extensions WHERE name = {n}) AS available",
            n = literal(&self.name)
        ))?;
        let get = |k: &str| {
            r.as_ref()
                .and_then(|r| r.get(k))
                .and_then(Value::as_str)
                .map(String::from)
        };
        self.seen = Some((get("installed"), get("available")));
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
        if self.seen.is_some() {
            let q = self.plan().map(|(s, _)| s).unwrap_or_default();
            r.insert("queries".into(), q.into());
        }
        r
    }
}
