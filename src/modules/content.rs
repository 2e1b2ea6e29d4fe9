//! `copy` and `template`: put known bytes at a destination path.
//!
//! Small content (inline, rendered templates, `src` files up to `MAX_DIFF_BYTES`) is held
//! in memory and diffed as text. A larger `src` file is never read whole: its SHA-1 is
//! computed by streaming, `observe` compares it with the target's `sha1sum`, and `apply`
//! streams it from disk into a temp file on the target that is renamed into place.
//!
//! A replaced file too large to record in the undo record is kept on the host instead
//! (`PriorFile::backup_path`). `lineinfile`/`blockinfile` must read and edit the whole
//! text anyway and refuse files above the limit, so they keep the content in the record.

use super::attrs::{AttrChange, Attrs};
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg};
use super::target::{FileKind, FileState, MAX_DIFF_BYTES, Put, backup_path_for, sha1_hex};
use super::{
    Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target, TextDiff,
    Undo, argx,
};
use crate::connection::Stdin;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const ATTR_ARGS: [super::spec::ArgSpec; 3] = [
    arg(
        "mode",
        Mode,
        "Permissions: octal (0644, '0644') or symbolic (u=rw,g=r,o=r).",
    ),
    arg("owner", Str, "Owner name or uid."),
    arg("group", Str, "Group name or gid."),
];

pub static COPY: ModuleSpec = ModuleSpec {
    name: "copy",
    summary: "Copy a file from the controller, or inline content, to the target",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        arg(
            "src",
            Path,
            "Controller file, searched in files/ of the role and playbook.",
        ),
        arg("content", Raw, "Inline content to write instead of src."),
        super::spec::required(
            "dest",
            Path,
            "Target path; a directory receives src's basename.",
        ),
        arg(
            "backup",
            Bool,
            "Keep a timestamped copy of the file being replaced.",
        ),
        arg(
            "force",
            Bool,
            "Replace a file whose content differs (default yes).",
        ),
        arg(
            "decrypt",
            Bool,
            "Decrypt a vault-encrypted src before copying (default yes); its content is secret.",
        ),
        ATTR_ARGS[0],
        ATTR_ARGS[1],
        ATTR_ARGS[2],
    ],
};

pub static TEMPLATE: ModuleSpec = ModuleSpec {
    name: "template",
    summary: "Render a Jinja2 template on the controller and write it to the target",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        super::spec::required(
            "src",
            Path,
            "Template file, searched in templates/ of the role and playbook.",
        ),
        super::spec::required("dest", Path, "Target path."),
        arg(
            "backup",
            Bool,
            "Keep a timestamped copy of the file being replaced.",
        ),
        arg(
            "force",
            Bool,
            "Replace a file whose content differs (default yes).",
        ),
        ATTR_ARGS[0],
        ATTR_ARGS[1],
        ATTR_ARGS[2],
    ],
};

pub struct Copy;
pub struct Template;

impl Module for Copy {
    fn spec(&self) -> &'static ModuleSpec {
        &COPY
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let dest = argx::req_string(args, "dest")?;
        let (body, src, src_mode) = match (args.get("content"), argx::string(args, "src")?) {
            (Some(_), Some(_)) => {
                return Err(ModuleError::new("src and content are mutually exclusive"));
            }
            (Some(c), None) => (Body::Bytes(content_bytes(c)), None, None),
            (None, Some(src)) => {
                let path = cx.find_file("files", &src)?;
                if path.is_dir() {
                    return Err(ModuleError::new(format!(
                        "src {src} is a directory; copy one file per task (use a loop)"
                    )));
                }
                let cannot = |e: std::io::Error| {
                    ModuleError::new(format!("cannot read {}: {e}", path.display()))
                };
                let meta = std::fs::metadata(&path).map_err(cannot)?;
                use std::os::unix::fs::PermissionsExt;
                let mode = Some(meta.permissions().mode() & 0o7777);
                let decrypt = argx::boolean(args, "decrypt", true)?;
                let body = if meta.len() <= MAX_DIFF_BYTES {
                    let data = std::fs::read(&path).map_err(cannot)?;
                    Body::Bytes(if decrypt {
                        open_vault_src(data, &path)?
                    } else {
                        data
                    })
                } else {
                    if decrypt && starts_as_vault(&path) {
                        return Err(ModuleError::new(format!(
                            "{}: vault-encrypted sources over 1 MiB are not supported",
                            path.display()
                        )));
                    }
                    let (sha1, size) = file_sha1(&path).map_err(cannot)?;
                    Body::File { path, size, sha1 }
                };
                (body, Some(src), mode)
            }
            (None, None) => return Err(ModuleError::new("src (or content) is required")),
        };
        if src.is_none() && dest.ends_with('/') {
            return Err(ModuleError::new("can not use content with a dir as dest"));
        }
        Ok(Box::new(PutFile::new(args, dest, body, src, src_mode)?))
    }
}

