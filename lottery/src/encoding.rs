//! The one hash encoding of protocol v1 (PROTOCOL.md §2).
//!
//! `H(tag, f1, …, fn) = SHA-256( u32be(len(tag)) ‖ tag ‖ u32be(len(f1)) ‖ f1 ‖ … )`.
//! Every item — the domain tag included — is written as a 4-byte big-endian length followed by
//! its bytes, so no two different field lists can produce the same hash input.

use crate::digest::Digest;
use sha2::{Digest as _, Sha256};

/// The domain a round lives in. A rehearsal uses different tags, so none of its hashes, seeds or
/// signatures can ever pass for a real round's (PROTOCOL.md §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A real draw: tags start `fairdraw/v1/`.
    Real,
    /// A rehearsal (演练): tags start `fairdraw/v1/rehearsal/`.
    Rehearsal,
}

impl Domain {
    /// The tag prefix of this domain.
    pub fn prefix(self) -> &'static str {
        match self {
            Domain::Real => "fairdraw/v1/",
            Domain::Rehearsal => "fairdraw/v1/rehearsal/",
        }
    }

    /// The full domain tag for a purpose name, e.g. `fairdraw/v1/seed`.
    pub fn tag(self, name: &str) -> String {
        format!("{}{}", self.prefix(), name)
    }

    /// The word used in files: `real` or `rehearsal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Real => "real",
            Domain::Rehearsal => "rehearsal",
        }
    }

    /// Parses `real` or `rehearsal`.
    pub fn parse(s: &str) -> Option<Domain> {
        match s {
            "real" => Some(Domain::Real),
            "rehearsal" => Some(Domain::Rehearsal),
            _ => None,
        }
    }
}

/// An incremental `H(tag, …)`: push fields one by one, then [`Hasher::finish`].
#[derive(Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Starts a hash with the full domain tag (e.g. `fairdraw/v1/seed`).
    pub fn new(tag: &str) -> Self {
        let mut h = Hasher(Sha256::new());
        h.field(tag.as_bytes());
        h
    }

    /// Appends one length-prefixed field.
    ///
    /// # Panics
    /// Never in practice: a field longer than 4 GiB is refused long before it gets here (files
    /// are limited by the parsers), and is clamped rather than truncated silently.
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.0.update(len.to_be_bytes());
        self.0.update(bytes);
        self
    }

    /// Appends a u64 field as its 8-byte big-endian form (itself length-prefixed).
    /// As [`Hasher::field`], passing the length and a short field to the hash in one piece (one
    /// copy into the block buffer instead of two; the same bytes are hashed).
    pub fn field_buffered(&mut self, bytes: &[u8]) -> &mut Self {
        let mut buf = [0u8; 128];
        if bytes.len() > buf.len() - 4 {
            return self.field(bytes);
        }
        let len = bytes.len() as u32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        buf[4..4 + bytes.len()].copy_from_slice(bytes);
        self.0.update(&buf[..4 + bytes.len()]);
        self
    }

    pub fn field_u64(&mut self, v: u64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    /// The digest.
    pub fn finish(self) -> Digest {
        Digest(self.0.finalize().into())
    }
}

/// `H(tag, fields…)` in one call.
pub fn hash_fields(tag: &str, fields: &[&[u8]]) -> Digest {
    let mut h = Hasher::new(tag);
    for f in fields {
        h.field(f);
    }
    h.finish()
}

/// The bytes `H` would hash, for documentation and test vectors.
pub fn encode_fields(tag: &str, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in std::iter::once(tag.as_bytes()).chain(fields.iter().copied()) {
        push_field(&mut out, f);
    }
    out
}

/// Plain SHA-256 of bytes (file hashes in the manifest).
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest(Sha256::digest(bytes).into())
}

