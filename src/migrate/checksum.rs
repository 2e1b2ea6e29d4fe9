//! The content checksum both sides compute: per row, md5 over the
//! canonical rendering of each column (`N` for NULL, `V<bytes>:<text>`
//! otherwise); per table, the row count and two sums of the digests' halves
//! read as signed 64-bit integers. PostgreSQL computes it in SQL
//! ([`table_sql`]); the SQLite side in Rust while the rows are loaded.

use md5::{Digest, Md5};

use super::sqltext::quote_ident;
use super::translate::TargetTable;
use super::types::PgType;
use super::value::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSum {
    pub rows: u64,
    pub a: i128,
    pub b: i128,
}

impl TableSum {
    pub fn add(&mut self, digest: &[u8; 16]) {
        let (x, y) = digest.split_at(8);
        self.rows += 1;
        self.a += i128::from(i64::from_be_bytes(x.try_into().expect("8 bytes")));
        self.b += i128::from(i64::from_be_bytes(y.try_into().expect("8 bytes")));
    }
}

/// Hashes one row as it goes.
#[derive(Default)]
pub struct RowHasher {
    md5: Md5,
}

impl RowHasher {
    pub fn cell(&mut self, v: &Value<'_>, ty: PgType) {
        match v.canonical(ty) {
            None => self.md5.update(b"N"),
            Some(s) => {
                self.md5.update(b"V");
                self.md5.update(s.len().to_string().as_bytes());
                self.md5.update(b":");
                self.md5.update(s.as_bytes());
            }
        }
    }

    pub fn finish(&mut self) -> [u8; 16] {
        let out = std::mem::take(&mut self.md5).finalize();
        out.into()
    }
}

/// The PostgreSQL rendering of one column, matching [`Value::canonical`].
pub fn render_sql(col: &str, ty: PgType) -> String {
    let c = quote_ident(col);
    let r = match ty {
        PgType::Float8 => format!("encode(float8send({c}), 'hex')"),
        PgType::Float4 => format!("encode(float4send({c}), 'hex')"),
        PgType::Bytea => format!("encode({c}, 'hex')"),
        PgType::Timestamptz | PgType::Timestamp => format!("extract(epoch FROM {c})::text"),
        PgType::Date => format!("({c} - date '1970-01-01')::text"),
        _ => format!("{c}::text"),
    };
    format!("CASE WHEN {c} IS NULL THEN 'N' ELSE 'V' || octet_length({r}) || ':' || {r} END")
}

/// The md5 of a row's rendering, as text, in SQL.
pub fn row_md5_sql(t: &TargetTable) -> String {
    let parts: Vec<String> = t
        .columns
        .iter()
        .map(|c| render_sql(&c.name, c.ty))
        .collect();
    format!("md5({})", parts.join(" || "))
}

/// Count and digest sums of a loaded table.
pub fn table_sql(t: &TargetTable, schema: &str) -> String {
    format!(
        "SELECT count(*), coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text, \
                coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text \
           FROM (SELECT {} AS h FROM {}.{}) d",
        row_md5_sql(t),
        quote_ident(schema),
        quote_ident(&t.name)
    )
}
