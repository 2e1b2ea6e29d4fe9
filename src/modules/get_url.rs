//! `get_url`: download a file on the target (with `curl`, else `wget`) into a
//! temp file beside `dest`, check it, set its attributes and rename it over
//! `dest`, so a reader never sees half a download.
//!
//! Without `force`, an existing `dest` is left alone unless a `checksum`
//! says it is not the wanted file (as Ansible). With `force` and no
//! checksum, what the URL serves is only known by fetching it, so observe
//! downloads into a temp file on the target, compares and deletes it.

use super::attrs::{AttrChange, Attrs};
use super::spec::{ArgKind::*, CheckSupport, ModuleSpec, arg, required};
use super::target::{FileKind, FileState, MAX_DIFF_BYTES};
use super::{Action, Args, Change, ModResult, Module, ModuleCx, ModuleError, Returns, Target};
use super::{Undo, argx};
use crate::connection::sh_quote;
use serde_json::Value;

pub static GET_URL: ModuleSpec = ModuleSpec {
    name: "get_url",
    summary: "Download a file over HTTP(S) on the target, atomically",
    free_form: false,
    check: CheckSupport::Full,
    open_args: false,
    args: &[
        required("url", Str, "http://, https:// or ftp:// URL."),
        required("dest", Path, "Where to write it on the target."),
        arg(
            "checksum",
            Str,
            "ALGORITHM:HEX (sha256, sha1, sha512, md5): the download must match it, and an existing dest that matches is not fetched again.",
        ),
        arg(
            "force",
            Bool,
            "Download even when dest exists (and replace it if the content differs). Default no.",
        ),
        arg(
            "timeout",
            Int,
            "Seconds for the whole request (default 10).",
        ),
        arg("headers", Dict, "Extra request headers."),
        arg(
            "validate_certs",
            Bool,
            "Verify TLS certificates (default yes).",
        ),
        arg("mode", Mode, "Permissions: octal or symbolic."),
        arg("owner", Str, "Owner name or uid."),
        arg("group", Str, "Group name or gid."),
    ],
};

pub struct GetUrl;

impl Module for GetUrl {
    fn spec(&self) -> &'static ModuleSpec {
        &GET_URL
    }

    fn validate(&self, args: &Args, _cx: &ModuleCx<'_>) -> ModResult<Box<dyn Action>> {
        let checksum = match argx::string(args, "checksum")? {
            None => None,
            Some(c) if c.is_empty() => None,
            Some(c) => Some(parse_checksum(&c)?),
        };
        let mut headers = Vec::new();
        match args.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    headers.push(format!("{k}: {v}"));
                }
            }
            Some(_) => return Err(ModuleError::new("headers must be a mapping")),
        }
        Ok(Box::new(Download {
            url: argx::req_string(args, "url")?,
            dest: argx::req_string(args, "dest")?,
            checksum,
            force: argx::boolean(args, "force", false)?,
            timeout: argx::number(args, "timeout")?.unwrap_or(10.0).max(1.0) as u64,
            headers,
            insecure: !argx::boolean(args, "validate_certs", true)?,
            attrs: Attrs::from_args(args)?,
            observed: None,
            fetched_sha1: None,
        }))
    }
}

/// (command on the target that prints the digest first, expected lowercase hex)
fn parse_checksum(spec: &str) -> ModResult<(String, String)> {
    let (algo, hex) = spec.split_once(':').ok_or_else(|| {
        ModuleError::new(format!(
            "checksum must be ALGORITHM:HEX (e.g. sha256:…), got {spec:?}"
        ))
    })?;
    let tool = match algo.to_ascii_lowercase().as_str() {
        "sha256" => "sha256sum",
        "sha1" => "sha1sum",
        "sha512" => "sha512sum",
        "sha224" => "sha224sum",
        "sha384" => "sha384sum",
        "md5" => "md5sum",
        other => {
            return Err(ModuleError::new(format!(
                "unsupported checksum algorithm {other:?} (sha256, sha1, sha512, sha224, sha384 or md5)"
            )));
        }
    };
    let hex = hex.trim().to_ascii_lowercase();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ModuleError::new(format!(
            "checksum {spec:?} is not hexadecimal"
        )));
    }
    Ok((tool.to_string(), hex))
}

