//! `copy` and `template`: put known bytes at a destination path.

use super::attrs::{AttrChange, Attrs};
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::target::{FileKind, FileState, sha1_hex};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, TextDiff,
    Undo, argx,
};
use serde_json::Value;

const ATTR_ARGS: [super::spec::ArgSpec; 3] = [
    arg(
        "mode",
        Mode,
        "Permissions: octal (0644, '0644') or symbolic (u=rw,g=r,o=r).",
    ),
    arg("owner", Str, "Owner name or uid."),
    arg("group", Str, "Group name or gid."),
];

pub static COPY: ModuleSpec = ModuleSpec {
    name: "copy",
    summary: "Copy a file from the controller, or inline content, to the target",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        arg(
            "src",
            Path,
            "Controller file, searched in files/ of the role and playbook.",
        ),
        arg("content", Raw, "Inline content to write instead of src."),
        super::spec::required(
            "dest",
            Path,
            "Target path; a directory receives src's basename.",
        ),
        arg(
            "backup",
            Bool,
            "Keep a timestamped copy of the file being replaced.",
        ),
        arg(
            "force",
            Bool,
            "Replace a file whose content differs (default yes).",
        ),
        ATTR_ARGS[0],
        ATTR_ARGS[1],
        ATTR_ARGS[2],
    ],
};

pub static TEMPLATE: ModuleSpec = ModuleSpec {
    name: "template",
    summary: "Render a Jinja2 template on the controller and write it to the target",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        super::spec::required(
            "src",
            Path,
            "Template file, searched in templates/ of the role and playbook.",
        ),
        super::spec::required("dest", Path, "Target path."),
        arg(
            "backup",
            Bool,
            "Keep a timestamped copy of the file being replaced.",
        ),
        arg(
            "force",
            Bool,
            "Replace a file whose content differs (default yes).",
        ),
        ATTR_ARGS[0],
        ATTR_ARGS[1],
        ATTR_ARGS[2],
    ],
};

pub struct Copy;
pub struct Template;

impl Module for Copy {
    fn spec(&self) -> &'static ModuleSpec {
        &COPY
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let dest = argx::req_string(args, "dest")?;
        let (data, src, src_mode) = match (args.get("content"), argx::string(args, "src")?) {
            (Some(_), Some(_)) => {
                return Err(ModuleError::new("src and content are mutually exclusive"));
            }
            (Some(c), None) => (content_bytes(c), None, None),
            (None, Some(src)) => {
                let path = cx.find_file("files", &src)?;
                if path.is_dir() {
                    return Err(ModuleError::new(format!(
                        "src {src} is a directory; copy one file per task (use a loop)"
                    )));
                }
                let data = std::fs::read(&path).map_err(|e| {
                    ModuleError::new(format!("cannot read {}: {e}", path.display()))
                })?;
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path)
                    .map(|m| m.permissions().mode() & 0o7777)
                    .ok();
                (data, Some(src), mode)
            }
            (None, None) => return Err(ModuleError::new("src (or content) is required")),
        };
        if src.is_none() && dest.ends_with('/') {
            return Err(ModuleError::new("can not use content with a dir as dest"));
        }
        Ok(Box::new(PutFile::new(args, dest, data, src, src_mode)?))
    }
}

impl Module for Template {
    fn spec(&self) -> &'static ModuleSpec {
        &TEMPLATE
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let src = argx::req_string(args, "src")?;
        let dest = argx::req_string(args, "dest")?;
        let path = cx.find_file("templates", &src)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ModuleError::new(format!("cannot read template {}: {e}", path.display()))
        })?;
        let rendered = cx
            .eval
            .render_text(&text, &path.display().to_string())
            .map_err(ModuleError::new)?;
        Ok(Box::new(PutFile::new(
            args,
            dest,
            rendered.into_bytes(),
            Some(src),
            None,
        )?))
    }
}

/// Content given as data is written the way Ansible does: strings as-is,
/// scalars as Python prints them, lists and dicts as JSON.
fn content_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Null => b"None".to_vec(),
        Value::Number(n) => n.to_string().into_bytes(),
        other => crate::template::filters::python_json(other).into_bytes(),
    }
}

struct PutFile {
    dest: String,
    data: Vec<u8>,
    checksum: String,
    src: Option<String>,
    src_mode: Option<u32>,
    attrs: Attrs,
    backup: bool,
    force: bool,
    observed: Option<FileState>,
    backup_file: Option<String>,
}

impl PutFile {
    fn new(
        args: &Args,
        dest: String,
        data: Vec<u8>,
        src: Option<String>,
        src_mode: Option<u32>,
    ) -> ModResult<Self> {
        Ok(PutFile {
            checksum: sha1_hex(&data),
            dest,
            data,
            src,
            src_mode,
            attrs: Attrs::from_args(args)?,
            backup: argx::boolean(args, "backup", false)?,
            force: argx::boolean(args, "force", true)?,
            observed: None,
            backup_file: None,
        })
    }

