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

/// Leaves per block of [`root_by_blocks`]'s callers: 4,096 leaf hashes (128 KiB) at a time.
pub const BLOCK: usize = 1 << 12;

/// The root of `n` leaves computed block by block, in parallel, without holding the leaves:
/// `leaves(j, out)` appends to `out` the hashes of leaves `j·block .. min((j+1)·block, n)`.
/// `block` is a power of two. A block of `2^k` leaves starting at a multiple of `2^k` is a whole
/// subtree of the RFC 6962 tree, and the tree over the blocks' roots (the last one possibly
/// smaller) splits exactly as the tree over the leaves does above them, so the root is the
/// same as [`root_from_leaf_hashes`] over all the leaves (a property test checks it).
pub fn root_by_blocks(
    n: usize,
    block: usize,
    leaves: impl Fn(usize, &mut Vec<Digest>) + Sync,
) -> Digest {
    debug_assert!(block.is_power_of_two(), "block {block}");
    // One block per piece of work: the roots are hashed beside other work, and a thread that
    // finishes its own must find blocks left to take.
    let roots: Vec<Digest> = (0..n.div_ceil(block.max(1)))
        .into_par_iter()
        .with_max_len(1)
        .map_init(
            || Vec::with_capacity(block),
            |buf, j| {
                buf.clear();
                leaves(j, buf);
                debug_assert_eq!(buf.len(), block.min(n - j * block), "block {j}");
                root_from_leaf_hashes(buf)
            },
        )
        .collect();
    root_from_leaf_hashes(&roots)
}

/// The root of a tree whose leaf hashes arrive in order, a few at a time (the verifier reads a
/// large file in pieces). Each whole block of [`BLOCK`] leaves, aligned as in [`root_by_blocks`],
/// is hashed to its subtree root as it completes (the blocks of one [`push`](Self::push) in
/// parallel); only the leaves of the unfinished block and one subtree root per level are held.
/// An RFC 6962 tree over `n` leaves is the perfect subtrees of `n`'s binary form, largest first,
/// joined from the right, which is what [`finish`](Self::finish) does (a property test checks
/// it against [`root_from_leaf_hashes`]).
pub struct Streamed {
    block: usize,
    /// Leaves of the unfinished block (it starts at a multiple of `block`).
    pending: Vec<Digest>,
    /// Roots of perfect subtrees, their sizes strictly decreasing.
    peaks: Vec<(u64, Digest)>,
    n: u64,
}

impl Default for Streamed {
    fn default() -> Self {
        Streamed::with_block(BLOCK)
    }
}

impl Streamed {
    /// A tree of blocks of `block` leaves (a power of two).
    pub(crate) fn with_block(block: usize) -> Self {
        debug_assert!(block.is_power_of_two(), "block {block}");
        Streamed {
            block,
            pending: Vec::with_capacity(block),
            peaks: Vec::new(),
            n: 0,
        }
    }

    /// Appends leaf hashes.
    pub fn push(&mut self, leaves: &[Digest]) {
        self.n += leaves.len() as u64;
        let mut rest = leaves;
        if !self.pending.is_empty() {
            let k = (self.block - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..k]);
            rest = &rest[k..];
            if self.pending.len() == self.block {
                let r = root_from_leaf_hashes(&self.pending);
                self.pending.clear();
                self.peak(r);
            }
        }
        let whole = rest.len() / self.block * self.block;
        let roots: Vec<Digest> = rest[..whole]
            .par_chunks(self.block)
            .with_max_len(1)
            .map(root_from_leaf_hashes)
            .collect();
        for r in roots {
            self.peak(r);
        }
        self.pending.extend_from_slice(&rest[whole..]);
    }

    /// Adds the root of a whole block, joining equal subtrees.
    fn peak(&mut self, mut root: Digest) {
        let mut size = self.block as u64;
        while let Some(&(s, left)) = self.peaks.last()
            && s == size
        {
            self.peaks.pop();
            root = node_hash(&left, &root);
            size *= 2;
        }
        self.peaks.push((size, root));
    }

    /// The root and the number of leaves.
    pub fn finish(mut self) -> (Digest, u64) {
        if !self.pending.is_empty() {
            let r = root_from_leaf_hashes(&self.pending);
            self.peaks.push((self.pending.len() as u64, r));
        }
        let Some((_, mut acc)) = self.peaks.pop() else {
            return (root_from_leaf_hashes(&[]), 0);
        };
        while let Some((_, left)) = self.peaks.pop() {
            acc = node_hash(&left, &acc);
        }
        (acc, self.n)
    }
}

/// The root of a tree whose leaves are `fixed`, then every line of each text in `texts` in order
/// (the text between line breaks; a final line without `\n` counts, an empty text after the
/// last `\n` does not). `hash(text, line, scratch)` is a line's leaf hash: `text` its index in
/// `texts`, `line` its bytes with the `\n` that ends it (none for a final line without one).
/// Hashed block by block ([`root_by_blocks`]); returns the root and the number of leaves.
pub fn root_of_lines(
    fixed: &[Digest],
    texts: &[&[u8]],
    hash: impl Fn(usize, &[u8], &mut Vec<u8>) -> Digest + Sync,
) -> (Digest, u64) {
    root_of_lines_in_blocks(fixed, texts, BLOCK, 1 << 20, hash)
}

