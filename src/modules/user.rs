//! `user` and `group`: local accounts through `getent` (observe) and the shadow
//! tools `useradd`/`usermod`/`userdel`, `groupadd`/`groupmod`/`groupdel` (apply).
//!
//! Undo is the inverse task: a created account is removed again, a changed one
//! gets its prior attributes back, a removed one is recreated with its prior
//! ids. A password hash is never recorded, shown or returned: a password change
//! is not undone.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::connection::sh_quote;
use serde_json::{Map, Value};

pub static USER: ModuleSpec = ModuleSpec {
    name: "user",
    summary: "Manage local user accounts (useradd/usermod/userdel)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("name", Str, "The user name.").aliases(&["user"]),
        arg("state", Str, "Whether the account should exist.").choices(&["present", "absent"]),
        arg(
            "system",
            Bool,
            "Create a system account (only when creating).",
        ),
        arg("uid", Int, "The user id."),
        arg("group", Str, "The primary group (name or gid)."),
        arg(
            "groups",
            List,
            "Supplementary groups (list or comma-separated); an empty list removes all.",
        ),
        arg(
            "append",
            Bool,
            "Add to `groups` instead of setting exactly them.",
        ),
        arg("home", Path, "The home directory."),
        arg(
            "create_home",
            Bool,
            "Create the home directory when creating the account (default yes).",
        )
        .aliases(&["createhome"]),
        arg("shell", Str, "The login shell."),
        arg("comment", Str, "The GECOS field."),
        arg(
            "password",
            Str,
            "The crypt(3) hash of the password (never shown: output shows it redacted).",
        ),
        arg(
            "update_password",
            Str,
            "`always` sets the hash when it differs; `on_create` only for new accounts.",
        )
        .choices(&["always", "on_create"]),
        arg(
            "remove",
            Bool,
            "With state absent: also remove the home directory and mail spool.",
        ),
        arg("force", Bool, "With state absent: `userdel --force`."),
    ],
};

pub static GROUP: ModuleSpec = ModuleSpec {
    name: "group",
    summary: "Manage local groups (groupadd/groupmod/groupdel)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("name", Str, "The group name."),
        arg("state", Str, "Whether the group should exist.").choices(&["present", "absent"]),
        arg("gid", Int, "The group id."),
        arg(
            "system",
            Bool,
            "Create a system group (only when creating).",
        ),
    ],
};

pub struct User;
pub struct Group;

const REDACTED: &str = "NOT_LOGGING_PASSWORD";

/// One `passwd` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub comment: String,
    pub home: String,
    pub shell: String,
}

/// Parses a `getent passwd` line.
pub fn parse_passwd(line: &str) -> Option<Passwd> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    if f.len() != 7 {
        return None;
    }
    Some(Passwd {
        name: f[0].into(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        comment: f[4].into(),
        home: f[5].into(),
        shell: f[6].into(),
    })
}

/// One `group` entry: name, gid, members.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Parses a `getent group` line.
pub fn parse_group(line: &str) -> Option<GroupEntry> {
    let f: Vec<&str> = line.trim_end_matches('\n').split(':').collect();
    if f.len() != 4 {
        return None;
    }
    Some(GroupEntry {
        name: f[0].into(),
        gid: f[2].parse().ok()?,
        members: f[3]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect(),
    })
}

fn int_arg(args: &Args, key: &str) -> ModResult<Option<u32>> {
    match argx::number(args, key)? {
        None => Ok(None),
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => Ok(Some(n as u32)),
        Some(n) => Err(ModuleError::new(format!(
            "argument `{key}` must be a non-negative integer, got {n}"
        ))),
    }
}

fn list_arg(args: &Args, key: &str) -> ModResult<Option<Vec<String>>> {
    let items: Vec<String> = match args.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(s)) => s.split(',').map(String::from).collect(),
        Some(other) => {
            return Err(ModuleError::new(format!(
                "argument `{key}` must be a list, got {other}"
            )));
        }
    };
    Ok(Some(
        items
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}

fn check_name(name: &str) -> ModResult<()> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$'));
    if ok {
        Ok(())
    } else {
        Err(ModuleError::new(format!("invalid account name: {name:?}")))
    }
}

