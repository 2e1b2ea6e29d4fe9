//! After the load: each table's row count and digest sums over the rows
//! PostgreSQL returns with binary COPY must equal what the loader computed
//! over the rows it sent. On a difference, both sides are walked in key
//! order to name the first row that differs.

use std::path::Path;

use bytes::Bytes;
use futures_util::{StreamExt, pin_mut};
use tokio_postgres::Client;

use super::checksum::{self, RowSplitter, TableSum};
use super::error::{MigrateError, PgContext};
use super::load;
use super::options::NaiveZone;
use super::sqltext::quote_ident;
use super::translate::TargetTable;

/// Streams `COPY (query or table) TO STDOUT (FORMAT binary)`, calling `row` per row.
async fn copy_rows(
    c: &Client,
    what: &str,
    mut row: impl FnMut(&[u8]) -> bool,
) -> Result<(), MigrateError> {
    let stream = c
        .copy_out(&format!("COPY {what} TO STDOUT (FORMAT binary)"))
        .await
        .doing(|| format!("reading back {what}"))?;
    pin_mut!(stream);
    let mut split = RowSplitter::default();
    let mut go = true;
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.doing(|| format!("reading back {what}"))?;
        if go {
            split
                .feed(&chunk, |r| go = go && row(r))
                .map_err(MigrateError::Verify)?;
        }
    }
    Ok(())
}

fn columns(t: &TargetTable) -> String {
    t.columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL's side: the rows as stored, hashed the loader's way.
pub async fn target_sum(
    c: &Client,
    t: &TargetTable,
    schema: &str,
) -> Result<TableSum, MigrateError> {
    let what = format!(
        "{}.{} ({})",
        quote_ident(schema),
        quote_ident(&t.name),
        columns(t)
    );
    let mut sum = TableSum::default();
    copy_rows(c, &what, |r| {
        sum.add_row(r);
        true
    })
    .await?;
    Ok(sum)
}

/// Compares and, on a difference, explains it.
pub async fn check(
    c: &Client,
    t: &TargetTable,
    schema: &str,
    source: &TableSum,
    snapshot: &Path,
    naive: &NaiveZone,
) -> Result<(), MigrateError> {
    let target = target_sum(c, t, schema).await?;
    if target == *source {
        return Ok(());
    }
    let mut msg = format!(
        "table {}: source has {} rows, target {}",
        t.name, source.rows, target.rows
    );
    if target.rows == source.rows {
        msg.push_str(", contents differ");
    }
    match first_difference(c, t, schema, snapshot, naive).await {
        Ok(Some(d)) => msg.push_str(&format!("; first differing row: {d}")),
        Ok(None) => {}
        Err(e) => msg.push_str(&format!("; could not locate the row: {e}")),
    }
    Err(MigrateError::Verify(msg))
}

fn key_of(t: &TargetTable, keys: &[usize], row: &[u8]) -> String {
    let f = checksum::fields(row);
    keys.iter()
        .map(|&k| {
            let col = &t.columns[k];
            format!(
                "{}={}",
                col.name,
                checksum::key_text(col.ty, f.get(k).copied().flatten())
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

async fn first_difference(
    c: &Client,
    t: &TargetTable,
    schema: &str,
    snapshot: &Path,
    naive: &NaiveZone,
) -> Result<Option<String>, MigrateError> {
    let keys: Vec<usize> =
        t.pk.iter()
            .filter_map(|k| t.columns.iter().position(|c| &c.name == k))
            .collect();
    if keys.is_empty() {
        return Ok(Some(
            "(the table has no primary key, so no row can be named)".into(),
        ));
    }
    // Source side, in a thread: (key, row digest) in key order.
    let (send, mut recv) = tokio::sync::mpsc::channel::<(String, [u8; 16])>(1024);
    let table = t.clone();
    let path = snapshot.to_path_buf();
    let keys2 = keys.clone();
    let naive = naive.clone();
    let reader = tokio::task::spawn_blocking(move || {
        load::encode_rows_by_key(&table, &path, &naive, |row| {
            let item = (key_of(&table, &keys2, row), checksum::row_md5(row));
            send.blocking_send(item).is_ok()
        })
    });
    let order: Vec<String> = keys
        .iter()
        .map(|&k| {
            let col = &t.columns[k];
            if col.ty.is_text() {
                format!("{} COLLATE \"C\"", quote_ident(&col.name))
            } else {
                quote_ident(&col.name)
            }
        })
        .collect();
    let what = format!(
        "(SELECT {} FROM {}.{} ORDER BY {})",
        columns(t),
        quote_ident(schema),
        quote_ident(&t.name),
        order.join(", ")
    );
    let mut target_rows: Vec<(String, [u8; 16])> = Vec::new();
    let mut found = None;
    // Compare in batches: read the target a chunk at a time against the source stream.
    copy_rows(c, &what, |r| {
        target_rows.push((key_of(t, &keys, r), checksum::row_md5(r)));
        true
    })
    .await?;
    for (pk, ph) in &target_rows {
        match recv.recv().await {
            None => {
                found = Some(format!("{pk} is only in the target"));
                break;
            }
            Some((k, h)) if h != *ph => {
                found = Some(if *pk == k {
                    format!("{k} has different contents")
                } else {
                    format!("source row {k}, target row {pk} (a row is missing or was added)")
                });
                break;
            }
            Some(_) => {}
        }
    }
    if found.is_none()
        && let Some((k, _)) = recv.recv().await
    {
        found = Some(format!("{k} is missing in the target"));
    }
    drop(recv);
    let _ = reader.await;
    Ok(found)
}
