//! The vault passwords of a run and the keys derived from them.
//!
//! PBKDF2 is deliberately slow, so each (password, salt) pair is derived once
//! per run and cached: every value of one vault file shares its salt only when
//! the file is encrypted whole, and inline values each have their own.

use super::format::{DerivedKeys, Envelope, random_salt};
use super::{VaultError, taint};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// The label of a password given without one.
pub const DEFAULT_ID: &str = "default";

/// One vault password and its vault id.
pub struct VaultSecret {
    pub label: String,
    password: Vec<u8>,
}

impl fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultSecret({}, <redacted>)", self.label)
    }
}

impl Drop for VaultSecret {
    fn drop(&mut self) {
        self.password.fill(0);
        std::hint::black_box(&mut self.password);
    }
}

impl VaultSecret {
    pub fn new(label: &str, password: impl Into<Vec<u8>>) -> Result<VaultSecret, VaultError> {
        let password = password.into();
        if password.is_empty() {
            return Err(VaultError::Source {
                source_name: format!("for vault id `{label}`"),
                why: "the password is empty".into(),
            });
        }
        if let Ok(text) = std::str::from_utf8(&password) {
            taint::register(text);
        }
        Ok(VaultSecret {
            label: label.to_string(),
            password,
        })
    }

    /// A password file as Ansible reads it: an executable file is run and its
    /// standard output is the password (a script named `*-client` or
    /// `*-client.*` is asked with `--vault-id LABEL`); other files are read.
    /// Surrounding whitespace is dropped either way.
    pub fn from_file(label: &str, path: &Path) -> Result<VaultSecret, VaultError> {
        use std::os::unix::fs::PermissionsExt;
        let fail = |why: String| VaultError::Source {
            source_name: path.display().to_string(),
            why,
        };
        let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
        let bytes = if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A bare name is a file here, not a command to look up on PATH.
            let mut cmd = std::process::Command::new(Path::new(".").join(path));
            if stem.ends_with("-client") {
                cmd.arg("--vault-id").arg(label);
            }
            let out = cmd
                .stdin(std::process::Stdio::inherit())
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| fail(format!("cannot run it: {e}")))?;
            if !out.status.success() {
                return Err(fail(format!("the script failed ({})", out.status)));
            }
            out.stdout
        } else {
            std::fs::read(path).map_err(|e| fail(e.to_string()))?
        };
        let text = bytes.trim_ascii();
        if text.is_empty() {
            return Err(fail("it gives an empty password".into()));
        }
        VaultSecret::new(label, text)
    }
}

type CacheKey = ([u8; 32], Vec<u8>);

