//! `ansible.builtin.lineinfile`: ensure one line is present, replaced or absent.
//!
//! The quirks are deliberate, since playbooks depend on them: lines are
//! compared with their line ending (so a matched `\r\n` line is rewritten with
//! `\n`), a regexp match is replaced in preference to any insertion, and the
//! exact `line` found anywhere counts as "already there".

use super::{compile, line_matches, search_line, split_lf, truthy};
use regex::Regex;

pub use super::Edit;

/// The error for a missing file without `create`, for the caller to reword.
pub const FILE_DOES_NOT_EXIST: &str = "file does not exist";

/// Arguments of `lineinfile` that decide the new content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInFile {
    pub regexp: Option<String>,
    pub search_string: Option<String>,
    pub line: Option<String>,
    /// `state: present` (true) or `state: absent`.
    pub present: bool,
    /// A regexp, `EOF` or `BOF`.
    pub insertafter: Option<String>,
    /// A regexp or `BOF`.
    pub insertbefore: Option<String>,
    pub backrefs: bool,
    pub firstmatch: bool,
    pub create: bool,
}

impl Default for LineInFile {
    /// The module's defaults: `state: present`, every option unset.
    fn default() -> Self {
        LineInFile {
            regexp: None,
            search_string: None,
            line: None,
            present: true,
            insertafter: None,
            insertbefore: None,
            backrefs: false,
            firstmatch: false,
            create: false,
        }
    }
}

/// Computes the new content for `lineinfile`.
///
/// `before` is the file's content, `None` when it does not exist. Returns
/// `Ok(None)` when nothing changes, and `Err` with the module's failure
/// message otherwise ([`FILE_DOES_NOT_EXIST`] for a missing file without
/// `create`).
pub fn lineinfile(before: Option<&str>, p: &LineInFile) -> Result<Option<Edit>, String> {
    for (a, b, both) in [
        (
            "insertbefore",
            "insertafter",
            p.insertbefore.is_some() && p.insertafter.is_some(),
        ),
        (
            "regexp",
            "search_string",
            p.regexp.is_some() && p.search_string.is_some(),
        ),
        (
            "backrefs",
            "search_string",
            p.backrefs && p.search_string.is_some(),
        ),
    ] {
        if both {
            return Err(format!("parameters are mutually exclusive: {a}|{b}"));
        }
    }
    if p.present {
        if p.backrefs && p.regexp.is_none() {
            return Err("regexp is required with backrefs=true".into());
        }
        let Some(line) = p.line.as_deref() else {
            return Err("line is required with state=present".into());
        };
        present(before, p, line)
    } else {
        if p.regexp.is_none() && p.search_string.is_none() && p.line.is_none() {
            return Err(
                "one of line, search_string, or regexp is required with state=absent".into(),
            );
        }
        absent(before, p)
    }
}

