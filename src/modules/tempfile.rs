//! `tempfile`: create a uniquely named temporary file or directory.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::{Action, Args, Change, ModResult, Module, ModuleCx, Returns, Target, Undo, argx};
use crate::connection::sh_quote;

pub static TEMPFILE: ModuleSpec = ModuleSpec {
    name: "tempfile",
    summary: "Create a temporary file or directory",
    free_form: false,
    // The name is random until created, so a plan cannot show it (Ansible skips it too).
    check: CheckSupport::Skipped,
    open_args: false,
    args: &[
        arg("state", Str, "file (default) or directory.").choices(&["file", "directory"]),
        arg(
            "path",
            Path,
            "Directory to create it in (default: the system temp dir).",
        ),
        arg("prefix", Str, "Name prefix (default ansible.)."),
        arg("suffix", Str, "Name suffix."),
    ],
};

pub struct TempFile;

impl Module for TempFile {
    fn spec(&self) -> &'static ModuleSpec {
        &TEMPFILE
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        Ok(Box::new(Create {
            dir: argx::choice(args, "state", &["file", "directory"], "file")? == "directory",
            path: argx::string(args, "path")?,
            prefix: argx::string(args, "prefix")?.unwrap_or_else(|| "ansible.".into()),
            suffix: argx::string(args, "suffix")?.unwrap_or_default(),
            created: None,
        }))
    }
}

struct Create {
    dir: bool,
    path: Option<String>,
    prefix: String,
    suffix: String,
    created: Option<String>,
}

impl Action for Create {
    fn observe(&mut self, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(Some(Change {
            summary: format!(
                "create temporary {} {}XXXXXX{}",
                if self.dir { "directory" } else { "file" },
                self.prefix,
                self.suffix
            ),
            diff: None,
            undo: Undo::Irreversible("the name is random until created".into()),
            predictable: false,
            after: vec![],
        }))
    }

    fn apply(&mut self, _: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let tmpl = sh_quote(&format!("{}XXXXXX{}", self.prefix, self.suffix));
        let dir = match &self.path {
            Some(p) => format!("-p {}", sh_quote(p)),
            None => "-t".into(),
        };
        let d = if self.dir { "-d " } else { "" };
        let out = t.run_ok(&format!("mktemp {d}{dir} {tmpl}"), None)?;
        self.created = Some(out.stdout_str().trim().to_string());
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        if let Some(p) = &self.created {
            r.insert("path".into(), p.clone().into());
            r.insert(
                "state".into(),
                if self.dir { "directory" } else { "file" }.into(),
            );
        }
        r
    }
}
