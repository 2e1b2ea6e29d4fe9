//! `pip`: Python packages in a virtualenv (or the target's python3). The plan
//! compares `pip list` with the wanted names, versions and requirements file;
//! `state: latest` asks the index (`pip index versions`), so it is only as
//! offline as the pip options given in `extra_args` make it.
//!
//! Undo: packages this installed are uninstalled, a changed version is put
//! back, a virtualenv this created is removed.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::{Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target};
use super::{Undo, argx};
use crate::connection::sh_quote;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub static PIP: ModuleSpec = ModuleSpec {
    name: "pip",
    summary: "Install Python packages into a virtualenv on the target",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        arg("name", List, "Package names, optionally with ==VERSION."),
        arg("version", Str, "The version for a single `name`."),
        arg(
            "requirements",
            Path,
            "A requirements file on the target (name or name==version lines).",
        ),
        arg(
            "virtualenv",
            Path,
            "The virtualenv to use, created when missing.",
        ),
        arg(
            "virtualenv_command",
            Str,
            "How to create it (default `python3 -m venv`).",
        ),
        arg(
            "state",
            Str,
            "present (default), latest, absent or forcereinstall.",
        )
        .choices(&["present", "latest", "absent", "forcereinstall"]),
        arg(
            "extra_args",
            Str,
            "More pip install options (e.g. --no-index --find-links DIR).",
        ),
        arg("executable", Path, "The pip to run without a virtualenv."),
        arg("chdir", Path, "Run pip in this directory."),
    ],
};

pub struct Pip;

impl Module for Pip {
    fn spec(&self) -> &'static ModuleSpec {
        &PIP
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let mut names: Vec<String> = match args.get("name") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            Some(other) => {
                return Err(ModuleError::new(format!(
                    "name: expected a list, got {other}"
                )));
            }
        };
        names.retain(|n| !n.is_empty());
        let version = argx::string(args, "version")?;
        if version.is_some() && names.len() != 1 {
            return Err(ModuleError::new("version needs exactly one name"));
        }
        let requirements = argx::string(args, "requirements")?;
        if names.is_empty() && requirements.is_none() {
            return Err(ModuleError::new("one of name or requirements is required"));
        }
        let wanted = names
            .iter()
            .map(|n| match (n.split_once("=="), &version) {
                (Some((p, v)), _) => (normalize(p), Some(v.trim().to_string())),
                (None, Some(v)) => (normalize(n), Some(v.clone())),
                (None, None) => (normalize(n), None),
            })
            .collect();
        Ok(Box::new(Install {
            wanted,
            requirements,
            venv: argx::string(args, "virtualenv")?,
            venv_cmd: argx::string(args, "virtualenv_command")?
                .unwrap_or_else(|| "python3 -m venv".into()),
            state: argx::choice(
                args,
                "state",
                &["present", "latest", "absent", "forcereinstall"],
                "present",
            )?,
            extra: argx::string(args, "extra_args")?.unwrap_or_default(),
            executable: argx::string(args, "executable")?,
            chdir: argx::string(args, "chdir")?,
            seen: None,
        }))
    }
}

/// pip's canonical form of a project name.
fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

struct Install {
    /// (normalized name, version) from `name`/`version`.
    wanted: Vec<(String, Option<String>)>,
    requirements: Option<String>,
    venv: Option<String>,
    venv_cmd: String,
    state: String,
    extra: String,
    executable: Option<String>,
    chdir: Option<String>,
    seen: Option<Seen>,
}

#[derive(Default, Clone)]
struct Seen {
    venv_exists: bool,
    installed: BTreeMap<String, String>,
    /// From the requirements file on the target.
    required: Vec<(String, Option<String>)>,
    /// For state=latest: the newest version the index offers, per name.
    latest: BTreeMap<String, String>,
}

impl Install {
    fn pip(&self) -> String {
        match (&self.venv, &self.executable) {
            (Some(v), _) => format!("{}/bin/pip", sh_quote(v)),
            (None, Some(e)) => sh_quote(e),
            (None, None) => "python3 -m pip".into(),
        }
    }

    fn cd(&self) -> String {
        self.chdir
            .as_ref()
            .map(|d| format!("cd {} || exit 1\n", sh_quote(d)))
            .unwrap_or_default()
    }

