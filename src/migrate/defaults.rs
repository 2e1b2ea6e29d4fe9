//! Column DEFAULT expressions: literals are converted like values; the
//! current-time forms SQLite knows are translated; anything else is refused.

use rusqlite::types::ValueRef;

use super::numeric::Decimal;
use super::options::NaiveZone;
use super::sqltext::{self, Tok};
use super::types::PgType;
use super::value::{ColumnRule, Value, ValuePolicy};

const NOW_TEXT: &str = "to_char(CURRENT_TIMESTAMP AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')";
const EPOCH_NOW: &str = "floor(extract(epoch FROM CURRENT_TIMESTAMP))::bigint";

/// The PostgreSQL DEFAULT for a column of type `ty`, `None` for no default.
pub fn translate(expr: &str, ty: PgType, naive: &NaiveZone) -> Result<Option<String>, String> {
    let toks = sqltext::tokenize(expr)?;
    let mut toks: Vec<Tok> = toks.into_iter().filter(|t| *t != Tok::Space).collect();
    while toks.len() >= 2
        && sqltext::is_op(&toks[0], "(")
        && sqltext::matching_paren(&toks, 0) == Some(toks.len() - 1)
    {
        toks = toks[1..toks.len() - 1].to_vec();
    }
    let refuse = || format!("DEFAULT {expr} cannot be translated for a {ty} column");
    let flat: String = sqltext::render(&toks).to_ascii_lowercase();
    let now_kind = match flat.as_str() {
        "current_timestamp" | "datetime('now')" | "datetime ( 'now' )" => Some("ts"),
        "current_date" | "date('now')" => Some("date"),
        "current_time" | "time('now')" => Some("time"),
        "strftime('%s','now')" | "strftime('%s', 'now')" | "unixepoch()" | "unixepoch('now')" => {
            Some("epoch")
        }
        _ => None,
    };
    if let Some(kind) = now_kind {
        let sql = match (kind, ty) {
            ("ts" | "epoch", PgType::Timestamptz) => "CURRENT_TIMESTAMP".to_string(),
            ("ts" | "epoch", PgType::Timestamp) => {
                "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')".to_string()
            }
            ("ts", t) if t.is_text() => NOW_TEXT.to_string(),
            ("date", PgType::Date) => "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')::date".into(),
            ("date", PgType::Timestamptz) => {
                "(date_trunc('day', CURRENT_TIMESTAMP AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
                    .into()
            }
            ("date", t) if t.is_text() => {
                "to_char(CURRENT_TIMESTAMP AT TIME ZONE 'UTC', 'YYYY-MM-DD')".into()
            }
            ("time", t) if t.is_text() => {
                "to_char(CURRENT_TIMESTAMP AT TIME ZONE 'UTC', 'HH24:MI:SS')".into()
            }
            ("epoch", t) if t.is_integer() => EPOCH_NOW.to_string(),
            ("epoch", t) if t.is_text() => format!("{EPOCH_NOW}::text"),
            _ => return Err(refuse()),
        };
        return Ok(Some(sql));
    }
    // A literal: NULL, TRUE/FALSE, a (signed) number, a string or X'…'.
    let (neg, lit) = match toks.as_slice() {
        [Tok::Op(s), rest @ ..] if s == "-" || s == "+" => (s == "-", rest),
        all => (false, all),
    };
    let holder_text;
    let holder_blob;
    let value = match lit {
        [Tok::Word(w)] if w.eq_ignore_ascii_case("NULL") && !neg => return Ok(None),
        [Tok::Word(w)] if w.eq_ignore_ascii_case("TRUE") => ValueRef::Integer(1),
        [Tok::Word(w)] if w.eq_ignore_ascii_case("FALSE") => ValueRef::Integer(0),
        [Tok::Num(n)] => {
            let text = if neg { format!("-{n}") } else { n.clone() };
            if let Ok(i) = text.parse::<i64>() {
                ValueRef::Integer(i)
            } else if let Ok(f) = text.parse::<f64>() {
                if ty == PgType::Numeric {
                    let d = Decimal::parse(&text).ok_or_else(refuse)?;
                    return Ok(Some(d.to_pg_text()));
                }
                ValueRef::Real(f)
            } else {
                return Err(refuse());
            }
        }
        [Tok::Str(s)] if !neg => {
            holder_text = s[1..s.len() - 1].replace("''", "'");
            ValueRef::Text(holder_text.as_bytes())
        }
        [Tok::Word(x), Tok::Str(s)] if x.eq_ignore_ascii_case("X") && !neg => {
            holder_blob = decode_hex(&s[1..s.len() - 1]).ok_or_else(refuse)?;
            ValueRef::Blob(&holder_blob)
        }
        _ => return Err(refuse()),
    };
    let rule = ColumnRule {
        ty,
        nullable: true,
        policy: ValuePolicy::Fail,
        naive,
    };
    let v = rule
        .convert(value)
        .map_err(|p| format!("{}: {}", refuse(), p.0))?
        .0;
    Ok(Some(literal(&v, ty)))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn quote_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A converted value as a PostgreSQL literal.
pub fn literal(v: &Value<'_>, ty: PgType) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) if f.is_finite() => format!("{f:?}"),
        Value::Float(f) => quote_lit(&format!("{f}")).replace("inf", "Infinity") + "::float8",
        Value::Numeric(d) => d.to_pg_text(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Text(s) => quote_lit(s),
        Value::Bytes(b) => format!("'\\x{}'::bytea", super::value::hex(b)),
        Value::Micros(us) => {
            let t = super::datetime::format_utc(*us);
            if ty == PgType::Timestamp {
                quote_lit(t.trim_end_matches("+00"))
            } else {
                quote_lit(&t)
            }
        }
        Value::Days(d) => {
            let (y, m, dd) = super::datetime::civil_from_days(*d);
            quote_lit(&format!("{y:04}-{m:02}-{dd:02}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(e: &str, ty: PgType) -> Result<Option<String>, String> {
        translate(e, ty, &NaiveZone::Fixed(0))
    }

    #[test]
    fn current_time_forms() {
        assert_eq!(
            t("CURRENT_TIMESTAMP", PgType::Timestamptz)
                .unwrap()
                .unwrap(),
            "CURRENT_TIMESTAMP"
        );
        assert_eq!(
            t("(datetime('now'))", PgType::Timestamptz)
                .unwrap()
                .unwrap(),
            "CURRENT_TIMESTAMP"
        );
        assert_eq!(
            t("datetime('now')", PgType::Text).unwrap().unwrap(),
            NOW_TEXT
        );
        assert_eq!(
            t("(strftime('%s','now'))", PgType::Int8).unwrap().unwrap(),
            EPOCH_NOW
        );
        assert!(
            t("(random())", PgType::Int8)
                .unwrap_err()
                .contains("cannot be translated")
        );
        assert!(t("datetime('now','localtime')", PgType::Timestamptz).is_err());
    }

    #[test]
    fn literals() {
        assert_eq!(t("0", PgType::Bool).unwrap().unwrap(), "false");
        assert_eq!(t("-5", PgType::Int8).unwrap().unwrap(), "-5");
        assert_eq!(t("'it''s'", PgType::Text).unwrap().unwrap(), "'it''s'");
        assert_eq!(t("NULL", PgType::Text).unwrap(), None);
        assert_eq!(t("1.50", PgType::Numeric).unwrap().unwrap(), "1.50");
        assert_eq!(
            t("'2024-01-02T03:04:05+01:00'", PgType::Timestamptz)
                .unwrap()
                .unwrap(),
            "'2024-01-02 02:04:05+00'"
        );
        assert!(t("'abc'", PgType::Int8).is_err());
    }
}
