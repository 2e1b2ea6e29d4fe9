//! `file`: make a path a file, directory, symlink, touched file, or absent.

use super::attrs::{AttrChange, Attrs};
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::target::{FileKind, FileState};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::connection::sh_quote;

pub static FILE: ModuleSpec = ModuleSpec {
    name: "file",
    summary: "Manage files, directories, symlinks and their attributes",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("path", Path, "The path to manage.").aliases(&["dest", "name"]),
        arg(
            "state",
            Str,
            "file (default when the path exists), directory, link, touch or absent.",
        )
        .choices(&["file", "directory", "link", "touch", "absent", "hard"]),
        arg("src", Path, "Link target for state=link."),
        arg(
            "recurse",
            Bool,
            "Apply mode/owner/group to everything below a directory.",
        ),
        arg(
            "force",
            Bool,
            "For state=link: replace an existing file with the link.",
        ),
        arg(
            "follow",
            Bool,
            "Accepted for compatibility; links are not followed.",
        ),
        arg("mode", Mode, "Permissions: octal or symbolic."),
        arg("owner", Str, "Owner name or uid."),
        arg("group", Str, "Group name or gid."),
    ],
};

pub struct File;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    File,
    Directory,
    Link,
    Touch,
    Absent,
}

impl Module for File {
    fn spec(&self) -> &'static ModuleSpec {
        &FILE
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let path = argx::req_string(args, "path")?;
        let state = argx::string(args, "state")?;
        let want = match state.as_deref() {
            None => None,
            Some("file") => Some(Want::File),
            Some("directory") => Some(Want::Directory),
            Some("link") => Some(Want::Link),
            Some("touch") => Some(Want::Touch),
            Some("absent") => Some(Want::Absent),
            Some("hard") => {
                return Err(ModuleError::new(
                    "state=hard is not supported; use state=link",
                ));
            }
            Some(other) => {
                return Err(ModuleError::new(format!(
                    "value of state must be one of: absent, directory, file, link, touch, got: {other}"
                )));
            }
        };
        let src = argx::string(args, "src")?;
        if want == Some(Want::Link) && src.is_none() {
            return Err(ModuleError::new("src is required for creating a link"));
        }
        let trimmed = path.trim_end_matches('/');
        Ok(Box::new(FileAction {
            path: if trimmed.is_empty() {
                "/".into()
            } else {
                trimmed.into()
            },
            want,
            src,
            attrs: Attrs::from_args(args)?,
            recurse: argx::boolean(args, "recurse", false)?,
            force: argx::boolean(args, "force", false)?,
            observed: None,
            recurse_differs: false,
            missing_root: None,
            final_state: None,
        }))
    }
}

struct FileAction {
    path: String,
    want: Option<Want>,
    src: Option<String>,
    attrs: Attrs,
    recurse: bool,
    force: bool,
    observed: Option<FileState>,
    /// With recurse: whether anything below the directory differs.
    recurse_differs: bool,
    /// The first missing ancestor a directory creation will make (what undo removes).
    missing_root: Option<String>,
    final_state: Option<&'static str>,
}

impl FileAction {
    fn st(&self) -> &FileState {
        self.observed.as_ref().expect("observe runs before diff")
    }

    /// The effective state: an omitted `state` means "file" unless the path is something else.
    fn want(&self) -> Want {
        self.want.unwrap_or(match self.st().kind {
            FileKind::Directory => Want::Directory,
            FileKind::Link => Want::Link,
            _ => Want::File,
        })
    }

    fn attr_change(&self) -> ModResult<AttrChange> {
        if self.st().exists() {
            self.attrs.changes(self.st(), None)
        } else {
            Ok(AttrChange {
                mode: self
                    .attrs
                    .mode_for_new(self.want() == Want::Directory, None)?,
                owner: self.attrs.owner.clone(),
                group: self.attrs.group.clone(),
            })
        }
    }

    fn change(&self, summary: String, undo: Undo) -> Option<Change> {
        Some(Change {
            summary,
            diff: None,
            undo,
            predictable: true,
            after: vec![(self.path.clone(), self.planned_state())],
        })
    }

    /// What the path will look like once the change is made.
    fn planned_state(&self) -> FileState {
        let st = self.st();
        let attrs = self.attr_change().unwrap_or_default();
        let (owner, group) = (attrs.owner.as_deref(), attrs.group.as_deref());
        match self.want() {
            Want::Absent => FileState::absent(),
            Want::Directory => {
                FileState::planned(st, FileKind::Directory, attrs.mode, owner, group)
            }
            Want::Link => FileState {
                link_target: self.src.clone(),
                ..FileState::planned(st, FileKind::Link, Some(0o777), owner, group)
            },
            Want::File | Want::Touch => {
                let content = if st.kind == FileKind::File {
                    st.content.clone().unwrap_or_default()
                } else {
                    Vec::new()
                };
                FileState {
                    sha1: st.sha1.clone(),
                    ..FileState::planned(st, FileKind::File, attrs.mode, owner, group)
                        .with_content(&content)
                }
            }
        }
    }
}

