//! `postgresql_pg_hba`: one rule of pg_hba.conf, edited in place.
//!
//! Rule order is kept: a changed rule is rewritten on its own line, a new one
//! is appended, a removed one deleted; nothing is re-sorted, comments stay.
//! Apply writes the candidate file, asks the server to parse it
//! (`pg_hba_file_rules`) before reloading, and puts the previous file back if any
//! line is rejected, so the running server never loads a broken file.
//!
//! Needs a shell on the database host (the `psql` transport). Undo writes the
//! prior file back the same way (checked, then reloaded).

use super::session::{Login, Session};
use super::{invoke, pg_args, with_login};
use crate::modules::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use crate::modules::{
    Action, Args, Change, FileKind, FileState, ModResult, Module, ModuleCx, ModuleError, Returns,
    Target, TextDiff, argx,
};
use serde_json::{Map, Value};

pub static SPEC: ModuleSpec = ModuleSpec {
    name: "postgresql_pg_hba",
    summary: "Add, change or remove a pg_hba.conf rule (checked by the server before reload)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: pg_args![
        arg(
            "dest",
            Path,
            "The pg_hba.conf file (default: the server's `hba_file`)."
        ),
        arg("contype", Str, "Connection type (default host).").choices(&[
            "local",
            "host",
            "hostssl",
            "hostnossl",
            "hostgssenc",
            "hostnogssenc",
        ]),
        arg(
            "databases",
            Str,
            "Databases, comma-separated (default all)."
        ),
        arg("users", Str, "Users, comma-separated (default all)."),
        arg("source", Str, "Address or CIDR (host* types).").aliases(&["src", "address"]),
        arg("netmask", Str, "Netmask, when source is a bare address."),
        arg(
            "method",
            Str,
            "Authentication method (default scram-sha-256)."
        ),
        arg(
            "options",
            Str,
            "Options after the method, e.g. `clientcert=verify-full`."
        ),
        arg("state", Str, "Whether the rule should be there.").choices(&["present", "absent"]),
        arg("create", Bool, "Create the file if it does not exist."),
        arg(
            "content",
            Str,
            "The whole file instead of one rule (rollback uses it to put a prior file back).",
        ),
    ],
};

pub struct PostgresqlPgHba;

/// What identifies a rule: type, databases, users, address (and netmask).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RuleKey {
    contype: String,
    databases: String,
    users: String,
    address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    key: RuleKey,
    method: String,
    options: String,
}

impl Rule {
    fn line(&self) -> String {
        let k = &self.key;
        let mut f = vec![k.contype.as_str(), &k.databases, &k.users];
        if let Some(a) = &k.address {
            f.push(a);
        }
        f.push(&self.method);
        if !self.options.is_empty() {
            f.push(&self.options);
        }
        f.join("\t")
    }
}

/// Splits a pg_hba line into tokens (quotes kept), dropping a trailing comment.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '#' if !quoted => break,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The rule on a line, if it is one.
fn parse_rule(line: &str) -> Option<Rule> {
    let t = tokens(line);
    let contype = t.first()?.clone();
    let (address, rest) = if contype == "local" {
        (None, t.get(3..)?)
    } else {
        let addr = t.get(3)?.clone();
        // A bare address is followed by its netmask.
        let with_mask = !addr.contains('/')
            && (addr.parse::<std::net::IpAddr>().is_ok())
            && t.get(4)
                .is_some_and(|m| m.parse::<std::net::IpAddr>().is_ok());
        if with_mask {
            (Some(format!("{addr}\t{}", t[4])), t.get(5..)?)
        } else {
            (Some(addr), t.get(4..)?)
        }
    };
    let method = rest.first()?.clone();
    Some(Rule {
        key: RuleKey {
            contype,
            databases: t.get(1)?.clone(),
            users: t.get(2)?.clone(),
            address,
        },
        method,
        options: rest[1..].join(" "),
    })
}