// ---- user -------------------------------------------------------------------

struct UserAction {
    name: String,
    present: bool,
    system: bool,
    uid: Option<u32>,
    group: Option<String>,
    groups: Option<Vec<String>>,
    append: bool,
    home: Option<String>,
    create_home: bool,
    shell: Option<String>,
    comment: Option<String>,
    password: Option<String>,
    password_always: bool,
    remove: bool,
    force: bool,
    seen: Option<SeenUser>,
}

/// What observe saw of the account.
#[derive(Debug, Clone, Default)]
struct SeenUser {
    entry: Option<Passwd>,
    primary: String,
    /// Supplementary groups (without the primary group).
    groups: Vec<String>,
    /// The shadow hash, when readable; kept in memory only.
    hash: Option<String>,
    /// The home a new account would get, and whether it exists already.
    new_home: String,
    new_home_exists: bool,
}

impl Module for User {
    fn spec(&self) -> &'static ModuleSpec {
        &USER
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let name = argx::req_string(args, "name")?;
        check_name(&name)?;
        let present = argx::choice(args, "state", &["present", "absent"], "present")? == "present";
        let password = argx::string(args, "password")?;
        if let Some(p) = &password
            && (p.contains(':') || p.contains('\n'))
        {
            return Err(ModuleError::new(
                "password must be a crypt(3) hash without ':' or newlines",
            ));
        }
        Ok(Box::new(UserAction {
            name,
            present,
            system: argx::boolean(args, "system", false)?,
            uid: int_arg(args, "uid")?,
            group: argx::string(args, "group")?.filter(|s| !s.is_empty()),
            groups: list_arg(args, "groups")?,
            append: argx::boolean(args, "append", false)?,
            home: argx::string(args, "home")?.filter(|s| !s.is_empty()),
            create_home: argx::boolean(args, "create_home", true)?,
            shell: argx::string(args, "shell")?,
            comment: argx::string(args, "comment")?,
            password,
            password_always: argx::choice(
                args,
                "update_password",
                &["always", "on_create"],
                "always",
            )? == "always",
            remove: argx::boolean(args, "remove", false)?,
            force: argx::boolean(args, "force", false)?,
            seen: None,
        }))
    }
}

/// Parses the observe script's output (see `UserAction::observe`).
fn parse_user_observation(out: &str) -> SeenUser {
    let mut seen = SeenUser::default();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "passwd" => seen.entry = parse_passwd(v),
            "primary" => seen.primary = parse_group(v).map(|g| g.name).unwrap_or_default(),
            "groups" => seen.groups = v.split_whitespace().map(String::from).collect(),
            "hash" if !v.is_empty() => seen.hash = Some(v.to_string()),
            "newhome" => seen.new_home = v.to_string(),
            "newhome_exists" => seen.new_home_exists = v == "1",
            _ => {}
        }
    }
    let primary = seen.primary.clone();
    seen.groups.retain(|g| *g != primary);
    seen
}

impl UserAction {
    fn seen(&self) -> &SeenUser {
        self.seen.as_ref().expect("observe runs before diff")
    }