fn starts_as_vault(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 64];
    std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .is_ok_and(|n| crate::vault::format::is_vault(&head[..n]))
}

/// A vault-encrypted copy source, decrypted (its text becomes secret).
fn open_vault_src(data: Vec<u8>, path: &std::path::Path) -> ModResult<Vec<u8>> {
    if !crate::vault::format::is_vault(&data) {
        return Ok(data);
    }
    let text = String::from_utf8_lossy(&data);
    let plain = crate::vault::keyring()
        .decrypt(&text, &path.display().to_string())
        .map_err(|e| ModuleError::new(e.to_string()))?;
    crate::vault::taint::register(&String::from_utf8_lossy(&plain));
    Ok(plain)
}

impl Module for Template {
    fn spec(&self) -> &'static ModuleSpec {
        &TEMPLATE
    }

    fn validate(&self, args: &Args, cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let src = argx::req_string(args, "src")?;
        let dest = argx::req_string(args, "dest")?;
        let path = cx.find_file("templates", &src)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ModuleError::new(format!("cannot read template {}: {e}", path.display()))
        })?;
        let rendered = cx
            .eval
            .render_text(&text, &path.display().to_string())
            .map_err(ModuleError::new)?;
        Ok(Box::new(PutFile::new(
            args,
            dest,
            Body::Bytes(rendered.into_bytes()),
            Some(src),
            None,
        )?))
    }
}

/// Content given as data is written the way Ansible does: strings as-is,
/// scalars as Python prints them, lists and dicts as JSON.
fn content_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        Value::Null => b"None".to_vec(),
        Value::Number(n) => n.to_string().into_bytes(),
        other => crate::template::filters::python_json(other).into_bytes(),
    }
}

/// The bytes to put.
enum Body {
    Bytes(Vec<u8>),
    /// A controller file above `MAX_DIFF_BYTES`, streamed from disk at apply.
    File {
        path: PathBuf,
        size: u64,
        sha1: String,
    },
}

impl Body {
    fn size(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File { size, .. } => *size,
        }
    }

    /// The bytes, when held in memory.
    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(b) => Some(b),
            Body::File { .. } => None,
        }
    }
}

struct PutFile {
    dest: String,
    body: Body,
    checksum: String,
    src: Option<String>,
    src_mode: Option<u32>,
    attrs: Attrs,
    backup: bool,
    force: bool,
    observed: Option<FileState>,
    /// When observe ran: names the backup of a large replaced file.
    observed_at: SystemTime,
    backup_file: Option<String>,
}

impl PutFile {
    fn new(
        args: &Args,
        dest: String,
        body: Body,
        src: Option<String>,
        src_mode: Option<u32>,
    ) -> ModResult<Self> {
        Ok(PutFile {
            checksum: match &body {
                Body::Bytes(b) => sha1_hex(b),
                Body::File { sha1, .. } => sha1.clone(),
            },
            dest,
            body,
            src,
            src_mode,
            attrs: Attrs::from_args(args)?,
            backup: argx::boolean(args, "backup", false)?,
            force: argx::boolean(args, "force", true)?,
            observed: None,
            observed_at: SystemTime::UNIX_EPOCH,
            backup_file: None,
        })
    }

    fn observed(&self) -> &FileState {
        self.observed.as_ref().expect("observe runs before diff")
    }

    fn attr_change(&self) -> ModResult<AttrChange> {
        self.attrs.changes(self.observed(), self.src_mode)
    }

    /// The planned state of a file with the new content.
    fn with_new_content(&self, planned: FileState) -> FileState {
        match self.body.bytes() {
            Some(b) => planned.with_content(b),
            None => planned.with_checksum(Some(&self.checksum), self.body.size()),
        }
    }

