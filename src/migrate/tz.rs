//! Named time zones from the system zone database (TZif files, RFC 8536)
//! for reading naive datetimes: the file's transitions (the 64-bit section
//! of version 2 and later files), then its POSIX TZ footer for the times
//! after the last transition (slim files stop early and rely on it).
//!
//! A local time maps to UTC exactly when exactly one offset of the zone
//! gives back that local time. None (clocks jumped over it) and two (clocks
//! went back over it) are reported, never resolved silently.

use std::path::PathBuf;
use std::sync::Arc;

use super::datetime::days_from_civil;

/// The default location of the zone database.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// A zone read from its TZif file.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub name: String,
    /// UTC seconds of each transition, ascending.
    transitions: Vec<i64>,
    /// Index into `offsets` in force from each transition on.
    kinds: Vec<usize>,
    /// UTC offsets (seconds east) of the local time types.
    offsets: Vec<i32>,
    /// The rule for the times after the last transition.
    footer: Option<PosixTz>,
    /// Every offset this zone ever uses (for solving local → UTC).
    candidates: Vec<i32>,
}

/// How a local time maps to UTC in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// Exactly one instant: the offset that applies.
    Unique(i32),
    /// The local time was skipped: offsets before and after the jump.
    Gap { before: i32, after: i32 },
    /// The local time happened twice: the offset of the earlier and of the
    /// later instant.
    Ambiguous { earlier: i32, later: i32 },
}

