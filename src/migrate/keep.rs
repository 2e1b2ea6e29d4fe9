//! Rows a migration replaces (`existing_rows: replace`): before a target
//! table is emptied, its rows are saved with binary COPY into the state
//! store (in chunks, each a compressed blob, so memory stays bounded) and
//! recorded in the ledger together with the table's sequence values, all
//! inside the loading transaction and under an exclusive lock, so nothing
//! can change between saving and emptying. A rollback empties the tables
//! and copies the saved rows back, sets the sequences back, and checks the
//! row count and content checksum against the saved ones before it commits.

use std::sync::Mutex;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt, pin_mut};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_postgres::{Client, Transaction};

use super::checksum::{RowSplitter, TableSum};
use super::error::{MigrateError, PgContext};
use super::sqltext::quote_ident;
use crate::state::{LedgerEntry, StateStore};

/// Raw bytes of COPY data per blob.
const CHUNK: usize = 4 * 1024 * 1024;

/// One table's saved rows, as the ledger records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// The columns saved, in COPY order (generated columns are left out:
    /// PostgreSQL computes them again).
    pub columns: Vec<String>,
    /// Blob names of the binary COPY stream, in order.
    pub blobs: Vec<String>,
    pub rows: u64,
    /// The content checksum (decimal, as the sums exceed JSON numbers).
    pub sum_a: String,
    pub sum_b: String,
    /// `(sequence, last_value, is_called)` of the table's serial and
    /// identity columns.
    pub sequences: Vec<(String, i64, bool)>,
}

impl Saved {
    fn sum(&self) -> TableSum {
        TableSum {
            rows: self.rows,
            a: self.sum_a.parse().unwrap_or_default(),
            b: self.sum_b.parse().unwrap_or_default(),
        }
    }
}

/// Where saved rows go while a run loads.
pub struct Keeper<'a> {
    pub store: &'a dyn StateStore,
    pub entry: &'a Mutex<LedgerEntry>,
}

