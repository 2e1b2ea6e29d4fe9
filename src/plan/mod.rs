//! A plan is data: the steps a run would take on each host, in order, with
//! the exact change each one makes and what it would replace.

pub mod saved;

use crate::modules::{Change, TextDiff, Undo};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    pub host: String,
    pub task: String,
    /// `file:line:col` of the task.
    pub location: String,
    pub summary: String,
    pub diff: Option<TextDiff>,
    pub undo: Undo,
    /// False for steps whose outcome check mode cannot know (commands).
    pub predictable: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<PlanStep>,
}

impl PlanStep {
    pub fn new(host: &str, task: &str, location: &str, change: &Change) -> Self {
        PlanStep {
            host: host.to_string(),
            task: task.to_string(),
            location: location.to_string(),
            summary: change.summary.clone(),
            diff: change.diff.clone(),
            undo: change.undo.clone(),
            predictable: change.predictable,
        }
    }
}

impl Plan {
    /// Steps sorted by host, keeping each host's order.
    pub fn by_host(&self) -> Vec<(&str, Vec<&PlanStep>)> {
        let mut hosts: Vec<(&str, Vec<&PlanStep>)> = Vec::new();
        for step in &self.steps {
            match hosts.iter_mut().find(|(h, _)| *h == step.host) {
                Some((_, steps)) => steps.push(step),
                None => hosts.push((&step.host, vec![step])),
            }
        }
        hosts
    }

    /// "Plan: 3 to change, 1 command to run, on 2 hosts."
    pub fn summary(&self) -> String {
        if self.steps.is_empty() {
            return "No changes. The hosts match the playbook.".into();
        }
        let commands = self.steps.iter().filter(|s| !s.predictable).count();
        let changes = self.steps.len() - commands;
        let hosts = self.by_host().len();
        let mut parts = vec![format!("{changes} to change")];
        if commands > 0 {
            parts.push(format!(
                "{commands} command{} to run",
                if commands == 1 { "" } else { "s" }
            ));
        }
        format!(
            "Plan: {}, on {hosts} host{}.",
            parts.join(", "),
            if hosts == 1 { "" } else { "s" }
        )
    }

    /// [`Plan::render`] of a plan that stopped on `failed` hosts: the steps
    /// before the failures, and no claim that nothing else would change.
    pub fn render_incomplete(&self, failed: &[&str]) -> String {
        if failed.is_empty() {
            return self.render();
        }
        let mut out = self.render();
        if self.steps.is_empty() {
            out = String::new();
        }
        out.push_str(&format!(
            "The plan is incomplete: it failed on {} (see above); what would change after the \
             failure is not known.\n",
            failed.join(", ")
        ));
        out
    }

    /// Per-host listing of the steps, for the end of `plan`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (host, steps) in self.by_host() {
            out.push_str(&format!("{host}:\n"));
            for s in steps {
                let mark = if s.predictable { "~" } else { "!" };
                let undo = match &s.undo {
                    Undo::Irreversible(why) => format!("  [irreversible: {why}]"),
                    _ => String::new(),
                };
                out.push_str(&format!("  {mark} {}  ({}){undo}\n", s.summary, s.task));
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}