impl Zone {
    /// Reads `name` (`Europe/Berlin`) from `$TZDIR` or /usr/share/zoneinfo.
    pub fn load(name: &str) -> Result<Arc<Zone>, String> {
        check_name(name)?;
        let dir = std::env::var_os("TZDIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(ZONEINFO), PathBuf::from);
        let path = dir.join(name);
        let data = std::fs::read(&path).map_err(|e| {
            format!(
                "time zone {name:?}: cannot read {} ({e}); expected UTC, ±HH:MM or a zone name such as Europe/Berlin",
                path.display()
            )
        })?;
        Zone::parse(name, &data)
            .map(Arc::new)
            .map_err(|e| format!("time zone {name:?}: {} is not usable: {e}", path.display()))
    }

    /// Parses the contents of a TZif file.
    pub fn parse(name: &str, data: &[u8]) -> Result<Zone, String> {
        let h1 = Header::read(data, 0)?;
        let (hdr, body, time_size) = if h1.version >= 2 {
            let second = 44 + h1.block_len(4);
            let h2 = Header::read(data, second)?;
            (h2, second + 44, 8)
        } else {
            (h1, 44, 4)
        };
        if hdr.leapcnt > 0 {
            return Err(
                "the file counts leap seconds (a \"right/\" zone); use the plain one".into(),
            );
        }
        if hdr.typecnt == 0 {
            return Err("no local time types".into());
        }
        let end = body + hdr.block_len(time_size);
        if data.len() < end {
            return Err("truncated".into());
        }
        let mut p = body;
        let mut transitions = Vec::with_capacity(hdr.timecnt);
        for _ in 0..hdr.timecnt {
            let t = if time_size == 8 {
                i64::from_be_bytes(data[p..p + 8].try_into().expect("8 bytes"))
            } else {
                i64::from(i32::from_be_bytes(
                    data[p..p + 4].try_into().expect("4 bytes"),
                ))
            };
            transitions.push(t);
            p += time_size;
        }
        if transitions.windows(2).any(|w| w[0] >= w[1]) {
            return Err("transition times are not ascending".into());
        }
        let mut kinds = Vec::with_capacity(hdr.timecnt);
        for _ in 0..hdr.timecnt {
            let k = usize::from(data[p]);
            if k >= hdr.typecnt {
                return Err("a transition names a missing local time type".into());
            }
            kinds.push(k);
            p += 1;
        }
        let mut offsets = Vec::with_capacity(hdr.typecnt);
        for _ in 0..hdr.typecnt {
            let off = i32::from_be_bytes(data[p..p + 4].try_into().expect("4 bytes"));
            if off == i32::MIN || off.abs() > 26 * 3600 {
                return Err(format!("UTC offset {off} s out of range"));
            }
            offsets.push(off);
            p += 6;
        }
        let footer = if hdr.version >= 2 {
            let rest = &data[end..];
            let text = rest
                .strip_prefix(b"\n")
                .and_then(|r| r.iter().position(|&b| b == b'\n').map(|n| &r[..n]))
                .ok_or("missing TZ string footer")?;
            let text = std::str::from_utf8(text).map_err(|_| "TZ string footer is not text")?;
            if text.is_empty() {
                None
            } else {
                Some(PosixTz::parse(text)?)
            }
        } else {
            None
        };
        let mut candidates = offsets.clone();
        if let Some(f) = &footer {
            candidates.push(f.std);
            if let Some(d) = &f.dst {
                candidates.push(d.offset);
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        Ok(Zone {
            name: name.to_string(),
            transitions,
            kinds,
            offsets,
            footer,
            candidates,
        })
    }

    /// The UTC offset (seconds east) in force at `utc` (unix seconds).
    pub fn offset_at(&self, utc: i64) -> i32 {
        match self.transitions.last() {
            Some(&last) if utc >= last => match &self.footer {
                Some(f) => f.offset_at(utc),
                None => self.offsets[*self.kinds.last().expect("as many kinds")],
            },
            None => match &self.footer {
                Some(f) => f.offset_at(utc),
                None => self.offsets[0],
            },
            Some(_) => {
                // The number of transitions at or before `utc`.
                let n = self.transitions.partition_point(|&t| t <= utc);
                if n == 0 {
                    self.offsets[0]
                } else {
                    self.offsets[self.kinds[n - 1]]
                }
            }
        }
    }

    /// Solves `local = utc + offset_at(utc)` for a local time in unix
    /// seconds (as if it were UTC).
    pub fn resolve(&self, local: i64) -> Local {
        let mut found: Vec<i32> = self
            .candidates
            .iter()
            .copied()
            .filter(|&o| self.offset_at(local - i64::from(o)) == o)
            .collect();
        // The earlier instant has the larger offset.
        found.sort_unstable_by(|a, b| b.cmp(a));
        match found.as_slice() {
            [o] => Local::Unique(*o),
            [] => {
                // Read with the largest and the smallest offset of the zone:
                // the instants just before and just after the jump.
                let hi = *self.candidates.last().expect("at least one offset");
                let lo = *self.candidates.first().expect("at least one offset");
                Local::Gap {
                    before: self.offset_at(local - i64::from(hi)),
                    after: self.offset_at(local - i64::from(lo)),
                }
            }
            [first, .., last] => Local::Ambiguous {
                earlier: *first,
                later: *last,
            },
        }
    }
}

/// Zone names are paths below the zone directory: no `..`, no leading `/`.
fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+' | b'.'));
    if name.is_empty()
        || name.starts_with('/')
        || name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        || !ok_chars
    {
        return Err(format!(
            "{name:?} is not a time zone name (expected UTC, ±HH:MM or a name such as Europe/Berlin)"
        ));
    }
    Ok(())
}

struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(data: &[u8], at: usize) -> Result<Header, String> {
        let h = data.get(at..at + 44).ok_or("truncated header")?;
        if &h[..4] != b"TZif" {
            return Err("not a TZif file".into());
        }
        let version = match h[4] {
            0 => 1,
            b'2' => 2,
            b'3' => 3,
            b'4' => 4,
            v => return Err(format!("unknown TZif version {v:#x}")),
        };
        let n = |i: usize| {
            u32::from_be_bytes(h[20 + 4 * i..24 + 4 * i].try_into().expect("4")) as usize
        };
        let hdr = Header {
            version,
            isutcnt: n(0),
            isstdcnt: n(1),
            leapcnt: n(2),
            timecnt: n(3),
            typecnt: n(4),
            charcnt: n(5),
        };
        if hdr.typecnt > 256 || hdr.timecnt > 1 << 20 || hdr.charcnt > 1 << 16 {
            return Err("implausible counts".into());
        }
        Ok(hdr)
    }

    /// Bytes of the data block with `time_size`-byte times.
    fn block_len(&self, time_size: usize) -> usize {
        self.timecnt * time_size
            + self.timecnt
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time_size + 4)
            + self.isstdcnt
            + self.isutcnt
    }
}

