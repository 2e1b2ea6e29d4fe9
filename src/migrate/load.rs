//! Streams each table from the snapshot into PostgreSQL with binary COPY:
//! a reader thread converts and encodes rows into ~256 KiB chunks (and
//! hashes them for the verification), a bounded channel of four chunks
//! carries them to the COPY sink, so memory stays flat whatever the size.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::Client;

use super::checksum::{HEADER, TableSum};
use super::error::{MigrateError, PgContext};
use super::keep::{self, Keeper};
use super::options::NaiveZone;
use super::preflight::{convert_cell, select_sql, show};
use super::snapshot::open_read_only;
use super::sqltext::quote_ident;
use super::translate::TargetTable;

const CHUNK: usize = 256 * 1024;

/// How a table is prepared inside the loading transaction.
pub enum Prepare<'a> {
    /// CREATE TABLE (this statement) in the same transaction as the COPY.
    Create(String),
    /// The table exists and is empty: TRUNCATE it (so COPY FREEZE applies).
    Truncate,
    /// The table exists and its rows are to be replaced: lock it, save its
    /// rows (unless an earlier attempt did), then TRUNCATE it.
    Replace { keeper: &'a Keeper<'a>, save: bool },
}

/// Loads one table; returns what the reader saw (count and digest sums).
pub async fn load_table(
    client: &mut Client,
    t: &TargetTable,
    schema: &str,
    prepare: Prepare<'_>,
    snapshot: &Path,
    naive: &NaiveZone,
    done: Arc<AtomicU64>,
) -> Result<TableSum, MigrateError> {
    let tq = format!("{}.{}", quote_ident(schema), quote_ident(&t.name));
    let tx = client
        .transaction()
        .await
        .doing(|| format!("starting the load of {tq}"))?;
    match &prepare {
        Prepare::Create(sql) => tx
            .batch_execute(sql)
            .await
            .doing(|| format!("creating {tq}"))?,
        Prepare::Truncate => tx
            .batch_execute(&format!("TRUNCATE {tq}"))
            .await
            .doing(|| format!("truncating {tq}"))?,
        Prepare::Replace { keeper, save } => {
            tx.batch_execute(&format!("LOCK TABLE {tq} IN ACCESS EXCLUSIVE MODE"))
                .await
                .doing(|| format!("locking {tq}"))?;
            if *save {
                keep::save(&tx, schema, &t.name, keeper).await?;
            }
            tx.batch_execute(&format!("TRUNCATE {tq}"))
                .await
                .doing(|| format!("truncating {tq}"))?
        }
    }
    let cols: Vec<String> = t.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let copy = format!(
        "COPY {tq} ({}) FROM STDIN (FORMAT binary, FREEZE)",
        cols.join(", ")
    );
    let sink = tx
        .copy_in::<_, Bytes>(&copy)
        .await
        .doing(|| format!("starting COPY into {tq}"))?;
    futures_util::pin_mut!(sink);

    let (send, mut recv) = tokio::sync::mpsc::channel::<Bytes>(4);
    let table = t.clone();
    let path = snapshot.to_path_buf();
    let naive = naive.clone();
    let reader =
        tokio::task::spawn_blocking(move || read_encode(&table, &path, &naive, Some(&send), &done));
    let mut copy_err = None;
    while let Some(chunk) = recv.recv().await {
        if let Err(e) = sink.send(chunk).await {
            copy_err = Some(e);
            break;
        }
    }
    drop(recv);
    let read = reader
        .await
        .map_err(|e| MigrateError::Refused(format!("reader of {} failed: {e}", t.source)))?;
    if let Some(e) = copy_err {
        return Err(e).doing(|| format!("COPY into {tq}"));
    }
    let sum = read?;
    let n = sink
        .as_mut()
        .finish()
        .await
        .doing(|| format!("finishing COPY into {tq}"))?;
    if n != sum.rows {
        return Err(MigrateError::Verify(format!(
            "{}: read {} rows, PostgreSQL accepted {n}",
            t.source, sum.rows
        )));
    }
    tx.commit().await.doing(|| format!("committing {tq}"))?;
    Ok(sum)
}

/// The snapshot side of a table's checksum, without loading anything.
pub fn source_sum(
    t: &TargetTable,
    snapshot: &Path,
    naive: &NaiveZone,
) -> Result<TableSum, MigrateError> {
    read_encode(t, snapshot, naive, None, &AtomicU64::new(0))
}

fn read_encode(
    t: &TargetTable,
    snapshot: &Path,
    naive: &NaiveZone,
    send: Option<&tokio::sync::mpsc::Sender<Bytes>>,
    done: &AtomicU64,
) -> Result<TableSum, MigrateError> {
    let conn = open_read_only(snapshot)?;
    let mut st = conn.prepare(&select_sql(t))?;
    let mut rows = st.query([])?;
    let off = usize::from(!t.without_rowid);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 64 * 1024);
    buf.extend_from_slice(HEADER);
    let mut sum = TableSum::default();
    let mut pending = 0u64;
    let flush = |buf: &mut Vec<u8>| -> Result<(), MigrateError> {
        let Some(send) = send else {
            buf.clear();
            return Ok(());
        };
        let chunk = Bytes::from(std::mem::replace(
            buf,
            Vec::with_capacity(CHUNK + 64 * 1024),
        ));
        send.blocking_send(chunk)
            .map_err(|_| MigrateError::Refused("the COPY stream closed early".into()))
    };
    while let Some(r) = rows.next()? {
        let row_start = buf.len();
        encode_row(t, r, off, naive, &mut buf)?;
        sum.add_row(&buf[row_start..]);
        pending += 1;
        if buf.len() >= CHUNK {
            flush(&mut buf)?;
            done.fetch_add(pending, Ordering::Relaxed);
            pending = 0;
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    flush(&mut buf)?;
    done.fetch_add(pending, Ordering::Relaxed);
    Ok(sum)
}

/// Appends one row in binary COPY format.
fn encode_row(
    t: &TargetTable,
    r: &rusqlite::Row<'_>,
    off: usize,
    naive: &NaiveZone,
    buf: &mut Vec<u8>,
) -> Result<(), MigrateError> {
    buf.extend_from_slice(&(t.columns.len() as i16).to_be_bytes());
    for (i, c) in t.columns.iter().enumerate() {
        let raw = r.get_ref(i + off)?;
        let (v, _) = convert_cell(t, i, raw, naive).map_err(|p| {
            MigrateError::Preflight(format!(
                "{}.{}: {} ({}) — the snapshot changed after the preflight?",
                t.source,
                c.source,
                p.0,
                show(raw)
            ))
        })?;
        v.encode(c.ty, buf);
    }
    Ok(())
}

/// Encodes the table's rows in primary key order, one at a time, until
/// `row` returns false (for locating differences).
pub fn encode_rows_by_key(
    t: &TargetTable,
    snapshot: &Path,
    naive: &NaiveZone,
    mut row: impl FnMut(&[u8]) -> bool,
) -> Result<(), MigrateError> {
    let conn = open_read_only(snapshot)?;
    let cols: Vec<String> = t.columns.iter().map(|c| quote_ident(&c.source)).collect();
    let order: Vec<String> =
        t.pk.iter()
            .filter_map(|k| t.columns.iter().find(|c| &c.name == k))
            .map(|c| quote_ident(&c.source))
            .collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        quote_ident(&t.source),
        order.join(", ")
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query([])?;
    let mut buf = Vec::new();
    while let Some(r) = rows.next()? {
        buf.clear();
        encode_row(t, r, 0, naive, &mut buf)?;
        if !row(&buf) {
            break;
        }
    }
    Ok(())
}
