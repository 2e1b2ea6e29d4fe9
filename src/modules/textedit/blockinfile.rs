//! `ansible.builtin.blockinfile`: a marked block of lines, inserted, updated
//! in place or removed.
//!
//! Markers are recognised only as whole lines ending in `\n`, exactly as the
//! module compares them, so a marker on an unterminated last line or with a
//! `\r\n` ending is not found and the block is inserted again.

use super::{compile, line_matches, split_universal};
use regex::Regex;
use std::sync::LazyLock;

pub use super::Edit;

/// Arguments of `blockinfile` that decide the new content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInFile {
    pub block: String,
    /// Marker template; `{mark}` becomes `marker_begin` or `marker_end`.
    pub marker: String,
    pub marker_begin: String,
    pub marker_end: String,
    /// `state: present` (true) or `state: absent`.
    pub present: bool,
    /// A regexp or `EOF`.
    pub insertafter: Option<String>,
    /// A regexp or `BOF`.
    pub insertbefore: Option<String>,
    pub append_newline: bool,
    pub prepend_newline: bool,
}

impl Default for BlockInFile {
    /// The module's defaults.
    fn default() -> Self {
        BlockInFile {
            block: String::new(),
            marker: "# {mark} ANSIBLE MANAGED BLOCK".into(),
            marker_begin: "BEGIN".into(),
            marker_end: "END".into(),
            present: true,
            insertafter: None,
            insertbefore: None,
            append_newline: false,
            prepend_newline: false,
        }
    }
}

/// Computes the new content for `blockinfile`.
///
/// `before` is the file's content, `None` when it does not exist (the caller
/// has already refused that unless `create` is set). Returns `Ok(None)` when
/// nothing changes; the message is "File created", "Block inserted" or
/// "Block removed".
pub fn blockinfile(before: Option<&str>, p: &BlockInFile) -> Result<Option<Edit>, String> {
    if p.insertbefore.is_some() && p.insertafter.is_some() {
        return Err("parameters are mutually exclusive: insertbefore|insertafter".into());
    }
    if !p.present && before.is_none() {
        return Ok(None);
    }
    let mut lines = split_universal(before.unwrap_or(""));

    let insertbefore = p.insertbefore.as_deref();
    let insertafter = match (p.insertafter.as_deref(), insertbefore) {
        (None, None) => Some("EOF"),
        (after, _) => after,
    };
    let position = match (insertafter, insertbefore) {
        (Some(a), _) if a != "EOF" => Some(a),
        (_, Some(b)) if b != "BOF" => Some(b),
        _ => None,
    };
    let position_re = position.map(compile).transpose()?;

    let begin = format!("{}\n", fill_marker(&p.marker, &p.marker_begin));
    let end = format!("{}\n", fill_marker(&p.marker, &p.marker_end));
    let block_lines: Vec<String> = if p.present && !p.block.is_empty() {
        let mut body = p.block.clone();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let mut v = vec![begin.clone()];
        v.extend(split_universal(&body));
        v.push(end.clone());
        v
    } else {
        Vec::new()
    };

    let n_begin = lines.iter().rposition(|l| *l == begin);
    let n_end = lines.iter().rposition(|l| *l == end);
    let mut at = match (n_begin, n_end) {
        // An existing block is dropped and the new one goes where it was, even
        // when the markers are in the wrong order.
        (Some(b), Some(e)) => {
            let (lo, hi) = if b < e { (b, e) } else { (e, b) };
            lines.drain(lo..=hi);
            lo
        }
        _ => match (&position_re, position) {
            // A position pattern comes from `insertafter` when that is set
            // (even to ""), else from `insertbefore`.
            (Some(re), Some(pattern)) if has_global_multiline(pattern) => {
                // A `(?m)` pattern is searched in the whole file: the block
                // goes after the line holding the match's end, or before the
                // line holding its start.
                let text = before.unwrap_or("");
                match re.find(text) {
                    Some(m) if insertafter.is_some() => {
                        let at = text[..m.end()].matches('\n').count() + 1;
                        if at > lines.len() {
                            // Ansible fails here too (an index error).
                            return Err(format!(
                                "insertafter {pattern:?} matches past the end of the file"
                            ));
                        }
                        at
                    }
                    Some(m) => text[..m.start()].matches('\n').count(),
                    None => lines.len(),
                }
            }
            (Some(re), _) => match lines.iter().rposition(|l| line_matches(re, l)) {
                Some(i) if insertafter.is_some() => i + 1,
                Some(i) => i,
                None => lines.len(),
            },
            (None, _) if insertbefore == Some("BOF") => 0,
            (None, _) => lines.len(),
        },
    };

    // The line before the block always gets a newline, even when the block
    // is empty, so removing a missing block can still add one.
    if at > 0 && !lines[at - 1].ends_with('\n') {
        lines[at - 1].push('\n');
    }
    if p.prepend_newline && p.present && at != 0 && lines[at - 1] != "\n" {
        lines.insert(at, "\n".into());
        at += 1;
    }
    let after_block = at + block_lines.len();
    let inserted = !block_lines.is_empty();
    lines.splice(at..at, block_lines);
    if p.append_newline && p.present && after_block < lines.len() && lines[after_block] != "\n" {
        lines.insert(after_block, "\n".into());
    }

    let after = lines.concat();
    let msg = match before {
        Some(b) if b == after => return Ok(None),
        None => "File created",
        Some(_) if inserted => "Block inserted",
        Some(_) => "Block removed",
    };
    Ok(Some(Edit {
        after,
        msg: msg.into(),
    }))
}

