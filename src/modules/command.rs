//! `command` and `shell`: run a program on the target. Not predictable, so
//! check mode skips them unless `creates`/`removes` decide the outcome.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::connection::sh_quote;
use serde_json::Value;
use std::time::Instant;

const COMMON_ARGS: [super::spec::ArgSpec; 6] = [
    arg("chdir", Path, "Change into this directory first."),
    arg("creates", Path, "Skip when this path (glob) exists."),
    arg("removes", Path, "Run only when this path (glob) exists."),
    arg("stdin", Str, "Text fed to the command's standard input."),
    arg(
        "stdin_add_newline",
        Bool,
        "Append a newline to stdin (default yes).",
    ),
    arg(
        "strip_empty_ends",
        Bool,
        "Strip trailing newlines from stdout/stderr (default yes).",
    ),
];

pub static COMMAND: ModuleSpec = ModuleSpec {
    name: "command",
    summary: "Run a command without a shell (no pipes, redirects or variables)",
    free_form: true,
    check: CheckSupport::Skipped,
    open_args: false,
    args: &[
        arg("cmd", Str, "The command line, split into words."),
        arg("argv", List, "The command as a list of words."),
        arg("_raw_params", Str, "The free-form command."),
        COMMON_ARGS[0],
        COMMON_ARGS[1],
        COMMON_ARGS[2],
        COMMON_ARGS[3],
        COMMON_ARGS[4],
        COMMON_ARGS[5],
    ],
};

pub static SHELL: ModuleSpec = ModuleSpec {
    name: "shell",
    summary: "Run a command through /bin/sh",
    free_form: true,
    check: CheckSupport::Skipped,
    open_args: false,
    args: &[
        arg("cmd", Str, "The shell command."),
        arg("_raw_params", Str, "The free-form shell command."),
        arg("executable", Path, "The shell to use (default /bin/sh)."),
        COMMON_ARGS[0],
        COMMON_ARGS[1],
        COMMON_ARGS[2],
        COMMON_ARGS[3],
        COMMON_ARGS[4],
        COMMON_ARGS[5],
    ],
};

pub struct Command;
pub struct Shell;

impl Module for Command {
    fn spec(&self) -> &'static ModuleSpec {
        &COMMAND
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let words: Vec<String> = match (args.get("argv"), command_text(args)?) {
            (Some(Value::Array(items)), None) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            (Some(_), Some(_)) => {
                return Err(ModuleError::new(
                    "only one of argv or cmd/free form can be given",
                ));
            }
            (Some(_), None) => return Err(ModuleError::new("argv must be a list")),
            (None, Some(text)) => shlex::split(&text).ok_or_else(|| {
                ModuleError::new(format!("cannot split the command line: {text}"))
            })?,
            (None, None) => return Err(ModuleError::new("no command given")),
        };
        if words.is_empty() {
            return Err(ModuleError::new("no command given"));
        }
        let display = words.join(" ");
        let script: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
        Run::boxed(
            args,
            format!("exec {}", script.join(" ")),
            display,
            Value::from(words),
        )
    }
}

impl Module for Shell {
    fn spec(&self) -> &'static ModuleSpec {
        &SHELL
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let text = command_text(args)?.ok_or_else(|| ModuleError::new("no command given"))?;
        let script = match argx::string(args, "executable")? {
            Some(sh) => format!("exec {} -c {}", sh_quote(&sh), sh_quote(&text)),
            None => text.clone(),
        };
        Run::boxed(args, script, text.clone(), Value::from(text))
    }
}

fn command_text(args: &Args) -> ModResult<Option<String>> {
    Ok(argx::string(args, "cmd")?
        .or(argx::string(args, "_raw_params")?)
        .filter(|s| !s.trim().is_empty()))
}

struct Run {
    script: String,
    display: String,
    cmd: Value,
    chdir: Option<String>,
    creates: Option<String>,
    removes: Option<String>,
    stdin: Option<Vec<u8>>,
    strip: bool,
    /// Set by observe when creates/removes say the command must not run.
    skip_reason: Option<String>,
    returns: Returns,
}