/// The line with its ending removed, as Python's `rstrip(b'\r\n')` does.
fn bare(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn present(before: Option<&str>, p: &LineInFile, line: &str) -> Result<Option<Edit>, String> {
    if before.is_none() && !p.create {
        return Err(FILE_DOES_NOT_EXIST.into());
    }
    let mut lines = split_lf(before.unwrap_or(""));

    // Without either position the module behaves as `insertafter: EOF`.
    let insertbefore = p.insertbefore.as_deref();
    let insertafter = match (p.insertafter.as_deref(), insertbefore) {
        (None, None) => Some("EOF"),
        (after, _) => after,
    };
    let regexp = p.regexp.as_deref().map(compile).transpose()?;
    let position_re = match (insertafter, insertbefore) {
        (Some(a), _) if a != "BOF" && a != "EOF" => Some(compile(a)?),
        (_, Some(b)) if b != "BOF" => Some(compile(b)?),
        _ => None,
    };

    // A regexp or search_string hit decides the line to replace; only
    // without one do the exact line and the insert position matter.
    let mut replace_at = None;
    if let Some(re) = &regexp {
        replace_at = last_or_first(&lines, p.firstmatch, |l| line_matches(re, l));
    }
    if let Some(needle) = p.search_string.as_deref() {
        replace_at = last_or_first(&lines, p.firstmatch, |l| l.contains(needle));
    }
    let matched = replace_at.is_some();

    let mut insert_at = None;
    if !matched {
        for (i, cur) in lines.iter().enumerate() {
            if bare(cur) == line {
                // The exact line is looked for everywhere, even with firstmatch.
                replace_at = Some(i);
            } else if position_re.as_ref().is_some_and(|re| line_matches(re, cur)) {
                if truthy(insertafter) {
                    insert_at = Some(i + 1);
                } else if truthy(insertbefore) {
                    insert_at = Some(i);
                }
                // firstmatch stops the scan, even before a later exact line.
                if p.firstmatch && (truthy(insertafter) || truthy(insertbefore)) {
                    break;
                }
            }
        }
    }

    let new_line = format!("{line}\n");
    let msg = if let Some(idx) = replace_at {
        let mut replacement = match (&regexp, p.backrefs && matched) {
            (Some(re), true) => expand(re, &lines[idx], line)?,
            _ => line.to_owned(),
        };
        if !replacement.ends_with('\n') {
            replacement.push('\n');
        }
        if lines[idx] == replacement {
            return Ok(None);
        }
        lines[idx] = replacement;
        "line replaced"
    } else if p.backrefs {
        // Without a match there is nothing to fill the backreferences from.
        return Ok(None);
    } else if insertbefore == Some("BOF") || insertafter == Some("BOF") {
        lines.insert(0, new_line);
        "line added"
    } else if let Some(at) = insert_at {
        // Inserting after a match whose next line already is `line` changes
        // nothing; at the end of the file the last line counts instead, and
        // is not given a newline first, which joins the two lines as Ansible
        // does.
        if truthy(insertafter) {
            let neighbour = if at == lines.len() { at - 1 } else { at };
            if bare(&lines[neighbour]) == line {
                return Ok(None);
            }
        }
        lines.insert(at, new_line);
        "line added"
    } else {
        // `insertafter: EOF`, or a position pattern that matched nothing.
        if lines.last().is_some_and(|l| !l.ends_with(['\n', '\r'])) {
            lines.push("\n".into());
        }
        lines.push(new_line);
        "line added"
    };
    Ok(Some(Edit {
        after: lines.concat(),
        msg: msg.into(),
    }))
}

/// Index of the last line satisfying `pred`, or the first with `firstmatch`.
fn last_or_first(lines: &[String], firstmatch: bool, pred: impl Fn(&str) -> bool) -> Option<usize> {
    let mut hits = lines.iter().enumerate().filter(|(_, l)| pred(l));
    if firstmatch {
        hits.next().map(|(i, _)| i)
    } else {
        hits.last().map(|(i, _)| i)
    }
}

/// Python's `match.expand(line)` for `backrefs`.
fn expand(re: &Regex, cur: &str, template: &str) -> Result<String, String> {
    let caps = search_line(re, cur).ok_or("regexp no longer matches")?;
    let repl = crate::pyregex::expand_replacement(template);
    check_group_refs(re, &repl)?;
    let mut out = String::new();
    caps.expand(&repl, &mut out);
    Ok(out)
}

/// Python fails on a reference to a group the regexp does not have, where
/// `regex` would silently expand it to nothing.
fn check_group_refs(re: &Regex, repl: &str) -> Result<(), String> {
    let mut rest = repl;
    while let Some(pos) = rest.find('$') {
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
            continue;
        }
        let Some(inner) = rest.strip_prefix('{') else {
            continue;
        };
        let Some(end) = inner.find('}') else {
            continue;
        };
        let name = &inner[..end];
        let known = match name.parse::<usize>() {
            Ok(n) => n < re.captures_len(),
            Err(_) => re.capture_names().flatten().any(|n| n == name),
        };
        if !known {
            return Err(format!("invalid group reference {name}"));
        }
        rest = &inner[end + 1..];
    }
    Ok(())
}

fn absent(before: Option<&str>, p: &LineInFile) -> Result<Option<Edit>, String> {
    let Some(before) = before else {
        return Ok(None);
    };
    let regexp = p.regexp.as_deref().map(compile).transpose()?;
    let lines = split_lf(before);
    let is_target = |cur: &str| match (&regexp, &p.search_string, &p.line) {
        (Some(re), _, _) => line_matches(re, cur),
        (None, Some(needle), _) => cur.contains(needle.as_str()),
        (None, None, line) => line.as_deref() == Some(bare(cur)),
    };
    let (removed, kept): (Vec<_>, Vec<_>) = lines.into_iter().partition(|l| is_target(l));
    if removed.is_empty() {
        return Ok(None);
    }
    Ok(Some(Edit {
        after: kept.concat(),
        msg: format!("{} line(s) removed", removed.len()),
    }))
}

#[cfg(test)]
mod tests {
    //! Expected results were recorded by running ansible-core 2.19's
    //! lineinfile on files with the same content.

