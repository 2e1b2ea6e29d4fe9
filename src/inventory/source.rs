//! Finding and reading inventory sources: the `-i` argument, directories of
//! inventory files, and the format of each file.

use super::model::Decrypt;
use super::read::read_text;
use super::vars_dirs::extension;
use super::{Inventory, InventoryError, address, ini_format, yaml_format};
use crate::diag::{Diagnostic, SourceFile, Span};
use crate::yaml::NodeKind;
use std::path::{Path, PathBuf};

/// Names Ansible never reads as inventory files inside an inventory directory.
const IGNORED_NAMES: [&str; 3] = ["group_vars", "host_vars", "vars_plugins"];
const IGNORED_SUFFIXES: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

impl Inventory {
    pub(super) fn load_spec(
        spec: &str,
        project_dir: &Path,
        decrypt: Option<Decrypt>,
    ) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::empty();
        inv.decrypt = decrypt;
        let base = match resolve(spec, project_dir) {
            Ok(path) if path.is_dir() => {
                inv.read_dir(&path)?;
                Some(path)
            }
            Ok(path) => {
                inv.read_file(&path)?;
                Some(path.parent().map(Path::to_path_buf).unwrap_or_default())
            }
            Err(_) if spec == "local" => return Ok(Inventory::builtin_local()),
            // `-i host1,host2` lists hosts inline, as with Ansible.
            Err(_) if spec.contains(',') => {
                inv.read_host_list(spec);
                None
            }
            Err(tried) => {
                return Err(InventoryError::NotFound {
                    spec: spec.to_string(),
                    tried,
                });
            }
        };
        inv.reconcile();
        inv.add_implicit_localhost();
        if let Some(base) = base {
            inv.load_vars_layer(&base)?;
        }
        Ok(inv)
    }

    /// Every inventory file in the directory, in name order, recursing into
    /// subdirectories (their own `group_vars/` are not read, as in Ansible).
    fn read_dir(&mut self, dir: &Path) -> Result<(), InventoryError> {
        let entries = std::fs::read_dir(dir).map_err(|source| InventoryError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let name = name.to_string_lossy();
            if name.starts_with('.')
                || IGNORED_NAMES.contains(&name.as_ref())
                || IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s))
            {
                continue;
            }
            let path = dir.join(name.as_ref());
            if path.is_dir() {
                self.read_dir(&path)?;
            } else {
                self.read_file(&path)?;
            }
        }
        Ok(())
    }

    /// One inventory file: `.yml`/`.yaml`/`.json` are YAML, `.ini` is INI,
    /// anything else is YAML if it reads as a mapping and INI otherwise.
    fn read_file(&mut self, path: &Path) -> Result<(), InventoryError> {
        let text = read_text(path, self.decrypt.as_ref())?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        match extension(&name) {
            Some("yml" | "yaml" | "json") => {
                let root = crate::yaml::load_str(path, &text)?;
                yaml_format::parse(self, &root, path)
            }
            Some("ini") => ini_format::parse(self, &text, path),
            Some("toml") => {
                let span = Span::new(SourceFile::new(path, text.as_str()), 1, 1);
                Err(Diagnostic::new(&span, "TOML inventories are not supported")
                    .with_hint("convert it to the YAML or INI inventory format")
                    .into())
            }
            _ => match crate::yaml::load_str(path, &text) {
                Ok(root) if matches!(root.kind, NodeKind::Map(_)) => {
                    yaml_format::parse(self, &root, path)
                }
                _ => ini_format::parse(self, &text, path),
            },
        }
    }

    fn read_host_list(&mut self, list: &str) {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, port) = address::parse_address(item)
                .filter(|(host, _)| !host.contains('['))
                .unwrap_or_else(|| (item.to_string(), None));
            self.add_host(&name, "ungrouped", port, None);
        }
    }
}

/// `NAME` means `<project>/inventory/NAME.yml|.yaml|.ini` or the file or
/// directory `<project>/inventory/NAME`; otherwise `spec` is a path, taken
/// from the working directory or else the project. On failure, the paths tried.
impl Inventory {
    /// A stable name for the inventory `spec` names, as the state store keys
    /// runs, locks and pending handlers: the source's canonical path, `local`
    /// for the built-in one, or the inline host list.
    pub fn key(spec: &str, project_dir: &Path) -> String {
        match resolve(spec, project_dir) {
            Ok(path) => std::fs::canonicalize(&path)
                .unwrap_or(path)
                .display()
                .to_string(),
            Err(_) if spec == "local" => "local".to_string(),
            Err(_) => format!("hosts:{spec}"),
        }
    }
}

fn resolve(spec: &str, project_dir: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let mut candidates = Vec::new();
    let is_name = !spec.is_empty() && !spec.contains('/') && spec != "." && spec != "..";
    if is_name {
        let dir = project_dir.join("inventory");
        for ext in ["yml", "yaml", "ini"] {
            candidates.push(dir.join(format!("{spec}.{ext}")));
        }
        candidates.push(dir.join(spec));
    }
    let path = PathBuf::from(spec);
    if path.is_relative() {
        candidates.push(path.clone());
        candidates.push(project_dir.join(&path));
    } else {
        candidates.push(path);
    }
    match candidates.iter().find(|p| p.exists()) {
        Some(found) => Ok(found.clone()),
        None => Err(candidates),
    }
}
