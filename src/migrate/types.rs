//! Target column types and the translation policy from SQLite declared types.

use std::fmt;

/// The PostgreSQL types a migrated column can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgType {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Bool,
    Text,
    Varchar(u32),
    Bytea,
    Timestamptz,
    /// Only when loading into an existing schema: values are stored as UTC wall time.
    Timestamp,
    Date,
}

impl fmt::Display for PgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgType::Int2 => f.write_str("smallint"),
            PgType::Int4 => f.write_str("integer"),
            PgType::Int8 => f.write_str("bigint"),
            PgType::Float4 => f.write_str("real"),
            PgType::Float8 => f.write_str("double precision"),
            PgType::Numeric => f.write_str("numeric"),
            PgType::Bool => f.write_str("boolean"),
            PgType::Text => f.write_str("text"),
            PgType::Varchar(n) => write!(f, "varchar({n})"),
            PgType::Bytea => f.write_str("bytea"),
            PgType::Timestamptz => f.write_str("timestamptz"),
            PgType::Timestamp => f.write_str("timestamp"),
            PgType::Date => f.write_str("date"),
        }
    }
}

impl PgType {
    /// From `format_type()` output of an existing column.
    pub fn from_catalog(name: &str) -> Option<PgType> {
        let n = name.to_ascii_lowercase();
        Some(match n.as_str() {
            "smallint" => PgType::Int2,
            "integer" => PgType::Int4,
            "bigint" => PgType::Int8,
            "real" => PgType::Float4,
            "double precision" => PgType::Float8,
            "boolean" => PgType::Bool,
            "text" | "character varying" => PgType::Text,
            "bytea" => PgType::Bytea,
            "timestamp with time zone" => PgType::Timestamptz,
            "timestamp without time zone" => PgType::Timestamp,
            "date" => PgType::Date,
            _ if n.starts_with("numeric") => PgType::Numeric,
            _ if n.starts_with("character varying(") => {
                PgType::Varchar(n[18..n.len() - 1].parse().ok()?)
            }
            _ => return None,
        })
    }

    pub fn is_integer(self) -> bool {
        matches!(self, PgType::Int2 | PgType::Int4 | PgType::Int8)
    }

    pub fn is_text(self) -> bool {
        matches!(self, PgType::Text | PgType::Varchar(_))
    }
}

/// What a declared SQLite type becomes, and whether a `VARCHAR(n)`-style
/// length came with it (kept only if every value fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    pub ty: PgType,
    pub max_len: Option<u32>,
    /// The column has no declared type (values of any storage class are
    /// rendered as text).
    pub typeless: bool,
}

/// The documented policy (docs/migration.md), in order of precedence:
/// BOOLEAN/BOOL → boolean; DATETIME/TIMESTAMP → timestamptz; DATE → date;
/// anything containing INT → bigint; CHAR/CLOB/TEXT → text (or varchar(n)
/// when a length is given and the data fits); BLOB → bytea;
/// REAL/FLOA/DOUB → double precision; NUMERIC/DECIMAL/NUMBER/MONEY → numeric;
/// no type → text; any other name → text.
pub fn map_declared(decl: &str) -> Mapped {
    let u = decl.trim().to_ascii_uppercase();
    let base = u.split('(').next().unwrap_or("").trim();
    let plain = |ty| Mapped {
        ty,
        max_len: None,
        typeless: false,
    };
    if u.is_empty() {
        return Mapped {
            ty: PgType::Text,
            max_len: None,
            typeless: true,
        };
    }
    if base == "BOOLEAN" || base == "BOOL" {
        return plain(PgType::Bool);
    }
    if base.contains("DATETIME") || base.contains("TIMESTAMP") {
        return plain(PgType::Timestamptz);
    }
    if base == "DATE" {
        return plain(PgType::Date);
    }
    if u.contains("INT") {
        return plain(PgType::Int8);
    }
    if u.contains("CHAR") || u.contains("CLOB") || u.contains("TEXT") {
        let len = u
            .split_once('(')
            .and_then(|(_, r)| r.trim_end_matches(')').split(',').next())
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|n| *n > 0 && u.contains("CHAR"));
        return Mapped {
            ty: PgType::Text,
            max_len: len,
            typeless: false,
        };
    }
    if u.contains("BLOB") {
        return plain(PgType::Bytea);
    }
    if u.contains("REAL") || u.contains("FLOA") || u.contains("DOUB") {
        return plain(PgType::Float8);
    }
    if ["NUMERIC", "DECIMAL", "NUMBER", "MONEY"]
        .iter()
        .any(|k| base.contains(k))
    {
        return plain(PgType::Numeric);
    }
    plain(PgType::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types() {
        let t = |d: &str| map_declared(d).ty;
        assert_eq!(t("INTEGER"), PgType::Int8);
        assert_eq!(t("int(5)"), PgType::Int8);
        assert_eq!(t("REAL"), PgType::Float8);
        assert_eq!(t("DOUBLE PRECISION"), PgType::Float8);
        assert_eq!(t("NUMERIC(10,2)"), PgType::Numeric);
        assert_eq!(t("BOOLEAN"), PgType::Bool);
        assert_eq!(t("DATETIME"), PgType::Timestamptz);
        assert_eq!(t("TIMESTAMP"), PgType::Timestamptz);
        assert_eq!(t("DATE"), PgType::Date);
        assert_eq!(t("BLOB"), PgType::Bytea);
        assert_eq!(t("STRING"), PgType::Text);
        assert!(map_declared("").typeless);
        assert_eq!(map_declared("VARCHAR(5)").max_len, Some(5));
        assert_eq!(map_declared("TEXT").max_len, None);
        assert_eq!(
            PgType::from_catalog("character varying(12)"),
            Some(PgType::Varchar(12))
        );
    }
}
