//! The YAML inventory format: top-level keys are groups (usually just `all`),
//! each a mapping of `hosts`, `vars` and `children`.
//!
//! ```yaml
//! all:
//!   hosts:
//!     web[01:03]:
//!       http_port: 8080
//!   children:
//!     db:
//!       hosts: {db1: , db2:2222: }
//!   vars: {ntp: time.example.com}
//! ```

use super::address::expand_host_pattern;
use super::{Inventory, InventoryError};
use crate::diag::Diagnostic;
use crate::yaml::{Node, NodeKind};
use std::path::Path;

const SECTIONS: [&str; 3] = ["hosts", "vars", "children"];

pub(super) fn parse(inv: &mut Inventory, root: &Node, path: &Path) -> Result<(), InventoryError> {
    let entries = match &root.kind {
        NodeKind::Null => return Ok(()),
        NodeKind::Map(entries) => entries,
        _ => {
            return Err(root
                .error(format!(
                    "a YAML inventory must be a mapping of groups, found a {}",
                    root.type_name()
                ))
                .with_hint("start with `all:` and list hosts under `hosts:`")
                .into());
        }
    };
    if let Some(plugin) = root.get("plugin") {
        return Err(plugin
            .error("inventory plugin configurations are not supported")
            .with_hint("write the hosts out as a YAML or INI inventory")
            .into());
    }
    let mut parser = Parser { inv, path };
    for (key, value) in entries {
        parser.group(key, Some(value))?;
    }
    Ok(())
}

struct Parser<'a> {
    inv: &'a mut Inventory,
    path: &'a Path,
}

impl Parser<'_> {
    /// Defines (or extends) the group named by `key`; returns its name.
    fn group(&mut self, key: &Node, def: Option<&Node>) -> Result<String, InventoryError> {
        let name = key
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                key.error(format!(
                    "a group name must be a string, found a {}",
                    key.type_name()
                ))
            })?
            .to_string();
        self.inv.add_group(&name);
        let entries = match def.map(|d| (d, &d.kind)) {
            None | Some((_, NodeKind::Null)) => return Ok(name),
            Some((_, NodeKind::Map(entries))) => entries,
            Some((def, _)) => {
                return Err(def
                    .error(format!(
                        "group '{name}' must be a mapping of hosts, vars and children, found a {}",
                        def.type_name()
                    ))
                    .into());
            }
        };
        for (k, v) in entries {
            let section = k.as_str().unwrap_or_default();
            if !SECTIONS.contains(&section) {
                return Err(unknown_key(k, &name).into());
            }
            for (item, value) in section_items(v, section, &name)? {
                match section {
                    "vars" => self
                        .inv
                        .set_group_var(
                            &name,
                            item.key_string(),
                            value.map_or(serde_json::Value::Null, Node::to_value),
                        )
                        .map_err(|m| value.unwrap_or(item).error(m))?,
                    "children" => {
                        let child = self.group(item, value)?;
                        self.inv
                            .add_child(&name, &child)
                            .map_err(|m| item.error(m))?;
                    }
                    _ => self.hosts(&name, item, value)?,
                }
            }
        }
        Ok(name)
    }

    fn hosts(
        &mut self,
        group: &str,
        key: &Node,
        vars: Option<&Node>,
    ) -> Result<(), InventoryError> {
        let pattern = key.as_str().ok_or_else(|| {
            key.error(format!(
                "a host name must be a string, found a {}",
                key.type_name()
            ))
            .with_hint("quote names that look like numbers")
        })?;
        let (names, port) = expand_host_pattern(pattern).map_err(|m| key.error(m))?;
        let vars = match vars.map(|v| &v.kind) {
            None | Some(NodeKind::Null) => &[][..],
            Some(NodeKind::Map(entries)) => entries.as_slice(),
            Some(_) => {
                let v = vars.unwrap_or(key);
                return Err(v
                    .error(format!(
                        "variables of host '{pattern}' must be a mapping, found a {}",
                        v.type_name()
                    ))
                    .into());
            }
        };
        for name in &names {
            self.inv.add_host(name, group, port, Some(self.path));
            for (k, v) in vars {
                self.inv.set_host_var(name, k.key_string(), v.to_value());
            }
        }
        Ok(())
    }
}

/// The entries of a `hosts`/`vars`/`children` section. A lone string names
/// one entry; null means none.
fn section_items<'n>(
    node: &'n Node,
    section: &str,
    group: &str,
) -> Result<Vec<(&'n Node, Option<&'n Node>)>, Diagnostic> {
    match &node.kind {
        NodeKind::Null => Ok(Vec::new()),
        NodeKind::Str(_) => Ok(vec![(node, None)]),
        NodeKind::Map(entries) => Ok(entries.iter().map(|(k, v)| (k, Some(v))).collect()),
        _ => Err(node
            .error(format!(
                "'{section}' of group '{group}' must be a mapping, found a {}",
                node.type_name()
            ))
            .with_hint(format!(
                "write each entry as a key: `{section}: {{name: }}` rather than a list"
            ))),
    }
}

fn unknown_key(key: &Node, group: &str) -> Diagnostic {
    let text = key.key_string();
    let suggestion = SECTIONS
        .iter()
        .find(|s| s.starts_with(text.as_str()) || text.starts_with(*s))
        .filter(|_| !text.is_empty());
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!(
            "a group holds only hosts, vars and children; to make '{text}' a subgroup, \
             put it under `children:`"
        ),
    };
    key.error(format!("unknown key '{text}' in group '{group}'"))
        .with_hint(hint)
}
