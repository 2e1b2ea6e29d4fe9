//! Hosts, groups and the edges between them, with the bookkeeping Ansible
//! does once all sources are read (`all`/`ungrouped` membership, depths).

use super::vars_dirs::VarsLayer;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Turns the text of a vault-encrypted file into plain text; the error is a
/// message for the user (wrong password, unknown format).
pub type Decrypt = Arc<dyn Fn(&Path, &str) -> Result<String, String> + Send + Sync>;

#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub name: String,
    /// Variables set on the host itself: inline in the inventory, then its
    /// `host_vars/` files (inventory directory first, playbook directories after).
    pub vars: Map<String, Value>,
    /// The inventory file the host was first read from (`inventory_file`).
    pub inventory_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    /// Variables written in the inventory source for this group. Files in
    /// `group_vars/` are kept apart: they rank above every inline group var.
    pub vars: Map<String, Value>,
    /// Direct child groups, in the order they were added.
    pub children: Vec<String>,
    /// Hosts listed directly in this group, in the order they were added.
    pub hosts: Vec<String>,
    pub parents: Vec<String>,
    /// `ansible_group_priority` (default 1); not kept in `vars`.
    pub priority: i64,
    /// Longest distance from `all` (which is 0).
    pub depth: usize,
}

impl Group {
    fn new(name: &str) -> Self {
        Group {
            name: name.to_string(),
            vars: Map::new(),
            children: Vec::new(),
            hosts: Vec::new(),
            parents: Vec::new(),
            priority: 1,
            depth: 0,
        }
    }
}

