//! `apt` (also `package`): Debian packages present, absent or at their latest version.
//!
//! Observing is one round trip: the age of the package lists, `dpkg-query -W` for every
//! named package, and `apt-get -s` (a simulation, which changes nothing and needs no lock)
//! for the exact set of packages the change installs, upgrades or removes, dependencies
//! included. The plan shows that set, and the undo record inverts it: packages the change
//! installed are removed, upgraded or removed ones are installed again at their prior
//! version, all in one `apt-get install` (`pkg=version` to install, `pkg-` to remove).
//!
//! `update_cache` refreshes the package lists before anything is decided. Outside check
//! mode that refresh runs while observing, as it decides what the install will do; it
//! never changes an installed package. In check mode it is only planned: a package the
//! current lists do not know yet is planned as an install whose outcome is not vouched for.
//!
//! A planned install makes the package's systemd unit visible to later tasks of a plan:
//! installing package `P` (named or pulled in as a dependency) plans
//! `/lib/systemd/system/P.service`, so that "install postgresql, then start and enable
//! postgresql" plans cleanly on a fresh host. This is a rule of thumb, as what a package
//! ships is only known once it is downloaded: a unit named otherwise is not planned, and a
//! later task that starts it fails the plan (see `service` for instances of templates).

use super::spec::{ArgKind::*, ArgSpec, CheckSupport, ModuleSpec, arg};
use super::target::{FileKind, FileState};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::connection::sh_quote;
use serde_json::Value;
use std::collections::BTreeMap;

pub static APT: ModuleSpec = ModuleSpec {
    name: "apt",
    summary: "Install, upgrade or remove Debian packages with apt-get (also `package`)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        arg(
            "name",
            Raw,
            "A package name or a list of them; `name=version` pins a version \
             (a trailing `*` matches version prefixes).",
        )
        .aliases(&["pkg", "package"]),
        ArgSpec {
            choices: &["present", "installed", "absent", "removed", "latest"],
            ..arg(
                "state",
                Str,
                "present (default), absent, or latest (upgrade to the candidate version).",
            )
        },
        arg(
            "update_cache",
            Bool,
            "Run `apt-get update` first (subject to cache_valid_time).",
        )
        .aliases(&["update-cache"]),
        arg(
            "cache_valid_time",
            Int,
            "Seconds the package lists stay fresh: no update while they are younger.",
        ),
        arg(
            "purge",
            Bool,
            "With state=absent: also remove configuration files.",
        ),
        arg(
            "install_recommends",
            Bool,
            "Install recommended packages (default: apt's own setting).",
        )
        .aliases(&["install-recommends"]),
        arg(
            "allow_downgrade",
            Bool,
            "Allow a version pin lower than the installed version.",
        )
        .aliases(&["allow-downgrade", "allow_downgrades", "allow-downgrades"]),
        arg(
            "autoremove",
            Bool,
            "Also remove dependencies no longer needed.",
        ),
        arg(
            "lock_timeout",
            Int,
            "Seconds to wait for the dpkg lock (default 60).",
        ),
        arg(
            "default_release",
            Str,
            "Install from this release (`apt-get -t`, e.g. bookworm-backports).",
        )
        .aliases(&["default-release"]),
        arg(
            "only_upgrade",
            Bool,
            "Only upgrade installed packages; never install new ones.",
        ),
        arg(
            "dpkg_options",
            Str,
            "Comma-separated dpkg options (default force-confdef,force-confold).",
        ),
        arg(
            "force_apt_get",
            Bool,
            "Accepted for compatibility; apt-get is always used.",
        ),
    ],
};

pub struct Apt;

