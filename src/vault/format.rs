//! The Ansible Vault 1.1/1.2 envelope and its AES-256-CTR + HMAC-SHA256 cipher.
//!
//! ```text
//! $ANSIBLE_VAULT;1.1;AES256            (1.2: $ANSIBLE_VAULT;1.2;AES256;<vault id>)
//! hex( hex(salt) "\n" hex(hmac) "\n" hex(ciphertext) ), in lines of 80 characters
//! ```
//!
//! PBKDF2-HMAC-SHA256 over (password, 32-byte salt, 10,000 rounds) gives 80 bytes:
//! the AES key (32), the HMAC key (32) and the CTR initial counter block (16).
//! The plaintext is PKCS#7-padded to 16 bytes before encryption, and the HMAC
//! covers the ciphertext.

use super::VaultError;
use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER: &str = "$ANSIBLE_VAULT";
const ROUNDS: u32 = 10_000;
pub const SALT_LEN: usize = 32;
const LINE: usize = 80;
const BLOCK: usize = 16;

type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// Key material derived from one (password, salt) pair.
#[derive(Clone)]
pub struct DerivedKeys([u8; 80]);

impl DerivedKeys {
    pub fn derive(password: &[u8], salt: &[u8]) -> DerivedKeys {
        let mut out = [0u8; 80];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ROUNDS, &mut out);
        DerivedKeys(out)
    }

    fn aes_key(&self) -> &[u8] {
        &self.0[..32]
    }

    fn hmac_key(&self) -> &[u8] {
        &self.0[32..64]
    }

    fn iv(&self) -> &[u8] {
        &self.0[64..]
    }
}

impl Drop for DerivedKeys {
    fn drop(&mut self) {
        // Best effort: do not leave key material in freed memory.
        self.0.fill(0);
        std::hint::black_box(&mut self.0);
    }
}

/// A parsed vault envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: String,
    /// The vault id of a 1.2 envelope.
    pub label: Option<String>,
    pub salt: Vec<u8>,
    pub hmac: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Whether `data` starts like vault data (leading whitespace allowed).
pub fn is_vault(data: &[u8]) -> bool {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    data[start..].starts_with(HEADER.as_bytes())
}

impl Envelope {
    pub fn parse(text: &str, origin: &str) -> Result<Envelope, VaultError> {
        let malformed = |why: &str| VaultError::Malformed {
            origin: origin.to_string(),
            why: why.to_string(),
        };
        let mut lines = text.trim().lines();
        let header = lines.next().unwrap_or_default().trim();
        let fields: Vec<&str> = header.split(';').map(str::trim).collect();
        if fields.first() != Some(&HEADER) || fields.len() < 3 {
            return Err(malformed("the first line is not a $ANSIBLE_VAULT header"));
        }
        let (version, cipher) = (fields[1], fields[2]);
        let label = match (version, fields.len()) {
            ("1.1", 3) => None,
            ("1.2", 4) if !fields[3].is_empty() => Some(fields[3].to_string()),
            _ => {
                return Err(VaultError::Unsupported {
                    origin: origin.to_string(),
                    version: version.to_string(),
                    cipher: cipher.to_string(),
                });
            }
        };
        if cipher != "AES256" {
            return Err(VaultError::Unsupported {
                origin: origin.to_string(),
                version: version.to_string(),
                cipher: cipher.to_string(),
            });
        }
        let body: String = lines.flat_map(|l| l.trim().chars()).collect();
        let inner = unhex(body.as_bytes()).ok_or_else(|| malformed("the body is not hex"))?;
        let parts: Vec<&[u8]> = inner.split(|b| *b == b'\n').collect();
        let [salt, hmac, ciphertext] = parts[..] else {
            return Err(malformed(
                "the body does not have salt, HMAC and ciphertext",
            ));
        };
        let field = |v: &[u8], what: &str| {
            unhex(v).ok_or_else(|| malformed(&format!("the {what} is not hex")))
        };
        Ok(Envelope {
            version: version.to_string(),
            label,
            salt: field(salt, "salt")?,
            hmac: field(hmac, "HMAC")?,
            ciphertext: field(ciphertext, "ciphertext")?,
        })
    }

    /// The envelope as text: header, then the body in lines of 80, ending in a newline.
    pub fn render(&self) -> String {
        let header = match &self.label {
            Some(label) => format!("{HEADER};1.2;AES256;{label}"),
            None => format!("{HEADER};1.1;AES256"),
        };
        let mut inner = hex(&self.salt).into_bytes();
        inner.push(b'\n');
        inner.extend_from_slice(hex(&self.hmac).as_bytes());
        inner.push(b'\n');
        inner.extend_from_slice(hex(&self.ciphertext).as_bytes());
        let body = hex(&inner);
        let mut out = header;
        out.push('\n');
        for chunk in body.as_bytes().chunks(LINE) {
            out.push_str(std::str::from_utf8(chunk).expect("hex is ASCII"));
            out.push('\n');
        }
        out
    }

