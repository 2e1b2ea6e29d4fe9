//! Python literals as `ast.literal_eval` reads them: numbers, `True`/`False`/
//! `None`, quoted strings, lists, tuples, dicts and sets. INI inventory values
//! and templated strings that look like data are read this way, as in Ansible.

use serde_json::{Map, Number, Value};

/// The value `text` denotes as a Python literal, or the text itself.
pub fn parse_value(text: &str) -> Value {
    literal_eval(text).unwrap_or_else(|| Value::String(text.to_string()))
}

/// `None` when `text` is not a complete Python literal.
pub fn literal_eval(text: &str) -> Option<Value> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
    };
    let first = p.expr()?;
    // A bare `1, 2` is a tuple in Python.
    let value = if p.eat(',') {
        let mut items = vec![first];
        p.items(None, &mut items)?;
        Value::Array(items)
    } else {
        first
    };
    p.skip_ws();
    (p.pos == p.chars.len()).then_some(value)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    /// Skips blanks and a trailing `#` comment, as Python's tokenizer does.
    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                self.pos = self.chars.len();
            } else if c.is_whitespace() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Value> {
        self.skip_ws();
        match self.peek()? {
            '-' | '+' => {
                let negative = self.peek() == Some('-');
                self.pos += 1;
                self.skip_ws();
                // Only numbers may be signed, and only once (`--1` is rejected).
                if matches!(self.peek(), Some('-' | '+')) {
                    return None;
                }
                match self.expr()? {
                    Value::Number(n) if negative => negate(&n),
                    Value::Number(n) => Some(Value::Number(n)),
                    _ => None,
                }
            }
            '[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.items(Some(']'), &mut items)?;
                Some(Value::Array(items))
            }
            '(' => self.paren(),
            '{' => self.braces(),
            '.' if self.peek_at(1) == Some('.') => (self.peek_at(2) == Some('.')).then(|| {
                self.pos += 3;
                Value::String("...".into())
            }),
            c if c.is_ascii_digit() || c == '.' => self.number(),
            '\'' | '"' => self.strings(),
            c if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ if matches!(self.peek(), Some('\'' | '"')) && string_prefix(&word) => {
                        self.pos = start;
                        self.strings()
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Comma-separated expressions up to `close` (or the end of input), with
    /// an optional trailing comma.
    fn items(&mut self, close: Option<char>, out: &mut Vec<Value>) -> Option<()> {
        loop {
            self.skip_ws();
            match close {
                Some(c) if self.eat(c) => return Some(()),
                None if self.peek().is_none() => return Some(()),
                _ => {}
            }
            out.push(self.expr()?);
            if !self.eat(',') {
                return match close {
                    Some(c) => self.eat(c).then_some(()),
                    None => Some(()),
                };
            }
        }
    }

    /// `(x)` is `x`; `()` and `(x,)` are tuples, which become lists.
    fn paren(&mut self) -> Option<Value> {
        self.pos += 1;
        if self.eat(')') {
            return Some(Value::Array(Vec::new()));
        }
        let first = self.expr()?;
        if self.eat(')') {
            return Some(first);
        }
        if !self.eat(',') {
            return None;
        }
        let mut items = vec![first];
        self.items(Some(')'), &mut items)?;
        Some(Value::Array(items))
    }

    /// `{}` and `{k: v, ...}` are dicts; `{a, b}` is a set, which becomes a list.
    fn braces(&mut self) -> Option<Value> {
        self.pos += 1;
        if self.eat('}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.expr()?;
        if !self.eat(':') {
            let mut items = vec![first];
            if self.eat(',') {
                self.items(Some('}'), &mut items)?;
            } else if !self.eat('}') {
                return None;
            }
            let mut unique: Vec<Value> = Vec::new();
            for item in items {
                if !unique.contains(&item) {
                    unique.push(item);
                }
            }
            return Some(Value::Array(unique));
        }
        let mut map = Map::new();
        let mut key = first;
        loop {
            let value = self.expr()?;
            map.insert(key_string(&key)?, value);
            if !self.eat(',') {
                return self.eat('}').then_some(Value::Object(map));
            }
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            key = self.expr()?;
            if !self.eat(':') {
                return None;
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let token = &self.chars[start..self.pos];
            // A sign continues the literal only right after a decimal exponent.
            let exponent_sign = matches!(c, '+' | '-')
                && matches!(token.last(), Some('e' | 'E'))
                && !token.iter().any(|c| matches!(c, 'x' | 'X'));
            if !(c.is_alphanumeric() || c == '_' || c == '.' || exponent_sign) {
                break;
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        parse_number(&text)
    }

    /// One or more adjacent string literals, concatenated.
    fn strings(&mut self) -> Option<Value> {
        let mut out = String::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                self.pos += 1;
            }
            let prefix: String = self.chars[start..self.pos].iter().collect();
            if !string_prefix(&prefix) || !matches!(self.peek(), Some('\'' | '"')) {
                self.pos = start;
                break;
            }
            let raw = prefix.to_ascii_lowercase().contains('r');
            out.push_str(&self.string_body(raw)?);
        }
        Some(Value::String(out))
    }

    fn string_body(&mut self, raw: bool) -> Option<String> {
        let quote = self.peek()?;
        let triple = self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            if c == quote {
                if !triple {
                    return Some(out);
                }
                if self.peek() == Some(quote) && self.peek_at(1) == Some(quote) {
                    self.pos += 2;
                    return Some(out);
                }
                out.push(c);
            } else if c == '\\' {
                let e = self.peek()?;
                self.pos += 1;
                if raw {
                    out.push('\\');
                    out.push(e);
                } else {
                    self.escape(e, &mut out)?;
                }
            } else if c == '\n' && !triple {
                return None;
            } else {
                out.push(c);
            }
        }
    }

    fn escape(&mut self, e: char, out: &mut String) -> Option<()> {
        let simple = match e {
            '\n' => Some(None),
            '\\' | '\'' | '"' => Some(Some(e)),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(c) = simple {
            out.extend(c);
            return Some(());
        }
        let (radix, len) = match e {
            'x' => (16, 2),
            'u' => (16, 4),
            'U' => (16, 8),
            '0'..='7' => (8, 3),
            _ => {
                // Unknown escapes keep their backslash.
                out.push('\\');
                out.push(e);
                return Some(());
            }
        };
        let mut digits = String::new();
        if radix == 8 {
            digits.push(e);
        }
        while digits.len() < len && self.peek().is_some_and(|c| c.is_digit(radix)) {
            digits.push(self.peek()?);
            self.pos += 1;
        }
        if radix == 16 && digits.len() != len {
            return None;
        }
        out.push(char::from_u32(u32::from_str_radix(&digits, radix).ok()?)?);
        Some(())
    }
}

fn string_prefix(p: &str) -> bool {
    matches!(
        p.to_ascii_lowercase().as_str(),
        "" | "r" | "u" | "b" | "br" | "rb"
    )
}

fn negate(n: &Number) -> Option<Value> {
    if let Some(i) = n.as_i64() {
        return Some(Value::from(i.checked_neg()?));
    }
    if n.is_u64() {
        return None;
    }
    Number::from_f64(-n.as_f64()?).map(Value::Number)
}

/// Python's numeric literal forms, including `_` separators; complex
/// numbers are not supported and stay text.
fn parse_number(text: &str) -> Option<Value> {
    let lower = text.to_ascii_lowercase();
    if let Some(radix_digits) = lower.get(2..).filter(|_| lower.starts_with('0')) {
        let radix = match lower.as_bytes().get(1) {
            Some(b'x') => 16,
            Some(b'o') => 8,
            Some(b'b') => 2,
            _ => 0,
        };
        if radix != 0 {
            let digits = underscored(radix_digits.strip_prefix('_').unwrap_or(radix_digits))?;
            return int_value(u64::from_str_radix(&digits, radix).ok()?);
        }
    }
    let is_float = lower.contains('.') || (lower.contains('e') && !lower.ends_with('j'));
    if lower.ends_with('j') {
        return None;
    }
    if is_float {
        let (mantissa, exponent) = match lower.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (lower.as_str(), None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let mut clean = String::new();
        if !int_part.is_empty() {
            clean.push_str(&underscored(int_part)?);
        }
        clean.push('.');
        if !frac_part.is_empty() {
            clean.push_str(&underscored(frac_part)?);
        }
        if let Some(e) = exponent {
            let (sign, digits) = match e.strip_prefix(['+', '-']) {
                Some(d) => (&e[..1], d),
                None => ("", e),
            };
            clean.push('e');
            clean.push_str(sign);
            clean.push_str(&underscored(digits)?);
        }
        let f: f64 = format!("0{clean}").parse().ok()?;
        return Number::from_f64(f).map(Value::Number);
    }
    let digits = underscored(&lower)?;
    // Python 3 rejects leading zeros in decimal integers other than zero itself.
    if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
        return None;
    }
    int_value(digits.parse().ok()?)
}

fn int_value(n: u64) -> Option<Value> {
    Some(Value::from(n))
}

/// Digits with single `_` separators between them, separators removed.
fn underscored(text: &str) -> Option<String> {
    if text.is_empty() || text.starts_with('_') || text.ends_with('_') || text.contains("__") {
        return None;
    }
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    digits
        .chars()
        .all(|c| c.is_ascii_alphanumeric())
        .then_some(digits)
}

/// Python's `str()` of a scalar dict key.
fn key_string(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Null => Some("None".into()),
        _ => None,
    }
}