/// Merkle leaves whose data is `enc(tag, fixed…, fields…)` (PROTOCOL.md §2–§3): the bytes
/// `0x00 ‖ enc(tag, fixed…)` are kept once, and each leaf appends its length-prefixed fields in a
/// scratch buffer that is hashed in one piece ([`sha256_short`]).
pub struct LeafEncoder {
    prefix: Vec<u8>,
}

impl LeafEncoder {
    /// Leaves tagged `tag`, each starting with the `fixed` fields.
    pub fn new(tag: &str, fixed: &[&[u8]]) -> Self {
        let mut prefix = vec![0u8];
        for f in std::iter::once(tag.as_bytes()).chain(fixed.iter().copied()) {
            push_field(&mut prefix, f);
        }
        LeafEncoder { prefix }
    }

    /// The leaf hash of one leaf's remaining fields (`buf` is scratch space).
    pub fn hash<'a>(
        &self,
        buf: &mut Vec<u8>,
        fields: impl IntoIterator<Item = &'a [u8]>,
    ) -> Digest {
        buf.clear();
        buf.extend_from_slice(&self.prefix);
        for f in fields {
            push_field(buf, f);
        }
        sha256_short(buf)
    }
}

/// Appends `len(f) as u32 big-endian ‖ f`.
fn push_field(out: &mut Vec<u8>, f: &[u8]) {
    out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(f);
}

/// SHA-256 of a short message (at most 439 bytes: 7 blocks with the padding) with one call to the
/// block function and no streaming buffer; longer messages go to [`sha256`]. The same digest as
/// [`sha256`] — this is only the fast path for the millions of leaf and node hashes of the trees.
pub fn sha256_short(msg: &[u8]) -> Digest {
    // Message, the 0x80 byte, zeros, and the bit length in the last 8 bytes: in as few blocks as
    // that takes, each length with a buffer of its own size (zeroing 7 blocks for a 2-block
    // node hash cost more than its copy).
    match (msg.len() + 9).div_ceil(64) {
        1 => sha256_blocks::<1>(msg),
        2 => sha256_blocks::<2>(msg),
        3 => sha256_blocks::<3>(msg),
        4 => sha256_blocks::<4>(msg),
        5 => sha256_blocks::<5>(msg),
        6 => sha256_blocks::<6>(msg),
        7 => sha256_blocks::<7>(msg),
        _ => sha256(msg),
    }
}

/// [`sha256_short`] for a message that pads to exactly `B` blocks.
fn sha256_blocks<const B: usize>(msg: &[u8]) -> Digest {
    const IV: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    let n = msg.len();
    let mut blocks = [[0u8; 64]; B];
    let flat = blocks.as_flattened_mut();
    flat[..n].copy_from_slice(msg);
    flat[n] = 0x80;
    let end = B * 64;
    flat[end - 8..end].copy_from_slice(&((n as u64) * 8).to_be_bytes());
    let mut state = IV;
    sha2::block_api::compress256(&mut state, &blocks);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    Digest(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_short_is_sha256() {
        let msg: Vec<u8> = (0..600u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in 0..msg.len() {
            assert_eq!(
                sha256_short(&msg[..len]),
                sha256(&msg[..len]),
                "length {len}"
            );
        }
        // FIPS 180-2 "abc".
        assert_eq!(
            sha256_short(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn encoding_is_length_prefixed() {
        assert_eq!(
            encode_fields("t", &[b"ab", b""]),
            vec![0, 0, 0, 1, b't', 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0]
        );
        assert_eq!(
            hash_fields("t", &[b"ab", b""]),
            sha256(&encode_fields("t", &[b"ab", b""]))
        );
        // Moving a byte between fields changes the hash.
        assert_ne!(
            hash_fields("t", &[b"ab", b"c"]),
            hash_fields("t", &[b"a", b"bc"])
        );
    }

    #[test]
    fn rehearsal_tags_differ() {
        assert_eq!(Domain::Real.tag("seed"), "fairdraw/v1/seed");
        assert_eq!(Domain::Rehearsal.tag("seed"), "fairdraw/v1/rehearsal/seed");
    }
}
