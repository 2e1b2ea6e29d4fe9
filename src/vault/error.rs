//! What can go wrong opening or sealing vault data.

/// A vault error. Messages name the data's origin (a file, or `file:line:col`
/// for an inline `!vault` value) and never include key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("{origin}: not Ansible Vault data: {why}")]
    Malformed { origin: String, why: String },
    #[error(
        "{origin}: unsupported vault format {version} / cipher {cipher} (supported: 1.1 and 1.2 with AES256)"
    )]
    Unsupported {
        origin: String,
        version: String,
        cipher: String,
    },
    #[error(
        "{origin} is vault-encrypted, but no vault password was given \
         (use --vault-password-file, --vault-id or --ask-vault-pass)"
    )]
    NoPassword { origin: String },
    #[error("{origin}: cannot decrypt vault data: wrong password or corrupted")]
    Decrypt { origin: String },
    #[error("vault password {source_name}: {why}")]
    Source { source_name: String, why: String },
    #[error("no vault password with the id `{label}` was given")]
    NoSuchId { label: String },
}
