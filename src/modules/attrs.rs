//! The `mode`/`owner`/`group` arguments shared by file-writing modules.

use super::mode::{self, ModeSpec};
use super::target::FileState;
use super::{Args, ModResult, ModuleError, argx};

#[derive(Debug, Clone, Default)]
pub struct Attrs {
    pub mode: Option<ModeSpec>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

/// What must change on an existing path to match the wanted attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrChange {
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
}

impl AttrChange {
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = self.mode {
            parts.push(format!("mode {}", mode::format_mode(m)));
        }
        if let Some(o) = &self.owner {
            parts.push(format!("owner {o}"));
        }
        if let Some(g) = &self.group {
            parts.push(format!("group {g}"));
        }
        parts.join(", ")
    }
}

impl Attrs {
    pub fn from_args(args: &Args) -> ModResult<Attrs> {
        let mode = match args.get("mode") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(mode::parse(v).map_err(ModuleError::new)?),
        };
        Ok(Attrs {
            mode,
            owner: argx::string(args, "owner")?,
            group: argx::string(args, "group")?,
        })
    }

    /// The explicit mode for a new path, if one was asked for.
    pub fn mode_for_new(&self, is_dir: bool, source_mode: Option<u32>) -> ModResult<Option<u32>> {
        match &self.mode {
            None => Ok(None),
            Some(spec) => mode::resolve(spec, None, is_dir, source_mode)
                .map(Some)
                .map_err(ModuleError::new),
        }
    }

    /// Differences between `st` (an existing path) and the wanted attributes.
    pub fn changes(&self, st: &FileState, source_mode: Option<u32>) -> ModResult<AttrChange> {
        let is_dir = st.kind == super::FileKind::Directory;
        let mut ch = AttrChange::default();
        if let Some(spec) = &self.mode {
            let want = mode::resolve(spec, Some(st.mode), is_dir, source_mode)
                .map_err(ModuleError::new)?;
            if want != st.mode {
                ch.mode = Some(want);
            }
        }
        if let Some(o) = &self.owner
            && o != &st.owner
            && o != &st.uid.to_string()
        {
            ch.owner = Some(o.clone());
        }
        if let Some(g) = &self.group
            && g != &st.group
            && g != &st.gid.to_string()
        {
            ch.group = Some(g.clone());
        }
        Ok(ch)
    }
}
