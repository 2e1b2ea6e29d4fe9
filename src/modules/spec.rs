//! Module arguments declared once: used to validate playbooks at load time,
//! to type-check templated arguments per host, and to generate the docs.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Str,
    Bool,
    Int,
    /// A path on the target or controller.
    Path,
    List,
    Dict,
    /// `mode`: an octal number or a symbolic/octal string.
    Mode,
    /// Anything: the module interprets it.
    Raw,
    /// A Jinja expression evaluated by the module (assert's `that`), not templated first.
    Expr,
}

#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    pub aliases: &'static [&'static str],
    pub choices: &'static [&'static str],
    pub doc: &'static str,
}

/// How a module behaves under `plan`/`--check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckSupport {
    /// Observes and predicts the exact change.
    Full,
    /// Cannot predict: reported as skipped in check mode (command, shell without creates/removes).
    Skipped,
    /// Changes nothing on hosts, so it runs normally in check mode (debug, set_fact, stat).
    ReadOnly,
}

#[derive(Debug)]
pub struct ModuleSpec {
    pub name: &'static str,
    pub summary: &'static str,
    /// Accepts a free-form string (`command: ls -l`), stored as `_raw_params`.
    pub free_form: bool,
    pub check: CheckSupport,
    pub args: &'static [ArgSpec],
    /// Takes arbitrary keys as well (set_fact).
    pub open_args: bool,
}

impl ModuleSpec {
    /// Finds an argument by name or alias.
    pub fn arg(&self, name: &str) -> Option<&'static ArgSpec> {
        self.args
            .iter()
            .find(|a| a.name == name || a.aliases.contains(&name))
    }

    pub fn arg_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.args.iter().map(|a| a.name)
    }
}

/// Shorthand for argument tables.
pub const fn arg(name: &'static str, kind: ArgKind, doc: &'static str) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: false,
        aliases: &[],
        choices: &[],
        doc,
    }
}

pub const fn required(name: &'static str, kind: ArgKind, doc: &'static str) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: true,
        aliases: &[],
        choices: &[],
        doc,
    }
}

impl ArgSpec {
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    pub const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }
}

/// The closest name in `candidates` to `name`, for "did you mean" hints.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Python-ish truthiness of a YAML/JSON argument value for boolean arguments.
pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "y" | "t" => Some(true),
            "no" | "off" | "0" | "false" | "n" | "f" | "" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_near_misses_only() {
        let names = ["path", "state", "mode", "owner"];
        assert_eq!(closest("stat", names.iter().copied()), Some("state"));
        assert_eq!(closest("ownr", names.iter().copied()), Some("owner"));
        assert_eq!(closest("recursive", names.iter().copied()), None);
    }

    #[test]
    fn bool_strings_follow_ansible() {
        assert_eq!(as_bool(&Value::from("yes")), Some(true));
        assert_eq!(as_bool(&Value::from("Off")), Some(false));
        assert_eq!(as_bool(&Value::from("maybe")), None);
    }
}
