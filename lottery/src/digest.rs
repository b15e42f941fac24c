//! 32-byte digests and keys, written as 64 lowercase hex digits (PROTOCOL.md §2).

use std::fmt;

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
