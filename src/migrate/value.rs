//! One SQLite value converted for its target column: the conversion rules
//! (and the problems that stop them), the binary COPY encoding, and the
//! canonical rendering both sides of the verification agree on.

use std::borrow::Cow;

use rusqlite::types::ValueRef;

use super::datetime;
use super::numeric::Decimal;
use super::options::NaiveZone;
use super::types::PgType;

/// What to do with a value that does not convert as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValuePolicy {
    /// Refuse the migration (the default).
    #[default]
    Fail,
    /// Write NULL instead (refused for NOT NULL columns).
    Null,
    /// Apply the documented exact conversion (text digits → number, integral
    /// real → integer, flag words → boolean, REAL epochs → timestamptz,
    /// UTF-8 BLOB → text, text → bytea, NULs stripped from text).
    Cast,
    /// Make the target column text and render every value as text.
    Text,
}

impl std::str::FromStr for ValuePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fail" => Ok(ValuePolicy::Fail),
            "null" => Ok(ValuePolicy::Null),
            "cast" => Ok(ValuePolicy::Cast),
            "text" => Ok(ValuePolicy::Text),
            other => Err(format!(
                "unknown policy {other:?} (fail, null, cast or text)"
            )),
        }
    }
}

/// How one column's values are converted.
#[derive(Debug, Clone, Copy)]
pub struct ColumnRule<'z> {
    pub ty: PgType,
    pub nullable: bool,
    pub policy: ValuePolicy,
    pub naive: &'z NaiveZone,
}

/// A converted value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Float(f64),
    Numeric(Decimal),
    Bool(bool),
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    /// µs since the unix epoch, UTC.
    Micros(i64),
    /// Days since 1970-01-01.
    Days(i64),
}

/// Why a value does not convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

fn problem<T>(msg: impl Into<String>) -> Result<T, Problem> {
    Err(Problem(msg.into()))
}