impl Module for Apt {
    fn spec(&self) -> &'static ModuleSpec {
        &APT
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let names = name_list(args)?;
        let state = match argx::choice(
            args,
            "state",
            &["present", "installed", "absent", "removed", "latest"],
            "present",
        )?
        .as_str()
        {
            "installed" | "present" => State::Present,
            "removed" | "absent" => State::Absent,
            _ => State::Latest,
        };
        let update_cache = argx::boolean(args, "update_cache", false)?;
        if names.is_empty() && !update_cache {
            return Err(ModuleError::new(
                "one of the following is required: name, update_cache",
            ));
        }
        let mut pkgs = Vec::new();
        for n in names {
            let p = Pkg::parse(&n)?;
            if state != State::Present && (p.remove || p.version.is_some()) {
                return Err(ModuleError::new(format!(
                    "{n}: version pins and removals (`name-`) need state=present"
                )));
            }
            pkgs.push(p);
        }
        let secs = |key: &str| -> ModResult<Option<u64>> {
            Ok(argx::number(args, key)?.map(|n| n.max(0.0) as u64))
        };
        Ok(Box::new(AptAction {
            pkgs,
            state,
            update_cache,
            cache_valid_time: secs("cache_valid_time")?,
            purge: argx::boolean(args, "purge", false)?,
            install_recommends: match args.get("install_recommends") {
                None | Some(Value::Null) => None,
                Some(_) => Some(argx::boolean(args, "install_recommends", true)?),
            },
            allow_downgrade: argx::boolean(args, "allow_downgrade", false)?,
            autoremove: argx::boolean(args, "autoremove", false)?,
            lock_timeout: secs("lock_timeout")?.unwrap_or(60),
            default_release: argx::string(args, "default_release")?,
            only_upgrade: argx::boolean(args, "only_upgrade", false)?,
            dpkg_options: {
                let opts = argx::string(args, "dpkg_options")?
                    .unwrap_or_else(|| "force-confdef,force-confold".into());
                let opts: Vec<String> = opts
                    .split(',')
                    .map(|o| o.trim().trim_start_matches('-').to_string())
                    .filter(|o| !o.is_empty())
                    .collect();
                if let Some(bad) = opts.iter().find(|o| {
                    !o.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-=/_.".contains(c))
                }) {
                    return Err(ModuleError::new(format!("invalid dpkg option: {bad}")));
                }
                opts
            },
            check_mode: cx.check_mode,
            seen: None,
            cache_updated: false,
            stdout: String::new(),
            stderr: String::new(),
        }))
    }
}