    /// Before/after for `--diff`: the texts when both sides are small text, else a line
    /// per side with what kind of file it is, its size and its SHA-1.
    fn text_diff(&self, st: &FileState) -> TextDiff {
        let after = self.body.bytes().filter(|b| is_text(b));
        let before = match (st.exists(), st.content.as_deref()) {
            (false, _) => Some(&b""[..]),
            (true, Some(c)) if st.kind == FileKind::File && is_text(c) => Some(c),
            _ => None,
        };
        let (before, after) = match (before, after) {
            (Some(b), Some(a)) => (
                String::from_utf8_lossy(b).into_owned(),
                String::from_utf8_lossy(a).into_owned(),
            ),
            _ => (
                if st.exists() {
                    describe_file(st.content.as_deref(), st.size, st.sha1.as_deref())
                } else {
                    String::new()
                },
                describe_file(self.body.bytes(), self.body.size(), Some(&self.checksum)),
            ),
        };
        TextDiff {
            path: self.dest.clone(),
            before,
            after,
        }
    }
}

/// Whether bytes can be shown as a text diff: UTF-8 without NUL bytes.
fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
}

/// One diff line for a file shown by size and checksum (`content` when known).
fn describe_file(content: Option<&[u8]>, size: u64, sha1: Option<&str>) -> String {
    let kind = match content {
        None => "large",
        Some(c) if is_text(c) => "text",
        Some(_) => "binary",
    };
    format!(
        "[{kind} file: {size} bytes, sha1 {}]\n",
        sha1.unwrap_or("unknown")
    )
}

/// The SHA-1 and size of a controller file, read in chunks. Remembered per file version
/// (device, inode, size, mtime, ctime), so a fleet copying one large file hashes it once.
fn file_sha1(path: &Path) -> std::io::Result<(String, u64)> {
    use sha1::{Digest, Sha1};
    use std::collections::HashMap;
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;
    type Key = (u64, u64, u64, i64, i64, i64, i64);
    static SEEN: Mutex<Option<HashMap<Key, String>>> = Mutex::new(None);
    let key = |m: &std::fs::Metadata| -> Key {
        (
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        )
    };
    let mut f = std::fs::File::open(path)?;
    let before = key(&f.metadata()?);
    if let Some(sum) = SEEN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .and_then(|m| m.get(&before))
    {
        return Ok((sum.clone(), before.2));
    }
    let mut h = Sha1::new();
    let mut buf = vec![0u8; crate::connection::STREAM_CHUNK];
    let mut size = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let sum: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let after = key(&f.metadata()?);
    if after == before && size == before.2 {
        SEEN.lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(HashMap::new)
            .insert(before, sum.clone());
    }
    Ok((sum, size))
}

