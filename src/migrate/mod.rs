//! SQLite → PostgreSQL data migration: read the schema from a consistent
//! snapshot, translate it under an explicit policy (docs/migration.md),
//! preflight every value, stream rows with binary COPY, build keys,
//! constraints and indexes after the load, verify row counts and content
//! checksums, and record the step in the state store's ledger.

mod checksum;
mod datetime;
mod defaults;
mod error;
mod existing;
mod keep;
mod load;
mod numeric;
mod options;
mod preflight;
mod report;
mod run;
mod snapshot;
mod source;
mod sqltext;
mod target;
mod translate;
mod types;
mod tz;
mod value;
mod verify;

pub use error::MigrateError;
pub use options::{
    ExistingRows, IdentCase, NaiveZone, Options, parse_column_ref, parse_offset, parse_policy,
};
pub use preflight::{Finding, Report as PreflightReport};
pub use report::{group, summary_table};
pub use run::{
    Action, Inspection, Observer, Outcome, Quiet, SourceId, TableSummary, execute, inspect,
    inspect_for_new_database, inspect_snapshot, ledger_key, reverify, rollback, target_ready,
};
pub use snapshot::Snapshot;
pub use target::TargetSpec;
pub use value::ValuePolicy;

/// The ledger kind of these steps.
pub const LEDGER_KIND: &str = "sqlite_to_postgres";
