//! `git`: a checkout of a repository at a version, on the target (which needs
//! `git`). The plan resolves the version with `git ls-remote` (read-only) and
//! compares it with the checkout's HEAD.
//!
//! Undo: a fresh clone is removed; an update checks out the prior commit.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::{Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target};
use super::{Undo, argx};
use crate::connection::sh_quote;
use serde_json::{Map, Value, json};

pub static GIT: ModuleSpec = ModuleSpec {
    name: "git",
    summary: "Check out a git repository at a version on the target",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("repo", Str, "Repository URL or path.").aliases(&["name"]),
        required("dest", Path, "Where the checkout lives on the target."),
        arg(
            "version",
            Str,
            "Branch, tag or full commit id (default HEAD: the remote's default branch).",
        ),
        arg(
            "force",
            Bool,
            "Discard local modifications in dest (default no: they fail the task).",
        ),
        arg(
            "update",
            Bool,
            "Move an existing checkout to the version (default yes).",
        ),
        arg("depth", Int, "Shallow clone with this many commits."),
        arg("clone", Bool, "Clone when dest is missing (default yes)."),
        arg(
            "accept_hostkey",
            Bool,
            "Accepted for compatibility; host keys follow the target's ssh settings.",
        ),
    ],
};

pub struct Git;

impl Module for Git {
    fn spec(&self) -> &'static ModuleSpec {
        &GIT
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let repo = match argx::string(args, "repo")? {
            Some(r) => r,
            None => argx::req_string(args, "name")?,
        };
        Ok(Box::new(Checkout {
            repo,
            dest: argx::req_string(args, "dest")?,
            version: argx::string(args, "version")?.unwrap_or_else(|| "HEAD".into()),
            force: argx::boolean(args, "force", false)?,
            update: argx::boolean(args, "update", true)?,
            clone: argx::boolean(args, "clone", true)?,
            depth: argx::number(args, "depth")?.map(|d| d.max(1.0) as u64),
            seen: None,
        }))
    }
}

struct Checkout {
    repo: String,
    dest: String,
    version: String,
    force: bool,
    update: bool,
    clone: bool,
    depth: Option<u64>,
    seen: Option<Seen>,
}

#[derive(Debug, Clone, Default)]
struct Seen {
    /// HEAD of the checkout, when dest is one.
    before: Option<String>,
    /// What `version` resolves to on the remote (or itself, for a commit id).
    after: String,
    /// `git status --porcelain` of the checkout.
    modified: bool,
    /// dest exists but is no checkout.
    not_a_checkout: bool,
}

fn is_commit_id(v: &str) -> bool {
    v.len() == 40 && v.chars().all(|c| c.is_ascii_hexdigit())
}

impl Checkout {
    fn seen(&self) -> &Seen {
        self.seen.as_ref().expect("observe runs first")
    }
}

