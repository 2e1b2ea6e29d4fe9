//! The host as modules see it: shell commands plus the file operations every
//! file-writing module needs, each done in one round trip.

use super::{ModResult, ModuleError};
use crate::connection::{Become, ConnError, Connection, Exec, Output, sh_quote};
use serde::{Deserialize, Serialize};

/// Files larger than this are compared by checksum only, never read back for diffs.
pub const MAX_DIFF_BYTES: u64 = 1 << 20;

pub struct Target<'a> {
    pub conn: &'a mut dyn Connection,
    pub become_as: Option<Become>,
    pub env: Vec<(String, String)>,
    /// In a plan: states earlier planned changes will leave, seen instead of the host's.
    pub planned: Option<&'a Planned>,
    /// In a plan being saved: the fingerprint of every path state observed on
    /// the host, so that applying the saved plan can tell whether it drifted.
    pub seen: Option<&'a mut Observed>,
}

/// Path → fingerprint of its observed state.
pub type Observed = std::collections::BTreeMap<String, String>;

/// Predicted path states of planned (not yet made) changes on one host.
pub type Planned = std::collections::HashMap<String, FileState>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    Absent,
    File,
    Directory,
    Link,
    Other,
}

/// What `stat` saw at a path (not following a final symlink).
#[derive(Debug, Clone)]
pub struct FileState {
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: f64,
    pub link_target: Option<String>,
    pub sha1: Option<String>,
    /// The content, when asked for and not larger than `MAX_DIFF_BYTES`.
    pub content: Option<Vec<u8>>,
}

impl FileState {
    pub fn absent() -> FileState {
        FileState {
            kind: FileKind::Absent,
            mode: 0,
            owner: String::new(),
            group: String::new(),
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0.0,
            link_target: None,
            sha1: None,
            content: None,
        }
    }

    /// The state a planned change will leave: `kind` with these attributes.
    /// Unknown owners stay as they were (or empty for new paths).
    pub fn planned(
        prior: &FileState,
        kind: FileKind,
        mode: Option<u32>,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> FileState {
        let default_mode = if kind == FileKind::Directory {
            0o755
        } else {
            0o644
        };
        FileState {
            kind,
            mode: mode.unwrap_or(if prior.exists() {
                prior.mode
            } else {
                default_mode
            }),
            owner: owner
                .map(String::from)
                .unwrap_or_else(|| prior.owner.clone()),
            group: group
                .map(String::from)
                .unwrap_or_else(|| prior.group.clone()),
            ..FileState::absent()
        }
    }

    /// A planned regular file with this content.
    pub fn with_content(mut self, data: &[u8]) -> FileState {
        self.size = data.len() as u64;
        self.sha1 = Some(sha1_hex(data));
        self.content = Some(data.to_vec());
        self
    }

    pub fn exists(&self) -> bool {
        self.kind != FileKind::Absent
    }

    /// What identifies this state for drift checks (not the access times).
    pub fn fingerprint(&self) -> String {
        match self.kind {
            FileKind::Absent => "absent".into(),
            FileKind::Link => format!(
                "link -> {} {}:{}",
                self.link_target.as_deref().unwrap_or(""),
                self.owner,
                self.group
            ),
            kind => format!(
                "{} {:04o} {}:{} {}",
                match kind {
                    FileKind::File => "file",
                    FileKind::Directory => "dir",
                    _ => "other",
                },
                self.mode,
                self.owner,
                self.group,
                self.sha1.as_deref().unwrap_or("-")
            ),
        }
    }

    pub fn content_str(&self) -> String {
        self.content
            .as_deref()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .unwrap_or_default()
    }

    /// The record of this state that undo needs.
    pub fn prior(&self) -> PriorFile {
        PriorFile {
            kind: self.kind,
            mode: self.mode,
            owner: self.owner.clone(),
            group: self.group.clone(),
            sha1: self.sha1.clone(),
            content: self.content.clone(),
            link_target: self.link_target.clone(),
        }
    }
}

/// A file's prior state as kept for undo.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorFile {
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub sha1: Option<String>,
    pub content: Option<Vec<u8>>,
    pub link_target: Option<String>,
}

