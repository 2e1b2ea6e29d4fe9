//! Pure text edits behind the `lineinfile` and `blockinfile` modules.
//!
//! The callers read the target file and hand its content here; these functions
//! only decide what the new content is and which message Ansible would report.
//! Files are handled as text with the target's own line endings, and lines are
//! split the way the Python modules split them, because that split decides
//! which lines compare equal (a `\r\n` line never equals its `\n` twin).

/// One test per recorded ansible-core run: `name: before, args => expected;`,
/// where `$run` turns `(before, args)` into the function's result.
#[cfg(test)]
macro_rules! ansible_cases {
    ($run:ident; $($name:ident: $before:expr, $args:expr => $expect:expr;)*) => {
        $(
            #[test]
            fn $name() {
                $crate::modules::textedit::test_support::check($run($before, $args), $expect);
            }
        )*
    };
}

pub mod blockinfile;
pub mod lineinfile;

use regex::{Captures, Regex};

/// A change to a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The complete new content.
    pub after: String,
    /// The message Ansible's module reports for this change.
    pub msg: String,
}

/// Splits like Python's `readlines()`: after every `\n`, keeping it; a final
/// line without a newline is kept as is.
fn split_lf(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// Splits like Python's `bytes.splitlines(keepends=True)`, which also ends a
/// line at a lone `\r`.
fn split_universal(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(text[start..=i].to_owned());
                start = i + 1;
            }
            b'\r' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                lines.push(text[start..=i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        lines.push(text[start..].to_owned());
    }
    lines
}

/// Compiles a Python-style pattern given as a module argument.
fn compile(pattern: &str) -> Result<Regex, String> {
    crate::pyregex::compile(pattern, false, false)
}

/// Python's `re.search` on one line that still carries its `\n`.
///
/// Python's `$` also matches just before a final newline, `regex`'s only at
/// the very end, so the line is also searched without that newline and the
/// leftmost match wins (ties go to the whole line). Patterns anchored with
/// `\Z` (`\z` once translated) must not match before the newline, so they
/// only see the whole line.
fn search_line<'h>(re: &Regex, line: &'h str) -> Option<Captures<'h>> {
    let whole = re.captures(line);
    let Some(body) = line.strip_suffix('\n').filter(|_| !has_end_of_text(re)) else {
        return whole;
    };
    let Some(short) = re.captures(body) else {
        return whole;
    };
    match whole {
        Some(w) if w.get(0).map(|m| m.start()) <= short.get(0).map(|m| m.start()) => Some(w),
        _ => Some(short),
    }
}

/// Whether Python would find `re` in `line`; see [`search_line`].
fn line_matches(re: &Regex, line: &str) -> bool {
    re.is_match(line)
        || line
            .strip_suffix('\n')
            .is_some_and(|body| !has_end_of_text(re) && re.is_match(body))
}

/// Whether the compiled pattern contains the `\z` anchor.
fn has_end_of_text(re: &Regex) -> bool {
    let mut chars = re.as_str().chars();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.next() == Some('z') {
            return true;
        }
    }
    false
}

/// Python truthiness of an optional string argument.
fn truthy(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod test_support {
    use super::Edit;

    /// What the real module did.
    pub enum Expect {
        Unchanged,
        /// New content and message.
        Changed(&'static str, &'static str),
        /// A failure whose message contains this text.
        Fails(&'static str),
    }

    pub fn check(got: Result<Option<Edit>, String>, expect: Expect) {
        match (expect, got) {
            (Expect::Unchanged, Ok(None)) => {}
            (Expect::Changed(after, msg), Ok(Some(edit))) => {
                assert_eq!(edit.after, after);
                assert_eq!(edit.msg, msg);
            }
            (Expect::Fails(msg), Err(e)) => assert!(e.contains(msg), "{e}"),
            (_, got) => panic!("unexpected {got:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_python() {
        assert_eq!(split_lf("a\nb\r\nc"), ["a\n", "b\r\n", "c"]);
        assert_eq!(split_lf(""), Vec::<String>::new());
        assert_eq!(
            split_universal("a\rb\r\nc\n\nd"),
            ["a\r", "b\r\n", "c\n", "\n", "d"]
        );
    }

    #[test]
    fn dollar_matches_before_final_newline() {
        let re = compile("^(a+)$").unwrap();
        assert_eq!(&search_line(&re, "aa\n").unwrap()[1], "aa");
        assert!(line_matches(&re, "aa"));
        assert!(!line_matches(&re, "aa\r\n"));
        let re = compile(r"a\s+$").unwrap();
        assert!(line_matches(&re, "a\n"));
        assert!(!line_matches(&compile("^$").unwrap(), "a\n"));
        assert!(!line_matches(&compile(r"a\Z").unwrap(), "a\n"));
        assert!(line_matches(&compile(r"a\Z").unwrap(), "a"));
        assert!(line_matches(&compile(r"\\z$").unwrap(), "\\z\n"));
    }
}