/// The file with `rule` present (changed in place or appended) or absent.
fn edit(content: &str, rule: &Rule, present: bool) -> String {
    let mut lines: Vec<String> = content.lines().map(String::from).collect();
    let mut found = false;
    lines.retain_mut(|l| {
        let Some(r) = parse_rule(l) else {
            return true;
        };
        if r.key != rule.key {
            return true;
        }
        if !present || found {
            return false;
        }
        found = true;
        if r != *rule {
            *l = rule.line();
        }
        true
    });
    if present && !found {
        lines.push(rule.line());
    }
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

struct HbaAction {
    args: Args,
    login: Login,
    dest: Option<String>,
    rule: Option<Rule>,
    present: bool,
    create: bool,
    content: Option<String>,
    /// The file, its state, and the server's active `hba_file`.
    seen: Option<(String, FileState, String)>,
}

const CHECK_SQL: &str = "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL";
const RELOAD_SQL: &str = "SELECT pg_reload_conf()";

impl Module for PostgresqlPgHba {
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let content = argx::string(args, "content")?;
        let rule = if content.is_some() {
            None
        } else {
            let contype = argx::string(args, "contype")?.unwrap_or_else(|| "host".into());
            let source = argx::string(args, "source")?.filter(|s| !s.is_empty());
            let address = if contype == "local" {
                None
            } else {
                let s = source.ok_or_else(|| {
                    ModuleError::new(format!("source is required for contype {contype}"))
                })?;
                Some(
                    match argx::string(args, "netmask")?.filter(|m| !m.is_empty()) {
                        Some(m) => format!("{s}\t{m}"),
                        None => s,
                    },
                )
            };
            let field = |k: &str| -> ModResult<String> {
                Ok(argx::string(args, k)?
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "all".into()))
            };
            Some(Rule {
                key: RuleKey {
                    contype,
                    databases: field("databases")?,
                    users: field("users")?,
                    address,
                },
                method: argx::string(args, "method")?.unwrap_or_else(|| "md5".into()),
                options: argx::string(args, "options")?.unwrap_or_default(),
            })
        };
        Ok(Box::new(HbaAction {
            args: args.clone(),
            login: Login::from_args(args)?,
            dest: argx::string(args, "dest")?.filter(|s| !s.is_empty()),
            rule,
            present: super::present(args)?,
            create: argx::boolean(args, "create", false)?,
            content,
            seen: None,
        }))
    }
}

impl HbaAction {
    fn candidate(&self) -> Option<String> {
        let (current, _, _) = self.seen.as_ref().expect("observe runs before diff");
        let new = match (&self.content, &self.rule) {
            (Some(c), _) => c.clone(),
            (None, Some(rule)) => edit(current, rule, self.present),
            (None, None) => return None,
        };
        (new != *current).then_some(new)
    }

    fn path(&self) -> &str {
        self.dest
            .as_deref()
            .or(self.seen.as_ref().map(|(_, _, active)| active.as_str()))
            .unwrap_or("")
    }

    fn is_active(&self) -> bool {
        self.seen
            .as_ref()
            .is_some_and(|(_, _, active)| active == self.path())
    }
}