/// The saved tables the ledger entry records, by target name.
pub fn recorded(entry: &LedgerEntry) -> Vec<(String, Saved)> {
    entry
        .detail
        .get("saved")
        .and_then(|v| v.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), serde_json::from_value(v.clone()).ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// Columns COPY can write back: not dropped, not generated.
async fn copy_columns(
    tx: &Transaction<'_>,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, MigrateError> {
    let rows = tx
        .query(
            "SELECT a.attname::text FROM pg_attribute a
               JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0
                AND NOT a.attisdropped AND a.attgenerated = ''
              ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await
        .doing(|| format!("listing the columns of {schema}.{table}"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn sequences(
    tx: &Transaction<'_>,
    schema: &str,
    table: &str,
    columns: &[String],
) -> Result<Vec<(String, i64, bool)>, MigrateError> {
    let tq = qualified(schema, table);
    let mut out = Vec::new();
    for col in columns {
        let seq: Option<String> = tx
            .query_one("SELECT pg_get_serial_sequence($1, $2)", &[&tq, col])
            .await
            .doing(|| format!("looking up the sequence of {schema}.{table}.{col}"))?
            .get(0);
        if let Some(seq) = seq {
            let r = tx
                .query_one(&format!("SELECT last_value, is_called FROM {seq}"), &[])
                .await
                .doing(|| format!("reading sequence {seq}"))?;
            out.push((seq, r.get(0), r.get(1)));
        }
    }
    Ok(out)
}

/// Streams `COPY (SELECT cols FROM ONLY table) TO STDOUT (FORMAT binary)`,
/// calling `chunk` with each piece and returning the content checksum.
async fn copy_out(
    c: &Transaction<'_>,
    schema: &str,
    table: &str,
    columns: &[String],
    mut chunk: impl FnMut(Bytes) -> Result<(), MigrateError>,
) -> Result<TableSum, MigrateError> {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "COPY (SELECT {} FROM ONLY {}) TO STDOUT (FORMAT binary)",
        cols.join(", "),
        qualified(schema, table)
    );
    let stream = c
        .copy_out(&sql)
        .await
        .doing(|| format!("saving the rows of {schema}.{table}"))?;
    pin_mut!(stream);
    let mut split = RowSplitter::default();
    let mut sum = TableSum::default();
    while let Some(piece) = stream.next().await {
        let piece: Bytes = piece.doing(|| format!("saving the rows of {schema}.{table}"))?;
        split
            .feed(&piece, |r| sum.add_row(r))
            .map_err(MigrateError::Verify)?;
        chunk(piece)?;
    }
    if !split.ended {
        return Err(MigrateError::Verify(format!(
            "{schema}.{table}: the COPY stream ended early"
        )));
    }
    Ok(sum)
}

/// Saves the rows and sequence values of `table` (locked by the caller's
/// transaction) and records them in the ledger before anything changes.
pub async fn save(
    tx: &Transaction<'_>,
    schema: &str,
    table: &str,
    keeper: &Keeper<'_>,
) -> Result<Saved, MigrateError> {
    let columns = copy_columns(tx, schema, table).await?;
    let sequences = sequences(tx, schema, table, &columns).await?;
    let mut blobs = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let put = |buf: &mut Vec<u8>, blobs: &mut Vec<String>| -> Result<(), MigrateError> {
        let name = tokio::task::block_in_place(|| keeper.store.put_blob(buf))?;
        blobs.push(name);
        buf.clear();
        Ok(())
    };
    let sum = copy_out(tx, schema, table, &columns, |piece| {
        buf.extend_from_slice(&piece);
        if buf.len() >= CHUNK {
            put(&mut buf, &mut blobs)?;
        }
        Ok(())
    })
    .await?;
    if !buf.is_empty() {
        put(&mut buf, &mut blobs)?;
    }
    let saved = Saved {
        columns,
        blobs,
        rows: sum.rows,
        sum_a: sum.a.to_string(),
        sum_b: sum.b.to_string(),
        sequences,
    };
    // Write-ahead: recorded before the table is emptied.
    let mut entry = keeper.entry.lock().expect("ledger entry");
    if !entry.detail["saved"].is_object() {
        entry.detail["saved"] = json!({});
    }
    entry.detail["saved"][table] = serde_json::to_value(&saved).expect("saved rows as JSON");
    tokio::task::block_in_place(|| keeper.store.ledger_put(&entry))?;
    Ok(saved)
}

/// Empties the saved tables and puts their saved rows and sequence values
/// back, in one transaction that commits only when every table's row count
/// and checksum equal the saved ones.
pub async fn restore(
    c: &mut Client,
    schema: &str,
    saved: &[(String, Saved)],
    store: &dyn StateStore,
) -> Result<Vec<String>, MigrateError> {
    let mut done = Vec::new();
    if saved.is_empty() {
        return Ok(done);
    }
    let tx = c
        .transaction()
        .await
        .doing(|| "starting the restore".into())?;
    let list: Vec<String> = saved.iter().map(|(t, _)| qualified(schema, t)).collect();
    tx.batch_execute(&format!("TRUNCATE {}", list.join(", ")))
        .await
        .doing(|| format!("emptying {}", list.join(", ")))?;
    for (table, s) in saved {
        let tq = qualified(schema, table);
        if !s.blobs.is_empty() {
            let cols: Vec<String> = s.columns.iter().map(|c| quote_ident(c)).collect();
            let sink = tx
                .copy_in::<_, Bytes>(&format!(
                    "COPY {tq} ({}) FROM STDIN (FORMAT binary)",
                    cols.join(", ")
                ))
                .await
                .doing(|| format!("restoring the rows of {tq}"))?;
            pin_mut!(sink);
            for name in &s.blobs {
                let data = tokio::task::block_in_place(|| store.get_blob(name))?;
                sink.send(Bytes::from(data))
                    .await
                    .doing(|| format!("restoring the rows of {tq}"))?;
            }
            sink.as_mut()
                .finish()
                .await
                .doing(|| format!("restoring the rows of {tq}"))?;
        }
        for (seq, value, called) in &s.sequences {
            tx.query_one(
                "SELECT setval($1::text::regclass, $2, $3)",
                &[seq, value, called],
            )
            .await
            .doing(|| format!("setting sequence {seq} back"))?;
        }
        let now = copy_out(&tx, schema, table, &s.columns, |_| Ok(())).await?;
        if now != s.sum() {
            return Err(MigrateError::Verify(format!(
                "restoring {tq}: {} rows saved, {} restored{}; nothing was changed",
                s.rows,
                now.rows,
                if now.rows == s.rows {
                    ", contents differ"
                } else {
                    ""
                }
            )));
        }
        done.push(format!(
            "restored {} row(s) of {tq} (count and checksum verified){}",
            s.rows,
            if s.sequences.is_empty() {
                String::new()
            } else {
                format!(
                    ", sequence(s) {} set back",
                    s.sequences
                        .iter()
                        .map(|(n, ..)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    tx.commit()
        .await
        .doing(|| "committing the restore".into())?;
    Ok(done)
}
