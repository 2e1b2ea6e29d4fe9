//! What a migration run may be told: naming, per-column policies, boolean
//! flags, the zone of naive datetimes, target mode and parallelism.

use std::sync::Arc;

use super::datetime::fmt_offset;
use super::tz::Zone;
use super::value::ValuePolicy;

/// The zone datetimes written without an offset are read in.
#[derive(Debug, Clone, PartialEq)]
pub enum NaiveZone {
    /// A fixed offset, seconds east of UTC (0: UTC).
    Fixed(i32),
    /// A zone of the system's zone database (`Europe/Berlin`).
    Named(Arc<Zone>),
}

impl Default for NaiveZone {
    fn default() -> Self {
        NaiveZone::Fixed(0)
    }
}

impl NaiveZone {
    /// `UTC`, `Z`, `±HH:MM`, or a zone name read from `$TZDIR` or
    /// /usr/share/zoneinfo.
    pub fn parse(s: &str) -> Result<NaiveZone, String> {
        if s.eq_ignore_ascii_case("utc") || s == "Z" || s.starts_with(['+', '-']) {
            return parse_offset(s).map(NaiveZone::Fixed);
        }
        Zone::load(s).map(NaiveZone::Named)
    }

    /// `UTC`, `UTC+03:00` or the zone's name.
    pub fn describe(&self) -> String {
        match self {
            NaiveZone::Fixed(0) => "UTC".into(),
            NaiveZone::Fixed(o) => format!("UTC{}", fmt_offset(*o)),
            NaiveZone::Named(z) => z.name.clone(),
        }
    }
}

/// How SQLite identifiers become PostgreSQL ones (always quoted in DDL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdentCase {
    /// `ChatSettings` → `chatsettings`: for applications that write names unquoted.
    #[default]
    Lower,
    /// Names kept as written: for applications that quote them.
    Preserve,
}

impl std::str::FromStr for IdentCase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lower" => Ok(IdentCase::Lower),
            "preserve" => Ok(IdentCase::Preserve),
            o => Err(format!("unknown identifier case {o:?} (lower or preserve)")),
        }
    }
}

/// What to do with rows the existing target tables already hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExistingRows {
    /// Refuse the run, naming the tables and their row counts (the default).
    #[default]
    Refuse,
    /// Save them (for a rollback to restore), then replace them.
    Replace,
}

impl ExistingRows {
    pub fn as_str(self) -> &'static str {
        match self {
            ExistingRows::Refuse => "refuse",
            ExistingRows::Replace => "replace",
        }
    }
}

impl std::str::FromStr for ExistingRows {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "refuse" => Ok(ExistingRows::Refuse),
            "replace" => Ok(ExistingRows::Replace),
            o => Err(format!("unknown existing_rows {o:?} (refuse or replace)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub ident_case: IdentCase,
    /// Target schema (created when missing).
    pub schema: String,
    /// The zone of naive datetimes (UTC by default).
    pub naive_zone: NaiveZone,
    /// `(table, column, policy)`; `*` matches any table or column.
    pub policies: Vec<(String, String, ValuePolicy)>,
    /// INTEGER columns holding 0/1 flags to migrate as boolean: `(table, column)`.
    pub bool_columns: Vec<(String, String)>,
    /// Load into tables that already exist (the application's own DDL),
    /// mapping columns by name, instead of creating them.
    pub existing_schema: bool,
    /// With `existing_schema`: rows the target tables already hold.
    pub existing_rows: ExistingRows,
    /// Tables loaded at once.
    pub jobs: usize,
    /// `PRAGMA integrity_check` instead of `quick_check` (which skips the
    /// index-against-table comparison: PostgreSQL builds its indexes from
    /// the table data anyway).
    pub full_integrity_check: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ident_case: IdentCase::Lower,
            schema: "public".into(),
            naive_zone: NaiveZone::default(),
            policies: Vec::new(),
            bool_columns: Vec::new(),
            existing_schema: false,
            existing_rows: ExistingRows::Refuse,
            jobs: 2,
            full_integrity_check: false,
        }
    }
}

impl Options {
    pub fn target_name(&self, source: &str) -> String {
        match self.ident_case {
            IdentCase::Lower => source.to_lowercase(),
            IdentCase::Preserve => source.to_string(),
        }
    }

    pub fn policy(&self, table: &str, column: &str) -> ValuePolicy {
        let m = |pat: &str, v: &str| pat == "*" || pat.eq_ignore_ascii_case(v);
        // The most specific rule wins: table.column, then table.*, *.column, *.*.
        let mut best: Option<(u8, ValuePolicy)> = None;
        for (t, c, p) in &self.policies {
            if m(t, table) && m(c, column) {
                let score = u8::from(t != "*") * 2 + u8::from(c != "*");
                if best.is_none_or(|(s, _)| score >= s) {
                    best = Some((score, *p));
                }
            }
        }
        best.map(|(_, p)| p).unwrap_or_default()
    }

    pub fn is_bool_column(&self, table: &str, column: &str) -> bool {
        self.bool_columns
            .iter()
            .any(|(t, c)| t.eq_ignore_ascii_case(table) && c.eq_ignore_ascii_case(column))
    }
}

/// `TABLE.COLUMN` (either may be `*`).
pub fn parse_column_ref(s: &str) -> Result<(String, String), String> {
    match s.split_once('.') {
        Some((t, c)) if !t.is_empty() && !c.is_empty() => Ok((t.to_string(), c.to_string())),
        _ => Err(format!("expected TABLE.COLUMN, got {s:?}")),
    }
}

/// `TABLE.COLUMN=POLICY`.
pub fn parse_policy(s: &str) -> Result<(String, String, ValuePolicy), String> {
    let (col, pol) = s
        .split_once('=')
        .ok_or_else(|| format!("expected TABLE.COLUMN=fail|null|cast|text, got {s:?}"))?;
    let (t, c) = parse_column_ref(col)?;
    Ok((t, c, pol.parse()?))
}

/// `UTC`, `Z` or `±HH:MM` → seconds east of UTC.
pub fn parse_offset(s: &str) -> Result<i32, String> {
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return Ok(0);
    }
    let err = || format!("expected UTC or ±HH:MM, got {s:?}");
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(err()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(err)?;
    let h: i32 = h.parse().map_err(|_| err())?;
    let m: i32 = m.parse().map_err(|_| err())?;
    if h > 15 || m > 59 {
        return Err(err());
    }
    Ok(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_precedence() {
        let o = Options {
            policies: vec![
                ("*".into(), "*".into(), ValuePolicy::Null),
                ("t".into(), "c".into(), ValuePolicy::Cast),
            ],
            ..Options::default()
        };
        assert_eq!(o.policy("t", "c"), ValuePolicy::Cast);
        assert_eq!(o.policy("t", "d"), ValuePolicy::Null);
        assert_eq!(parse_offset("+03:00").unwrap(), 10800);
        assert_eq!(parse_offset("-01:30").unwrap(), -5400);
        assert!(parse_offset("Europe/Berlin").is_err());
        assert_eq!(NaiveZone::parse("utc").unwrap(), NaiveZone::Fixed(0));
        assert_eq!(
            NaiveZone::parse("-05:00").unwrap(),
            NaiveZone::Fixed(-18000)
        );
        let z = NaiveZone::parse("Europe/Berlin").unwrap();
        assert_eq!(z.describe(), "Europe/Berlin");
        assert_eq!(NaiveZone::Fixed(19800).describe(), "UTC+05:30");
        assert!(NaiveZone::parse("../../etc/passwd").is_err());
        assert!(NaiveZone::parse("Nowhere/Atlantis").is_err());
    }
}