    /// The attributes to change on an existing account, as usermod options
    /// with a description and the undo arguments restoring each.
    fn modifications(&self, cur: &Passwd, seen: &SeenUser) -> ModResult<Vec<Modification>> {
        let mut m = Vec::new();
        if let Some(uid) = self.uid
            && uid != cur.uid
        {
            m.push(Modification::new(
                format!("uid {} -> {uid}", cur.uid),
                vec!["-u".into(), uid.to_string()],
                ("uid", cur.uid.into()),
            ));
        }
        if let Some(g) = &self.group {
            let same = match g.parse::<u32>() {
                Ok(gid) => gid == cur.gid,
                Err(_) => *g == seen.primary,
            };
            if !same {
                m.push(Modification::new(
                    format!("group {} -> {g}", seen.primary),
                    vec!["-g".into(), g.clone()],
                    ("group", cur.gid.to_string().into()),
                ));
            }
        }
        if let Some(want) = &self.groups {
            let missing: Vec<&String> = want.iter().filter(|g| !seen.groups.contains(g)).collect();
            let extra = !self.append && seen.groups.iter().any(|g| !want.contains(g));
            if !missing.is_empty() || extra {
                let new: Vec<String> = if self.append {
                    let mut all = seen.groups.clone();
                    all.extend(missing.iter().map(|g| g.to_string()));
                    all
                } else {
                    want.clone()
                };
                let mut opts = vec!["-G".into(), new.join(",")];
                if self.append {
                    opts.push("-a".into());
                }
                let mut undo = Map::new();
                undo.insert("groups".into(), Value::from(seen.groups.clone()));
                undo.insert("append".into(), false.into());
                m.push(Modification {
                    what: format!("groups [{}] -> [{}]", seen.groups.join(","), new.join(",")),
                    opts,
                    undo,
                });
            }
        }
        if let Some(h) = &self.home
            && *h != cur.home
        {
            m.push(Modification::new(
                format!("home {} -> {h}", cur.home),
                vec!["-d".into(), h.clone()],
                ("home", cur.home.clone().into()),
            ));
        }
        if let Some(s) = &self.shell
            && *s != cur.shell
        {
            m.push(Modification::new(
                format!("shell {} -> {s}", cur.shell),
                vec!["-s".into(), s.clone()],
                ("shell", cur.shell.clone().into()),
            ));
        }
        if let Some(c) = &self.comment
            && *c != cur.comment
        {
            m.push(Modification::new(
                format!("comment {:?} -> {c:?}", cur.comment),
                vec!["-c".into(), c.clone()],
                ("comment", cur.comment.clone().into()),
            ));
        }
        if let Some(p) = &self.password
            && self.password_always
        {
            match &seen.hash {
                Some(h) if h == p => {}
                None => {
                    return Err(ModuleError::new(format!(
                        "cannot read the password hash of {} to compare it (reading /etc/shadow needs root: use become)",
                        self.name
                    )));
                }
                Some(_) => m.push(Modification {
                    what: "password <redacted>".into(),
                    opts: vec!["-p".into(), p.clone()],
                    undo: Map::new(),
                }),
            }
        }
        Ok(m)
    }

    fn create_opts(&self) -> Vec<String> {
        let mut o = Vec::new();
        if self.system {
            o.push("-r".into());
        }
        if let Some(uid) = self.uid {
            o.extend(["-u".into(), uid.to_string()]);
        }
        if let Some(g) = &self.group {
            o.extend(["-g".into(), g.clone()]);
        }
        if let Some(gs) = self.groups.as_ref().filter(|g| !g.is_empty()) {
            o.extend(["-G".into(), gs.join(",")]);
        }
        if let Some(h) = &self.home {
            o.extend(["-d".into(), h.clone()]);
        }
        o.push(if self.create_home { "-m" } else { "-M" }.into());
        if let Some(s) = &self.shell {
            o.extend(["-s".into(), s.clone()]);
        }
        if let Some(c) = &self.comment {
            o.extend(["-c".into(), c.clone()]);
        }
        if let Some(p) = &self.password {
            o.extend(["-p".into(), p.clone()]);
        }
        o
    }
}

struct Modification {
    what: String,
    opts: Vec<String>,
    undo: Map<String, Value>,
}

impl Modification {
    fn new(what: String, opts: Vec<String>, undo: (&str, Value)) -> Modification {
        let mut m = Map::new();
        m.insert(undo.0.into(), undo.1);
        Modification {
            what,
            opts,
            undo: m,
        }
    }
}

fn words(cmd: &str, opts: &[String], name: &str) -> String {
    let mut s = cmd.to_string();
    for o in opts {
        s.push(' ');
        s.push_str(&sh_quote(o));
    }
    s.push_str(" -- ");
    s.push_str(&sh_quote(name));
    s
}

