//! `service` (also `systemd`, `systemd_service`): a service started or stopped, enabled
//! at boot or not, masked or not.
//!
//! On hosts booted with systemd (`/run/systemd/system` exists) one `systemctl show`
//! reads the unit's load, active and unit-file states; elsewhere the SysV `service`
//! command and `/etc/rc?.d` links are used. `restarted` and `reloaded` always count as a
//! change, as in Ansible; a restart of a running service leaves nothing to undo.
//!
//! `daemon_reload` makes systemd read changed unit files. Outside check mode it runs while
//! observing (it changes no service's state, and what it loads decides the change); in
//! check mode a unit that is not loaded but that an earlier task of the plan creates (a
//! templated unit file, or a package install, see `apt`) is planned as a stopped,
//! disabled unit, so starting and enabling it is a planned step rather than an error.
//!
//! The undo record puts back what the change altered: the prior active state, the prior
//! enabled state and the prior mask.

use super::spec::{ArgKind::*, ArgSpec, CheckSupport, ModuleSpec, arg};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, Undo, argx,
};
use crate::connection::sh_quote;
use serde_json::Value;
use std::collections::BTreeMap;

pub static SERVICE: ModuleSpec = ModuleSpec {
    name: "service",
    summary: "Start, stop, restart, enable or mask a service (also `systemd`, `systemd_service`)",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        arg(
            "name",
            Str,
            "The service (a systemd unit name; `.service` is implied). Required unless only \
             daemon_reload/daemon_reexec is asked for.",
        )
        .aliases(&["service", "unit"]),
        ArgSpec {
            choices: &["started", "stopped", "restarted", "reloaded"],
            ..arg(
                "state",
                Str,
                "started/stopped are idempotent; restarted and reloaded always act.",
            )
        },
        arg("enabled", Bool, "Start the service at boot."),
        arg(
            "daemon_reload",
            Bool,
            "Run `systemctl daemon-reload` first (systemd only).",
        )
        .aliases(&["daemon-reload"]),
        arg(
            "daemon_reexec",
            Bool,
            "Run `systemctl daemon-reexec` first (systemd only).",
        )
        .aliases(&["daemon-reexec"]),
        arg(
            "masked",
            Bool,
            "Mask the unit so it cannot be started (systemd only).",
        ),
        ArgSpec {
            choices: &["system"],
            ..arg("scope", Str, "Only `system` is supported.")
        },
        arg(
            "no_block",
            Bool,
            "Do not wait for a start/stop job to finish (systemd only).",
        ),
        arg("pattern", Str, "Accepted for compatibility; not used."),
        arg("arguments", Str, "Accepted for compatibility; not used.").aliases(&["args"]),
        arg("sleep", Int, "Accepted for compatibility; not used."),
        arg("runlevel", Str, "Accepted for compatibility; not used."),
        arg("force", Bool, "Accepted for compatibility; not used."),
        arg("use", Str, "Accepted for compatibility; always auto."),
    ],
};

pub struct Service;

