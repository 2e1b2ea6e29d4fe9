//! Before anything is written: PRAGMA integrity_check and foreign_key_check,
//! then every value of every column through the same conversion the load
//! uses. Each finding names the table, column, row and value.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::error::MigrateError;
use super::options::NaiveZone;
use super::snapshot::open_read_only;
use super::sqltext::quote_ident;
use super::translate::{TargetTable, Translation};
use super::value::{self, Value};

/// Findings kept per column; the rest are counted.
const KEEP_PER_COLUMN: usize = 10;

#[derive(Debug, Clone)]
pub struct Finding {
    pub table: String,
    pub column: String,
    /// `rowid 17` or `id=17` (WITHOUT ROWID tables).
    pub row: String,
    pub value: String,
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{} {}: {} ({})",
            self.table, self.column, self.row, self.problem, self.value
        )
    }
}

/// Per column: storage classes seen, findings, values changed by a policy.
#[derive(Debug, Clone, Default)]
pub struct ColumnScan {
    pub classes: BTreeMap<&'static str, u64>,
    pub problems: u64,
    pub changed: BTreeMap<&'static str, u64>,
    pub max_chars: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Database-level problems (integrity, foreign keys).
    pub database: Vec<Finding>,
    pub findings: Vec<Finding>,
    /// Findings not listed (over the per-column limit).
    pub more: u64,
    /// `(table, column)` → scan.
    pub columns: BTreeMap<(String, String), ColumnScan>,
}

impl Report {
    pub fn blocking(&self) -> u64 {
        self.database.len() as u64 + self.findings.len() as u64 + self.more
    }
}