impl Run {
    fn boxed(
        args: &Args,
        script: String,
        display: String,
        cmd: Value,
    ) -> ModResult<Box<dyn Action>> {
        let stdin = argx::string(args, "stdin")?.map(|mut s| {
            if argx::boolean(args, "stdin_add_newline", true).unwrap_or(true) {
                s.push('\n');
            }
            s.into_bytes()
        });
        Ok(Box::new(Run {
            script,
            display,
            cmd,
            chdir: argx::string(args, "chdir")?,
            creates: argx::string(args, "creates")?,
            removes: argx::string(args, "removes")?,
            stdin,
            strip: argx::boolean(args, "strip_empty_ends", true)?,
            skip_reason: None,
            returns: Returns::new(),
        }))
    }

    /// Whether a glob matches anything on the target (relative to chdir).
    fn exists(&self, t: &mut Target<'_>, pattern: &str) -> ModResult<bool> {
        let cd = self
            .chdir
            .as_deref()
            .map(|d| format!("cd {} 2>/dev/null; ", sh_quote(d)))
            .unwrap_or_default();
        // The pattern is left unquoted on purpose so the shell expands globs;
        // anything else in it is escaped.
        let pat: String = pattern
            .chars()
            .map(|c| match c {
                '*' | '?' | '[' | ']' | '/' | '.' | '-' | '_' => c.to_string(),
                c if c.is_alphanumeric() => c.to_string(),
                c => format!("\\{c}"),
            })
            .collect();
        let out = t.exec(
            &format!(
                "{cd}for f in {pat}; do [ -e \"$f\" ] || [ -L \"$f\" ] && exit 0; done; exit 1"
            ),
            None,
        )?;
        Ok(out.rc == 0)
    }
}

impl Action for Run {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        if let Some(c) = self.creates.clone()
            && self.exists(t, &c)?
        {
            self.skip_reason = Some(format!("Did not run command since '{c}' exists"));
        }
        if let Some(r) = self.removes.clone()
            && !self.exists(t, &r)?
        {
            self.skip_reason = Some(format!("Did not run command since '{r}' does not exist"));
        }
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        if self.skip_reason.is_some() {
            return Ok(None);
        }
        Ok(Some(Change {
            summary: format!("run: {}", self.display),
            diff: None,
            undo: Undo::Irreversible("a command's effects cannot be recorded".into()),
            predictable: self.creates.is_some() || self.removes.is_some(),
            after: vec![],
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let script = match &self.chdir {
            Some(d) => format!("cd {} || exit 1\n{}", sh_quote(d), self.script),
            None => self.script.clone(),
        };
        let start = Instant::now();
        let out = t.exec(&script, self.stdin.as_deref())?;
        let clean = |b: &[u8]| {
            let s = String::from_utf8_lossy(b).into_owned();
            if self.strip {
                s.trim_end_matches(['\n', '\r']).to_string()
            } else {
                s
            }
        };
        let stdout = clean(&out.stdout);
        let stderr = clean(&out.stderr);
        let r = &mut self.returns;
        r.insert("cmd".into(), self.cmd.clone());
        r.insert("rc".into(), out.rc.into());
        r.insert("stdout_lines".into(), lines(&stdout));
        r.insert("stderr_lines".into(), lines(&stderr));
        r.insert("stdout".into(), stdout.into());
        r.insert("stderr".into(), stderr.into());
        r.insert(
            "delta".into(),
            format!("{:.6}", start.elapsed().as_secs_f64()).into(),
        );
        // A command that ran counts as a change even when it failed (as in
        // Ansible), which matters once failed_when overrides the failure.
        self.returns.insert("changed".into(), true.into());
        if out.rc != 0 {
            let mut e = ModuleError::new("non-zero return code");
            e.returns = self.returns.clone();
            return Err(e);
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = self.returns.clone();
        if let Some(reason) = &self.skip_reason {
            r.insert("msg".into(), reason.clone().into());
            r.insert("rc".into(), 0.into());
            r.insert("stdout".into(), "".into());
            r.insert("stdout_lines".into(), Value::Array(vec![]));
            r.insert("stderr".into(), "".into());
            r.insert("stderr_lines".into(), Value::Array(vec![]));
            r.insert("cmd".into(), self.cmd.clone());
        }
        r
    }
}

fn lines(s: &str) -> Value {
    Value::Array(s.lines().map(|l| Value::String(l.to_string())).collect())
}