impl Action for PutFile {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        self.observed_at = SystemTime::now();
        let mut st = t.stat(&self.dest, true)?;
        if st.kind == FileKind::Directory || self.dest.ends_with('/') {
            // Copying into a directory keeps the source's file name.
            let name = self
                .src
                .as_deref()
                .and_then(|s| std::path::Path::new(s).file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| ModuleError::new(format!("{} is a directory", self.dest)))?;
            self.dest = format!("{}/{name}", self.dest.trim_end_matches('/'));
            st = t.stat(&self.dest, true)?;
        }
        if st.kind == FileKind::Directory {
            return Err(ModuleError::new(format!("{} is a directory", self.dest)));
        }
        self.observed = Some(st);
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let st = self.observed();
        if !st.exists() {
            let mode = self.attrs.mode_for_new(false, self.src_mode)?;
            let mode_note = mode.map(|m| format!(" ({})", super::mode::format_mode(m)));
            let planned = self.with_new_content(FileState::planned(
                st,
                FileKind::File,
                mode,
                self.attrs.owner.as_deref(),
                self.attrs.group.as_deref(),
            ));
            return Ok(Some(Change {
                summary: format!("create {}{}", self.dest, mode_note.unwrap_or_default()),
                diff: Some(self.text_diff(st)),
                undo: Undo::Create {
                    path: self.dest.clone(),
                },
                predictable: true,
                after: vec![(self.dest.clone(), planned)],
            }));
        }
        let content_differs = st.sha1.as_deref() != Some(self.checksum.as_str()) && self.force;
        let attrs = self.attr_change()?;
        if !content_differs && attrs.is_empty() {
            return Ok(None);
        }
        let mut what = Vec::new();
        if content_differs {
            what.push("content".to_string());
        }
        if !attrs.is_empty() {
            what.push(attrs.describe());
        }
        let planned = FileState::planned(
            st,
            FileKind::File,
            attrs.mode,
            attrs.owner.as_deref(),
            attrs.group.as_deref(),
        );
        let planned = if content_differs {
            self.with_new_content(planned)
        } else if let Some(c) = st.content.as_deref() {
            planned.with_content(c)
        } else {
            planned.with_checksum(st.sha1.as_deref(), st.size)
        };
        let mut prior = st.prior();
        if content_differs && st.kind == FileKind::File && prior.content.is_none() {
            // Too large to record: apply keeps the file on the host instead.
            prior.backup_path = Some(backup_path_for(&self.dest, self.observed_at));
        }
        Ok(Some(Change {
            summary: format!("update {} ({})", self.dest, what.join("; ")),
            diff: content_differs.then(|| self.text_diff(st)),
            undo: Undo::Restore {
                path: self.dest.clone(),
                prior,
            },
            predictable: true,
            after: vec![(self.dest.clone(), planned)],
        }))
    }

    fn apply(&mut self, change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let st = self.observed().clone();
        let attrs = if st.exists() {
            self.attr_change()?
        } else {
            AttrChange {
                mode: self.attrs.mode_for_new(false, self.src_mode)?,
                owner: self.attrs.owner.clone(),
                group: self.attrs.group.clone(),
            }
        };
        let content_differs = st.sha1.as_deref() != Some(self.checksum.as_str());
        if !st.exists() || (content_differs && self.force) {
            if self.backup && st.exists() {
                self.backup_file = Some(backup(t, &self.dest)?);
            }
            // The backup named in the undo record, which is written before apply runs.
            let keep = match &change.undo {
                Undo::Restore { prior, .. } => prior.backup_path.as_deref(),
                _ => None,
            };
            let put = Put {
                mode: attrs.mode,
                owner: attrs.owner.as_deref(),
                group: attrs.group.as_deref(),
                keep_prior_at: keep,
                make_parents: false,
            };
            match &self.body {
                Body::Bytes(b) => t.put_file(
                    &self.dest,
                    Stdin::Bytes(b),
                    b.len() as u64,
                    &self.checksum,
                    &put,
                ),
                Body::File { path, size, sha1 } => {
                    let mut f = std::fs::File::open(path).map_err(|e| {
                        ModuleError::new(format!("cannot read {}: {e}", path.display()))
                    })?;
                    t.put_file(&self.dest, Stdin::Reader(&mut f), *size, sha1, &put)
                }
            }
        } else {
            t.set_attrs(
                &self.dest,
                attrs.mode,
                attrs.owner.as_deref(),
                attrs.group.as_deref(),
                false,
            )
        }
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("dest".into(), self.dest.clone().into());
        if let Some(src) = &self.src {
            r.insert("src".into(), src.clone().into());
        }
        r.insert("checksum".into(), self.checksum.clone().into());
        r.insert("size".into(), self.body.size().into());
        r.insert("state".into(), "file".into());
        if let Some(b) = &self.backup_file {
            r.insert("backup_file".into(), b.clone().into());
        }
        r
    }
}

