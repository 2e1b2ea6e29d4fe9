//! `deb822_repository`: an apt source in Debian 12's deb822 format,
//! `/etc/apt/sources.list.d/NAME.sources`.
//!
//! The file is managed like `copy` with inline content (same diff, same undo: the prior
//! file is restored, a new one removed); `state: absent` removes it like `file`. Keys are
//! never fetched: `signed_by` is a key file already on the host or an inline ASCII-armored
//! key, which is embedded in the file. Run `apt` with `update_cache: true` afterwards.

use super::spec::{ArgKind::*, ArgSpec, CheckSupport, ModuleSpec, arg, required};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, argx,
};
use serde_json::Value;

pub static DEB822_REPOSITORY: ModuleSpec = ModuleSpec {
    name: "deb822_repository",
    summary: "Manage an apt source file in deb822 format (sources.list.d/NAME.sources)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("name", Str, "The repository's name; also the file name."),
        arg("types", Raw, "deb and/or deb-src (default deb)."),
        arg("uris", Raw, "The repository URIs."),
        arg("suites", Raw, "Suites (e.g. bookworm, bookworm-updates)."),
        arg("components", Raw, "Components (e.g. main contrib)."),
        arg(
            "signed_by",
            Str,
            "A key file on the host, or an inline ASCII-armored public key (URLs are not fetched).",
        ),
        arg("architectures", Raw, "Architectures (e.g. amd64)."),
        arg("languages", Raw, "Languages to fetch translations for."),
        arg("targets", Raw, "Index targets to fetch."),
        arg("pdiffs", Bool, "Use PDiffs for index updates."),
        arg("by_hash", Bool, "Use by-hash index files."),
        arg("allow_insecure", Bool, "Allow an unsigned repository."),
        arg("allow_weak", Bool, "Allow weak signatures."),
        arg(
            "allow_downgrade_to_insecure",
            Bool,
            "Allow a signed repository to become unsigned.",
        ),
        arg(
            "trusted",
            Bool,
            "Trust the repository without checking signatures.",
        ),
        arg(
            "check_valid_until",
            Bool,
            "Check the Release file's Valid-Until.",
        ),
        arg("check_date", Bool, "Check the Release file's date."),
        arg("inrelease_path", Str, "Path of the InRelease file."),
        arg(
            "date_max_future",
            Int,
            "Seconds the Release date may lie in the future.",
        ),
        arg(
            "enabled",
            Bool,
            "Whether apt uses the source (default yes).",
        ),
        ArgSpec {
            choices: &["present", "absent"],
            ..arg("state", Str, "present (default) or absent.")
        },
        arg("mode", Mode, "Permissions of the file (default 0644)."),
        arg(
            "install_python_debian",
            Bool,
            "Accepted for compatibility; not needed.",
        ),
    ],
};

pub struct Deb822Repository;

/// Where the source file goes.
const DIR: &str = "/etc/apt/sources.list.d";

impl Module for Deb822Repository {
    fn spec(&self) -> &'static ModuleSpec {
        &DEB822_REPOSITORY
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let name = argx::req_string(args, "name")?;
        let file: String = name
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dest = format!("{DIR}/{file}.sources");
        let state = argx::choice(args, "state", &["present", "absent"], "present")?;
        let mut inner_args = Args::new();
        let (inner, content) = if state == "absent" {
            inner_args.insert("path".into(), dest.clone().into());
            inner_args.insert("state".into(), "absent".into());
            (super::registry::get("file"), None)
        } else {
            let content = render(&name, args)?;
            inner_args.insert("dest".into(), dest.clone().into());
            inner_args.insert("content".into(), content.clone().into());
            inner_args.insert(
                "mode".into(),
                args.get("mode").cloned().unwrap_or_else(|| "0644".into()),
            );
            inner_args.insert("owner".into(), "root".into());
            inner_args.insert("group".into(), "root".into());
            (super::registry::get("copy"), Some(content))
        };
        let inner = inner
            .expect("copy and file are built in")
            .validate(&inner_args, cx)?;
        Ok(Box::new(RepoAction {
            inner,
            dest,
            content,
        }))
    }
}

/// The words of a list-or-string argument.
fn words(args: &Args, key: &str) -> ModResult<Vec<String>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split_whitespace().map(String::from).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_string()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(ModuleError::new(format!(
                    "{key}: each item must be a string, got {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(ModuleError::new(format!(
            "{key} must be a string or a list, got {other}"
        ))),
    }
}

fn yes_no(args: &Args, key: &str) -> ModResult<Option<&'static str>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => Ok(Some(if argx::boolean(args, key, false)? {
            "yes"
        } else {
            "no"
        })),
    }
}