/// [`root_of_lines`] with blocks of `block` leaves (a power of two), each text's line breaks
/// counted in parallel chunks of about `chunk_bytes` (both small in the tests).
pub(crate) fn root_of_lines_in_blocks(
    fixed: &[Digest],
    texts: &[&[u8]],
    block: usize,
    chunk_bytes: usize,
    hash: impl Fn(usize, &[u8], &mut Vec<u8>) -> Digest + Sync,
) -> (Digest, u64) {
    // Each text's first leaf index, its number of lines, and the byte offsets of the lines that
    // start a block (or start the text).
    let mut first = fixed.len();
    let spans: Vec<TextLines<'_>> = texts
        .iter()
        .map(|body| {
            let t = TextLines::new(body, first, block, chunk_bytes);
            first += t.lines;
            t
        })
        .collect();
    let n = first;
    let root = root_by_blocks(n, block, |j, out| {
        let (g0, g1) = (j * block, ((j + 1) * block).min(n));
        out.extend_from_slice(fixed.get(g0..g1.min(fixed.len())).unwrap_or(&[]));
        let mut scratch = Vec::with_capacity(512);
        for (k, t) in spans.iter().enumerate() {
            let (a, b) = (g0.max(t.first), g1.min(t.first + t.lines));
            if a >= b {
                continue;
            }
            let (start, end) = (t.offset(a - t.first), t.offset(b - t.first));
            let mut at = start;
            while at < end {
                let stop = memchr::memchr(b'\n', &t.body[at..end]).map_or(end, |p| at + p + 1);
                out.push(hash(k, &t.body[at..stop], &mut scratch));
                at = stop;
            }
        }
    });
    (root, n as u64)
}

/// The lines of one text of [`root_of_lines`]: how many, and where the block-starting ones
/// begin.
struct TextLines<'a> {
    body: &'a [u8],
    /// Leaf index of the first line.
    first: usize,
    lines: usize,
    /// Local index of the first line that starts a block after line 0 (`block` apart from there).
    t0: usize,
    block: usize,
    /// Byte offsets of lines `t0`, `t0 + block`, … (those that exist).
    starts: Vec<usize>,
}

impl<'a> TextLines<'a> {
    fn new(body: &'a [u8], first: usize, block: usize, chunk_bytes: usize) -> Self {
        // The first multiple of `block` after `first`, as a local line index (not 0: line 0 is
        // found without a search).
        let t0 = match (block - first % block) % block {
            0 => block,
            d => d,
        };
        let (lines, starts) = crate::round::line_starts(body, t0, block, chunk_bytes);
        TextLines {
            body,
            first,
            lines,
            t0,
            block,
            starts,
        }
    }

    /// Byte offset of local line `t`, which is 0, `lines` (the end), or a block start.
    fn offset(&self, t: usize) -> usize {
        if t == 0 {
            0
        } else if t >= self.lines {
            self.body.len()
        } else {
            self.starts
                .get((t - self.t0) / self.block)
                .copied()
                .unwrap_or(self.body.len())
        }
    }
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
        #![proptest_config(ProptestConfig::with_cases(256))]
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

        /// Pushed in any cuts, at any block size, the streamed root is the root over all the
        /// leaves.
        #[test]
        fn streamed_root_is_the_root(n in 0usize..300, seed in any::<u8>(), k in 0u32..6, cuts in proptest::collection::vec(0usize..40, 0..12)) {
            let leaves: Vec<Digest> = (0..n)
                .map(|i| leaf_hash(&[seed, (i % 251) as u8, (i / 251) as u8]))
                .collect();
            let mut t = Streamed::with_block(1 << k);
            let mut rest = &leaves[..];
            for c in cuts {
                let c = c.min(rest.len());
                t.push(&rest[..c]);
                rest = &rest[c..];
            }
            t.push(rest);
            prop_assert_eq!(t.finish(), (root_from_leaf_hashes(&leaves), n as u64));
        }

        /// Block by block, at any block size, is the root over all the leaves.
        #[test]
        fn root_by_blocks_is_the_root(n in 0usize..300, seed in any::<u8>(), k in 0u32..6) {
            let leaves: Vec<Digest> = (0..n).map(|i| leaf_hash(&[seed, i as u8, (i >> 8) as u8])).collect();
            let block = 1usize << k;
            let by_blocks = root_by_blocks(n, block, |j, out| {
                out.extend_from_slice(&leaves[j * block..((j + 1) * block).min(n)]);
            });
            prop_assert_eq!(by_blocks, root_from_leaf_hashes(&leaves));
        }

        /// The lines of several texts after fixed leaves, at any block size, are the leaves a
        /// plain split gives (`str::lines`, with the text index and the line break passed on).
        #[test]
        fn root_of_lines_is_the_root_of_the_split_lines(
            texts in proptest::collection::vec("[ab\\n]{0,40}", 0..4),
            fixed in 0usize..6,
            k in 0u32..5,
            chunk in 1usize..12,
        ) {
            let fixed: Vec<Digest> = (0..fixed).map(|i| leaf_hash(&[i as u8])).collect();
            let hash = |t: usize, line: &[u8], _: &mut Vec<u8>| {
                leaf_hash(&[&[t as u8][..], line].concat())
            };
            let mut want = fixed.clone();
            for (t, text) in texts.iter().enumerate() {
                for line in text.as_bytes().split_inclusive(|b| *b == b'\n') {
                    want.push(hash(t, line, &mut Vec::new()));
                }
            }
            let bodies: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
            let got = root_of_lines_in_blocks(&fixed, &bodies, 1 << k, chunk, hash);
            prop_assert_eq!(got, (root_from_leaf_hashes(&want), want.len() as u64));
        }
    }
}
