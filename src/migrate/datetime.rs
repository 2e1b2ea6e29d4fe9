//! Datetimes as SQLite stores them (text in several ISO 8601 shapes, or unix
//! epoch numbers) to microseconds since the unix epoch, UTC.
//!
//! Text: `YYYY-MM-DD`, optionally followed by `T` or a space and
//! `HH:MM[:SS[.fraction]]`, optionally followed (after at most one space) by
//! `Z` or an offset `±HH:MM`, `±HHMM` or `±HH`. Text without an offset is
//! read in the configured zone (UTC by default, a fixed offset, or a named
//! zone; a local time the zone skipped or repeated is refused). More
//! than six fraction digits are accepted only when the extra ones are zeros.
//! Integers are unix epoch seconds, or milliseconds from 10^11 on (in
//! absolute value); anything at or beyond 10^14 is refused.

use super::options::NaiveZone;
use super::tz::Local;

pub use crate::civil::{civil_from_days, days_from_civil};

pub const MICROS_PER_DAY: i64 = 86_400_000_000;
/// 2000-01-01 in days since 1970-01-01: PostgreSQL's epoch.
pub const PG_EPOCH_DAYS: i64 = 10_957;

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// A parsed date: days since 1970-01-01, or why not.
pub fn parse_date(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err("not a YYYY-MM-DD date".into());
    }
    let y = digits(&b[0..4]).ok_or("not a YYYY-MM-DD date")? as i64;
    let m = digits(&b[5..7]).ok_or("not a YYYY-MM-DD date")? as u32;
    let d = digits(&b[8..10]).ok_or("not a YYYY-MM-DD date")? as u32;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(format!("no such date {s:?}"));
    }
    Ok(days_from_civil(y, m, d))
}

fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Text datetime → µs since the unix epoch (UTC). A naive local time that
/// is ambiguous in a named zone is refused.
pub fn parse_text(s: &str, naive: &NaiveZone) -> Result<i64, String> {
    parse_text_as(s, naive, false)
}

/// As [`parse_text`]; with `earlier`, an ambiguous naive local time (clocks
/// went back over it) is read as the earlier of its two instants.
pub fn parse_text_as(s: &str, naive: &NaiveZone, earlier: bool) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty string is not a datetime".into());
    }
    if s.len() < 10 {
        return Err("not an ISO 8601 datetime".into());
    }
    let days = parse_date(&s[..10]).map_err(|e| {
        if e.starts_with("no such") {
            e
        } else {
            "not an ISO 8601 datetime".into()
        }
    })?;
    let rest = &s.as_bytes()[10..];
    let mut micros = days * MICROS_PER_DAY;
    let mut i = 0;
    if i < rest.len() && (rest[i] == b'T' || rest[i] == b't' || rest[i] == b' ') {
        // A time follows, unless this space introduces an offset.
        if rest.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            let hh = two(rest, i).ok_or("bad hour")?;
            if rest.get(i + 2) != Some(&b':') {
                return Err("expected HH:MM".into());
            }
            let mm = two(rest, i + 3).ok_or("bad minute")?;
            i += 5;
            let mut ss = 0;
            let mut frac_us = 0i64;
            if rest.get(i) == Some(&b':') {
                ss = two(rest, i + 1).ok_or("bad second")?;
                i += 3;
                if rest.get(i) == Some(&b'.') {
                    i += 1;
                    let start = i;
                    while i < rest.len() && rest[i].is_ascii_digit() {
                        i += 1;
                    }
                    let f = &rest[start..i];
                    if f.is_empty() {
                        return Err("empty fraction of a second".into());
                    }
                    if f.len() > 6 && f[6..].iter().any(|&d| d != b'0') {
                        return Err("fraction finer than a microsecond would be rounded".into());
                    }
                    let mut us = 0i64;
                    for k in 0..6 {
                        us = us * 10 + f.get(k).map_or(0, |d| i64::from(d - b'0'));
                    }
                    frac_us = us;
                }
            }
            if hh > 23 || mm > 59 || ss > 59 {
                return Err("time of day out of range".into());
            }
            micros += ((hh * 60 + mm) * 60 + ss) * 1_000_000 + frac_us;
        }
    }
    let tail = &rest[i..];
    let tail = tail.strip_prefix(b" ").unwrap_or(tail);
    let offset_secs: i64 = match tail {
        [] => return naive_to_utc(micros, naive, earlier),
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), more @ ..] => {
            let (h, m) = match more {
                [a, b] => (digits(&[*a, *b]), Some(0)),
                [a, b, c, d] => (digits(&[*a, *b]), digits(&[*c, *d])),
                [a, b, b':', c, d] => (digits(&[*a, *b]), digits(&[*c, *d])),
                _ => (None, None),
            };
            let (Some(h), Some(m)) = (h, m) else {
                return Err("bad UTC offset".into());
            };
            if h > 15 || m > 59 {
                return Err("UTC offset out of range".into());
            }
            let v = (h * 3600 + m * 60) as i64;
            if *sign == b'-' { -v } else { v }
        }
        _ => return Err("unexpected text after the datetime".into()),
    };
    Ok(micros - offset_secs * 1_000_000)
}

