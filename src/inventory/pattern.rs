//! Ansible host patterns: `a:b` / `a,b` (union), `a:&b` (intersection),
//! `a:!b` (exclusion), globs, `~regex`, and `[i]` / `[i:j]` subscripts.

use super::address::parse_address;
use super::localhost::LOCAL_NAMES;
use super::{Inventory, InventoryError};
use regex::Regex;
use std::collections::HashSet;
use std::sync::LazyLock;

/// One pattern word: runs of anything but blanks, `:` and brackets, or whole
/// bracketed expressions (so `web[0:2]` stays one word).
static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").unwrap());
static SUBSCRIPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$").unwrap());

#[derive(Debug, Clone, Copy, PartialEq)]
enum Subscript {
    Index(i64),
    /// Inclusive end; `None` runs to the last host.
    Range(usize, Option<usize>),
}

impl Inventory {
    pub(super) fn select_hosts(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        let err = |message: String| InventoryError::Pattern {
            pattern: pattern.to_string(),
            message,
        };
        let mut hosts: Vec<String> = Vec::new();
        for part in ordered(split(pattern).map_err(err)?) {
            // A plain host name needs no matching.
            if self.hosts.contains_key(&part) {
                hosts.push(part);
                continue;
            }
            let matched = self.match_one(&part).map_err(err)?;
            match part.chars().next() {
                Some('!') => {
                    let drop: HashSet<&str> = matched.into_iter().collect();
                    hosts.retain(|h| !drop.contains(h.as_str()));
                }
                Some('&') => {
                    let keep: HashSet<&str> = matched.into_iter().collect();
                    hosts.retain(|h| keep.contains(h.as_str()));
                }
                _ => {
                    let present: HashSet<String> = hosts.iter().cloned().collect();
                    hosts.extend(
                        matched
                            .into_iter()
                            .filter(|h| !present.contains(*h))
                            .map(String::from),
                    );
                }
            }
        }
        let mut seen = HashSet::new();
        hosts.retain(|h| seen.insert(h.clone()));
        Ok(hosts)
    }

    /// Hosts for one pattern word, ignoring its `&`/`!` prefix.
    fn match_one<'a>(&'a self, part: &str) -> Result<Vec<&'a str>, String> {
        let expr = part.strip_prefix(['&', '!']).unwrap_or(part);
        if expr.is_empty() {
            return Err(format!("'{part}' needs a group or host after it"));
        }
        let (expr, subscript) = split_subscript(expr);
        let hosts = self.enumerate(expr)?;
        apply_subscript(hosts, subscript)
            .ok_or_else(|| format!("no host at the subscript of '{part}'"))
    }

    /// Groups whose names match contribute all their hosts; host names are
    /// matched too when no group matched or the word is a glob or regex.
    fn enumerate(&self, expr: &str) -> Result<Vec<&str>, String> {
        let regex = match expr.strip_prefix('~') {
            // `re.match` semantics: anchored at the start only.
            Some(re) => Regex::new(&format!("^(?:{re})"))
                .map_err(|e| format!("invalid regular expression '{re}': {e}"))?,
            None => Regex::new(&super::glob::to_regex(expr))
                .map_err(|e| format!("invalid glob '{expr}': {e}"))?,
        };
        let mut out = Vec::new();
        let mut group_matched = false;
        for (name, _) in self.groups.iter().filter(|(n, _)| regex.is_match(n)) {
            group_matched = true;
            out.extend(self.group_hosts(name));
        }
        let special = expr.starts_with('~') || expr.contains(['.', '?', '*', '[']);
        if !group_matched || special {
            out.extend(
                self.hosts
                    .keys()
                    .filter(|h| regex.is_match(h))
                    .map(String::as_str),
            );
        }
        if out.is_empty()
            && LOCAL_NAMES.contains(&expr)
            && let Some(local) = self.local_host(expr)
        {
            out.push(&local.name);
        }
        Ok(out)
    }
}

/// Commas separate patterns; without commas, colons do, unless the whole
/// text is one address (`::1`, `host:22`, `web[1:3]`).
fn split(pattern: &str) -> Result<Vec<String>, String> {
    let pattern = pattern.trim();
    let parts: Vec<&str> = if pattern.contains(',') {
        pattern.split(',').collect()
    } else if parse_address(pattern).is_some() {
        vec![pattern]
    } else {
        let mut words = Vec::new();
        let mut last = 0;
        for m in WORD.find_iter(pattern) {
            check_gap(&pattern[last..m.start()])?;
            words.push(m.as_str());
            last = m.end();
        }
        check_gap(&pattern[last..])?;
        words
    };
    Ok(parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect())
}

/// Between words only separators may appear; anything else is a stray bracket.
fn check_gap(gap: &str) -> Result<(), String> {
    if gap.chars().all(|c| c == ':' || c.is_whitespace()) {
        Ok(())
    } else {
        Err(format!("unbalanced '[' or ']' near '{gap}'"))
    }
}

/// Unions first, then intersections, then exclusions; with no union at all
/// the base is `all`.
fn ordered(parts: Vec<String>) -> Vec<String> {
    let (mut regular, mut intersect, mut exclude) = (Vec::new(), Vec::new(), Vec::new());
    for p in parts {
        match p.chars().next() {
            Some('!') => exclude.push(p),
            Some('&') => intersect.push(p),
            _ => regular.push(p),
        }
    }
    if regular.is_empty() {
        regular.push("all".to_string());
    }
    regular
        .into_iter()
        .chain(intersect)
        .chain(exclude)
        .collect()
}

fn split_subscript(expr: &str) -> (&str, Option<Subscript>) {
    if expr.starts_with('~') {
        return (expr, None);
    }
    let Some(caps) = SUBSCRIPT.captures(expr) else {
        return (expr, None);
    };
    let base = caps.get(1).map_or(expr, |m| m.as_str());
    let subscript = match caps.get(2) {
        Some(index) => index.as_str().parse().ok().map(Subscript::Index),
        None => {
            let start = caps[3].parse().ok();
            let end = match &caps[5] {
                "" => Some(None),
                e => e.parse().ok().map(Some),
            };
            start.zip(end).map(|(s, e)| Subscript::Range(s, e))
        }
    };
    match subscript {
        Some(s) => (base, Some(s)),
        None => (expr, None),
    }
}

/// `None` when a single index is out of range.
fn apply_subscript(hosts: Vec<&str>, subscript: Option<Subscript>) -> Option<Vec<&str>> {
    let Some(subscript) = subscript.filter(|_| !hosts.is_empty()) else {
        return Some(hosts);
    };
    let len = hosts.len();
    let index = |i: i64| {
        let i = if i < 0 { len as i64 + i } else { i };
        usize::try_from(i).ok().filter(|&i| i < len)
    };
    match subscript {
        Subscript::Index(i) => Some(vec![hosts[index(i)?]]),
        // Ansible reads an explicit end of 0 as "just the start".
        Subscript::Range(start, Some(0)) => Some(vec![hosts[index(start as i64)?]]),
        Subscript::Range(start, end) => {
            let end = end.unwrap_or(len - 1).min(len - 1);
            Some(hosts.get(start..=end).unwrap_or_default().to_vec())
        }
    }
}