/// A POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`), with RFC 8536's
/// extensions (hours up to 167 and negative in rule times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixTz {
    /// Standard time offset, seconds east of UTC.
    pub std: i32,
    pub dst: Option<Dst>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dst {
    /// Daylight time offset, seconds east of UTC.
    pub offset: i32,
    pub start: Rule,
    pub end: Rule,
}

/// A day of the year with a local time of day (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub day: Day,
    pub time: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// `Jn`: 1..=365, February 29 never counted.
    Julian1(u16),
    /// `n`: 0..=365, February 29 counted.
    Julian0(u16),
    /// `Mm.w.d`: weekday d (0 Sunday) of week w (5: the last) of month m.
    Month { m: u8, w: u8, d: u8 },
}

impl PosixTz {
    pub fn parse(s: &str) -> Result<PosixTz, String> {
        let err = |why: &str| format!("TZ string {s:?}: {why}");
        let mut p = Cursor {
            b: s.as_bytes(),
            i: 0,
        };
        p.name().map_err(|e| err(&e))?;
        let std = -p.offset(24).map_err(|e| err(&e))?;
        if p.done() {
            return Ok(PosixTz { std, dst: None });
        }
        p.name().map_err(|e| err(&e))?;
        let dst_off = if p.done() || p.peek() == Some(b',') {
            std + 3600
        } else {
            -p.offset(24).map_err(|e| err(&e))?
        };
        let (start, end) = if p.done() {
            // POSIX leaves the default to the implementation; the US rules
            // are the usual one.
            (
                Rule {
                    day: Day::Month { m: 3, w: 2, d: 0 },
                    time: 7200,
                },
                Rule {
                    day: Day::Month { m: 11, w: 1, d: 0 },
                    time: 7200,
                },
            )
        } else {
            p.expect(b',').map_err(|e| err(&e))?;
            let a = p.rule().map_err(|e| err(&e))?;
            p.expect(b',').map_err(|e| err(&e))?;
            let b = p.rule().map_err(|e| err(&e))?;
            (a, b)
        };
        if !p.done() {
            return Err(err("unexpected text at the end"));
        }
        Ok(PosixTz {
            std,
            dst: Some(Dst {
                offset: dst_off,
                start,
                end,
            }),
        })
    }

    /// The offset in force at `utc`.
    pub fn offset_at(&self, utc: i64) -> i32 {
        let Some(d) = &self.dst else {
            return self.std;
        };
        let (y, ..) =
            super::datetime::civil_from_days((utc + i64::from(self.std)).div_euclid(86_400));
        // Changes of the years around, in order; at the same instant the
        // end comes first, so a start right at an end (DST all year) wins.
        let mut changes: Vec<(i64, bool)> = Vec::with_capacity(6);
        for year in y - 1..=y + 1 {
            changes.push((d.start.local_secs(year) - i64::from(self.std), true));
            changes.push((d.end.local_secs(year) - i64::from(d.offset), false));
        }
        changes.sort_unstable();
        match changes.iter().rev().find(|(t, _)| *t <= utc) {
            Some((_, true)) => d.offset,
            _ => self.std,
        }
    }
}