fn invoke(module: &str, name: &str, extra: Map<String, Value>, summary: String) -> Undo {
    let mut args = Map::new();
    args.insert("name".into(), name.into());
    args.extend(extra);
    Undo::Invoke {
        module: module.into(),
        args,
        summary,
    }
}

impl Action for UserAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let n = sh_quote(&self.name);
        let new_home = match &self.home {
            Some(h) => sh_quote(h),
            None => format!(
                "\"$(useradd -D 2>/dev/null | sed -n 's/^HOME=//p' | grep . || echo /home)\"/{n}"
            ),
        };
        let script = format!(
            r#"e=$(getent passwd {n}); printf 'passwd=%s\n' "$e"
if [ -n "$e" ]; then
  printf 'primary=%s\n' "$(getent group "$(printf %s "$e" | cut -d: -f4)")"
  printf 'groups=%s\n' "$(id -Gn {n} 2>/dev/null)"
  printf 'hash=%s\n' "$(getent shadow {n} 2>/dev/null | cut -d: -f2)"
fi
h={new_home}; printf 'newhome=%s\n' "$h"
if [ -e "$h" ]; then echo newhome_exists=1; fi
"#
        );
        let out = t.run_ok(&script, None)?;
        self.seen = Some(parse_user_observation(&out.stdout_str()));
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let seen = self.seen();
        let name = &self.name;
        match (&seen.entry, self.present) {
            (None, false) => Ok(None),
            (None, true) => {
                // Remove the home on undo only when this creates it.
                let made_home = self.create_home && !seen.new_home_exists;
                let mut extra = Map::new();
                extra.insert("state".into(), "absent".into());
                extra.insert("remove".into(), made_home.into());
                let what = if made_home {
                    format!(
                        "remove user {name} and the home {} it created",
                        seen.new_home
                    )
                } else {
                    format!("remove user {name} (its home is kept)")
                };
                let kind = if self.system { "system user" } else { "user" };
                Ok(Some(Change {
                    summary: format!("create {kind} {name}{}", self.describe_new()),
                    diff: None,
                    undo: invoke("user", name, extra, what),
                    predictable: true,
                    after: Vec::new(),
                }))
            }
            (Some(cur), false) => {
                let mut extra = Map::new();
                extra.insert("uid".into(), cur.uid.into());
                extra.insert("group".into(), cur.gid.to_string().into());
                extra.insert("groups".into(), Value::from(seen.groups.clone()));
                extra.insert("home".into(), cur.home.clone().into());
                extra.insert("create_home".into(), false.into());
                extra.insert("shell".into(), cur.shell.clone().into());
                extra.insert("comment".into(), cur.comment.clone().into());
                let mut lost = vec!["its password"];
                if self.remove {
                    lost.push("the removed home directory");
                }
                Ok(Some(Change {
                    summary: format!(
                        "remove user {name} (uid {}){}",
                        cur.uid,
                        if self.remove { " and its home" } else { "" }
                    ),
                    diff: None,
                    undo: invoke(
                        "user",
                        name,
                        extra,
                        format!(
                            "recreate user {name} (uid {}, home {}); not restored: {}",
                            cur.uid,
                            cur.home,
                            lost.join(", ")
                        ),
                    ),
                    predictable: true,
                    after: Vec::new(),
                }))
            }
            (Some(cur), true) => {
                let mods = self.modifications(cur, seen)?;
                if mods.is_empty() {
                    return Ok(None);
                }
                let mut extra = Map::new();
                let mut restored = Vec::new();
                let mut password = false;
                for m in &mods {
                    if m.undo.is_empty() {
                        password = true;
                    } else {
                        restored.extend(m.undo.keys().cloned());
                        extra.extend(m.undo.clone());
                    }
                }
                let summary = format!(
                    "update user {name} ({})",
                    mods.iter()
                        .map(|m| m.what.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                let undo = if extra.is_empty() {
                    Undo::Irreversible(format!("the prior password hash of {name} is not recorded"))
                } else {
                    invoke(
                        "user",
                        name,
                        extra,
                        format!(
                            "restore user {name}'s prior {}{}",
                            restored.join(", "),
                            if password { " (not its password)" } else { "" }
                        ),
                    )
                };
                Ok(Some(Change {
                    summary,
                    diff: None,
                    undo,
                    predictable: true,
                    after: Vec::new(),
                }))
            }
        }
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let seen = self.seen().clone();
        let script = match (&seen.entry, self.present) {
            (None, false) => return Ok(()),
            (None, true) => words("useradd", &self.create_opts(), &self.name),
            (Some(_), false) => {
                let mut o = Vec::new();
                if self.remove {
                    o.push("-r".to_string());
                }
                if self.force {
                    o.push("-f".to_string());
                }
                words("userdel", &o, &self.name)
            }
            (Some(cur), true) => {
                let opts: Vec<String> = self
                    .modifications(cur, &seen)?
                    .into_iter()
                    .flat_map(|m| m.opts)
                    .collect();
                words("usermod", &opts, &self.name)
            }
        };
        let out = t.exec(&script, None)?;
        // userdel -r exits 12 when only the mail spool was missing.
        let ok = out.rc == 0 || (out.rc == 12 && !self.present && self.remove);
        if !ok {
            let err = out.stderr_str();
            let err = match &self.password {
                Some(p) => err.replace(p.as_str(), "<redacted>"),
                None => err.to_string(),
            };
            return Err(ModuleError::new(format!(
                "{} failed (exit {}): {}",
                script.split(' ').next().unwrap_or_default(),
                out.rc,
                err.trim()
            ))
            .with("rc", out.rc));
        }
        // Report the account as it is now.
        self.observe(t)
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("name".into(), self.name.clone().into());
        r.insert(
            "state".into(),
            if self.present { "present" } else { "absent" }.into(),
        );
        let Some(seen) = &self.seen else {
            return r;
        };
        if !self.present {
            r.insert("remove".into(), self.remove.into());
            r.insert("force".into(), self.force.into());
            return r;
        }
        if let Some(e) = &seen.entry {
            r.insert("uid".into(), e.uid.into());
            r.insert("group".into(), e.gid.into());
            r.insert("groups".into(), seen.groups.join(",").into());
            r.insert("home".into(), e.home.clone().into());
            r.insert("shell".into(), e.shell.clone().into());
            r.insert("comment".into(), e.comment.clone().into());
        } else {
            // Check mode: the account as it would be created.
            r.insert(
                "home".into(),
                self.home.clone().unwrap_or(seen.new_home.clone()).into(),
            );
            if let Some(u) = self.uid {
                r.insert("uid".into(), u.into());
            }
            if let Some(s) = &self.shell {
                r.insert("shell".into(), s.clone().into());
            }
            if let Some(c) = &self.comment {
                r.insert("comment".into(), c.clone().into());
            }
            r.insert(
                "groups".into(),
                self.groups.clone().unwrap_or_default().join(",").into(),
            );
        }
        r.insert("system".into(), self.system.into());
        r.insert("create_home".into(), self.create_home.into());
        if self.password.is_some() {
            r.insert("password".into(), REDACTED.into());
        }
        r
    }
}