/// Local µs (as if UTC) in the naive zone → µs UTC.
fn naive_to_utc(local: i64, naive: &NaiveZone, earlier: bool) -> Result<i64, String> {
    let z = match naive {
        NaiveZone::Fixed(off) => return Ok(local - i64::from(*off) * 1_000_000),
        NaiveZone::Named(z) => z,
    };
    let at = |off: i32| local - i64::from(off) * 1_000_000;
    match z.resolve(local.div_euclid(1_000_000)) {
        Local::Unique(off) => Ok(at(off)),
        Local::Ambiguous { earlier: e, .. } if earlier => Ok(at(e)),
        Local::Ambiguous {
            earlier: e,
            later: l,
        } => Err(format!(
            "ambiguous local time in {}: it happened twice, at UTC{} and at UTC{} (the clocks went back)",
            z.name,
            fmt_offset(e),
            fmt_offset(l)
        )),
        Local::Gap { before, after } => Err(format!(
            "no such local time in {}: the clocks jumped over it from UTC{} to UTC{}",
            z.name,
            fmt_offset(before),
            fmt_offset(after)
        )),
    }
}

/// `+01:00`, `-03:30`, `+00:53:28`.
pub fn fmt_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let mut s = format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60);
    if !a.is_multiple_of(60) {
        s.push_str(&format!(":{:02}", a % 60));
    }
    s
}

fn two(b: &[u8], i: usize) -> Option<i64> {
    digits(b.get(i..i + 2)?).map(|v| v as i64)
}

/// Integer unix epoch → µs (seconds below 10^11, milliseconds below 10^14).
pub fn from_epoch_int(n: i64) -> Result<i64, String> {
    let a = n.unsigned_abs();
    if a < 100_000_000_000 {
        Ok(n * 1_000_000)
    } else if a < 100_000_000_000_000 {
        Ok(n * 1_000)
    } else {
        Err("integer too large for unix seconds or milliseconds".into())
    }
}

/// REAL unix epoch seconds → µs; refused unless exact to the microsecond.
pub fn from_epoch_real(f: f64) -> Result<i64, String> {
    if !f.is_finite() || f.abs() >= 1e11 {
        return Err("not a unix epoch in seconds".into());
    }
    let us = (f * 1e6).round();
    if (us / 1e6 - f).abs() > f.abs() * 1e-15 {
        return Err("not exact to the microsecond".into());
    }
    Ok(us as i64)
}

