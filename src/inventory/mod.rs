//! Ansible inventories: YAML and INI files, directories of them with
//! `group_vars/` and `host_vars/`, host patterns, and variable precedence.
//!
//! Behaviour follows ansible-core. Deliberate differences: what Ansible only
//! warns about and skips (an unknown key in a YAML group, a file that no
//! format accepts, a malformed section) is an error here, with file, line and
//! column; inventory scripts, plugin configurations and TOML are refused.

mod address;
mod error;
pub mod glob;
mod ini_format;
mod localhost;
mod model;
mod pattern;
mod precedence;
mod range;
mod read;
mod render;
mod shlex;
mod source;
mod vars_dirs;
mod yaml_format;

#[cfg(test)]
mod tests;

pub use error::InventoryError;
pub use model::{Decrypt, Group, Host, Inventory};

use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::Path;

impl Inventory {
    /// Loads the `-i` argument. `NAME` means `<project>/inventory/NAME.yml`,
    /// `.yaml`, `.ini`, or the file or directory `<project>/inventory/NAME`;
    /// anything else is a path (from the working directory, else the project).
    /// A directory holds inventory files (read in name order, subdirectories
    /// too; `group_vars/` and `host_vars/` are skipped as files and read as
    /// variables). `local` with no such file is [`Inventory::builtin_local`];
    /// `h1,h2` with no such file lists hosts inline.
    pub fn load(spec: &str, project_dir: &Path) -> Result<Inventory, InventoryError> {
        Inventory::load_spec(spec, project_dir, None)
    }

    /// [`Inventory::load`], decrypting vault-encrypted inventory and vars files
    /// with `decrypt` (also used by later [`Inventory::add_vars_dirs`] calls).
    pub fn load_with_vault(
        spec: &str,
        project_dir: &Path,
        decrypt: Decrypt,
    ) -> Result<Inventory, InventoryError> {
        Inventory::load_spec(spec, project_dir, Some(decrypt))
    }

    /// One host `localhost` (in `all` and `ungrouped`) with
    /// `ansible_connection=local`; `ansible_python_interpreter` is left unset.
    pub fn builtin_local() -> Inventory {
        Inventory::builtin_inventory()
    }

    /// Reads `group_vars/` and `host_vars/` in `dir` (a playbook's directory).
    /// They rank above the inventory's own files at the same level; call in
    /// order when there are several directories, the last wins.
    pub fn add_vars_dirs(&mut self, dir: &Path) -> Result<(), InventoryError> {
        self.load_vars_layer(dir)
    }

    /// Host names matching an Ansible host pattern, in inventory order,
    /// deduplicated: `all`, `*`, group and host names, `a:b`, `a,b`, `a:&b`,
    /// `a:!b`, globs (`web*`), regexes (`~web\d+`, Rust `regex` syntax, anchored
    /// at the start like Python's `re.match`) and subscripts (`webs[0]`,
    /// `webs[1:3]` inclusive, `webs[-1]`). `localhost`, `127.0.0.1` and `::1`
    /// match an implicit local host when the inventory has none. Nothing
    /// matched → empty (callers warn); a malformed pattern (bad regex, stray
    /// bracket, subscript out of range) → error. Ansible silently drops stray
    /// brackets instead.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        self.select_hosts(pattern)
    }

    /// The host, or for `localhost`/`127.0.0.1`/`::1` the (implicit) local host.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name).or_else(|| self.local_host(name))
    }

    /// All hosts in definition order (not including the implicit localhost).
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// All groups in definition order, starting with `all` and `ungrouped`.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// The host's inventory variables merged in Ansible's order (later wins):
    /// inline vars of `all` < inline vars of the host's other groups sorted by
    /// (depth, `ansible_group_priority`, name) < `group_vars/all` files
    /// (inventory, then playbook directories) < `group_vars/<group>` files in
    /// the same group order (inventory, then playbook directories) < the
    /// host's own vars (inline, then `host_vars/` files). Empty for an unknown
    /// host.
    pub fn host_vars(&self, host: &str) -> Map<String, Value> {
        self.merged_vars(host)
    }

    /// `group_names`: the host's groups (direct or through children), sorted,
    /// without `all`. Like Ansible, a host in no other group gets `ungrouped`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        match self.host(host) {
            Some(h) => self.host_group_names(&h.name),
            None => Vec::new(),
        }
    }

    /// `groups`: every group (definition order, `all` and `ungrouped` first)
    /// to its hosts, including those of subgroups.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.all_groups_map()
    }

    /// `ansible-inventory --list`: groups with `hosts`/`children`, and
    /// `_meta.hostvars` with each host's merged variables; keys sorted.
    pub fn to_list_json(&self) -> Value {
        self.list_json(false)
    }

    /// `ansible-inventory --list --export`: group `vars` on the groups and only
    /// each host's own variables in `_meta.hostvars`.
    pub fn to_export_json(&self) -> Value {
        self.list_json(true)
    }

    /// `ansible-inventory --graph`: `@all:` then `  |--@group:` and
    /// `  |  |--host` lines, children in definition order; every line ends in a newline.
    pub fn graph(&self) -> String {
        self.graph_text()
    }
}
