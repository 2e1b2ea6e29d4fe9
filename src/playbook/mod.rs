//! Playbooks: YAML → typed tree with source positions.
//!
//! Everything outside the supported subset is refused here, at load time,
//! with the file, line and column and a hint.

pub mod ast;
mod keywords;
mod loader;

pub use ast::*;
pub use loader::{load_playbook, load_task_file};

/// Finds an `include_tasks` file relative to the including task.
pub fn resolve_include(
    file: &str,
    from: &crate::diag::Span,
    role: Option<&Role>,
) -> Option<std::path::PathBuf> {
    loader::resolve_task_file_in(file, &from.dir(), role)
}