/// Puts `mark` into the marker template. Ansible substitutes with `re.sub`,
/// so escapes such as `\t` in `mark` are interpreted.
fn fill_marker(marker: &str, mark: &str) -> String {
    static MARK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\{mark\}").expect("constant pattern"));
    let replacement = crate::pyregex::expand_replacement(mark);
    MARK.replace_all(marker, replacement.as_str()).into_owned()
}

/// Whether the pattern turns on `re.MULTILINE` for the whole expression,
/// which Python only allows in leading inline flags such as `(?m)` or `(?im)`.
fn has_global_multiline(pattern: &str) -> bool {
    let mut rest = pattern;
    while let Some(group) = rest.strip_prefix("(?") {
        let Some(close) = group.find(')') else {
            return false;
        };
        let flags = &group[..close];
        if flags.is_empty() || !flags.chars().all(|c| "aiLmsux".contains(c)) {
            return false;
        }
        if flags.contains('m') {
            return true;
        }
        rest = &group[close + 1..];
    }
    false
}

#[cfg(test)]
mod tests {
    //! Expected results were recorded by running ansible-core 2.19's
    //! blockinfile (with `create: true` where the file was missing) on files
    //! with the same content.

    use super::*;
    use crate::modules::textedit::test_support::Expect::*;

    fn run(before: Option<&str>, args: &[(&str, &str)]) -> Result<Option<Edit>, String> {
        let mut p = BlockInFile::default();
        for &(k, v) in args {
            match k {
                "block" => p.block = v.into(),
                "marker" => p.marker = v.into(),
                "marker_begin" => p.marker_begin = v.into(),
                "marker_end" => p.marker_end = v.into(),
                "state" => p.present = v == "present",
                "insertafter" => p.insertafter = Some(v.into()),
                "insertbefore" => p.insertbefore = Some(v.into()),
                "append_newline" => p.append_newline = v == "true",
                "prepend_newline" => p.prepend_newline = v == "true",
                // Refusing a missing file without `create` is the caller's job.
                "create" => {}
                _ => panic!("unknown argument {k}"),
            }
        }
        blockinfile(before, &p)
    }

