//! `migrate`: copy an SQLite database into PostgreSQL, exactly and verified.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use clap::Args;
use tbuddy_deploy::migrate::{
    self, Action, IdentCase, MigrateError, Observer, Options, Outcome, TargetSpec,
};
use tbuddy_deploy::output::table_bars::TableBars;

use super::store::{REFUSED, StateArgs, state_error};
use super::{CliError, exit};

/// Exit code when the migration fails (preflight, load or verification).
const FAILED: i32 = 2;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite database to read (a consistent snapshot is taken first).
    pub source: PathBuf,
    /// The PostgreSQL database to fill: a postgresql:// URL or libpq keywords.
    pub target: String,
    /// Target schema (created when missing).
    #[arg(long, default_value = "public")]
    pub schema: String,
    /// Print the translated DDL, the preflight report and row counts; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Drop what a recorded migration created (or empty the existing tables it loaded).
    #[arg(long, conflicts_with = "dry_run")]
    pub rollback: bool,
    /// Identifier names: `lower` (ChatSettings → chatsettings) or `preserve`.
    #[arg(long, value_name = "lower|preserve", default_value = "lower")]
    pub identifiers: IdentCase,
    /// What to do with values that do not convert: TABLE.COLUMN=fail|null|cast|text
    /// (either part may be `*`; default fail). Repeatable.
    #[arg(long = "policy", value_name = "TABLE.COLUMN=POLICY", value_parser = migrate::parse_policy)]
    pub policies: Vec<(String, String, migrate::ValuePolicy)>,
    /// An INTEGER column holding 0/1 flags to migrate as boolean. Repeatable.
    #[arg(long = "boolean", value_name = "TABLE.COLUMN", value_parser = migrate::parse_column_ref)]
    pub booleans: Vec<(String, String)>,
    /// Zone of datetimes written without an offset: UTC, ±HH:MM, or a zone name from the
    /// system's zone database (Europe/Berlin; $TZDIR or /usr/share/zoneinfo). With a zone name,
    /// a local time the clocks skipped or repeated is a finding (--policy applies).
    #[arg(long, value_name = "UTC|±HH:MM|ZONE", default_value = "UTC", value_parser = migrate::NaiveZone::parse, allow_hyphen_values = true)]
    pub naive_timezone: migrate::NaiveZone,
    /// Load into tables that already exist (the application's DDL), matching columns by name.
    #[arg(long)]
    pub into_existing: bool,
    /// With --into-existing, rows the target tables already hold: `refuse` the run, or
    /// `replace` them, saving them first in the state store so that --rollback restores
    /// them (with their sequence values).
    #[arg(long, value_name = "refuse|replace", default_value = "refuse")]
    pub existing_rows: migrate::ExistingRows,
    /// Run PRAGMA integrity_check (slower) instead of quick_check.
    #[arg(long)]
    pub full_integrity_check: bool,
    /// Tables loaded at the same time.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// libpq's sslmode (disable, allow, prefer, require, verify-ca, verify-full); overrides
    /// the URL's.
    #[arg(long, value_name = "MODE")]
    pub ssl_mode: Option<String>,
    /// No progress bars, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

fn failed(e: MigrateError) -> CliError {
    let code = match &e {
        MigrateError::State(_) => REFUSED,
        MigrateError::Target(_) => exit::USAGE,
        _ => FAILED,
    };
    CliError {
        message: format!("error: {e}"),
        code,
    }
}

/// Phases on stderr; per-table bars while loading when stderr is a terminal.
struct Console {
    bars: bool,
    active: Mutex<Option<TableBars>>,
}

impl Observer for Console {
    fn phase(&self, what: &str) {
        eprintln!("{what}…");
    }
    fn loading(&self, tables: &[(String, u64, Arc<AtomicU64>)]) {
        if self.bars {
            let width = tbuddy_deploy::output::live::terminal_size().0;
            *self.active.lock().expect("bars") = Some(TableBars::stderr(tables.to_vec(), width));
        }
    }
    fn loaded(&self) {
        self.active.lock().expect("bars").take();
    }
}

