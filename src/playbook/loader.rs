//! Turns YAML nodes into the playbook tree, refusing anything outside the subset.

use super::ast::*;
use super::keywords::{BLOCK_KEYS, COMMON_KEYS, PLAY_KEYS, TASK_KEYS, unsupported_hint};
use crate::diag::{Diagnostic, Span};
use crate::modules::registry;
use crate::modules::spec::closest;
use crate::yaml::{self, Node, NodeKind};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Result<T> = std::result::Result<T, Diagnostic>;

/// Loads a playbook and everything it imports statically (import_playbook,
/// import_tasks, roles). `include_tasks` files are loaded later, when reached.
pub fn load_playbook(path: &Path) -> Result<Playbook> {
    let mut loader = Loader::default();
    let plays = loader.playbook_file(path, None)?;
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
    })
}

/// Loads a task file for `include_tasks` (and `import_tasks`).
pub fn load_task_file(path: &Path, role: Option<Arc<Role>>) -> Result<Vec<Item>> {
    let mut loader = Loader::default();
    loader.task_file(path, &Ctx { role }, None)
}

#[derive(Default)]
struct Loader {
    /// Files being loaded, to refuse import cycles.
    stack: Vec<PathBuf>,
    roles: HashMap<PathBuf, Arc<Role>>,
}

#[derive(Clone, Default)]
struct Ctx {
    role: Option<Arc<Role>>,
}

fn load_yaml(path: &Path, from: Option<&Span>) -> Result<Node> {
    if !path.exists() {
        let msg = format!("file not found: {}", path.display());
        return Err(match from {
            Some(span) => Diagnostic::new(span, msg),
            None => Diagnostic::new(&Span::synthetic(&path.display().to_string()), msg),
        });
    }
    yaml::load_file(path).map_err(|e| e.0)
}

fn map_of<'a>(node: &'a Node, what: &str) -> Result<&'a [(Node, Node)]> {
    node.as_map().ok_or_else(|| {
        node.error(format!(
            "{what} must be a mapping, found a {}",
            node.type_name()
        ))
    })
}

fn seq_of<'a>(node: &'a Node, what: &str) -> Result<&'a [Node]> {
    match &node.kind {
        NodeKind::Seq(items) => Ok(items),
        NodeKind::Null => Ok(&[]),
        _ => Err(node.error(format!(
            "{what} must be a list, found a {}",
            node.type_name()
        ))),
    }
}

fn string_of(node: &Node, what: &str) -> Result<String> {
    match &node.kind {
        NodeKind::Str(s) => Ok(s.clone()),
        NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => Ok(node.key_string()),
        _ => Err(node.error(format!(
            "{what} must be a string, found a {}",
            node.type_name()
        ))),
    }
}

/// A string or a list of strings (tags, notify, listen).
fn string_list(node: &Node, what: &str) -> Result<Vec<String>> {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().map(|n| string_of(n, what)).collect(),
        NodeKind::Null => Ok(vec![]),
        NodeKind::Str(s) if what == "tags" => Ok(s
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect()),
        _ => Ok(vec![string_of(node, what)?]),
    }
}

fn conditions(node: &Node) -> Result<Vec<Cond>> {
    let one = |n: &Node| -> Result<Cond> {
        Ok(match &n.kind {
            NodeKind::Bool(b) => Cond::Literal(*b),
            NodeKind::Str(s) => Cond::Expr(strip_braces(s)),
            NodeKind::Int(i) => Cond::Literal(*i != 0),
            NodeKind::Null => Cond::Literal(false),
            _ => return Err(n.error("a condition must be an expression string or a boolean")),
        })
    };
    match &node.kind {
        NodeKind::Seq(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(node)?]),
    }
}

/// `when: "{{ x }}"` is accepted by Ansible (with a warning); treat it as `x`.
fn strip_braces(s: &str) -> String {
    let t = s.trim();
    if t.starts_with("{{") && t.ends_with("}}") && t.matches("{{").count() == 1 {
        t[2..t.len() - 2].trim().to_string()
    } else {
        t.to_string()
    }
}

fn vars_map(node: &Node) -> Result<Vars> {
    match &node.kind {
        NodeKind::Null => Ok(Map::new()),
        NodeKind::Map(_) => match node.to_value() {
            Value::Object(m) => Ok(m),
            _ => unreachable!("a mapping node converts to an object"),
        },
        _ => Err(node.error(format!(
            "vars must be a mapping, found a {}",
            node.type_name()
        ))),
    }
}

