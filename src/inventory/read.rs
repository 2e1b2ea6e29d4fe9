//! Reading inventory and vars files, decrypting whole-file vault content.

use super::InventoryError;
use super::model::Decrypt;
use crate::diag::{Diagnostic, SourceFile, Span};
use std::path::Path;

const VAULT_HEADER: &str = "$ANSIBLE_VAULT;";

/// The file's text, decrypted first when it is a vault file.
pub fn read_text(path: &Path, decrypt: Option<&Decrypt>) -> Result<String, InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !text.trim_start().starts_with(VAULT_HEADER) {
        return Ok(text);
    }
    let span = Span::new(SourceFile::new(path, text.as_str()), 1, 1);
    match decrypt {
        Some(decrypt) => decrypt(path, &text).map_err(|message| {
            Diagnostic::new(&span, format!("cannot decrypt vault file: {message}")).into()
        }),
        None => Err(Diagnostic::new(&span, "file is vault-encrypted")
            .with_hint("give a vault password (--vault-password-file) so it can be decrypted")
            .into()),
    }
}