pub fn exec(args: MigrateArgs) -> Result<i32, CliError> {
    if args.jobs == 0 {
        return Err(CliError::usage("--jobs must be at least 1"));
    }
    let target = TargetSpec::parse(&args.target, args.ssl_mode.as_deref()).map_err(failed)?;
    let store = args.state.open()?;
    if args.rollback {
        let done = migrate::rollback(
            &migrate::SourceId::controller(&args.source),
            &target,
            &args.schema,
            &*store,
        )
        .map_err(|e| match e {
            MigrateError::Refused(m) => CliError {
                message: format!("error: {m}"),
                code: REFUSED,
            },
            other => failed(other),
        })?;
        for d in &done {
            println!("{d}");
        }
        println!("rolled back; the ledger entry is removed");
        return Ok(exit::OK);
    }
    let opts = Options {
        ident_case: args.identifiers,
        schema: args.schema.clone(),
        naive_zone: args.naive_timezone.clone(),
        policies: args.policies.clone(),
        bool_columns: args.booleans.clone(),
        existing_schema: args.into_existing,
        existing_rows: args.existing_rows,
        jobs: args.jobs,
        full_integrity_check: args.full_integrity_check,
    };
    let t0 = std::time::Instant::now();
    let insp = migrate::inspect(&args.source, &target, &opts, &*store).map_err(failed)?;
    let inspected = t0.elapsed();
    let action = insp.action();
    if args.dry_run {
        print!("{}", insp.plan_text());
        return Ok(match action {
            Action::NoOp => exit::OK,
            Action::Refuse(_) => FAILED,
            Action::Migrate { .. } => exit::CHANGES_PENDING,
        });
    }
    match &action {
        Action::Refuse(_) => {
            print!("{}", insp.plan_text());
            return Err(CliError {
                message: "error: migration refused (see above); nothing was written".into(),
                code: FAILED,
            });
        }
        Action::Migrate {
            clean_first,
            replace,
        } => {
            for (t, n) in replace {
                println!(
                    "{} row(s) in {}.{t} will be replaced and kept for rollback",
                    migrate::group(*n),
                    opts.schema
                );
            }
            if !clean_first.is_empty() {
                println!(
                    "an earlier attempt did not finish: {} will be {} first",
                    clean_first.join(", "),
                    if opts.existing_schema {
                        "emptied"
                    } else {
                        "dropped"
                    }
                );
            }
        }
        _ => {}
    }
    let console = Console {
        bars: !args.no_progress && std::io::stderr().is_terminal(),
        active: Mutex::new(None),
    };
    let outcome = migrate::execute(&insp, &*store, &console).map_err(|e| match e {
        MigrateError::State(s) => state_error(s),
        other => failed(other),
    });
    drop(console);
    match outcome? {
        Outcome::AlreadyDone(l) => {
            println!(
                "already migrated (ledger: done at {}); nothing to do",
                l.finished.as_deref().unwrap_or("?")
            );
        }
        Outcome::Migrated {
            tables,
            phases,
            total,
        } => {
            for n in &insp.translation.notes {
                println!("note: {n}");
            }
            for (n, why) in &insp.schema.skipped {
                println!("not migrated: {n}: {why}");
            }
            for (n, _) in &insp.schema.views {
                println!("rewrite by hand: view {n}");
            }
            for (n, t, _) in &insp.schema.triggers {
                println!("rewrite by hand: trigger {n} on {t}");
            }
            let mut all = vec![("snapshot, schema, preflight".to_string(), inspected)];
            all.extend(phases);
            print!(
                "{}",
                migrate::summary_table(&tables, &all, total + inspected)
            );
        }
    }
    Ok(exit::OK)
}
