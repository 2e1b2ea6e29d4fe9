//! tbuddy-deploy: Ansible-style playbooks with exact plans.
//!
//! Data flows one way: load (`playbook`, `inventory`) → resolve (`vars`,
//! `template`) → plan/apply (`run`, `modules`, `connection`) → report (`output`).

pub mod civil;
pub mod connection;
pub mod diag;
pub mod inventory;
pub mod migrate;
pub mod modules;
pub mod output;
pub mod plan;
pub mod playbook;
pub mod pyliteral;
pub mod pyregex;
pub mod rollback;
pub mod run;
pub mod state;
pub mod template;
#[cfg(test)]
pub(crate) mod testsupport;
pub mod vars;
pub mod vault;
pub mod yaml;