    ansible_cases! { run;
    insert_eof: Some("a\nb\n"), &[("block", "x\ny")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\ny\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    insert_eof_no_trailing_nl: Some("a\nb"), &[("block", "x")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    insert_empty_file: Some(""), &[("block", "x")] => Changed("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    create_missing: None, &[("block", "x"), ("create", "true")] => Changed("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "File created");
    create_missing_empty_block: None, &[("block", ""), ("create", "true")] => Changed("", "File created");
    replace_existing: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nb\n"), &[("block", "new")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nnew\n# END ANSIBLE MANAGED BLOCK\nb\n", "Block inserted");
    existing_same: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), &[("block", "x")] => Unchanged;
    remove_absent: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n"), &[("state", "absent")] => Changed("a\nb\n", "Block removed");
    remove_empty_block: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n"), &[("block", "")] => Changed("a\nb\n", "Block removed");
    absent_no_block: Some("a\n"), &[("state", "absent")] => Unchanged;
    absent_no_block_no_nl: Some("a"), &[("state", "absent")] => Changed("a\n", "Block removed");
    insertbefore_bof: Some("a\nb\n"), &[("block", "x"), ("insertbefore", "BOF")] => Changed("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\na\nb\n", "Block inserted");
    insertafter_regex: Some("a\nm\nb\nm\nc\n"), &[("block", "x"), ("insertafter", "^m")] => Changed("a\nm\nb\nm\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nc\n", "Block inserted");
    insertbefore_regex: Some("a\nm\nb\nm\nc\n"), &[("block", "x"), ("insertbefore", "^m")] => Changed("a\nm\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nm\nc\n", "Block inserted");
    insertafter_regex_nomatch: Some("a\nb\n"), &[("block", "x"), ("insertafter", "^zz")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    insertbefore_regex_nomatch: Some("a\nb\n"), &[("block", "x"), ("insertbefore", "^zz")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    custom_marker: Some("a\n"), &[("block", "x"), ("marker", "<!-- {mark} -->"), ("marker_begin", "start"), ("marker_end", "stop")] => Changed("a\n<!-- start -->\nx\n<!-- stop -->\n", "Block inserted");
    markers_reversed: Some("a\n# END ANSIBLE MANAGED BLOCK\nold\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n"), &[("block", "new")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nnew\n# END ANSIBLE MANAGED BLOCK\nb\n", "Block inserted");
    only_begin_marker: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n"), &[("block", "new")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nnew\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    marker_last_line_no_nl: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK"), &[("block", "x")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    crlf_markers: Some("a\r\n# BEGIN ANSIBLE MANAGED BLOCK\r\nx\r\n# END ANSIBLE MANAGED BLOCK\r\n"), &[("block", "x")] => Changed("a\r\n# BEGIN ANSIBLE MANAGED BLOCK\r\nx\r\n# END ANSIBLE MANAGED BLOCK\r\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    block_trailing_nl: Some("a\n"), &[("block", "x\n")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    block_crlf_inside: Some("a\n"), &[("block", "x\r\ny")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\r\ny\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    prepend_newline: Some("a\nb\n"), &[("block", "x"), ("prepend_newline", "true")] => Changed("a\nb\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    append_newline_eof: Some("a\nb\n"), &[("block", "x"), ("append_newline", "true")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    append_newline_mid: Some("a\nb\n"), &[("block", "x"), ("append_newline", "true"), ("insertafter", "^a")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nb\n", "Block inserted");
    prepend_append_bof: Some("a\n"), &[("block", "x"), ("prepend_newline", "true"), ("append_newline", "true"), ("insertbefore", "BOF")] => Changed("# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\na\n", "Block inserted");
    prepend_existing_blank: Some("a\n\n"), &[("block", "x"), ("prepend_newline", "true")] => Changed("a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    append_existing_blank: Some("a\n\nb\n"), &[("block", "x"), ("append_newline", "true"), ("insertafter", "^a")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n\nb\n", "Block inserted");
    prepend_replace_existing: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\n"), &[("block", "new"), ("prepend_newline", "true")] => Changed("a\n\n# BEGIN ANSIBLE MANAGED BLOCK\nnew\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    absent_with_prepend: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nb\n"), &[("state", "absent"), ("prepend_newline", "true"), ("append_newline", "true")] => Changed("a\nb\n", "Block removed");
    multiline_insertafter: Some("a\nm\nb\n"), &[("block", "x"), ("insertafter", "(?m)^m$")] => Changed("a\nm\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n", "Block inserted");
    multiline_insertbefore: Some("a\nm\nb\n"), &[("block", "x"), ("insertbefore", "(?m)^m$")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nm\nb\n", "Block inserted");
    multiline_insertafter_span: Some("a\nm\nn\nb\n"), &[("block", "x"), ("insertafter", "(?m)^m\\nn$")] => Changed("a\nm\nn\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n", "Block inserted");
    multiline_insertafter_last_no_nl: Some("a\nm"), &[("block", "x"), ("insertafter", "(?m)^m$")] => Changed("a\nm\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    insertafter_regex_last_no_nl: Some("a\nm"), &[("block", "x"), ("insertafter", "^m")] => Changed("a\nm\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    cr_lines: Some("a\rb\r"), &[("block", "x"), ("insertafter", "^a")] => Changed("a\r\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\r", "Block inserted");
    insertafter_eof_explicit: Some("a\n"), &[("block", "x"), ("insertafter", "EOF")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    regex_dollar: Some("a\nm\nb\n"), &[("block", "x"), ("insertbefore", "^m$")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nm\nb\n", "Block inserted");
    mutex: Some("a\n"), &[("block", "x"), ("insertbefore", "a"), ("insertafter", "b")] => Fails("parameters are mutually exclusive: insertbefore|insertafter");
    duplicate_blocks_last_pair: Some("# BEGIN ANSIBLE MANAGED BLOCK\n1\n# END ANSIBLE MANAGED BLOCK\n# BEGIN ANSIBLE MANAGED BLOCK\n2\n# END ANSIBLE MANAGED BLOCK\n"), &[("block", "n")] => Changed("# BEGIN ANSIBLE MANAGED BLOCK\n1\n# END ANSIBLE MANAGED BLOCK\n# BEGIN ANSIBLE MANAGED BLOCK\nn\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    existing_block_ignores_insertbefore: Some("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n"), &[("block", "y"), ("insertbefore", "BOF")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\ny\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    marker_mark_twice: Some("a\n"), &[("block", "x"), ("marker", "{mark}-{mark}")] => Changed("a\nBEGIN-BEGIN\nx\nEND-END\n", "Block inserted");
    absent_create_missing: None, &[("state", "absent"), ("create", "true")] => Unchanged;
    multiline_end_after_newline: Some("a\nm\nb\nc\n"), &[("block", "x"), ("insertafter", "(?m)^m\\n")] => Changed("a\nm\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nc\n", "Block inserted");
    multiline_nomatch: Some("a\nb\n"), &[("block", "x"), ("insertbefore", "(?m)^zz$")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    multiline_first_match_wins: Some("m\na\nm\n"), &[("block", "x"), ("insertafter", "(?m)^m$")] => Changed("m\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\na\nm\n", "Block inserted");
    nonmultiline_last_match_wins: Some("m\na\nm\nb\n"), &[("block", "x"), ("insertafter", "^m$")] => Changed("m\na\nm\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n", "Block inserted");
    insertbefore_empty_pattern: Some("a\nb\n"), &[("block", "x"), ("insertbefore", "")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n", "Block inserted");
    insertafter_empty_pattern: Some("a\nb\n"), &[("block", "x"), ("insertafter", "")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    insertafter_bof_is_a_pattern: Some("a\nb\n"), &[("block", "x"), ("insertafter", "BOF")] => Changed("a\nb\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    // Ansible dies with an IndexError here; this port fails cleanly instead.
    multiline_match_past_end: Some("a\nm\n"), &[("block", "x"), ("insertafter", "(?m)^m\\n")] => Fails("matches past the end of the file");
    multiline_empty_insertafter: Some("a\nb\n"), &[("block", "x"), ("insertafter", "(?m)")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nb\n", "Block inserted");
    marker_mark_escapes: Some("a\n"), &[("block", "x"), ("marker_begin", "B\\tX"), ("marker_end", "E$1")] => Changed("a\n# B\tX ANSIBLE MANAGED BLOCK\nx\n# E$1 ANSIBLE MANAGED BLOCK\n", "Block inserted");
    whitespace_only_block: Some("a\n"), &[("block", " ")] => Changed("a\n# BEGIN ANSIBLE MANAGED BLOCK\n \n# END ANSIBLE MANAGED BLOCK\n", "Block inserted");
    }
}