/// Copies `path` to `path.<pid>.<timestamp>~` as Ansible's backup option does; returns the name.
pub fn backup(t: &mut Target<'_>, path: &str) -> ModResult<String> {
    let p = crate::connection::sh_quote(path);
    let out = t.run_ok(
        &format!(r#"b={p}.$$.$(date +%Y-%m-%d@%H:%M:%S)~; cp -p -- {p} "$b" && printf %s "$b""#),
        None,
    )?;
    Ok(out.stdout_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::LocalConnection;
    use crate::connection::testinput::noise_bytes;

    fn target(conn: &mut LocalConnection) -> Target<'_> {
        Target::local_for_tests(conn)
    }

    fn put_file(dest: &Path, body: Body) -> PutFile {
        PutFile::new(
            &Args::new(),
            dest.to_str().unwrap().into(),
            body,
            Some("src.bin".into()),
            None,
        )
        .unwrap()
    }

    fn large_src(dir: &Path, n: u64) -> (Body, Vec<u8>) {
        let data = noise_bytes(n);
        let path = dir.join("src.bin");
        std::fs::write(&path, &data).unwrap();
        let (sha1, size) = file_sha1(&path).unwrap();
        assert_eq!(sha1, sha1_hex(&data));
        assert_eq!(size, n);
        (Body::File { path, size, sha1 }, data)
    }

    #[test]
    fn large_files_stream_and_keep_a_backup_of_the_prior() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("dest.bin");
        let prior = noise_bytes(MAX_DIFF_BYTES + 1)
            .into_iter()
            .rev()
            .collect::<Vec<_>>();
        std::fs::write(&dest, &prior).unwrap();
        let (body, data) = large_src(dir.path(), 3 * MAX_DIFF_BYTES);
        let mut c = LocalConnection;
        let mut t = target(&mut c);
        let mut a = put_file(&dest, body);
        a.observe(&mut t).unwrap();
        let ch = a.diff().unwrap().expect("content differs");
        // the diff names sizes and checksums, not contents
        let d = ch.diff.as_ref().unwrap();
        assert_eq!(
            d.before,
            format!(
                "[large file: {} bytes, sha1 {}]\n",
                prior.len(),
                sha1_hex(&prior)
            )
        );
        assert_eq!(
            d.after,
            format!(
                "[large file: {} bytes, sha1 {}]\n",
                data.len(),
                sha1_hex(&data)
            )
        );
        // the undo record names the backup instead of holding the content
        let Undo::Restore { prior: p, .. } = &ch.undo else {
            panic!("{:?}", ch.undo)
        };
        assert!(p.content.is_none());
        assert_eq!(p.sha1.as_deref(), Some(sha1_hex(&prior).as_str()));
        assert_eq!(p.size, Some(prior.len() as u64));
        let keep = p.backup_path.clone().expect("a backup path");
        assert!(keep.starts_with(&format!("{}/.dest.bin.", dir.path().display())));
        assert!(ch.after[0].1.content.is_none());
        assert_eq!(ch.after[0].1.size, data.len() as u64);

        a.apply(&ch, &mut t).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        assert_eq!(sha1_hex(&std::fs::read(&keep).unwrap()), sha1_hex(&prior));
        assert_eq!(a.returns()["size"], data.len());

        // converged: the second run compares checksums only
        let (body, _) = large_src(dir.path(), 3 * MAX_DIFF_BYTES);
        let mut a = put_file(&dest, body);
        a.observe(&mut t).unwrap();
        assert!(a.diff().unwrap().is_none());

        // a mode change alone needs no backup
        let mut args = Args::new();
        args.insert("mode".into(), "0600".into());
        let (body, _) = large_src(dir.path(), 3 * MAX_DIFF_BYTES);
        let mut a = PutFile::new(&args, dest.to_str().unwrap().into(), body, None, None).unwrap();
        a.observe(&mut t).unwrap();
        let ch = a.diff().unwrap().unwrap();
        assert!(ch.diff.is_none());
        let Undo::Restore { prior: p, .. } = &ch.undo else {
            panic!()
        };
        assert!(p.backup_path.is_none());
        assert_eq!(
            ch.after[0].1.sha1.as_deref(),
            Some(sha1_hex(&data).as_str())
        );
    }

    #[test]
    fn small_files_diff_as_text_and_binary_ones_by_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("app.conf");
        std::fs::write(&dest, "a\nb\n").unwrap();
        let mut c = LocalConnection;
        let mut t = target(&mut c);
        let mut a = put_file(&dest, Body::Bytes(b"a\nc\n".to_vec()));
        a.observe(&mut t).unwrap();
        let ch = a.diff().unwrap().unwrap();
        let d = ch.diff.unwrap();
        assert_eq!((d.before.as_str(), d.after.as_str()), ("a\nb\n", "a\nc\n"));
        let Undo::Restore { prior, .. } = ch.undo else {
            panic!()
        };
        assert_eq!(prior.content.as_deref(), Some(&b"a\nb\n"[..]));
        assert!(prior.backup_path.is_none());

        let mut a = put_file(&dest, Body::Bytes(b"\0\x01".to_vec()));
        a.observe(&mut t).unwrap();
        let d = a.diff().unwrap().unwrap().diff.unwrap();
        assert_eq!(
            d.before,
            format!("[text file: 4 bytes, sha1 {}]\n", sha1_hex(b"a\nb\n"))
        );
        assert_eq!(
            d.after,
            format!("[binary file: 2 bytes, sha1 {}]\n", sha1_hex(b"\0\x01"))
        );

        // a new large file: nothing before, a summary after
        let (body, data) = large_src(dir.path(), MAX_DIFF_BYTES + 10);
        let mut a = put_file(&dir.path().join("new.bin"), body);
        a.observe(&mut t).unwrap();
        let d = a.diff().unwrap().unwrap().diff.unwrap();
        assert_eq!(d.before, "");
        assert!(d.after.contains(&format!("{} bytes", data.len())));
    }
}
