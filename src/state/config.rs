//! `tbuddy.toml`: the project configuration. Only flat `key = "value"` lines
//! are needed so far, so a small reader does instead of a TOML library.
//! Keys under a `[table]` header and keys this version does not know are
//! ignored, so newer files still load.

use std::collections::HashMap;
use std::path::Path;

use super::StateError;

/// Top-level keys of `tbuddy.toml`: key → (1-based line, value).
pub type ProjectConfig = HashMap<String, (usize, String)>;

/// The project configuration, or `None` when the file does not exist.
pub fn read_project_config(file: &Path) -> Result<Option<ProjectConfig>, StateError> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io(file, e)),
    };
    parse(&text)
        .map(Some)
        .map_err(|(line, msg)| StateError::Config {
            file: file.to_path_buf(),
            line,
            msg,
        })
}

pub(super) fn parse(text: &str) -> Result<ProjectConfig, (usize, String)> {
    let mut out = HashMap::new();
    let mut top_level = true;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            top_level = false;
            continue;
        }
        let Some((key, rest)) = line.split_once('=') else {
            return Err((
                line_no,
                format!("expected `key = \"value\"`, found {line:?}"),
            ));
        };
        let key = key.trim().trim_matches('"');
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err((line_no, format!("invalid key {key:?}")));
        }
        let value = parse_value(rest.trim()).map_err(|msg| (line_no, format!("{key}: {msg}")))?;
        if top_level && out.insert(key.to_string(), (line_no, value)).is_some() {
            return Err((line_no, format!("duplicate key {key:?}")));
        }
    }
    Ok(out)
}

/// A basic `"…"` or literal `'…'` string, then optionally a `# comment`.
fn parse_value(v: &str) -> Result<String, String> {
    let mut chars = v.chars();
    let quote = match chars.next() {
        Some(q @ ('"' | '\'')) => q,
        _ => return Err(format!("expected a quoted string, found {v:?}")),
    };
    let mut out = String::new();
    loop {
        match chars.next() {
            None => return Err("unterminated string".into()),
            Some(c) if c == quote => break,
            Some('\\') if quote == '"' => match chars.next() {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                other => return Err(format!("unsupported escape \\{}", other.unwrap_or(' '))),
            },
            Some(c) => out.push(c),
        }
    }
    let tail = chars.as_str().trim();
    if !tail.is_empty() && !tail.starts_with('#') {
        return Err(format!("unexpected text after the value: {tail:?}"));
    }
    Ok(out)
}