impl UserAction {
    fn describe_new(&self) -> String {
        let mut parts = Vec::new();
        if let Some(u) = self.uid {
            parts.push(format!("uid {u}"));
        }
        if let Some(g) = &self.group {
            parts.push(format!("group {g}"));
        }
        if let Some(gs) = self.groups.as_ref().filter(|g| !g.is_empty()) {
            parts.push(format!("groups {}", gs.join(",")));
        }
        if let Some(h) = &self.home {
            parts.push(format!("home {h}"));
        }
        if !self.create_home {
            parts.push("no home created".into());
        }
        if let Some(s) = &self.shell {
            parts.push(format!("shell {s}"));
        }
        if self.password.is_some() {
            parts.push("password <redacted>".into());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    }
}

// ---- group ------------------------------------------------------------------

struct GroupAction {
    name: String,
    present: bool,
    gid: Option<u32>,
    system: bool,
    seen: Option<Option<GroupEntry>>,
}

impl Module for Group {
    fn spec(&self) -> &'static ModuleSpec {
        &GROUP
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let name = argx::req_string(args, "name")?;
        check_name(&name)?;
        Ok(Box::new(GroupAction {
            name,
            present: argx::choice(args, "state", &["present", "absent"], "present")? == "present",
            gid: int_arg(args, "gid")?,
            system: argx::boolean(args, "system", false)?,
            seen: None,
        }))
    }
}