impl Rule {
    /// Local seconds (as if UTC) of this rule's moment in `year`.
    fn local_secs(&self, year: i64) -> i64 {
        let jan1 = days_from_civil(year, 1, 1);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let day = match self.day {
            Day::Julian1(n) => jan1 + i64::from(n) - 1 + i64::from(leap && n >= 60),
            Day::Julian0(n) => jan1 + i64::from(n),
            Day::Month { m, w, d } => {
                let first = days_from_civil(year, u32::from(m), 1);
                // 1970-01-01 was a Thursday (4).
                let wd = (first + 4).rem_euclid(7);
                let mut day = first + (i64::from(d) - wd).rem_euclid(7) + 7 * (i64::from(w) - 1);
                let next = if m == 12 {
                    days_from_civil(year + 1, 1, 1)
                } else {
                    days_from_civil(year, u32::from(m) + 1, 1)
                };
                while day >= next {
                    day -= 7;
                }
                day
            }
        };
        day * 86_400 + i64::from(self.time)
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", c as char, self.i))
        }
    }

    /// `CET` (3+ letters) or `<+0330>` (3+ letters, digits, signs).
    fn name(&mut self) -> Result<(), String> {
        let start = self.i;
        if self.peek() == Some(b'<') {
            self.i += 1;
            let s = self.i;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'-')
            {
                self.i += 1;
            }
            let len = self.i - s;
            self.expect(b'>')?;
            if len < 3 {
                return Err("a quoted zone abbreviation needs at least 3 characters".into());
            }
        } else {
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.i += 1;
            }
            if self.i - start < 3 {
                return Err(format!("expected a zone abbreviation at {start}"));
            }
        }
        Ok(())
    }

    fn number(&mut self, max: i32) -> Result<i32, String> {
        let s = self.i;
        let mut n: i32 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            n = n.saturating_mul(10).saturating_add(i32::from(c - b'0'));
            self.i += 1;
        }
        if self.i == s {
            return Err(format!("expected a number at {s}"));
        }
        if n > max {
            return Err(format!("{n} out of range at {s}"));
        }
        Ok(n)
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, as written (POSIX: positive is west).
    fn offset(&mut self, max_hours: i32) -> Result<i32, String> {
        let neg = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                true
            }
            Some(b'+') => {
                self.i += 1;
                false
            }
            _ => false,
        };
        let h = self.number(max_hours)?;
        let mut secs = h * 3600;
        if self.peek() == Some(b':') {
            self.i += 1;
            secs += self.number(59)? * 60;
            if self.peek() == Some(b':') {
                self.i += 1;
                secs += self.number(59)?;
            }
        }
        Ok(if neg { -secs } else { secs })
    }

    fn rule(&mut self) -> Result<Rule, String> {
        let day = match self.peek() {
            Some(b'J') => {
                self.i += 1;
                let n = self.number(365)?;
                if n < 1 {
                    return Err("Jn counts from 1".into());
                }
                Day::Julian1(n as u16)
            }
            Some(b'M') => {
                self.i += 1;
                let m = self.number(12)?;
                self.expect(b'.')?;
                let w = self.number(5)?;
                self.expect(b'.')?;
                let d = self.number(6)?;
                if m < 1 || w < 1 {
                    return Err("Mm.w.d: month and week count from 1".into());
                }
                Day::Month {
                    m: m as u8,
                    w: w as u8,
                    d: d as u8,
                }
            }
            _ => Day::Julian0(self.number(365)? as u16),
        };
        let time = if self.peek() == Some(b'/') {
            self.i += 1;
            self.offset(167)?
        } else {
            7200
        };
        Ok(Rule { day, time })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> Arc<Zone> {
        Zone::load(name).unwrap()
    }

    /// Local `YYYY-MM-DD HH:MM:SS` as unix seconds.
    fn local(s: &str) -> i64 {
        super::super::datetime::parse_text(s, &super::super::options::NaiveZone::Fixed(0))
            .unwrap()
            .div_euclid(1_000_000)
    }

    #[test]
    fn footer_strings() {
        let berlin = PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        assert_eq!(berlin.std, 3600);
        let d = berlin.dst.as_ref().unwrap();
        assert_eq!(d.offset, 7200);
        assert_eq!(
            d.start,
            Rule {
                day: Day::Month { m: 3, w: 5, d: 0 },
                time: 7200
            }
        );
        assert_eq!(
            d.end,
            Rule {
                day: Day::Month { m: 10, w: 5, d: 0 },
                time: 10800
            }
        );

        let ny = PosixTz::parse("EST5EDT,M3.2.0,M11.1.0").unwrap();
        assert_eq!((ny.std, ny.dst.as_ref().unwrap().offset), (-18000, -14400));

        let kolkata = PosixTz::parse("IST-5:30").unwrap();
        assert_eq!(
            kolkata,
            PosixTz {
                std: 19800,
                dst: None
            }
        );

        let lh = PosixTz::parse("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0").unwrap();
        assert_eq!((lh.std, lh.dst.as_ref().unwrap().offset), (37800, 39600));

        let q = PosixTz::parse("<-03>3").unwrap();
        assert_eq!(q.std, -10800);

        // RFC 8536's examples: negative and > 24 h rule times, Jn and n days.
        let g = PosixTz::parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0").unwrap();
        assert_eq!(g.dst.as_ref().unwrap().start.time, -3600);
        let all = PosixTz::parse("EST5EDT4,0/0,J365/25").unwrap();
        let d = all.dst.as_ref().unwrap();
        assert_eq!(
            d.start,
            Rule {
                day: Day::Julian0(0),
                time: 0
            }
        );
        assert_eq!(
            d.end,
            Rule {
                day: Day::Julian1(365),
                time: 90000
            }
        );
        // DST all year round.
        for s in [
            "2030-01-01 12:00:00",
            "2030-07-01 12:00:00",
            "2030-12-31 23:00:00",
        ] {
            assert_eq!(all.offset_at(local(s)), -14400, "{s}");
        }
        let secs = PosixTz::parse("XXX-1:02:03").unwrap();
        assert_eq!(secs.std, 3723);

        for bad in [
            "",
            "C1",
            "CET",
            "CET-1CEST,M3.5.0",
            "CET-1CEST,M13.5.0,M10.5.0",
            "<+1>1",
            "CET-1x",
        ] {
            assert!(PosixTz::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn footer_rules_by_day_kind() {
        // J60 is March 1 in every year; 59 is March 1 in a leap year only.
        let j = PosixTz::parse("AAA0BBB,J60/0,J300/0").unwrap();
        assert_eq!(j.offset_at(local("2024-03-01 00:00:00")), 3600);
        assert_eq!(j.offset_at(local("2024-02-29 23:59:59")), 0);
        let n = PosixTz::parse("AAA0BBB,59/0,300/0").unwrap();
        assert_eq!(n.offset_at(local("2024-02-29 00:00:00")), 3600);
        assert_eq!(n.offset_at(local("2024-02-28 23:59:59")), 0);
        assert_eq!(n.offset_at(local("2023-03-01 00:00:00")), 3600);
    }

    #[test]
    fn berlin() {
        let z = zone("Europe/Berlin");
        assert_eq!(z.resolve(local("2024-07-01 12:00:00")), Local::Unique(7200));
        assert_eq!(z.resolve(local("2024-01-15 12:00:00")), Local::Unique(3600));
        assert_eq!(
            z.resolve(local("2024-03-31 02:30:00")),
            Local::Gap {
                before: 3600,
                after: 7200
            }
        );
        assert_eq!(z.resolve(local("2024-03-31 01:59:59")), Local::Unique(3600));
        assert_eq!(z.resolve(local("2024-03-31 03:00:00")), Local::Unique(7200));
        assert_eq!(
            z.resolve(local("2024-10-27 02:30:00")),
            Local::Ambiguous {
                earlier: 7200,
                later: 3600
            }
        );
        assert_eq!(
            z.resolve(local("2024-10-27 02:00:00")),
            Local::Ambiguous {
                earlier: 7200,
                later: 3600
            }
        );
        assert_eq!(z.resolve(local("2024-10-27 03:00:00")), Local::Unique(3600));
        // Past the file's transitions: the footer decides.
        assert_eq!(z.resolve(local("2100-07-01 12:00:00")), Local::Unique(7200));
        assert!(matches!(
            z.resolve(local("2100-03-28 02:30:00")),
            Local::Gap { .. }
        ));
        assert!(matches!(
            z.resolve(local("2100-10-31 02:30:00")),
            Local::Ambiguous { .. }
        ));
        // Before 1893 Berlin kept local mean time (+00:53:28).
        assert_eq!(z.resolve(local("1850-01-01 00:00:00")), Local::Unique(3208));
    }

    #[test]
    fn new_york_kolkata_lord_howe() {
        let ny = zone("America/New_York");
        assert_eq!(
            ny.resolve(local("2024-07-04 12:00:00")),
            Local::Unique(-14400)
        );
        assert_eq!(
            ny.resolve(local("2024-12-25 12:00:00")),
            Local::Unique(-18000)
        );
        assert!(matches!(
            ny.resolve(local("2024-03-10 02:30:00")),
            Local::Gap { .. }
        ));
        assert_eq!(
            ny.resolve(local("2024-11-03 01:30:00")),
            Local::Ambiguous {
                earlier: -14400,
                later: -18000
            }
        );
        assert_eq!(
            ny.resolve(local("2050-07-04 12:00:00")),
            Local::Unique(-14400)
        );

        let k = zone("Asia/Kolkata");
        assert_eq!(
            k.resolve(local("2024-07-01 12:00:00")),
            Local::Unique(19800)
        );
        assert_eq!(
            k.resolve(local("2090-01-01 00:00:00")),
            Local::Unique(19800)
        );

        // Half an hour of DST: +10:30 in winter, +11:00 in summer.
        let lh = zone("Australia/Lord_Howe");
        assert_eq!(
            lh.resolve(local("2024-07-01 12:00:00")),
            Local::Unique(37800)
        );
        assert_eq!(
            lh.resolve(local("2024-01-01 12:00:00")),
            Local::Unique(39600)
        );
        // 2024-10-06 02:00 → 02:30.
        assert_eq!(
            lh.resolve(local("2024-10-06 02:15:00")),
            Local::Gap {
                before: 37800,
                after: 39600
            }
        );
        assert_eq!(
            lh.resolve(local("2024-10-06 02:30:00")),
            Local::Unique(39600)
        );
        // 2024-04-07 02:00 → 01:30.
        assert_eq!(
            lh.resolve(local("2024-04-07 01:45:00")),
            Local::Ambiguous {
                earlier: 39600,
                later: 37800
            }
        );
        assert_eq!(
            lh.resolve(local("2060-10-03 02:15:00")),
            Local::Gap {
                before: 37800,
                after: 39600
            }
        );
    }

    #[test]
    fn footers_agree_with_the_transitions_they_continue() {
        // Fat files list transitions up to 2037; their footer must give
        // the same offsets over those years (so slim files read the same).
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Europe/Dublin",
            "Pacific/Chatham",
        ] {
            let z = zone(name);
            let f = z.footer.clone().unwrap();
            let from = local("2025-01-01 00:00:00");
            let to = (*z.transitions.last().unwrap()).min(local("2037-12-31 00:00:00"));
            let mut t = from;
            while t < to {
                assert_eq!(f.offset_at(t), z.offset_at(t), "{name} at {t}");
                t += 1800;
            }
        }
    }

    #[test]
    fn names_are_paths_below_the_zone_directory() {
        for bad in [
            "../etc/passwd",
            "/etc/localtime",
            "Europe/../../etc/passwd",
            "",
            "Europe//Berlin",
            "a b",
        ] {
            let e = Zone::load(bad).unwrap_err();
            assert!(e.contains("not a time zone name"), "{bad:?}: {e}");
        }
        let e = Zone::load("Mars/Olympus_Mons").unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn version_one_files() {
        // A minimal v1 file: one transition at 0 from +01:00 to +02:00.
        let mut f = b"TZif\0".to_vec();
        f.extend_from_slice(&[0; 15]);
        for n in [0u32, 0, 0, 1, 2, 4] {
            f.extend_from_slice(&n.to_be_bytes());
        }
        f.extend_from_slice(&0i32.to_be_bytes());
        f.push(1);
        f.extend_from_slice(&3600i32.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&7200i32.to_be_bytes());
        f.extend_from_slice(&[1, 0]);
        f.extend_from_slice(b"AB\0\0");
        let z = Zone::parse("X", &f).unwrap();
        assert_eq!(z.offset_at(-1), 3600);
        assert_eq!(z.offset_at(0), 7200);
        assert_eq!(
            z.resolve(3600 + 1800),
            Local::Gap {
                before: 3600,
                after: 7200
            }
        );
        assert!(Zone::parse("X", b"nope").is_err());
    }
}
