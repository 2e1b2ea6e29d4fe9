//! `debug`: print a message or a variable. Changes nothing.

use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::{Action, Args, Change, ModResult, Module, ModuleCx, Returns, Target, argx};
use serde_json::Value;

pub static DEBUG: ModuleSpec = ModuleSpec {
    name: "debug",
    summary: "Print a message or the value of a variable",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: &[
        arg("msg", Raw, "The message (default \"Hello world!\")."),
        arg("var", Expr, "A variable name or expression to show."),
        arg("verbosity", Int, "Show only at this -v level or above."),
    ],
};

pub struct Debug;

impl Module for Debug {
    fn spec(&self) -> &'static ModuleSpec {
        &DEBUG
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let mut out = Returns::new();
        match argx::string(args, "var")? {
            Some(var) => {
                if args.contains_key("msg") {
                    return Err(super::ModuleError::new(
                        "msg and var are mutually exclusive",
                    ));
                }
                let value = cx
                    .eval
                    .eval(&var)
                    .unwrap_or_else(|_| Value::from("VARIABLE IS NOT DEFINED!"));
                out.insert(var, value);
            }
            None => {
                let msg = args.get("msg").cloned().unwrap_or("Hello world!".into());
                out.insert("msg".into(), msg);
            }
        }
        Ok(Box::new(Report(out)))
    }
}

/// An action whose whole result is known at validation time.
pub struct Report(pub Returns);

impl Action for Report {
    fn observe(&mut self, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(None)
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn returns(&self) -> Returns {
        self.0.clone()
    }
}