impl Target<'_> {
    pub fn exec(&mut self, script: &str, stdin: Option<&[u8]>) -> ModResult<Output> {
        let req = Exec {
            script,
            stdin,
            become_as: self.become_as.as_ref(),
            env: &self.env,
        };
        self.conn.exec(&req).map_err(|e| match e {
            ConnError::Unreachable(m) => ModuleError {
                unreachable: true,
                ..ModuleError::new(m)
            },
            ConnError::Failed(m) => ModuleError::new(m),
        })
    }

    /// Runs a script that must succeed; a non-zero exit becomes a module failure.
    pub fn run_ok(&mut self, script: &str, stdin: Option<&[u8]>) -> ModResult<Output> {
        let out = self.exec(script, stdin)?;
        if out.rc != 0 {
            let err = out.stderr_str();
            let msg = if err.trim().is_empty() {
                format!("command failed with exit code {}", out.rc)
            } else {
                err.trim().to_string()
            };
            return Err(ModuleError::new(msg).with("rc", out.rc));
        }
        Ok(out)
    }

    /// Stats `path` (without following a final symlink); with `content`, also
    /// reads regular files up to `MAX_DIFF_BYTES`.
    pub fn stat(&mut self, path: &str, content: bool) -> ModResult<FileState> {
        if let Some(st) = self.planned.and_then(|p| p.get(path)) {
            return Ok(st.clone());
        }
        let p = sh_quote(path);
        let read = if content {
            format!(
                r#"if [ -f {p} ] && [ ! -L {p} ] && [ "$(stat -c %s -- {p})" -le {MAX_DIFF_BYTES} ]; then cat -- {p}; fi"#
            )
        } else {
            String::new()
        };
        let script = format!(
            r#"if [ ! -e {p} ] && [ ! -L {p} ]; then echo absent; exit 0; fi
stat -c '%F/%a/%U/%G/%u/%g/%s/%Y' -- {p} | tr -d '\n'
printf '/'
if [ -f {p} ] && [ ! -L {p} ] && [ -r {p} ]; then sha1sum < {p} | cut -c1-40 | tr -d '\n'; fi
printf '/'
if [ -L {p} ]; then readlink -- {p} | tr -d '\n'; fi
echo
{read}"#
        );
        let out = self.run_ok(&script, None)?;
        let st = parse_stat(&out.stdout, content)
            .ok_or_else(|| ModuleError::new(format!("could not read the state of {path}")))?;
        if let Some(seen) = self.seen.as_deref_mut() {
            seen.entry(path.to_string())
                .or_insert_with(|| st.fingerprint());
        }
        Ok(st)
    }

    /// Writes `data` to `path` atomically: a temp file in the same directory,
    /// attributes set on it, then renamed over the destination. Without an
    /// explicit mode/owner an existing file keeps its own.
    pub fn write_file(
        &mut self,
        path: &str,
        data: &[u8],
        mode: Option<u32>,
        owner: Option<&str>,
        group: Option<&str>,
    ) -> ModResult<()> {
        let p = sh_quote(path);
        let mut script = format!(
            r#"d=$(dirname -- {p}); [ -d "$d" ] || {{ echo "Destination directory $d does not exist" >&2; exit 1; }}
t=$(mktemp "$d/.tbuddy-tmp.XXXXXX") || exit 1
trap 'rm -f "$t"' EXIT
cat > "$t" || exit 1
if [ -e {p} ]; then chmod --reference={p} "$t"; chown --reference={p} "$t" 2>/dev/null; else chmod "$(printf %o $((0666 & ~$(umask))))" "$t"; fi
"#
        );
        if let Some(m) = mode {
            script.push_str(&format!("chmod {:o} \"$t\" || exit 1\n", m));
        }
        if let Some(spec) = owner_spec(owner, group) {
            script.push_str(&format!("chown {} \"$t\" || exit 1\n", sh_quote(&spec)));
        }
        script.push_str(&format!("mv -f \"$t\" {p} || exit 1\ntrap - EXIT\n"));
        self.run_ok(&script, Some(data)).map(|_| ())
    }

    /// Sets mode and ownership of an existing path.
    pub fn set_attrs(
        &mut self,
        path: &str,
        mode: Option<u32>,
        owner: Option<&str>,
        group: Option<&str>,
        recurse: bool,
    ) -> ModResult<()> {
        let p = sh_quote(path);
        let r = if recurse { "-R " } else { "" };
        let mut script = String::new();
        if let Some(spec) = owner_spec(owner, group) {
            script.push_str(&format!(
                "chown -h {r}{} -- {p} || exit 1\n",
                sh_quote(&spec)
            ));
        }
        if let Some(m) = mode {
            script.push_str(&format!("chmod {r}{m:o} -- {p} || exit 1\n"));
        }
        if script.is_empty() {
            return Ok(());
        }
        self.run_ok(&script, None).map(|_| ())
    }
}

