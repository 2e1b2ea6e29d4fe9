//! The content checksum: per row, md5 over the row exactly as it travels in
//! PostgreSQL's binary COPY format (field count, then each field's length
//! and bytes); per table, the row count and two sums of the digests' 64-bit
//! halves (order-independent). The loader hashes the rows it sends; the
//! verifier hashes the rows `COPY … TO STDOUT (FORMAT binary)` returns, so
//! any row PostgreSQL lost, added or stored differently shows.

use md5::{Digest, Md5};

use super::types::PgType;

pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableSum {
    pub rows: u64,
    pub a: i128,
    pub b: i128,
}

impl TableSum {
    pub fn add_row(&mut self, row: &[u8]) {
        let d: [u8; 16] = Md5::digest(row).into();
        let (x, y) = d.split_at(8);
        self.rows += 1;
        self.a += i128::from(i64::from_be_bytes(x.try_into().expect("8 bytes")));
        self.b += i128::from(i64::from_be_bytes(y.try_into().expect("8 bytes")));
    }
}

pub fn row_md5(row: &[u8]) -> [u8; 16] {
    Md5::digest(row).into()
}

/// Splits a binary COPY stream, fed in arbitrary chunks, into rows.
#[derive(Default)]
pub struct RowSplitter {
    pending: Vec<u8>,
    header_done: bool,
    pub ended: bool,
}

impl RowSplitter {
    /// Calls `row` with each complete row (its bytes from the field count on).
    pub fn feed(&mut self, chunk: &[u8], mut row: impl FnMut(&[u8])) -> Result<(), String> {
        self.pending.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_done {
            if self.pending.len() < HEADER.len() {
                return Ok(());
            }
            if !self.pending.starts_with(&HEADER[..11]) {
                return Err("not a binary COPY stream".into());
            }
            let ext =
                u32::from_be_bytes(self.pending[15..19].try_into().expect("4 bytes")) as usize;
            if self.pending.len() < 19 + ext {
                return Ok(());
            }
            at = 19 + ext;
            self.header_done = true;
        }
        let buf = &self.pending;
        while !self.ended && buf.len() >= at + 2 {
            let n = i16::from_be_bytes([buf[at], buf[at + 1]]);
            if n == -1 {
                self.ended = true;
                at += 2;
                break;
            }
            let mut p = at + 2;
            let mut complete = true;
            for _ in 0..n {
                if buf.len() < p + 4 {
                    complete = false;
                    break;
                }
                let len = i32::from_be_bytes(buf[p..p + 4].try_into().expect("4 bytes"));
                p += 4;
                if len > 0 {
                    if buf.len() < p + len as usize {
                        complete = false;
                        break;
                    }
                    p += len as usize;
                }
            }
            if !complete {
                break;
            }
            row(&buf[at..p]);
            at = p;
        }
        self.pending.drain(..at);
        Ok(())
    }
}

/// The fields of one row: `None` for NULL.
pub fn fields(row: &[u8]) -> Vec<Option<&[u8]>> {
    let n = i16::from_be_bytes([row[0], row[1]]).max(0) as usize;
    let mut out = Vec::with_capacity(n);
    let mut p = 2;
    for _ in 0..n {
        let len = i32::from_be_bytes(row[p..p + 4].try_into().expect("4 bytes"));
        p += 4;
        if len < 0 {
            out.push(None);
        } else {
            out.push(Some(&row[p..p + len as usize]));
            p += len as usize;
        }
    }
    out
}

/// A key field for messages: integers and text as such, anything else in hex.
pub fn key_text(ty: PgType, field: Option<&[u8]>) -> String {
    let Some(b) = field else {
        return "NULL".into();
    };
    match (ty, b.len()) {
        (PgType::Int8, 8) => i64::from_be_bytes(b.try_into().expect("8")).to_string(),
        (PgType::Int4, 4) => i32::from_be_bytes(b.try_into().expect("4")).to_string(),
        (PgType::Int2, 2) => i16::from_be_bytes(b.try_into().expect("2")).to_string(),
        (t, _) if t.is_text() => format!("{:?}", String::from_utf8_lossy(b)),
        _ => format!("x'{}'", super::value::hex(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_split_across_chunks() {
        let mut stream = HEADER.to_vec();
        // (1, NULL) and (2, 'ab')
        for (n, s) in [(1i64, None), (2, Some(&b"ab"[..]))] {
            stream.extend_from_slice(&2i16.to_be_bytes());
            stream.extend_from_slice(&8i32.to_be_bytes());
            stream.extend_from_slice(&n.to_be_bytes());
            match s {
                None => stream.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(s) => {
                    stream.extend_from_slice(&(s.len() as i32).to_be_bytes());
                    stream.extend_from_slice(s);
                }
            }
        }
        stream.extend_from_slice(&(-1i16).to_be_bytes());
        for cut in 1..stream.len() {
            let mut sp = RowSplitter::default();
            let mut rows = Vec::new();
            sp.feed(&stream[..cut], |r| rows.push(r.to_vec())).unwrap();
            sp.feed(&stream[cut..], |r| rows.push(r.to_vec())).unwrap();
            assert!(sp.ended);
            assert_eq!(rows.len(), 2);
            let f = fields(&rows[1]);
            assert_eq!(key_text(PgType::Int8, f[0]), "2");
            assert_eq!(key_text(PgType::Text, f[1]), "\"ab\"");
            assert_eq!(fields(&rows[0])[1], None);
        }
    }
}
