//! Saved plans (`plan --out FILE`, `apply FILE`): the steps a plan found,
//! the arguments that produced it, a checksum of every input file and a
//! fingerprint of every path state it observed on the hosts. Applying a saved
//! plan re-observes and refuses if anything drifted, so what is applied is
//! exactly what was reviewed. The file holds no secret in clear: no diffs, no
//! file contents, and extra variables that look secret only as a checksum.

use super::Plan;
use crate::modules::target::Observed;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The marker and version of the file format.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub tbuddy_plan: u32,
    pub tool_version: String,
    pub args: SavedArgs,
    /// Input file (relative to the project directory when inside it) → sha256.
    pub inputs: BTreeMap<String, String>,
    /// Host → path → fingerprint of the state the plan observed.
    pub observed: BTreeMap<String, Observed>,
    pub steps: Vec<SavedStep>,
}

/// What `apply FILE` needs to run the same playbook the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedArgs {
    pub playbook: String,
    pub inventory: String,
    pub limit: Option<String>,
    pub tags: Vec<String>,
    pub skip_tags: Vec<String>,
    /// The extra variables, unless some look secret (then only the checksum).
    pub extra_vars: Option<Value>,
    pub extra_vars_sha256: String,
    pub become_default: bool,
    pub become_user: Option<String>,
    pub remote_user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedStep {
    pub host: String,
    pub task: String,
    pub location: String,
    pub summary: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a tbuddy-deploy plan file: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
}

impl SavedStep {
    pub fn from_plan(plan: &Plan) -> Vec<SavedStep> {
        plan.steps
            .iter()
            .map(|s| SavedStep {
                host: s.host.clone(),
                task: crate::vault::taint::scrub(&s.task).into_owned(),
                location: s.location.clone(),
                summary: crate::vault::taint::scrub(&s.summary).into_owned(),
            })
            .collect()
    }
}

