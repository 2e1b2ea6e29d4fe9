//! `fail`: stop the host with a message.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::{Action, Args, ModResult, Module, ModuleCx, ModuleError};
use serde_json::Value;

pub static FAIL: ModuleSpec = ModuleSpec {
    name: "fail",
    summary: "Fail with a custom message",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: &[arg("msg", Raw, "The failure message.")],
};

pub struct Fail;

impl Module for Fail {
    fn spec(&self) -> &'static ModuleSpec {
        &FAIL
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let msg = match args.get("msg") {
            None | Some(Value::Null) => "Failed as requested from task".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        Err(ModuleError::new(msg))
    }
}
