//! A drand beacon verified offline against pinned chain information.
//!
//! The hall reads (from a phone, a printout, any untrusted channel) a drand round number and its
//! BLS signature; the ceremony PC checks the signature against the chain's public key pinned
//! below, with no network, and takes the round's randomness `SHA-256(signature)` as the beacon
//! value. The beacon's source records chain, round and signature, so anyone can check it again.
//!
//! Pinned chain: League of Entropy **quicknet** (scheme `bls-unchained-g1-rfc9380`),
//! `https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/info`.

use drand_verify::{G2PubkeyRfc, Pubkey, derive_randomness};

/// Pinned information of one drand chain.
pub struct Chain {
    /// Short name used on the command line.
    pub name: &'static str,
    /// Chain hash (hex).
    pub hash: &'static str,
    /// Group public key (hex, compressed G2).
    pub public_key: &'static str,
    /// Unix time of round 1.
    pub genesis_time: u64,
    /// Seconds between rounds.
    pub period: u64,
}

/// League of Entropy quicknet.
pub const QUICKNET: Chain = Chain {
    name: "quicknet",
    hash: "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    public_key: "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
    genesis_time: 1_692_803_367,
    period: 3,
};

/// The chains this build knows.
pub const CHAINS: [&Chain; 1] = [&QUICKNET];

/// Why a drand round was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrandError {
    /// Unknown chain name.
    #[error("unknown drand chain {0:?}; this build pins: quicknet")]
    UnknownChain(String),
    /// Not hex.
    #[error("the signature is not hex: {0}")]
    NotHex(String),
    /// Not a valid point or wrong length.
    #[error("the signature is not a valid BLS signature: {0}")]
    BadSignature(String),
    /// The signature does not verify.
    #[error(
        "the BLS signature does not verify for {chain} round {round}: wrong round number or signature (mistyped?)"
    )]
    Mismatch {
        /// Chain.
        chain: &'static str,
        /// Round.
        round: u64,
    },
}

/// Looks up a pinned chain.
pub fn chain(name: &str) -> Result<&'static Chain, DrandError> {
    CHAINS
        .iter()
        .copied()
        .find(|c| c.name == name)
        .ok_or_else(|| DrandError::UnknownChain(name.to_string()))
}

/// Unix time at which a round was published.
pub fn round_time(c: &Chain, round: u64) -> u64 {
    c.genesis_time + round.saturating_sub(1) * c.period
}

/// Verifies a round's signature; returns the round's randomness (`SHA-256(signature)`).
pub fn verify(c: &Chain, round: u64, signature_hex: &str) -> Result<[u8; 32], DrandError> {
    let sig: String = signature_hex
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let sig = hex::decode(&sig).map_err(|e| DrandError::NotHex(e.to_string()))?;
    let pk_bytes: [u8; 96] = hex::decode(c.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| DrandError::BadSignature("pinned key unreadable".into()))?;
    let pk =
        G2PubkeyRfc::from_fixed(pk_bytes).map_err(|e| DrandError::BadSignature(e.to_string()))?;
    match pk.verify(round, b"", &sig) {
        Ok(true) => Ok(derive_randomness(&sig)),
        Ok(false) => Err(DrandError::Mismatch {
            chain: c.name,
            round,
        }),
        Err(e) => Err(DrandError::BadSignature(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// quicknet round 123, from drand-verify's own tests
    /// (`https://api3.drand.sh/52db9ba7…e971/public/123`).
    const SIG_123: &str = "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92";

    #[test]
    fn quicknet_round_123_verifies_offline() {
        let r = verify(&QUICKNET, 123, SIG_123);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(
            r.unwrap_or_default(),
            lottery::encoding::sha256(&hex::decode(SIG_123).unwrap_or_default()).0
        );
        assert!(matches!(
            verify(&QUICKNET, 124, SIG_123),
            Err(DrandError::Mismatch { .. })
        ));
        let mut bad = SIG_123.to_string();
        bad.replace_range(10..12, "00");
        assert!(verify(&QUICKNET, 123, &bad).is_err());
        assert_eq!(round_time(&QUICKNET, 1), 1_692_803_367);
        assert!(chain("mainnet").is_err());
    }
}