impl Module for Service {
    fn spec(&self) -> &'static ModuleSpec {
        &SERVICE
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let name = argx::string(args, "name")?.unwrap_or_default();
        let wants_unit = ["state", "enabled", "masked"]
            .iter()
            .any(|k| !matches!(args.get(*k), None | Some(Value::Null)));
        if name.is_empty() && wants_unit {
            return Err(ModuleError::new("missing required argument: name"));
        }
        if !name.is_empty()
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c))
        {
            return Err(ModuleError::new(format!("invalid service name: {name}")));
        }
        let state = match argx::string(args, "state")? {
            None => None,
            Some(s) => Some(match s.as_str() {
                "started" => Want::Started,
                "stopped" => Want::Stopped,
                "restarted" => Want::Restarted,
                "reloaded" => Want::Reloaded,
                other => {
                    return Err(ModuleError::new(format!(
                        "value of state must be one of: started, stopped, restarted, reloaded, got: {other}"
                    )));
                }
            }),
        };
        let opt_bool = |key: &str| -> ModResult<Option<bool>> {
            match args.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(_) => argx::boolean(args, key, false).map(Some),
            }
        };
        let enabled = opt_bool("enabled")?;
        let masked = opt_bool("masked")?;
        let daemon_reload = argx::boolean(args, "daemon_reload", false)?;
        let daemon_reexec = argx::boolean(args, "daemon_reexec", false)?;
        if let Some(scope) = argx::string(args, "scope")?
            && scope != "system"
        {
            return Err(ModuleError::new(format!(
                "scope {scope} is not supported, only system"
            )));
        }
        if state.is_none()
            && enabled.is_none()
            && masked.is_none()
            && !daemon_reload
            && !daemon_reexec
        {
            return Err(ModuleError::new(
                "one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec",
            ));
        }
        Ok(Box::new(ServiceAction {
            name,
            state,
            enabled,
            masked,
            daemon_reload,
            daemon_reexec,
            no_block: argx::boolean(args, "no_block", false)?,
            check_mode: cx.check_mode,
            seen: None,
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

#[derive(Debug, Clone)]
struct Seen {
    systemd: bool,
    /// systemd's properties (for SysV: ActiveState and UnitFileState made up alike).
    props: BTreeMap<String, String>,
    /// The unit is not loaded but an earlier planned change creates it.
    planned_unit: bool,
}

impl Seen {
    fn prop(&self, k: &str) -> &str {
        self.props.get(k).map(String::as_str).unwrap_or("")
    }
    fn active(&self) -> bool {
        matches!(
            self.prop("ActiveState"),
            "active" | "activating" | "reloading"
        )
    }
    fn enabled(&self) -> bool {
        matches!(
            self.prop("UnitFileState"),
            "enabled" | "enabled-runtime" | "alias" | "static" | "indirect" | "generated"
        )
    }
    fn masked(&self) -> bool {
        self.prop("LoadState") == "masked" || self.prop("UnitFileState").starts_with("masked")
    }
    fn found(&self) -> bool {
        self.planned_unit || !matches!(self.prop("LoadState"), "not-found" | "")
    }
}

struct ServiceAction {
    name: String,
    state: Option<Want>,
    enabled: Option<bool>,
    masked: Option<bool>,
    daemon_reload: bool,
    daemon_reexec: bool,
    no_block: bool,
    check_mode: bool,
    seen: Option<Seen>,
}

const PROPS: &str = "LoadState,ActiveState,SubState,UnitFileState,FragmentPath,Description,MainPID,NeedDaemonReload,Result";

/// The steps of a change, in the order they are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Unmask,
    Enable,
    Disable,
    Start,
    Stop,
    Restart,
    Reload,
    Mask,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::Unmask => "unmask",
            Op::Enable => "enable",
            Op::Disable => "disable",
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Restart => "restart",
            Op::Reload => "reload",
            Op::Mask => "mask",
        }
    }
}

impl ServiceAction {
    fn unit(&self) -> String {
        if self.name.contains('.') {
            self.name.clone()
        } else {
            format!("{}.service", self.name)
        }
    }

    fn seen(&self) -> &Seen {
        self.seen.as_ref().expect("observe runs before diff")
    }

    /// `postgresql@VERSION-CLUSTER`: without systemd, a PostgreSQL cluster is
    /// run with `pg_ctlcluster` and enabled through its `start.conf`.
    fn pg_cluster(&self) -> Option<(String, String)> {
        let unit = self.name.strip_suffix(".service").unwrap_or(&self.name);
        let rest = unit.strip_prefix("postgresql@")?;
        let (ver, cluster) = rest.split_once('-')?;
        (!ver.is_empty()
            && ver.chars().all(|c| c.is_ascii_digit() || c == '.')
            && !cluster.is_empty()
            && !cluster.contains('/'))
        .then(|| (ver.to_string(), cluster.to_string()))
    }

    fn ops(&self) -> Vec<Op> {
        let s = self.seen();
        let mut ops = Vec::new();
        if self.masked == Some(false) && s.masked() {
            ops.push(Op::Unmask);
        }
        let masked_after = self.masked.unwrap_or(s.masked());
        match self.enabled {
            Some(true) if !s.enabled() || (s.masked() && !masked_after) => ops.push(Op::Enable),
            Some(false) if s.enabled() => ops.push(Op::Disable),
            _ => {}
        }
        match self.state {
            Some(Want::Started) if !s.active() => ops.push(Op::Start),
            Some(Want::Stopped) if s.active() => ops.push(Op::Stop),
            Some(Want::Restarted) => ops.push(Op::Restart),
            Some(Want::Reloaded) if s.active() => ops.push(Op::Reload),
            Some(Want::Reloaded) => ops.push(Op::Start),
            _ => {}
        }
        if self.masked == Some(true) && !s.masked() {
            ops.push(Op::Mask);
        }
        ops
    }