    use super::*;
    use crate::modules::textedit::test_support::Expect::*;

    fn run(before: Option<&str>, args: &[(&str, &str)]) -> Result<Option<Edit>, String> {
        let mut p = LineInFile::default();
        for &(k, v) in args {
            let s = Some(v.to_owned());
            match k {
                "regexp" => p.regexp = s,
                "search_string" => p.search_string = s,
                "line" => p.line = s,
                "state" => p.present = v == "present",
                "insertafter" => p.insertafter = s,
                "insertbefore" => p.insertbefore = s,
                "backrefs" => p.backrefs = v == "true",
                "firstmatch" => p.firstmatch = v == "true",
                "create" => p.create = v == "true",
                _ => panic!("unknown argument {k}"),
            }
        }
        lineinfile(before, &p)
    }

    ansible_cases! { run;
    append_eof: Some("a\nb\n"), &[("line", "c")] => Changed("a\nb\nc\n", "line added");
    already_present: Some("a\nb\n"), &[("line", "a")] => Unchanged;
    no_trailing_newline_append: Some("a\nb"), &[("line", "c")] => Changed("a\nb\nc\n", "line added");
    no_trailing_newline_present_last: Some("a\nb"), &[("line", "b")] => Changed("a\nb\n", "line replaced");
    empty_file: Some(""), &[("line", "x")] => Changed("x\n", "line added");
    regexp_replace_last: Some("k=1\nx\nk=2\n"), &[("regexp", "^k="), ("line", "k=3")] => Changed("k=1\nx\nk=3\n", "line replaced");
    regexp_replace_first: Some("k=1\nx\nk=2\n"), &[("regexp", "^k="), ("line", "k=3"), ("firstmatch", "true")] => Changed("k=3\nx\nk=2\n", "line replaced");
    regexp_same_no_change: Some("k=1\nk=3\n"), &[("regexp", "^k="), ("line", "k=3")] => Unchanged;
    regexp_dollar: Some("foo\nbar\n"), &[("regexp", "^foo$"), ("line", "baz")] => Changed("baz\nbar\n", "line replaced");
    regexp_nomatch_append: Some("a\n"), &[("regexp", "^zzz"), ("line", "c")] => Changed("a\nc\n", "line added");
    regexp_nomatch_line_exists: Some("c\na\n"), &[("regexp", "^zzz"), ("line", "c")] => Unchanged;
    insertafter_regex_last: Some("a\nm\nb\nm\nc\n"), &[("line", "X"), ("insertafter", "^m")] => Changed("a\nm\nb\nm\nX\nc\n", "line added");
    insertafter_regex_first: Some("a\nm\nb\nm\nc\n"), &[("line", "X"), ("insertafter", "^m"), ("firstmatch", "true")] => Changed("a\nm\nX\nb\nm\nc\n", "line added");
    insertbefore_regex_last: Some("a\nm\nb\nm\nc\n"), &[("line", "X"), ("insertbefore", "^m")] => Changed("a\nm\nb\nX\nm\nc\n", "line added");
    insertbefore_regex_first: Some("a\nm\nb\nm\nc\n"), &[("line", "X"), ("insertbefore", "^m"), ("firstmatch", "true")] => Changed("a\nX\nm\nb\nm\nc\n", "line added");
    insertafter_nomatch_eof: Some("a\nb\n"), &[("line", "X"), ("insertafter", "^zzz")] => Changed("a\nb\nX\n", "line added");
    insertbefore_nomatch_eof: Some("a\nb\n"), &[("line", "X"), ("insertbefore", "^zzz")] => Changed("a\nb\nX\n", "line added");
    insertbefore_bof: Some("a\nb\n"), &[("line", "X"), ("insertbefore", "BOF")] => Changed("X\na\nb\n", "line added");
    insertafter_bof: Some("a\nb\n"), &[("line", "X"), ("insertafter", "BOF")] => Changed("X\na\nb\n", "line added");
    insertafter_eof_explicit_no_nl: Some("a"), &[("line", "X"), ("insertafter", "EOF")] => Changed("a\nX\n", "line added");
    insertafter_last_line_no_nl: Some("a\nm"), &[("line", "X"), ("insertafter", "^m")] => Changed("a\nmX\n", "line added");
    insertafter_next_is_line: Some("m\nX\nb\n"), &[("line", "X"), ("insertafter", "^m"), ("regexp", "^zzz")] => Unchanged;
    insertafter_firstmatch_before_exact: Some("m\nb\nX\n"), &[("line", "X"), ("insertafter", "^m"), ("firstmatch", "true")] => Changed("m\nX\nb\nX\n", "line added");
    insertafter_exact_later: Some("m\nb\nX\n"), &[("line", "X"), ("insertafter", "^m")] => Unchanged;
    insertafter_at_end_prev_is_line: Some("a\nX\nm\n"), &[("line", "X"), ("insertafter", "^m"), ("regexp", "^X$")] => Unchanged;
    regexp_wins_over_insertafter: Some("a\nk=1\nm\n"), &[("line", "k=2"), ("regexp", "^k="), ("insertafter", "^a")] => Changed("a\nk=2\nm\n", "line replaced");
    insertbefore_prev_is_line: Some("X\nm\n"), &[("line", "X"), ("insertbefore", "^m"), ("regexp", "^zzz")] => Unchanged;
    backrefs_replace: Some("port=80\n"), &[("regexp", "^port=(\\d+)$"), ("line", "port=\\g<1>0"), ("backrefs", "true")] => Changed("port=800\n", "line replaced");
    backrefs_nomatch_nochange: Some("a\n"), &[("regexp", "^port=(\\d+)"), ("line", "port=\\1"), ("backrefs", "true")] => Unchanged;
    backrefs_named: Some("user: bob\n"), &[("regexp", "^user: (?P<n>\\w+)"), ("line", "owner: \\g<n>"), ("backrefs", "true")] => Changed("owner: bob\n", "line replaced");
    backrefs_dollar_literal: Some("PATH=/bin\n"), &[("regexp", "^PATH=(.*)$"), ("line", "PATH=\\1:$HOME/bin"), ("backrefs", "true")] => Changed("PATH=/bin:$HOME/bin\n", "line replaced");
    backrefs_with_create_missing: None, &[("regexp", "^a(.*)"), ("line", "b\\1"), ("backrefs", "true"), ("create", "true")] => Unchanged;
    search_string_replace: Some("opt /x/y\nother\n"), &[("search_string", "/x/y"), ("line", "opt /z")] => Changed("opt /z\nother\n", "line replaced");
    search_string_nomatch: Some("other\n"), &[("search_string", "/x/y"), ("line", "opt /z")] => Changed("other\nopt /z\n", "line added");
    search_string_regex_chars: Some("a.*b\naxxb\n"), &[("search_string", "a.*b"), ("line", "Q")] => Changed("Q\naxxb\n", "line replaced");
    search_string_firstmatch: Some("s1\ns2\n"), &[("search_string", "s"), ("line", "Q"), ("firstmatch", "true")] => Changed("Q\ns2\n", "line replaced");
    absent_regexp: Some("a1\nb\na2\n"), &[("regexp", "^a"), ("state", "absent")] => Changed("b\n", "2 line(s) removed");
    absent_line: Some("a\nb\na\r\na \n"), &[("line", "a"), ("state", "absent")] => Changed("b\na \n", "2 line(s) removed");
    absent_search_string: Some("xay\nb\n"), &[("search_string", "a"), ("state", "absent")] => Changed("b\n", "1 line(s) removed");
    absent_nomatch: Some("b\n"), &[("line", "a"), ("state", "absent")] => Unchanged;
    absent_missing_file: None, &[("line", "a"), ("state", "absent")] => Unchanged;
    missing_no_create: None, &[("line", "a")] => Fails("file does not exist");
    missing_create: None, &[("line", "a"), ("create", "true")] => Changed("a\n", "line added");
    crlf_exact_line: Some("a\r\nb\r\n"), &[("line", "a")] => Changed("a\nb\r\n", "line replaced");
    crlf_append: Some("a\r\nb\r\n"), &[("line", "c")] => Changed("a\r\nb\r\nc\n", "line added");
    crlf_regexp_dollar: Some("k=1\r\n"), &[("regexp", "^k=1$"), ("line", "k=2")] => Changed("k=1\r\nk=2\n", "line added");
    crlf_regexp: Some("k=1\r\nz\r\n"), &[("regexp", "^k="), ("line", "k=2")] => Changed("k=2\nz\r\n", "line replaced");
    line_exists_regexp_nomatch_firstmatch: Some("c\n"), &[("regexp", "^q"), ("line", "c"), ("firstmatch", "true")] => Unchanged;
    mutex_before_after: Some("a\n"), &[("line", "x"), ("insertbefore", "a"), ("insertafter", "b")] => Fails("parameters are mutually exclusive: insertbefore|insertafter");
    mutex_regexp_search: Some("a\n"), &[("line", "x"), ("regexp", "a"), ("search_string", "b")] => Fails("parameters are mutually exclusive: regexp|search_string");
    backrefs_no_regexp: Some("a\n"), &[("line", "x"), ("backrefs", "true")] => Fails("regexp is required with backrefs=true");
    no_line_present: Some("a\n"), &[("regexp", "a")] => Fails("line is required with state=present");
    absent_nothing: Some("a\n"), &[("state", "absent")] => Fails("one of line, search_string, or regexp is required with state=absent");
    bad_group_ref: Some("a\n"), &[("regexp", "^(a)"), ("line", "\\2"), ("backrefs", "true")] => Fails("invalid group reference 2");
    regex_spaces_end: Some("foo\n"), &[("regexp", "foo\\s+$"), ("line", "bar")] => Changed("bar\n", "line replaced");
    insertbefore_first_line: Some("m\na\n"), &[("line", "X"), ("insertbefore", "^m")] => Changed("X\nm\na\n", "line added");
    insertafter_empty_file_regex: Some(""), &[("line", "X"), ("insertafter", "^m")] => Changed("X\n", "line added");
    line_with_trailing_newline_replace: Some("k=1\n"), &[("regexp", "^k"), ("line", "k=2\n")] => Changed("k=2\n", "line replaced");
    line_multiline_value: Some("a\n"), &[("line", "x\ny")] => Changed("a\nx\ny\n", "line added");
    regexp_replace_unterminated_last: Some("a\nk=1"), &[("regexp", "^k="), ("line", "k=2")] => Changed("a\nk=2\n", "line replaced");
    insertbefore_eof_word: Some("a\nEOF\n"), &[("line", "X"), ("insertbefore", "EOF")] => Changed("a\nX\nEOF\n", "line added");
    backrefs_exact_line_exists: Some("x\n"), &[("regexp", "^zz(.*)"), ("line", "x"), ("backrefs", "true")] => Unchanged;
    backrefs_newline_escape: Some("a=1\n"), &[("regexp", "^a=(\\d)"), ("line", "a=\\1\\tb"), ("backrefs", "true")] => Changed("a=1\tb\n", "line replaced");
    backrefs_search_string: Some("a\n"), &[("search_string", "a"), ("line", "b"), ("backrefs", "true")] => Fails("parameters are mutually exclusive: backrefs|search_string");
    firstmatch_regexp_insertafter_ignored: Some("k=1\nm\nk=2\n"), &[("regexp", "^k"), ("line", "k=9"), ("insertafter", "^m"), ("firstmatch", "true")] => Changed("k=9\nm\nk=2\n", "line replaced");
    empty_regexp: Some("a\nb\n"), &[("regexp", ""), ("line", "z")] => Changed("a\nz\n", "line replaced");
    absent_regexp_multiple_crlf: Some("a\r\nb\r\nab\r\n"), &[("regexp", "a"), ("state", "absent")] => Changed("b\r\n", "2 line(s) removed");
    insertafter_last_match_is_last_line: Some("a\nm\n"), &[("line", "X"), ("insertafter", "^m")] => Changed("a\nm\nX\n", "line added");
    insertafter_eof_line_elsewhere: Some("X\na\n"), &[("line", "X"), ("insertafter", "EOF")] => Unchanged;
    insertbefore_bof_line_elsewhere: Some("a\nX\n"), &[("line", "X"), ("insertbefore", "BOF")] => Unchanged;
    bof_empty_missing_create: None, &[("line", "X"), ("insertbefore", "BOF"), ("create", "true")] => Changed("X\n", "line added");
    insertbefore_empty_pattern: Some("a\nb\n"), &[("line", "x"), ("insertbefore", "")] => Changed("a\nb\nx\n", "line added");
    insertafter_empty_pattern: Some("a\nb\n"), &[("line", "x"), ("insertafter", "")] => Changed("a\nb\nx\n", "line added");
    search_string_empty: Some("a\nb\n"), &[("line", "x"), ("search_string", "")] => Changed("a\nx\n", "line replaced");
    regexp_end_of_text_anchor: Some("foo\n"), &[("line", "x"), ("regexp", "foo\\Z")] => Changed("foo\nx\n", "line added");
    backrefs_optional_group_unmatched: Some("k=1\n"), &[("line", "[\\2]"), ("regexp", "^k=(1)?(2)?"), ("backrefs", "true")] => Changed("[]\n", "line replaced");
    cr_only_last: Some("a\r"), &[("line", "b")] => Changed("a\rb\n", "line added");
    }
}
