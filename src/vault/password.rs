//! The `password` lookup: a random password generated once, kept in a file on
//! the controller, and read back on every later run.
//!
//! As in Ansible: `path [length=N] [chars=SPEC,...]`, where each `chars` item
//! names a Python `string` constant (`ascii_letters`, `digits`, ...) or is a
//! literal set of characters (`,,` is a literal comma). The file holds the
//! password on its first line (anything after ` salt=` is ignored); the path
//! `/dev/null` gives a fresh password every time. The value is secret.

use super::taint;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const DEFAULT_LENGTH: usize = 20;
const DEFAULT_CHARS: [&str; 3] = ["ascii_letters", "digits", ".,:-_"];

/// What to generate and where to keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSpec {
    pub path: PathBuf,
    pub length: usize,
    /// The character set, each character once.
    pub chars: Vec<char>,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password lookup: {0}")]
    Spec(String),
    #[error("password lookup: cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The characters of one `chars` item.
fn char_class(name: &str) -> String {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &str = "0123456789";
    const PUNCT: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    match name {
        "ascii_letters" | "letters" => format!("{LOWER}{UPPER}"),
        "ascii_lowercase" | "lowercase" => LOWER.into(),
        "ascii_uppercase" | "uppercase" => UPPER.into(),
        "digits" => DIGITS.into(),
        "hexdigits" => "0123456789abcdefABCDEF".into(),
        "octdigits" => "01234567".into(),
        "punctuation" => PUNCT.into(),
        literal => literal.into(),
    }
}

/// Splits a `chars` value on commas, where `,,` stands for a literal comma.
fn split_chars(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = spec.chars().peekable();
    while let Some(c) = it.next() {
        if c == ',' {
            if it.peek() == Some(&',') {
                it.next();
                cur.push(',');
            } else {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

impl PasswordSpec {
    /// Parses a term (`path key=value ...`); `length`/`chars` given as keyword
    /// arguments override the term's. Relative paths are taken from `base`.
    pub fn parse(
        term: &str,
        length: Option<usize>,
        chars: Option<Vec<String>>,
        base: &Path,
    ) -> Result<PasswordSpec, PasswordError> {
        let mut words = term.split_whitespace();
        let path = words
            .next()
            .ok_or_else(|| PasswordError::Spec("no path given".into()))?;
        let mut spec_length = DEFAULT_LENGTH;
        let mut spec_chars: Vec<String> = DEFAULT_CHARS.iter().map(|s| s.to_string()).collect();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| PasswordError::Spec(format!("`{w}` is not key=value")))?;
            match k {
                "length" => {
                    spec_length = v
                        .parse()
                        .map_err(|_| PasswordError::Spec(format!("length `{v}` is not a number")))?
                }
                "chars" => spec_chars = split_chars(v),
                "encrypt" | "ident" | "seed" => {
                    return Err(PasswordError::Spec(format!(
                        "the `{k}` option is not supported"
                    )));
                }
                other => {
                    return Err(PasswordError::Spec(format!("unknown option `{other}`")));
                }
            }
        }
        let length = length.unwrap_or(spec_length);
        let classes = chars.unwrap_or(spec_chars);
        let mut set: Vec<char> = Vec::new();
        for c in classes
            .iter()
            .flat_map(|c| char_class(c).chars().collect::<Vec<_>>())
        {
            if !set.contains(&c) {
                set.push(c);
            }
        }
        if length == 0 || set.is_empty() {
            return Err(PasswordError::Spec(
                "length and chars must not be empty".into(),
            ));
        }
        Ok(PasswordSpec {
            path: base.join(path),
            length,
            chars: set,
        })
    }

    /// The kept password, or a new one written to the file (mode 0600, its
    /// directory created 0700). Either way the value is registered secret.
    pub fn get_or_create(&self) -> Result<String, PasswordError> {
        let io = |what, source| PasswordError::Io {
            what,
            path: self.path.clone(),
            source,
        };
        let devnull = self.path == Path::new("/dev/null");
        if !devnull && self.path.exists() {
            let text = std::fs::read_to_string(&self.path).map_err(|e| io("read", e))?;
            let first = text.lines().next().unwrap_or_default();
            let pw = first.split(" salt=").next().unwrap_or_default().trim_end();
            taint::register(pw);
            return Ok(pw.to_string());
        }
        let pw = generate(self.length, &self.chars).map_err(|e| io("generate for", e))?;
        taint::register(&pw);
        if !devnull {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| io("create the directory of", e))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&self.path)
                .map_err(|e| io("create", e))?;
            f.write_all(format!("{pw}\n").as_bytes())
                .map_err(|e| io("write", e))?;
        }
        Ok(pw)
    }
}

/// `length` characters drawn uniformly from `chars` with the kernel's randomness.
pub fn generate(length: usize, chars: &[char]) -> std::io::Result<String> {
    let mut rng = std::fs::File::open("/dev/urandom")?;
    let n = chars.len();
    // Reject bytes above the largest multiple of n so every character is equally likely.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(length);
    let mut buf = [0u8; 64];
    while out.chars().count() < length {
        rng.read_exact(&mut buf)?;
        for b in buf {
            if (b as usize) < limit && out.chars().count() < length {
                out.push(chars[b as usize % n]);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_keywords() {
        let base = Path::new("/p");
        let s = PasswordSpec::parse("creds/db length=8 chars=digits", None, None, base).unwrap();
        assert_eq!(s.path, Path::new("/p/creds/db"));
        assert_eq!(s.length, 8);
        assert_eq!(s.chars.iter().collect::<String>(), "0123456789");
        let s = PasswordSpec::parse("x", Some(5), Some(vec!["ab,,".into()]), base).unwrap();
        assert_eq!((s.length, s.chars.len()), (5, 3));
        let s = PasswordSpec::parse("x chars=ab,,", None, None, base).unwrap();
        assert_eq!(s.chars, vec!['a', 'b', ',']);
        let d = PasswordSpec::parse("/abs", None, None, base).unwrap();
        assert_eq!((d.length, d.chars.len()), (20, 62 + 5));
        assert!(PasswordSpec::parse("x encrypt=sha512_crypt", None, None, base).is_err());
    }

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = PasswordSpec::parse("sub/pw length=24", None, None, dir.path()).unwrap();
        let first = spec.get_or_create().unwrap();
        assert_eq!(first.len(), 24);
        assert_eq!(spec.get_or_create().unwrap(), first);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&spec.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(taint::contains(&first));
    }
}
