//! `set_fact`: set host variables for the rest of the run.

use super::debug::Report;
use super::spec::{CheckSupport, ModuleSpec};
use super::{Action, Args, ModResult, Module, ModuleCx, ModuleError, Returns};
use serde_json::Value;

pub static SET_FACT: ModuleSpec = ModuleSpec {
    name: "set_fact",
    summary: "Set host variables (facts) from key: value pairs",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: true,
    args: &[super::spec::arg(
        "cacheable",
        super::spec::ArgKind::Bool,
        "Accepted for compatibility; facts live for the run.",
    )],
};

pub struct SetFact;

/// set_fact turns the strings true/false/yes/no into booleans, as ansible-core does.
fn string_bool(v: &Value) -> Value {
    match v {
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" => Value::Bool(true),
            "false" | "no" => Value::Bool(false),
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

impl Module for SetFact {
    fn spec(&self) -> &'static ModuleSpec {
        &SET_FACT
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let facts: serde_json::Map<String, Value> = args
            .iter()
            .filter(|(k, _)| k.as_str() != "cacheable")
            .map(|(k, v)| (k.clone(), string_bool(v)))
            .collect();
        if facts.is_empty() {
            return Err(ModuleError::new(
                "No key/value pairs provided, at least one is required for this action to succeed",
            ));
        }
        let mut r = Returns::new();
        r.insert("ansible_facts".into(), Value::Object(facts));
        Ok(Box::new(Report(r)))
    }
}
