//! Commitments, the master seed and purpose keys (PROTOCOL.md §4).

use crate::digest::Digest;
use crate::encoding::{Domain, Hasher};

/// `commit = H(tag "commit", round id, input root, party id, share)` (PROTOCOL.md §4.1).
pub fn commitment(
    domain: Domain,
    round_id: &str,
    input_root: &Digest,
    party: &str,
    share: &[u8; 32],
) -> Digest {
    let mut h = Hasher::new(&domain.tag("commit"));
    h.field(round_id.as_bytes())
        .field(input_root.as_bytes())
        .field(party.as_bytes())
        .field(share);
    h.finish()
}

/// One revealed share, named by its party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reveal {
    /// Party id (ASCII, unique in the round).
    pub party: String,
    /// The 32-byte secret share.
    pub share: [u8; 32],
}

/// Inputs of the master seed (PROTOCOL.md §4.3).
pub struct SeedInputs<'a> {
    /// Real or rehearsal.
    pub domain: Domain,
    /// The round id.
    pub round_id: &'a str,
    /// SHA-256 of the policy file bytes.
    pub policy_hash: &'a Digest,
    /// The input root.
    pub input_root: &'a Digest,
    /// Number of leaves of the input tree.
    pub tree_size: u64,
    /// The beacon value bytes.
    pub beacon: &'a [u8],
    /// Every party's share; order does not matter, they are sorted by party id (bytewise).
    pub reveals: &'a [Reveal],
}

/// `seed = H(tag "seed", round id, policy hash, input root, u64be(tree size), beacon,
/// u64be(k), party_1, share_1, …, party_k, share_k)` with parties in ascending bytewise order.
pub fn master_seed(inp: &SeedInputs<'_>) -> Digest {
    let mut sorted: Vec<&Reveal> = inp.reveals.iter().collect();
    sorted.sort_by(|a, b| a.party.as_bytes().cmp(b.party.as_bytes()));
    let mut h = Hasher::new(&inp.domain.tag("seed"));
    h.field(inp.round_id.as_bytes())
        .field(inp.policy_hash.as_bytes())
        .field(inp.input_root.as_bytes())
        .field_u64(inp.tree_size)
        .field(inp.beacon)
        .field_u64(sorted.len() as u64);
    for r in sorted {
        h.field(r.party.as_bytes()).field(&r.share);
    }
    h.finish()
}

/// `key = H(tag "purpose", master seed, label)` — one key per random purpose, e.g. `lottery`,
/// `lottery/school/S01`, `classes/S01` (PROTOCOL.md §4.4).
pub fn purpose_key(domain: Domain, seed: &Digest, label: &str) -> Digest {
    let mut h = Hasher::new(&domain.tag("purpose"));
    h.field(seed.as_bytes()).field(label.as_bytes());
    h.finish()
}
