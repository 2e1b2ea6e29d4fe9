//! Variable scopes in Ansible's precedence order.
//!
//! From lowest to highest: role defaults, inventory (group_vars all < groups <
//! host_vars), facts, play vars, vars_files, role vars and params, block vars,
//! task vars, include vars, set_fact/register, extra vars; then the magic
//! variables (inventory_hostname, groups, hostvars, ...) and loop variables.

use crate::inventory::Inventory;
use crate::playbook::{Common, Role, Vars};
use crate::template::Scope;
use minijinja::Value as JValue;
use minijinja::value::{Enumerator, Object};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What a host has learnt during the run.
#[derive(Debug, Default, Clone)]
pub struct HostLive {
    /// `ansible_facts` from fact gathering (also visible as `ansible_<name>`).
    pub facts: Arc<Map<String, Value>>,
    /// set_fact and register results.
    pub set: Arc<Map<String, Value>>,
}

/// Variables shared by every host of one play.
#[derive(Debug)]
pub struct PlayVars {
    pub inventory_vars: HashMap<String, Arc<Map<String, Value>>>,
    pub play: Arc<Vars>,
    pub vars_files: Arc<Vars>,
    pub extra: Arc<Vars>,
    /// Magic variables that are the same for every host (groups, playbook_dir, ...).
    pub magic: Arc<Vars>,
    /// Every role the play lists: their defaults and vars are visible play-wide.
    pub roles: Vec<Arc<Role>>,
    pub live: RwLock<HashMap<String, HostLive>>,
}

impl PlayVars {
    pub fn new(
        inventory: &Inventory,
        hosts: &[String],
        play: Vars,
        vars_files: Vars,
        extra: Arc<Vars>,
        magic: Vars,
        live: HashMap<String, HostLive>,
    ) -> Arc<PlayVars> {
        let inventory_vars = inventory_hosts(inventory)
            .into_iter()
            .chain(hosts.iter().cloned())
            .map(|h| {
                let vars = host_inventory_vars(inventory, &h);
                (h, Arc::new(vars))
            })
            .collect();
        Arc::new(PlayVars {
            inventory_vars,
            play: Arc::new(play),
            vars_files: Arc::new(vars_files),
            extra,
            magic: Arc::new(magic),
            roles: Vec::new(),
            live: RwLock::new(live),
        })
    }

    pub fn live(&self, host: &str) -> HostLive {
        self.live
            .read()
            .expect("live vars lock")
            .get(host)
            .cloned()
            .unwrap_or_default()
    }

    pub fn update_live(&self, host: &str, f: impl FnOnce(&mut HostLive)) {
        let mut all = self.live.write().expect("live vars lock");
        f(all.entry(host.to_string()).or_default());
    }

    /// Facts as Ansible injects them: `ansible_facts` plus `ansible_<name>` for each fact.
    fn facts_layer(live: &HostLive) -> Map<String, Value> {
        let mut m = Map::new();
        if live.facts.is_empty() {
            return m;
        }
        for (k, v) in live.facts.iter() {
            m.insert(format!("ansible_{k}"), v.clone());
        }
        m.insert("ansible_facts".into(), Value::Object((*live.facts).clone()));
        m
    }

    fn host_magic(&self, host: &str, inventory_groups: Vec<String>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("inventory_hostname".into(), host.into());
        m.insert(
            "inventory_hostname_short".into(),
            host.split('.').next().unwrap_or(host).into(),
        );
        m.insert(
            "group_names".into(),
            Value::Array(inventory_groups.into_iter().map(Value::from).collect()),
        );
        m
    }
}

/// Everything that decides the variables of one task on one host.
pub struct TaskVarsRequest<'a> {
    pub host: &'a str,
    pub group_names: Vec<String>,
    pub role: Option<&'a Role>,
    pub role_params: Option<&'a Vars>,
    /// Enclosing blocks' and the task's own keywords, outermost first.
    pub chain: &'a [&'a Common],
    pub include_vars: &'a [Arc<Vars>],
    pub loop_vars: Option<Map<String, Value>>,
}

/// Builds the scope for one task on one host.
pub fn task_scope(pv: &Arc<PlayVars>, req: TaskVarsRequest<'_>) -> Arc<Scope> {
    let live = pv.live(req.host);
    let mut layers: Vec<Arc<Map<String, Value>>> = Vec::with_capacity(16);
    // Roles listed in the play expose their defaults and vars to the whole
    // play; the task's own role ranks above the others.
    layers.extend(pv.roles.iter().map(|r| r.defaults.clone()));
    if let Some(role) = req.role {
        layers.push(role.defaults.clone());
    }
    if let Some(inv) = pv.inventory_vars.get(req.host) {
        layers.push(inv.clone());
    }
    layers.push(Arc::new(PlayVars::facts_layer(&live)));
    layers.push(pv.play.clone());
    layers.push(pv.vars_files.clone());
    layers.extend(pv.roles.iter().map(|r| r.vars.clone()));
    if let Some(role) = req.role {
        layers.push(role.vars.clone());
    }
    if let Some(params) = req.role_params {
        layers.push(Arc::new(params.clone()));
    }
    for c in req.chain {
        if !c.vars.is_empty() {
            layers.push(Arc::new(c.vars.clone()));
        }
    }
    layers.extend(req.include_vars.iter().cloned());
    layers.push(live.set.clone());
    layers.push(pv.extra.clone());
    layers.push(pv.magic.clone());
    let mut magic = pv.host_magic(req.host, req.group_names);
    if let Some(role) = req.role {
        magic.insert("role_name".into(), role.name.clone().into());
        magic.insert("role_path".into(), role.path.display().to_string().into());
    }
    layers.push(Arc::new(magic));
    if let Some(lv) = req.loop_vars {
        layers.push(Arc::new(lv));
    }
    let hostvars = JValue::from_object(HostVars { pv: pv.clone() });
    Scope::with_objects(layers, vec![("hostvars".into(), hostvars)])
}