    fn observe_script(&self) -> String {
        let u = sh_quote(&self.unit());
        let n = sh_quote(&self.name);
        format!(
            r#"if [ -d /run/systemd/system ]; then
  echo systemd
  systemctl show -p {PROPS} -- {u}
else
  echo sysv
{sysv}
fi"#,
            sysv = match self.pg_cluster() {
                Some((v, c)) => {
                    let (v, c) = (sh_quote(&v), sh_quote(&c));
                    format!(
                        r#"  if [ -d /etc/postgresql/{v}/{c} ]; then echo LoadState=loaded; else echo LoadState=not-found; fi
  if pg_ctlcluster {v} {c} status >/dev/null 2>&1; then echo ActiveState=active; else echo ActiveState=inactive; fi
  if [ "$(grep -v '^[[:space:]]*#' /etc/postgresql/{v}/{c}/start.conf 2>/dev/null | grep -m1 -o '[a-z]\+')" = auto ]; then echo UnitFileState=enabled; else echo UnitFileState=disabled; fi"#
                    )
                }
                None => format!(
                    r#"  if [ -x /etc/init.d/{n} ]; then echo LoadState=loaded; else echo LoadState=not-found; fi
  if service {n} status >/dev/null 2>&1; then echo ActiveState=active; else echo ActiveState=inactive; fi
  if ls /etc/rc[2345].d/S[0-9][0-9]{n} >/dev/null 2>&1; then echo UnitFileState=enabled; else echo UnitFileState=disabled; fi"#
                ),
            }
        )
    }

    /// The unit paths an earlier planned change may have created. An instance
    /// `X@I.service` also counts as planned when the template `X@.service` or the unit
    /// `X.service` is: a planned install of package `X` plans only `X.service` (see
    /// `apt`), and packages like postgresql ship their instance templates alongside.
    fn planned_paths(&self) -> Vec<String> {
        let u = self.unit();
        let mut units = vec![u.clone()];
        if let Some((base, rest)) = u.split_once('@')
            && let Some((_, suffix)) = rest.rsplit_once('.')
        {
            units.push(format!("{base}@.{suffix}"));
            units.push(format!("{base}.{suffix}"));
        }
        let mut paths = Vec::new();
        for d in [
            "/etc/systemd/system",
            "/lib/systemd/system",
            "/usr/lib/systemd/system",
        ] {
            for u in &units {
                paths.push(format!("{d}/{u}"));
            }
        }
        paths
    }

    /// Why a unit failed: `systemctl status` and the journal's last lines.
    fn failure_detail(&self, t: &mut Target<'_>) -> String {
        let u = sh_quote(&self.unit());
        let script = if self.seen().systemd {
            format!(
                "systemctl status --no-pager -l -n 0 -- {u} 2>&1; echo; journalctl -u {u} -n 20 --no-pager 2>&1"
            )
        } else {
            format!("service {} status 2>&1", sh_quote(&self.name))
        };
        t.exec(&script, None)
            .map(|o| o.stdout_str().trim_end().to_string())
            .unwrap_or_default()
    }
}

