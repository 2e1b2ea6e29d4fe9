//! `stat`: report facts about a path. Read-only.

use super::mode::format_mode;
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::target::{FileKind, FileState};
use super::{Action, Args, Change, ModResult, Module, ModuleCx, Returns, Target, argx};
use serde_json::{Value, json};

pub static STAT: ModuleSpec = ModuleSpec {
    name: "stat",
    summary: "Retrieve file or directory status",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: &[
        required("path", Path, "The path to examine.").aliases(&["dest", "name"]),
        arg("follow", Bool, "Follow a final symlink."),
        arg(
            "get_checksum",
            Bool,
            "Include the SHA-1 checksum of regular files (default yes).",
        ),
        arg("checksum_algorithm", Str, "Only sha1 is supported.").choices(&["sha1"]),
        arg("get_mime", Bool, "Accepted for compatibility; ignored."),
        arg(
            "get_attributes",
            Bool,
            "Accepted for compatibility; ignored.",
        ),
    ],
};

pub struct Stat;

impl Module for Stat {
    fn spec(&self) -> &'static ModuleSpec {
        &STAT
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        Ok(Box::new(StatAction {
            path: argx::req_string(args, "path")?,
            follow: argx::boolean(args, "follow", false)?,
            checksum: argx::boolean(args, "get_checksum", true)?,
            result: Value::Null,
        }))
    }
}

struct StatAction {
    path: String,
    follow: bool,
    checksum: bool,
    result: Value,
}

impl Action for StatAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let mut st = t.stat(&self.path, false)?;
        if self.follow && st.kind == FileKind::Link {
            let out = t.run_ok(
                &format!("readlink -f -- {}", crate::connection::sh_quote(&self.path)),
                None,
            )?;
            st = t.stat(out.stdout_str().trim(), false)?;
        }
        self.result = describe(&self.path, &st, self.checksum);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(None)
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("stat".into(), self.result.clone());
        r
    }
}

fn describe(path: &str, st: &FileState, checksum: bool) -> Value {
    if !st.exists() {
        return json!({ "exists": false });
    }
    let mode = st.mode;
    let mut v = json!({
        "exists": true,
        "path": path,
        "mode": format_mode(mode),
        "isdir": st.kind == FileKind::Directory,
        "isreg": st.kind == FileKind::File,
        "islnk": st.kind == FileKind::Link,
        "uid": st.uid,
        "gid": st.gid,
        "pw_name": st.owner,
        "gr_name": st.group,
        "size": st.size,
        "mtime": st.mtime,
        "readable": true,
        "writeable": true,
        "executable": mode & 0o111 != 0,
        "xusr": mode & 0o100 != 0,
        "rusr": mode & 0o400 != 0,
        "wusr": mode & 0o200 != 0,
        "rgrp": mode & 0o040 != 0,
        "wgrp": mode & 0o020 != 0,
        "xgrp": mode & 0o010 != 0,
        "roth": mode & 0o004 != 0,
        "woth": mode & 0o002 != 0,
        "xoth": mode & 0o001 != 0,
    });
    if let Some(target) = &st.link_target {
        v["lnk_source"] = Value::from(target.clone());
        v["lnk_target"] = Value::from(target.clone());
    }
    if checksum && let Some(sum) = &st.sha1 {
        v["checksum"] = Value::from(sum.clone());
    }
    v
}
