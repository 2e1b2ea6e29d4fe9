//! `sqlite_to_postgres`: the migration engine (src/migrate) as a playbook
//! step, run on the controller: the SQLite file is on the controller, the
//! PostgreSQL server is reached with community.postgresql's login_*
//! arguments. `observe` takes the snapshot and runs the preflight (it writes
//! nothing); `apply` loads and verifies. The ledger lives in the project's
//! state store, so a done migration is a no-op afterwards.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::migrate::{self, Inspection, Options, Outcome, Quiet, TargetSpec};
use crate::state::{self, StateSpec, StateStore};

pub static SQLITE_TO_POSTGRES: ModuleSpec = ModuleSpec {
    name: "sqlite_to_postgres",
    summary: "Copy an SQLite database into PostgreSQL: translated, preflighted, verified (controller side)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("src", Path, "The SQLite database on the controller."),
        arg("db", Str, "The target database.").aliases(&["login_db"]),
        arg(
            "login_host",
            Str,
            "Host of the PostgreSQL server (default: the unix socket).",
        ),
        arg(
            "login_unix_socket",
            Path,
            "Directory of the server's unix socket (default /var/run/postgresql).",
        ),
        arg("login_port", Int, "Port (default 5432)."),
        arg("login_user", Str, "Role to connect as (default postgres)."),
        arg("login_password", Str, "Password of login_user."),
        arg(
            "ssl_mode",
            Str,
            "As libpq's sslmode: disable, allow/prefer (TLS when offered), require (TLS, \
             unverified), verify-ca, verify-full (default prefer).",
        )
        .choices(&[
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ]),
        arg(
            "ca_cert",
            Path,
            "CA certificate file for verify-ca/verify-full (default: the system's roots).",
        ),
        arg("schema", Str, "Target schema (default public)."),
        arg("identifiers", Str, "lower (default) or preserve.").choices(&["lower", "preserve"]),
        arg(
            "policies",
            Dict,
            "TABLE.COLUMN: fail|null|cast|text for values that do not convert.",
        ),
        arg(
            "booleans",
            List,
            "TABLE.COLUMN of INTEGER 0/1 flags to migrate as boolean.",
        ),
        arg(
            "naive_timezone",
            Str,
            "Zone of datetimes without an offset: UTC (default), ±HH:MM, or a zone name (Europe/Berlin) from the system zone database; skipped or repeated local times are findings.",
        ),
        arg(
            "into_existing",
            Bool,
            "Load into existing tables, matching columns by name.",
        ),
        arg(
            "existing_rows",
            Str,
            "With into_existing, rows the tables already hold: refuse (default) the run, or replace them, saving them in the state store for state: absent to restore.",
        )
        .choices(&["refuse", "replace"]),
        arg("jobs", Int, "Tables loaded at the same time (default 2)."),
        arg(
            "state",
            Str,
            "present migrates; absent rolls a recorded migration back.",
        )
        .choices(&["present", "absent"]),
    ],
};

pub struct SqliteToPostgres;

struct Job {
    src: PathBuf,
    target: TargetSpec,
    opts: Options,
    present: bool,
    args: Args,
    inspection: Option<Inspection>,
    recorded: bool,
    outcome: Returns,
}

fn err(e: impl std::fmt::Display) -> ModuleError {
    ModuleError::new(e.to_string())
}

fn store() -> ModResult<Box<dyn StateStore>> {
    let dir = std::env::current_dir().map_err(err)?;
    let spec = StateSpec::resolve(None, &dir).map_err(err)?;
    state::open(&spec).map_err(err)
}