impl ColumnRule<'_> {
    /// Converts under the column's policy; `Ok` values may have been changed
    /// by a policy (the second element says how, for the report).
    pub fn convert<'a>(
        &self,
        v: ValueRef<'a>,
    ) -> Result<(Value<'a>, Option<&'static str>), Problem> {
        if let ValueRef::Null = v {
            return if self.nullable {
                Ok((Value::Null, None))
            } else {
                problem("NULL in a NOT NULL column")
            };
        }
        match self.strict(v) {
            Ok(x) => Ok((x, None)),
            Err(p) => match self.policy {
                ValuePolicy::Fail | ValuePolicy::Text => Err(p),
                ValuePolicy::Null if self.nullable => Ok((Value::Null, Some("set to NULL"))),
                ValuePolicy::Null => Err(Problem(format!(
                    "{}; policy null cannot apply to a NOT NULL column",
                    p.0
                ))),
                ValuePolicy::Cast => match self.cast(v) {
                    Some(x) => Ok((x, Some("cast"))),
                    None => Err(Problem(format!("{}; no exact cast", p.0))),
                },
            },
        }
    }

    /// The conversions that apply without any policy.
    fn strict<'a>(&self, v: ValueRef<'a>) -> Result<Value<'a>, Problem> {
        use ValueRef as V;
        match (self.ty, v) {
            (t, V::Integer(n)) if t.is_integer() => int_in_range(t, n),
            (t, V::Real(f)) if t.is_integer() => {
                problem(format!("real value {} in an integer column", fmt_f(f)))
            }
            (t, V::Text(_)) if t.is_integer() => problem("text in an integer column"),
            (PgType::Float8, V::Real(f)) => Ok(Value::Float(f)),
            (PgType::Float8, V::Integer(n)) if n.unsigned_abs() <= 1 << 53 => {
                Ok(Value::Float(n as f64))
            }
            (PgType::Float4, V::Real(f)) if f64::from(f as f32) == f || f.is_nan() => {
                Ok(Value::Float(f))
            }
            (PgType::Float4, V::Integer(n)) if n.unsigned_abs() <= 1 << 24 => {
                Ok(Value::Float(n as f64))
            }
            (PgType::Float8 | PgType::Float4, V::Integer(_)) => {
                problem("integer not exactly representable as a floating-point number")
            }
            (PgType::Float4, V::Real(_)) => problem("double not exactly representable as real"),
            (PgType::Float8 | PgType::Float4, V::Text(_)) => {
                problem("text in a floating-point column")
            }
            (PgType::Numeric, V::Integer(n)) => Ok(Value::Numeric(Decimal::from_i64(n))),
            (PgType::Numeric, V::Real(f)) => match Decimal::from_f64(f) {
                Some(d) => Ok(Value::Numeric(d)),
                None => problem("NaN or infinity in a numeric column"),
            },
            (PgType::Numeric, V::Text(t)) => {
                match std::str::from_utf8(t).ok().and_then(Decimal::parse) {
                    Some(d) => Ok(Value::Numeric(d)),
                    None => problem("text that is not a decimal number in a numeric column"),
                }
            }
            (PgType::Bool, V::Integer(0)) => Ok(Value::Bool(false)),
            (PgType::Bool, V::Integer(1)) => Ok(Value::Bool(true)),
            (PgType::Bool, V::Integer(_)) => problem("integer other than 0/1 in a boolean column"),
            (PgType::Bool, _) => problem("not 0/1 in a boolean column"),
            (PgType::Timestamptz | PgType::Timestamp, V::Text(t)) => {
                let s = std::str::from_utf8(t).map_err(|_| Problem("invalid UTF-8".into()))?;
                datetime::parse_text(s, self.naive)
                    .map(Value::Micros)
                    .map_err(Problem)
            }
            (PgType::Timestamptz | PgType::Timestamp, V::Integer(n)) => datetime::from_epoch_int(n)
                .map(Value::Micros)
                .map_err(Problem),
            (PgType::Timestamptz | PgType::Timestamp, V::Real(f)) => problem(format!(
                "real value {} in a datetime column (unix seconds or a Julian day?)",
                fmt_f(f)
            )),
            (PgType::Date, V::Text(t)) => {
                let s = std::str::from_utf8(t).map_err(|_| Problem("invalid UTF-8".into()))?;
                datetime::parse_date(s).map(Value::Days).map_err(Problem)
            }
            (PgType::Date, _) => problem("not a YYYY-MM-DD text in a date column"),
            (t, V::Text(b)) if t.is_text() => {
                let s = std::str::from_utf8(b)
                    .map_err(|e| Problem(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
                if let Some(p) = s.find('\0') {
                    return problem(format!("NUL byte at character {}", s[..p].chars().count()));
                }
                check_len(t, s)?;
                Ok(Value::Text(Cow::Borrowed(s)))
            }
            (t, V::Integer(n)) if t.is_text() => {
                let s = n.to_string();
                check_len(t, &s)?;
                Ok(Value::Text(Cow::Owned(s)))
            }
            (t, V::Real(f)) if t.is_text() => {
                let s = fmt_f(f);
                check_len(t, &s)?;
                Ok(Value::Text(Cow::Owned(s)))
            }
            (t, V::Blob(_)) if t.is_text() => problem("BLOB in a text column"),
            (PgType::Bytea, V::Blob(b)) => Ok(Value::Bytes(Cow::Borrowed(b))),
            (PgType::Bytea, _) => problem("not a BLOB in a bytea column"),
            (_, V::Blob(_)) => problem("BLOB in a non-BLOB column"),
            (_, V::Null) => Ok(Value::Null),
            (t, other) => problem(format!("{:?} value in a {t} column", other.data_type())),
        }
    }

    /// The documented exact casts of the `cast` policy.
    fn cast<'a>(&self, v: ValueRef<'a>) -> Option<Value<'a>> {
        use ValueRef as V;
        let text = |b: &'a [u8]| std::str::from_utf8(b).ok();
        match (self.ty, v) {
            (t, V::Real(f)) if t.is_integer() => (f.fract() == 0.0 && f.abs() < 9.2e18)
                .then_some(f as i64)
                .and_then(|n| int_in_range(t, n).ok()),
            (t, V::Text(b)) if t.is_integer() => text(b)?
                .parse::<i64>()
                .ok()
                .and_then(|n| int_in_range(t, n).ok()),
            (PgType::Float8, V::Text(b)) => text(b)?.parse::<f64>().ok().map(Value::Float),
            (PgType::Bool, V::Text(b)) => match text(b)?.to_ascii_lowercase().as_str() {
                "t" | "true" | "yes" | "y" | "on" | "1" => Some(Value::Bool(true)),
                "f" | "false" | "no" | "n" | "off" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            (PgType::Bool, V::Real(f)) if f == 0.0 || f == 1.0 => Some(Value::Bool(f == 1.0)),
            (PgType::Timestamptz | PgType::Timestamp, V::Real(f)) => {
                datetime::from_epoch_real(f).ok().map(Value::Micros)
            }
            // An ambiguous naive local time: the earlier of its two instants.
            (PgType::Timestamptz | PgType::Timestamp, V::Text(b)) => {
                datetime::parse_text_as(text(b)?, self.naive, true)
                    .ok()
                    .map(Value::Micros)
            }
            (t, V::Blob(b)) if t.is_text() => {
                let s = text(b)?;
                (!s.contains('\0') && check_len(t, s).is_ok())
                    .then_some(Value::Text(Cow::Borrowed(s)))
            }
            (t, V::Text(b)) if t.is_text() => {
                let s = text(b)?.replace('\0', "");
                check_len(t, &s).ok()?;
                Some(Value::Text(Cow::Owned(s)))
            }
            (PgType::Bytea, V::Text(b)) => Some(Value::Bytes(Cow::Borrowed(b))),
            _ => None,
        }
    }
}

fn int_in_range<'a>(t: PgType, n: i64) -> Result<Value<'a>, Problem> {
    let ok = match t {
        PgType::Int2 => i16::try_from(n).is_ok(),
        PgType::Int4 => i32::try_from(n).is_ok(),
        _ => true,
    };
    if ok {
        Ok(Value::Int(n))
    } else {
        problem(format!("{n} out of range for {t}"))
    }
}

