//! The undo record kept in the state store for every change: how to reach the
//! host again, what to put back, and what the change left behind (so that a
//! rollback can tell whether someone changed the path since).

use crate::connection::ConnSpec;
use crate::modules::target::{FileKind, FileState, PriorFile};
use crate::modules::{Change, Undo};
use crate::state::{StateError, StateStore};
use serde::{Deserialize, Serialize};

/// Stored as the opaque `undo` JSON of a journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoRecord {
    pub conn: ConnSpec,
    /// The user the change was made as (sudo), if not the login user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub become_user: Option<String>,
    pub action: UndoAction,
    /// The state of each touched path right after the change was applied;
    /// empty until the apply is confirmed.
    #[serde(default)]
    pub after: Vec<PathState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum UndoAction {
    /// The path did not exist before: undo removes it.
    Remove { path: String },
    /// The path existed: undo puts this state back.
    Restore { prior: PathState },
    /// Run this module task (the inverse of the change).
    Invoke {
        module: String,
        args: serde_json::Map<String, serde_json::Value>,
        summary: String,
    },
    /// Run this module task again after the host's other undo steps (a
    /// restart that must see the restored configuration).
    Replay {
        module: String,
        args: serde_json::Map<String, serde_json::Value>,
        summary: String,
    },
    /// No safe undo; rollback refuses unless forced.
    Irreversible { why: String },
}

/// A path's state as far as undo and drift detection care.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathState {
    pub path: String,
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    /// sha256 of the content in the store's blobs, when it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_blob: Option<String>,
    /// A copy kept on the host itself (content too large for the store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_path: Option<String>,
}

impl PathState {
    pub fn from_state(path: &str, st: &FileState) -> PathState {
        PathState {
            path: path.to_string(),
            kind: st.kind,
            mode: st.mode,
            owner: st.owner.clone(),
            group: st.group.clone(),
            sha1: st.sha1.clone().filter(|_| st.kind == FileKind::File),
            link_target: st.link_target.clone(),
            content_blob: None,
            backup_path: None,
        }
    }

    fn from_prior(path: &str, prior: &PriorFile) -> PathState {
        PathState {
            path: path.to_string(),
            kind: prior.kind,
            mode: prior.mode,
            owner: prior.owner.clone(),
            group: prior.group.clone(),
            sha1: prior.sha1.clone().filter(|_| prior.kind == FileKind::File),
            link_target: prior.link_target.clone(),
            content_blob: None,
            backup_path: prior.backup_path.clone(),
        }
    }

    /// How `current` differs from this state, one phrase per difference
    /// (empty: the same). Modes of symlinks mean nothing and are ignored.
    pub fn differences(&self, current: &FileState) -> Vec<String> {
        let mut out = Vec::new();
        if current.kind != self.kind {
            out.push(format!(
                "is {} (expected {})",
                kind_name(current.kind),
                kind_name(self.kind)
            ));
            return out;
        }
        if self.kind == FileKind::Absent {
            return out;
        }
        if self.kind == FileKind::File && self.sha1.is_some() && current.sha1 != self.sha1 {
            out.push("content differs".into());
        }
        if self.kind == FileKind::Link && current.link_target != self.link_target {
            out.push(format!(
                "points to {} (expected {})",
                current.link_target.as_deref().unwrap_or("?"),
                self.link_target.as_deref().unwrap_or("?")
            ));
        }
        if self.kind != FileKind::Link && current.mode != self.mode {
            out.push(format!(
                "mode {:04o} (expected {:04o})",
                current.mode, self.mode
            ));
        }
        if !self.owner.is_empty() && current.owner != self.owner {
            out.push(format!("owner {} (expected {})", current.owner, self.owner));
        }
        if !self.group.is_empty() && current.group != self.group {
            out.push(format!("group {} (expected {})", current.group, self.group));
        }
        out
    }
}

pub fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Absent => "absent",
        FileKind::File => "a file",
        FileKind::Directory => "a directory",
        FileKind::Link => "a symlink",
        FileKind::Other => "a special file",
    }
}

/// The record to journal before `change` is applied, with the prior content
/// moved into the store's blobs. None: the change needs no undo (it only
/// touches the run's variables).
pub fn undo_record(
    change: &Change,
    conn: ConnSpec,
    become_user: Option<String>,
    store: &dyn StateStore,
) -> Result<Option<(UndoRecord, Vec<String>)>, StateError> {
    let mut blobs = Vec::new();
    let action = match &change.undo {
        Undo::Nothing => return Ok(None),
        Undo::Irreversible(why) => UndoAction::Irreversible { why: why.clone() },
        Undo::Create { path } => UndoAction::Remove { path: path.clone() },
        Undo::Invoke {
            module,
            args,
            summary,
        } => UndoAction::Invoke {
            module: module.clone(),
            args: args.clone(),
            summary: summary.clone(),
        },
        Undo::Replay {
            module,
            args,
            summary,
        } => UndoAction::Replay {
            module: module.clone(),
            args: args.clone(),
            summary: summary.clone(),
        },
        Undo::Restore { path, prior } => {
            let mut state = PathState::from_prior(path, prior);
            if let Some(content) = &prior.content
                && prior.kind == FileKind::File
            {
                let hash = store.put_blob(content)?;
                blobs.push(hash.clone());
                state.content_blob = Some(hash);
            }
            UndoAction::Restore { prior: state }
        }
    };
    Ok(Some((
        UndoRecord {
            conn,
            become_user,
            action,
            after: Vec::new(),
        },
        blobs,
    )))
}

/// The after-states of a confirmed change: what the host showed right after
/// it (`observed`), with the planned content kept when it is what landed, so
/// that a later drift report can show a diff.
pub fn confirmed_after(
    change: &Change,
    observed: &[(String, FileState)],
    store: &dyn StateStore,
    blobs: &mut Vec<String>,
) -> Result<Vec<PathState>, StateError> {
    let mut out = Vec::new();
    for (path, st) in observed {
        let mut state = PathState::from_state(path, st);
        if let Some((_, planned)) = change.after.iter().find(|(p, _)| p == path)
            && let Some(content) = &planned.content
            && st.kind == FileKind::File
            && planned.sha1.is_some()
            && planned.sha1 == st.sha1
            // Content holding a secret is kept only as its checksum.
            && !crate::vault::taint::contains_bytes(content)
        {
            let hash = store.put_blob(content)?;
            blobs.push(hash.clone());
            state.content_blob = Some(hash);
        }
        out.push(state);
    }
    Ok(out)
}
