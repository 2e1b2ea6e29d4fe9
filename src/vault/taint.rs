//! The run's secret values and their removal from everything it shows or keeps.
//!
//! Decrypted vault values, generated passwords and template results built from
//! them are registered here; every output channel (console, `--json` events,
//! the state store, error messages) passes its text through [`scrub`], which
//! replaces each registered value with `<redacted>`. Replacing text at the
//! edges is robust: whatever path a secret took to a message, it cannot leave
//! the process in clear.

use serde_json::Value;
use std::borrow::Cow;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

pub const REDACTED: &str = "<redacted>";

/// Shorter values are not registered: redacting every "yes" or "80" would
/// garble all output, and such values protect nothing.
pub const MIN_LEN: usize = 4;

static ANY: AtomicBool = AtomicBool::new(false);
/// Longest first, so a secret that contains another is replaced whole.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Whether any secret is registered (a cheap check for the hot paths).
pub fn any() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// Registers a secret value: the whole text (without surrounding whitespace)
/// and, for multi-line values, each of its lines, since diffs show lines.
pub fn register(text: &str) {
    let mut wanted: Vec<&str> = vec![text.trim()];
    if text.trim().contains('\n') {
        wanted.extend(text.lines().map(str::trim));
    }
    wanted.retain(|s| s.chars().count() >= MIN_LEN && s != &REDACTED);
    if wanted.is_empty() {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    let mut added = false;
    for s in wanted {
        if !all.iter().any(|have| have == s) {
            all.push(s.to_string());
            added = true;
        }
    }
    if added {
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        ANY.store(true, Ordering::Relaxed);
    }
}

/// Registers every string inside a value (a vault file's variables).
pub fn register_value(v: &Value) {
    match v {
        Value::String(s) => register(s),
        Value::Array(items) => items.iter().for_each(register_value),
        Value::Object(m) => m.values().for_each(register_value),
        _ => {}
    }
}

/// Whether `text` contains a registered secret.
pub fn contains(text: &str) -> bool {
    any()
        && SECRETS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|s| text.contains(s.as_str()))
}

/// Whether `data` contains a registered secret.
pub fn contains_bytes(data: &[u8]) -> bool {
    any()
        && SECRETS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|s| {
                let s = s.as_bytes();
                data.windows(s.len()).any(|w| w == s)
            })
}

/// Whether any string (or key) inside `v` contains a registered secret.
pub fn value_contains(v: &Value) -> bool {
    any()
        && match v {
            Value::String(s) => contains(s),
            Value::Array(items) => items.iter().any(value_contains),
            Value::Object(m) => m.iter().any(|(k, v)| contains(k) || value_contains(v)),
            _ => false,
        }
}

/// `text` with every registered secret replaced by `<redacted>`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !any() {
        return Cow::Borrowed(text);
    }
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), REDACTED));
        }
    }
    out
}

/// Scrubs a string in place.
pub fn scrub_string(s: &mut String) {
    if let Cow::Owned(clean) = scrub(s) {
        *s = clean;
    }
}

/// Scrubs every string and key inside a value, in place.
pub fn scrub_value(v: &mut Value) {
    if !any() {
        return;
    }
    match v {
        Value::String(s) => scrub_string(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(m) => {
            if m.keys().any(|k| contains(k)) {
                let old = std::mem::take(m);
                for (k, mut v) in old {
                    scrub_value(&mut v);
                    m.insert(scrub(&k).into_owned(), v);
                }
            } else {
                m.values_mut().for_each(scrub_value);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registered_values_are_scrubbed_everywhere() {
        register("taint-test-s3cr3t");
        register("taint-test-s3cr3t-longer");
        register("ab");
        assert_eq!(
            scrub("a taint-test-s3cr3t-longer and taint-test-s3cr3t."),
            "a <redacted> and <redacted>."
        );
        assert_eq!(scrub("ab stays"), "ab stays", "too short to register");
        let mut v = json!({"k": ["x taint-test-s3cr3t"], "taint-test-s3cr3t": 1});
        assert!(value_contains(&v));
        scrub_value(&mut v);
        assert_eq!(v, json!({"k": ["x <redacted>"], "<redacted>": 1}));
        assert!(contains_bytes(b"..taint-test-s3cr3t.."));
    }

    #[test]
    fn multi_line_secrets_are_scrubbed_line_by_line() {
        register("-----BEGIN taint test-----\nline-one-of-key\n-----END taint test-----\n");
        assert_eq!(scrub("+line-one-of-key"), "+<redacted>");
    }
}