impl Action for HbaAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        if let Some(pc) = t.conn.postgres() {
            return Err(ModuleError::new(format!(
                "host {}: postgresql_pg_hba edits a file on the database host; with `ansible_connection: postgres` there is none to reach (managed servers set access rules through their provider)",
                pc.host()
            )));
        }
        let active = Session::new(t, &self.login, None)
            .row("SELECT current_setting('hba_file') AS f")?
            .and_then(|r| r.get("f").and_then(Value::as_str).map(String::from))
            .unwrap_or_default();
        let path = self.dest.clone().unwrap_or_else(|| active.clone());
        let st = t.stat(&path, true)?;
        let content = match st.kind {
            FileKind::File => st
                .content
                .clone()
                .map(|c| String::from_utf8_lossy(&c).into_owned())
                .ok_or_else(|| ModuleError::new(format!("{path} is too large or unreadable")))?,
            FileKind::Absent if self.create || self.content.is_some() => String::new(),
            FileKind::Absent => {
                return Err(ModuleError::new(format!(
                    "{path} does not exist (set create: yes to start one)"
                )));
            }
            _ => return Err(ModuleError::new(format!("{path} is not a regular file"))),
        };
        self.seen = Some((content, st, active));
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let Some(new) = self.candidate() else {
            return Ok(None);
        };
        let (current, st, _) = self.seen.as_ref().expect("observed");
        let path = self.path().to_string();
        let summary = if self.is_active() {
            format!("write {path}; {CHECK_SQL}; {RELOAD_SQL}")
        } else {
            format!("write {path} (not the server's active hba_file: no check, no reload)")
        };
        let mut undo = Map::new();
        undo.insert("dest".into(), path.clone().into());
        undo.insert("content".into(), current.clone().into());
        Ok(Some(Change {
            summary,
            diff: Some(TextDiff {
                path: path.clone(),
                before: current.clone(),
                after: new.clone(),
            }),
            undo: invoke(
                "postgresql_pg_hba",
                with_login(undo, &self.args),
                format!("put the prior {path} back and reload"),
            ),
            predictable: true,
            after: vec![(
                path,
                FileState::planned(st, FileKind::File, None, None, None)
                    .with_content(new.as_bytes()),
            )],
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let Some(new) = self.candidate() else {
            return Ok(());
        };
        let (prior, st, _) = self.seen.clone().expect("observed");
        let path = self.path().to_string();
        t.write_file(&path, new.as_bytes(), None, None, None)?;
        if !self.is_active() {
            return Ok(());
        }
        let mut s = Session::new(t, &self.login, None);
        let errors = s.rows(CHECK_SQL)?;
        if !errors.is_empty() {
            let what: Vec<String> = errors
                .iter()
                .map(|r| {
                    format!(
                        "line {}: {}",
                        r.get("line_number").cloned().unwrap_or(Value::Null),
                        r.get("error").and_then(Value::as_str).unwrap_or("")
                    )
                })
                .collect();
            drop(s);
            let restored = if st.exists() {
                t.write_file(&path, prior.as_bytes(), None, None, None)
            } else {
                t.run_ok(
                    &format!("rm -f -- {}", crate::connection::sh_quote(&path)),
                    None,
                )
                .map(|_| ())
            };
            let tail = match restored {
                Ok(()) => "the previous file is back in place; nothing was reloaded".to_string(),
                Err(e) => format!("putting the previous file back FAILED too: {}", e.msg),
            };
            return Err(ModuleError::new(format!(
                "PostgreSQL rejected the new {path}: {}; {tail}",
                what.join("; ")
            )));
        }
        s.execute(&[RELOAD_SQL.to_string()])
    }

    fn returns(&self) -> Returns {
        let mut r = Map::new();
        r.insert("dest".into(), self.path().to_string().into());
        if let Some(rule) = &self.rule {
            r.insert("rule".into(), rule.line().into());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(line: &str) -> Rule {
        parse_rule(line).unwrap()
    }

    #[test]
    fn rules_change_in_place_append_at_the_end_and_keep_comments() {
        let file = "# TYPE DATABASE USER ADDRESS METHOD\nlocal all postgres peer\nhost all all 10.0.0.0/8 md5 # office\nhost all all 127.0.0.1/32 scram-sha-256\n";
        let changed = edit(file, &rule("host all all 10.0.0.0/8 scram-sha-256"), true);
        assert_eq!(
            changed,
            "# TYPE DATABASE USER ADDRESS METHOD\nlocal all postgres peer\nhost\tall\tall\t10.0.0.0/8\tscram-sha-256\nhost all all 127.0.0.1/32 scram-sha-256\n"
        );
        let added = edit(
            file,
            &rule("hostssl client_001_db client_001 0.0.0.0/0 scram-sha-256"),
            true,
        );
        assert!(added.ends_with("127.0.0.1/32 scram-sha-256\nhostssl\tclient_001_db\tclient_001\t0.0.0.0/0\tscram-sha-256\n"));
        assert_eq!(edit(file, &rule("local all postgres peer"), true), file);
        let removed = edit(file, &rule("host all all 10.0.0.0/8 md5"), false);
        assert!(!removed.contains("10.0.0.0"));
        assert_eq!(removed.lines().count(), 3);
    }

    #[test]
    fn bare_addresses_keep_their_netmask() {
        let r = rule("host all all 192.168.1.0 255.255.255.0 md5");
        assert_eq!(r.key.address.as_deref(), Some("192.168.1.0\t255.255.255.0"));
        assert_eq!(r.method, "md5");
        assert!(parse_rule("# comment").is_none());
        assert!(parse_rule("host all").is_none());
    }
}
