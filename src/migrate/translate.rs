//! SQLite schema → PostgreSQL tables under the documented policy
//! (docs/migration.md): column types and defaults, identity for rowid keys,
//! constraints and indexes to build after the load, and a load order that
//! puts parents before children.

use super::defaults;
use super::options::{NaiveZone, Options};
use super::source::{SourceSchema, SourceTable};
use super::sqltext::{self, Tok, quote_ident};
use super::types::{PgType, map_declared};
use super::value::{ColumnRule, ValuePolicy};

#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub source: String,
    pub name: String,
    pub ty: PgType,
    /// A VARCHAR(n)/CHAR(n) length: the column becomes varchar(n) if all values fit.
    pub max_len: Option<u32>,
    pub nullable: bool,
    pub default: Option<String>,
    pub identity: bool,
    pub policy: ValuePolicy,
    /// Render every value as text (the `text` policy or a typeless column).
    pub as_text: bool,
}

impl TargetColumn {
    pub fn rule<'z>(&self, naive: &'z NaiveZone) -> ColumnRule<'z> {
        ColumnRule {
            ty: self.ty,
            nullable: self.nullable,
            policy: self.policy,
            naive,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TargetFk {
    pub name: String,
    pub columns: Vec<String>,
    pub parent: String,
    pub parent_columns: Vec<String>,
    pub on_update: String,
    pub on_delete: String,
}

#[derive(Debug, Clone)]
pub struct TargetTable {
    pub source: String,
    pub name: String,
    pub columns: Vec<TargetColumn>,
    pub pk: Vec<String>,
    /// Source column names to read the table in key order (empty: rowid order).
    pub source_order: Vec<String>,
    pub without_rowid: bool,
    pub uniques: Vec<(String, Vec<String>)>,
    pub checks: Vec<(String, String)>,
    pub indexes: Vec<(String, String)>,
    pub fks: Vec<TargetFk>,
    /// Identity column and `sqlite_sequence.seq`, for setval after the load.
    pub identity: Option<(String, Option<i64>)>,
    pub rows: i64,
}

/// Translation result: tables in load order and what was left out.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    pub tables: Vec<TargetTable>,
    /// Things a person has to look at (not translated, or translated with a change).
    pub notes: Vec<String>,
}