    fn observed(&self) -> &FileState {
        self.observed.as_ref().expect("observe runs before diff")
    }

    fn attr_change(&self) -> ModResult<AttrChange> {
        self.attrs.changes(self.observed(), self.src_mode)
    }
}

impl Action for PutFile {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let mut st = t.stat(&self.dest, true)?;
        if st.kind == FileKind::Directory || self.dest.ends_with('/') {
            // Copying into a directory keeps the source's file name.
            let name = self
                .src
                .as_deref()
                .and_then(|s| std::path::Path::new(s).file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| ModuleError::new(format!("{} is a directory", self.dest)))?;
            self.dest = format!("{}/{name}", self.dest.trim_end_matches('/'));
            st = t.stat(&self.dest, true)?;
        }
        if st.kind == FileKind::Directory {
            return Err(ModuleError::new(format!("{} is a directory", self.dest)));
        }
        self.observed = Some(st);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let st = self.observed();
        let after = String::from_utf8_lossy(&self.data).into_owned();
        if !st.exists() {
            let mode = self.attrs.mode_for_new(false, self.src_mode)?;
            let mode_note = mode.map(|m| format!(" ({})", super::mode::format_mode(m)));
            let planned = FileState::planned(
                st,
                FileKind::File,
                mode,
                self.attrs.owner.as_deref(),
                self.attrs.group.as_deref(),
            )
            .with_content(&self.data);
            return Ok(Some(Change {
                summary: format!("create {}{}", self.dest, mode_note.unwrap_or_default()),
                diff: Some(TextDiff {
                    path: self.dest.clone(),
                    before: String::new(),
                    after,
                }),
                undo: Undo::Create {
                    path: self.dest.clone(),
                },
                predictable: true,
                after: vec![(self.dest.clone(), planned)],
            }));
        }
        let content_differs = st.sha1.as_deref() != Some(self.checksum.as_str()) && self.force;
        let attrs = self.attr_change()?;
        if !content_differs && attrs.is_empty() {
            return Ok(None);
        }
        let mut what = Vec::new();
        if content_differs {
            what.push("content".to_string());
        }
        if !attrs.is_empty() {
            what.push(attrs.describe());
        }
        let planned = FileState::planned(
            st,
            FileKind::File,
            attrs.mode,
            attrs.owner.as_deref(),
            attrs.group.as_deref(),
        )
        .with_content(if content_differs {
            &self.data
        } else {
            st.content.as_deref().unwrap_or_default()
        });
        Ok(Some(Change {
            summary: format!("update {} ({})", self.dest, what.join("; ")),
            diff: content_differs.then(|| TextDiff {
                path: self.dest.clone(),
                before: st.content_str(),
                after,
            }),
            undo: Undo::Restore {
                path: self.dest.clone(),
                prior: st.prior(),
            },
            predictable: true,
            after: vec![(self.dest.clone(), planned)],
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let st = self.observed().clone();
        let attrs = if st.exists() {
            self.attr_change()?
        } else {
            AttrChange {
                mode: self.attrs.mode_for_new(false, self.src_mode)?,
                owner: self.attrs.owner.clone(),
                group: self.attrs.group.clone(),
            }
        };
        let content_differs = st.sha1.as_deref() != Some(self.checksum.as_str());
        if !st.exists() || (content_differs && self.force) {
            if self.backup && st.exists() {
                self.backup_file = Some(backup(t, &self.dest)?);
            }
            t.write_file(
                &self.dest,
                &self.data,
                attrs.mode,
                attrs.owner.as_deref(),
                attrs.group.as_deref(),
            )
        } else {
            t.set_attrs(
                &self.dest,
                attrs.mode,
                attrs.owner.as_deref(),
                attrs.group.as_deref(),
                false,
            )
        }
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("dest".into(), self.dest.clone().into());
        if let Some(src) = &self.src {
            r.insert("src".into(), src.clone().into());
        }
        r.insert("checksum".into(), self.checksum.clone().into());
        r.insert("size".into(), self.data.len().into());
        r.insert("state".into(), "file".into());
        if let Some(b) = &self.backup_file {
            r.insert("backup_file".into(), b.clone().into());
        }
        r
    }
}

/// Copies `path` to `path.<pid>.<timestamp>~` as Ansible's backup option does; returns the name.
pub fn backup(t: &mut Target<'_>, path: &str) -> ModResult<String> {
    let p = crate::connection::sh_quote(path);
    let out = t.run_ok(
        &format!(r#"b={p}.$$.$(date +%Y-%m-%d@%H:%M:%S)~; cp -p -- {p} "$b" && printf %s "$b""#),
        None,
    )?;
    Ok(out.stdout_str())
}
