//! Reads the schema of an SQLite database: tables (PRAGMA table_list,
//! table_xinfo, foreign_key_list, index_list/index_info), explicit indexes,
//! views, triggers and `sqlite_sequence`.

use rusqlite::{Connection, OptionalExtension};

use super::error::MigrateError;
use super::sqltext::{self, CheckClause};

#[derive(Debug, Clone)]
pub struct SourceColumn {
    pub name: String,
    pub decl_type: String,
    pub notnull: bool,
    pub default: Option<String>,
    /// 1-based position in the primary key, 0 when not part of it.
    pub pk: i64,
    /// Generated (virtual or stored) column.
    pub generated: bool,
}

#[derive(Debug, Clone)]
pub struct SourceFk {
    pub parent: String,
    pub from: Vec<String>,
    /// Empty when the parent's primary key is meant.
    pub to: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
}

#[derive(Debug, Clone)]
pub struct SourceTable {
    pub name: String,
    pub sql: String,
    pub without_rowid: bool,
    pub columns: Vec<SourceColumn>,
    /// Primary key columns in key order.
    pub pk: Vec<String>,
    /// The `INTEGER PRIMARY KEY` column that aliases the rowid.
    pub rowid_alias: Option<String>,
    pub autoincrement: bool,
    /// `sqlite_sequence.seq` for AUTOINCREMENT tables.
    pub sequence: Option<i64>,
    pub fks: Vec<SourceFk>,
    /// UNIQUE constraints (from their automatic indexes), columns in order.
    pub uniques: Vec<Vec<String>>,
    /// CREATE INDEX statements written by the user.
    pub indexes: Vec<(String, String)>,
    pub checks: Vec<CheckClause>,
    pub rows: i64,
}

#[derive(Debug, Clone, Default)]
pub struct SourceSchema {
    pub tables: Vec<SourceTable>,
    /// (name, why it is not migrated)
    pub skipped: Vec<(String, String)>,
    pub views: Vec<(String, String)>,
    /// (name, table, sql)
    pub triggers: Vec<(String, String, String)>,
}

impl SourceSchema {
    pub fn table(&self, name: &str) -> Option<&SourceTable> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

fn q(name: &str) -> String {
    sqltext::quote_ident(name)
}

pub fn read(conn: &Connection) -> Result<SourceSchema, MigrateError> {
    let mut schema = SourceSchema::default();
    let mut list: Vec<(String, String, bool)> = Vec::new();
    {
        let mut st = conn.prepare(
            "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? != 0,
            ))
        })?;
        for r in rows {
            let (name, kind, wr) = r?;
            list.push((name, kind, wr));
        }
    }
    let sql_of = |name: &str| -> Result<Option<String>, MigrateError> {
        Ok(conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = ?1 AND type IN ('table', 'view')",
                [name],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    };
    let has_sequence = list.iter().any(|(n, _, _)| n == "sqlite_sequence");
    for (name, kind, without_rowid) in list {
        if name == "sqlite_schema" || name == "sqlite_temp_schema" {
            continue;
        }
        if name.starts_with("sqlite_") {
            schema.skipped.push((name, "SQLite internal table".into()));
            continue;
        }
        match kind.as_str() {
            "view" => {
                let sql = sql_of(&name)?.unwrap_or_default();
                schema.views.push((name, sql));
                continue;
            }
            "virtual" => {
                let sql = sql_of(&name)?.unwrap_or_default();
                schema
                    .skipped
                    .push((name, format!("virtual table ({})", sql.trim())));
                continue;
            }
            "shadow" => {
                schema
                    .skipped
                    .push((name, "shadow table of a virtual table".into()));
                continue;
            }
            _ => {}
        }
        let sql = sql_of(&name)?.unwrap_or_default();
        let t = read_table(conn, &name, sql, without_rowid, has_sequence)?;
        schema.tables.push(t);
    }
    let mut st = conn.prepare(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        ))
    })?;
    for r in rows {
        schema.triggers.push(r?);
    }
    Ok(schema)
}

fn read_table(
    conn: &Connection,
    name: &str,
    sql: String,
    without_rowid: bool,
    has_sequence: bool,
) -> Result<SourceTable, MigrateError> {
    let mut columns = Vec::new();
    {
        let mut st = conn.prepare("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")?;
        let rows = st.query_map([name], |r| {
            Ok(SourceColumn {
                name: r.get(0)?,
                decl_type: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                notnull: r.get::<_, i64>(2)? != 0,
                default: r.get(3)?,
                pk: r.get(4)?,
                generated: matches!(r.get::<_, i64>(5)?, 2 | 3),
            })
        })?;
        for c in rows {
            let c = c?;
            columns.push(c);
        }
    }
    let mut pk: Vec<&SourceColumn> = columns.iter().filter(|c| c.pk > 0).collect();
    pk.sort_by_key(|c| c.pk);
    let pk: Vec<String> = pk.iter().map(|c| c.name.clone()).collect();
    let rowid_alias = (!without_rowid && pk.len() == 1)
        .then(|| columns.iter().find(|c| c.name == pk[0]))
        .flatten()
        .filter(|c| c.decl_type.eq_ignore_ascii_case("INTEGER"))
        .map(|c| c.name.clone());
    let sequence = if has_sequence {
        conn.query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
    } else {
        None
    };
    let autoincrement = sequence.is_some()
        || sqltext::tokenize(&sql)
            .map(|t| t.iter().any(|t| sqltext::is_word(t, "AUTOINCREMENT")))
            .unwrap_or(false);

    let mut fks: Vec<(i64, SourceFk)> = Vec::new();
    {
        let mut st = conn.prepare("SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?;
        let mut rows = st.query([name])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let to: Option<String> = r.get(3)?;
            if fks.last().is_none_or(|(i, _)| *i != id) {
                fks.push((
                    id,
                    SourceFk {
                        parent: r.get(1)?,
                        from: Vec::new(),
                        to: Vec::new(),
                        on_update: r.get(4)?,
                        on_delete: r.get(5)?,
                    },
                ));
            }
            let fk = &mut fks.last_mut().expect("pushed").1;
            fk.from.push(r.get(2)?);
            if let Some(to) = to {
                fk.to.push(to);
            }
        }
    }
    // PRAGMA foreign_key_list numbers constraints from the last one declared.
    fks.reverse();

    let mut uniques = Vec::new();
    {
        let mut st =
            conn.prepare("SELECT name, origin FROM pragma_index_list(?1) ORDER BY seq DESC")?;
        let list: Vec<(String, String)> = st
            .query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (index, origin) in list {
            if origin != "u" {
                continue;
            }
            let mut st = conn.prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?;
            let cols: Vec<String> = st
                .query_map([&index], |r| r.get::<_, Option<String>>(0))?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect();
            uniques.push(cols);
        }
    }
    let mut indexes = Vec::new();
    {
        let mut st = conn.prepare(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL ORDER BY name",
        )?;
        let rows = st.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for r in rows {
            indexes.push(r?);
        }
    }
    let checks = sqltext::checks_of_create_table(&sql)
        .map_err(|e| MigrateError::Schema(format!("table {name}: {e}")))?;
    let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {}", q(name)), [], |r| {
        r.get(0)
    })?;
    Ok(SourceTable {
        name: name.to_string(),
        sql,
        without_rowid,
        columns,
        pk,
        rowid_alias,
        autoincrement,
        sequence,
        fks: fks.into_iter().map(|(_, f)| f).collect(),
        uniques,
        indexes,
        checks,
        rows,
    })
}
