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

/// Decrypts every inline `!vault` value inside `v` (each text once, as
/// `seen` records), so that the run knows them as secrets even where no
/// task uses them: a file that shows one, read or replaced by this run, is
/// then sealed or scrubbed like any other. Values that do not open are left
/// for the task that uses them to report.
pub fn register_inline(v: &Value, seen: &mut std::collections::HashSet<String>) {
    if !keyring().is_empty() {
        open_all_inline(v, seen);
    }
}

fn open_all_inline(v: &Value, seen: &mut std::collections::HashSet<String>) {
    if let Some((text, pos)) = inline(v) {
        if seen.insert(text.to_string()) {
            let _ = open_inline(text, pos);
        }
        return;
    }
    match v {
        Value::Array(items) => items.iter().for_each(|i| open_all_inline(i, seen)),
        Value::Object(m) => m.values().for_each(|i| open_all_inline(i, seen)),
        _ => {}
    }
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

/// Decrypts a vault-encrypted inventory or vars file for the inventory
/// loader, registering its string values as secret. The error is the reason
/// alone (the loader names the file).
pub fn decrypt_vars_file(path: &std::path::Path, text: &str) -> Result<String, String> {
    let plain = open_file_text(text, &path.display().to_string()).map_err(|e| match e {
        VaultError::Decrypt { .. } => "wrong password or corrupted".to_string(),
        VaultError::NoPassword { .. } => "no vault password was given \
             (use --vault-password-file, --vault-id or --ask-vault-pass)"
            .to_string(),
        other => other.to_string(),
    })?;
    if let Ok(node) = crate::yaml::load_str(path, &plain) {
        taint::register_value(&node.to_value());
    }
    Ok(plain.into_owned())
}

/// [`decrypt_vars_file`] in the form the inventory loader takes.
pub fn inventory_decryptor() -> crate::inventory::Decrypt {
    std::sync::Arc::new(decrypt_vars_file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Scope, render_str, render_text};
    use serde_json::{Map, json};
    use std::sync::Arc;

    fn scope(vars: Value) -> Arc<Scope> {
        let Value::Object(m) = vars else { panic!() };
        Scope::from_layers(vec![Arc::new(m)])
    }

    #[test]
    fn inline_values_decrypt_when_used_and_are_secret() {
        let ring = install(Keyring::new(vec![
            VaultSecret::new(DEFAULT_ID, "mod-test-password").unwrap(),
        ]));
        let text = ring.encrypt(b"inline-mod-secret", None).unwrap();
        let node = crate::yaml::load_str(
            std::path::Path::new("v.yml"),
            &format!("a: !vault |\n  {}\n", text.trim_end().replace('\n', "\n  ")),
        )
        .unwrap();
        let vars = node.to_value();
        assert_eq!(vars["a"]["__pos__"], "v.yml:1:4");
        let s = scope(vars);
        assert_eq!(
            render_str("{{ a }}", &s).unwrap(),
            json!("inline-mod-secret")
        );
        assert!(taint::contains("inline-mod-secret"));
        // A value made from it is secret too, though it does not show it.
        let b64 = render_str("x{{ a | b64encode }}", &s).unwrap();
        assert!(taint::contains(b64.as_str().unwrap()));
        // Arguments holding a !vault value directly are decrypted as well.
        let args = crate::template::render_value(&json!({"pw": s.raw("a").unwrap()}), &s);
        assert_eq!(args.unwrap(), json!({"pw": "inline-mod-secret"}));
    }

    #[test]
    fn template_files_taint_the_lines_they_render_from_secrets() {
        taint::register("file-taint-secret");
        let mut m = Map::new();
        m.insert("pw".into(), json!("file-taint-secret"));
        m.insert("host".into(), json!("db.example"));
        let s = Scope::from_layers(vec![Arc::new(m)]);
        let out = render_text(
            "static line\nenc={{ pw | b64encode }}\nraw={{ pw }}\n",
            &s,
            "t.j2",
        )
        .unwrap();
        assert!(taint::contains("enc=ZmlsZS10YWludC1zZWNyZXQ="), "{out}");
        assert_eq!(
            taint::scrub(&out),
            "static line\n<redacted>\nraw=<redacted>\n"
        );
        // A template that reads no secret taints nothing.
        let plain = render_text("h={{ host }}-only\n", &s, "u.j2").unwrap();
        assert!(!taint::contains(&plain));
    }

    #[test]
    fn whole_vault_files_load_as_secret_variables() {
        let ring = install(Keyring::new(vec![
            VaultSecret::new(DEFAULT_ID, "mod-test-password").unwrap(),
        ]));
        let text = ring
            .encrypt(b"user: whole-file-user\npass: whole-file-pass\n", None)
            .unwrap();
        let node = crate::yaml::load_str(std::path::Path::new("s.yml"), &text).unwrap();
        assert_eq!(node.to_value()["pass"], "whole-file-pass");
        assert!(taint::contains("whole-file-pass"));
        let bad = crate::yaml::load_str(
            std::path::Path::new("s.yml"),
            "$ANSIBLE_VAULT;1.1;AES256\n00\n",
        );
        assert!(bad.is_err());
    }
}
