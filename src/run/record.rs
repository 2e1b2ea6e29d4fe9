//! Recording an apply in the state store: task results, the write-ahead undo
//! journal around every change, and handler notifications that must survive
//! a run that dies before its handlers ran.

use crate::connection::ConnSpec;
use crate::modules::Change;
use crate::modules::target::Target;
use crate::rollback::record::{UndoRecord, confirmed_after, undo_record};
use crate::state::{PendingHandler, RunId, StateStore, TaskRecord, UndoEntry, UndoState};
use std::fmt;
use std::sync::{Arc, Mutex};

pub struct Recorder {
    pub store: Arc<dyn StateStore>,
    pub run: RunId,
    /// The inventory key the run (and its lock and pending handlers) belongs to.
    pub inventory: String,
    /// Notifications earlier runs left behind, loaded when the run starts.
    pending: Vec<PendingHandler>,
    /// The first error recording a result (not a change) hit, reported once.
    warned: Mutex<bool>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recorder(run {} in {})", self.run, self.store.describe())
    }
}

/// A journaled change waiting for its outcome.
pub struct Ticket {
    id: i64,
    record: UndoRecord,
    blobs: Vec<String>,
}

/// Who made a change, for the journal.
pub struct ChangeContext<'a> {
    pub host: &'a str,
    pub task: &'a str,
    pub location: &'a str,
    pub conn: ConnSpec,
    pub become_user: Option<String>,
}

impl Recorder {
    pub fn new(
        store: Arc<dyn StateStore>,
        run: RunId,
        inventory: String,
    ) -> Result<Recorder, crate::state::StateError> {
        let pending = store.pending_handlers(&inventory)?;
        Ok(Recorder {
            store,
            run,
            inventory,
            pending,
            warned: Mutex::new(false),
        })
    }

    /// Journals the undo record of `change` durably, before it is applied.
    /// An error here means the change must not be made.
    pub fn journal(
        &self,
        cx: ChangeContext<'_>,
        change: &Change,
    ) -> Result<Option<Ticket>, String> {
        let fail = |e: crate::state::StateError| {
            format!("cannot journal the change in the state store, so it was not made: {e}")
        };
        let Some((record, blobs)) =
            undo_record(change, cx.conn, cx.become_user, self.store.as_ref()).map_err(fail)?
        else {
            return Ok(None);
        };
        let entry = UndoEntry {
            id: 0,
            run: self.run,
            seq: 0,
            host: cx.host.to_string(),
            task: cx.task.to_string(),
            location: cx.location.to_string(),
            summary: change.summary.clone(),
            undo: serde_json::to_value(&record).expect("undo records serialize"),
            blobs: blobs.clone(),
            state: UndoState::Pending,
        };
        let id = self.store.journal_undo(&entry).map_err(fail)?;
        Ok(Some(Ticket { id, record, blobs }))
    }

    /// Marks a journaled change made (with what it left on the host) or failed.
    pub fn confirm(&self, ticket: Ticket, change: &Change, applied: bool, t: &mut Target<'_>) {
        let Ticket {
            id,
            mut record,
            mut blobs,
        } = ticket;
        if applied {
            let mut observed = Vec::new();
            for (path, _) in &change.after {
                if let Ok(st) = t.stat(path, false) {
                    observed.push((path.clone(), st));
                }
            }
            match confirmed_after(change, &observed, self.store.as_ref(), &mut blobs) {
                Ok(after) => record.after = after,
                Err(e) => self.warn(&e.to_string()),
            }
        }
        let undo = serde_json::to_value(&record).expect("undo records serialize");
        if let Err(e) = self.store.finish_undo(id, applied, Some((&undo, &blobs))) {
            self.warn(&e.to_string());
        }
    }

    pub fn task(&self, rec: TaskRecord) {
        if let Err(e) = self.store.record_task(self.run, &rec) {
            self.warn(&e.to_string());
        }
    }

    /// A handler was notified: it stays pending until it has run.
    pub fn notified(&self, host: &str, handler: &str) {
        let p = PendingHandler {
            inventory: self.inventory.clone(),
            host: host.to_string(),
            handler: handler.to_string(),
            run: self.run,
        };
        if let Err(e) = self.store.add_pending_handler(&p) {
            self.warn(&e.to_string());
        }
    }

    pub fn handler_ran(&self, host: &str, handler: &str) {
        if let Err(e) = self
            .store
            .clear_pending_handler(&self.inventory, host, handler)
        {
            self.warn(&e.to_string());
        }
    }

    /// Handlers earlier runs notified on `host` and never ran: (handler, run).
    pub fn pending_for(&self, host: &str) -> Vec<(String, RunId)> {
        self.pending
            .iter()
            .filter(|p| p.host == host && p.run != self.run)
            .map(|p| (p.handler.clone(), p.run))
            .collect()
    }

    fn warn(&self, msg: &str) {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if !*warned {
            *warned = true;
            eprintln!("[WARNING]: recording the run in the state store failed: {msg}");
        }
    }
}
