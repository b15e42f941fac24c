//! The input and results commitments: RFC 6962 / RFC 9162 Merkle trees (PROTOCOL.md §3).
//!
//! `leaf hash = SHA-256(0x00 ‖ data)`, `node hash = SHA-256(0x01 ‖ left ‖ right)`, the empty tree
//! hashes to `SHA-256("")`, and a tree of `n > 1` leaves splits at the largest power of two below
//! `n`. Inclusion proofs are RFC 9162 §2.1.3 audit paths.

use crate::digest::Digest;
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

/// Below this many nodes a level is hashed on one thread (thread hand-off would cost more).
const PARALLEL_MIN: usize = 1 << 14;

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Digest(h.finalize().into())
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut m = [0u8; 65];
    m[0] = 1;
    m[1..33].copy_from_slice(&left.0);
    m[33..].copy_from_slice(&right.0);
    crate::encoding::sha256_short(&m)
}

/// The next level up: adjacent pairs hashed, a lone last node promoted unchanged. Repeating this
/// is exactly RFC 6962's recursive split at the largest power of two.
fn level_up(level: &[Digest]) -> Vec<Digest> {
    let pair = |c: &[Digest]| {
        if c.len() == 2 {
            node_hash(&c[0], &c[1])
        } else {
            c[0]
        }
    };
    if level.len() >= PARALLEL_MIN {
        level.par_chunks(2).map(pair).collect()
    } else {
        level.chunks(2).map(pair).collect()
    }
}

/// The root over leaf hashes (already `leaf_hash`ed).
pub fn root_from_leaf_hashes(leaves: &[Digest]) -> Digest {
    if leaves.is_empty() {
        return Digest(Sha256::digest([]).into());
    }
    let mut level = level_up(leaves);
    if leaves.len() == 1 {
        return leaves[0];
    }
    while level.len() > 1 {
        level = level_up(&level);
    }
    level[0]
}

/// Hashes leaf data in parallel (the result does not depend on the thread count).
pub fn leaf_hashes<T: AsRef<[u8]> + Sync>(data: &[T]) -> Vec<Digest> {
    if data.len() >= PARALLEL_MIN {
        data.par_iter().map(|d| leaf_hash(d.as_ref())).collect()
    } else {
        data.iter().map(|d| leaf_hash(d.as_ref())).collect()
    }
}

/// A tree kept whole in memory, for proofs.
pub struct Tree {
    /// levels[0] = leaf hashes, last level = [root].
    levels: Vec<Vec<Digest>>,
}

impl Tree {
    /// Builds every level from the leaf hashes.
    pub fn new(leaves: Vec<Digest>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let next = level_up(levels.last().map(Vec::as_slice).unwrap_or(&[]));
            levels.push(next);
        }
        Tree { levels }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// The root.
    pub fn root(&self) -> Digest {
        root_from_leaf_hashes_levels(&self.levels)
    }

    /// The RFC 9162 inclusion proof (audit path, leaf-side first) for leaf `index`, or `None` when
    /// out of range.
    pub fn inclusion_proof(&self, index: u64) -> Option<Vec<Digest>> {
        let n = self.size();
        if index >= n {
            return None;
        }
        let mut path = Vec::new();
        let mut idx = index as usize;
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            let sibling = idx ^ 1;
            if sibling < level.len() {
                path.push(level[sibling]);
            }
            idx /= 2;
        }
        Some(path)
    }
}

fn root_from_leaf_hashes_levels(levels: &[Vec<Digest>]) -> Digest {
    match levels.last() {
        Some(top) if top.len() == 1 => top[0],
        _ => Digest(Sha256::digest([]).into()),
    }
}

/// Why an inclusion proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The index is not inside the tree.
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange {
        /// Claimed index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The path has the wrong number of hashes for this index and size.
    #[error("the proof has the wrong length")]
    WrongLength,
    /// The recomputed root differs.
    #[error("root mismatch: expected {expected}, computed {found}")]
    RootMismatch {
        /// The committed root.
        expected: Digest,
        /// The root the proof leads to.
        found: Digest,
    },
}

