//! `postgresql_db` with `state: dump` / `state: restore`: `pg_dump` to, or
//! `pg_restore`/`psql` from, a file on the database host, run there as the
//! task's `become_user` (the `psql` transport only).
//!
//! A dump always reports a change (it is a new snapshot); it is written to a
//! temporary file beside `target` and renamed, so a failed dump leaves any
//! earlier file intact. Undo: a dump that created `target` removes it again; one
//! that replaced a file, and any restore, cannot be undone.

use super::session::{Login, Session};
use crate::connection::sh_quote;
use crate::modules::{
    Action, Args, Change, FileKind, FileState, ModResult, ModuleError, Returns, Target, Undo, argx,
};
use serde_json::Map;

struct DumpAction {
    login: Login,
    name: String,
    target: String,
    dump: bool,
    /// Whether `target` existed before.
    existed: Option<bool>,
    /// The script as plans show it (password redacted).
    summary: String,
}

pub fn action(args: &Args, dump: bool) -> ModResult<Box<dyn Action>> {
    let target = argx::string(args, "target")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ModuleError::new("state dump/restore needs `target`"))?;
    Ok(Box::new(DumpAction {
        login: Login::from_args(args)?,
        name: argx::req_string(args, "name")?,
        target,
        dump,
        existed: None,
        summary: String::new(),
    }))
}

enum Format {
    Plain,
    Tar,
    Custom,
}

fn format_of(target: &str) -> Format {
    if target.ends_with(".sql") {
        Format::Plain
    } else if target.ends_with(".tar") {
        Format::Tar
    } else {
        Format::Custom
    }
}

impl DumpAction {
    /// The script run on the host (`login` decides whether the password is in it).
    fn script(&self, t: &mut Target<'_>, login: &Login) -> String {
        let s = Session::new(t, login, Some(&self.name));
        let tgt = sh_quote(&self.target);
        if self.dump {
            let fmt = match format_of(&self.target) {
                Format::Plain => "-Fp",
                Format::Tar => "-Ft",
                Format::Custom => "-Fc",
            };
            let cmd = s.client_command(&format!("pg_dump {fmt} -f \"$tmp\""), true, None);
            format!(
                "tmp=$(mktemp \"$(dirname -- {tgt})/.tbuddy-dump.XXXXXX\") || exit 1\n\
                 if {cmd}; then mv -f -- \"$tmp\" {tgt}; else rc=$?; rm -f -- \"$tmp\"; exit $rc; fi"
            )
        } else {
            match format_of(&self.target) {
                Format::Plain => s.client_command(
                    &format!("psql -X -q -v ON_ERROR_STOP=1 -f {tgt}"),
                    true,
                    None,
                ),
                _ => s.client_command(&format!("pg_restore --exit-on-error {tgt}"), true, None),
            }
        }
    }

    fn shown(&self, t: &mut Target<'_>) -> String {
        let mut login = self.login.clone();
        if login.password.is_some() {
            login.password = Some(super::REDACTED.into());
        }
        self.script(t, &login)
    }
}

impl Action for DumpAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        if let Some(pc) = t.conn.postgres() {
            return Err(ModuleError::new(format!(
                "host {}: dump/restore runs pg_dump/pg_restore on the database host, which `ansible_connection: postgres` has no shell on",
                pc.host()
            )));
        }
        let st = t.stat(&self.target, false)?;
        if !self.dump && !st.exists() {
            return Err(ModuleError::new(format!("{} does not exist", self.target)));
        }
        self.existed = Some(st.exists());
        // Shown in diff; kept so that diff needs no target.
        self.summary = self.shown(t).replace('\n', "; ");
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let undo = match (self.dump, self.existed) {
            (true, Some(false)) => Undo::Create {
                path: self.target.clone(),
            },
            (true, _) => Undo::Irreversible(format!(
                "the dump replaced {}; the earlier file is not kept",
                self.target
            )),
            (false, _) => Undo::Irreversible(format!(
                "restored {} into database {}",
                self.target, self.name
            )),
        };
        // Later tasks of a plan (a restore) see the file the dump will write.
        let after = if self.dump {
            vec![(
                self.target.clone(),
                FileState::planned(&FileState::absent(), FileKind::File, None, None, None),
            )]
        } else {
            Vec::new()
        };
        Ok(Some(Change {
            summary: self.summary.clone(),
            diff: None,
            undo,
            predictable: true,
            after,
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let login = self.login.clone();
        let script = self.script(t, &login);
        t.run_ok(&script, None).map(|_| ())
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        r.insert("db".into(), self.name.clone().into());
        r.insert("target".into(), self.target.clone().into());
        r
    }
}
