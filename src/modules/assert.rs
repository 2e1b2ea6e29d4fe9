//! `assert`: fail unless every condition holds. Changes nothing.

use super::debug::Report;
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::{Action, Args, ModResult, Module, ModuleCx, ModuleError, Returns};
use serde_json::Value;

pub static ASSERT: ModuleSpec = ModuleSpec {
    name: "assert",
    summary: "Check that expressions are true",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: &[
        required("that", Expr, "One expression or a list; all must be true."),
        arg("fail_msg", Raw, "Message when an assertion fails.").aliases(&["msg"]),
        arg("success_msg", Raw, "Message when all assertions pass."),
        arg("quiet", Bool, "Say less on success."),
    ],
};

pub struct Assert;

impl Module for Assert {
    fn spec(&self) -> &'static ModuleSpec {
        &ASSERT
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let conds: Vec<Value> = match args.get("that") {
            Some(Value::Array(items)) => items.clone(),
            Some(v) => vec![v.clone()],
            None => return Err(ModuleError::new("missing required argument: that")),
        };
        for c in conds {
            let ok = match &c {
                Value::Bool(b) => *b,
                Value::String(expr) => cx.eval.cond(expr).map_err(ModuleError::new)?,
                other => crate::modules::spec::as_bool(other).unwrap_or(false),
            };
            if !ok {
                let msg = args
                    .get("fail_msg")
                    .cloned()
                    .unwrap_or_else(|| "Assertion failed".into());
                let mut e = ModuleError::new(match &msg {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                e.returns.insert("assertion".into(), c.clone());
                e.returns.insert("evaluated_to".into(), false.into());
                e.returns.insert("msg".into(), msg);
                return Err(e);
            }
        }
        let mut r = Returns::new();
        r.insert(
            "msg".into(),
            args.get("success_msg")
                .cloned()
                .unwrap_or_else(|| "All assertions passed".into()),
        );
        Ok(Box::new(Report(r)))
    }
}
