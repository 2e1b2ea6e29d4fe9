//! One task on one host: conditions, loops, the module contract
//! (validate → observe → diff → apply), retries, result rewriting, register,
//! notify and counting.

use super::host::{Flow, HostRunner, ResultView};
use super::record::{ChangeContext, Recorder};
use crate::connection::{Become, ConnSpec};
use crate::modules::spec::{ArgKind, CheckSupport, as_bool};
use crate::modules::{Evaluator, ModuleCx, ModuleError, Target, registry};
use crate::output::{Event, Status};
use crate::plan::PlanStep;
use crate::playbook::{Action, Common, Cond, Loop, Task, load_task_file};
use crate::state::TaskRecord;
use crate::template::{self, Scope};
use crate::vars::{TaskVarsRequest, task_scope};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The outcome of one module execution (one loop item, or the whole task).
struct Outcome {
    status: Status,
    result: Map<String, Value>,
    summary: Option<String>,
    diff: Option<crate::modules::TextDiff>,
}

impl Outcome {
    fn failed(msg: impl Into<String>) -> Outcome {
        let msg = msg.into();
        let mut result = Map::new();
        result.insert("failed".into(), true.into());
        result.insert("changed".into(), false.into());
        result.insert("msg".into(), msg.into());
        Outcome {
            status: Status::Failed,
            result,
            summary: None,
            diff: None,
        }
    }

    fn skipped(reason: &str, condition: Option<&str>) -> Outcome {
        let mut result = Map::new();
        result.insert("changed".into(), false.into());
        result.insert("skipped".into(), true.into());
        result.insert("skip_reason".into(), reason.into());
        if let Some(c) = condition {
            result.insert("false_condition".into(), c.into());
        }
        Outcome {
            status: Status::Skipped,
            result,
            summary: None,
            diff: None,
        }
    }

    fn msg(&self) -> Option<String> {
        self.result.get("msg").map(|m| match m {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// Template evaluation bound to one task's scope, handed to modules.
struct ScopeEval<'a>(&'a Arc<Scope>);

impl Evaluator for ScopeEval<'_> {
    fn eval(&self, expr: &str) -> Result<Value, String> {
        template::eval_expr(expr, self.0).map_err(|e| e.0)
    }

    fn cond(&self, expr: &str) -> Result<bool, String> {
        template::eval_cond(expr, self.0).map_err(|e| e.0)
    }

    fn render_text(&self, text: &str, name: &str) -> Result<String, String> {
        template::render_text(text, self.0, name).map_err(|e| format!("{name}: {}", e.0))
    }
}

impl HostRunner<'_> {
    fn scope_for(&self, task: &Task, loop_vars: Option<Map<String, Value>>) -> Arc<Scope> {
        let chain: Vec<&Common> = self
            .chain
            .iter()
            .chain(std::iter::once(&task.common))
            .collect();
        task_scope(
            &self.pv,
            TaskVarsRequest {
                host: &self.host,
                group_names: self.group_names.clone(),
                role: task.common.role.as_deref(),
                role_params: self.role_params.as_ref(),
                chain: &chain,
                include_vars: &self.include_vars,
                loop_vars,
            },
        )
    }

    /// The innermost explicit value of an inherited keyword.
    fn inherited<'t, T>(
        &'t self,
        task: &'t Task,
        f: impl Fn(&'t Common) -> Option<T>,
    ) -> Option<T> {
        std::iter::once(&task.common)
            .chain(self.chain.iter().rev())
            .find_map(f)
    }

    fn keyword_bool(
        &self,
        task: &Task,
        scope: &Arc<Scope>,
        f: impl Fn(&Common) -> Option<&Value>,
    ) -> Result<Option<bool>, String> {
        match self.inherited(task, f) {
            None => Ok(None),
            Some(v) => {
                let v = template::render_value(v, scope).map_err(|e| e.0)?;
                Ok(Some(as_bool(&v).unwrap_or_else(|| template::truthy(&v))))
            }
        }
    }

    fn conditions_hold(&self, task: &Task, scope: &Arc<Scope>) -> Result<Option<String>, String> {
        let conds = self
            .chain
            .iter()
            .flat_map(|c| c.when.iter())
            .chain(task.common.when.iter());
        for c in conds {
            match c {
                Cond::Literal(true) => {}
                Cond::Literal(false) => return Ok(Some("False".into())),
                Cond::Expr(e) => {
                    if !template::eval_cond(e, scope).map_err(|err| {
                        format!(
                            "The conditional check '{e}' failed. The error was: {}",
                            err.0
                        )
                    })? {
                        return Ok(Some(e.clone()));
                    }
                }
            }
        }
        Ok(None)
    }

    fn task_name(&self, task: &Task) -> String {
        let name = task.display_name();
        if !template::is_template(&name) {
            return name;
        }
        let scope = self.scope_for(task, None);
        match template::render_str(&name, &scope) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(_) => name,
        }
    }

