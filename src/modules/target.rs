//! The host as modules see it: shell commands plus the file operations every
//! file-writing module needs, each done in one round trip.

use super::{ModResult, ModuleError};
use crate::connection::{Become, ConnError, Connection, Exec, Output, Stdin, sh_quote};
use serde::{Deserialize, Serialize};

/// Files larger than this are compared by checksum only, never read back for diffs,
/// and their prior content is kept on the host (see `PriorFile::backup_path`) instead
/// of in the undo record.
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

    /// A planned regular file known by checksum and size only (too large to hold).
    pub fn with_checksum(mut self, sha1: Option<&str>, size: u64) -> FileState {
        self.size = size;
        self.sha1 = sha1.map(String::from);
        self.content = None;
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
            size: (self.kind == FileKind::File).then_some(self.size),
            backup_path: None,
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
    /// The content, when small enough to record (`MAX_DIFF_BYTES`).
    pub content: Option<Vec<u8>>,
    pub link_target: Option<String>,
    /// Size in bytes of a regular file.
    #[serde(default)]
    pub size: Option<u64>,
    /// A regular file too large to record is kept on the host instead: apply puts it
    /// here (same directory, same inode or a `cp -p` copy) before replacing it. Check it
    /// against `sha1` before moving it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_path: Option<String>,
}

/// Where a replaced file is kept: `<dir>/.<name>.<unix-time>.tbuddy-backup`, the time
/// with microseconds so that two replacements never pick the same name.
pub fn backup_path_for(path: &str, when: std::time::SystemTime) -> String {
    let t = when
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (dir, name) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    // NAME_MAX is 255 bytes; leave room for the decoration.
    let mut end = name.len().min(200);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{dir}.{}.{}.{:06}.tbuddy-backup",
        &name[..end],
        t.as_secs(),
        t.subsec_micros()
    )
}

/// Extra choices for `Target::put_file`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Put<'a> {
    pub mode: Option<u32>,
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
    /// Keep the file being replaced at this path (see `PriorFile::backup_path`). The
    /// write fails if the path exists; a failed write removes it again.
    pub keep_prior_at: Option<&'a str>,
    /// Create missing parent directories (in the same round trip).
    pub make_parents: bool,
}

impl Target<'_> {
    pub fn exec(&mut self, script: &str, stdin: Option<&[u8]>) -> ModResult<Output> {
        self.exec_stdin(script, Stdin::from(stdin))
    }

    /// Runs a script with `stdin` as its input (a reader is streamed in chunks).
    pub fn exec_stdin(&mut self, script: &str, stdin: Stdin<'_>) -> ModResult<Output> {
        let req = Exec {
            script,
            stdin: None,
            become_as: self.become_as.as_ref(),
            env: &self.env,
        };
        self.conn.exec_stdin(&req, stdin).map_err(module_error)
    }

    /// Runs a script that must succeed; a non-zero exit becomes a module failure.
    pub fn run_ok(&mut self, script: &str, stdin: Option<&[u8]>) -> ModResult<Output> {
        self.run_ok_stdin(script, Stdin::from(stdin))
    }

    /// `run_ok` with streamed input.
    pub fn run_ok_stdin(&mut self, script: &str, stdin: Stdin<'_>) -> ModResult<Output> {
        succeeded(self.exec_stdin(script, stdin)?)
    }

    /// Runs a script that must succeed, without input, writing its standard output to
    /// `out` as it arrives (a file of any size crosses with bounded memory).
    pub fn run_ok_to(
        &mut self,
        script: &str,
        out: &mut (dyn std::io::Write + Send),
    ) -> ModResult<Output> {
        let req = Exec {
            script,
            stdin: None,
            become_as: self.become_as.as_ref(),
            env: &self.env,
        };
        succeeded(self.conn.exec_stdout_to(&req, out).map_err(module_error)?)
    }

    /// Stats `path` (without following a final symlink); with `content`, also
    /// reads regular files up to `MAX_DIFF_BYTES`.
    pub fn stat(&mut self, path: &str, content: bool) -> ModResult<FileState> {
        if let Some(st) = self.planned.and_then(|p| p.get(path)) {
            return Ok(st.clone());
        }
        let p = sh_quote(path);
        // As few processes as possible: this runs for nearly every task.
        let read = if content {
            format!(
                r#"case $s in "regular "*) if [ "$n" -le {MAX_DIFF_BYTES} ]; then exec cat -- {p}; fi;; esac"#
            )
        } else {
            String::new()
        };
        let script = format!(
            r#"if [ ! -e {p} ] && [ ! -L {p} ]; then echo absent; exit 0; fi
s=$(stat -c '%F/%a/%U/%G/%u/%g/%s/%Y' -- {p}) || exit 1
n=${{s%/*}}; n=${{n##*/}}
h=; l=
case $s in
  "symbolic link"*) l=$(readlink -- {p}) ;;
  "regular "*) [ -r {p} ] && h=$(sha1sum < {p}) && h=${{h%% *}} ;;