/// Prints the top-most missing ancestor-or-self of `path` (a new directory's
/// root): what undo removes and what gets the requested attributes.
fn missing_root_script(path: &str) -> String {
    format!(
        r#"root={p}; d=$(dirname -- {p})
while [ "$d" != / ] && [ "$d" != . ] && [ ! -e "$d" ] && [ ! -L "$d" ]; do root=$d; d=$(dirname -- "$d"); done
printf %s "$root""#,
        p = sh_quote(path)
    )
}

impl Action for FileAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        // What a removal or a replacement by a link destroys is kept for undo.
        let keep_content = matches!(self.want, Some(Want::Absent) | Some(Want::Link));
        let st = t.stat(&self.path, keep_content)?;
        if st.kind == FileKind::Directory && self.recurse && self.want != Some(Want::Absent) {
            self.recurse_differs = recursive_differs(t, &self.path, &self.attrs)?;
        }
        if !st.exists() && self.want == Some(Want::Directory) && t.planned.is_none() {
            // The top-most directory this task will create, found in one round trip.
            let out = t.run_ok(&missing_root_script(&self.path), None)?;
            let root = out.stdout_str();
            self.missing_root = Some(if root.is_empty() {
                self.path.clone()
            } else {
                root
            });
        } else if !st.exists() && self.want == Some(Want::Directory) {
            // In a plan, ancestors may exist only as planned: ask the target per path.
            let mut root = self.path.clone();
            let mut cur = std::path::Path::new(&self.path).parent();
            while let Some(parent) = cur.filter(|p| !p.as_os_str().is_empty()) {
                let ps = parent.to_string_lossy().into_owned();
                if t.stat(&ps, false)?.exists() {
                    break;
                }
                root = ps;
                cur = parent.parent();
            }
            self.missing_root = Some(root);
        }
        self.observed = Some(st);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let st = self.st();
        let path = &self.path;
        let prior = || Undo::Restore {
            path: path.clone(),
            prior: st.prior(),
        };
        Ok(match self.want() {
            Want::Absent => match st.kind {
                FileKind::Absent => None,
                FileKind::Directory => self.change(
                    format!("remove directory {path} and its contents"),
                    Undo::Irreversible(format!("removed directory {path} is not kept")),
                ),
                _ => self.change(format!("remove {path}"), prior()),
            },
            Want::File => match st.kind {
                FileKind::Absent => {
                    return Err(ModuleError::new(format!(
                        "file ({path}) is absent, cannot continue"
                    ))
                    .with("path", path.clone())
                    .with("state", "absent"));
                }
                FileKind::File | FileKind::Link | FileKind::Other => {
                    let ch = self.attr_change()?;
                    (!ch.is_empty())
                        .then(|| self.change(format!("set {} on {path}", ch.describe()), prior()))
                        .flatten()
                }
                FileKind::Directory => {
                    return Err(ModuleError::new(format!(
                        "{path} is a directory, cannot continue with state=file"
                    )));
                }
            },
            Want::Directory => match st.kind {
                FileKind::Absent => self.change(
                    format!("create directory {path}"),
                    Undo::Create {
                        path: self.missing_root.clone().unwrap_or_else(|| path.clone()),
                    },
                ),
                FileKind::Directory => {
                    let ch = self.attr_change()?;
                    if ch.is_empty() && !self.recurse_differs {
                        None
                    } else {
                        let what = if ch.is_empty() {
                            "attributes below".to_string()
                        } else {
                            ch.describe()
                        };
                        let undo = if self.recurse_differs {
                            Undo::Irreversible(format!(
                                "the prior attributes of what is below {path} are not recorded"
                            ))
                        } else {
                            prior()
                        };
                        self.change(format!("set {what} on {path}"), undo)
                    }
                }
                _ => {
                    return Err(ModuleError::new(format!(
                        "there was an issue creating {path} as requested: it exists and is not a directory"
                    )));
                }
            },
            Want::Link => {
                let src = self.src.clone().unwrap_or_default();
                match st.kind {
                    FileKind::Absent => self.change(
                        format!("link {path} -> {src}"),
                        Undo::Create { path: path.clone() },
                    ),
                    FileKind::Link if st.link_target.as_deref() == Some(src.as_str()) => {
                        let ch = self.attrs.changes(st, None)?;
                        let ch = AttrChange { mode: None, ..ch };
                        (!ch.is_empty())
                            .then(|| {
                                self.change(format!("set {} on {path}", ch.describe()), prior())
                            })
                            .flatten()
                    }
                    FileKind::Link => self.change(format!("relink {path} -> {src}"), prior()),
                    FileKind::File | FileKind::Other if self.force => {
                        self.change(format!("replace {path} with a link to {src}"), prior())
                    }
                    FileKind::Directory if self.force => {
                        return Err(ModuleError::new(format!(
                            "the path {path} is a directory; refusing to replace it with a link"
                        )));
                    }
                    _ => {
                        return Err(ModuleError::new(format!(
                            "refusing to convert from {} to symlink for {path}",
                            if st.kind == FileKind::Directory {
                                "directory"
                            } else {
                                "file"
                            }
                        )));
                    }
                }
            }
            // Touch always updates timestamps, so it always reports a change (as Ansible does).
            Want::Touch => self.change(
                if st.exists() {
                    format!("touch {path}")
                } else {
                    format!("create empty file {path}")
                },
                if st.exists() {
                    prior()
                } else {
                    Undo::Create { path: path.clone() }
                },
            ),
        })
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let p = sh_quote(&self.path);
        let want = self.want();
        let attrs = self.attr_change()?;
        let existed = self.st().exists();
        match want {
            Want::Absent => {
                t.run_ok(&format!("rm -rf -- {p}"), None)?;
                self.final_state = Some("absent");
                return Ok(());
            }
            Want::Directory if !existed => {
                // Every directory this creates gets the requested attributes,
                // all in the same round trip as the mkdir.
                let root = self
                    .missing_root
                    .clone()
                    .unwrap_or_else(|| self.path.clone());
                let mut script = format!("mkdir -p -- {p} || exit 1\n");
                let mut dir = std::path::PathBuf::from(&self.path);
                while dir.starts_with(&root) {
                    script.push_str(&crate::modules::target::attrs_script(
                        &dir.to_string_lossy(),
                        attrs.mode,
                        attrs.owner.as_deref(),
                        attrs.group.as_deref(),
                        false,
                    ));
                    if !dir.pop() {
                        break;
                    }
                }
                t.run_ok(&script, None)?;
                self.final_state = Some("directory");
                if self.recurse {
                    let full = self.attrs.clone();
                    return apply_recursive(t, &self.path, &full, &attrs);
                }
                return Ok(());
            }
            Want::Link => {
                let src = sh_quote(self.src.as_deref().unwrap_or_default());
                t.run_ok(&format!("ln -sfn -- {src} {p}"), None)?;
                self.final_state = Some("link");
                return t.set_attrs(
                    &self.path,
                    None,
                    attrs.owner.as_deref(),
                    attrs.group.as_deref(),
                    false,
                );
            }
            Want::Touch => {
                t.run_ok(&format!("touch -- {p}"), None)?;
            }
            _ => {}
        }
        self.final_state = Some(match want {
            Want::Directory => "directory",
            _ => "file",
        });
        if self.recurse && want == Want::Directory {
            let full = self.attrs.clone();
            return apply_recursive(t, &self.path, &full, &attrs);
        }
        t.set_attrs(
            &self.path,
            attrs.mode,
            attrs.owner.as_deref(),
            attrs.group.as_deref(),
            false,
        )
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("path".into(), self.path.clone().into());
        let state = self
            .final_state
            .unwrap_or(match self.observed.as_ref().map(|s| s.kind) {
                Some(FileKind::Directory) => "directory",
                Some(FileKind::Link) => "link",
                Some(FileKind::Absent) | None => "absent",
                _ => "file",
            });
        r.insert("state".into(), state.into());
        r
    }
}