impl SavedPlan {
    /// Reads `path` if it is a saved plan; `Ok(None)` if it is something else
    /// (a playbook).
    pub fn detect(path: &Path) -> Result<Option<SavedPlan>, SavedPlanError> {
        let io = |source| SavedPlanError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut head = [0u8; 64];
        let n = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(io)?;
        let head = String::from_utf8_lossy(&head[..n]);
        if !head.trim_start().starts_with('{') || !head.contains("tbuddy_plan") {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let plan: SavedPlan = serde_json::from_str(&text).map_err(|e| SavedPlanError::Format {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        if plan.tbuddy_plan != FORMAT {
            return Err(SavedPlanError::Format {
                path: path.to_path_buf(),
                msg: format!(
                    "format {} (this tbuddy-deploy reads format {FORMAT})",
                    plan.tbuddy_plan
                ),
            });
        }
        Ok(Some(plan))
    }

    /// Written with mode 0600: it names hosts and paths.
    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| SavedPlanError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_string_pretty(self).expect("plans serialize");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)?;
        f.write_all(b"\n").map_err(io)
    }

    /// Input files whose checksum differs now, or that are gone or new.
    pub fn changed_inputs(&self, now: &BTreeMap<String, String>) -> Vec<String> {
        let mut out = Vec::new();
        for (path, sum) in &self.inputs {
            match now.get(path) {
                None => out.push(format!("{path}: removed")),
                Some(s) if s != sum => out.push(format!("{path}: changed")),
                _ => {}
            }
        }
        for path in now.keys().filter(|p| !self.inputs.contains_key(*p)) {
            out.push(format!("{path}: new"));
        }
        out
    }

    /// Paths whose state differs from what the plan observed.
    pub fn drift(&self, now: &BTreeMap<String, Observed>) -> Vec<String> {
        let mut out = Vec::new();
        for (host, paths) in &self.observed {
            let empty = Observed::new();
            let seen_now = now.get(host).unwrap_or(&empty);
            for (path, fp) in paths {
                match seen_now.get(path) {
                    Some(n) if n == fp => {}
                    Some(n) => out.push(format!("{host}: {path}: was `{fp}`, now `{n}`")),
                    None => out.push(format!("{host}: {path}: no longer looked at")),
                }
            }
        }
        out
    }
}

/// A checksum of extra variables, as the plan stores them.
pub fn vars_checksum(v: &Value) -> String {
    hex(&Sha256::digest(v.to_string().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Files next to a playbook that can change what it does.
const INPUT_DIRS: &[&str] = &[
    "templates",
    "files",
    "vars",
    "group_vars",
    "host_vars",
    "roles",
    "tasks",
    "handlers",
    "playbooks",
];

/// Checksums of the inputs of a run: the playbook, the YAML files beside it,
/// the conventional directories beside it (templates, files, vars, roles, …),
/// `tbuddy.toml`, and the inventory sources.
pub fn input_checksums(
    project: &Path,
    playbook: &Path,
    inventory_sources: &[PathBuf],
) -> Result<BTreeMap<String, String>, SavedPlanError> {
    let mut files = Vec::new();
    let dir = playbook
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    files.push(playbook.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_file() && (name.ends_with(".yml") || name.ends_with(".yaml")) {
                files.push(p);
            }
        }
    }
    for sub in INPUT_DIRS {
        collect(&dir.join(sub), &mut files);
    }
    let config = project.join("tbuddy.toml");
    if config.is_file() {
        files.push(config);
    }
    for src in inventory_sources {
        collect(src, &mut files);
    }
    let mut out = BTreeMap::new();
    for f in files {
        let sum = file_sha256(&f)?;
        let abs = std::fs::canonicalize(&f).unwrap_or(f.clone());
        let project = std::fs::canonicalize(project).unwrap_or(project.to_path_buf());
        let key = abs
            .strip_prefix(&project)
            .map(Path::to_path_buf)
            .unwrap_or(abs.clone());
        out.insert(key.display().to_string(), sum);
    }
    Ok(out)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        collect(&e.path(), out);
    }
}

fn file_sha256(path: &Path) -> Result<String, SavedPlanError> {
    let mut f = std::fs::File::open(path).map_err(|source| SavedPlanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|source| SavedPlanError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedPlan {
        SavedPlan {
            tbuddy_plan: FORMAT,
            tool_version: "t".into(),
            args: SavedArgs {
                playbook: "site.yml".into(),
                inventory: "local".into(),
                limit: None,
                tags: vec![],
                skip_tags: vec![],
                extra_vars: None,
                extra_vars_sha256: String::new(),
                become_default: false,
                become_user: None,
                remote_user: None,
            },
            inputs: BTreeMap::new(),
            observed: BTreeMap::new(),
            steps: vec![],
        }
    }

    #[test]
    fn inputs_report_changed_removed_and_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let pb = dir.path().join("site.yml");
        std::fs::write(&pb, "- hosts: all\n").unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/a.j2"), "x").unwrap();
        let before = input_checksums(dir.path(), &pb, &[]).unwrap();
        assert!(before.contains_key("templates/a.j2"), "{before:?}");
        let plan = SavedPlan {
            inputs: before,
            ..sample()
        };
        std::fs::write(dir.path().join("templates/a.j2"), "y").unwrap();
        std::fs::write(dir.path().join("templates/b.j2"), "z").unwrap();
        let now = input_checksums(dir.path(), &pb, &[]).unwrap();
        let changed = plan.changed_inputs(&now);
        assert_eq!(
            changed,
            vec!["templates/a.j2: changed", "templates/b.j2: new"]
        );
    }

    #[test]
    fn drift_names_host_and_path() {
        let mut seen = Observed::new();
        seen.insert("/etc/a".into(), "file 0644 root:root abc".into());
        let plan = SavedPlan {
            observed: BTreeMap::from([("web1".to_string(), seen.clone())]),
            ..sample()
        };
        assert!(
            plan.drift(&BTreeMap::from([("web1".to_string(), seen)]))
                .is_empty()
        );
        let mut other = Observed::new();
        other.insert("/etc/a".into(), "file 0644 root:root def".into());
        let d = plan.drift(&BTreeMap::from([("web1".to_string(), other)]));
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("web1: /etc/a: was"), "{d:?}");
    }
}
