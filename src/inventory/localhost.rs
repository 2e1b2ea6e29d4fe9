//! The implicit localhost: `localhost`, `127.0.0.1` and `::1` always resolve,
//! to a local-connection host, even when the inventory does not list them.

use super::{Host, Inventory};
use serde_json::{Map, Value};

pub(super) const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

fn local_vars() -> Map<String, Value> {
    let mut vars = Map::new();
    vars.insert("ansible_connection".into(), Value::from("local"));
    vars
}

impl Inventory {
    pub(super) fn builtin_inventory() -> Inventory {
        let mut inv = Inventory::empty();
        inv.add_host("localhost", "all", None, None);
        inv.hosts["localhost"].vars = local_vars();
        inv.reconcile();
        inv
    }

    /// Creates the implicit hosts unless one of the local names is a real
    /// host, which then stands in for all of them (as in Ansible).
    pub(super) fn add_implicit_localhost(&mut self) {
        self.implicit.clear();
        if self.explicit_localhost().is_none() {
            self.implicit = LOCAL_NAMES
                .iter()
                .map(|name| Host {
                    name: name.to_string(),
                    vars: local_vars(),
                    inventory_file: None,
                })
                .collect();
        }
    }

    /// The first host defined under one of the local names.
    fn explicit_localhost(&self) -> Option<&Host> {
        self.hosts
            .values()
            .find(|h| LOCAL_NAMES.contains(&h.name.as_str()))
    }

    /// The host a local name stands for when it is not itself in the inventory.
    pub(super) fn local_host(&self, name: &str) -> Option<&Host> {
        if !LOCAL_NAMES.contains(&name) {
            return None;
        }
        self.explicit_localhost()
            .or_else(|| self.implicit.iter().find(|h| h.name == name))
    }
}