fn unknown_key(key: &Node, allowed: &[&[&str]], what: &str) -> Diagnostic {
    let name = key.key_string();
    let mut d = key.error(format!("`{name}` is not a valid {what} keyword"));
    if let Some(hint) = unsupported_hint(&name) {
        d = d.with_hint(hint);
    } else if let Some(near) = closest(&name, allowed.iter().flat_map(|a| a.iter().copied())) {
        d = d.with_hint(format!("did you mean `{near}`?"));
    }
    d
}

impl Loader {
    fn enter(&mut self, path: &Path, from: Option<&Span>) -> Result<PathBuf> {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canon) {
            let msg = format!("{} imports itself (import cycle)", path.display());
            let span = from
                .cloned()
                .unwrap_or_else(|| Span::synthetic(&path.display().to_string()));
            return Err(Diagnostic::new(&span, msg));
        }
        self.stack.push(canon.clone());
        Ok(canon)
    }

    fn playbook_file(&mut self, path: &Path, from: Option<&Span>) -> Result<Vec<Play>> {
        let root = load_yaml(path, from)?;
        self.enter(path, from)?;
        let basedir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let entries = match &root.kind {
            NodeKind::Seq(items) => items,
            _ => {
                return Err(root
                    .error("a playbook must be a list of plays")
                    .with_hint("start each play with `- hosts: ...`"));
            }
        };
        let mut plays = Vec::new();
        for entry in entries {
            let import = entry
                .get("import_playbook")
                .or_else(|| entry.get("ansible.builtin.import_playbook"));
            if let Some(target) = import {
                let file = string_of(target, "import_playbook")?;
                plays.extend(self.playbook_file(&basedir.join(file), Some(&target.span))?);
            } else {
                plays.push(self.play(entry, &basedir)?);
            }
        }
        self.stack.pop();
        Ok(plays)
    }

    fn play(&mut self, node: &Node, basedir: &Path) -> Result<Play> {
        let map = map_of(node, "a play")?;
        let mut play = Play {
            name: String::new(),
            hosts: String::new(),
            span: node.span.clone(),
            basedir: basedir.to_path_buf(),
            vars: Map::new(),
            vars_files: vec![],
            gather_facts: true,
            serial: None,
            strategy: Strategy::Linear,
            max_fail_percentage: None,
            any_errors_fatal: false,
            common: Common::default(),
            pre_tasks: vec![],
            roles: vec![],
            tasks: vec![],
            post_tasks: vec![],
            handlers: vec![],
        };
        let ctx = Ctx::default();
        let mut has_hosts = false;
        let mut role_handlers = Vec::new();
        let mut play_handlers = Vec::new();
        for (key, value) in map {
            let k = key.key_string();
            match k.as_str() {
                "name" => play.name = string_of(value, "name")?,
                "hosts" => {
                    has_hosts = true;
                    play.hosts = match &value.kind {
                        NodeKind::Seq(items) => items
                            .iter()
                            .map(|n| string_of(n, "hosts"))
                            .collect::<Result<Vec<_>>>()?
                            .join(":"),
                        _ => string_of(value, "hosts")?,
                    }
                }
                "vars" => play.vars = vars_map(value)?,
                "vars_files" => {
                    for f in seq_of(value, "vars_files")? {
                        play.vars_files
                            .push((string_of(f, "vars_files entry")?, f.span.clone()));
                    }
                }
                "gather_facts" => play.gather_facts = bool_of(value, "gather_facts")?,
                "serial" => play.serial = Some(value.to_value()),
                "strategy" => {
                    play.strategy = match string_of(value, "strategy")?.as_str() {
                        "linear" => Strategy::Linear,
                        "free" => Strategy::Free,
                        other => {
                            return Err(value
                                .error(format!("unknown strategy `{other}`"))
                                .with_hint("use `linear` or `free`"));
                        }
                    }
                }
                "max_fail_percentage" => {
                    play.max_fail_percentage = Some(match &value.kind {
                        NodeKind::Int(i) => *i as f64,
                        NodeKind::Float(f) => *f,
                        _ => return Err(value.error("max_fail_percentage must be a number")),
                    })
                }
                "any_errors_fatal" => play.any_errors_fatal = bool_of(value, "any_errors_fatal")?,
                "pre_tasks" => play.pre_tasks = self.items(value, &ctx)?,
                "tasks" => play.tasks = self.items(value, &ctx)?,
                "post_tasks" => play.post_tasks = self.items(value, &ctx)?,
                "handlers" => play_handlers = self.handlers(value, &ctx)?,
                "roles" => {
                    for entry in seq_of(value, "roles")? {
                        let (role_use, handlers) = self.role_use(entry, basedir)?;
                        play.roles.push(role_use);
                        role_handlers.extend(handlers);
                    }
                }
                _ if COMMON_KEYS.contains(&k.as_str()) && k != "when" && k != "delegate_to" => {
                    self.common_key(&mut play.common, &k, value)?
                }
                _ => return Err(unknown_key(key, &[PLAY_KEYS], "play")),
            }
        }
        // Role handlers come first, then the play's own, whatever the key order.
        play.handlers = role_handlers;
        play.handlers.extend(play_handlers);
        if !has_hosts {
            return Err(node
                .error("this play has no `hosts`")
                .with_hint("add `hosts: all` or a group name"));
        }
        Ok(play)
    }

    fn handlers(&mut self, node: &Node, ctx: &Ctx) -> Result<Vec<Arc<Task>>> {
        let mut out = Vec::new();
        for item in self.items(node, ctx)? {
            flatten_handlers(item, &mut out)?;
        }
        Ok(out)
    }

    fn items(&mut self, node: &Node, ctx: &Ctx) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        for entry in seq_of(node, "a task list")? {
            out.push(self.item(entry, ctx)?);
        }
        Ok(out)
    }

    fn item(&mut self, node: &Node, ctx: &Ctx) -> Result<Item> {
        let map = map_of(node, "a task")?;
        if node.get("block").is_some() {
            return self.block(node, map, ctx).map(|b| Item::Block(Arc::new(b)));
        }
        for bk in ["rescue", "always"] {
            if let Some(v) = node.get(bk) {
                return Err(v.error(format!("`{bk}` needs a `block` in the same mapping")));
            }
        }
        if let Some(target) = node.get("import_tasks") {
            return self.import_tasks(node, map, target, ctx);
        }
        self.task(node, map, ctx).map(|t| Item::Task(Arc::new(t)))
    }

    fn block(&mut self, node: &Node, map: &[(Node, Node)], ctx: &Ctx) -> Result<Block> {
        let mut block = Block {
            name: None,
            span: node.span.clone(),
            common: Common {
                role: ctx.role.clone(),
                ..Common::default()
            },
            block: vec![],
            rescue: vec![],
            always: vec![],
        };
        for (key, value) in map {
            let k = key.key_string();
            match k.as_str() {
                "name" => block.name = Some(string_of(value, "name")?),
                "block" => block.block = self.items(value, ctx)?,
                "rescue" => block.rescue = self.items(value, ctx)?,
                "always" => block.always = self.items(value, ctx)?,
                _ if COMMON_KEYS.contains(&k.as_str()) => {
                    self.common_key(&mut block.common, &k, value)?
                }
                _ => return Err(unknown_key(key, &[COMMON_KEYS, BLOCK_KEYS], "block")),
            }
        }
        Ok(block)
    }

    /// `import_tasks` is static: the file's tasks are inlined as a block that
    /// carries the import's keywords, which is how Ansible applies them.
    fn import_tasks(
        &mut self,
        node: &Node,
        map: &[(Node, Node)],
        target: &Node,
        ctx: &Ctx,
    ) -> Result<Item> {
        let file = string_of(target, "import_tasks")?;
        if file.contains("{{") {
            return Err(target
                .error("import_tasks needs a fixed file name")
                .with_hint("use `include_tasks` for a file name built from variables"));
        }
        let mut common = Common {
            role: ctx.role.clone(),
            ..Common::default()
        };
        for (key, value) in map {
            let k = key.key_string();
            match k.as_str() {
                "import_tasks" | "name" => {}
                _ if COMMON_KEYS.contains(&k.as_str()) => {
                    self.common_key(&mut common, &k, value)?
                }
                _ => return Err(unknown_key(key, &[COMMON_KEYS], "import_tasks")),
            }
        }
        let path = resolve_task_file(&file, &target.span, ctx)?;
        let items = self.task_file(&path, ctx, Some(&target.span))?;
        Ok(Item::Block(Arc::new(Block {
            name: None,
            span: node.span.clone(),
            common,
            block: items,
            rescue: vec![],
            always: vec![],
        })))
    }

    fn task_file(&mut self, path: &Path, ctx: &Ctx, from: Option<&Span>) -> Result<Vec<Item>> {
        let root = load_yaml(path, from)?;
        self.enter(path, from)?;
        let items = match root.kind {
            NodeKind::Null => vec![],
            NodeKind::Seq(_) => self.items(&root, ctx)?,
            _ => return Err(root.error("a task file must be a list of tasks")),
        };
        self.stack.pop();
        Ok(items)
    }

    fn task(&mut self, node: &Node, map: &[(Node, Node)], ctx: &Ctx) -> Result<Task> {
        let mut task = Task {
            name: None,
            span: node.span.clone(),
            common: Common {
                role: ctx.role.clone(),
                ..Common::default()
            },
            action: Action::Meta(MetaAction::Noop),
            looping: None,
            loop_control: LoopControl::default(),
            register: None,
            notify: vec![],
            listen: vec![],
            changed_when: None,
            failed_when: None,
            until: None,
            retries: None,
            delay: None,
        };
        let mut module: Option<(&Node, &Node)> = None;
        let mut extra_args: Option<&Node> = None;
        for (key, value) in map {
            let k = key.key_string();
            match k.as_str() {
                "name" => task.name = Some(string_of(value, "name")?),
                "loop" | "with_items" | "with_list" | "with_dict" => {
                    if task.looping.is_some() {
                        return Err(key.error("a task can have only one loop"));
                    }
                    task.looping = Some(match k.as_str() {
                        "with_dict" => Loop::Dict(value.to_value()),
                        _ => Loop::Items {
                            source: value.to_value(),
                            flatten_one: k == "with_items",
                        },
                    });
                }
                "loop_control" => task.loop_control = loop_control(value)?,
                "register" => task.register = Some(identifier(value, "register")?),
                "notify" => task.notify = string_list(value, "notify")?,
                "listen" => task.listen = string_list(value, "listen")?,
                "changed_when" => task.changed_when = Some(conditions(value)?),
                "failed_when" => task.failed_when = Some(conditions(value)?),
                "until" => task.until = Some(conditions(value)?),
                "retries" => task.retries = Some(value.to_value()),
                "delay" => task.delay = Some(value.to_value()),
                "args" => extra_args = Some(value),
                _ if COMMON_KEYS.contains(&k.as_str()) => {
                    self.common_key(&mut task.common, &k, value)?
                }
                _ => {
                    if unsupported_hint(&k).is_some() && registry::canonical_name(&k).is_none() {
                        return Err(unknown_key(key, &[COMMON_KEYS, TASK_KEYS], "task"));
                    }
                    if let Some((prev, _)) = module {
                        return Err(key
                            .error(format!(
                                "`{k}` is not a task keyword, and this task already calls `{}`",
                                prev.key_string()
                            ))
                            .with_hint("a task calls exactly one module"));
                    }
                    module = Some((key, value));
                }
            }
        }
        let Some((mkey, margs)) = module else {
            return Err(node
                .error("this task calls no module")
                .with_hint("add a module, e.g. `debug: msg=hello`"));
        };
        task.action = self.action(mkey, margs, extra_args)?;
        Ok(task)
    }

    fn action(&mut self, key: &Node, value: &Node, extra: Option<&Node>) -> Result<Action> {
        let raw = key.key_string();
        if raw == "include_tasks" || raw == "ansible.builtin.include_tasks" {
            let (file, vars) = match &value.kind {
                NodeKind::Map(_) => {
                    let file = value
                        .get("file")
                        .ok_or_else(|| value.error("include_tasks needs `file`"))?;
                    (string_of(file, "file")?, Map::new())
                }
                _ => (string_of(value, "include_tasks")?, Map::new()),
            };
            return Ok(Action::IncludeTasks { file, vars });
        }
        if raw == "meta" || raw == "ansible.builtin.meta" {
            let what = string_of(value, "meta")?;
            let meta = match what.as_str() {
                "flush_handlers" => MetaAction::FlushHandlers,
                "end_play" => MetaAction::EndPlay,
                "end_host" => MetaAction::EndHost,
                "noop" => MetaAction::Noop,
                "clear_facts" => MetaAction::ClearFacts,
                "clear_host_errors" => MetaAction::ClearHostErrors,
                "refresh_inventory" => MetaAction::RefreshInventory,
                other => {
                    return Err(value
                        .error(format!("unknown meta action `{other}`"))
                        .with_hint("supported: flush_handlers, end_play, end_host, noop, clear_facts, clear_host_errors, refresh_inventory"));
                }
            };
            return Ok(Action::Meta(meta));
        }
        let Some(module) = registry::canonical_name(&raw) else {
            let mut d = key.error(format!("unknown module `{raw}`"));
            if let Some(hint) = unsupported_hint(&raw) {
                d = d.with_hint(hint);
            } else if let Some(near) = closest(&raw, registry::names()) {
                d = d.with_hint(format!("did you mean `{near}`?"));
            } else {
                d = d.with_hint("run `tbuddy-deploy doc --list` for the supported modules");
            }
            return Err(d);
        };
        let spec = registry::spec(module);
        let mut args = Map::new();
        match &value.kind {
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let name = k.key_string();
                    let Some(a) = spec.arg(&name) else {
                        if spec.open_args {
                            args.insert(name, v.to_value());
                            continue;
                        }
                        let mut d = k.error(format!("module `{module}` has no argument `{name}`"));
                        if let Some(near) = closest(&name, spec.arg_names()) {
                            d = d.with_hint(format!("did you mean `{near}`?"));
                        }
                        return Err(d);
                    };
                    args.insert(a.name.to_string(), v.to_value());
                }
            }
            NodeKind::Null => {}
            NodeKind::Str(s) => parse_free_form(s, spec, value, &mut args)?,
            _ if spec.free_form => {
                args.insert("_raw_params".into(), Value::String(value.key_string()));
            }
            _ => {
                return Err(value.error(format!(
                    "arguments of `{module}` must be a mapping, found a {}",
                    value.type_name()
                )));
            }
        }
        if let Some(extra) = extra {
            for (k, v) in map_of(extra, "args")? {
                let name = k.key_string();
                let Some(a) = spec.arg(&name) else {
                    return Err(k.error(format!("module `{module}` has no argument `{name}`")));
                };
                args.insert(a.name.to_string(), v.to_value());
            }
        }
        for a in spec.args.iter().filter(|a| a.required) {
            let has_raw = spec.free_form && args.contains_key("_raw_params");
            if !args.contains_key(a.name) && !has_raw {
                return Err(value
                    .error(format!("module `{module}` needs the argument `{}`", a.name))
                    .with_hint(a.doc));
            }
        }
        Ok(Action::Module {
            module: module.to_string(),
            args: Value::Object(args),
        })
    }

    fn common_key(&mut self, common: &mut Common, key: &str, value: &Node) -> Result<()> {
        match key {
            "when" => common.when = conditions(value)?,
            "tags" => common.tags = string_list(value, "tags")?,
            "vars" => common.vars = vars_map(value)?,
            "become" => common.become_on = Some(bool_of(value, "become")?),
            "become_user" => common.become_user = Some(string_of(value, "become_user")?),
            "become_method" => {
                let m = string_of(value, "become_method")?;
                if m != "sudo" {
                    return Err(value
                        .error(format!("become_method `{m}` is not supported"))
                        .with_hint("use `sudo`"));
                }
                common.become_method = Some(m);
            }
            "ignore_errors" => common.ignore_errors = Some(value.to_value()),
            "check_mode" => common.check_mode = Some(value.to_value()),
            "diff" => common.diff = Some(value.to_value()),
            "no_log" => common.no_log = Some(value.to_value()),
            "environment" => common.environment = Some(value.to_value()),
            "run_once" => common.run_once = Some(value.to_value()),
            "delegate_to" => common.delegate_to = Some(string_of(value, "delegate_to")?),
            "name" => {}
            _ => unreachable!("caller checks COMMON_KEYS"),
        }
        Ok(())
    }

    fn role_use(&mut self, node: &Node, basedir: &Path) -> Result<(RoleUse, Vec<Arc<Task>>)> {
        let mut common = Common::default();
        let mut params = Map::new();
        let name = match &node.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Map(entries) => {
                let mut name = None;
                for (k, v) in entries {
                    let key = k.key_string();
                    match key.as_str() {
                        "role" | "name" => name = Some(string_of(v, "role")?),
                        "vars" => params.extend(vars_map(v)?),
                        _ if COMMON_KEYS.contains(&key.as_str()) => {
                            self.common_key(&mut common, &key, v)?
                        }
                        // Any other key is a role parameter, as in Ansible.
                        _ => {
                            params.insert(key, v.to_value());
                        }
                    }
                }
                name.ok_or_else(|| node.error("a role entry needs `role:`"))?
            }
            _ => return Err(node.error("a role entry must be a name or a mapping")),
        };
        let role = self.load_role(&name, basedir, &node.span)?;
        let ctx = Ctx {
            role: Some(role.clone()),
        };
        common.role = Some(role.clone());
        let tasks = match role_file(&role.path, "tasks") {
            Some(p) => self.task_file(&p, &ctx, Some(&node.span))?,
            None => vec![],
        };
        let handlers = match role_file(&role.path, "handlers") {
            Some(p) => {
                let root = load_yaml(&p, Some(&node.span))?;
                self.handlers(&root, &ctx)?
            }
            None => vec![],
        };
        Ok((
            RoleUse {
                role,
                common,
                params,
                tasks,
            },
            handlers,
        ))
    }

    fn load_role(&mut self, name: &str, basedir: &Path, span: &Span) -> Result<Arc<Role>> {
        let candidates = [basedir.join("roles").join(name), basedir.join(name)];
        let Some(path) = candidates.iter().find(|p| p.is_dir()) else {
            return Err(Diagnostic::new(span, format!("role `{name}` not found"))
                .with_hint(format!("looked in {}", candidates[0].display())));
        };
        if let Some(role) = self.roles.get(path) {
            return Ok(role.clone());
        }
        let vars_of = |sub: &str| -> Result<Vars> {
            match role_file(path, sub) {
                Some(p) => vars_map(&load_yaml(&p, Some(span))?),
                None => Ok(Map::new()),
            }
        };
        let role = Arc::new(Role {
            name: name.to_string(),
            path: path.clone(),
            defaults: Arc::new(vars_of("defaults")?),
            vars: Arc::new(vars_of("vars")?),
        });
        self.roles.insert(path.clone(), role.clone());
        Ok(role)
    }
}

