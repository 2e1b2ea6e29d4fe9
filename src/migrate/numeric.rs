//! Exact decimals for `numeric` columns: parsed from SQLite text, integers
//! or (shortest round-trip) doubles, written in PostgreSQL's binary numeric
//! format, and rendered the way PostgreSQL prints them.

/// A decimal: sign, integer digits (no leading zeros), fraction digits
/// (their count is the display scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    neg: bool,
    int: String,
    frac: String,
}

impl Decimal {
    /// `[+-]digits[.digits]` or `.digits`, with an optional exponent `e±n`.
    pub fn parse(s: &str) -> Option<Decimal> {
        let (neg, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mant, exp) = match body.find(['e', 'E']) {
            Some(p) => (&body[..p], body[p + 1..].parse::<i32>().ok()?),
            None => (body, 0),
        };
        let (int, frac) = match mant.find('.') {
            Some(p) => (&mant[..p], &mant[p + 1..]),
            None => (mant, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        if exp.unsigned_abs() > 1000 {
            return None;
        }
        // Move the point by the exponent.
        let mut digits = format!("{int}{frac}");
        let mut point = int.len() as i64 + i64::from(exp);
        if point < 0 {
            digits = format!("{}{digits}", "0".repeat((-point) as usize));
            point = 0;
        }
        if point as usize > digits.len() {
            digits.push_str(&"0".repeat(point as usize - digits.len()));
        }
        let (i, f) = digits.split_at(point as usize);
        let int = i.trim_start_matches('0').to_string();
        let frac = if exp == 0 {
            f.to_string()
        } else {
            f.trim_end_matches('0').to_string()
        };
        let zero = int.is_empty() && frac.bytes().all(|b| b == b'0');
        Some(Decimal {
            neg: neg && !zero,
            int,
            frac,
        })
    }

    pub fn from_i64(n: i64) -> Decimal {
        Decimal {
            neg: n < 0,
            int: if n == 0 {
                String::new()
            } else {
                n.unsigned_abs().to_string()
            },
            frac: String::new(),
        }
    }

    /// The shortest decimal that reads back as `f` (Rust's `Display`).
    pub fn from_f64(f: f64) -> Option<Decimal> {
        if !f.is_finite() {
            return None;
        }
        Decimal::parse(&format!("{f}"))
    }

    /// As PostgreSQL's `numeric::text` prints it.
    pub fn to_pg_text(&self) -> String {
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        s.push_str(if self.int.is_empty() { "0" } else { &self.int });
        if !self.frac.is_empty() {
            s.push('.');
            s.push_str(&self.frac);
        }
        s
    }

    /// The binary `numeric` wire format.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Base-10000 groups aligned on the decimal point.
        let pad_int = (4 - self.int.len() % 4) % 4;
        let int = format!("{}{}", "0".repeat(pad_int), self.int);
        let pad_frac = (4 - self.frac.len() % 4) % 4;
        let frac = format!("{}{}", self.frac, "0".repeat(pad_frac));
        let group = |s: &str| -> Vec<i16> {
            s.as_bytes()
                .chunks(4)
                .map(|c| c.iter().fold(0i16, |n, d| n * 10 + i16::from(d - b'0')))
                .collect()
        };
        let ig = group(&int);
        let fg = group(&frac);
        let mut weight = ig.len() as i16 - 1;
        let mut digits: Vec<i16> = ig.into_iter().chain(fg).collect();
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.is_empty() {
            weight = 0;
        }
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&(if self.neg { 0x4000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&(self.frac.len() as u16).to_be_bytes());
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        Decimal::parse(s).unwrap().to_pg_text()
    }

    #[test]
    fn parse_and_print() {
        assert_eq!(t("12.50"), "12.50");
        assert_eq!(t("-0.0"), "0.0");
        assert_eq!(t("007"), "7");
        assert_eq!(t(".5"), "0.5");
        assert_eq!(t("1e3"), "1000");
        assert_eq!(t("1.5E-3"), "0.0015");
        assert!(Decimal::parse("1.2.3").is_none());
        assert!(Decimal::parse("N/A").is_none());
        assert!(Decimal::parse("").is_none());
        assert_eq!(
            Decimal::from_f64(0.1 + 0.2).unwrap().to_pg_text(),
            "0.30000000000000004"
        );
        assert_eq!(Decimal::from_i64(-42).to_pg_text(), "-42");
    }

    #[test]
    fn binary_layout() {
        let mut b = Vec::new();
        Decimal::parse("12345.678").unwrap().encode(&mut b);
        // ndigits 3, weight 1, sign +, dscale 3, digits 1 2345 6780
        assert_eq!(b, [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
        let mut z = Vec::new();
        Decimal::parse("0.00").unwrap().encode(&mut z);
        assert_eq!(z, [0, 0, 0, 0, 0, 0, 0, 2]);
    }
}