/// The passwords a run was given, in the order given.
#[derive(Default)]
pub struct Keyring {
    secrets: Vec<VaultSecret>,
    /// Derived keys by (sha256 of the password, salt). Each slot is filled
    /// once: threads asking for the same pair wait for the one deriving it,
    /// while other pairs are derived in parallel.
    cache: Mutex<HashMap<CacheKey, Arc<OnceLock<Arc<DerivedKeys>>>>>,
    /// How many PBKDF2 derivations ran (for tests and `-vvv`).
    derivations: Mutex<usize>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn new(secrets: Vec<VaultSecret>) -> Keyring {
        Keyring {
            secrets,
            ..Keyring::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn labels(&self) -> Vec<&str> {
        self.secrets.iter().map(|s| s.label.as_str()).collect()
    }

    pub fn derivations(&self) -> usize {
        *self.derivations.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys(&self, secret: &VaultSecret, salt: &[u8]) -> Arc<DerivedKeys> {
        let id: [u8; 32] = Sha256::digest(&secret.password).into();
        let slot = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((id, salt.to_vec()))
            .or_default()
            .clone();
        slot.get_or_init(|| {
            *self.derivations.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            Arc::new(DerivedKeys::derive(&secret.password, salt))
        })
        .clone()
    }

    /// Decrypts vault text. The password whose id matches a 1.2 envelope's
    /// is tried first, then the others in the order given.
    pub fn decrypt(&self, text: &str, origin: &str) -> Result<Vec<u8>, VaultError> {
        let env = Envelope::parse(text, origin)?;
        if self.secrets.is_empty() {
            return Err(VaultError::NoPassword {
                origin: origin.to_string(),
            });
        }
        let label = env.label.as_deref();
        let ordered = self
            .secrets
            .iter()
            .filter(|s| Some(s.label.as_str()) == label)
            .chain(
                self.secrets
                    .iter()
                    .filter(|s| Some(s.label.as_str()) != label),
            );
        for secret in ordered {
            if let Some(plain) = env.open(&self.keys(secret, &env.salt)) {
                return Ok(plain);
            }
        }
        Err(VaultError::Decrypt {
            origin: origin.to_string(),
        })
    }

    /// Encrypts with the password of vault id `label` (None: the first one
    /// given). A password with the default id writes format 1.1, others 1.2.
    pub fn encrypt(&self, plaintext: &[u8], label: Option<&str>) -> Result<String, VaultError> {
        let secret = match label {
            Some(l) => self.secrets.iter().find(|s| s.label == l),
            None => self.secrets.first(),
        }
        .ok_or_else(|| match label {
            Some(l) => VaultError::NoSuchId {
                label: l.to_string(),
            },
            None => VaultError::NoPassword {
                origin: "encrypting".into(),
            },
        })?;
        let salt = random_salt().map_err(|e| VaultError::Source {
            source_name: "salt".into(),
            why: format!("cannot read /dev/urandom: {e}"),
        })?;
        let keys = self.keys(secret, &salt);
        let label = (secret.label != DEFAULT_ID).then(|| secret.label.clone());
        Ok(Envelope::seal(plaintext, &keys, salt, label).render())
    }
}

static KEYRING: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);

/// Makes `keyring` the one vault data is opened with from now on.
pub fn install(keyring: Keyring) -> Arc<Keyring> {
    let k = Arc::new(keyring);
    *KEYRING.write().unwrap_or_else(|e| e.into_inner()) = Some(k.clone());
    k
}

/// The installed keyring (an empty one if none was installed).
pub fn keyring() -> Arc<Keyring> {
    KEYRING
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(pairs: &[(&str, &str)]) -> Keyring {
        Keyring::new(
            pairs
                .iter()
                .map(|(l, p)| VaultSecret::new(l, p.as_bytes()).unwrap())
                .collect(),
        )
    }

    #[test]
    fn one_derivation_per_password_and_salt() {
        let k = ring(&[(DEFAULT_ID, "vault-test-pw")]);
        let text = k.encrypt(b"hello", None).unwrap();
        assert_eq!(k.derivations(), 1);
        for _ in 0..3 {
            assert_eq!(k.decrypt(&text, "f").unwrap(), b"hello");
        }
        assert_eq!(k.derivations(), 1);
    }

    #[test]
    fn concurrent_users_of_one_file_share_one_derivation() {
        let k = Arc::new(ring(&[(DEFAULT_ID, "vault-test-pw")]));
        let text = Keyring::new(vec![VaultSecret::new(DEFAULT_ID, "vault-test-pw").unwrap()])
            .encrypt(b"shared", None)
            .unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (k, text) = (k.clone(), text.clone());
                std::thread::spawn(move || k.decrypt(&text, "f").unwrap())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), b"shared");
        }
        assert_eq!(k.derivations(), 1);
    }

    #[test]
    fn matching_vault_id_first_then_the_others() {
        let dev = ring(&[("dev", "devpw")]);
        let text = dev.encrypt(b"x", Some("dev")).unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;dev\n"));
        let both = ring(&[("prod", "prodpw"), ("dev", "devpw")]);
        assert_eq!(both.decrypt(&text, "f").unwrap(), b"x");
        assert_eq!(both.derivations(), 1, "the dev password is tried first");
        // An unlabelled envelope is tried with every password.
        let plain = ring(&[(DEFAULT_ID, "devpw")]).encrypt(b"y", None).unwrap();
        assert_eq!(both.decrypt(&plain, "f").unwrap(), b"y");
    }

    #[test]
    fn errors_name_the_origin_and_leak_nothing() {
        let text = ring(&[(DEFAULT_ID, "right-pw")])
            .encrypt(b"the-plaintext", None)
            .unwrap();
        let e = ring(&[(DEFAULT_ID, "wrong-pw")])
            .decrypt(&text, "group_vars/all/vault.yml")
            .unwrap_err();
        let msg = e.to_string();
        assert_eq!(
            msg,
            "group_vars/all/vault.yml: cannot decrypt vault data: wrong password or corrupted"
        );
        let none = Keyring::default().decrypt(&text, "f.yml:3:7").unwrap_err();
        assert!(none.to_string().starts_with("f.yml:3:7 is vault-encrypted"));
    }
}