/// The deb822 stanza.
fn render(name: &str, args: &Args) -> ModResult<String> {
    let mut out = String::new();
    let mut field = |k: &str, v: &str| {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push('\n');
    };
    field("X-Repolib-Name", name);
    let mut types = words(args, "types")?;
    if types.is_empty() {
        types.push("deb".into());
    }
    if let Some(bad) = types
        .iter()
        .find(|t| !matches!(t.as_str(), "deb" | "deb-src"))
    {
        return Err(ModuleError::new(format!(
            "types must be deb or deb-src, got {bad}"
        )));
    }
    field("Types", &types.join(" "));
    let required_list = |key: &str| -> ModResult<Vec<String>> {
        let w = words(args, key)?;
        if w.is_empty() {
            Err(ModuleError::new(format!(
                "missing required argument: {key}"
            )))
        } else {
            Ok(w)
        }
    };
    let uris = required_list("uris")?;
    let suites = required_list("suites")?;
    let components = words(args, "components")?;
    if suites.iter().any(|s| !s.ends_with('/')) && components.is_empty() {
        return Err(ModuleError::new(
            "components are required unless every suite is an exact path (ends with /)",
        ));
    }
    field("URIs", &uris.join(" "));
    field("Suites", &suites.join(" "));
    if !components.is_empty() {
        field("Components", &components.join(" "));
    }
    for (key, label) in [
        ("architectures", "Architectures"),
        ("languages", "Languages"),
        ("targets", "Targets"),
    ] {
        let w = words(args, key)?;
        if !w.is_empty() {
            field(label, &w.join(" "));
        }
    }
    for (key, label) in [
        ("enabled", "Enabled"),
        ("pdiffs", "PDiffs"),
        ("by_hash", "By-Hash"),
        ("allow_insecure", "Allow-Insecure"),
        ("allow_weak", "Allow-Weak"),
        ("allow_downgrade_to_insecure", "Allow-Downgrade-To-Insecure"),
        ("trusted", "Trusted"),
        ("check_valid_until", "Check-Valid-Until"),
        ("check_date", "Check-Date"),
    ] {
        if let Some(v) = yes_no(args, key)? {
            field(label, v);
        }
    }
    if let Some(p) = argx::string(args, "inrelease_path")? {
        field("InRelease-Path", &p);
    }
    if let Some(n) = argx::number(args, "date_max_future")? {
        field("Date-Max-Future", &format!("{}", n as i64));
    }
    if let Some(key) = argx::string(args, "signed_by")? {
        let key = key.trim();
        if key.contains("://") {
            return Err(ModuleError::new(
                "signed_by: keys are not downloaded; put the key file on the host first \
                 (e.g. with copy) and name its path",
            ));
        }
        if key.contains('\n') {
            // An inline key: continuation lines start with a space, empty ones are " .".
            let mut v = String::new();
            for line in key.lines() {
                v.push_str("\n ");
                v.push_str(if line.trim().is_empty() {
                    "."
                } else {
                    line.trim_end()
                });
            }
            field("Signed-By", v.trim_start_matches('\n').trim_start());
            // The first line of the key stays on the field's own line.
        } else {
            field("Signed-By", key);
        }
    }
    Ok(out)
}

struct RepoAction {
    inner: Box<dyn Action>,
    dest: String,
    content: Option<String>,
}

impl Action for RepoAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        self.inner.observe(t)
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        self.inner.diff()
    }

    fn apply(&mut self, change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        self.inner.apply(change, t)
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("dest".into(), self.dest.clone().into());
        if let Some(c) = &self.content {
            r.insert("repo".into(), c.clone().into());
        }
        r.insert(
            "state".into(),
            if self.content.is_some() {
                "present"
            } else {
                "absent"
            }
            .into(),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_stanza() {
        let args: Args = serde_json::from_value(serde_json::json!({
            "name": "Local Repo",
            "uris": "file:///srv/repo",
            "suites": ["./"],
            "trusted": true,
            "signed_by": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----\n",
        }))
        .unwrap();
        let text = render("Local Repo", &args).unwrap();
        assert_eq!(
            text,
            "X-Repolib-Name: Local Repo\nTypes: deb\nURIs: file:///srv/repo\nSuites: ./\nTrusted: yes\n\
Signed-By: -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mQINBF\n -----END PGP PUBLIC KEY BLOCK-----\n"
        );
        let mut bad = args.clone();
        bad.insert("suites".into(), "bookworm".into());
        assert!(render("x", &bad).unwrap_err().msg.contains("components"));
    }
}
