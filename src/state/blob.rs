//! Blob encoding shared by both backends: content is addressed by its sha256
//! and stored zlib-compressed, or raw when compression would not save space.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use super::StateError;

pub(super) const RAW: &str = "raw";
pub(super) const ZLIB: &str = "zlib";

pub(super) fn sha256_hex(content: &[u8]) -> String {
    let digest = Sha256::digest(content);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// `(encoding, stored bytes)` for `content`.
pub(super) fn encode(content: &[u8]) -> (&'static str, Vec<u8>) {
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(content.len() / 2 + 64),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    if enc.write_all(content).is_ok()
        && let Ok(packed) = enc.finish()
        && packed.len() < content.len()
    {
        return (ZLIB, packed);
    }
    (RAW, content.to_vec())
}

/// The original content, checked against the sha256 it is stored under.
pub(super) fn decode(sha256: &str, encoding: &str, data: Vec<u8>) -> Result<Vec<u8>, StateError> {
    let content = match encoding {
        RAW => data,
        ZLIB => {
            let mut out = Vec::with_capacity(data.len() * 3);
            flate2::read::ZlibDecoder::new(&data[..])
                .read_to_end(&mut out)
                .map_err(|e| StateError::Corrupt(format!("blob {sha256}: {e}")))?;
            out
        }
        other => {
            return Err(StateError::Corrupt(format!(
                "blob {sha256}: unknown encoding {other:?}"
            )));
        }
    };
    if sha256_hex(&content) != sha256 {
        return Err(StateError::Corrupt(format!(
            "blob {sha256}: content does not match its hash"
        )));
    }
    Ok(content)
}

/// Normalises a blob name given by a caller, refusing what cannot be a sha256.
pub(super) fn check_name(sha256: &str) -> Result<String, StateError> {
    let name = sha256.to_ascii_lowercase();
    if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(name)
    } else {
        Err(StateError::NotFound(format!("blob {sha256:?}")))
    }
}