    /// Checks the HMAC (in constant time) and decrypts. None: wrong key or corrupted.
    pub fn open(&self, keys: &DerivedKeys) -> Option<Vec<u8>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(keys.hmac_key()).expect("any key length");
        mac.update(&self.ciphertext);
        mac.verify_slice(&self.hmac).ok()?;
        if self.ciphertext.is_empty() || !self.ciphertext.len().is_multiple_of(BLOCK) {
            return None;
        }
        let mut data = self.ciphertext.clone();
        let mut cipher =
            Aes256Ctr::new_from_slices(keys.aes_key(), keys.iv()).expect("32-byte key, 16-byte iv");
        cipher.apply_keystream(&mut data);
        let pad = *data.last()? as usize;
        if pad == 0 || pad > BLOCK || data[data.len() - pad..].iter().any(|b| *b as usize != pad) {
            return None;
        }
        data.truncate(data.len() - pad);
        Some(data)
    }

    /// Encrypts `plaintext` with keys derived from `salt`.
    pub fn seal(
        plaintext: &[u8],
        keys: &DerivedKeys,
        salt: Vec<u8>,
        label: Option<String>,
    ) -> Envelope {
        let pad = BLOCK - plaintext.len() % BLOCK;
        let mut data = Vec::with_capacity(plaintext.len() + pad);
        data.extend_from_slice(plaintext);
        data.extend(std::iter::repeat_n(pad as u8, pad));
        let mut cipher =
            Aes256Ctr::new_from_slices(keys.aes_key(), keys.iv()).expect("32-byte key, 16-byte iv");
        cipher.apply_keystream(&mut data);
        let mut mac = Hmac::<Sha256>::new_from_slice(keys.hmac_key()).expect("any key length");
        mac.update(&data);
        let hmac = mac.finalize().into_bytes().to_vec();
        Envelope {
            version: if label.is_some() { "1.2" } else { "1.1" }.to_string(),
            label,
            salt,
            hmac,
            ciphertext: data,
        }
    }
}

/// A fresh random salt from the kernel.
pub fn random_salt() -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut salt = vec![0u8; SALT_LEN];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut salt)?;
    Ok(salt)
}

pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_wraps_at_80() {
        let salt = vec![7u8; SALT_LEN];
        let keys = DerivedKeys::derive(b"pw", &salt);
        for text in [
            &b""[..],
            b"x",
            b"exactly sixteen!",
            b"a longer secret value\n",
        ] {
            let env = Envelope::seal(text, &keys, salt.clone(), None);
            let rendered = env.render();
            assert!(rendered.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
            assert!(rendered.lines().skip(1).all(|l| l.len() <= 80));
            let back = Envelope::parse(&rendered, "t").unwrap();
            assert_eq!(back, env);
            assert_eq!(back.open(&keys).unwrap(), text);
        }
    }

    #[test]
    fn labelled_envelopes_are_1_2() {
        let salt = vec![1u8; SALT_LEN];
        let keys = DerivedKeys::derive(b"pw", &salt);
        let env = Envelope::seal(b"v", &keys, salt, Some("prod".into()));
        let text = env.render();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert_eq!(
            Envelope::parse(&text, "t").unwrap().label.as_deref(),
            Some("prod")
        );
    }

    #[test]
    fn a_wrong_key_or_a_flipped_bit_does_not_open() {
        let salt = vec![2u8; SALT_LEN];
        let keys = DerivedKeys::derive(b"pw", &salt);
        let mut env = Envelope::seal(b"secret", &keys, salt.clone(), None);
        assert!(env.open(&DerivedKeys::derive(b"other", &salt)).is_none());
        env.ciphertext[0] ^= 1;
        assert!(env.open(&keys).is_none());
    }

    #[test]
    fn malformed_envelopes_are_reported() {
        for bad in [
            "nothing",
            "$ANSIBLE_VAULT;1.1;AES256\nzz",
            "$ANSIBLE_VAULT;1.1;AES256\n6162",
        ] {
            assert!(matches!(
                Envelope::parse(bad, "f.yml"),
                Err(VaultError::Malformed { .. })
            ));
        }
        assert!(matches!(
            Envelope::parse("$ANSIBLE_VAULT;1.0;AES\n00", "f"),
            Err(VaultError::Unsupported { .. })
        ));
    }
}
