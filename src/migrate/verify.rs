//! After the load: each table's row count and digest sums computed by
//! PostgreSQL must equal what the reader computed from the snapshot. On a
//! difference, both sides are walked in key order to name the first row
//! that differs.

use std::path::Path;

use futures_util::{StreamExt, pin_mut};
use tokio_postgres::Client;

use super::checksum::{self, RowHasher, TableSum};
use super::error::{MigrateError, PgContext};
use super::preflight::convert_cell;
use super::snapshot::open_read_only;
use super::sqltext::quote_ident;
use super::translate::TargetTable;

/// PostgreSQL's count and sums for a table.
pub async fn target_sum(
    c: &Client,
    t: &TargetTable,
    schema: &str,
) -> Result<TableSum, MigrateError> {
    let row = c
        .query_one(&checksum::table_sql(t, schema), &[])
        .await
        .doing(|| format!("checksumming {schema}.{}", t.name))?;
    let parse = |i: usize| -> Result<i128, MigrateError> {
        let s: String = row.get(i);
        s.parse()
            .map_err(|_| MigrateError::Verify(format!("unexpected checksum {s:?}")))
    };
    Ok(TableSum {
        rows: row.get::<_, i64>(0) as u64,
        a: parse(1)?,
        b: parse(2)?,
    })
}

/// Compares and, on a difference, explains it.
pub async fn check(
    c: &Client,
    t: &TargetTable,
    schema: &str,
    source: &TableSum,
    snapshot: &Path,
    naive_offset_secs: i32,
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
    match first_difference(c, t, schema, snapshot, naive_offset_secs).await {
        Ok(Some(d)) => msg.push_str(&format!("; first differing row: {d}")),
        Ok(None) => {}
        Err(e) => msg.push_str(&format!("; could not locate the row: {e}")),
    }
    Err(MigrateError::Verify(msg))
}

/// The key columns to walk in order (primary key), if any.
fn key_columns(t: &TargetTable) -> Vec<usize> {
    t.pk.iter()
        .filter_map(|k| t.columns.iter().position(|c| &c.name == k))
        .collect()
}

async fn first_difference(
    c: &Client,
    t: &TargetTable,
    schema: &str,
    snapshot: &Path,
    naive_offset_secs: i32,
) -> Result<Option<String>, MigrateError> {
    let keys = key_columns(t);
    if keys.is_empty() {
        return Ok(Some(
            "(the table has no primary key, so no row can be named)".into(),
        ));
    }
    // Source side, in a thread: (key text, row md5) in key order.
    let (send, mut recv) = tokio::sync::mpsc::channel::<(String, [u8; 16])>(1024);
    let table = t.clone();
    let path = snapshot.to_path_buf();
    let keys2 = keys.clone();
    let reader = tokio::task::spawn_blocking(move || -> Result<(), MigrateError> {
        let conn = open_read_only(&path)?;
        let cols: Vec<String> = table
            .columns
            .iter()
            .map(|c| quote_ident(&c.source))
            .collect();
        let order: Vec<String> = keys2
            .iter()
            .map(|&k| quote_ident(&table.columns[k].source))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(", "),
            quote_ident(&table.source),
            order.join(", ")
        );
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query([])?;
        let mut h = RowHasher::default();
        while let Some(r) = rows.next()? {
            let mut key = Vec::new();
            for (i, col) in table.columns.iter().enumerate() {
                let (v, _) = convert_cell(&table, i, r.get_ref(i)?, naive_offset_secs)
                    .map_err(|p| MigrateError::Verify(p.0))?;
                if keys2.contains(&i) {
                    key.push(format!(
                        "{}={}",
                        col.name,
                        v.canonical(col.ty).unwrap_or_default()
                    ));
                }
                h.cell(&v, col.ty);
            }
            if send.blocking_send((key.join(","), h.finish())).is_err() {
                break;
            }
        }
        Ok(())
    });
    let key_sql: Vec<String> = keys
        .iter()
        .map(|&k| {
            let col = &t.columns[k];
            format!("{}::text", quote_ident(&col.name))
        })
        .collect();
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
    let sql = format!(
        "SELECT {}, {} FROM {}.{} ORDER BY {}",
        checksum::row_md5_sql(t),
        key_sql.join(", "),
        quote_ident(schema),
        quote_ident(&t.name),
        order.join(", ")
    );
    let stream = c
        .query_raw(&sql, std::iter::empty::<i32>())
        .await
        .doing(|| format!("reading {schema}.{} in key order", t.name))?;
    pin_mut!(stream);
    let mut found = None;
    loop {
        let pg = stream.next().await.transpose()?;
        let src = recv.recv().await;
        match (src, pg) {
            (None, None) => break,
            (Some((k, _)), None) => {
                found = Some(format!("{k} is missing in the target"));
                break;
            }
            (None, Some(row)) => {
                found = Some(format!("{} is only in the target", pg_key(&row, t, &keys)));
                break;
            }
            (Some((k, h)), Some(row)) => {
                let ph: String = row.get(0);
                if ph != hex16(&h) {
                    let pk = pg_key(&row, t, &keys);
                    found = Some(if pk == k {
                        format!("{k} has different contents")
                    } else {
                        format!("source row {k}, target row {pk}")
                    });
                    break;
                }
            }
        }
    }
    drop(recv);
    let _ = reader.await;
    Ok(found)
}

fn pg_key(row: &tokio_postgres::Row, t: &TargetTable, keys: &[usize]) -> String {
    keys.iter()
        .enumerate()
        .map(|(j, &k)| {
            let col = &t.columns[k];
            let v: Option<String> = row.get(j + 1);
            let v = v.unwrap_or_default();
            // Key columns are integers or text in practice; others print as PostgreSQL does.
            format!("{}={v}", col.name)
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn hex16(d: &[u8; 16]) -> String {
    super::value::hex(d)
}