/// Hosts and groups in definition order, plus the variable files found next
/// to the inventory and the playbooks.
#[derive(Clone)]
pub struct Inventory {
    pub(super) hosts: IndexMap<String, Host>,
    /// Always starts with `all` and `ungrouped`.
    pub(super) groups: IndexMap<String, Group>,
    /// Implicit `localhost`, `127.0.0.1` and `::1`, when none of them is a real host.
    pub(super) implicit: Vec<Host>,
    /// Host name to the groups listing it directly, in the order it joined them.
    pub(super) memberships: HashMap<String, Vec<String>>,
    /// `group_vars/` contents: the inventory's first, then each playbook directory's.
    pub(super) layers: Vec<VarsLayer>,
    pub(super) decrypt: Option<Decrypt>,
}

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("hosts", &self.hosts)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl Inventory {
    pub(super) fn empty() -> Self {
        let mut inv = Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            implicit: Vec::new(),
            memberships: HashMap::new(),
            layers: Vec::new(),
            decrypt: None,
        };
        inv.add_group("all");
        inv.add_group("ungrouped");
        inv.add_child("all", "ungrouped")
            .expect("a fresh inventory has no cycles");
        inv
    }

    pub(super) fn add_group(&mut self, name: &str) {
        if !self.groups.contains_key(name) {
            self.groups.insert(name.to_string(), Group::new(name));
        }
    }

    /// Adds the host (first definition fixes its order and port) to `group`.
    pub(super) fn add_host(
        &mut self,
        name: &str,
        group: &str,
        port: Option<u64>,
        source: Option<&Path>,
    ) {
        if !self.hosts.contains_key(name) {
            let mut vars = Map::new();
            if let Some(port) = port.filter(|&p| p != 0) {
                vars.insert("ansible_port".into(), Value::from(port));
            }
            self.hosts.insert(
                name.to_string(),
                Host {
                    name: name.to_string(),
                    vars,
                    inventory_file: source.map(Path::to_path_buf),
                },
            );
        }
        self.add_group(group);
        let joined = self.memberships.entry(name.to_string()).or_default();
        if !joined.iter().any(|g| g == group) {
            joined.push(group.to_string());
            self.groups[group].hosts.push(name.to_string());
        }
    }

    /// Makes `child` a subgroup of `parent`; both must exist. Refuses an edge
    /// that would make a group its own ancestor, naming the cycle.
    pub(super) fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        if parent == child {
            return Err(format!("group '{parent}' cannot be a child of itself"));
        }
        if self.groups[parent].children.iter().any(|c| c == child) {
            return Ok(());
        }
        if let Some(path) = self.path_down(child, parent) {
            return Err(format!(
                "making '{child}' a child of '{parent}' creates a cycle: {} -> {child}",
                path.join(" -> ")
            ));
        }
        self.groups[parent].children.push(child.to_string());
        let c = &mut self.groups[child];
        if !c.parents.iter().any(|p| p == parent) {
            c.parents.push(parent.to_string());
        }
        Ok(())
    }

    /// A chain of child edges from `from` down to `to`, if there is one.
    fn path_down(&self, from: &str, to: &str) -> Option<Vec<String>> {
        let mut came_from: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(g) = queue.pop_front() {
            if g == to {
                let mut path = vec![to.to_string()];
                let mut cur = to;
                while let Some(&prev) = came_from.get(cur) {
                    path.push(prev.to_string());
                    cur = prev;
                }
                path.reverse();
                return Some(path);
            }
            for c in &self.groups[g].children {
                if c != from && !came_from.contains_key(c.as_str()) {
                    came_from.insert(c, g);
                    queue.push_back(c);
                }
            }
        }
        None
    }

    pub(super) fn set_group_var(
        &mut self,
        group: &str,
        key: String,
        value: Value,
    ) -> Result<(), String> {
        let g = &mut self.groups[group];
        if key == "ansible_group_priority" {
            g.priority = priority(&value)
                .ok_or_else(|| format!("ansible_group_priority must be an integer, got {value}"))?;
        } else {
            g.vars.insert(key, value);
        }
        Ok(())
    }

    pub(super) fn set_host_var(&mut self, host: &str, key: String, value: Value) {
        self.hosts[host].vars.insert(key, value);
    }

    /// What Ansible settles after reading every source: parentless groups
    /// join `all`, hosts in no group join `ungrouped` (and leave it once they
    /// have another group), and group depths are fixed.
    pub(super) fn reconcile(&mut self) {
        let orphans: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.name != "all" && g.parents.is_empty())
            .map(|g| g.name.clone())
            .collect();
        for name in orphans {
            self.add_child("all", &name)
                .expect("a group without parents cannot close a cycle under all");
        }
        let hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for host in hosts {
            let groups = self.groups_of(&host);
            let others = groups.iter().any(|g| g != "all" && g != "ungrouped");
            if others {
                let joined = self.memberships.entry(host.clone()).or_default();
                if joined.iter().any(|g| g == "ungrouped") {
                    joined.retain(|g| g != "ungrouped");
                    self.groups["ungrouped"].hosts.retain(|h| *h != host);
                }
            } else {
                self.add_host(&host, "ungrouped", None, None);
            }
        }
        let mut depths = HashMap::new();
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for name in &names {
            let d = self.depth_of(name, &mut depths);
            self.groups[name.as_str()].depth = d;
        }
    }

    fn depth_of(&self, name: &str, memo: &mut HashMap<String, usize>) -> usize {
        if let Some(&d) = memo.get(name) {
            return d;
        }
        let d = self.groups[name]
            .parents
            .iter()
            .map(|p| self.depth_of(p, memo) + 1)
            .max()
            .unwrap_or(0);
        memo.insert(name.to_string(), d);
        d
    }

    /// The group and everything below it: itself, its children in order, then
    /// each further level breadth-first.
    pub(super) fn descendants(&self, group: &str) -> Vec<&str> {
        let Some(g) = self.groups.get(group) else {
            return Vec::new();
        };
        let mut order: Vec<&str> = vec![&g.name];
        let mut seen: HashSet<&str> = HashSet::from([g.name.as_str()]);
        let mut level = 0;
        while level < order.len() {
            let end = order.len();
            for i in level..end {
                for c in &self.groups[order[i]].children {
                    if seen.insert(c) {
                        order.push(c);
                    }
                }
            }
            level = end;
        }
        order
    }

    /// Every host of the group, directly or through subgroups, deduplicated.
    pub(super) fn group_hosts(&self, group: &str) -> Vec<&str> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for g in self.descendants(group) {
            for h in &self.groups[g].hosts {
                if seen.insert(h.as_str()) {
                    out.push(h.as_str());
                }
            }
        }
        out
    }

    /// Groups the host belongs to directly or through a child group, `all` included.
    pub(super) fn groups_of(&self, host: &str) -> Vec<String> {
        let mut out = self.memberships.get(host).cloned().unwrap_or_default();
        let mut i = 0;
        while i < out.len() {
            for p in &self.groups[out[i].as_str()].parents {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
            i += 1;
        }
        out
    }
}

/// Ansible takes the priority as a Python `int()` of the value.
fn priority(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}