/// RFC 9162 §2.1.3.2: verifies that `leaf` (a leaf hash) sits at `index` in the tree of `size`
/// leaves with root `root`.
pub fn verify_inclusion(
    leaf: &Digest,
    index: u64,
    size: u64,
    path: &[Digest],
    root: &Digest,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            found: r,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The eight leaves of the Certificate Transparency reference tests (RFC 6962 test data,
    /// google/certificate-transparency `merkle_tree_test.cc`, also transparency-dev/merkle
    /// `testonly/constants.go`).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    /// Roots of the trees of the first 1..=8 leaves (same source).
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn leaf_hashes_n(n: usize) -> Vec<Digest> {
        LEAVES[..n]
            .iter()
            .map(|h| leaf_hash(&hex::decode(h).unwrap_or_default()))
            .collect()
    }

    fn d(h: &str) -> Digest {
        Digest::from_hex(h).unwrap_or_default()
    }

    #[test]
    fn empty_tree_root() {
        assert_eq!(
            root_from_leaf_hashes(&[]).to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn ct_reference_roots() {
        for n in 1..=8 {
            let leaves = leaf_hashes_n(n);
            assert_eq!(
                root_from_leaf_hashes(&leaves).to_hex(),
                ROOTS[n - 1],
                "size {n}"
            );
            assert_eq!(
                Tree::new(leaves).root().to_hex(),
                ROOTS[n - 1],
                "tree size {n}"
            );
        }
    }

    /// Inclusion proofs of the CT reference tests: (leaf index, tree size, path).
    #[test]
    fn ct_reference_inclusion_proofs() {
        let cases: [(u64, usize, &[&str]); 4] = [
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, want) in cases {
            let leaves = leaf_hashes_n(size);
            let tree = Tree::new(leaves.clone());
            let path = tree.inclusion_proof(index).unwrap_or_default();
            let want: Vec<Digest> = want.iter().map(|h| d(h)).collect();
            assert_eq!(path, want, "proof for leaf {index} of {size}");
            let root = d(ROOTS[size - 1]);
            assert_eq!(
                verify_inclusion(&leaves[index as usize], index, size as u64, &path, &root),
                Ok(())
            );
        }
    }

    #[test]
    fn mutated_proofs_are_rejected() {
        let leaves = leaf_hashes_n(7);
        let tree = Tree::new(leaves.clone());
        let root = tree.root();
        for i in 0..7u64 {
            let path = tree.inclusion_proof(i).unwrap_or_default();
            let leaf = leaves[i as usize];
            assert!(verify_inclusion(&leaf, i, 7, &path, &root).is_ok());
            // wrong index, wrong size, truncated, extended, flipped hash, wrong leaf
            assert!(verify_inclusion(&leaf, (i + 1) % 7, 7, &path, &root).is_err());
            // (a wrong size with the same path shape may still reach the root: the size is
            // bound by the signed checkpoint, not by the path)
            assert!(verify_inclusion(&leaf, i, 2, &path, &root).is_err());
            assert!(verify_inclusion(&leaf, i, 7, &path[..path.len() - 1], &root).is_err());
            let mut longer = path.clone();
            longer.push(root);
            assert!(verify_inclusion(&leaf, i, 7, &longer, &root).is_err());
            let mut flipped = path.clone();
            flipped[0].0[0] ^= 1;
            assert!(verify_inclusion(&leaf, i, 7, &flipped, &root).is_err());
            let other = leaves[((i + 3) % 7) as usize];
            assert!(verify_inclusion(&other, i, 7, &path, &root).is_err());
            assert!(verify_inclusion(&leaf, 7, 7, &path, &root).is_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn every_proof_verifies(n in 1usize..300, seed in any::<u8>()) {
            let leaves: Vec<Digest> = (0..n).map(|i| leaf_hash(&[seed, i as u8, (i >> 8) as u8])).collect();
            let tree = Tree::new(leaves.clone());
            let root = root_from_leaf_hashes(&leaves);
            prop_assert_eq!(tree.root(), root);
            for i in [0, n / 2, n - 1] {
                let path = tree.inclusion_proof(i as u64).unwrap_or_default();
                prop_assert!(verify_inclusion(&leaves[i], i as u64, n as u64, &path, &root).is_ok());
            }
        }
    }
}
