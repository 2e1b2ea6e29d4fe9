//! The rollback plan as text, one line per step, with drift shown.

use super::{RollbackPlan, StepOp, describe};

pub fn plan_text(plan: &RollbackPlan, playbook: &str) -> String {
    let mut out = format!("Rollback of run {} ({playbook}):\n", plan.run);
    for (host, steps) in &plan.hosts {
        out.push_str(&format!("\n{host}:\n"));
        for step in steps {
            let mark = match (&step.op, &step.drift) {
                (_, Some(_)) => "! ",
                (StepOp::AlreadyDone, _) => "  ",
                (StepOp::Irreversible { .. }, _) => "x ",
                _ => "~ ",
            };
            out.push_str(&format!(
                "  {mark}{}   [undoes \"{}\", {}]\n",
                describe(&step.op),
                step.entry.task,
                step.entry.location
            ));
            if let Some(d) = &step.drift {
                out.push_str(&format!("      drift: {} {}\n", d.path, d.what.join(", ")));
            }
        }
    }
    for (host, why) in &plan.unreachable {
        out.push_str(&format!("\n{host}: UNREACHABLE: {why}\n"));
    }
    out.push_str(&format!(
        "\nRollback: {} change(s), {} already undone, {} drifted, {} irreversible.",
        plan.changes(),
        plan.steps().filter(|s| s.op == StepOp::AlreadyDone).count(),
        plan.drifted().len(),
        plan.irreversible().len()
    ));
    out
}