esac
printf '%s/%s/%s\n' "$s" "$h" "$l"
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
        self.write_file_with(
            path,
            data,
            &Put {
                mode,
                owner,
                group,
                ..Default::default()
            },
        )
    }

    /// [`Target::write_file`] with every option of [`Put`].
    pub fn write_file_with(&mut self, path: &str, data: &[u8], put: &Put<'_>) -> ModResult<()> {
        self.put_file(
            path,
            Stdin::Bytes(data),
            data.len() as u64,
            &sha1_hex(data),
            put,
        )
    }

    /// Writes a file of `size` bytes with SHA-1 `sha1`, read from `data` (streamed when
    /// it is a reader), to `path` in one round trip:
    ///
    /// 1. the bytes go into a `mktemp` file in the destination's directory;
    /// 2. its size and SHA-1 are checked there (a short or changed input never lands);
    /// 3. mode/owner/group are set on it: those asked for, else the replaced file's, else
    ///    the umask's;
    /// 4. with `keep_prior_at`, the replaced file is kept there;
    /// 5. it is renamed over `path`.
    ///
    /// A reader of `path` sees the old file or the new one, never a partial one. On any
    /// failure `path` is untouched and the temp file (and a backup of this write) removed.
    pub fn put_file(
        &mut self,
        path: &str,
        data: Stdin<'_>,
        size: u64,
        sha1: &str,
        o: &Put<'_>,
    ) -> ModResult<()> {
        // Few processes: this runs for every file a run writes. The temporary file is
        // created by the shell itself (noclobber: it must be new), so it gets the mode
        // new files get anyway; a streamed input is checked for size and checksum, bytes
        // given whole only for size (they cannot change while sent).
        let dir = match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => ".",
        };
        let d = sh_quote(dir);
        let parents = if o.make_parents {
            format!("mkdir -p -- {d} || exit 1")
        } else {
            format!(
                r#"[ -d {d} ] || {{ echo "Destination directory "{d}" does not exist" >&2; exit 1; }}"#
            )
        };
        let p = sh_quote(path);
        let tmp = sh_quote(&format!(
            "{}/.tbuddy-tmp.{}",
            dir.trim_end_matches('/'),
            &crate::connection::nonce()[..12]
        ));
        let verify = match data {
            Stdin::Reader(_) => format!(
                r#"s=$(sha1sum < "$t" | cut -c1-40)
[ "$s" = {sha} ] || {{ echo "the file changed while it was sent: sha1 $s, expected {sha}" >&2; exit 1; }}
"#,
                sha = sh_quote(sha1)
            ),
            _ => String::new(),
        };
        let keep_mode = if o.mode.is_none() {
            r#"chmod --reference="$p" "$t"; "#
        } else {
            ""
        };
        let keep_owner = if o.owner.is_none() || o.group.is_none() {
            r#"chown --reference="$p" "$t" 2>/dev/null; "#
        } else {
            ""
        };
        let mut script = format!(
            r#"{parents}
p={p}; t={tmp}; b=
set -C; {{ true >"$t"; }} 2>/dev/null || {{ echo "cannot create a temporary file in "{d} >&2; exit 1; }}; set +C
trap 'rm -f "$t"; [ -z "$b" ] || rm -f "$b"' EXIT
cat > "$t" || exit 1
n=$(stat -c %s -- "$t") || exit 1
[ "$n" = {size} ] || {{ echo "the file arrived incomplete: $n of {size} bytes" >&2; exit 1; }}
{verify}if [ -e "$p" ]; then {keep_mode}{keep_owner}:; fi
"#,
        );
        if let Some(m) = o.mode {
            script.push_str(&format!("chmod {:o} \"$t\" || exit 1\n", m));
        }
        if let Some(spec) = owner_spec(o.owner, o.group) {
            script.push_str(&format!("chown {} \"$t\" || exit 1\n", sh_quote(&spec)));
        }
        if let Some(keep) = o.keep_prior_at {
            // A hard link keeps the very inode (mode, owner, times) at no cost, as the
            // rename below leaves it alone; a file with other links is copied instead, so
            // that later edits through those links cannot change the backup.
            let k = sh_quote(keep);
            script.push_str(&format!(
                r#"if [ -e {k} ] || [ -L {k} ]; then printf 'the backup path %s already exists\n' {k} >&2; exit 1; fi
if [ -f {p} ] && [ ! -L {p} ]; then
  b={k}
  if [ "$(stat -c %h -- {p})" = 1 ] && ln -- {p} "$b" 2>/dev/null; then :; else cp -p -- {p} "$b" || exit 1; fi
fi
"#
            ));
        }
        script.push_str(&format!("mv -f \"$t\" {p} || exit 1\nb=\ntrap - EXIT\n"));
        self.run_ok_stdin(&script, data).map(|_| ())
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
        let script = attrs_script(path, mode, owner, group, recurse);
        if script.is_empty() {
            return Ok(());
        }
        self.run_ok(&script, None).map(|_| ())
    }
}

