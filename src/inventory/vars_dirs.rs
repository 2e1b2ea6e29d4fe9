//! `group_vars/` and `host_vars/` next to an inventory or a playbook.
//!
//! For an entity NAME the first of `NAME` (file or directory), `NAME.yml`,
//! `NAME.yaml`, `NAME.json` that exists is used; a directory contributes its
//! files (no extension or one of those three, recursively, in name order,
//! skipping hidden files and `~` backups), merged in that order.

use super::read::read_text;
use super::{Inventory, InventoryError};
use crate::yaml::NodeKind;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// The `group_vars/` of one directory, by group name.
#[derive(Debug, Clone, Default)]
pub(super) struct VarsLayer {
    pub groups: HashMap<String, Map<String, Value>>,
}

impl Inventory {
    /// Reads `dir/group_vars/` into a new layer and merges `dir/host_vars/`
    /// into each host's own vars (later directories win).
    pub(super) fn load_vars_layer(&mut self, dir: &Path) -> Result<(), InventoryError> {
        let mut layer = VarsLayer::default();
        let group_dir = dir.join("group_vars");
        if group_dir.is_dir() {
            for name in self.groups.keys() {
                let vars = self.read_entity(&group_dir, name)?;
                if !vars.is_empty() {
                    layer.groups.insert(name.clone(), vars);
                }
            }
        }
        self.layers.push(layer);
        let host_dir = dir.join("host_vars");
        if host_dir.is_dir() {
            let names: Vec<String> = self.hosts.keys().cloned().collect();
            for name in names {
                let vars = self.read_entity(&host_dir, &name)?;
                self.hosts[&name].vars.extend(vars);
            }
            for i in 0..self.implicit.len() {
                let vars = self.read_entity(&host_dir, &self.implicit[i].name)?;
                self.implicit[i].vars.extend(vars);
            }
        }
        Ok(())
    }

    fn read_entity(&self, dir: &Path, name: &str) -> Result<Map<String, Value>, InventoryError> {
        let mut vars = Map::new();
        // Names like `/srv/chroot` are paths, not file names.
        if name.starts_with('/') {
            return Ok(vars);
        }
        for file in find_vars_files(dir, name) {
            vars.extend(self.read_vars_file(&file)?);
        }
        Ok(vars)
    }

    pub(super) fn read_vars_file(&self, path: &Path) -> Result<Map<String, Value>, InventoryError> {
        let text = read_text(path, self.decrypt.as_ref())?;
        let node = crate::yaml::load_str(path, &text)?;
        match &node.kind {
            NodeKind::Null => Ok(Map::new()),
            NodeKind::Map(_) => match node.to_value() {
                Value::Object(map) => Ok(map),
                _ => unreachable!("a mapping node converts to an object"),
            },
            _ => Err(node
                .error(format!(
                    "a vars file must hold a mapping of variables, found a {}",
                    node.type_name()
                ))
                .into()),
        }
    }
}

fn find_vars_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let base = dir.join(name);
    let candidates = std::iter::once(base.clone()).chain(
        EXTENSIONS
            .iter()
            .map(|ext| PathBuf::from(format!("{}.{ext}", base.display()))),
    );
    for path in candidates {
        if path.is_dir() {
            return dir_files(&path);
        }
        if path.exists() {
            return vec![path];
        }
    }
    Vec::new()
}

fn dir_files(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = extension(&name);
        if path.is_dir() {
            if ext.is_none() {
                out.extend(dir_files(&path));
            }
        } else if ext.is_none_or(|e| EXTENSIONS.contains(&e)) {
            out.push(path);
        }
    }
    out
}

/// The extension as Python's `splitext` sees it: after the last dot, unless
/// that dot only starts the name.
pub(super) fn extension(name: &str) -> Option<&str> {
    let stem_start = name.len() - name.trim_start_matches('.').len();
    let dot = name[stem_start..].rfind('.')? + stem_start;
    Some(&name[dot + 1..])
}
