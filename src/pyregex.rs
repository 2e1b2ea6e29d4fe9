//! Python `re` compatibility on top of the `regex` crate.
//!
//! Playbooks carry patterns and replacement strings written for Python's `re`
//! module. [`compile`] rewrites the Python-only spellings into `regex` syntax
//! and refuses, with a clear message, what the `regex` crate cannot do
//! (lookaround, backreferences). [`expand_replacement`] turns a `re.sub`
//! template into the `${n}` form that `Regex::replace` expects.

use regex::{Regex, RegexBuilder};

/// Compiles a Python-style regular expression.
///
/// `ignorecase` and `multiline` mirror `re.IGNORECASE` and `re.MULTILINE`.
pub fn compile(pattern: &str, ignorecase: bool, multiline: bool) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    RegexBuilder::new(&translated)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))
}

/// Translates a Python `re.sub` replacement template into `regex` crate syntax.
///
/// `\1`, `\g<1>` and `\g<name>` become `${1}`/`${name}`, `\\` a backslash,
/// `\n`-style and octal escapes their characters, and `$` is doubled so it
/// stays literal. Like Python, an unknown escape of a non-letter keeps its
/// backslash.
pub fn expand_replacement(repl: &str) -> String {
    let chars: Vec<char> = repl.chars().collect();
    let mut out = String::with_capacity(repl.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '$' => out.push_str("$$"),
            '\\' if i < chars.len() => i = replacement_escape(&chars, i, &mut out),
            _ => out.push(c),
        }
    }
    out
}

/// Handles the escape whose first character is `chars[i]`; returns the index after it.
fn replacement_escape(chars: &[char], mut i: usize, out: &mut String) -> usize {
    let c = chars[i];
    i += 1;
    match c {
        'g' => {
            if let Some((name, next)) = group_name(chars, i) {
                out.push_str(&format!("${{{name}}}"));
                return next;
            }
            out.push_str("\\g");
        }
        '0'..='9' => return replacement_digits(chars, i - 1, out),
        '\\' => out.push('\\'),
        '$' => out.push_str("\\$$"),
        _ => match simple_escape(c) {
            Some(ch) => push_literal(out, ch),
            None => {
                out.push('\\');
                out.push(c);
            }
        },
    }
    i
}

/// Parses `<name>` starting at `chars[i]`; returns the name and the index after `>`.
fn group_name(chars: &[char], i: usize) -> Option<(String, usize)> {
    if chars.get(i) != Some(&'<') {
        return None;
    }
    let end = chars[i + 1..].iter().position(|&c| c == '>')? + i + 1;
    let name: String = chars[i + 1..end].iter().collect();
    let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    valid.then_some((name, end + 1))
}

/// Python's digit escapes in a template: octal character or group number.
fn replacement_digits(chars: &[char], i: usize, out: &mut String) -> usize {
    if let Some((ch, next)) = octal_escape(chars, i) {
        push_literal(out, ch);
        return next;
    }
    let mut end = i + 1;
    if chars.get(end).is_some_and(char::is_ascii_digit) {
        end += 1;
    }
    let num: String = chars[i..end].iter().collect();
    out.push_str(&format!("${{{num}}}"));
    end
}

/// An octal escape as Python reads it: `\0` plus up to two octal digits, or
/// exactly three octal digits. Returns the character and the index after it.
fn octal_escape(chars: &[char], i: usize) -> Option<(char, usize)> {
    let is_oct = |k: usize| chars.get(k).is_some_and(|c| ('0'..='7').contains(c));
    let end = if chars[i] == '0' {
        (i + 1..i + 3)
            .take_while(|&k| is_oct(k))
            .last()
            .unwrap_or(i)
            + 1
    } else if is_oct(i) && is_oct(i + 1) && is_oct(i + 2) {
        i + 3
    } else {
        return None;
    };
    let digits: String = chars[i..end].iter().collect();
    let code = u32::from_str_radix(&digits, 8).ok()?;
    Some((char::from_u32(code)?, end))
}

/// Single-letter escapes shared by Python patterns and templates.
fn simple_escape(c: char) -> Option<char> {
    Some(match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\x07',
        'f' => '\x0c',
        'v' => '\x0b',
        'b' => '\x08',
        _ => return None,
    })
}

fn push_literal(out: &mut String, ch: char) {
    if ch == '$' {
        out.push_str("$$");
    } else {
        out.push(ch);
    }
}

/// Rewrites a Python pattern into `regex` syntax.
fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut t = Translator {
        chars: &chars,
        pattern,
        out: String::with_capacity(pattern.len() + 8),
        i: 0,
    };
    while t.i < chars.len() {
        t.step()?;
    }
    Ok(t.out)
}

struct Translator<'a> {
    chars: &'a [char],
    pattern: &'a str,
    out: String,
    i: usize,
}

