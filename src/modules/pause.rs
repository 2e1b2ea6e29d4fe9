//! `pause`: wait a fixed time on the controller (never prompts).

use super::debug::Report;
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, argx,
};
use std::time::Duration;

pub static PAUSE: ModuleSpec = ModuleSpec {
    name: "pause",
    summary: "Wait for a number of seconds or minutes (non-interactive)",
    free_form: false,
    check: CheckSupport::ReadOnly,
    open_args: false,
    args: &[
        arg("seconds", Int, "Seconds to wait."),
        arg("minutes", Int, "Minutes to wait."),
        arg("prompt", Str, "Shown while waiting; input is never read."),
        arg("echo", Bool, "Accepted for compatibility."),
    ],
};

pub struct Pause;

impl Module for Pause {
    fn spec(&self) -> &'static ModuleSpec {
        &PAUSE
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let secs = match (
            argx::number(args, "seconds")?,
            argx::number(args, "minutes")?,
        ) {
            (Some(s), None) => s,
            (None, Some(m)) => m * 60.0,
            (Some(_), Some(_)) => {
                return Err(ModuleError::new(
                    "seconds and minutes are mutually exclusive",
                ));
            }
            (None, None) => {
                return Err(ModuleError::new(
                    "pause needs seconds or minutes: waiting for input is not supported",
                ));
            }
        };
        if !(0.0..=86_400.0).contains(&secs) {
            return Err(ModuleError::new(
                "pause must be between 0 and 86400 seconds",
            ));
        }
        Ok(Box::new(PauseAction(secs)))
    }
}

struct PauseAction(f64);

impl Action for PauseAction {
    // The wait happens in observe so that plans wait too, as Ansible's check mode does.
    fn observe(&mut self, _: &mut Target<'_>) -> ModResult<()> {
        std::thread::sleep(Duration::from_secs_f64(self.0));
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        Ok(None)
    }

    fn apply(&mut self, _: &Change, _: &mut Target<'_>) -> ModResult<()> {
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Report(Returns::new()).returns();
        r.insert("delta".into(), (self.0 as i64).into());
        r
    }
}
