//! SCRAM-SHA-256 password verifiers (RFC 5802/7677, PostgreSQL's storage form):
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64.
//!
//! Roles get a verifier computed here, so the password itself never reaches the
//! server, its logs or the plan. Whether a role already has a password is decided
//! by recomputing the verifier with the stored salt and iteration count.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// PostgreSQL's default `scram_iterations`.
pub const ITERATIONS: u32 = 4096;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA-256 with one output block (32 bytes), as SCRAM's Hi().
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &block);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        for (o, b) in out.iter_mut().zip(u.iter()) {
            *o ^= b;
        }
    }
    out
}

/// SASLprep as PostgreSQL applies it: a password that is not valid for it is used as is.
fn normalize(password: &str) -> Vec<u8> {
    match stringprep::saslprep(password) {
        Ok(p) => p.into_owned().into_bytes(),
        Err(_) => password.as_bytes().to_vec(),
    }
}

/// The verifier for `password` with this salt and iteration count.
pub fn verifier(password: &str, salt: &[u8], iterations: u32) -> String {
    let salted = hi(&normalize(password), salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

/// A fresh random 16-byte salt, as PostgreSQL uses.
pub fn new_salt() -> [u8; 16] {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source");
    salt
}

/// Whether `stored` (a role's `rolpassword`) is a SCRAM verifier of `password`.
pub fn matches(stored: &str, password: &str) -> bool {
    let Some(rest) = stored.strip_prefix("SCRAM-SHA-256$") else {
        return false;
    };
    let Some((params, _keys)) = rest.split_once('$') else {
        return false;
    };
    let Some((iter, salt)) = params.split_once(':') else {
        return false;
    };
    let (Ok(iter), Ok(salt)) = (iter.parse::<u32>(), B64.decode(salt)) else {
        return false;
    };
    if iter == 0 || iter > 10_000_000 {
        return false;
    }
    let mine = verifier(password, &salt, iter);
    // Constant time is not needed for a comparison on the controller, but cheap.
    mine.len() == stored.len()
        && mine
            .bytes()
            .zip(stored.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example password and salt ("pencil", W22ZaJ0SNY7soEsUEjb6gQ==,
    /// 4096 iterations); StoredKey and ServerKey as computed independently with
    /// PBKDF2-HMAC-SHA-256 from a standard library.
    #[test]
    fn known_vector() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = verifier("pencil", &salt, 4096);
        assert_eq!(
            v,
            "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        );
        assert!(matches(&v, "pencil"));
        assert!(!matches(&v, "pencil2"));
        assert!(!matches("md5abc", "pencil"));
    }

    #[test]
    fn fresh_salts_differ_but_both_match() {
        let a = verifier("s3cret", &new_salt(), ITERATIONS);
        let b = verifier("s3cret", &new_salt(), ITERATIONS);
        assert_ne!(a, b);
        assert!(matches(&a, "s3cret") && matches(&b, "s3cret"));
    }
}
