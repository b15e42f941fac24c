//! 32-byte digests and keys, written as 64 lowercase hex digits (PROTOCOL.md §2).

use std::fmt;

/// Value of each lowercase hex digit; 0xff for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// A SHA-256 output, a seed or a purpose key: always exactly 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The 64-digit lowercase hex form used in every published file.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 hex digits (lowercase, as published). Upper case is refused so that
    /// every digest has exactly one written form.
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        if s.len() != 64 {
            return Err(HexError::Length { found: s.len() });
        }
        // Fast path: every digit looked up in a table; any other byte falls through to the
        // checks below, which name the error.
        let b = s.as_bytes();
        let mut out = [0u8; 32];
        let mut bad = 0u8;
        for (i, o) in out.iter_mut().enumerate() {
            let hi = HEX_VALUE[usize::from(b[2 * i])];
            let lo = HEX_VALUE[usize::from(b[2 * i + 1])];
            bad |= hi | lo;
            *o = (hi << 4) | (lo & 0x0f);
        }
        if bad & 0xf0 == 0 {
            return Ok(Digest(out));
        }
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(HexError::NotLowercase);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| HexError::NotHex)?;
        Ok(Digest(out))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why a hex string is not a valid 32-byte digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// Not 64 characters.
    #[error("expected 64 hex digits, found {found} characters")]
    Length {
        /// Characters found.
        found: usize,
    },
    /// Upper-case digits are not the canonical form.
    #[error("hex digits must be lowercase")]
    NotLowercase,
    /// A character outside 0-9a-f.
    #[error("not a hex string")]
    NotHex,
}

/// Parses lowercase hex of any even length (signatures, public keys, beacon bytes).
pub fn parse_hex_bytes(s: &str) -> Result<Vec<u8>, HexError> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(HexError::NotLowercase);
    }
    hex::decode(s).map_err(|_| HexError::NotHex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_hex_table_agrees_with_the_hex_crate() {
        let d = Digest(core::array::from_fn(|i| (i as u8).wrapping_mul(37)));
        assert_eq!(Digest::from_hex(&d.to_hex()), Ok(d));
        for bad in [
            "G".repeat(64),
            "A".repeat(64),
            format!("{}g", "0".repeat(63)),
            format!("{} ", "f".repeat(63)),
        ] {
            let mut out = [0u8; 32];
            assert!(Digest::from_hex(&bad).is_err());
            assert!(
                hex::decode_to_slice(&bad, &mut out).is_err()
                    || bad.bytes().any(|b| b.is_ascii_uppercase())
            );
        }
        assert_eq!(
            Digest::from_hex(&"A".repeat(64)),
            Err(HexError::NotLowercase)
        );
        assert_eq!(Digest::from_hex(&"z".repeat(64)), Err(HexError::NotHex));
    }

    #[test]
    fn hex_round_trip_and_refusals() {
        let d = Digest([0xab; 32]);
        assert_eq!(Digest::from_hex(&d.to_hex()), Ok(d));
        assert_eq!(
            Digest::from_hex(&d.to_hex().to_uppercase()),
            Err(HexError::NotLowercase)
        );
        assert_eq!(Digest::from_hex("ab"), Err(HexError::Length { found: 2 }));
        assert_eq!(Digest::from_hex(&"zz".repeat(32)), Err(HexError::NotHex));
    }
}