    fn all_wanted(&self) -> Vec<(String, Option<String>)> {
        let mut all = self.wanted.clone();
        if let Some(s) = &self.seen {
            all.extend(s.required.iter().cloned());
        }
        all
    }

    /// (name, version wanted or None, installed version or None) that need work.
    fn todo(&self) -> Vec<(String, Option<String>, Option<String>)> {
        let s = self.seen.as_ref().expect("observe runs first");
        let mut out = Vec::new();
        for (name, want) in self.all_wanted() {
            let have = s.installed.get(&name).cloned();
            let needs = match self.state.as_str() {
                "absent" => have.is_some(),
                "forcereinstall" => true,
                "latest" => match (&have, s.latest.get(&name)) {
                    (None, _) => true,
                    (Some(h), Some(l)) => h != l,
                    (Some(_), None) => false,
                },
                _ => match (&have, &want) {
                    (None, _) => true,
                    (Some(h), Some(w)) => h != w,
                    (Some(_), None) => false,
                },
            };
            if needs {
                let want = if self.state == "latest" {
                    s.latest.get(&name).cloned()
                } else {
                    want
                };
                out.push((name, want, have));
            }
        }
        out
    }
}

/// `name` and `name==version` lines of a requirements file; other lines
/// (options, comments, markers) are left to pip.
fn parse_requirements(text: &str) -> Vec<(String, Option<String>)> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .filter_map(|l| {
            let l = l.split(';').next().unwrap_or("").trim();
            match l.split_once("==") {
                Some((n, v)) => Some((normalize(n), Some(v.trim().to_string()))),
                None if l
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
                {
                    Some((normalize(l), None))
                }
                None => None,
            }
        })
        .collect()
}