/// The database checks on one connection while `jobs` threads scan the
/// tables, each on a connection of its own to `snapshot`.
pub fn run(
    snapshot: &Path,
    tr: &Translation,
    naive: &NaiveZone,
    jobs: usize,
    full_integrity_check: bool,
) -> Result<Report, MigrateError> {
    let next = AtomicUsize::new(0);
    let parts: Mutex<Vec<Option<Report>>> = Mutex::new(vec![None; tr.tables.len()]);
    let mut rep = std::thread::scope(|s| -> Result<Report, MigrateError> {
        // The two whole-database checks run beside each other and beside the
        // table scans: each is a single statement that no thread can split.
        let checked = s.spawn(|| -> Result<Report, MigrateError> {
            let conn = open_read_only(snapshot)?;
            let mut rep = Report::default();
            integrity(&conn, full_integrity_check, &mut rep)?;
            Ok(rep)
        });
        let fks = s.spawn(|| -> Result<Report, MigrateError> {
            let conn = open_read_only(snapshot)?;
            // Parent lookups jump around the file: a larger page cache saves
            // most of their reads (memory stays well under the 100 MB bound).
            conn.execute_batch("PRAGMA cache_size = -32768")?;
            let mut rep = Report::default();
            foreign_keys(&conn, &mut rep)?;
            Ok(rep)
        });
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                s.spawn(|| -> Result<(), MigrateError> {
                    let conn = open_read_only(snapshot)?;
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(t) = tr.tables.get(i) else {
                            return Ok(());
                        };
                        let mut part = Report::default();
                        scan_table(&conn, t, naive, &mut part)?;
                        parts.lock().expect("preflight parts")[i] = Some(part);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("preflight thread")?;
        }
        let mut rep = checked.join().expect("preflight thread")?;
        let fk = fks.join().expect("preflight thread")?;
        rep.database.extend(fk.database);
        rep.findings.extend(fk.findings);
        rep.more += fk.more;
        Ok(rep)
    })?;
    for part in parts
        .into_inner()
        .expect("preflight parts")
        .into_iter()
        .flatten()
    {
        rep.findings.extend(part.findings);
        rep.more += part.more;
        rep.columns.extend(part.columns);
    }
    Ok(rep)
}

fn integrity(conn: &Connection, full: bool, rep: &mut Report) -> Result<(), MigrateError> {
    let pragma = if full {
        "integrity_check"
    } else {
        "quick_check"
    };
    let mut st = conn.prepare(&format!("PRAGMA {pragma}"))?;
    let msgs: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    for m in msgs.into_iter().filter(|m| m != "ok") {
        rep.database.push(Finding {
            table: "(database)".into(),
            column: "-".into(),
            row: "-".into(),
            value: "-".into(),
            problem: format!("{pragma}: {m}"),
        });
    }
    Ok(())
}

fn foreign_keys(conn: &Connection, rep: &mut Report) -> Result<(), MigrateError> {
    let mut st = conn.prepare("PRAGMA foreign_key_check")?;
    let rows: Vec<(String, Option<i64>, String, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut per_table: BTreeMap<String, usize> = BTreeMap::new();
    for (table, rowid, parent, fkid) in rows {
        let n = per_table.entry(table.clone()).or_default();
        *n += 1;
        if *n > KEEP_PER_COLUMN {
            rep.more += 1;
            continue;
        }
        // fkid counts from the last declared constraint.
        let cols: Vec<String> = {
            let mut st = conn.prepare(
                "SELECT \"from\" FROM pragma_foreign_key_list(?1) WHERE id = ?2 ORDER BY seq",
            )?;
            st.query_map(rusqlite::params![table, fkid], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let value = match rowid {
            Some(id) if !cols.is_empty() => {
                let sel: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
                conn.query_row(
                    &format!(
                        "SELECT {} FROM {} WHERE rowid = ?1",
                        sel.join(", "),
                        quote_ident(&table)
                    ),
                    [id],
                    |r| {
                        let mut parts = Vec::new();
                        for i in 0..cols.len() {
                            parts.push(show(r.get_ref(i)?));
                        }
                        Ok(parts.join(", "))
                    },
                )
                .unwrap_or_else(|_| "?".into())
            }
            _ => "?".into(),
        };
        rep.database.push(Finding {
            table: table.clone(),
            column: cols.join(", "),
            row: rowid.map_or("(no rowid)".into(), |r| format!("rowid {r}")),
            value,
            problem: format!("foreign key violation: no matching row in {parent}"),
        });
    }
    Ok(())
}

/// `SELECT [rowid,] cols FROM t ORDER BY …` in the order the load reads.
pub fn select_sql(t: &TargetTable) -> String {
    let cols: Vec<String> = t.columns.iter().map(|c| quote_ident(&c.source)).collect();
    if t.without_rowid {
        let order: Vec<String> = t.source_order.iter().map(|c| quote_ident(c)).collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            cols.join(", "),
            quote_ident(&t.source),
            order.join(", ")
        )
    } else {
        format!(
            "SELECT _rowid_, {} FROM {} ORDER BY _rowid_",
            cols.join(", "),
            quote_ident(&t.source)
        )
    }
}

/// Converts one value of column `i` of `t` exactly as the load does.
pub fn convert_cell<'a>(
    t: &TargetTable,
    i: usize,
    v: ValueRef<'a>,
    naive: &NaiveZone,
) -> Result<(Value<'a>, Option<&'static str>), value::Problem> {
    let c = &t.columns[i];
    if c.as_text {
        return value::render_as_text(v, c.nullable).map(|x| (x, None));
    }
    c.rule(naive).convert(v)
}

fn scan_table(
    conn: &Connection,
    t: &TargetTable,
    naive: &NaiveZone,
    rep: &mut Report,
) -> Result<(), MigrateError> {
    let mut st = conn.prepare(&select_sql(t))?;
    let mut rows = st.query([])?;
    let off = usize::from(!t.without_rowid);
    let mut scans: Vec<ColumnScan> = vec![ColumnScan::default(); t.columns.len()];
    while let Some(r) = rows.next()? {
        for (i, scan) in scans.iter_mut().enumerate() {
            let v = r.get_ref(i + off)?;
            *scan.classes.entry(class(v)).or_default() += 1;
            if let ValueRef::Text(b) = v
                && t.columns[i].max_len.is_some()
            {
                let n = std::str::from_utf8(b).map_or(b.len(), |s| s.chars().count());
                scan.max_chars = scan.max_chars.max(n);
            }
            match convert_cell(t, i, v, naive) {
                Ok((_, None)) => {}
                Ok((_, Some(how))) => *scan.changed.entry(how).or_default() += 1,
                Err(p) => {
                    scan.problems += 1;
                    if scan.problems as usize > KEEP_PER_COLUMN {
                        rep.more += 1;
                        continue;
                    }
                    rep.findings.push(Finding {
                        table: t.source.clone(),
                        column: t.columns[i].source.clone(),
                        row: row_label(t, r)?,
                        value: show(v),
                        problem: p.0,
                    });
                }
            }
        }
    }
    for (i, s) in scans.into_iter().enumerate() {
        rep.columns
            .insert((t.source.clone(), t.columns[i].source.clone()), s);
    }
    Ok(())
}

fn row_label(t: &TargetTable, r: &rusqlite::Row<'_>) -> Result<String, MigrateError> {
    if !t.without_rowid {
        return Ok(format!("rowid {}", r.get::<_, i64>(0)?));
    }
    let mut parts = Vec::new();
    for k in &t.source_order {
        if let Some(i) = t.columns.iter().position(|c| &c.source == k) {
            parts.push(format!("{k}={}", show(r.get_ref(i)?)));
        }
    }
    Ok(parts.join(","))
}

pub fn class(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "null",
        ValueRef::Integer(_) => "integer",
        ValueRef::Real(_) => "real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "blob",
    }
}

/// A value for messages: text quoted with escapes, BLOBs as x'…', cut at 60.
pub fn show(v: ValueRef<'_>) -> String {
    let s = match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(f) => value::fmt_f(f),
        ValueRef::Text(b) => match std::str::from_utf8(b) {
            Ok(s) => format!("{s:?}"),
            Err(_) => format!("text bytes x'{}'", value::hex(b)),
        },
        ValueRef::Blob(b) => format!("x'{}'", value::hex(b)),
    };
    if s.chars().count() > 60 {
        let mut c: String = s.chars().take(57).collect();
        c.push('…');
        c
    } else {
        s
    }
}