/// Whether any path below `dir` has other attributes than asked for.
fn recursive_differs(t: &mut Target<'_>, dir: &str, attrs: &Attrs) -> ModResult<bool> {
    if attrs.mode.is_none() && attrs.owner.is_none() && attrs.group.is_none() {
        return Ok(false);
    }
    let out = t.run_ok(
        &format!(
            "find {} -mindepth 1 -printf '%m %y %u %g %U %G\\n'",
            sh_quote(dir)
        ),
        None,
    )?;
    for line in out.stdout_str().lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let [mode, kind, user, group, uid, gid] = f[..] else {
            continue;
        };
        let current = u32::from_str_radix(mode, 8).unwrap_or(0);
        if let Some(spec) = &attrs.mode
            && kind != "l"
        {
            let want = super::mode::resolve(spec, Some(current), kind == "d", None)
                .map_err(ModuleError::new)?;
            if want != current {
                return Ok(true);
            }
        }
        if attrs
            .owner
            .as_deref()
            .is_some_and(|o| o != user && o != uid)
            || attrs
                .group
                .as_deref()
                .is_some_and(|g| g != group && g != gid)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Applies the attributes to the directory and everything below it. A
/// symbolic mode is handed to chmod as is, so `X` works per entry.
fn apply_recursive(
    t: &mut Target<'_>,
    dir: &str,
    attrs: &Attrs,
    top: &AttrChange,
) -> ModResult<()> {
    let p = sh_quote(dir);
    let mut script = String::new();
    match &attrs.mode {
        Some(super::mode::ModeSpec::Octal(m)) => {
            script.push_str(&format!("chmod -R {m:o} -- {p} || exit 1\n"))
        }
        Some(super::mode::ModeSpec::Symbolic(s)) => {
            script.push_str(&format!("chmod -R {} -- {p} || exit 1\n", sh_quote(s)))
        }
        _ => {
            if let Some(m) = top.mode {
                script.push_str(&format!("chmod {m:o} -- {p} || exit 1\n"));
            }
        }
    }
    if !script.is_empty() {
        t.run_ok(&script, None)?;
    }
    t.set_attrs(
        dir,
        None,
        attrs.owner.as_deref(),
        attrs.group.as_deref(),
        true,
    )
}
