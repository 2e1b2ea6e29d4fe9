//! Expected values come from ansible-core 2.19 (`ansible-inventory --list`,
//! `--graph`, `ansible PATTERN --list-hosts`) run on the same inputs.

mod format_ini;
mod format_yaml;
mod literals;
mod localhost;
mod patterns;
mod precedence;
mod ranges;
mod render;
mod sources;
mod vars_dirs;

use super::{Inventory, InventoryError};
use serde_json::Value;
use std::path::Path;

/// Writes `files` (relative path, text) under a fresh temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Loads one inventory file of the given name and text.
pub fn load_one(name: &str, text: &str) -> Result<Inventory, InventoryError> {
    let dir = tree(&[(name, text)]);
    Inventory::load(dir.path().join(name).to_str().unwrap(), dir.path())
}

pub fn ini(text: &str) -> Inventory {
    load_one("hosts.ini", text).unwrap()
}

pub fn yaml(text: &str) -> Inventory {
    load_one("hosts.yml", text).unwrap()
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The diagnostic behind an error, for checking positions and hints.
pub fn diag(err: InventoryError) -> crate::diag::Diagnostic {
    match err {
        InventoryError::Diag(d) => d,
        InventoryError::Yaml(y) => y.0,
        other => panic!("expected a diagnostic, got {other:?}"),
    }
}

pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn path_of(dir: &tempfile::TempDir, rel: &str) -> String {
    Path::new(dir.path()).join(rel).display().to_string()
}