impl Action for Install {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let mut seen = Seen::default();
        if let Some(v) = &self.venv {
            let out = t.exec(&format!("[ -x {}/bin/python ]", sh_quote(v)), None)?;
            seen.venv_exists = out.rc == 0;
        }
        if self.venv.is_none() || seen.venv_exists {
            let out = t.run_ok(
                &format!(
                    "{}{} list --format=freeze --disable-pip-version-check 2>/dev/null",
                    self.cd(),
                    self.pip()
                ),
                None,
            )?;
            seen.installed = out
                .stdout_str()
                .lines()
                .filter_map(|l| l.split_once("=="))
                .map(|(n, v)| (normalize(n), v.trim().to_string()))
                .collect();
        }
        if let Some(req) = &self.requirements {
            let out = t.run_ok(&format!("{}cat -- {}", self.cd(), sh_quote(req)), None)?;
            seen.required = parse_requirements(&out.stdout_str());
        }
        self.seen = Some(seen);
        if self.state == "latest" {
            let names: Vec<String> = self.all_wanted().into_iter().map(|(n, _)| n).collect();
            let mut latest = BTreeMap::new();
            for n in names {
                let out = t.exec(
                    &format!(
                        "{}{} index versions {} {} --disable-pip-version-check 2>&1",
                        self.cd(),
                        if self.venv.is_some() && !self.seen.as_ref().unwrap().venv_exists {
                            "python3 -m pip".to_string()
                        } else {
                            self.pip()
                        },
                        sh_quote(&n),
                        self.extra
                    ),
                    None,
                )?;
                if let Some(v) = out
                    .stdout_str()
                    .lines()
                    .next()
                    .and_then(|l| l.split_once('('))
                    .and_then(|(_, r)| r.split_once(')'))
                {
                    latest.insert(n, v.0.trim().to_string());
                }
            }
            self.seen.as_mut().expect("set above").latest = latest;
        }
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let s = self.seen.as_ref().expect("observe runs first");
        let todo = self.todo();
        let new_venv = self.venv.is_some() && !s.venv_exists && self.state != "absent";
        if todo.is_empty() && !new_venv {
            return Ok(None);
        }
        let mut parts = Vec::new();
        if new_venv {
            parts.push(format!(
                "create virtualenv {}",
                self.venv.as_deref().unwrap_or("")
            ));
        }
        for (n, want, have) in &todo {
            parts.push(match (self.state.as_str(), want, have) {
                ("absent", _, Some(h)) => format!("uninstall {n} {h}"),
                (_, Some(w), Some(h)) => format!("{n} {h} → {w}"),
                (_, Some(w), None) => format!("install {n} {w}"),
                (_, None, Some(h)) => format!("reinstall {n} {h}"),
                (_, None, None) => format!("install {n}"),
            });
        }
        let undo = if new_venv {
            let mut args = Map::new();
            args.insert("path".into(), self.venv.clone().unwrap_or_default().into());
            args.insert("state".into(), "absent".into());
            Undo::Invoke {
                module: "file".into(),
                args,
                summary: format!(
                    "remove the virtualenv {}",
                    self.venv.as_deref().unwrap_or("")
                ),
            }
        } else {
            self.inverse(&todo)
        };
        Ok(Some(Change {
            summary: format!("pip: {}", parts.join(", ")),
            diff: None,
            undo,
            predictable: true,
            after: vec![],
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let s = self.seen.clone().unwrap_or_default();
        let mut script = self.cd();
        if let Some(v) = &self.venv
            && !s.venv_exists
            && self.state != "absent"
        {
            script.push_str(&format!("{} {} || exit 1\n", self.venv_cmd, sh_quote(v)));
        }
        let todo = self.todo();
        if !todo.is_empty() {
            let specs: Vec<String> = todo
                .iter()
                .map(|(n, w, _)| match w {
                    Some(w) if self.state != "absent" => sh_quote(&format!("{n}=={w}")),
                    _ => sh_quote(n),
                })
                .collect();
            let verb = match self.state.as_str() {
                "absent" => "uninstall -y".to_string(),
                "forcereinstall" => "install --force-reinstall".into(),
                "latest" => "install -U".into(),
                _ => "install".into(),
            };
            let extra = if self.state == "absent" {
                ""
            } else {
                self.extra.as_str()
            };
            script.push_str(&format!(
                "{} {verb} --disable-pip-version-check -q {extra} {} || exit 1\n",
                self.pip(),
                specs.join(" ")
            ));
        }
        t.run_ok(&script, None).map(|_| ())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        let names: Vec<Value> = self
            .all_wanted()
            .into_iter()
            .map(|(n, _)| n.into())
            .collect();
        r.insert("name".into(), Value::Array(names));
        r.insert("state".into(), self.state.clone().into());
        if let Some(v) = &self.venv {
            r.insert("virtualenv".into(), v.clone().into());
        }
        r
    }
}

impl Install {
    /// The pip task that puts the touched packages back as they were.
    fn inverse(&self, todo: &[(String, Option<String>, Option<String>)]) -> Undo {
        let mut absent = Vec::new();
        let mut pinned = Vec::new();
        for (n, _, have) in todo {
            match have {
                None => absent.push(Value::from(n.clone())),
                Some(h) => pinned.push(Value::from(format!("{n}=={h}"))),
            }
        }
        if !absent.is_empty() && !pinned.is_empty() {
            return Undo::Irreversible(
                "one task both installed and changed packages; undo it by hand".into(),
            );
        }
        let (names, state) = if absent.is_empty() {
            (pinned, "present")
        } else {
            (absent, "absent")
        };
        let mut args = json!({"name": names, "state": state})
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (k, v) in [
            ("virtualenv", &self.venv),
            ("executable", &self.executable),
            ("chdir", &self.chdir),
        ] {
            if let Some(v) = v {
                args.insert(k.into(), v.clone().into());
            }
        }
        if state == "present" && !self.extra.is_empty() {
            args.insert("extra_args".into(), self.extra.clone().into());
        }
        Undo::Invoke {
            module: "pip".into(),
            summary: format!(
                "pip {} {}",
                if state == "absent" {
                    "uninstall"
                } else {
                    "reinstall"
                },
                args["name"]
            ),
            args,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_lines_and_names_normalize() {
        let r = parse_requirements(
            "# app\nRequests==2.31.0\nflask\n-r other.txt\nuvloop; sys_platform != 'win32'\nfoo>=1\n",
        );
        assert_eq!(
            r,
            vec![
                ("requests".into(), Some("2.31.0".into())),
                ("flask".into(), None),
                ("uvloop".into(), None),
            ]
        );
        assert_eq!(normalize("Zope.Interface_x"), "zope-interface-x");
    }
}
