//! Loading into tables the application created itself: columns are matched
//! by name, their types and nullability come from the catalog, and no DDL,
//! constraint or index is written.

use tokio_postgres::Client;

use super::error::MigrateError;
use super::options::Options;
use super::target;
use super::translate::Translation;
use super::value::ValuePolicy;

pub async fn adapt(c: &Client, tr: &mut Translation, opts: &Options) -> Result<(), MigrateError> {
    let mut errors = Vec::new();
    for t in &mut tr.tables {
        let cols = target::existing_columns(c, &opts.schema, &t.name).await?;
        if cols.is_empty() {
            errors.push(format!(
                "table {} ({}): no table {}.{} in the target",
                t.source, t.name, opts.schema, t.name
            ));
            continue;
        }
        for col in &mut t.columns {
            let found = cols.iter().find(|(n, ..)| *n == col.name).or_else(|| {
                cols.iter()
                    .find(|(n, ..)| n.eq_ignore_ascii_case(&col.name))
            });
            let Some((name, ty, raw, nullable)) = found else {
                errors.push(format!(
                    "{}.{}: the target table {} has no column {:?}",
                    t.source, col.source, t.name, col.name
                ));
                continue;
            };
            let Some(ty) = ty else {
                errors.push(format!(
                    "{}.{}: target column type {raw} is not supported",
                    t.source, col.source
                ));
                continue;
            };
            if col.policy == ValuePolicy::Text && !ty.is_text() {
                errors.push(format!(
                    "{}.{}: policy text needs a text target column, this one is {raw}",
                    t.source, col.source
                ));
            }
            col.name = name.clone();
            col.ty = *ty;
            col.nullable = *nullable;
            col.max_len = None;
            col.as_text = col.policy == ValuePolicy::Text;
            col.default = None;
            col.identity = false;
        }
        t.uniques.clear();
        t.checks.clear();
        t.indexes.clear();
        t.fks.clear();
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::Schema(errors.join("\n")))
    }
}