#[cfg(test)]
impl<'a> Target<'a> {
    /// A target on the controller, without become or environment.
    pub(crate) fn local_for_tests(conn: &'a mut crate::connection::LocalConnection) -> Self {
        Target {
            conn,
            become_as: None,
            env: Vec::new(),
            planned: None,
            seen: None,
        }
    }
}

fn module_error(e: ConnError) -> ModuleError {
    match e {
        ConnError::Unreachable(m) => ModuleError {
            unreachable: true,
            ..ModuleError::new(m)
        },
        ConnError::Failed(m) => ModuleError::new(m),
    }
}

/// The output of a command that must succeed; a non-zero exit becomes a module failure.
fn succeeded(out: Output) -> ModResult<Output> {
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

/// chown/chmod lines for `path` (what `Target::set_attrs` runs), each failing
/// the script; empty when nothing is asked for.
pub(crate) fn attrs_script(
    path: &str,
    mode: Option<u32>,
    owner: Option<&str>,
    group: Option<&str>,
    recurse: bool,
) -> String {
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
    script
}

pub(crate) fn owner_spec(owner: Option<&str>, group: Option<&str>) -> Option<String> {
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

    mod put_file {
        use super::super::*;
        use crate::connection::LocalConnection;
        use crate::connection::testinput::{Broken, noise, noise_bytes};
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        use std::path::Path;

        fn target(conn: &mut LocalConnection) -> Target<'_> {
            Target::local_for_tests(conn)
        }

        fn is_root() -> bool {
            nix::unistd::geteuid().is_root()
        }

        /// Names in `dir` other than `keep`.
        fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !keep.contains(&n.as_str()))
                .collect();
            v.sort();
            v
        }

        fn put(t: &mut Target<'_>, path: &Path, data: &[u8], o: &Put<'_>) -> ModResult<()> {
            let p = path.to_str().unwrap();
            t.put_file(p, Stdin::Bytes(data), data.len() as u64, &sha1_hex(data), o)
        }

        #[test]
        fn streams_and_sets_attributes() {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("big.bin");
            let n = 5 * 1024 * 1024 + 1;
            let want = noise_bytes(n);
            let mut c = LocalConnection;
            let mut t = target(&mut c);
            let o = Put {
                mode: Some(0o640),
                ..Default::default()
            };
            t.put_file(
                f.to_str().unwrap(),
                Stdin::Reader(&mut noise(n)),
                n,
                &sha1_hex(&want),
                &o,
            )
            .unwrap();
            assert_eq!(std::fs::read(&f).unwrap(), want);
            let m = std::fs::metadata(&f).unwrap();
            assert_eq!(m.permissions().mode() & 0o7777, 0o640);
            assert_eq!(others(dir.path(), &["big.bin"]), Vec::<String>::new());

            // without a mode, a replaced file keeps its own mode (and owner)
            put(&mut t, &f, b"new\n", &Put::default()).unwrap();
            assert_eq!(std::fs::read(&f).unwrap(), b"new\n");
            let m2 = std::fs::metadata(&f).unwrap();
            assert_eq!(m2.permissions().mode() & 0o7777, 0o640);
            assert_ne!(m2.ino(), m.ino(), "replaced by rename, not rewritten");

            if is_root() {
                let o = Put {
                    owner: Some("nobody"),
                    group: Some("0"),
                    mode: Some(0o600),
                    ..Default::default()
                };
                put(&mut t, &f, b"owned\n", &o).unwrap();
                let m = std::fs::metadata(&f).unwrap();
                let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
                assert_eq!((m.uid(), m.gid()), (nobody.uid.as_raw(), 0));
                assert_eq!(m.permissions().mode() & 0o7777, 0o600);
                // kept on the next write without owner/mode
                put(&mut t, &f, b"again\n", &Put::default()).unwrap();
                let m = std::fs::metadata(&f).unwrap();
                assert_eq!(m.uid(), nobody.uid.as_raw());
                assert_eq!(m.permissions().mode() & 0o7777, 0o600);
            }
        }

        #[test]
        fn failures_leave_the_old_file_and_no_temp() {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("app.conf");
            std::fs::write(&f, b"old\n").unwrap();
            let backup = dir.path().join(".app.conf.1.000000.tbuddy-backup");
            let keep = backup.to_str().unwrap();
            let mut c = LocalConnection;
            let mut t = target(&mut c);
            let check = |what: &str, r: ModResult<()>, needle: &str| {
                let e = r.expect_err(what);
                assert!(e.msg.contains(needle), "{what}: {}", e.msg);
                assert_eq!(std::fs::read(&f).unwrap(), b"old\n", "{what}");
                assert_eq!(
                    others(dir.path(), &["app.conf", "bin"]),
                    Vec::<String>::new(),
                    "{what}: temp or backup left behind"
                );
            };

            // an owner that does not exist: chown fails
            let o = Put {
                owner: Some("no-such-user-tbuddy"),
                keep_prior_at: Some(keep),
                ..Default::default()
            };
            check(
                "chown",
                put(&mut t, &f, b"new\n", &o),
                "no-such-user-tbuddy",
            );

            // the input ends early (a read error): nothing lands
            let p = f.to_str().unwrap();
            let r = t.put_file(
                p,
                Stdin::Reader(&mut Broken(2)),
                10 * crate::connection::STREAM_CHUNK as u64,
                "0000000000000000000000000000000000000000",
                &Put::default(),
            );
            check("short input", r, "disk on fire");

            // streamed bytes are not the announced ones (a source that changed meanwhile)
            let r = t.put_file(
                p,
                Stdin::Reader(&mut &b"new\n"[..]),
                4,
                &sha1_hex(b"other"),
                &Put::default(),
            );
            check("checksum", r, "changed while it was sent");
            let r = t.put_file(
                p,
                Stdin::Bytes(b"new\n"),
                5,
                &sha1_hex(b"new\n"),
                &Put::default(),
            );
            check("size", r, "incomplete");

            // the rename fails (after the backup was made): the backup goes too
            let bin = dir.path().join("bin");
            std::fs::create_dir(&bin).unwrap();
            std::fs::write(
                bin.join("mv"),
                "#!/bin/sh\necho 'mv: no space left' >&2\nexit 1\n",
            )
            .unwrap();
            std::fs::set_permissions(bin.join("mv"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
            t.env = vec![("PATH".into(), path)];
            let o = Put {
                keep_prior_at: Some(keep),
                ..Default::default()
            };
            check("mv", put(&mut t, &f, b"new\n", &o), "no space left");
            t.env.clear();

            // a missing directory
            let r = put(&mut t, &dir.path().join("nope/x"), b"x", &Put::default());
            assert!(r.unwrap_err().msg.contains("does not exist"));
        }

        #[test]
        fn keeps_the_replaced_file() {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("data.bin");
            std::fs::write(&f, b"prior content\n").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o604)).unwrap();
            let old = std::fs::metadata(&f).unwrap();
            let keep = backup_path_for(f.to_str().unwrap(), std::time::SystemTime::now());
            assert!(keep.starts_with(&format!("{}/.data.bin.", dir.path().display())));
            assert!(keep.ends_with(".tbuddy-backup"));
            let mut c = LocalConnection;
            let mut t = target(&mut c);
            let o = Put {
                keep_prior_at: Some(&keep),
                ..Default::default()
            };
            put(&mut t, &f, b"next\n", &o).unwrap();
            assert_eq!(std::fs::read(&f).unwrap(), b"next\n");
            assert_eq!(std::fs::read(&keep).unwrap(), b"prior content\n");
            let b = std::fs::metadata(&keep).unwrap();
            assert_eq!(
                b.ino(),
                old.ino(),
                "a single-link file is kept by a hard link"
            );
            assert_eq!(b.permissions().mode() & 0o7777, 0o604);
            assert_eq!(b.mtime(), old.mtime());
            assert_eq!(
                others(dir.path(), &["data.bin"]),
                [keep.rsplit('/').next().unwrap()]
            );

            // the backup path is never overwritten
            let e = put(&mut t, &f, b"third\n", &o).unwrap_err();
            assert!(e.msg.contains("already exists"), "{}", e.msg);
            assert_eq!(std::fs::read(&f).unwrap(), b"next\n");
            assert_eq!(std::fs::read(&keep).unwrap(), b"prior content\n");

            // a file with other links is copied (cp -p), so edits through them cannot
            // reach the backup
            std::fs::hard_link(&f, dir.path().join("other-link")).unwrap();
            let keep2 = format!("{keep}.2");
            let o = Put {
                keep_prior_at: Some(&keep2),
                ..Default::default()
            };
            let before = std::fs::metadata(&f).unwrap();
            put(&mut t, &f, b"fourth\n", &o).unwrap();
            let b = std::fs::metadata(&keep2).unwrap();
            assert_ne!(b.ino(), before.ino());
            assert_eq!(b.mtime(), before.mtime(), "cp -p keeps the times");
            assert_eq!(std::fs::read(&keep2).unwrap(), b"next\n");
        }

        #[test]
        fn prior_file_records_stay_readable() {
            // a record written before size/backup_path existed
            let old = r#"{"kind":"File","mode":420,"owner":"root","group":"root","sha1":"ab","content":[104,105],"link_target":null}"#;
            let p: PriorFile = serde_json::from_str(old).unwrap();
            assert_eq!(p.size, None);
            assert_eq!(p.backup_path, None);
            let json = serde_json::to_string(&p).unwrap();
            assert!(!json.contains("backup_path"), "{json}");
            let p = PriorFile {
                backup_path: Some("/d/.f.1.000000.tbuddy-backup".into()),
                size: Some(5 << 20),
                content: None,
                ..p
            };
            let back: PriorFile =
                serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back.backup_path, p.backup_path);
            assert_eq!(back.size, Some(5 << 20));
        }
    }

    #[test]
    fn sha1_matches_known_value() {
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
