//! Secrets: Ansible Vault data and the redaction of secret values.
//!
//! - [`format`]: the vault envelope and its cipher;
//! - [`keyring`]: the run's vault passwords and the derived-key cache;
//! - [`taint`]: the run's secret values and scrubbing them from output;
//! - [`password`]: the `password` lookup's generated, kept passwords.

mod error;
pub mod format;
pub mod keyring;
pub mod password;
pub mod taint;

pub use error::VaultError;
pub use keyring::{DEFAULT_ID, Keyring, VaultSecret, install, keyring};

use serde_json::Value;
use std::borrow::Cow;

/// The tag the YAML loader gives an inline `!vault` value: `{"__tag__":
/// "vault", "value": <vault text>, "__pos__": "file:line:col"}`.
pub fn inline(v: &Value) -> Option<(&str, &str)> {
    let m = v.as_object()?;
    if m.get("__tag__")?.as_str()? != "vault" {
        return None;
    }
    let text = m.get("value")?.as_str()?;
    let pos = m.get("__pos__").and_then(Value::as_str).unwrap_or("!vault");
    Some((text, pos))
}

/// Decrypts one inline `!vault` value to its string and registers it secret.
pub fn open_inline(text: &str, pos: &str) -> Result<String, VaultError> {
    let plain = keyring().decrypt(text, pos)?;
    let s = String::from_utf8(plain).map_err(|_| VaultError::Malformed {
        origin: pos.to_string(),
        why: "the decrypted value is not UTF-8 text".into(),
    })?;
    taint::register(&s);
    Ok(s)
}

/// `v` with every inline `!vault` value inside it decrypted.
pub fn reveal(v: &Value) -> Result<Cow<'_, Value>, VaultError> {
    if let Some((text, pos)) = inline(v) {
        return Ok(Cow::Owned(Value::String(open_inline(text, pos)?)));
    }
    match v {
        Value::Array(items) if items.iter().any(has_inline) => Ok(Cow::Owned(Value::Array(
            items
                .iter()
                .map(|i| reveal(i).map(Cow::into_owned))
                .collect::<Result<_, _>>()?,
        ))),
        Value::Object(m) if m.values().any(has_inline) => Ok(Cow::Owned(Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), reveal(v)?.into_owned())))
                .collect::<Result<_, VaultError>>()?,
        ))),
        _ => Ok(Cow::Borrowed(v)),
    }
}

fn has_inline(v: &Value) -> bool {
    inline(v).is_some()
        || match v {
            Value::Array(items) => items.iter().any(has_inline),
            Value::Object(m) => m.values().any(has_inline),
            _ => false,
        }
}

/// The text of a whole vault-encrypted file (`origin` names it in errors),
/// or the text itself when it is not encrypted.
pub fn open_file_text<'a>(text: &'a str, origin: &str) -> Result<Cow<'a, str>, VaultError> {
    if !format::is_vault(text.as_bytes()) {
        return Ok(Cow::Borrowed(text));
    }
    let plain = keyring().decrypt(text, origin)?;
    String::from_utf8(plain)
        .map(Cow::Owned)
        .map_err(|_| VaultError::Malformed {
            origin: origin.to_string(),
            why: "the decrypted file is not UTF-8 text".into(),
        })
}