fn flatten_handlers(item: Item, out: &mut Vec<Arc<Task>>) -> Result<()> {
    match item {
        Item::Task(t) => out.push(t),
        Item::Block(b) => {
            // import_tasks under handlers: inline the imported handlers.
            if !b.rescue.is_empty() || !b.always.is_empty() {
                return Err(Diagnostic::new(
                    &b.span,
                    "handlers cannot use rescue/always",
                ));
            }
            for i in b.block.iter().cloned() {
                flatten_handlers(i, out)?;
            }
        }
    }
    Ok(())
}

/// `roles/x/tasks/main.yml` (or `.yaml`, or `main`).
fn role_file(role: &Path, sub: &str) -> Option<PathBuf> {
    ["main.yml", "main.yaml", "main"]
        .iter()
        .map(|f| role.join(sub).join(f))
        .find(|p| p.is_file())
}

/// Where an imported/included task file is: next to the including file, in the
/// role's tasks/ directory, or under the playbook directory.
pub(crate) fn resolve_task_file_in(
    file: &str,
    including_dir: &Path,
    role: Option<&Role>,
) -> Option<PathBuf> {
    let file = Path::new(file);
    if file.is_absolute() {
        return Some(file.to_path_buf());
    }
    let mut candidates = vec![including_dir.join(file)];
    if let Some(role) = role {
        candidates.push(role.path.join("tasks").join(file));
        candidates.push(role.path.join(file));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn resolve_task_file(file: &str, span: &Span, ctx: &Ctx) -> Result<PathBuf> {
    resolve_task_file_in(file, &span.dir(), ctx.role.as_deref()).ok_or_else(|| {
        Diagnostic::new(span, format!("task file `{file}` not found"))
            .with_hint(format!("looked next to {}", span.path().display()))
    })
}

fn bool_of(node: &Node, what: &str) -> Result<bool> {
    match &node.kind {
        NodeKind::Bool(b) => Ok(*b),
        _ => crate::modules::spec::as_bool(&node.to_value())
            .ok_or_else(|| node.error(format!("{what} must be true or false"))),
    }
}

fn identifier(node: &Node, what: &str) -> Result<String> {
    let s = string_of(node, what)?;
    let valid = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(node.error(format!("`{s}` is not a valid variable name")));
    }
    Ok(s)
}

fn loop_control(node: &Node) -> Result<LoopControl> {
    let mut lc = LoopControl::default();
    for (k, v) in map_of(node, "loop_control")? {
        match k.key_string().as_str() {
            "loop_var" => lc.loop_var = Some(identifier(v, "loop_var")?),
            "index_var" => lc.index_var = Some(identifier(v, "index_var")?),
            "label" => lc.label = Some(v.to_value()),
            "pause" => lc.pause = Some(v.to_value()),
            "extended" => lc.extended = bool_of(v, "extended")?,
            other => {
                return Err(k
                    .error(format!("`{other}` is not a loop_control option"))
                    .with_hint("supported: loop_var, index_var, label, pause, extended"));
            }
        }
    }
    Ok(lc)
}

/// `key=value key2="quoted value"` arguments; for free-form modules the
/// words that are not `key=value` pairs form the command.
fn parse_free_form(
    s: &str,
    spec: &crate::modules::spec::ModuleSpec,
    node: &Node,
    args: &mut Map<String, Value>,
) -> Result<()> {
    if spec.free_form {
        // Options (`creates=/x`) are taken out; the command keeps its own
        // spacing and newlines, which matter to the shell.
        let mut raw = String::new();
        let mut last = 0;
        for (start, end) in split_arg_spans(s) {
            let word = &s[start..end];
            if let Some((k, v)) = word.split_once('=')
                && let Some(a) = spec.arg(k)
            {
                raw.push_str(&s[last..start]);
                last = end;
                args.insert(a.name.into(), Value::String(unquote(v)));
            }
        }
        raw.push_str(&s[last..]);
        args.insert("_raw_params".into(), Value::String(raw.trim().to_string()));
        return Ok(());
    }
    for word in split_args(s) {
        let Some((k, v)) = word.split_once('=') else {
            return Err(node
                .error(format!("cannot read `{word}` as key=value"))
                .with_hint("write the arguments as a mapping"));
        };
        let Some(a) = spec.arg(k) else {
            let mut d = node.error(format!("module `{}` has no argument `{k}`", spec.name));
            if let Some(near) = closest(k, spec.arg_names()) {
                d = d.with_hint(format!("did you mean `{near}`?"));
            }
            return Err(d);
        };
        args.insert(a.name.into(), Value::String(unquote(v)));
    }
    Ok(())
}

fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Splits on whitespace outside quotes and `{{ }}`, keeping quotes (like Ansible's split_args).
fn split_args(s: &str) -> Vec<String> {
    split_arg_spans(s)
        .into_iter()
        .map(|(a, b)| s[a..b].to_string())
        .collect()
}

/// Byte ranges of the words `split_args` returns.
fn split_arg_spans(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match (quote, c) {
            (Some(q), _) if c == q && (i == 0 || b[i - 1] != b'\\') => quote = None,
            (None, b'"' | b'\'') if depth == 0 => quote = Some(c),
            (None, b'{') if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                start.get_or_insert(i);
                i += 2;
                continue;
            }
            (None, b'}') if depth > 0 && b.get(i + 1) == Some(&b'}') => {
                depth -= 1;
                i += 2;
                continue;
            }
            (None, b' ' | b'\t' | b'\n' | b'\r') if depth == 0 => {
                if let Some(st) = start.take() {
                    out.push((st, i));
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        start.get_or_insert(i);
        i += 1;
    }
    if let Some(st) = start {
        out.push((st, b.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_args_keeps_quoted_and_templated_words() {
        assert_eq!(
            split_args(r#"path=/a state=touch msg="hello world" x={{ a | b }}"#),
            vec![
                "path=/a",
                "state=touch",
                r#"msg="hello world""#,
                "x={{ a | b }}"
            ]
        );
    }

    #[test]
    fn when_braces_are_stripped() {
        assert_eq!(strip_braces("{{ x }}"), "x");
        assert_eq!(strip_braces("x == 1"), "x == 1");
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn load_err(text: &str) -> Diagnostic {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "site.yml", text);
        load_playbook(&p).unwrap_err()
    }

    #[test]
    fn loads_plays_blocks_roles_and_imports() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "roles/web/tasks/main.yml",
            "- debug: msg=role\n",
        );
        write(
            dir.path(),
            "roles/web/handlers/main.yml",
            "- name: reload web\n  debug: msg=r\n",
        );
        write(dir.path(), "roles/web/defaults/main.yml", "port: 80\n");
        write(dir.path(), "more.yml", "- command: echo hi\n  tags: [x]\n");
        write(dir.path(), "other.yml", "- hosts: db\n  tasks: []\n");
        let p = write(
            dir.path(),
            "site.yml",
            "- hosts: web\n  roles: [web]\n  tasks:\n    - block:\n        - import_tasks: more.yml\n          when: x\n      rescue:\n        - debug: msg=r\n    - ansible.builtin.file: path=/tmp/x state=touch\n- import_playbook: other.yml\n",
        );
        let pb = load_playbook(&p).unwrap();
        assert_eq!(pb.plays.len(), 2);
        let play = &pb.plays[0];
        assert_eq!(play.roles[0].role.defaults["port"], 80);
        assert_eq!(play.handlers[0].name.as_deref(), Some("reload web"));
        let Item::Block(b) = &play.tasks[0] else {
            panic!("block")
        };
        let Item::Block(import) = &b.block[0] else {
            panic!("import becomes a block")
        };
        assert!(matches!(import.common.when[0], Cond::Expr(ref e) if e == "x"));
        let Item::Task(t) = &play.tasks[1] else {
            panic!("task")
        };
        assert_eq!(t.module_name(), Some("file"));
        let Action::Module { args, .. } = &t.action else {
            panic!()
        };
        assert_eq!(args["state"], "touch");
        assert_eq!(pb.plays[1].hosts, "db");
    }

    #[test]
    fn free_form_commands_keep_options_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "site.yml",
            "- hosts: all\n  tasks:\n    - shell: echo a > b creates=/tmp/b chdir=/tmp\n",
        );
        let pb = load_playbook(&p).unwrap();
        let Item::Task(t) = &pb.plays[0].tasks[0] else {
            panic!()
        };
        let Action::Module { args, .. } = &t.action else {
            panic!()
        };
        assert_eq!(args["_raw_params"], "echo a > b");
        assert_eq!(args["creates"], "/tmp/b");
        assert_eq!(args["chdir"], "/tmp");
        let p = write(
            dir.path(),
            "multi.yml",
            "- hosts: all\n  tasks:\n    - shell: |\n        if true; then\n          echo x\n        fi\n",
        );
        let pb = load_playbook(&p).unwrap();
        let Item::Task(t) = &pb.plays[0].tasks[0] else {
            panic!()
        };
        let Action::Module { args, .. } = &t.action else {
            panic!()
        };
        assert_eq!(args["_raw_params"], "if true; then\n  echo x\nfi");
    }

    #[test]
    fn refusals_point_at_the_key() {
        let d = load_err("- hosts: all\n  taskz: []\n");
        assert_eq!((d.span.line, d.span.col), (2, 3));
        assert!(d.hint.unwrap().contains("tasks"));
        let d = load_err(
            "- hosts: all\n  tasks:\n    - debug: msg=a\n      loop: [1]\n      with_items: [2]\n",
        );
        assert!(d.message.contains("only one loop"), "{}", d.message);
        let d = load_err(
            "- hosts: all\n  tasks:\n    - name: two\n      debug: msg=a\n      copy: {dest: /x}\n",
        );
        assert!(d.message.contains("already calls"), "{}", d.message);
        let d = load_err("- hosts: all\n  tasks:\n    - copy: {content: a}\n");
        assert!(
            d.message.contains("needs the argument `dest`"),
            "{}",
            d.message
        );
        let d = load_err("- tasks: []\n");
        assert!(d.message.contains("no `hosts`"), "{}", d.message);
        let d = load_err("- hosts: all\n  tasks:\n    - include_role: {name: x}\n");
        assert!(d.hint.unwrap().contains("roles"));
    }

    #[test]
    fn import_cycles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.yml", "- import_tasks: b.yml\n");
        write(dir.path(), "b.yml", "- import_tasks: a.yml\n");
        let p = write(
            dir.path(),
            "site.yml",
            "- hosts: all\n  tasks:\n    - import_tasks: a.yml\n",
        );
        let d = load_playbook(&p).unwrap_err();
        assert!(d.message.contains("cycle"), "{}", d.message);
    }
}