fn check_len(t: PgType, s: &str) -> Result<(), Problem> {
    if let PgType::Varchar(n) = t {
        let len = s.chars().count();
        if len > n as usize {
            return problem(format!("{len} characters, longer than varchar({n})"));
        }
    }
    Ok(())
}

/// Shortest text that reads back as the same double.
pub fn fmt_f(f: f64) -> String {
    format!("{f:?}")
}

/// Renders a value of a column with the `text` policy: everything as text,
/// BLOBs as `\x` + hex. Invalid UTF-8 and NUL bytes stay problems.
pub fn render_as_text<'a>(v: ValueRef<'a>, nullable: bool) -> Result<Value<'a>, Problem> {
    match v {
        ValueRef::Null if nullable => Ok(Value::Null),
        ValueRef::Null => problem("NULL in a NOT NULL column"),
        ValueRef::Integer(n) => Ok(Value::Text(Cow::Owned(n.to_string()))),
        ValueRef::Real(f) => Ok(Value::Text(Cow::Owned(fmt_f(f)))),
        ValueRef::Text(b) => {
            let s = std::str::from_utf8(b)
                .map_err(|e| Problem(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
            if s.contains('\0') {
                return problem("NUL byte in text");
            }
            Ok(Value::Text(Cow::Borrowed(s)))
        }
        ValueRef::Blob(b) => Ok(Value::Text(Cow::Owned(format!("\\x{}", hex(b))))),
    }
}

pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

impl Value<'_> {
    /// Appends the binary COPY field (length + bytes) for a column of type `ty`.
    pub fn encode(&self, ty: PgType, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        match (self, ty) {
            (Value::Null, _) => {
                out.truncate(start);
                out.extend_from_slice(&(-1i32).to_be_bytes());
                return;
            }
            (Value::Int(n), PgType::Int2) => out.extend_from_slice(&(*n as i16).to_be_bytes()),
            (Value::Int(n), PgType::Int4) => out.extend_from_slice(&(*n as i32).to_be_bytes()),
            (Value::Int(n), _) => out.extend_from_slice(&n.to_be_bytes()),
            (Value::Float(f), PgType::Float4) => {
                out.extend_from_slice(&(*f as f32).to_bits().to_be_bytes())
            }
            (Value::Float(f), _) => out.extend_from_slice(&f.to_bits().to_be_bytes()),
            (Value::Numeric(d), _) => d.encode(out),
            (Value::Bool(b), _) => out.push(u8::from(*b)),
            (Value::Text(s), _) => out.extend_from_slice(s.as_bytes()),
            (Value::Bytes(b), _) => out.extend_from_slice(b),
            (Value::Micros(us), _) => {
                let pg = us - datetime::PG_EPOCH_DAYS * datetime::MICROS_PER_DAY;
                out.extend_from_slice(&pg.to_be_bytes())
            }
            (Value::Days(d), _) => {
                out.extend_from_slice(&((d - datetime::PG_EPOCH_DAYS) as i32).to_be_bytes())
            }
        }
        let len = (out.len() - start - 4) as i32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTC: NaiveZone = NaiveZone::Fixed(0);

    fn rule(ty: PgType, policy: ValuePolicy) -> ColumnRule<'static> {
        ColumnRule {
            ty,
            nullable: true,
            policy,
            naive: &UTC,
        }
    }

    #[test]
    fn integer_column() {
        let r = rule(PgType::Int8, ValuePolicy::Fail);
        assert_eq!(r.convert(ValueRef::Integer(5)).unwrap().0, Value::Int(5));
        let e = r.convert(ValueRef::Text(b"N/A")).unwrap_err();
        assert_eq!(e.0, "text in an integer column");
        let n = rule(PgType::Int8, ValuePolicy::Null);
        assert_eq!(
            n.convert(ValueRef::Text(b"N/A")).unwrap(),
            (Value::Null, Some("set to NULL"))
        );
        let c = rule(PgType::Int8, ValuePolicy::Cast);
        assert_eq!(c.convert(ValueRef::Text(b"42")).unwrap().0, Value::Int(42));
        assert!(c.convert(ValueRef::Real(12.5)).is_err());
        assert_eq!(c.convert(ValueRef::Real(12.0)).unwrap().0, Value::Int(12));
    }

    #[test]
    fn text_column() {
        let r = rule(PgType::Text, ValuePolicy::Fail);
        assert_eq!(
            r.convert(ValueRef::Text(b"a\0b")).unwrap_err().0,
            "NUL byte at character 1"
        );
        assert!(
            r.convert(ValueRef::Text(b"\xff"))
                .unwrap_err()
                .0
                .contains("UTF-8")
        );
        assert_eq!(
            r.convert(ValueRef::Blob(b"\x00\xff")).unwrap_err().0,
            "BLOB in a text column"
        );
        let v = r.convert(ValueRef::Real(0.1 + 0.2)).unwrap().0;
        assert_eq!(v, Value::Text("0.30000000000000004".into()));
    }
}