struct Download {
    url: String,
    dest: String,
    checksum: Option<(String, String)>,
    force: bool,
    timeout: u64,
    headers: Vec<String>,
    insecure: bool,
    attrs: Attrs,
    observed: Option<Observed>,
    /// With force: the sha1 of what the URL serves now.
    fetched_sha1: Option<String>,
}

struct Observed {
    st: FileState,
    /// Whether an existing dest matches `checksum`.
    matches: bool,
}

impl Download {
    /// Shell that downloads into "$t" (which the caller created).
    fn fetch_into_t(&self) -> String {
        let u = sh_quote(&self.url);
        let t = self.timeout;
        let k = if self.insecure { "-k " } else { "" };
        let h: String = self
            .headers
            .iter()
            .map(|h| format!("-H {} ", sh_quote(h)))
            .collect();
        let wh: String = self
            .headers
            .iter()
            .map(|h| format!("--header={} ", sh_quote(h)))
            .collect();
        let wk = if self.insecure {
            "--no-check-certificate "
        } else {
            ""
        };
        format!(
            r#"if command -v curl >/dev/null 2>&1; then
  curl -fsSL --max-time {t} {k}{h}-o "$t" -- {u} || {{ echo "download of {url} failed (curl exit $?)" >&2; exit 1; }}
elif command -v wget >/dev/null 2>&1; then
  wget -q -T {t} {wk}{wh}-O "$t" -- {u} || {{ echo "download of {url} failed (wget exit $?)" >&2; exit 1; }}
else
  echo "get_url needs curl or wget on the target" >&2; exit 1
fi
"#,
            url = self.url.replace(['"', '$', '`', '\\'], "_"),
        )
    }

    fn want_attrs(&self, st: &FileState) -> ModResult<AttrChange> {
        if st.exists() {
            self.attrs.changes(st, None)
        } else {
            Ok(AttrChange {
                mode: self.attrs.mode_for_new(false, None)?,
                owner: self.attrs.owner.clone(),
                group: self.attrs.group.clone(),
            })
        }
    }

    /// Whether the content at dest must be (re)downloaded.
    fn content_differs(&self) -> bool {
        let o = self.observed.as_ref().expect("observed");
        if !o.st.exists() {
            return true;
        }
        if self.checksum.is_some() {
            return !o.matches;
        }
        match &self.fetched_sha1 {
            Some(sha) => o.st.sha1.as_deref() != Some(sha.as_str()),
            None => false,
        }
    }
}

impl Action for Download {
    fn observe(&mut self, t: &mut Target<'_>) -> ModResult<()> {
        let st = t.stat(&self.dest, true)?;
        if st.kind == FileKind::Directory {
            return Err(ModuleError::new(format!(
                "dest {} is a directory: give the file's full path",
                self.dest
            )));
        }
        let mut matches = false;
        if let (Some((tool, hex)), FileKind::File) = (&self.checksum, st.kind) {
            let out = t.run_ok(
                &format!("{tool} < {} | cut -d' ' -f1", sh_quote(&self.dest)),
                None,
            )?;
            matches = out.stdout_str().trim() == hex;
        }
        if self.force && self.checksum.is_none() && st.exists() {
            // Only fetching tells what the URL serves: into a temp file, then gone.
            let script = format!(
                "t=$(mktemp) || exit 1\ntrap 'rm -f \"$t\"' EXIT\n{}sha1sum < \"$t\" | cut -d' ' -f1\n",
                self.fetch_into_t()
            );
            self.fetched_sha1 = Some(t.run_ok(&script, None)?.stdout_str().trim().to_string());
        }
        self.observed = Some(Observed { st, matches });
        Ok(())
    }

