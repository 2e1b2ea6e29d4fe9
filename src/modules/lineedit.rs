//! `lineinfile` and `blockinfile`: edit part of a text file in place.

use super::attrs::Attrs;
use super::content::backup;
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::target::{FileKind, FileState};
use super::textedit::{
    Edit,
    blockinfile::{BlockInFile, blockinfile},
    lineinfile::{LineInFile, lineinfile},
};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, TextDiff,
    Undo, argx,
};

pub static LINEINFILE: ModuleSpec = ModuleSpec {
    name: "lineinfile",
    summary: "Ensure a line is present in (or absent from) a text file",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("path", Path, "The file to edit.").aliases(&["dest", "destfile", "name"]),
        arg("line", Str, "The line to insert or replace with.").aliases(&["value"]),
        arg(
            "regexp",
            Str,
            "Python regex of the line to replace or remove.",
        )
        .aliases(&["regex"]),
        arg(
            "search_string",
            Str,
            "Literal string of the line to replace or remove.",
        ),
        arg("state", Str, "present (default) or absent.").choices(&["present", "absent"]),
        arg(
            "insertafter",
            Str,
            "EOF (default) or a regex; insert after its last match.",
        ),
        arg(
            "insertbefore",
            Str,
            "BOF or a regex; insert before its last match.",
        ),
        arg(
            "backrefs",
            Bool,
            "Expand regexp groups in line; change nothing when no line matches.",
        ),
        arg(
            "firstmatch",
            Bool,
            "Use the first match of insertafter/insertbefore instead of the last.",
        ),
        arg("create", Bool, "Create the file when missing."),
        arg(
            "backup",
            Bool,
            "Keep a timestamped copy of the file being replaced.",
        ),
        arg("mode", Mode, "Permissions: octal or symbolic."),
        arg("owner", Str, "Owner name or uid."),
        arg("group", Str, "Group name or gid."),
    ],
};

pub static BLOCKINFILE: ModuleSpec = ModuleSpec {
    name: "blockinfile",
    summary: "Insert, update or remove a block of lines between marker lines",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("path", Path, "The file to edit.").aliases(&["dest", "destfile", "name"]),
        arg(
            "block",
            Str,
            "The text between the markers; empty removes the block.",
        )
        .aliases(&["content"]),
        arg(
            "marker",
            Str,
            "Marker line template with {mark}; default `# {mark} ANSIBLE MANAGED BLOCK`.",
        ),
        arg(
            "marker_begin",
            Str,
            "Replaces {mark} in the opening marker (default BEGIN).",
        ),
        arg(
            "marker_end",
            Str,
            "Replaces {mark} in the closing marker (default END).",
        ),
        arg("state", Str, "present (default) or absent.").choices(&["present", "absent"]),
        arg("insertafter", Str, "EOF (default) or a regex."),
        arg("insertbefore", Str, "BOF or a regex."),
        arg(
            "append_newline",
            Bool,
            "Add a blank line after the block when inserting.",
        ),
        arg(
            "prepend_newline",
            Bool,
            "Add a blank line before the block when inserting.",
        ),
        arg("create", Bool, "Create the file when missing."),
        arg(
            "backup",
            Bool,
            "Keep a timestamped copy of the file being replaced.",
        ),
        arg("mode", Mode, "Permissions: octal or symbolic."),
        arg("owner", Str, "Owner name or uid."),
        arg("group", Str, "Group name or gid."),
    ],
};

pub struct LineInFileModule;
pub struct BlockInFileModule;

enum Editor {
    Line(LineInFile),
    Block(BlockInFile),
}

impl Editor {
    fn edit(&self, before: Option<&str>) -> Result<Option<Edit>, String> {
        match self {
            Editor::Line(p) => lineinfile(before, p),
            Editor::Block(p) => blockinfile(before, p),
        }
    }

    fn present(&self) -> bool {
        match self {
            Editor::Line(p) => p.present,
            Editor::Block(p) => p.present,
        }
    }
}

impl Module for LineInFileModule {
    fn spec(&self) -> &'static ModuleSpec {
        &LINEINFILE
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let present = argx::choice(args, "state", &["present", "absent"], "present")? == "present";
        let p = LineInFile {
            regexp: argx::string(args, "regexp")?,
            search_string: argx::string(args, "search_string")?,
            line: argx::string(args, "line")?,
            present,
            insertafter: argx::string(args, "insertafter")?,
            insertbefore: argx::string(args, "insertbefore")?,
            backrefs: argx::boolean(args, "backrefs", false)?,
            firstmatch: argx::boolean(args, "firstmatch", false)?,
            create: argx::boolean(args, "create", false)?,
        };
        if present && p.line.is_none() {
            return Err(ModuleError::new("line is required with state=present"));
        }
        if p.regexp.is_some() && p.search_string.is_some() {
            return Err(ModuleError::new(
                "regexp and search_string are mutually exclusive",
            ));
        }
        EditFile::boxed(args, Editor::Line(p), "lineinfile")
    }
}

