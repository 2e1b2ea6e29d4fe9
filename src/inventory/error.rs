use crate::diag::Diagnostic;
use crate::yaml::YamlError;
use std::path::PathBuf;

/// Why an inventory could not be loaded or a pattern not be evaluated. Every
/// variant names the file (with line and column where known) or the pattern.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error(transparent)]
    Diag(#[from] Diagnostic),
    #[error(transparent)]
    Yaml(#[from] YamlError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("inventory '{spec}' not found (looked for {})", display_paths(tried))]
    NotFound { spec: String, tried: Vec<PathBuf> },
    #[error("host pattern '{pattern}': {message}")]
    Pattern { pattern: String, message: String },
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