impl Action for Checkout {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let d = sh_quote(&self.dest);
        let r = sh_quote(&self.repo);
        let v = sh_quote(&self.version);
        let resolve = if is_commit_id(&self.version) {
            format!("echo {}", self.version)
        } else {
            // Tags: the peeled commit (^{}) wins over the tag object.
            format!(
                r#"out=$(git ls-remote -- {r} {v} "refs/heads/"{v} "refs/tags/"{v} 2>&1) || {{ echo "$out" >&2; exit 3; }}
printf '%s\n' "$out" | awk '$2 ~ /\^\{{\}}$/ {{ p=$1 }} {{ if (!f) f=$1 }} END {{ print (p ? p : f) }}'"#
            )
        };
        let script = format!(
            r#"command -v git >/dev/null 2>&1 || {{ echo "git is not installed on the target" >&2; exit 2; }}
if [ -e {d} ] && [ ! -d {d}/.git ]; then echo "state=other"
elif [ -d {d}/.git ]; then
  echo "state=checkout"
  echo "head=$(git -C {d} rev-parse HEAD 2>/dev/null)"
  [ -n "$(git -C {d} status --porcelain --untracked-files=no 2>/dev/null)" ] && echo "modified=1"
else echo "state=absent"; fi
echo "after=$({resolve})"
"#
        );
        let out = t.exec(&script, None)?;
        if out.rc != 0 {
            return Err(ModuleError::new(format!(
                "git {}: {}",
                self.repo,
                out.stderr_str().trim()
            ))
            .with("rc", out.rc));
        }
        let text = out.stdout_str();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let after = get("after");
        if after.is_empty() {
            return Err(ModuleError::new(format!(
                "version {} was not found in {}",
                self.version, self.repo
            )));
        }
        self.seen = Some(Seen {
            before: Some(get("head")).filter(|h| !h.is_empty()),
            after,
            modified: get("modified") == "1",
            not_a_checkout: get("state") == "other",
        });
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let s = self.seen();
        if s.not_a_checkout {
            return Err(ModuleError::new(format!(
                "{} exists and is not a git checkout",
                self.dest
            )));
        }
        let Some(before) = &s.before else {
            if !self.clone {
                return Ok(None);
            }
            let mut args = Map::new();
            args.insert("path".into(), self.dest.clone().into());
            args.insert("state".into(), "absent".into());
            return Ok(Some(Change {
                summary: format!(
                    "clone {} at {} into {}",
                    self.repo,
                    short(&s.after),
                    self.dest
                ),
                diff: None,
                undo: Undo::Invoke {
                    module: "file".into(),
                    args,
                    summary: format!("remove the checkout {}", self.dest),
                },
                predictable: true,
                after: vec![],
            }));
        };
        if *before == s.after || !self.update {
            return Ok(None);
        }
        if s.modified && !self.force {
            return Err(ModuleError::new(format!(
                "Local modifications exist in the destination: {} (set force: yes to discard them)",
                self.dest
            )));
        }
        let args = json!({"repo": self.repo, "dest": self.dest, "version": before, "force": true});
        Ok(Some(Change {
            summary: format!(
                "update {} from {} to {}",
                self.dest,
                short(before),
                short(&s.after)
            ),
            diff: None,
            undo: Undo::Invoke {
                module: "git".into(),
                args: args.as_object().cloned().unwrap_or_default(),
                summary: format!("check out {} in {} again", short(before), self.dest),
            },
            predictable: true,
            after: vec![],
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let s = self.seen().clone();
        let d = sh_quote(&self.dest);
        let r = sh_quote(&self.repo);
        let sha = sh_quote(&s.after);
        let script = match &s.before {
            None => {
                let depth = self
                    .depth
                    .map(|n| format!("--depth {n} --no-single-branch "))
                    .unwrap_or_default();
                format!(
                    r#"git clone -q {depth}-- {r} {d} || exit 1
git -C {d} cat-file -e {sha}^{{commit}} 2>/dev/null || git -C {d} fetch -q origin {sha} || exit 1
git -C {d} checkout -q --detach {sha} || exit 1"#
                )
            }
            Some(_) => format!(
                r#"git -C {d} fetch -q --tags origin || exit 1
git -C {d} cat-file -e {sha}^{{commit}} 2>/dev/null || git -C {d} fetch -q origin {sha} || exit 1
git -C {d} checkout -q --force --detach {sha} || exit 1"#
            ),
        };
        t.run_ok(&script, None).map(|_| ())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        if let Some(s) = &self.seen {
            r.insert(
                "before".into(),
                s.before.clone().map(Value::from).unwrap_or(Value::Null),
            );
            r.insert("after".into(), s.after.clone().into());
        }
        r
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(8)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_forty_hex_digits() {
        assert!(is_commit_id(&"a".repeat(40)));
        assert!(!is_commit_id("main"));
        assert!(!is_commit_id(&"g".repeat(40)));
    }
}
