//! The INI inventory format:
//!
//! ```ini
//! top-host                  # before any section: group "ungrouped"
//! [web]
//! web[01:03] http_port=8080 # values are Python literals
//! [web:vars]
//! proxy=proxy.example.com
//! [prod:children]
//! web
//! ```

use super::address::expand_host_pattern;
use super::{Inventory, InventoryError};
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::pyliteral::parse_value;
use indexmap::IndexMap;
use regex::Regex;
use std::path::Path;
use std::sync::{Arc, LazyLock};

static SECTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").unwrap());
static GROUP_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").unwrap());

#[derive(Clone, Copy, PartialEq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// A group used before it was declared; fine if declared later in the file.
struct Pending {
    span: Span,
    state: State,
    parents: Vec<String>,
}

pub(super) fn parse(inv: &mut Inventory, text: &str, path: &Path) -> Result<(), InventoryError> {
    let file = SourceFile::new(path, text);
    let mut parser = Parser {
        inv,
        file: file.clone(),
        path,
        pending: IndexMap::new(),
    };
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;
    for (index, raw) in file.text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let col = (raw.len() - raw.trim_start().len()) as u32 + 1;
        let span = Span::new(file.clone(), index as u32 + 1, col);
        if let Some(caps) = SECTION.captures(line) {
            group = caps[1].to_string();
            state = match caps.get(2).map(|m| m.as_str()) {
                None | Some("hosts") => State::Hosts,
                Some("vars") => State::Vars,
                Some("children") => State::Children,
                Some(other) => {
                    return Err(Diagnostic::new(
                        &span,
                        format!("section [{group}:{other}] has unknown type '{other}'"),
                    )
                    .with_hint("sections are [group], [group:vars] and [group:children]")
                    .into());
                }
            };
            parser.declare(&group, state, &span)?;
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(
                Diagnostic::new(&span, format!("invalid section header '{line}'"))
                    .with_hint("group names may not contain spaces, ':' or ']'")
                    .into(),
            );
        }
        match state {
            State::Hosts => parser.host_line(&group, line, &span)?,
            State::Vars => parser.var_line(&group, line, &span)?,
            State::Children => parser.child_line(&group, line, &span)?,
        }
    }
    // Report the first reference that was never declared.
    if let Some((name, p)) = parser.pending.first() {
        let message = match p.state {
            State::Vars => format!("section [{name}:vars] is for a group that is never defined"),
            _ => format!(
                "section [{}:children] names group '{name}', which is never defined",
                p.parents.last().map(String::as_str).unwrap_or_default()
            ),
        };
        return Err(Diagnostic::new(&p.span, message)
            .with_hint(format!("add a [{name}] section, even an empty one"))
            .into());
    }
    Ok(())
}

struct Parser<'a> {
    inv: &'a mut Inventory,
    file: Arc<SourceFile>,
    path: &'a Path,
    pending: IndexMap<String, Pending>,
}

impl Parser<'_> {
    /// A section header: `[g]` and `[g:children]` declare `g`; `[g:vars]`
    /// only refers to it.
    fn declare(&mut self, group: &str, state: State, span: &Span) -> Result<(), InventoryError> {
        if !self.inv.groups.contains_key(group) {
            if state == State::Vars && !self.pending.contains_key(group) {
                self.pending.insert(
                    group.to_string(),
                    Pending {
                        span: span.clone(),
                        state,
                        parents: Vec::new(),
                    },
                );
            }
            self.inv.add_group(group);
        }
        if state != State::Vars
            && let Some(p) = self.pending.shift_remove(group)
        {
            for parent in &p.parents {
                self.inv
                    .add_child(parent, group)
                    .map_err(|m| Diagnostic::new(&p.span, m))?;
            }
        }
        Ok(())
    }

    fn host_line(&mut self, group: &str, line: &str, span: &Span) -> Result<(), InventoryError> {
        let tokens = super::shlex::split(line)
            .map_err(|m| Diagnostic::new(span, format!("cannot split host line: {m}")))?;
        let Some((pattern, assignments)) = tokens.split_first() else {
            return Ok(());
        };
        let (names, port) = expand_host_pattern(pattern).map_err(|m| Diagnostic::new(span, m))?;
        if names.iter().any(|n| n == "---") {
            return Err(Diagnostic::new(span, "'---' is not a host name")
                .with_hint("this looks like a YAML file; name it with a .yml extension")
                .into());
        }
        let mut vars = Vec::new();
        for token in assignments {
            let Some((key, value)) = token.split_once('=') else {
                return Err(Diagnostic::new(
                    &self.span_of(span, token),
                    format!("expected key=value after the host name, got '{token}'"),
                )
                .into());
            };
            vars.push((key.to_string(), parse_value(value)));
        }
        for name in &names {
            self.inv.add_host(name, group, port, Some(self.path));
            for (k, v) in &vars {
                self.inv.set_host_var(name, k.clone(), v.clone());
            }
        }
        Ok(())
    }

    fn var_line(&mut self, group: &str, line: &str, span: &Span) -> Result<(), InventoryError> {
        let Some((key, value)) = line.split_once('=') else {
            return Err(Diagnostic::new(span, format!("expected key=value, got '{line}'")).into());
        };
        self.inv
            .set_group_var(group, key.trim().to_string(), parse_value(value.trim()))
            .map_err(|m| Diagnostic::new(span, m).into())
    }

    fn child_line(&mut self, group: &str, line: &str, span: &Span) -> Result<(), InventoryError> {
        let child = GROUP_NAME
            .captures(line)
            .map(|c| c[1].to_string())
            .ok_or_else(|| Diagnostic::new(span, format!("expected a group name, got '{line}'")))?;
        if self.inv.groups.contains_key(&child) {
            self.inv
                .add_child(group, &child)
                .map_err(|m| Diagnostic::new(span, m))?;
        } else {
            let p = self.pending.entry(child).or_insert_with(|| Pending {
                span: span.clone(),
                state: State::Children,
                parents: Vec::new(),
            });
            p.parents.push(group.to_string());
        }
        Ok(())
    }

    /// The span of `token` within the line, for errors about one word.
    fn span_of(&self, line: &Span, token: &str) -> Span {
        let text = self.file.line_text(line.line).unwrap_or_default();
        let col = text
            .find(token)
            .map(|i| text[..i].chars().count() as u32 + 1)
            .unwrap_or(line.col);
        Span::new(self.file.clone(), line.line, col)
    }
}
