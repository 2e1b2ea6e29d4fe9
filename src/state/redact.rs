//! A store wrapper that keeps secret values out of the state store: every
//! text a run writes (extra vars, task names, summaries, diffs, the undo
//! journal's summaries, lock holders) is scrubbed on the way in.
//!
//! Content blobs are the exception: a blob holding a file's prior content
//! must keep its real bytes, or a rollback could not restore the file. The
//! run recorder stores no *after* content that holds a secret (only its
//! checksum). Prior content that holds a secret is **sealed**: stored
//! vault-encrypted with the run's first vault password, behind a marker, and
//! opened again by [`StateStore::get_blob`] with the rollback's passwords.
//! Without a vault password (secrets only from `password` lookups) it is
//! stored as it was on the host.

use super::*;
use crate::vault::taint::{scrub, scrub_string, scrub_value};
use std::sync::Arc;

pub struct Redacting(pub Arc<dyn StateStore>);

/// Scrubs the texts of an undo record's JSON that are meant for people
/// (`summary`, `why`), leaving what a rollback acts on (paths, arguments).
fn scrub_undo(undo: &mut serde_json::Value) {
    if let Some(action) = undo.get_mut("action").and_then(|a| a.as_object_mut()) {
        for key in ["summary", "why"] {
            if let Some(v) = action.get_mut(key) {
                scrub_value(v);
            }
        }
    }
}

/// The key of a sealed argument value: `{"$sealed": "<vault text>"}`.
const SEALED_ARG: &str = "$sealed";

/// The arguments of an undo record's module task, if it has one.
fn undo_args(
    undo: &mut serde_json::Value,
) -> Option<&mut serde_json::Map<String, serde_json::Value>> {
    undo.get_mut("action")?.get_mut("args")?.as_object_mut()
}

/// Seals the secret values among an undo record's arguments (the inverse
/// task of a migration needs its login password), as blobs are sealed: with
/// the run's vault password, or kept as they are without one.
fn seal_undo_args(undo: &mut serde_json::Value) -> Result<(), StateError> {
    let keyring = crate::vault::keyring();
    if keyring.is_empty() {
        return Ok(());
    }
    let Some(args) = undo_args(undo) else {
        return Ok(());
    };
    for v in args.values_mut() {
        if let serde_json::Value::String(text) = v
            && crate::vault::taint::contains(text)
        {
            let sealed = keyring
                .encrypt(text.as_bytes(), None)
                .map_err(|e| StateError::Sealed(e.to_string()))?;
            *v = serde_json::json!({ SEALED_ARG: sealed });
        }
    }
    Ok(())
}

/// Opens the sealed arguments of an undo record with the run's vault passwords.
fn unseal_undo_args(entry: &mut UndoEntry) {
    let Some(args) = undo_args(&mut entry.undo) else {
        return;
    };
    for (key, v) in args.iter_mut() {
        let Some(text) = v.get(SEALED_ARG).and_then(|t| t.as_str()) else {
            continue;
        };
        // Without the right vault password it stays sealed: reading the
        // journal still works, and a rollback that needs it says so.
        let Ok(plain) = crate::vault::keyring().decrypt(
            text,
            &format!("argument {key} of journal entry {}", entry.id),
        ) else {
            continue;
        };
        let Ok(plain) = String::from_utf8(plain) else {
            continue;
        };
        // Secret again in this run: kept out of what it prints and stores.
        crate::vault::taint::register(&plain);
        *v = serde_json::Value::String(plain);
    }
}

/// Whether an undo argument is still sealed (no vault password opened it).
pub fn is_sealed_arg(v: &serde_json::Value) -> bool {
    v.get(SEALED_ARG).is_some()
}

/// What a sealed blob starts with, followed by vault text.
pub const SEALED: &[u8] = b"$TBUDDY_SEALED;1\n";

/// `content` vault-encrypted behind [`SEALED`], when it holds a secret and
/// the run has a vault password.
fn seal(content: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
    let keyring = crate::vault::keyring();
    if keyring.is_empty() || !crate::vault::taint::contains_bytes(content) {
        return Ok(None);
    }
    let text = keyring
        .encrypt(content, None)
        .map_err(|e| StateError::Sealed(e.to_string()))?;
    let mut out = SEALED.to_vec();
    out.extend_from_slice(text.as_bytes());
    Ok(Some(out))
}

fn unseal(sha256: &str, text: &[u8]) -> Result<Vec<u8>, StateError> {
    let text = String::from_utf8_lossy(text);
    crate::vault::keyring()
        .decrypt(&text, &format!("blob {sha256}"))
        .map_err(|e| StateError::Sealed(e.to_string()))
}