fn name_list(args: &Args) -> ModResult<Vec<String>> {
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    };
    match args.get("name") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(split(s)),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for v in items {
                match v {
                    Value::String(s) => out.extend(split(s)),
                    Value::Number(n) => out.push(n.to_string()),
                    other => {
                        return Err(ModuleError::new(format!(
                            "name: each package must be a string, got {other}"
                        )));
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(ModuleError::new(format!(
            "name must be a package name or a list of them, got {other}"
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Present,
    Absent,
    Latest,
}

/// One named package: `name`, `name=version`, or (apt-get's own syntax, as undo records
/// use it) `name-` for a removal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pkg {
    name: String,
    version: Option<String>,
    remove: bool,
}

impl Pkg {
    fn parse(s: &str) -> ModResult<Pkg> {
        let (name, version) = match s.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().to_string())),
            None => (s.trim(), None),
        };
        let (name, remove) = match name.strip_suffix('-') {
            Some(n) if version.is_none() => (n, true),
            _ => (name, false),
        };
        let ok = |c: char| c.is_ascii_alphanumeric() || "+-.:_".contains(c);
        if name.is_empty() || !name.chars().all(ok) {
            return Err(ModuleError::new(format!("invalid package name: {s}")));
        }
        if version.as_deref().is_some_and(|v| {
            v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.:~*".contains(c))
        }) {
            return Err(ModuleError::new(format!("invalid version in {s}")));
        }
        Ok(Pkg {
            name: name.to_string(),
            version,
            remove,
        })
    }

    /// Whether an installed version satisfies the pin.
    fn version_matches(&self, installed: &str) -> bool {
        match self.version.as_deref() {
            None => true,
            Some(v) => match v.strip_suffix('*') {
                Some(prefix) => installed.starts_with(prefix),
                None => installed == v,
            },
        }
    }

    /// The word for `apt-get install`.
    fn install_word(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// What observe saw.
#[derive(Debug, Default)]
struct Seen {
    /// Installed version per named package (`dpkg-query`, status `ii`).
    installed: BTreeMap<String, String>,
    /// Named packages with only configuration files left (status `rc`).
    config_only: Vec<String>,
    /// Whether the lists are due for the requested refresh.
    update_due: bool,
    /// The simulation of the change, when there is one to make.
    sim: Option<Sim>,
}

/// `apt-get -s` as parsed: what the change does to each package.
#[derive(Debug, Default, Clone)]
struct Sim {
    /// Newly installed: name → version.
    new: BTreeMap<String, String>,
    /// Upgraded or downgraded: name → (prior, next).
    changed: BTreeMap<String, (String, String)>,
    /// Removed: name → prior version.
    removed: BTreeMap<String, String>,
    /// Apt's message when the simulation failed (unknown package, conflicts, …).
    error: Option<String>,
}

struct AptAction {
    pkgs: Vec<Pkg>,
    state: State,
    update_cache: bool,
    cache_valid_time: Option<u64>,
    purge: bool,
    install_recommends: Option<bool>,
    allow_downgrade: bool,
    autoremove: bool,
    lock_timeout: u64,
    default_release: Option<String>,
    only_upgrade: bool,
    dpkg_options: Vec<String>,
    check_mode: bool,
    seen: Option<Seen>,
    cache_updated: bool,
    stdout: String,
    stderr: String,
}

const LISTS: &str = "/var/lib/apt/lists";
const STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";

impl AptAction {
    fn apt_get(&self) -> String {
        let mut s = format!(
            "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout={}",
            self.lock_timeout
        );
        for o in &self.dpkg_options {
            s.push_str(&format!(" -o Dpkg::Options::=--{o}"));
        }
        s
    }

    /// The apt-get arguments of the change (without the program itself).
    fn words(&self, installed: &BTreeMap<String, String>) -> Option<(String, Vec<String>)> {
        let mut words: Vec<String> = Vec::new();
        match self.state {
            State::Absent => {
                for p in &self.pkgs {
                    let has_conf = self.purge && self.seen_ref().config_only.contains(&p.name);
                    if installed.contains_key(&p.name) || has_conf {
                        words.push(p.name.clone());
                    }
                }
                if words.is_empty() {
                    return None;
                }
                let verb = if self.purge { "purge" } else { "remove" };
                let mut opts = String::from(verb);
                if self.autoremove {
                    opts.push_str(" --autoremove");
                }
                Some((opts, words))
            }
            State::Present | State::Latest => {
                for p in &self.pkgs {
                    if self.only_upgrade && !p.remove && !installed.contains_key(&p.name) {
                        continue;
                    }
                    let needed = p.remove && installed.contains_key(&p.name)
                        || !p.remove
                            && (self.state == State::Latest
                                || !installed.get(&p.name).is_some_and(|v| p.version_matches(v)));
                    if needed {
                        words.push(if p.remove {
                            format!("{}-", p.name)
                        } else {
                            p.install_word()
                        });
                    }
                }
                if words.is_empty() {
                    return None;
                }
                let mut opts = String::from("install");
                match self.install_recommends {
                    Some(true) => opts.push_str(" --install-recommends"),
                    Some(false) => opts.push_str(" --no-install-recommends"),
                    None => {}
                }
                if self.allow_downgrade {
                    opts.push_str(" --allow-downgrades");
                }
                if self.only_upgrade {
                    opts.push_str(" --only-upgrade");
                }
                if let Some(rel) = &self.default_release {
                    opts.push_str(&format!(" -t {}", sh_quote(rel)));
                }
                if self.autoremove {
                    opts.push_str(" --autoremove");
                }
                Some((opts, words))
            }
        }
    }

    fn seen_ref(&self) -> &Seen {
        self.seen.as_ref().expect("observe runs before diff")
    }

    fn observe_script(&self) -> String {
        let names: Vec<String> = self.pkgs.iter().map(|p| sh_quote(&p.name)).collect();
        let mut s = format!(
            "echo '## cache'\n\
             if ls {LISTS}/ 2>/dev/null | grep -q '_Packages'; then\n\
               if [ -e {STAMP} ]; then stat -c %Y {STAMP}; else stat -c %Y {LISTS}; fi\n\
             else echo none; fi\n\
             date +%s\n"
        );
        if !names.is_empty() {
            s.push_str(&format!(
                "echo '## dpkg'\n\
                 dpkg-query -W -f='${{Package}}\\t${{db:Status-Abbrev}}\\t${{Version}}\\n' {} 2>/dev/null || true\n",
                names.join(" ")
            ));
        }
        s
    }

    /// Reads the lists' age and the named packages' state; refreshes the lists first
    /// outside check mode when `update_cache` asks for it.
    fn read_state(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let out = t.run_ok(&self.observe_script(), None)?;
        let text = out.stdout_str();
        let mut seen = Seen::default();
        let mut section = "";
        let mut cache_lines = Vec::new();
        for line in text.lines() {
            if let Some(s) = line.strip_prefix("## ") {
                section = if s == "cache" { "cache" } else { "dpkg" };
                continue;
            }
            match section {
                "cache" => cache_lines.push(line.trim().to_string()),
                "dpkg" => {
                    let f: Vec<&str> = line.split('\t').collect();
                    if f.len() == 3 {
                        let name = f[0].split(':').next().unwrap_or(f[0]).to_string();
                        match f[1].trim() {
                            "ii" | "hi" | "iU" | "iF" | "hU" | "hF" => {
                                seen.installed.insert(name, f[2].to_string());
                            }
                            "rc" | "hc" => seen.config_only.push(name),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        let now: Option<u64> = cache_lines.get(1).and_then(|l| l.parse().ok());
        let age = match (cache_lines.first().map(String::as_str), now) {
            (Some("none"), _) | (None, _) | (_, None) => None,
            (Some(mtime), Some(now)) => mtime.parse::<u64>().ok().map(|m| now.saturating_sub(m)),
        };
        seen.update_due = self.update_cache
            && match (age, self.cache_valid_time) {
                (Some(age), Some(valid)) if valid > 0 => age >= valid,
                _ => true,
            };
        self.seen = Some(seen);
        Ok(())
    }

    /// Runs `apt-get update` and marks the lists fresh.
    fn update(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let script = format!(
            "{} update && mkdir -p /var/lib/apt/periodic && touch {STAMP}",
            self.apt_get()
        );
        let out = t.exec(&script, None)?;
        if out.rc != 0 {
            return Err(ModuleError::new(format!(
                "apt-get update failed: {}",
                apt_message(&out.stdout_str(), &out.stderr_str())
            )));
        }
        self.cache_updated = true;
        self.stdout.push_str(&out.stdout_str());
        Ok(())
    }

    fn simulate(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let installed = self.seen_ref().installed.clone();
        let Some((opts, words)) = self.words(&installed) else {
            return Ok(());
        };
        let quoted: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
        let script = format!(
            "LC_ALL=C apt-get -s -q {opts} {} 2>&1; echo \"## rc $?\"",
            quoted.join(" ")
        );
        let out = t.run_ok(&script, None)?;
        let sim = parse_sim(&out.stdout_str());
        self.seen.as_mut().expect("read_state ran").sim = Some(sim);
        Ok(())
    }

    fn summary(&self, sim: Option<&Sim>, planned_update: bool) -> String {
        let mut parts = Vec::new();
        if planned_update {
            parts.push("refresh the package lists".to_string());
        }
        match sim {
            Some(sim) => {
                let named: Vec<&str> = self.pkgs.iter().map(|p| p.name.as_str()).collect();
                let list = |m: Vec<String>| -> String { m.join(", ") };
                let fmt_new: Vec<String> = sim
                    .new
                    .iter()
                    .filter(|(n, _)| named.contains(&n.as_str()))
                    .map(|(n, v)| format!("{n} {v}"))
                    .collect();
                let deps = sim
                    .new
                    .keys()
                    .filter(|n| !named.contains(&n.as_str()))
                    .count();
                let deps_text = match deps {
                    1 => "1 dependency".to_string(),
                    n => format!("{n} dependencies"),
                };
                match (fmt_new.is_empty(), deps) {
                    (true, 0) => {}
                    (true, _) => parts.push(format!("install {deps_text}")),
                    (false, 0) => parts.push(format!("install {}", list(fmt_new))),
                    (false, _) => parts.push(format!("install {} (+{deps_text})", list(fmt_new))),
                }
                if !sim.changed.is_empty() {
                    let m: Vec<String> = sim
                        .changed
                        .iter()
                        .map(|(n, (a, b))| format!("{n} {a} -> {b}"))
                        .collect();
                    parts.push(format!("change {}", list(m)));
                }
                if !sim.removed.is_empty() {
                    let verb = if self.purge { "purge" } else { "remove" };
                    let m: Vec<String> = sim
                        .removed
                        .iter()
                        .map(|(n, v)| format!("{n} {v}"))
                        .collect();
                    parts.push(format!("{verb} {}", list(m)));
                }
            }
            None => {
                let installed = &self.seen_ref().installed;
                if let Some((opts, words)) = self.words(installed) {
                    let verb = opts.split(' ').next().unwrap_or("install");
                    parts.push(format!("{verb} {}", words.join(", ")));
                }
            }
        }
        if parts.is_empty() {
            "no package changes".into()
        } else {
            format!("apt: {}", parts.join("; "))
        }
    }
}

/// Parses `apt-get -s` output: `Inst name [old] (new …)`, `Remv name [old]`, `Purg …`.
fn parse_sim(text: &str) -> Sim {
    let mut sim = Sim::default();
    let mut rc = 0;
    let mut errors = Vec::new();
    for line in text.lines() {
        if let Some(r) = line.strip_prefix("## rc ") {
            rc = r.trim().parse().unwrap_or(1);
            continue;
        }
        if line.starts_with("E: ") {
            errors.push(line.trim().to_string());
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(op), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let rest: String = words.collect::<Vec<_>>().join(" ");
        let old = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .map(|(v, _)| v.to_string());
        let new = rest.find('(').map(|i| {
            rest[i + 1..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string()
        });
        let name = name.split(':').next().unwrap_or(name).to_string();
        match op {
            "Inst" => match (old, new) {
                (Some(o), Some(n)) => {
                    sim.changed.insert(name, (o, n));
                }
                (None, Some(n)) => {
                    sim.new.insert(name, n);
                }
                _ => {}
            },
            "Remv" | "Purg" => {
                sim.removed.insert(name, old.unwrap_or_default());
            }
            _ => {}
        }
    }
    if rc != 0 {
        sim.error = Some(if errors.is_empty() {
            text.lines()
                .filter(|l| !l.starts_with("## "))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            errors.join("\n")
        });
    }
    sim
}

/// Apt's own complaint from a failed run: its `E:` lines, else the end of its output.
fn apt_message(stdout: &str, stderr: &str) -> String {
    let errs: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| l.starts_with("E: "))
        .collect();
    if !errs.is_empty() {
        return errs.join("\n");
    }
    let all: Vec<&str> = stderr.lines().chain(stdout.lines()).collect();
    all[all.len().saturating_sub(10)..].join("\n")
}

/// The undo of a simulated change: one `apt-get install` that removes what was new and
/// reinstalls what was upgraded or removed at its prior version.
///
/// A prior version is only installable while some configured repository still offers it
/// (or it is still in apt's cache): once the mirror dropped it, the undo fails with apt's
/// "version not found" message and the package is left as the change made it. Packages
/// reinstalled by the undo are marked as manually installed.
fn undo_of(sim: &Sim) -> Undo {
    let mut words: Vec<Value> = Vec::new();
    let mut what = Vec::new();
    for (n, v) in sim.changed.iter().map(|(n, (old, _))| (n, old)) {
        words.push(format!("{n}={v}").into());
        what.push(format!("{n} {v}"));
    }
    for (n, v) in &sim.removed {
        words.push(format!("{n}={v}").into());
        what.push(format!("{n} {v}"));
    }
    let restore = what.len();
    for n in sim.new.keys() {
        words.push(format!("{n}-").into());
    }
    if words.is_empty() {
        return Undo::Nothing;
    }
    let mut parts = Vec::new();
    if !sim.new.is_empty() {
        let names: Vec<&str> = sim.new.keys().map(String::as_str).collect();
        parts.push(format!("remove packages {}", names.join(", ")));
    }
    if restore > 0 {
        parts.push(format!("reinstall {}", what.join(", ")));
    }
    let mut args = serde_json::Map::new();
    args.insert("name".into(), Value::Array(words));
    args.insert("state".into(), "present".into());
    if restore > 0 {
        args.insert("allow_downgrade".into(), true.into());
    }
    Undo::Invoke {
        module: "apt".into(),
        args,
        summary: parts.join("; "),
    }
}

/// The unit a planned install of `pkg` is assumed to ship (see the module docs).
fn planned_unit(pkg: &str) -> (String, FileState) {
    let st = FileState::planned(
        &FileState::absent(),
        FileKind::File,
        Some(0o644),
        Some("root"),
        Some("root"),
    );
    (format!("/lib/systemd/system/{pkg}.service"), st)
}

impl Action for AptAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        self.read_state(t)?;
        if self.seen_ref().update_due && !self.check_mode {
            self.update(t)?;
            self.seen.as_mut().expect("read_state ran").update_due = false;
        }
        self.simulate(t)
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let seen = self.seen_ref();
        let planned_update = seen.update_due;
        let Some(sim) = &seen.sim else {
            // Nothing to do with the packages.
            // As in Ansible, a refresh counts as a change only when it is all the task does.
            if (planned_update || self.cache_updated) && self.pkgs.is_empty() {
                return Ok(Some(Change {
                    summary: "apt: refresh the package lists".into(),
                    diff: None,
                    undo: Undo::Nothing,
                    predictable: true,
                    after: Vec::new(),
                }));
            }
            return Ok(None);
        };
        if let Some(err) = &sim.error {
            if planned_update {
                // The lists are refreshed first: what they will offer is not known yet.
                let installed = &seen.installed;
                let after = self
                    .words(installed)
                    .map(|(_, w)| {
                        w.iter()
                            .filter(|w| !w.ends_with('-'))
                            .map(|w| planned_unit(w.split('=').next().unwrap_or(w)))
                            .collect()
                    })
                    .unwrap_or_default();
                let names: Vec<Value> = self
                    .pkgs
                    .iter()
                    .filter(|p| !p.remove && !installed.contains_key(&p.name))
                    .map(|p| p.name.clone().into())
                    .collect();
                let undo = if names.is_empty() || self.state == State::Absent {
                    Undo::Irreversible("the package lists were not read yet".into())
                } else {
                    let mut args = serde_json::Map::new();
                    args.insert("name".into(), Value::Array(names));
                    args.insert("state".into(), "absent".into());
                    Undo::Invoke {
                        module: "apt".into(),
                        args,
                        summary: "remove the installed packages".into(),
                    }
                };
                return Ok(Some(Change {
                    summary: format!("{} (after the refresh)", self.summary(None, true)),
                    diff: None,
                    undo,
                    predictable: false,
                    after,
                }));
            }
            return Err(ModuleError::new(format!("apt-get: {err}"))
                .with("cache_updated", self.cache_updated));
        }
        if sim.new.is_empty() && sim.changed.is_empty() && sim.removed.is_empty() {
            // As in Ansible, a refresh counts as a change only when it is all the task does.
            if (planned_update || self.cache_updated) && self.pkgs.is_empty() {
                return Ok(Some(Change {
                    summary: "apt: refresh the package lists".into(),
                    diff: None,
                    undo: Undo::Nothing,
                    predictable: true,
                    after: Vec::new(),
                }));
            }
            return Ok(None);
        }
        Ok(Some(Change {
            summary: self.summary(Some(sim), planned_update),
            diff: None,
            undo: undo_of(sim),
            predictable: true,
            after: sim.new.keys().map(|n| planned_unit(n)).collect(),
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        if self.seen_ref().update_due {
            self.update(t)?;
        }
        let installed = self.seen_ref().installed.clone();
        let Some((opts, words)) = self.words(&installed) else {
            return Ok(());
        };
        let quoted: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
        let script = format!("{} {opts} {}", self.apt_get(), quoted.join(" "));
        let out = t.exec(&script, None)?;
        self.stdout.push_str(&out.stdout_str());
        self.stderr.push_str(&out.stderr_str());
        if out.rc != 0 {
            return Err(ModuleError::new(format!(
                "apt-get {opts} {} failed: {}",
                words.join(" "),
                apt_message(&out.stdout_str(), &out.stderr_str())
            ))
            .with("rc", out.rc)
            .with("stdout", out.stdout_str())
            .with("stderr", out.stderr_str()));
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("cache_updated".into(), self.cache_updated.into());
        if !self.stdout.is_empty() {
            r.insert("stdout".into(), self.stdout.clone().into());
            r.insert(
                "stdout_lines".into(),
                self.stdout.lines().collect::<Vec<_>>().into(),
            );
        }
        if !self.stderr.is_empty() {
            r.insert("stderr".into(), self.stderr.clone().into());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_pins_and_removals() {
        assert_eq!(
            Pkg::parse("nginx=1.22*").unwrap(),
            Pkg {
                name: "nginx".into(),
                version: Some("1.22*".into()),
                remove: false
            }
        );
        assert!(Pkg::parse("tree-").unwrap().remove);
        assert!(Pkg::parse("bad name").is_err());
        let p = Pkg::parse("libc6=2.36-9").unwrap();
        assert!(p.version_matches("2.36-9"));
        assert!(!p.version_matches("2.36-9+deb12u1"));
        assert!(Pkg::parse("x=2.36*").unwrap().version_matches("2.36-9"));
    }

    #[test]
    fn simulation_and_its_undo() {
        let out = "NOTE: This is only a simulation!\n\
Inst libpq5 (15.8-0+deb12u1 Debian:12.7/stable [amd64])\n\
Inst tree [2.1.0-1] (2.1.1-1 Debian:12/stable [amd64])\n\
Remv nano [7.2-1]\n\
Conf libpq5 (15.8-0+deb12u1 Debian:12.7/stable [amd64])\n## rc 0\n";
        let sim = parse_sim(out);
        assert_eq!(sim.new.get("libpq5").unwrap(), "15.8-0+deb12u1");
        assert_eq!(sim.changed.get("tree").unwrap().0, "2.1.0-1");
        assert_eq!(sim.removed.get("nano").unwrap(), "7.2-1");
        assert!(sim.error.is_none());
        let Undo::Invoke { module, args, .. } = undo_of(&sim) else {
            panic!("an invoke")
        };
        assert_eq!(module, "apt");
        assert_eq!(
            args["name"],
            serde_json::json!(["tree=2.1.0-1", "nano=7.2-1", "libpq5-"])
        );
        let bad = parse_sim("E: Unable to locate package nosuch\n## rc 100\n");
        assert_eq!(
            bad.error.as_deref(),
            Some("E: Unable to locate package nosuch")
        );
    }
}