    fn diff(&self) -> ModResult<Option<Change>> {
        let st = &self.observed.as_ref().expect("observed").st;
        let content = self.content_differs();
        let attrs = self.want_attrs(st)?;
        if !content && (attrs.is_empty() || !st.exists()) {
            return Ok(None);
        }
        let summary = if !st.exists() {
            format!("download {} to {}", self.url, self.dest)
        } else if content {
            format!("download {} over {}", self.url, self.dest)
        } else {
            format!("set {} on {}", attrs.describe(), self.dest)
        };
        let undo = if st.exists() {
            Undo::Restore {
                path: self.dest.clone(),
                prior: st.prior(),
            }
        } else {
            Undo::Create {
                path: self.dest.clone(),
            }
        };
        let planned = FileState {
            sha1: if content {
                self.fetched_sha1.clone()
            } else {
                st.sha1.clone()
            },
            ..FileState::planned(
                st,
                FileKind::File,
                attrs.mode,
                attrs.owner.as_deref(),
                attrs.group.as_deref(),
            )
        };
        if content && st.exists() && st.size > MAX_DIFF_BYTES {
            // The prior content was not read; nothing keeps it for undo.
            return Ok(Some(Change {
                summary,
                diff: None,
                undo: Undo::Irreversible(format!(
                    "the prior {} is larger than {MAX_DIFF_BYTES} bytes and is not kept",
                    self.dest
                )),
                predictable: true,
                after: vec![(self.dest.clone(), planned)],
            }));
        }
        Ok(Some(Change {
            summary,
            diff: None,
            undo,
            predictable: true,
            after: vec![(self.dest.clone(), planned)],
        }))
    }

    fn apply(&mut self, _change: &Change, t: &mut Target<'_>) -> ModResult<()> {
        let st = self.observed.as_ref().expect("observed").st.clone();
        let attrs = self.want_attrs(&st)?;
        if !self.content_differs() {
            return t.set_attrs(
                &self.dest,
                attrs.mode,
                attrs.owner.as_deref(),
                attrs.group.as_deref(),
                false,
            );
        }
        let p = sh_quote(&self.dest);
        let mut script = format!(
            r#"d=$(dirname -- {p}); [ -d "$d" ] || {{ echo "Destination directory $d does not exist" >&2; exit 1; }}
t=$(mktemp "$d/.tbuddy-tmp.XXXXXX") || exit 1
trap 'rm -f "$t"' EXIT
{fetch}"#,
            fetch = self.fetch_into_t()
        );
        if let Some((tool, hex)) = &self.checksum {
            script.push_str(&format!(
                "got=$({tool} < \"$t\" | cut -d' ' -f1)\n[ \"$got\" = {hex} ] || {{ echo \"The checksum for {dest} did not match {hex}; it was $got.\" >&2; exit 1; }}\n",
                dest = self.dest.replace(['"', '$', '`', '\\'], "_"),
            ));
        }
        script.push_str(&format!(
            "if [ -e {p} ]; then chmod --reference={p} \"$t\"; chown --reference={p} \"$t\" 2>/dev/null; else chmod \"$(printf %o $((0666 & ~$(umask))))\" \"$t\"; fi\n"
        ));
        if let Some(m) = attrs.mode {
            script.push_str(&format!("chmod {m:o} \"$t\" || exit 1\n"));
        }
        if let Some(spec) =
            super::target::owner_spec(attrs.owner.as_deref(), attrs.group.as_deref())
        {
            script.push_str(&format!("chown {} \"$t\" || exit 1\n", sh_quote(&spec)));
        }
        script.push_str(&format!("mv -f \"$t\" {p} || exit 1\ntrap - EXIT\n"));
        t.run_ok(&script, None)?;
        Ok(())
    }

    fn returns(&self) -> Returns {
        let mut r = Returns::new();
        r.insert("url".into(), self.url.clone().into());
        r.insert("dest".into(), self.dest.clone().into());
        if let Some((tool, hex)) = &self.checksum {
            r.insert(
                "checksum_dest".into(),
                format!("{}:{hex}", tool.trim_end_matches("sum")).into(),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_parse_with_their_tool() {
        assert_eq!(
            parse_checksum("sha256:ABCdef01").unwrap(),
            ("sha256sum".to_string(), "abcdef01".to_string())
        );
        assert!(parse_checksum("sha256").is_err());
        assert!(parse_checksum("crc32:00ff").is_err());
        assert!(parse_checksum("md5:xyz").is_err());
    }
}