fn parse_props(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

impl Action for ServiceAction {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        if (self.daemon_reload || self.daemon_reexec) && !self.check_mode {
            let verb = if self.daemon_reexec {
                "daemon-reexec"
            } else {
                "daemon-reload"
            };
            t.run_ok(
                &format!("if [ -d /run/systemd/system ]; then systemctl {verb}; fi"),
                None,
            )?;
        }
        if self.name.is_empty() {
            // Only a daemon reload or re-exec was asked for.
            self.seen = Some(Seen {
                systemd: true,
                props: BTreeMap::new(),
                planned_unit: false,
            });
            return Ok(());
        }
        let out = t.run_ok(&self.observe_script(), None)?;
        let text = out.stdout_str();
        let systemd = text.lines().next() == Some("systemd");
        let props = parse_props(&text);
        let mut seen = Seen {
            systemd,
            props,
            planned_unit: false,
        };
        if !seen.found()
            && let Some(planned) = t.planned
        {
            seen.planned_unit = self
                .planned_paths()
                .iter()
                .any(|p| planned.get(p).is_some_and(|st| st.exists()));
            if seen.planned_unit {
                seen.props.insert("ActiveState".into(), "inactive".into());
                seen.props.insert("UnitFileState".into(), "disabled".into());
            }
        }
        let needs_unit = self.state.is_some() || self.enabled.is_some();
        if !seen.found() && needs_unit && self.masked != Some(true) {
            let what = if seen.systemd {
                format!("Could not find the requested service {}", self.unit())
            } else {
                format!("Could not find the requested service {}", self.name)
            };
            let mut e = ModuleError::new(format!("{what}: host"));
            // A rollback's replayed restart skips a service that is gone.
            e.returns.insert("missing".into(), Value::Bool(true));
            return Err(e);
        }
        self.seen = Some(seen);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let ops = self.ops();
        if ops.is_empty() {
            return Ok(None);
        }
        let s = self.seen();
        // The undo: the prior state of each aspect the change touches.
        let mut args = serde_json::Map::new();
        let mut what = Vec::new();
        if ops.iter().any(|o| matches!(o, Op::Start | Op::Stop))
            || (ops.contains(&Op::Restart) || ops.contains(&Op::Reload)) && !s.active()
        {
            let st = if s.active() { "started" } else { "stopped" };
            args.insert("state".into(), st.into());
            what.push(if s.active() { "start" } else { "stop" });
        }
        if ops.iter().any(|o| matches!(o, Op::Enable | Op::Disable)) {
            args.insert("enabled".into(), s.enabled().into());
            what.push(if s.enabled() { "enable" } else { "disable" });
        }
        if ops.iter().any(|o| matches!(o, Op::Mask | Op::Unmask)) {
            args.insert("masked".into(), s.masked().into());
            what.push(if s.masked() { "mask" } else { "unmask" });
        }
        let undo = if args.is_empty() {
            // A restart or reload of a running service: nothing to put back,
            // but a rollback makes it again so the service loads what the
            // rollback restored.
            let again = if ops.contains(&Op::Restart) {
                "restarted"
            } else {
                "reloaded"
            };
            let mut args = serde_json::Map::new();
            args.insert("name".into(), self.name.clone().into());
            args.insert("state".into(), again.into());
            Undo::Replay {
                module: "service".into(),
                summary: format!("{} service {}", &again[..again.len() - 2], self.name),
                args,
            }
        } else {
            args.insert("name".into(), self.name.clone().into());
            Undo::Invoke {
                module: "service".into(),
                args,
                summary: format!("{} service {}", what.join(" and "), self.name),
            }
        };
        let verbs: Vec<&str> = ops.iter().map(|o| o.verb()).collect();
        let note = if s.planned_unit {
            " (unit created by an earlier step)"
        } else {
            ""
        };
        Ok(Some(Change {
            summary: format!("{} service {}{note}", verbs.join(" and "), self.name),
            diff: None,
            undo,
            predictable: true,
            after: Vec::new(),
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let ops = self.ops();
        let systemd = self.seen().systemd;
        let u = sh_quote(&self.unit());
        let n = sh_quote(&self.name);
        for op in ops {
            let script = if systemd {
                let nb = if self.no_block
                    && matches!(op, Op::Start | Op::Stop | Op::Restart | Op::Reload)
                {
                    " --no-block"
                } else {
                    ""
                };
                let run = format!("systemctl{nb} {} -- {u}", op.verb());
                if nb.is_empty() && matches!(op, Op::Start | Op::Restart) {
                    // A unit whose process exits at once still starts "successfully":
                    // watch it for a second so that a broken service fails the task.
                    format!(
                        r#"{run} || exit $?
i=0
while [ $i -lt 10 ]; do
  s=$(systemctl show -p ActiveState --value -- {u})
  r=$(systemctl show -p Result --value -- {u})
  if [ "$s" = failed ] || {{ [ "$s" = inactive ] && [ "$r" != success ]; }}; then
    echo "the service failed after starting (result: $r)" >&2; exit 97
  fi
  sleep 0.1; i=$((i+1))
done"#
                    )
                } else {
                    run
                }
            } else if let Some((v, c)) = self.pg_cluster() {
                let (v, c) = (sh_quote(&v), sh_quote(&c));
                let conf = format!("/etc/postgresql/{v}/{c}/start.conf");
                match op {
                    Op::Enable => format!("printf 'auto\\n' > {conf}"),
                    Op::Disable => format!("printf 'manual\\n' > {conf}"),
                    Op::Mask | Op::Unmask => {
                        return Err(ModuleError::new(
                            "masked needs systemd, which this host does not run",
                        ));
                    }
                    other => format!("pg_ctlcluster {v} {c} {}", other.verb()),
                }
            } else {
                match op {
                    Op::Enable => {
                        format!("update-rc.d {n} defaults >/dev/null && update-rc.d {n} enable")
                    }
                    Op::Disable => format!("update-rc.d {n} disable"),
                    Op::Mask | Op::Unmask => {
                        return Err(ModuleError::new(
                            "masked needs systemd, which this host does not run",
                        ));
                    }
                    other => format!("service {n} {}", other.verb()),
                }
            };
            let out = t.exec(&script, None)?;
            if out.rc != 0 {
                let mut msg = format!(
                    "Unable to {} service {}: {}",
                    op.verb(),
                    self.name,
                    out.stderr_str().trim()
                );
                if matches!(op, Op::Start | Op::Restart | Op::Reload) {
                    let detail = self.failure_detail(t);
                    if !detail.is_empty() {
                        msg.push('\n');
                        msg.push_str(&detail);
                    }
                }
                return Err(ModuleError::new(msg).with("rc", out.rc));
            }
        }
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("name".into(), self.name.clone().into());
        if let Some(s) = &self.seen {
            if let Some(want) = self.state {
                let st = match want {
                    Want::Stopped => "stopped",
                    _ => "started",
                };
                r.insert("state".into(), st.into());
            }
            if let Some(e) = self.enabled {
                r.insert("enabled".into(), e.into());
            }
            let status: serde_json::Map<String, Value> = s
                .props
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect();
            r.insert("status".into(), Value::Object(status));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(state: Option<Want>, enabled: Option<bool>, props: &str) -> ServiceAction {
        ServiceAction {
            name: "app".into(),
            state,
            enabled,
            masked: None,
            daemon_reload: false,
            daemon_reexec: false,
            no_block: false,
            check_mode: false,
            seen: Some(Seen {
                systemd: true,
                props: parse_props(props),
                planned_unit: false,
            }),
        }
    }

    #[test]
    fn postgresql_cluster_units_map_to_pg_ctlcluster() {
        let named = |n: &str| ServiceAction {
            name: n.into(),
            ..action(None, None, "")
        };
        assert_eq!(
            named("postgresql@15-main").pg_cluster(),
            Some(("15".into(), "main".into()))
        );
        assert_eq!(
            named("postgresql@9.6-my-app.service").pg_cluster(),
            Some(("9.6".into(), "my-app".into()))
        );
        assert_eq!(named("postgresql").pg_cluster(), None);
        assert_eq!(named("postgresql@main").pg_cluster(), None);
        assert!(
            named("postgresql@15-main")
                .observe_script()
                .contains("pg_ctlcluster")
        );
    }

    #[test]
    fn plans_only_what_differs_and_undoes_it() {
        let a = action(
            Some(Want::Started),
            Some(true),
            "LoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n",
        );
        assert_eq!(a.ops(), vec![Op::Enable, Op::Start]);
        let ch = a.diff().unwrap().unwrap();
        assert_eq!(ch.summary, "enable and start service app");
        let Undo::Invoke { args, .. } = ch.undo else {
            panic!("an invoke")
        };
        assert_eq!(args["state"], "stopped");
        assert_eq!(args["enabled"], false);

        let a = action(
            Some(Want::Started),
            Some(true),
            "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n",
        );
        assert!(a.diff().unwrap().is_none());
        // a restart of a running service always acts; a rollback makes it again
        let a = action(
            Some(Want::Restarted),
            None,
            "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n",
        );
        assert!(matches!(
            a.diff().unwrap().unwrap().undo,
            Undo::Replay { ref summary, .. } if summary == "restart service app"
        ));
    }

    #[test]
    fn instances_count_as_planned_with_their_template_or_base() {
        let mut a = action(Some(Want::Started), None, "");
        a.name = "postgresql@15-main".into();
        let p = a.planned_paths();
        assert!(p.contains(&"/lib/systemd/system/postgresql@15-main.service".to_string()));
        assert!(p.contains(&"/lib/systemd/system/postgresql@.service".to_string()));
        assert!(p.contains(&"/lib/systemd/system/postgresql.service".to_string()));
    }
}