    /// Runs one task; `always_run` bypasses the tag filter (fact gathering).
    pub(super) fn run_task(&mut self, task: &Arc<Task>, handler: bool, always_run: bool) -> Flow {
        if !always_run && !handler && !self.opts.tags.selects(&self.effective_tags(task)) {
            return Flow::Continue;
        }
        if self.batch.arrive().is_some() {
            return Flow::End;
        }
        if let Action::Meta(m) = &task.action {
            let scope = self.scope_for(task, None);
            return match self.conditions_hold(task, &scope) {
                Ok(None) => self.meta(*m),
                Ok(Some(_)) => Flow::Continue,
                Err(e) => self.finish_failed(task, &task.display_name(), e),
            };
        }
        let name = self.task_name(task);
        let location = task.span.to_string();
        self.sink.emit(Event::TaskStart {
            host: self.host.clone(),
            task: name.clone(),
            location: location.clone(),
            handler,
        });
        match &task.action {
            Action::IncludeTasks { file, vars } => self.include(task, &name, file, vars),
            Action::Module { module, args } => self.module_task(task, &name, module, args),
            Action::Meta(_) => unreachable!("handled above"),
        }
    }

    fn finish_failed(&mut self, task: &Task, name: &str, msg: String) -> Flow {
        let location = task.span.to_string();
        let out = Outcome::failed(msg);
        self.count_and_emit(task, name, &location, out, false)
    }

