//! A host's inventory variables, merged in Ansible's order (later wins):
//!
//! 1. inline vars of `all`
//! 2. inline vars of the host's other groups, sorted by (depth, priority, name)
//! 3. `group_vars/all` of the inventory, then of each playbook directory
//! 4. `group_vars/<group>` of the inventory for the sorted groups, then of
//!    each playbook directory
//! 5. the host's own vars (inline, then `host_vars/` files)
//!
//! So any `group_vars/` file outranks every group var written inline.

use super::{Group, Inventory};
use indexmap::IndexMap;
use serde_json::{Map, Value};

impl Inventory {
    pub(super) fn merged_vars(&self, host: &str) -> Map<String, Value> {
        let Some(h) = self.host(host) else {
            return Map::new();
        };
        let groups = self.sorted_groups(&h.name);
        let mut out = self.groups["all"].vars.clone();
        for g in &groups {
            out.extend(g.vars.clone());
        }
        for layer in &self.layers {
            out.extend(layer.groups.get("all").cloned().unwrap_or_default());
        }
        for layer in &self.layers {
            for g in &groups {
                out.extend(layer.groups.get(&g.name).cloned().unwrap_or_default());
            }
        }
        out.extend(h.vars.clone());
        out
    }

    /// The host's groups other than `all`, lowest precedence first.
    fn sorted_groups(&self, host: &str) -> Vec<&Group> {
        let mut groups: Vec<&Group> = self
            .groups_of(host)
            .iter()
            .filter(|g| *g != "all")
            .map(|g| &self.groups[g.as_str()])
            .collect();
        groups.sort_by(|a, b| (a.depth, a.priority, &a.name).cmp(&(b.depth, b.priority, &b.name)));
        groups
    }

    pub(super) fn host_group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups_of(host)
            .into_iter()
            .filter(|g| g != "all")
            .collect();
        names.sort();
        names
    }

    pub(super) fn all_groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| {
                let hosts = self.group_hosts(g).into_iter().map(String::from).collect();
                (g.clone(), hosts)
            })
            .collect()
    }
}