/// µs since the unix epoch as `YYYY-MM-DD HH:MM:SS[.ffffff]+00`, for messages.
pub fn format_utc(us: i64) -> String {
    let days = us.div_euclid(MICROS_PER_DAY);
    let rem = us.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    let mut s = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        s.push_str(&format!(".{frac:06}"));
    }
    s.push_str("+00");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTC: NaiveZone = NaiveZone::Fixed(0);

    fn p(s: &str) -> String {
        format_utc(parse_text(s, &UTC).unwrap())
    }

    fn named(name: &str) -> NaiveZone {
        NaiveZone::Named(super::super::tz::Zone::load(name).unwrap())
    }

    fn in_zone(s: &str, z: &NaiveZone) -> Result<String, String> {
        parse_text(s, z).map(format_utc)
    }

    #[test]
    fn naive_values_in_a_named_zone() {
        let berlin = named("Europe/Berlin");
        assert_eq!(
            in_zone("2024-07-01 12:00:00", &berlin).unwrap(),
            "2024-07-01 10:00:00+00"
        );
        assert_eq!(
            in_zone("2024-01-15T12:00:00.25", &berlin).unwrap(),
            "2024-01-15 11:00:00.250000+00"
        );
        // Values with an offset ignore the zone.
        assert_eq!(
            in_zone("2024-03-31 02:30:00Z", &berlin).unwrap(),
            "2024-03-31 02:30:00+00"
        );
        let gap = in_zone("2024-03-31 02:30:00", &berlin).unwrap_err();
        assert_eq!(
            gap,
            "no such local time in Europe/Berlin: the clocks jumped over it from UTC+01:00 to UTC+02:00"
        );
        let amb = in_zone("2024-10-27 02:30:00", &berlin).unwrap_err();
        assert!(
            amb.starts_with("ambiguous local time in Europe/Berlin"),
            "{amb}"
        );
        // The earlier reading, on request (the cast policy).
        let e = parse_text_as("2024-10-27 02:30:00", &berlin, true).unwrap();
        assert_eq!(format_utc(e), "2024-10-27 00:30:00+00");
        assert!(parse_text_as("2024-03-31 02:30:00", &berlin, true).is_err());
        // A date only is midnight local time.
        assert_eq!(
            in_zone("2024-07-01", &berlin).unwrap(),
            "2024-06-30 22:00:00+00"
        );
        // Past 2037: the footer rule.
        assert_eq!(
            in_zone("2099-08-01 12:00:00", &berlin).unwrap(),
            "2099-08-01 10:00:00+00"
        );
        assert_eq!(
            in_zone("2099-12-01 12:00:00", &berlin).unwrap(),
            "2099-12-01 11:00:00+00"
        );

        let ny = named("America/New_York");
        assert_eq!(
            in_zone("2024-07-04 09:30:00", &ny).unwrap(),
            "2024-07-04 13:30:00+00"
        );
        assert_eq!(
            in_zone("2024-01-04 09:30:00", &ny).unwrap(),
            "2024-01-04 14:30:00+00"
        );
        assert!(in_zone("2024-11-03 01:30:00", &ny).is_err());
        let k = named("Asia/Kolkata");
        assert_eq!(
            in_zone("2024-07-01 12:00:00", &k).unwrap(),
            "2024-07-01 06:30:00+00"
        );
        let lh = named("Australia/Lord_Howe");
        assert_eq!(
            in_zone("2024-01-01 12:00:00", &lh).unwrap(),
            "2024-01-01 01:00:00+00"
        );
        assert_eq!(
            in_zone("2024-07-01 12:00:00", &lh).unwrap(),
            "2024-07-01 01:30:00+00"
        );
    }

    #[test]
    fn iso_shapes() {
        assert_eq!(p("2024-01-02"), "2024-01-02 00:00:00+00");
        assert_eq!(p("2024-01-02 03:04"), "2024-01-02 03:04:00+00");
        assert_eq!(p("2024-01-02T03:04:05"), "2024-01-02 03:04:05+00");
        assert_eq!(p("2024-01-02T03:04:05.5Z"), "2024-01-02 03:04:05.500000+00");
        assert_eq!(
            p("2024-01-02T03:04:05.123456000"),
            "2024-01-02 03:04:05.123456+00"
        );
        assert_eq!(p("2024-01-02T03:04:05+03:00"), "2024-01-02 00:04:05+00");
        assert_eq!(p("2024-01-02 03:04:05 -0130"), "2024-01-02 04:34:05+00");
        assert_eq!(p("2024-01-02T03:04:05+03"), "2024-01-02 00:04:05+00");
        assert_eq!(
            p("1969-12-31 23:59:59.999999"),
            "1969-12-31 23:59:59.999999+00"
        );
        assert_eq!(p("2024-02-29"), "2024-02-29 00:00:00+00");
    }

    #[test]
    fn naive_values_in_the_configured_zone() {
        let us = parse_text("2024-01-02 03:00:00", &NaiveZone::Fixed(3600)).unwrap();
        assert_eq!(format_utc(us), "2024-01-02 02:00:00+00");
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            " ",
            "2024-13-01",
            "2023-02-29",
            "2024-01-02 25:00",
            "2024-01-02T03:04:05.1234567",
            "2024-01-02x",
            "yesterday",
            "2024-01-02 03:04:05 +99:00",
        ] {
            assert!(parse_text(bad, &UTC).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epochs() {
        assert_eq!(
            format_utc(from_epoch_int(1_700_000_000).unwrap()),
            "2023-11-14 22:13:20+00"
        );
        assert_eq!(
            format_utc(from_epoch_int(1_700_000_000_123).unwrap()),
            "2023-11-14 22:13:20.123000+00"
        );
        assert!(from_epoch_int(i64::MAX).is_err());
        assert_eq!(from_epoch_real(1.5).unwrap(), 1_500_000);
    }
}