impl StateStore for Redacting {
    fn begin_run(&self, meta: &RunMeta) -> Result<RunId, StateError> {
        let mut meta = meta.clone();
        scrub_value(&mut meta.extra_vars);
        scrub_string(&mut meta.playbook);
        if let Some(limit) = &mut meta.limit {
            scrub_string(limit);
        }
        self.0.begin_run(&meta)
    }
    fn finish_run(&self, run: RunId, ok: bool) -> Result<(), StateError> {
        self.0.finish_run(run, ok)
    }
    fn record_task(&self, run: RunId, rec: &TaskRecord) -> Result<(), StateError> {
        let mut rec = rec.clone();
        scrub_string(&mut rec.task);
        for s in [&mut rec.summary, &mut rec.diff].into_iter().flatten() {
            scrub_string(s);
        }
        self.0.record_task(run, &rec)
    }
    fn journal_undo(&self, entry: &UndoEntry) -> Result<i64, StateError> {
        let mut entry = entry.clone();
        scrub_string(&mut entry.task);
        scrub_string(&mut entry.summary);
        scrub_undo(&mut entry.undo);
        seal_undo_args(&mut entry.undo)?;
        self.0.journal_undo(&entry)
    }
    fn finish_undo(
        &self,
        id: i64,
        done: bool,
        confirmed: Option<(&serde_json::Value, &[String])>,
    ) -> Result<(), StateError> {
        match confirmed {
            Some((undo, blobs)) => {
                let mut undo = undo.clone();
                scrub_undo(&mut undo);
                seal_undo_args(&mut undo)?;
                self.0.finish_undo(id, done, Some((&undo, blobs)))
            }
            None => self.0.finish_undo(id, done, None),
        }
    }
    fn put_blob(&self, content: &[u8]) -> Result<String, StateError> {
        match seal(content)? {
            Some(sealed) => self.0.put_blob(&sealed),
            None => self.0.put_blob(content),
        }
    }
    fn get_blob(&self, sha256: &str) -> Result<Vec<u8>, StateError> {
        let data = self.0.get_blob(sha256)?;
        match data.strip_prefix(SEALED) {
            Some(text) => unseal(sha256, text),
            None => Ok(data),
        }
    }
    fn runs(&self, limit: usize) -> Result<Vec<RunSummary>, StateError> {
        self.0.runs(limit)
    }
    fn run(&self, run: RunId) -> Result<RunDetail, StateError> {
        let mut detail = self.0.run(run)?;
        detail.undo.iter_mut().for_each(unseal_undo_args);
        Ok(detail)
    }
    fn last_run(
        &self,
        inventory: &str,
        kind_apply_only: bool,
    ) -> Result<Option<RunId>, StateError> {
        self.0.last_run(inventory, kind_apply_only)
    }
    fn undo_entries(&self, run: RunId) -> Result<Vec<UndoEntry>, StateError> {
        let mut entries = self.0.undo_entries(run)?;
        entries.iter_mut().for_each(unseal_undo_args);
        Ok(entries)
    }
    fn rollbacks_of(&self, run: RunId) -> Result<Vec<RunId>, StateError> {
        self.0.rollbacks_of(run)
    }
    fn add_pending_handler(&self, p: &PendingHandler) -> Result<(), StateError> {
        self.0.add_pending_handler(p)
    }
    fn clear_pending_handler(
        &self,
        inventory: &str,
        host: &str,
        handler: &str,
    ) -> Result<(), StateError> {
        self.0.clear_pending_handler(inventory, host, handler)
    }
    fn pending_handlers(&self, inventory: &str) -> Result<Vec<PendingHandler>, StateError> {
        self.0.pending_handlers(inventory)
    }
    fn lock(&self, inventory: &str, holder: &LockHolder) -> Result<Box<dyn LockGuard>, StateError> {
        let mut holder = holder.clone();
        holder.command = scrub(&holder.command).into_owned();
        self.0.lock(inventory, &holder)
    }
    fn force_unlock(&self, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        self.0.force_unlock(inventory)
    }
    fn set_lock_run(&self, inventory: &str, run: RunId) -> Result<(), StateError> {
        self.0.set_lock_run(inventory, run)
    }
    fn lock_holder(&self, inventory: &str) -> Result<Option<LockHolder>, StateError> {
        self.0.lock_holder(inventory)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }

    // Ledger entries hold table names, counts and targets without passwords.
    fn ledger_get(&self, key: &str) -> Result<Option<super::LedgerEntry>, StateError> {
        self.0.ledger_get(key)
    }

    fn ledger_put(&self, entry: &super::LedgerEntry) -> Result<(), StateError> {
        self.0.ledger_put(entry)
    }

    fn ledger_remove(&self, key: &str) -> Result<bool, StateError> {
        self.0.ledger_remove(key)
    }
}