fn owner_spec(owner: Option<&str>, group: Option<&str>) -> Option<String> {
    match (owner, group) {
        (None, None) => None,
        (Some(o), None) => Some(o.to_string()),
        (None, Some(g)) => Some(format!(":{g}")),
        (Some(o), Some(g)) => Some(format!("{o}:{g}")),
    }
}

fn parse_stat(out: &[u8], with_content: bool) -> Option<FileState> {
    let nl = out.iter().position(|&b| b == b'\n')?;
    let head = std::str::from_utf8(&out[..nl]).ok()?;
    if head == "absent" {
        return Some(FileState::absent());
    }
    let f: Vec<&str> = head.splitn(10, '/').collect();
    if f.len() < 10 {
        return None;
    }
    let kind = match f[0] {
        "regular file" | "regular empty file" => FileKind::File,
        "directory" => FileKind::Directory,
        "symbolic link" => FileKind::Link,
        _ => FileKind::Other,
    };
    let size: u64 = f[6].parse().ok()?;
    let rest = &out[nl + 1..];
    Some(FileState {
        kind,
        mode: u32::from_str_radix(f[1], 8).ok()?,
        owner: f[2].into(),
        group: f[3].into(),
        uid: f[4].parse().ok()?,
        gid: f[5].parse().ok()?,
        size,
        mtime: f[7].parse().ok()?,
        sha1: Some(f[8]).filter(|s| !s.is_empty()).map(String::from),
        link_target: Some(f[9]).filter(|s| !s.is_empty()).map(String::from),
        content: (with_content && kind == FileKind::File && size <= MAX_DIFF_BYTES)
            .then(|| rest.to_vec()),
    })
}

/// SHA-1 of bytes as lowercase hex, Ansible's file checksum.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_output_with_content() {
        let out = b"regular file/644/root/root/0/0/6/1700000000/abc/\nhello\n";
        let st = parse_stat(out, true).unwrap();
        assert_eq!(st.kind, FileKind::File);
        assert_eq!(st.mode, 0o644);
        assert_eq!(st.sha1.as_deref(), Some("abc"));
        assert_eq!(st.content.as_deref(), Some(&b"hello\n"[..]));
    }

    #[test]
    fn parses_absent_and_links() {
        assert_eq!(
            parse_stat(b"absent\n", true).unwrap().kind,
            FileKind::Absent
        );
        let st = parse_stat(b"symbolic link/777/root/root/0/0/4/1///x/y\n", false).unwrap();
        assert_eq!(st.kind, FileKind::Link);
        assert_eq!(st.link_target.as_deref(), Some("/x/y"));
    }

    #[test]
    fn sha1_matches_known_value() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