impl Module for SqliteToPostgres {
    fn spec(&self) -> &'static ModuleSpec {
        &SQLITE_TO_POSTGRES
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let src = PathBuf::from(argx::req_string(args, "src")?);
        let db = argx::string(args, "db")?
            .or(argx::string(args, "login_db")?)
            .ok_or_else(|| ModuleError::new("missing required argument: db"))?;
        let port = argx::number(args, "login_port")?.map(|p| p as u16);
        let user = argx::string(args, "login_user")?.unwrap_or_else(|| "postgres".into());
        let target = TargetSpec::from_parts(
            argx::string(args, "login_host")?.as_deref(),
            argx::string(args, "login_unix_socket")?.as_deref(),
            port,
            &user,
            argx::string(args, "login_password")?.as_deref(),
            &db,
            argx::string(args, "ssl_mode")?.as_deref(),
        )
        .map_err(err)?
        .with_ca_cert(argx::string(args, "ca_cert")?.as_deref());
        let mut opts = Options {
            schema: argx::string(args, "schema")?.unwrap_or_else(|| "public".into()),
            ident_case: argx::choice(args, "identifiers", &["lower", "preserve"], "lower")?
                .parse()
                .map_err(ModuleError::new)?,
            existing_schema: argx::boolean(args, "into_existing", false)?,
            existing_rows: argx::choice(args, "existing_rows", &["refuse", "replace"], "refuse")?
                .parse()
                .map_err(ModuleError::new)?,
            ..Options::default()
        };
        if let Some(j) = argx::number(args, "jobs")? {
            opts.jobs = (j as usize).max(1);
        }
        if let Some(tz) = argx::string(args, "naive_timezone")? {
            opts.naive_zone = migrate::NaiveZone::parse(&tz).map_err(ModuleError::new)?;
        }
        if let Some(Value::Object(m)) = args.get("policies") {
            for (k, v) in m {
                let p = v.as_str().unwrap_or_default();
                opts.policies
                    .push(migrate::parse_policy(&format!("{k}={p}")).map_err(ModuleError::new)?);
            }
        }
        if let Some(Value::Array(list)) = args.get("booleans") {
            for v in list {
                let s = v.as_str().unwrap_or_default();
                opts.bool_columns
                    .push(migrate::parse_column_ref(s).map_err(ModuleError::new)?);
            }
        }
        let present = argx::choice(args, "state", &["present", "absent"], "present")? == "present";
        Ok(Box::new(Job {
            src,
            target,
            opts,
            present,
            args: args.clone(),
            inspection: None,
            recorded: false,
            outcome: Map::new(),
        }))
    }
}

impl Action for Job {
    fn observe(&mut self, _t: &mut Target<'_>) -> ModResult<()> {
        let store = store()?;
        if self.present {
            let insp =
                migrate::inspect(&self.src, &self.target, &self.opts, &*store).map_err(err)?;
            self.inspection = Some(insp);
        } else {
            let key = migrate::ledger_key(&self.src, &self.target, &self.opts.schema);
            self.recorded = store.ledger_get(&key).map_err(err)?.is_some();
        }
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        if !self.present {
            return Ok(self.recorded.then(|| Change {
                summary: format!(
                    "roll back the migration of {} into {}",
                    self.src.display(),
                    self.target.display
                ),
                diff: None,
                undo: Undo::Irreversible("the migrated data would have to be loaded again".into()),
                predictable: true,
                after: Vec::new(),
            }));
        }
        let insp = self.inspection.as_ref().expect("observed");
        match insp.action() {
            migrate::Action::NoOp => Ok(None),
            migrate::Action::Refuse(why) => {
                Err(ModuleError::new(format!("{why}\n{}", insp.plan_text())))
            }
            migrate::Action::Migrate { .. } => {
                let rows: i64 = insp.translation.tables.iter().map(|t| t.rows).sum();
                let mut inverse = self.args.clone();
                inverse.insert("state".into(), Value::from("absent"));
                Ok(Some(Change {
                    summary: format!(
                        "migrate {} tables ({} rows) from {} into {}",
                        insp.translation.tables.len(),
                        migrate::group(rows.max(0) as u64),
                        self.src.display(),
                        self.target.display
                    ),
                    diff: Some(super::TextDiff {
                        path: self.target.display.clone(),
                        before: String::new(),
                        after: insp.plan_text(),
                    }),
                    undo: Undo::Invoke {
                        module: "sqlite_to_postgres".into(),
                        args: inverse,
                        summary: "drop the tables the migration created".into(),
                    },
                    predictable: true,
                    after: Vec::new(),
                }))
            }
        }
    }

    fn apply(&mut self, _change: &Change, _t: &mut Target<'_>) -> ModResult<()> {
        let store = store()?;
        if !self.present {
            let done = migrate::rollback(&self.src, &self.target, &self.opts.schema, &*store)
                .map_err(err)?;
            self.outcome.insert("rolled_back".into(), Value::from(done));
            return Ok(());
        }
        let insp = self.inspection.as_ref().expect("observed");
        match migrate::execute(insp, &*store, &Quiet).map_err(err)? {
            Outcome::AlreadyDone(_) => {}
            Outcome::Migrated { tables, .. } => {
                let rows: Map<String, Value> = tables
                    .iter()
                    .map(|t| (t.target.clone(), Value::from(t.rows)))
                    .collect();
                self.outcome.insert("rows".into(), Value::Object(rows));
                self.outcome.insert("verified".into(), Value::from(true));
            }
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        self.outcome.clone()
    }
}