impl Module for BlockInFileModule {
    fn spec(&self) -> &'static ModuleSpec {
        &BLOCKINFILE
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let present = argx::choice(args, "state", &["present", "absent"], "present")? == "present";
        let p = BlockInFile {
            block: argx::string(args, "block")?.unwrap_or_default(),
            marker: argx::string(args, "marker")?
                .unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into()),
            marker_begin: argx::string(args, "marker_begin")?.unwrap_or_else(|| "BEGIN".into()),
            marker_end: argx::string(args, "marker_end")?.unwrap_or_else(|| "END".into()),
            present,
            insertafter: argx::string(args, "insertafter")?,
            insertbefore: argx::string(args, "insertbefore")?,
            append_newline: argx::boolean(args, "append_newline", false)?,
            prepend_newline: argx::boolean(args, "prepend_newline", false)?,
        };
        EditFile::boxed(args, Editor::Block(p), "blockinfile")
    }
}

struct EditFile {
    path: String,
    editor: Editor,
    create: bool,
    backup: bool,
    attrs: Attrs,
    module: &'static str,
    observed: Option<FileState>,
    edit: Option<Edit>,
    backup_file: Option<String>,
    msg: String,
}

impl EditFile {
    fn boxed(args: &Args, editor: Editor, module: &'static str) -> ModResult<Box<dyn Action>> {
        Ok(Box::new(EditFile {
            path: argx::req_string(args, "path")?,
            editor,
            create: argx::boolean(args, "create", false)?,
            backup: argx::boolean(args, "backup", false)?,
            attrs: Attrs::from_args(args)?,
            module,
            observed: None,
            edit: None,
            backup_file: None,
            msg: String::new(),
        }))
    }
}

impl Action for EditFile {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let st = t.stat(&self.path, true)?;
        match st.kind {
            FileKind::Directory => {
                return Err(ModuleError::new(format!(
                    "Path {} is a directory !",
                    self.path
                )));
            }
            FileKind::File if st.content.is_none() => {
                return Err(ModuleError::new(format!(
                    "{} is too large to edit in place",
                    self.path
                )));
            }
            FileKind::Absent if self.editor.present() && !self.create => {
                return Err(ModuleError::new(format!(
                    "Destination {} does not exist !",
                    self.path
                ))
                .with("rc", 257));
            }
            _ => {}
        }
        let before = st.exists().then(|| st.content_str());
        if st.exists() || self.editor.present() {
            self.edit = self
                .editor
                .edit(before.as_deref())
                .map_err(ModuleError::new)?;
        } else {
            self.msg = "file not present".into();
        }
        self.observed = Some(st);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let st = self.observed.as_ref().expect("observe runs before diff");
        let attrs = if st.exists() {
            self.attrs.changes(st, None)?
        } else {
            Default::default()
        };
        if self.edit.is_none() && attrs.is_empty() {
            return Ok(None);
        }
        let what = match &self.edit {
            Some(e) => e.msg.clone(),
            None => attrs.describe(),
        };
        Ok(Some(Change {
            summary: format!("{} {}: {what}", self.module, self.path),
            diff: self.edit.as_ref().map(|e| TextDiff {
                path: self.path.clone(),
                before: st.content_str(),
                after: e.after.clone(),
            }),
            undo: if st.exists() {
                Undo::Restore {
                    path: self.path.clone(),
                    prior: st.prior(),
                }
            } else {
                Undo::Create {
                    path: self.path.clone(),
                }
            },
            predictable: true,
            after: vec![(self.path.clone(), {
                let content = match &self.edit {
                    Some(e) => e.after.as_bytes(),
                    None => st.content.as_deref().unwrap_or_default(),
                };
                let mode = attrs.mode.or(if st.exists() {
                    None
                } else {
                    self.attrs.mode_for_new(false, None)?
                });
                FileState::planned(
                    st,
                    FileKind::File,
                    mode,
                    attrs.owner.as_deref().or(self.attrs.owner.as_deref()),
                    attrs.group.as_deref().or(self.attrs.group.as_deref()),
                )
                .with_content(content)
            })],
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let st = self.observed.clone().expect("observe runs before apply");
        let attrs = if st.exists() {
            self.attrs.changes(&st, None)?
        } else {
            super::attrs::AttrChange {
                mode: self.attrs.mode_for_new(false, None)?,
                owner: self.attrs.owner.clone(),
                group: self.attrs.group.clone(),
            }
        };
        if let Some(edit) = &self.edit {
            if self.backup && st.exists() {
                self.backup_file = Some(backup(t, &self.path)?);
            }
            t.write_file_with(
                &self.path,
                edit.after.as_bytes(),
                &crate::modules::target::Put {
                    mode: attrs.mode,
                    owner: attrs.owner.as_deref(),
                    group: attrs.group.as_deref(),
                    // create=yes makes missing parent directories too, as Ansible does.
                    make_parents: !st.exists(),
                    ..Default::default()
                },
            )
        } else {
            t.set_attrs(
                &self.path,
                attrs.mode,
                attrs.owner.as_deref(),
                attrs.group.as_deref(),
                false,
            )
        }
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        let msg = match &self.edit {
            Some(e) => e.msg.clone(),
            None => self.msg.clone(),
        };
        r.insert("msg".into(), msg.into());
        if let Some(b) = &self.backup_file {
            r.insert("backup".into(), b.clone().into());
        }
        r
    }
}