impl Action for GroupAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let out = t.run_ok(
            &format!("getent group {} || true", sh_quote(&self.name)),
            None,
        )?;
        self.seen = Some(out.stdout_str().lines().next().and_then(parse_group));
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let seen = self.seen.as_ref().expect("observe runs before diff");
        let name = &self.name;
        let mut extra = Map::new();
        match (seen, self.present) {
            (None, false) => Ok(None),
            (None, true) => {
                extra.insert("state".into(), "absent".into());
                let kind = if self.system { "system group" } else { "group" };
                Ok(Some(Change {
                    summary: format!(
                        "create {kind} {name}{}",
                        self.gid.map(|g| format!(" (gid {g})")).unwrap_or_default()
                    ),
                    diff: None,
                    undo: invoke("group", name, extra, format!("remove group {name}")),
                    predictable: true,
                    after: Vec::new(),
                }))
            }
            (Some(g), false) => {
                extra.insert("gid".into(), g.gid.into());
                let lost = if g.members.is_empty() {
                    String::new()
                } else {
                    format!("; not restored: its members {}", g.members.join(","))
                };
                Ok(Some(Change {
                    summary: format!("remove group {name} (gid {})", g.gid),
                    diff: None,
                    undo: invoke(
                        "group",
                        name,
                        extra,
                        format!("recreate group {name} (gid {}){lost}", g.gid),
                    ),
                    predictable: true,
                    after: Vec::new(),
                }))
            }
            (Some(g), true) => match self.gid {
                Some(gid) if gid != g.gid => {
                    extra.insert("gid".into(), g.gid.into());
                    Ok(Some(Change {
                        summary: format!("update group {name} (gid {} -> {gid})", g.gid),
                        diff: None,
                        undo: invoke(
                            "group",
                            name,
                            extra,
                            format!("restore group {name}'s gid {}", g.gid),
                        ),
                        predictable: true,
                        after: Vec::new(),
                    }))
                }
                _ => Ok(None),
            },
        }
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let seen = self.seen.clone().expect("observe runs before apply");
        let script = match (&seen, self.present) {
            (None, false) => return Ok(()),
            (Some(g), true) if self.gid.is_none_or(|gid| gid == g.gid) => return Ok(()),
            (None, true) => {
                let mut o = Vec::new();
                if self.system {
                    o.push("-r".to_string());
                }
                if let Some(g) = self.gid {
                    o.extend(["-g".to_string(), g.to_string()]);
                }
                words("groupadd", &o, &self.name)
            }
            (Some(_), false) => words("groupdel", &[], &self.name),
            (Some(_), true) => words(
                "groupmod",
                &["-g".into(), self.gid.unwrap_or_default().to_string()],
                &self.name,
            ),
        };
        t.run_ok(&script, None)?;
        self.observe(t)
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("name".into(), self.name.clone().into());
        r.insert(
            "state".into(),
            if self.present { "present" } else { "absent" }.into(),
        );
        if self.present {
            if let Some(Some(g)) = &self.seen {
                r.insert("gid".into(), g.gid.into());
            }
            r.insert("system".into(), self.system.into());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getent_lines_parse() {
        let p = parse_passwd("app:x:998:997:App user,,,:/opt/app:/usr/sbin/nologin\n").unwrap();
        assert_eq!(p.uid, 998);
        assert_eq!(p.gid, 997);
        assert_eq!(p.comment, "App user,,,");
        assert_eq!(p.home, "/opt/app");
        assert_eq!(p.shell, "/usr/sbin/nologin");
        assert!(parse_passwd("").is_none());
        assert!(parse_passwd("a:x:notanumber:1:::").is_none());
        let g = parse_group("adm:x:4:syslog,alice").unwrap();
        assert_eq!((g.name.as_str(), g.gid), ("adm", 4));
        assert_eq!(g.members, vec!["syslog", "alice"]);
        assert!(parse_group("app:x:997:").unwrap().members.is_empty());
    }

    #[test]
    fn observation_drops_the_primary_group() {
        let seen = parse_user_observation(
            "passwd=app:x:998:997::/home/app:/bin/sh\nprimary=app:x:997:\ngroups=app adm audio\nhash=$6$salt$abc\nnewhome=/home/app\nnewhome_exists=1\n",
        );
        assert_eq!(seen.groups, vec!["adm", "audio"]);
        assert_eq!(seen.primary, "app");
        assert_eq!(seen.hash.as_deref(), Some("$6$salt$abc"));
        assert!(seen.new_home_exists);
        let none = parse_user_observation("passwd=\nnewhome=/home/x\n");
        assert!(none.entry.is_none());
        assert!(!none.new_home_exists);
    }

    fn user(args: Value, seen: &str) -> UserAction {
        let args = args.as_object().unwrap().clone();
        let mut a = UserAction {
            name: args["name"].as_str().unwrap().into(),
            present: args.get("state").and_then(Value::as_str) != Some("absent"),
            system: false,
            uid: int_arg(&args, "uid").unwrap(),
            group: argx::string(&args, "group").unwrap(),
            groups: list_arg(&args, "groups").unwrap(),
            append: argx::boolean(&args, "append", false).unwrap(),
            home: argx::string(&args, "home").unwrap(),
            create_home: argx::boolean(&args, "create_home", true).unwrap(),
            shell: argx::string(&args, "shell").unwrap(),
            comment: None,
            password: argx::string(&args, "password").unwrap(),
            password_always: true,
            remove: false,
            force: false,
            seen: None,
        };
        a.seen = Some(parse_user_observation(seen));
        a
    }

    #[test]
    fn created_user_is_undone_with_the_home_it_made() {
        let a = user(
            serde_json::json!({"name": "app", "password": "$6$s$secret"}),
            "passwd=\nnewhome=/home/app\n",
        );
        let ch = a.diff().unwrap().unwrap();
        assert!(!ch.summary.contains("secret"), "{}", ch.summary);
        let Undo::Invoke { args, .. } = &ch.undo else {
            panic!("{:?}", ch.undo)
        };
        assert_eq!(args["state"], "absent");
        assert_eq!(args["remove"], true);
        let kept = user(
            serde_json::json!({"name": "app"}),
            "passwd=\nnewhome=/home/app\nnewhome_exists=1\n",
        );
        let Undo::Invoke { args, .. } = kept.diff().unwrap().unwrap().undo else {
            panic!()
        };
        assert_eq!(args["remove"], false);
    }

    #[test]
    fn modified_user_undo_restores_only_what_changed() {
        let seen = "passwd=app:x:998:997::/home/app:/bin/sh\nprimary=app:x:997:\ngroups=app adm\nhash=$6$s$old\n";
        let a = user(
            serde_json::json!({"name": "app", "shell": "/bin/bash", "groups": ["adm", "audio"], "password": "$6$s$new"}),
            seen,
        );
        let ch = a.diff().unwrap().unwrap();
        assert!(!ch.summary.contains("$6$"), "{}", ch.summary);
        let Undo::Invoke { args, summary, .. } = &ch.undo else {
            panic!()
        };
        assert_eq!(args["shell"], "/bin/sh");
        assert_eq!(args["groups"], serde_json::json!(["adm"]));
        assert!(args.get("uid").is_none());
        assert!(args.get("password").is_none());
        assert!(summary.contains("not its password"));
        let same = user(
            serde_json::json!({"name": "app", "shell": "/bin/sh", "groups": "adm", "password": "$6$s$old"}),
            seen,
        );
        assert!(same.diff().unwrap().is_none());
        let append = user(
            serde_json::json!({"name": "app", "groups": [], "append": true}),
            seen,
        );
        assert!(append.diff().unwrap().is_none());
    }
}