    fn include(
        &mut self,
        task: &Arc<Task>,
        name: &str,
        file: &str,
        vars: &crate::playbook::Vars,
    ) -> Flow {
        let location = task.span.to_string();
        // A looped include runs the file once per item, with the loop variable set.
        let iterations: Vec<Option<Map<String, Value>>> = match &task.looping {
            None => vec![None],
            Some(looping) => {
                let scope = self.scope_for(task, None);
                let items = match self.loop_items(looping, &scope) {
                    Ok(items) => items,
                    Err(e) => return self.finish_failed(task, name, e),
                };
                let loop_var = task
                    .loop_control
                    .loop_var
                    .clone()
                    .unwrap_or_else(|| "item".into());
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let mut lv = Map::new();
                        lv.insert(loop_var.clone(), item);
                        if let Some(iv) = &task.loop_control.index_var {
                            lv.insert(iv.clone(), i.into());
                        }
                        Some(lv)
                    })
                    .collect()
            }
        };
        let mut ran_any = false;
        let mut last_skip = None;
        for lv in iterations {
            let scope = self.scope_for(task, lv.clone());
            match self.conditions_hold(task, &scope) {
                Ok(None) => {}
                Ok(Some(cond)) => {
                    last_skip = Some(cond);
                    continue;
                }
                Err(e) => return self.finish_failed(task, name, e),
            }
            ran_any = true;
            let file = match template::render_str(file, &scope) {
                Ok(Value::String(s)) => s,
                Ok(other) => other.to_string(),
                Err(e) => return self.finish_failed(task, name, e.0),
            };
            let Some(path) =
                crate::playbook::resolve_include(&file, &task.span, task.common.role.as_deref())
                    .or_else(|| {
                        let p = self.play.basedir.join(&file);
                        p.is_file().then_some(p)
                    })
            else {
                return self.finish_failed(
                    task,
                    name,
                    format!("Could not find or access '{file}' (included from {location})"),
                );
            };
            let items = match load_task_file(&path, task.common.role.clone()) {
                Ok(items) => items,
                Err(d) => return self.finish_failed(task, name, d.to_string()),
            };
            self.sink.emit(Event::Included {
                host: self.host.clone(),
                file: path.display().to_string(),
                tasks: self.opts.tags.offered(&items, &self.chain),
            });
            // Each inclusion counts as an ok result, as in ansible-core.
            self.stats.ok += 1;
            let mut include_vars = task.common.vars.clone();
            include_vars.extend(vars.clone());
            include_vars.extend(lv.unwrap_or_default());
            // Included tasks inherit the include's keywords (become, vars) but not
            // its tags, and its condition was already decided here.
            let inherited = Common {
                tags: vec![],
                when: vec![],
                vars: include_vars,
                ..task.common.clone()
            };
            self.chain.push(inherited);
            let flow = self.items(&items);
            self.chain.pop();
            if flow != Flow::Continue {
                return flow;
            }
        }
        if !ran_any {
            let cond = last_skip.unwrap_or_default();
            let out = Outcome::skipped("Conditional result was False", Some(&cond));
            return self.count_and_emit(task, name, &location, out, false);
        }
        Flow::Continue
    }

    fn module_task(&mut self, task: &Arc<Task>, name: &str, module: &str, args: &Value) -> Flow {
        self.task_started = std::time::Instant::now();
        let location = task.span.to_string();
        let scope = self.scope_for(task, None);
        let run_once = self
            .keyword_bool(task, &scope, |c| c.run_once.as_ref())
            .ok()
            .flatten()
            .unwrap_or(false);
        if !run_once {
            let (out, looped) = self.module_outcome(task, name, module, args, &scope);
            return self.count_and_emit(task, name, &location, out, looped);
        }
        // run_once: the first host of the batch runs it; the others take its result.
        let ptr = Arc::as_ptr(task) as usize;
        let n = self.occurrences.entry(ptr).or_insert(0);
        *n += 1;
        let key = (ptr, *n);
        if let Some((failed, result)) = self.batch.claim_once(key) {
            if let Some(reg) = &task.register {
                self.pv.update_live(&self.host, |live| {
                    Arc::make_mut(&mut live.set).insert(reg.clone(), Value::Object(result.clone()));
                });
            }
            if failed {
                self.stats.failed += 1;
                return Flow::Failed;
            }
            return Flow::Continue;
        }
        let (out, looped) = self.module_outcome(task, name, module, args, &scope);
        let mut published = out.result.clone();
        published.remove("__debug__");
        self.batch
            .publish_once(key, out.status == Status::Failed, published);
        self.count_and_emit(task, name, &location, out, looped)
    }

    /// Runs a module task (with its loop, if any) and returns the task's outcome.
    fn module_outcome(
        &mut self,
        task: &Arc<Task>,
        name: &str,
        module: &str,
        args: &Value,
        scope: &Arc<Scope>,
    ) -> (Outcome, bool) {
        let location = task.span.to_string();
        let Some(looping) = &task.looping else {
            let out = match self.conditions_hold(task, scope) {
                Ok(Some(cond)) => Outcome::skipped("Conditional result was False", Some(&cond)),
                Ok(None) => self.execute_with_retries(task, name, module, args, scope),
                Err(e) => Outcome::failed(e),
            };
            self.apply_facts(module, &out);
            return (out, false);
        };
        let items = match self.loop_items(looping, scope) {
            Ok(items) => items,
            Err(e) => return (Outcome::failed(e), false),
        };
        let loop_var = task
            .loop_control
            .loop_var
            .clone()
            .unwrap_or_else(|| "item".into());
        let mut results = Vec::new();
        let (mut any_changed, mut any_failed, mut all_skipped) = (false, false, true);
        let total = items.len();
        for (i, item) in items.into_iter().enumerate() {
            let mut lv = Map::new();
            lv.insert(loop_var.clone(), item.clone());
            lv.insert("ansible_loop_var".into(), loop_var.clone().into());
            if let Some(iv) = &task.loop_control.index_var {
                lv.insert(iv.clone(), i.into());
                lv.insert("ansible_index_var".into(), iv.clone().into());
            }
            if task.loop_control.extended {
                lv.insert(
                    "ansible_loop".into(),
                    json!({
                        "index": i + 1, "index0": i, "first": i == 0, "last": i + 1 == total,
                        "length": total, "revindex": total - i, "revindex0": total - i - 1,
                    }),
                );
            }
            let iscope = self.scope_for(task, Some(lv.clone()));
            let label = match &task.loop_control.label {
                Some(l) => template::render_value(l, &iscope).unwrap_or_else(|_| l.clone()),
                None => item.clone(),
            };
            let mut out = match self.conditions_hold(task, &iscope) {
                Ok(Some(cond)) => Outcome::skipped("Conditional result was False", Some(&cond)),
                Ok(None) => self.execute_with_retries(task, name, module, args, &iscope),
                Err(e) => Outcome::failed(e),
            };
            self.apply_facts(module, &out);
            out.result.insert(loop_var.clone(), item);
            out.result
                .insert("ansible_loop_var".into(), loop_var.clone().into());
            any_changed |= out.status == Status::Changed;
            any_failed |= out.status == Status::Failed || out.status == Status::Unreachable;
            all_skipped &= out.status == Status::Skipped;
            self.emit_result(
                name,
                &location,
                out.status,
                ResultView {
                    item: Some(label),
                    msg: out.msg(),
                    summary: out.summary.clone(),
                    diff: out.diff.clone(),
                    ignored: false,
                    loop_summary: false,
                    result: Value::Object(out.result.clone()),
                }
                .hidden_if(self.no_log(task, &iscope)),
            );
            if out.status == Status::Unreachable {
                results.push(Value::Object(out.result));
                break;
            }
            results.push(Value::Object(out.result));
        }
        let mut result = Map::new();
        result.insert("changed".into(), any_changed.into());
        if any_failed {
            result.insert("failed".into(), true.into());
            result.insert("msg".into(), "One or more items failed".into());
        } else {
            result.insert("msg".into(), "All items completed".into());
        }
        if all_skipped && total > 0 {
            result.insert("skipped".into(), true.into());
            result.insert("skipped_reason".into(), "No items in the list".into());
        }
        if total == 0 {
            result.insert("skipped".into(), true.into());
            result.insert("skipped_reason".into(), "No items in the list".into());
        }
        result.insert("results".into(), Value::Array(results));
        let status = if any_failed {
            Status::Failed
        } else if total == 0 || all_skipped {
            Status::Skipped
        } else if any_changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let out = Outcome {
            status,
            result,
            summary: None,
            diff: None,
        };
        (out, true)
    }

    fn loop_items(&self, looping: &Loop, scope: &Arc<Scope>) -> Result<Vec<Value>, String> {
        let (source, dict) = match looping {
            Loop::Items { source, .. } => (source, false),
            Loop::Dict(source) => (source, true),
        };
        let rendered = template::render_value(source, scope).map_err(|e| e.0)?;
        if dict {
            let Value::Object(m) = rendered else {
                return Err(format!("with_dict expects a dict, got {rendered}"));
            };
            return Ok(m
                .into_iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect());
        }
        let flatten_one = matches!(
            looping,
            Loop::Items {
                flatten_one: true,
                ..
            }
        );
        match rendered {
            Value::Array(items) if flatten_one => Ok(items
                .into_iter()
                .flat_map(|i| match i {
                    Value::Array(inner) => inner,
                    other => vec![other],
                })
                .collect()),
            Value::Array(items) => Ok(items),
            Value::Null if flatten_one => Ok(vec![]),
            other if flatten_one => Ok(vec![other]),
            other => Err(format!(
                "Invalid data passed to 'loop', it requires a list, got this instead: {other}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup."
            )),
        }
    }

    /// `no_log: true` on the task or an enclosing block or play.
    fn no_log(&self, task: &Task, scope: &Arc<Scope>) -> bool {
        self.keyword_bool(task, scope, |c| c.no_log.as_ref())
            .ok()
            .flatten()
            .unwrap_or(false)
    }

    fn ignore_errors(&self, task: &Task, scope: &Arc<Scope>) -> bool {
        self.keyword_bool(task, scope, |c| c.ignore_errors.as_ref())
            .ok()
            .flatten()
            .unwrap_or(false)
    }

    /// Facts from `set_fact` (high precedence) and `setup` (facts layer).
    fn apply_facts(&self, module: &str, out: &Outcome) {
        if matches!(
            out.status,
            Status::Failed | Status::Skipped | Status::Unreachable
        ) {
            return;
        }
        let Some(Value::Object(facts)) = out.result.get("ansible_facts") else {
            return;
        };
        self.pv.update_live(&self.host, |live| {
            if module == "set_fact" {
                let set = Arc::make_mut(&mut live.set);
                set.extend(facts.clone());
            } else {
                let f = Arc::make_mut(&mut live.facts);
                f.extend(facts.clone());
            }
        });
    }

    fn execute_with_retries(
        &mut self,
        task: &Task,
        name: &str,
        module: &str,
        args: &Value,
        scope: &Arc<Scope>,
    ) -> Outcome {
        let Some(until) = &task.until else {
            let out = self.execute(task, name, module, args, scope);
            return self.rewrite(task, out, scope);
        };
        let num = |v: &Option<Value>, default: f64| -> f64 {
            v.as_ref()
                .and_then(|v| template::render_value(v, scope).ok())
                .and_then(|v| match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .unwrap_or(default)
        };
        let retries = num(&task.retries, 3.0).max(0.0) as u32;
        let delay = num(&task.delay, 5.0).max(0.0);
        let mut attempt = 1;
        loop {
            let out = self.execute(task, name, module, args, scope);
            let mut out = self.rewrite(task, out, scope);
            // A skipped run (a command in check mode) has no result to test.
            if matches!(out.status, Status::Unreachable | Status::Skipped) {
                return out;
            }
            let bound = bind_result(scope, task.register.as_deref(), &out.result);
            let done = until.iter().all(|c| match c {
                Cond::Literal(b) => *b,
                Cond::Expr(e) => template::eval_cond(e, &bound).unwrap_or(false),
            });
            out.result.insert("attempts".into(), attempt.into());
            if done {
                return out;
            }
            // ansible-core 2.17 makes `retries` attempts in total (at least one).
            if attempt >= retries.max(1) {
                out.status = Status::Failed;
                out.result.insert("failed".into(), true.into());
                out.result.insert(
                    "msg".into(),
                    out.msg()
                        .map(Value::from)
                        .unwrap_or_else(|| "Retries exceeded".into()),
                );
                return out;
            }
            attempt += 1;
            std::thread::sleep(Duration::from_secs_f64(delay));
        }
    }

    /// Applies changed_when / failed_when, which see the result under the register name.
    fn rewrite(&self, task: &Task, mut out: Outcome, scope: &Arc<Scope>) -> Outcome {
        if matches!(out.status, Status::Skipped | Status::Unreachable) {
            return out;
        }
        let bound = bind_result(scope, task.register.as_deref(), &out.result);
        let eval = |conds: &[Cond]| -> Result<bool, String> {
            for c in conds {
                let ok = match c {
                    Cond::Literal(b) => *b,
                    Cond::Expr(e) => template::eval_cond(e, &bound).map_err(|err| {
                        format!(
                            "The conditional check '{e}' failed. The error was: {}",
                            err.0
                        )
                    })?,
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        if let Some(conds) = &task.changed_when {
            match eval(conds) {
                Ok(changed) => {
                    out.result.insert("changed".into(), changed.into());
                    if out.status != Status::Failed {
                        out.status = if changed { Status::Changed } else { Status::Ok };
                    }
                }
                Err(e) => return Outcome::failed(e),
            }
        }
        if let Some(conds) = &task.failed_when {
            // Like `when`, a list of conditions must all hold.
            let failed = match eval(conds) {
                Ok(f) => f,
                Err(e) => return Outcome::failed(e),
            };
            out.result
                .insert("failed_when_result".into(), failed.into());
            if failed {
                out.status = Status::Failed;
                out.result.insert("failed".into(), true.into());
            } else {
                out.result.insert("failed".into(), false.into());
                if out.status == Status::Failed {
                    let changed = out
                        .result
                        .get("changed")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    out.status = if changed { Status::Changed } else { Status::Ok };
                }
            }
        }
        out
    }

    /// Renders the arguments and runs the module contract once.
    fn execute(
        &mut self,
        task: &Task,
        name: &str,
        module: &str,
        args: &Value,
        scope: &Arc<Scope>,
    ) -> Outcome {
        let Some(m) = registry::get(module) else {
            return Outcome::failed(format!("unknown module {module}"));
        };
        let spec = m.spec();
        let check = match self.keyword_bool(task, scope, |c| c.check_mode.as_ref()) {
            Ok(Some(b)) => b,
            Ok(None) => self.opts.check,
            Err(e) => return Outcome::failed(e),
        };
        let diff_mode = match self.keyword_bool(task, scope, |c| c.diff.as_ref()) {
            Ok(Some(b)) => b,
            Ok(None) => self.opts.diff,
            Err(e) => return Outcome::failed(e),
        };
        let mut rendered = Map::new();
        if let Value::Object(raw) = args {
            for (k, v) in raw {
                let keep_raw = spec.arg(k).is_some_and(|a| a.kind == ArgKind::Expr);
                let value = if keep_raw {
                    v.clone()
                } else {
                    match template::render_value(v, scope) {
                        Ok(v) => v,
                        Err(e) => return Outcome::failed(format!("{e} (in argument `{k}`)")),
                    }
                };
                if value.as_str() != Some(template::OMIT) {
                    rendered.insert(k.clone(), value);
                }
            }
        }
        let become_as = match self.become_for(task, scope) {
            Ok(b) => b,
            Err(e) => return Outcome::failed(e),
        };
        let env = match self.environment_for(task, scope) {
            Ok(e) => e,
            Err(e) => return Outcome::failed(e),
        };
        let eval = ScopeEval(scope);
        let cx = ModuleCx {
            eval: &eval,
            search_dirs: self.search_dirs(task),
            check_mode: check,
        };
        let mut action = match m.validate(&rendered, &cx) {
            Ok(a) => a,
            Err(e) => return module_failure(e),
        };
        let delegate = match self.inherited(task, |c| c.delegate_to.clone()) {
            Some(d) => match template::render_str(&d, scope) {
                Ok(Value::String(s)) if s != self.host => Some(s),
                Ok(Value::String(_)) => None,
                Ok(other) => Some(other.to_string()),
                Err(e) => return Outcome::failed(format!("delegate_to: {}", e.0)),
            },
            None => None,
        };
        let opened = match &delegate {
            None => self.connection().map(|_| ()),
            Some(d) => self.delegate_connection(d).map(|_| ()),
        };
        if let Err(e) = opened {
            return unreachable(e);
        }
        let journal = match (&self.opts.recorder, check) {
            (Some(rec), false) => {
                let on = delegate.clone().unwrap_or_else(|| self.host.clone());
                let spec = match self.conn_spec_of(&on) {
                    Ok(s) => s,
                    Err(e) => return Outcome::failed(e),
                };
                Some(Journal {
                    recorder: rec.clone(),
                    host: on,
                    task: name.to_string(),
                    location: task.span.to_string(),
                    conn: spec,
                    become_user: become_as.as_ref().map(|b| b.user.clone()),
                    hidden: self.no_log(task, scope),
                })
            }
            _ => None,
        };
        let conn = match &delegate {
            None => self.conn.as_mut(),
            Some(d) => self.delegates.get_mut(d),
        }
        .expect("connection was just opened");
        let mut target = Target {
            conn: conn.as_mut(),
            become_as,
            env,
            // Planned effects are tracked for the host's own files only.
            planned: (check && delegate.is_none()).then_some(&self.planned),
            seen: (check && delegate.is_none() && self.opts.fingerprint)
                .then_some(&mut self.observed),
        };
        let step = observe_and_change(action.as_mut(), &mut target, check, journal.as_ref());
        drop(target);
        let change = match step {
            Err(e) => return module_failure(e),
            Ok(c) => c,
        };
        let (status, summary, diff) = match &change {
            None => (Status::Ok, None, None),
            Some(ch) if check && spec.check == CheckSupport::Skipped && !ch.predictable => {
                let mut out = Outcome::skipped("Command would have run if not in check mode", None);
                out.result.insert(
                    "msg".into(),
                    "Command would have run if not in check mode".into(),
                );
                out.result.remove("skip_reason");
                out.summary = Some(ch.summary.clone());
                self.record(task, name, ch, check);
                return out;
            }
            Some(ch) => {
                self.record(task, name, ch, check);
                (Status::Changed, Some(ch.summary.clone()), ch.diff.clone())
            }
        };
        let mut result = Map::new();
        result.insert("changed".into(), (status == Status::Changed).into());
        result.extend(action.returns());
        if module == "debug" {
            result.insert("__debug__".into(), Value::Object(action.returns()));
        }
        if diff_mode && let Some(d) = &diff {
            result.insert(
                "diff".into(),
                json!({
                    "before": d.before, "after": d.after,
                    "before_header": d.path, "after_header": d.path,
                }),
            );
        }
        Outcome {
            status,
            result,
            summary,
            diff: if diff_mode { diff } else { None },
        }
    }

    /// Keeps the change for the run's plan; in a plan, later tasks see its effects.
    fn record(&mut self, task: &Task, name: &str, change: &crate::modules::Change, check: bool) {
        if check {
            for (path, state) in &change.after {
                self.planned.insert(path.clone(), state.clone());
            }
        }
        let mut step = PlanStep::new(&self.host, name, &task.span.to_string(), change);
        if self.no_log(task, &self.scope_for(task, None)) {
            step.summary = "(hidden by no_log)".into();
            step.diff = None;
        }
        self.steps.push(step);
    }

    fn search_dirs(&self, task: &Task) -> Vec<std::path::PathBuf> {
        let mut dirs = Vec::new();
        if let Some(role) = &task.common.role {
            dirs.push(role.path.clone());
        }
        dirs.push(task.span.dir());
        dirs.push(self.play.basedir.clone());
        dirs
    }

    fn become_for(&self, task: &Task, scope: &Arc<Scope>) -> Result<Option<Become>, String> {
        let var_bool = |name: &str| -> Result<Option<bool>, String> {
            Ok(scope
                .get(name)
                .map_err(|e| e.0)?
                .map(|v| as_bool(&v).unwrap_or(false)))
        };
        let enabled = match self.inherited(task, |c| c.become_on) {
            Some(b) => b,
            None => var_bool("ansible_become")?.unwrap_or(self.opts.become_default),
        };
        if !enabled {
            return Ok(None);
        }
        let user = match self.inherited(task, |c| c.become_user.clone()) {
            Some(u) => template::render_str(&u, scope).map_err(|e| e.0)?,
            None => scope
                .get("ansible_become_user")
                .map_err(|e| e.0)?
                .or_else(|| self.opts.become_user_default.clone().map(Value::from))
                .unwrap_or_else(|| "root".into()),
        };
        let user = match user {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let password = match scope
            .get("ansible_become_password")
            .map_err(|e| e.0)?
            .or(scope.get("ansible_become_pass").map_err(|e| e.0)?)
        {
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) | None => self.opts.become_password.clone(),
            Some(other) => Some(other.to_string()),
        };
        Ok(Some(Become { user, password }))
    }

    fn environment_for(
        &self,
        task: &Task,
        scope: &Arc<Scope>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut env = Vec::new();
        for c in self.chain.iter().chain(std::iter::once(&task.common)) {
            let Some(raw) = &c.environment else { continue };
            match template::render_value(raw, scope).map_err(|e| e.0)? {
                Value::Object(m) => {
                    for (k, v) in m {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        env.retain(|(ek, _): &(String, String)| *ek != k);
                        env.push((k, v));
                    }
                }
                Value::Null => {}
                other => return Err(format!("environment must be a mapping, got {other}")),
            }
        }
        Ok(env)
    }

    /// Registers, notifies, counts and reports a finished task.
    fn count_and_emit(
        &mut self,
        task: &Task,
        name: &str,
        location: &str,
        mut out: Outcome,
        looped: bool,
    ) -> Flow {
        let scope = self.scope_for(task, None);
        if let Some(reg) = &task.register {
            let mut value = out.result.clone();
            value.remove("__debug__");
            if out.status == Status::Failed {
                value.insert("failed".into(), true.into());
            }
            self.pv.update_live(&self.host, |live| {
                Arc::make_mut(&mut live.set).insert(reg.clone(), Value::Object(value));
            });
        }
        if out.status == Status::Changed
            && !task.notify.is_empty()
            && let Err(e) = self.notify(&task.notify, &scope)
        {
            out = Outcome::failed(e);
        }
        let ignored = out.status == Status::Failed && self.ignore_errors(task, &scope);
        if out.status == Status::Failed && !ignored {
            let mut failed = out.result.clone();
            failed.remove("__debug__");
            self.last_failure = Some((name.to_string(), Value::Object(failed)));
        }
        match out.status {
            Status::Ok => self.stats.ok += 1,
            Status::Changed => {
                self.stats.ok += 1;
                self.stats.changed += 1;
            }
            Status::Skipped => self.stats.skipped += 1,
            Status::Unreachable => {
                self.stats.unreachable += 1;
                self.unreachable = true;
            }
            Status::Failed if ignored => {
                self.stats.ok += 1;
                self.stats.ignored += 1;
                if out.result.get("changed").and_then(Value::as_bool) == Some(true) {
                    self.stats.changed += 1;
                }
            }
            Status::Failed if self.rescue_depth > 0 => {}
            Status::Failed => self.stats.failed += 1,
        }
        let hidden = self.no_log(task, &scope);
        if let Some(rec) = &self.opts.recorder {
            rec.task(TaskRecord {
                host: self.host.clone(),
                task: name.to_string(),
                location: location.to_string(),
                status: match out.status {
                    Status::Failed if ignored => "ignored".into(),
                    Status::Failed if self.rescue_depth > 0 => "rescued".into(),
                    other => other.as_str().to_string(),
                },
                changed: out.status == Status::Changed,
                duration_ms: self.task_started.elapsed().as_millis() as u64,
                summary: out.summary.clone().filter(|_| !hidden),
                diff: out
                    .diff
                    .as_ref()
                    .filter(|_| !hidden)
                    .map(crate::output::diff::unified),
            });
        }
        self.emit_result(
            name,
            location,
            out.status,
            ResultView {
                item: None,
                msg: out.msg(),
                summary: out.summary.clone(),
                diff: out.diff.clone(),
                ignored,
                loop_summary: looped,
                result: Value::Object(out.result),
            }
            .hidden_if(hidden),
        );
        match out.status {
            Status::Failed if !ignored => Flow::Failed,
            Status::Unreachable => Flow::Failed,
            _ => Flow::Continue,
        }
    }
}

/// Where an apply journals its changes.
struct Journal {
    recorder: Arc<Recorder>,
    host: String,
    task: String,
    location: String,
    conn: ConnSpec,
    become_user: Option<String>,
    /// `no_log: true`: the journal keeps no summary of the change.
    hidden: bool,
}

/// The module contract up to the change: observe, diff, and apply unless
/// planning. With a journal, the undo record is durable before the apply.
fn observe_and_change(
    action: &mut dyn crate::modules::Action,
    target: &mut Target<'_>,
    check: bool,
    journal: Option<&Journal>,
) -> Result<Option<crate::modules::Change>, ModuleError> {
    action.observe(target)?;
    let change = action.diff()?;
    if let Some(ch) = &change
        && !check
    {
        let hidden;
        let journaled = match journal {
            Some(j) if j.hidden => {
                let mut c = ch.clone();
                c.summary = "(hidden by no_log)".into();
                c.diff = None;
                if let crate::modules::Undo::Invoke { summary, .. }
                | crate::modules::Undo::Replay { summary, .. } = &mut c.undo
                {
                    *summary = "(hidden by no_log)".into();
                }
                hidden = c;
                &hidden
            }
            _ => ch,
        };
        let ticket = match journal {
            Some(j) => j
                .recorder
                .journal(
                    ChangeContext {
                        host: &j.host,
                        task: &j.task,
                        location: &j.location,
                        conn: j.conn.clone(),
                        become_user: j.become_user.clone(),
                    },
                    journaled,
                )
                .map_err(ModuleError::new)?,
            None => None,
        };
        let applied = action.apply(ch, target);
        if let (Some(j), Some(ticket)) = (journal, ticket) {
            j.recorder.confirm(ticket, ch, applied.is_ok(), target);
        }
        applied?;
    }
    Ok(change)
}

/// A scope with the task's result visible under its register name.
fn bind_result(
    scope: &Arc<Scope>,
    register: Option<&str>,
    result: &Map<String, Value>,
) -> Arc<Scope> {
    let mut layer = Map::new();
    if let Some(reg) = register {
        layer.insert(reg.to_string(), Value::Object(result.clone()));
    }
    scope.with_layer(layer)
}

fn module_failure(e: ModuleError) -> Outcome {
    if e.unreachable {
        return unreachable(e.msg);
    }
    let mut out = Outcome::failed(e.msg);
    for (k, v) in e.returns {
        if k != "msg" || !out.result.contains_key("msg") {
            out.result.insert(k, v);
        }
    }
    if let Some(Value::String(m)) = out.result.get("msg").cloned()
        && m.is_empty()
    {
        out.result.insert("msg".into(), "module failed".into());
    }
    out
}

fn unreachable(msg: String) -> Outcome {
    let mut out = Outcome::failed(msg);
    out.status = Status::Unreachable;
    out.result.insert("unreachable".into(), true.into());
    out.result.remove("failed");
    out
}