/// `hostvars[name]`: another host's inventory vars, facts and set facts.
#[derive(Debug)]
struct HostVars {
    pv: Arc<PlayVars>,
}

impl Object for HostVars {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let host = key.as_str()?;
        let inv = self.pv.inventory_vars.get(host)?;
        let live = self.pv.live(host);
        let mut magic = Map::new();
        magic.insert("inventory_hostname".into(), host.into());
        let layers = vec![
            inv.clone(),
            Arc::new(PlayVars::facts_layer(&live)),
            self.pv.play.clone(),
            self.pv.vars_files.clone(),
            live.set.clone(),
            self.pv.extra.clone(),
            Arc::new(magic),
        ];
        Some(JValue::from_dyn_object(Scope::from_layers(layers)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut names: Vec<&String> = self.pv.inventory_vars.keys().collect();
        names.sort();
        Enumerator::Values(
            names
                .into_iter()
                .map(|n| JValue::from(n.as_str()))
                .collect(),
        )
    }
}

fn inventory_hosts(inv: &Inventory) -> Vec<String> {
    inv.groups_map().get("all").cloned().unwrap_or_default()
}

fn host_inventory_vars(inv: &Inventory, host: &str) -> Map<String, Value> {
    let mut vars = inv.host_vars(host);
    if let Some(file) = inv.host(host).and_then(|h| h.inventory_file.as_ref()) {
        vars.insert("inventory_file".into(), file.display().to_string().into());
        let dir = file
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        vars.insert("inventory_dir".into(), dir.into());
    }
    if inv.host(host).is_none() && host == "localhost" {
        // The implicit localhost Ansible adds when a play names it.
        vars.entry("ansible_connection")
            .or_insert_with(|| Value::from("local"));
    }
    vars
}

/// Parses `-e` values: `k=v k2=v2`, inline YAML/JSON, or `@file`.
pub fn parse_extra_vars(specs: &[String], base: &std::path::Path) -> Result<Vars, String> {
    let mut out = Map::new();
    for spec in specs {
        let value = if let Some(file) = spec.strip_prefix('@') {
            let path = base.join(file);
            crate::yaml::load_file(&path)
                .map_err(|e| e.0.to_string())?
                .to_value()
        } else if spec.trim_start().starts_with('{') || spec.trim_start().starts_with('[') {
            crate::yaml::load_str_value(spec).map_err(|e| format!("in -e {spec}: {e}"))?
        } else {
            let mut m = Map::new();
            for word in shlex::split(spec).ok_or_else(|| format!("cannot parse -e {spec}"))? {
                let (k, v) = word.split_once('=').ok_or_else(|| {
                    format!("-e expects key=value, YAML/JSON or @file, got `{word}`")
                })?;
                m.insert(k.to_string(), Value::String(v.to_string()));
            }
            Value::Object(m)
        };
        match value {
            Value::Object(m) => out.extend(m),
            Value::Null => {}
            other => return Err(format!("-e must give a mapping, got {other}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn precedence_follows_ansible_order() {
        let inv = Inventory::builtin_local();
        let mut live = HashMap::new();
        live.insert(
            "localhost".to_string(),
            HostLive {
                facts: Arc::new(map(json!({"hostname": "box"}))),
                set: Arc::new(map(json!({"from_set_fact": "set", "both": "set"}))),
            },
        );
        let pv = PlayVars::new(
            &inv,
            &["localhost".into()],
            map(json!({"v": "play", "both": "play", "from_play": 1})),
            Map::new(),
            Arc::new(map(json!({"both": "extra"}))),
            Map::new(),
            live,
        );
        let role = Role {
            name: "r".into(),
            path: "/roles/r".into(),
            defaults: Arc::new(map(json!({"v": "default", "d": "default"}))),
            vars: Arc::new(map(json!({"v": "rolevars"}))),
        };
        let block = Common {
            vars: map(json!({"v": "block"})),
            ..Common::default()
        };
        let task = Common {
            vars: map(json!({"t": "task"})),
            ..Common::default()
        };
        let chain = [&block, &task];
        let scope = task_scope(
            &pv,
            TaskVarsRequest {
                host: "localhost",
                group_names: vec![],
                role: Some(&role),
                role_params: None,
                chain: &chain,
                include_vars: &[],
                loop_vars: None,
            },
        );
        assert_eq!(scope.get("v").unwrap(), Some(json!("block")));
        assert_eq!(scope.get("d").unwrap(), Some(json!("default")));
        assert_eq!(scope.get("both").unwrap(), Some(json!("extra")));
        assert_eq!(scope.get("ansible_hostname").unwrap(), Some(json!("box")));
        assert_eq!(scope.get("role_name").unwrap(), Some(json!("r")));
        assert_eq!(
            scope.get("inventory_hostname").unwrap(),
            Some(json!("localhost"))
        );
    }

    #[test]
    fn extra_vars_forms() {
        let base = std::path::Path::new(".");
        let v = parse_extra_vars(&["a=1 b='x y'".into(), r#"{"c": [1]}"#.into()], base).unwrap();
        assert_eq!(Value::Object(v), json!({"a": "1", "b": "x y", "c": [1]}));
        assert!(parse_extra_vars(&["novalue".into()], base).is_err());
    }
}