impl Translator<'_> {
    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.i + offset).copied()
    }

    fn rest_starts_with(&self, s: &str) -> bool {
        let mut k = self.i;
        s.chars().all(|c| {
            let ok = self.chars.get(k) == Some(&c);
            k += 1;
            ok
        })
    }

    fn unsupported(&self, what: &str) -> String {
        format!(
            "unsupported regular expression {:?}: {what} is not available (no lookaround or backreferences)",
            self.pattern
        )
    }

    /// Translates one token outside a character class.
    fn step(&mut self) -> Result<(), String> {
        let c = self.chars[self.i];
        match c {
            '\\' => self.escape(false),
            '[' => self.class(),
            '(' => self.group(),
            '{' => {
                self.brace();
                Ok(())
            }
            '}' => {
                self.out.push_str("\\}");
                self.i += 1;
                Ok(())
            }
            _ => {
                self.out.push(c);
                self.i += 1;
                Ok(())
            }
        }
    }

    /// `(` starts a group; refuse the constructs `regex` lacks and drop comments.
    fn group(&mut self) -> Result<(), String> {
        for (prefix, what) in [
            ("(?=", "lookahead (?=...)"),
            ("(?!", "negative lookahead (?!...)"),
            ("(?<=", "lookbehind (?<=...)"),
            ("(?<!", "negative lookbehind (?<!...)"),
            ("(?P=", "named backreference (?P=name)"),
            ("(?(", "conditional group (?(id)...)"),
        ] {
            if self.rest_starts_with(prefix) {
                return Err(self.unsupported(what));
            }
        }
        if self.rest_starts_with("(?#") {
            // Python comment group: skip to the closing parenthesis.
            while self.i < self.chars.len() && self.chars[self.i] != ')' {
                self.i += 1;
            }
            self.i += 1;
            return Ok(());
        }
        self.out.push('(');
        self.i += 1;
        Ok(())
    }

    /// `{` is a quantifier only in Python's `{m}`, `{m,}`, `{,n}`, `{m,n}` forms;
    /// anything else is a literal brace.
    fn brace(&mut self) {
        let rest = &self.chars[self.i + 1..];
        let Some(close) = rest.iter().position(|&c| c == '}') else {
            self.out.push_str("\\{");
            self.i += 1;
            return;
        };
        let body: String = rest[..close].iter().collect();
        let (min, max) = match body.split_once(',') {
            Some((a, b)) => (a, Some(b)),
            None => (body.as_str(), None),
        };
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        let valid = digits(min) && max.is_none_or(digits) && !(min.is_empty() && max.is_none());
        if !valid {
            self.out.push_str("\\{");
            self.i += 1;
            return;
        }
        let min = if min.is_empty() { "0" } else { min };
        match max {
            Some(max) => self.out.push_str(&format!("{{{min},{max}}}")),
            None => self.out.push_str(&format!("{{{min}}}")),
        }
        self.i += close + 2;
    }

    /// Copies a character class; Python has no nested classes or set operators,
    /// so `[`, `&`, `~` and a doubled `-` are literals there.
    fn class(&mut self) -> Result<(), String> {
        self.out.push('[');
        self.i += 1;
        if self.peek(0) == Some('^') {
            self.out.push('^');
            self.i += 1;
        }
        if self.peek(0) == Some(']') {
            self.out.push_str("\\]");
            self.i += 1;
        }
        let mut prev_dash = false;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(format!(
                    "invalid regular expression {:?}: unterminated character set",
                    self.pattern
                ));
            };
            match c {
                ']' => {
                    self.out.push(']');
                    self.i += 1;
                    return Ok(());
                }
                '\\' => self.escape(true)?,
                '[' | '&' | '~' => {
                    self.out.push('\\');
                    self.out.push(c);
                    self.i += 1;
                }
                '-' if prev_dash => {
                    self.out.push_str("\\-");
                    self.i += 1;
                }
                _ => {
                    self.out.push(c);
                    self.i += 1;
                }
            }
            prev_dash = c == '-';
        }
    }

    /// Translates a backslash escape; `in_class` changes the meaning of `\b`
    /// and of digits, as in Python.
    fn escape(&mut self, in_class: bool) -> Result<(), String> {
        let Some(c) = self.peek(1) else {
            return Err(format!(
                "invalid regular expression {:?}: trailing backslash",
                self.pattern
            ));
        };
        if c.is_ascii_digit() {
            return self.digit_escape(in_class);
        }
        self.i += 2;
        match c {
            'Z' => self.out.push_str("\\z"),
            'b' if in_class => self.out.push_str("\\x08"),
            // `regex` reads `\<` and `\>` as word boundaries; Python as literals.
            '<' | '>' => self.out.push(c),
            _ if c.is_ascii_alphanumeric() => {
                self.out.push('\\');
                self.out.push(c);
            }
            _ => {
                // Any other escaped character is a literal in Python.
                let mut buf = [0u8; 4];
                self.out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
            }
        }
        Ok(())
    }

    /// `\0`, octal escapes and (refused) numeric backreferences.
    fn digit_escape(&mut self, in_class: bool) -> Result<(), String> {
        let start = self.i + 1;
        if let Some((ch, next)) = octal_escape(self.chars, start) {
            self.out.push_str(&format!("\\x{{{:x}}}", ch as u32));
            self.i = next;
            return Ok(());
        }
        if in_class {
            return Err(format!(
                "invalid regular expression {:?}: bad escape in character set",
                self.pattern
            ));
        }
        Err(self.unsupported("backreference \\N"))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn re(p: &str) -> Regex {
        compile(p, false, false).unwrap()
    }

    fn sub(p: &str, repl: &str, s: &str) -> String {
        re(p).replace_all(s, expand_replacement(repl)).into_owned()
    }

    #[test]
    fn named_groups_and_anchors() {
        let r = re(r"(?P<k>\w+)=(?P<v>\w+)\Z");
        assert_eq!(&r.captures("a=b").unwrap()["v"], "b");
        assert!(!r.is_match("a=b\n"));
        assert!(re(r"\Aab").is_match("abc"));
    }

    #[test]
    fn flags() {
        assert!(compile("abc", true, false).unwrap().is_match("xABC"));
        assert!(!re("^b").is_match("a\nb"));
        assert!(compile("^b$", false, true).unwrap().is_match("a\nb\nc"));
    }

    #[test]
    fn lookaround_and_backrefs_refused() {
        for p in [
            "a(?=b)",
            "a(?!b)",
            "(?<=a)b",
            "(?<!a)b",
            r"(a)\1",
            "(?P<x>a)(?P=x)",
        ] {
            let err = compile(p, false, false).unwrap_err();
            assert!(err.contains("not available"), "{p}: {err}");
        }
    }

    #[test]
    fn literal_braces_and_brackets() {
        assert_eq!(re("{x}").find("a{x}").unwrap().as_str(), "{x}");
        assert_eq!(re("a{1,2").find("a{1,2").unwrap().as_str(), "a{1,2");
        assert_eq!(re("a{,2}").find("aaa").unwrap().as_str(), "aa");
        assert_eq!(re("a{2}").find("aaa").unwrap().as_str(), "aa");
        assert_eq!(re("[[]").find("x[").unwrap().as_str(), "[");
        assert_eq!(re("[]a]+").find("x]a]").unwrap().as_str(), "]a]");
        assert_eq!(re("[a&&b]+").find("a&b").unwrap().as_str(), "a&b");
        assert_eq!(re("[a~]+").find("~a").unwrap().as_str(), "~a");
        assert_eq!(re("}").find("a}").unwrap().as_str(), "}");
    }

    #[test]
    fn escapes() {
        assert_eq!(re(r"\<a\>").find("<a>").unwrap().as_str(), "<a>");
        assert_eq!(re(r"\/\-\'").find("/-'").unwrap().as_str(), "/-'");
        assert_eq!(re(r"\0").find("a\0").unwrap().as_str(), "\0");
        assert_eq!(re(r"\101").find("xA").unwrap().as_str(), "A");
        assert!(re(r"[\b]").is_match("\x08"));
        assert!(re(r"\bword\b").is_match("a word"));
        assert!(re(r"\d+\.\d+").is_match("1.2"));
        assert_eq!(re("a(?#note)b").find("ab").unwrap().as_str(), "ab");
        assert!(compile("a\\", false, false).is_err());
        assert!(compile("[a", false, false).is_err());
    }

    #[test]
    fn replacements() {
        assert_eq!(sub(r"(\w+) (\w+)", r"\2 \1", "hello world"), "world hello");
        assert_eq!(sub(r"(\w+)", r"\g<1>0", "ab"), "ab0");
        assert_eq!(sub(r"(?P<x>\w+)", r"<\g<x>>", "ab"), "<ab>");
        assert_eq!(sub("a", "$1", "a"), "$1");
        assert_eq!(sub("a", r"\\", "a"), "\\");
        assert_eq!(sub("a", r"\n", "a"), "\n");
        assert_eq!(sub("a", r"\-", "a"), "\\-");
        assert_eq!(sub("(a)", r"\10", "a"), "");
        assert_eq!(sub("a", r"\0", "a"), "\0");
        assert_eq!(sub("a", r"x\g", "a"), "x\\g");
    }

    #[test]
    fn expand_replacement_forms() {
        assert_eq!(
            expand_replacement(r"\1-\g<2>-\g<name>"),
            "${1}-${2}-${name}"
        );
        assert_eq!(expand_replacement("cost $5"), "cost $$5");
        assert_eq!(expand_replacement(r"\12"), "${12}");
        assert_eq!(expand_replacement(r"\$"), "\\$$");
    }
}
