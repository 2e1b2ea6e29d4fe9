//! `inventory --list` and `--graph` output, shaped like `ansible-inventory`.

use super::Inventory;
use serde_json::{Map, Value};
use std::collections::HashSet;

impl Inventory {
    /// `--list` (`export` false: each host's merged vars, no group vars) or
    /// `--list --export` (vars where they were set).
    pub(super) fn list_json(&self, export: bool) -> Value {
        let mut out = Map::new();
        let mut seen = HashSet::new();
        self.list_group("all", export, &mut seen, &mut out);
        let mut hostvars = Map::new();
        for host in self.group_hosts("all") {
            let vars = if export {
                self.hosts[host].vars.clone()
            } else {
                self.merged_vars(host)
            };
            if !vars.is_empty() {
                hostvars.insert(host.to_string(), Value::Object(vars));
            }
        }
        let mut meta = Map::new();
        meta.insert("hostvars".into(), Value::Object(hostvars));
        out.insert("_meta".into(), Value::Object(meta));
        // `ansible-inventory` prints with sorted keys.
        sorted(Value::Object(out))
    }

    fn list_group<'a>(
        &'a self,
        name: &'a str,
        export: bool,
        seen: &mut HashSet<&'a str>,
        out: &mut Map<String, Value>,
    ) {
        let group = &self.groups[name];
        let mut entry = Map::new();
        if name != "all" && !group.hosts.is_empty() {
            entry.insert("hosts".into(), strings(&group.hosts));
        }
        if !group.children.is_empty() {
            entry.insert("children".into(), strings(&group.children));
        }
        if export {
            let vars = self.export_group_vars(name);
            if !vars.is_empty() {
                entry.insert("vars".into(), Value::Object(vars));
            }
        }
        if !entry.is_empty() {
            out.insert(name.to_string(), Value::Object(entry));
        }
        for child in &group.children {
            if seen.insert(child) {
                self.list_group(child, export, seen, out);
            }
        }
    }

    /// Inline vars, then `group_vars/` files, plus a non-default priority.
    fn export_group_vars(&self, name: &str) -> Map<String, Value> {
        let group = &self.groups[name];
        let mut vars = group.vars.clone();
        for layer in &self.layers {
            vars.extend(layer.groups.get(name).cloned().unwrap_or_default());
        }
        if group.priority != 1 {
            vars.insert("ansible_group_priority".into(), Value::from(group.priority));
        }
        vars
    }

    pub(super) fn graph_text(&self) -> String {
        let mut out = String::new();
        self.graph_group("all", 0, &mut out);
        out
    }

    fn graph_group(&self, name: &str, depth: usize, out: &mut String) {
        graph_line(&format!("@{name}:"), depth, out);
        let group = &self.groups[name];
        for child in &group.children {
            self.graph_group(child, depth + 1, out);
        }
        if name != "all" {
            for host in &group.hosts {
                graph_line(host, depth + 1, out);
            }
        }
    }
}

fn graph_line(name: &str, depth: usize, out: &mut String) {
    if depth > 0 {
        out.push_str(&"  |".repeat(depth));
        out.push_str("--");
    }
    out.push_str(name);
    out.push('\n');
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

/// Recursively sorts object keys; `!vault` values print as Ansible's JSON
/// encoder prints them.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(tag)), Some(Value::String(text))) =
                (map.get("__tag__"), map.get("value"))
                && tag == "vault"
                && map
                    .keys()
                    .all(|k| ["__tag__", "value", "__pos__"].contains(&k.as_str()))
            {
                let mut vault = Map::new();
                vault.insert("__ansible_vault".into(), Value::String(text.clone()));
                return Value::Object(vault);
            }
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