pub fn translate(src: &SourceSchema, opts: &Options) -> Result<Translation, String> {
    let mut out = Translation::default();
    let mut errors = Vec::new();
    // Name collisions after case folding.
    let mut seen: Vec<String> = Vec::new();
    for t in &src.tables {
        let n = opts.target_name(&t.name);
        if seen.contains(&n) {
            errors.push(format!(
                "two tables become {n:?} after lower-casing; use --identifiers preserve"
            ));
        }
        seen.push(n);
    }
    for t in &src.tables {
        match table(t, src, opts, &mut out.notes) {
            Ok(tt) => out.tables.push(tt),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    out.tables = fk_order(out.tables);
    Ok(out)
}

fn table(
    t: &SourceTable,
    src: &SourceSchema,
    opts: &Options,
    notes: &mut Vec<String>,
) -> Result<TargetTable, Vec<String>> {
    let mut errors = Vec::new();
    let tname = opts.target_name(&t.name);
    let mut columns = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for c in &t.columns {
        if c.generated {
            notes.push(format!(
                "{}.{}: generated column, copied as a plain column with its current values",
                t.name, c.name
            ));
        }
        let name = opts.target_name(&c.name);
        if names.contains(&name) {
            errors.push(format!(
                "{}: two columns become {name:?} after lower-casing",
                t.name
            ));
        }
        names.push(name.clone());
        let mapped = map_declared(&c.decl_type);
        let mut ty = mapped.ty;
        if opts.is_bool_column(&t.name, &c.name) {
            if ty != PgType::Int8 {
                errors.push(format!(
                    "{}.{}: --boolean applies to INTEGER columns, this one is declared {:?}",
                    t.name, c.name, c.decl_type
                ));
            }
            ty = PgType::Bool;
        }
        let policy = opts.policy(&t.name, &c.name);
        let identity = t.rowid_alias.as_deref() == Some(c.name.as_str());
        let as_text = policy == ValuePolicy::Text || mapped.typeless;
        if policy == ValuePolicy::Text {
            ty = PgType::Text;
        }
        let nullable = !(c.notnull || c.pk > 0);
        let default = match &c.default {
            None => None,
            Some(d) => match defaults::translate(d, ty, &opts.naive_zone) {
                Ok(v) => v,
                Err(e) => {
                    errors.push(format!("{}.{}: {e}", t.name, c.name));
                    None
                }
            },
        };
        columns.push(TargetColumn {
            source: c.name.clone(),
            name,
            ty,
            max_len: mapped.max_len.filter(|_| policy != ValuePolicy::Text),
            nullable,
            default,
            identity,
            policy,
            as_text,
        });
    }
    let col_name = |source: &str| -> Option<String> {
        t.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(source))
            .map(|c| opts.target_name(&c.name))
    };
    let pk: Vec<String> = t.pk.iter().filter_map(|c| col_name(c)).collect();
    let bools: Vec<String> = columns
        .iter()
        .filter(|c| c.ty == PgType::Bool)
        .map(|c| c.source.clone())
        .collect();
    let rewrite = |toks: &[Tok]| rewrite_expr(toks, t, opts, &bools);

    let mut used: Vec<String> = vec![pg_name(&format!("{tname}_pkey"), &mut Vec::new())];
    let mut uniques = Vec::new();
    for u in &t.uniques {
        let cols: Vec<String> = u.iter().filter_map(|c| col_name(c)).collect();
        let base = format!("{tname}_{}_key", cols.join("_"));
        uniques.push((pg_name(&base, &mut used), cols));
    }
    let mut checks = Vec::new();
    for c in &t.checks {
        if is_flag_check(&c.expr, &bools) {
            notes.push(format!(
                "{}: CHECK ({}) dropped: the column is boolean now",
                t.name,
                sqltext::render(&c.expr)
            ));
            continue;
        }
        match rewrite(&c.expr) {
            Ok(sql) => {
                let name = c
                    .name
                    .as_deref()
                    .map(|n| opts.target_name(n))
                    .unwrap_or_else(|| pg_name(&format!("{tname}_check"), &mut used));
                checks.push((name, sql));
            }
            Err(e) => errors.push(format!(
                "{}: CHECK ({}): {e}",
                t.name,
                sqltext::render(&c.expr)
            )),
        }
    }
    let mut indexes = Vec::new();
    for (iname, sql) in &t.indexes {
        match index_sql(sql, t, opts, &bools) {
            Ok(s) => indexes.push((opts.target_name(iname), s)),
            Err(e) => notes.push(format!("index {iname} on {}: not created: {e}", t.name)),
        }
    }
    let mut fks = Vec::new();
    for fk in &t.fks {
        let Some(parent) = src.table(&fk.parent) else {
            errors.push(format!(
                "{}: FOREIGN KEY references {:?}, which is not a migrated table",
                t.name, fk.parent
            ));
            continue;
        };
        let parent_cols: Vec<String> = if fk.to.is_empty() {
            parent.pk.clone()
        } else {
            fk.to.clone()
        };
        let pcol = |c: &String| -> Option<String> {
            parent
                .columns
                .iter()
                .find(|x| x.name.eq_ignore_ascii_case(c))
                .map(|x| opts.target_name(&x.name))
        };
        let cols: Vec<String> = fk.from.iter().filter_map(|c| col_name(c)).collect();
        let pcols: Vec<String> = parent_cols.iter().filter_map(pcol).collect();
        if cols.len() != fk.from.len() || pcols.len() != cols.len() {
            errors.push(format!(
                "{}: FOREIGN KEY ({}) REFERENCES {}: columns do not match",
                t.name,
                fk.from.join(", "),
                fk.parent
            ));
            continue;
        }
        fks.push(TargetFk {
            name: pg_name(&format!("{tname}_{}_fkey", cols.join("_")), &mut used),
            columns: cols,
            parent: opts.target_name(&parent.name),
            parent_columns: pcols,
            on_update: fk.on_update.clone(),
            on_delete: fk.on_delete.clone(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let source_order = if t.without_rowid {
        t.pk.clone()
    } else {
        Vec::new()
    };
    let identity = t
        .rowid_alias
        .as_ref()
        .and_then(|c| col_name(c))
        .map(|c| (c, t.sequence));
    Ok(TargetTable {
        source: t.name.clone(),
        name: tname,
        columns,
        pk,
        source_order,
        without_rowid: t.without_rowid,
        uniques,
        checks,
        indexes,
        fks,
        identity,
        rows: t.rows,
    })
}

/// A constraint name of at most 63 bytes (PostgreSQL's limit), numbered
/// like PostgreSQL's own (`t_check`, `t_check1`, …) when already `used`.
fn pg_name(base: &str, used: &mut Vec<String>) -> String {
    let cut = |s: String| {
        let mut n = s.len().min(63);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut name = cut(base.to_string());
    let mut i = 1;
    while used.contains(&name) {
        name = cut(format!("{base}{i}"));
        i += 1;
    }
    used.push(name.clone());
    name
}

/// `flag IN (0, 1)` on a column that became boolean.
fn is_flag_check(expr: &[Tok], bools: &[String]) -> bool {
    let t: Vec<&Tok> = expr.iter().filter(|t| **t != Tok::Space).collect();
    match t.as_slice() {
        [c, kw, open, a, comma, b, close] => {
            sqltext::name_of(c).is_some_and(|n| bools.iter().any(|x| x.eq_ignore_ascii_case(n)))
                && sqltext::is_word(kw, "IN")
                && sqltext::is_op(open, "(")
                && sqltext::is_op(comma, ",")
                && sqltext::is_op(close, ")")
                && matches!((a, b), (Tok::Num(x), Tok::Num(y)) if (x == "0" && y == "1") || (x == "1" && y == "0"))
        }
        _ => false,
    }
}

/// Re-emits an SQLite expression for PostgreSQL: column names renamed and
/// quoted, `==` as `=`, 0/1 compared with a boolean column as false/true.
/// Refuses what PostgreSQL would read differently (COLLATE, GLOB, `"x"`
/// string literals).
fn rewrite_expr(
    toks: &[Tok],
    t: &SourceTable,
    opts: &Options,
    bools: &[String],
) -> Result<String, String> {
    let col = |n: &str| {
        t.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(n))
            .map(|c| quote_ident(&opts.target_name(&c.name)))
    };
    let is_bool = |n: &str| bools.iter().any(|b| b.eq_ignore_ascii_case(n));
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut last_bool_cmp = false;
    let mut prev_bool_col = false;
    for (i, tok) in toks.iter().enumerate() {
        let next_is_paren = toks[i + 1..]
            .iter()
            .find(|t| **t != Tok::Space)
            .is_some_and(|t| sqltext::is_op(t, "("));
        match tok {
            Tok::Word(w) if !next_is_paren && col(w).is_some() => {
                prev_bool_col = is_bool(w);
                out.push(Tok::Op(col(w).expect("checked")));
                continue;
            }
            Tok::Ident(w) => match col(w) {
                Some(q) => {
                    prev_bool_col = is_bool(w);
                    out.push(Tok::Op(q));
                    continue;
                }
                None => return Err(format!("{w:?} is not a column (a double-quoted string?)")),
            },
            Tok::Word(w)
                if ["COLLATE", "GLOB", "REGEXP", "MATCH"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                return Err(format!("{w} has no PostgreSQL equivalent here"));
            }
            Tok::Op(o) if o == "==" => {
                last_bool_cmp = prev_bool_col;
                out.push(Tok::Op("=".into()));
                continue;
            }
            Tok::Op(o) if ["=", "!=", "<>"].contains(&o.as_str()) => {
                last_bool_cmp = prev_bool_col;
                out.push(tok.clone());
                continue;
            }
            Tok::Num(n) if last_bool_cmp && (n == "0" || n == "1") => {
                out.push(Tok::Word(if n == "1" { "true" } else { "false" }.into()));
                last_bool_cmp = false;
                continue;
            }
            Tok::Space => {
                out.push(Tok::Space);
                continue;
            }
            _ => {}
        }
        prev_bool_col = false;
        last_bool_cmp = false;
        out.push(tok.clone());
    }
    Ok(sqltext::render(&sqltext::trim(&out)))
}

fn index_sql(
    sql: &str,
    t: &SourceTable,
    opts: &Options,
    bools: &[String],
) -> Result<String, String> {
    let ix = sqltext::parse_create_index(sql)?;
    if !ix.table.eq_ignore_ascii_case(&t.name) {
        return Err(format!("the statement names table {:?}", ix.table));
    }
    let mut items = Vec::new();
    for item in &ix.items {
        // A trailing ASC/DESC is kept as is.
        items.push(rewrite_expr(item, t, opts, bools)?);
    }
    let mut s = format!(
        "CREATE {}INDEX {} ON {}.{} ({})",
        if ix.unique { "UNIQUE " } else { "" },
        quote_ident(&opts.target_name(&ix.name)),
        quote_ident(&opts.schema),
        quote_ident(&opts.target_name(&t.name)),
        items.join(", ")
    );
    if let Some(w) = &ix.where_ {
        s.push_str(" WHERE ");
        s.push_str(&rewrite_expr(w, t, opts, bools)?);
    }
    Ok(s)
}

/// Parents before children (FKs between migrated tables), otherwise by name;
/// cycles keep their input order.
fn fk_order(tables: Vec<TargetTable>) -> Vec<TargetTable> {
    let mut left = tables;
    let mut out: Vec<TargetTable> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let pos = left
            .iter()
            .position(|t| {
                t.fks.iter().all(|f| {
                    f.parent == t.name
                        || out.iter().any(|o| o.name == f.parent)
                        || !left.iter().any(|l| l.name == f.parent)
                })
            })
            .unwrap_or(0);
        out.push(left.remove(pos));
    }
    out
}

/// The CREATE TABLE statement (no keys or constraints: they come after the load).
pub fn create_table_sql(t: &TargetTable, schema: &str) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let mut s = format!("    {} {}", quote_ident(&c.name), c.ty);
            if c.identity {
                s.push_str(" GENERATED BY DEFAULT AS IDENTITY");
            }
            if !c.nullable && !c.identity {
                s.push_str(" NOT NULL");
            }
            if let Some(d) = &c.default {
                s.push_str(&format!(" DEFAULT {d}"));
            }
            s
        })
        .collect();
    format!(
        "CREATE TABLE {}.{} (\n{}\n)",
        quote_ident(schema),
        quote_ident(&t.name),
        cols.join(",\n")
    )
}

fn qcols(cols: &[String]) -> String {
    cols.iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keys, UNIQUE and CHECK constraints, and indexes: built after the load.
pub fn post_load_sql(t: &TargetTable, schema: &str) -> Vec<String> {
    let tq = format!("{}.{}", quote_ident(schema), quote_ident(&t.name));
    let mut v = Vec::new();
    if !t.pk.is_empty() {
        v.push(format!(
            "ALTER TABLE {tq} ADD CONSTRAINT {} PRIMARY KEY ({})",
            quote_ident(&pg_name(&format!("{}_pkey", t.name), &mut Vec::new())),
            qcols(&t.pk)
        ));
    }
    for (name, cols) in &t.uniques {
        v.push(format!(
            "ALTER TABLE {tq} ADD CONSTRAINT {} UNIQUE ({})",
            quote_ident(name),
            qcols(cols)
        ));
    }
    for (name, expr) in &t.checks {
        v.push(format!(
            "ALTER TABLE {tq} ADD CONSTRAINT {} CHECK ({expr})",
            quote_ident(name)
        ));
    }
    for (_, sql) in &t.indexes {
        v.push(sql.clone());
    }
    v
}

/// FOREIGN KEY constraints: after every table is loaded and keyed.
pub fn fk_sql(t: &TargetTable, schema: &str) -> Vec<String> {
    t.fks
        .iter()
        .map(|f| {
            let mut s = format!(
                "ALTER TABLE {}.{} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}.{} ({})",
                quote_ident(schema),
                quote_ident(&t.name),
                quote_ident(&f.name),
                qcols(&f.columns),
                quote_ident(schema),
                quote_ident(&f.parent),
                qcols(&f.parent_columns)
            );
            for (what, action) in [("UPDATE", &f.on_update), ("DELETE", &f.on_delete)] {
                if action != "NO ACTION" && !action.is_empty() {
                    s.push_str(&format!(" ON {what} {action}"));
                }
            }
            s
        })
        .collect()
}

/// Each FOREIGN KEY as `ADD … NOT VALID` and the `VALIDATE CONSTRAINT` that follows.
pub fn fk_sql_parts(t: &TargetTable, schema: &str) -> Vec<(String, String)> {
    fk_sql(t, schema)
        .into_iter()
        .zip(&t.fks)
        .map(|(add, f)| {
            (
                format!("{add} NOT VALID"),
                format!(
                    "ALTER TABLE {}.{} VALIDATE CONSTRAINT {}",
                    quote_ident(schema),
                    quote_ident(&t.name),
                    quote_ident(&f.name)
                ),
            )
        })
        .collect()
}

/// Sets the identity sequence to greatest(max(id), sqlite_sequence.seq).
pub fn sequence_sql(t: &TargetTable, schema: &str) -> Option<String> {
    let (col, seq) = t.identity.as_ref()?;
    let tq = format!("{}.{}", quote_ident(schema), quote_ident(&t.name));
    let seq = seq.unwrap_or(0);
    Some(format!(
        "SELECT setval(pg_get_serial_sequence({}, {}), greatest(m.v, 1), m.v > 0) \
         FROM (SELECT greatest(coalesce(max({}), 0), {seq}) AS v FROM {tq}) m",
        quote_lit(&tq),
        quote_lit(col),
        quote_ident(col),
    ))
}

fn quote_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
