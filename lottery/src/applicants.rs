//! The applicants of a frozen round, stored by column (docs/PERFORMANCE.md, "compact round").
//!
//! A million applicants as a `Vec` of records took ≈ 350 bytes each: a 224-byte record of inline
//! strings and list headers, plus two heap allocations (choices, categories) per applicant. Here
//! they are held in blocks of [`BLOCK`] rows, each block a set of columns: ids inline, the track
//! and rare strings as indices into small per-block tables, and every list (choices, categories,
//! groups, indicators, priority groups) as one array with row offsets — ≈ 180 bytes per applicant
//! with ten choices and no allocation per row. Blocks have a fixed size, so row `i` is row
//! `i % BLOCK` of block `i / BLOCK`: O(1) access, and a block is what one thread parses.
//!
//! Nothing here changes a published byte: rows read back through [`ApplicantRef`] exactly as
//! they were pushed.

use crate::digest::Digest;
use crate::round::{Applicant, Gender};
use compact_str::CompactString;

/// Rows per block (a power of two).
pub const BLOCK: usize = 1 << BLOCK_BITS;
const BLOCK_BITS: u32 = 12;
/// "None" in an index column.
const NONE: u32 = u32::MAX;

/// One applicant's public record, borrowed from [`Applicants`] or from an [`Applicant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicantRef<'a> {
    /// Application id.
    pub id: &'a str,
    /// Track (policy `tracks`).
    pub track: &'a str,
    /// Gender.
    pub gender: Gender,
    /// Policy groups, sorted.
    pub groups: &'a [CompactString],
    /// Ranked choices, best first: indices into the round's schools.
    pub choices: &'a [u32],
    /// (school index, category number, 1 = best) per school, sorted by school index.
    pub categories: &'a [(u32, u32)],
    /// Points indicator values, sorted by name.
    pub indicators: &'a [(CompactString, i64)],
    /// Family id linking twins and siblings.
    pub family: Option<&'a str>,
    /// Reserve-group memberships at schools, sorted: (school, group).
    pub priority: &'a [(CompactString, CompactString)],
    /// Manual placement (一人一案): (school, reason code).
    pub manual: Option<&'a (CompactString, CompactString)>,
    /// Grid coordinates in metres (rounded by the bureau), when known.
    pub xy: Option<(i64, i64)>,
    /// Salted hash of the private record (PROTOCOL.md §3.3).
    pub private_hash: &'a Digest,
}

impl ApplicantRef<'_> {
    /// An owned copy.
    pub fn to_applicant(&self) -> Applicant {
        Applicant {
            id: CompactString::new(self.id),
            track: CompactString::new(self.track),
            gender: self.gender,
            groups: self.groups.into(),
            choices: self.choices.into(),
            categories: self.categories.into(),
            indicators: self.indicators.into(),
            family: self.family.map(CompactString::new),
            priority: self.priority.into(),
            manual: self.manual.map(|m| Box::new(m.clone())),
            xy: self.xy,
            private_hash: *self.private_hash,
        }
    }

    /// Category at a school, given by its index in the round's schools (None when the applicant
    /// has none there).
    pub fn category_at(&self, school: u32) -> Option<u32> {
        category_in(self.categories, school)
    }
}

/// The category at `school` in a list of (school index, category) sorted by school.
fn category_in(categories: &[(u32, u32)], school: u32) -> Option<u32> {
    categories
        .binary_search_by_key(&school, |(s, _)| *s)
        .ok()
        .map(|i| categories[i].1)
}

impl Applicant {
    /// The record borrowed as an [`ApplicantRef`].
    pub fn view(&self) -> ApplicantRef<'_> {
        ApplicantRef {
            id: &self.id,
            track: &self.track,
            gender: self.gender,
            groups: &self.groups,
            choices: &self.choices,
            categories: &self.categories,
            indicators: &self.indicators,
            family: self.family.as_deref(),
            priority: &self.priority,
            manual: self.manual.as_deref(),
            xy: self.xy,
            private_hash: &self.private_hash,
        }
    }
}

/// A block would hold more list entries than its 32-bit offsets can count (more than 4 billion
/// in 4,096 rows: never a round that fits in memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many list entries for one block of 4,096 applicants")]
pub struct TooLarge;

/// A list column: every row's items in one array, row `r` at `items[start[r]..start[r + 1]]`.
#[derive(Debug, Clone)]
struct List<T> {
    start: Vec<u32>,
    items: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List {
            start: vec![0],
            items: Vec::new(),
        }
    }
}

impl<T> List<T> {
    fn with_capacity(rows: usize, items: usize) -> Self {
        let mut start = Vec::with_capacity(rows + 1);
        start.push(0);
        List {
            start,
            items: Vec::with_capacity(items),
        }
    }

    fn row(&self, r: usize) -> &[T] {
        &self.items[self.start[r] as usize..self.start[r + 1] as usize]
    }
}

/// An optional value column: an index per row into a table of the block's values ([`NONE`] for
/// none), where a value equal to one of the last eight entries shares it (a track is stored
/// once per block, a family's members once per family, a rare value once per row).
#[derive(Debug, Clone, Default)]
struct Interned<T> {
    index: Vec<u32>,
    table: Vec<T>,
}

impl<T: PartialEq> Interned<T> {
    fn get(&self, r: usize) -> Option<&T> {
        match self.index[r] {
            NONE => None,
            k => self.table.get(k as usize),
        }
    }

    /// Appends a row's value. A block has at most [`BLOCK`] rows, so the table at most
    /// [`BLOCK`] entries: an index always fits (and is never [`NONE`]).
    fn push(&mut self, v: Option<T>) {
        let k = match v {
            None => NONE,
            // Tracks repeat across rows; other values are rare or distinct: the last few
            // entries only are looked at, so a push stays O(1).
            Some(v) => match self.table.iter().rev().take(8).position(|t| *t == v) {
                Some(back) => (self.table.len() - 1 - back) as u32,
                None => {
                    self.table.push(v);
                    (self.table.len() - 1) as u32
                }
            },
        };
        self.index.push(k);
    }
}

/// Up to [`BLOCK`] consecutive applicants, by column.
#[derive(Debug, Clone, Default)]
pub(crate) struct Block {
    id: Vec<CompactString>,
    track: Interned<CompactString>,
    gender: Vec<Gender>,
    groups: List<CompactString>,
    choices: List<u32>,
    categories: List<(u32, u32)>,
    indicators: List<(CompactString, i64)>,
    family: Interned<CompactString>,
    priority: List<(CompactString, CompactString)>,
    manual: Interned<(CompactString, CompactString)>,
    xy: Vec<Option<(i64, i64)>>,
    private_hash: Vec<Digest>,
}

/// Where a block's list columns ended before a row was begun (see [`Block::try_row`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark([usize; 5]);

impl Block {
    /// A block for `rows` rows of about `choices` choices each.
    pub(crate) fn with_capacity(rows: usize, choices: usize) -> Self {
        Block::with_room(rows, [0, rows * choices, rows, 0, 0])
    }

    /// A block for `rows` rows and `items` list entries (groups, choices, categories,
    /// indicators, priority groups).
    pub(crate) fn with_room(rows: usize, items: [usize; 5]) -> Self {
        Block {
            id: Vec::with_capacity(rows),
            track: Interned {
                index: Vec::with_capacity(rows),
                table: Vec::new(),
            },
            gender: Vec::with_capacity(rows),
            groups: List::with_capacity(rows, items[0]),
            choices: List::with_capacity(rows, items[1]),
            categories: List::with_capacity(rows, items[2]),
            indicators: List::with_capacity(rows, items[3]),
            family: Interned {
                index: Vec::with_capacity(rows),
                table: Vec::new(),
            },
            priority: List::with_capacity(rows, items[4]),
            manual: Interned {
                index: Vec::with_capacity(rows),
                table: Vec::new(),
            },
            xy: Vec::with_capacity(rows),
            private_hash: Vec::with_capacity(rows),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.id.len()
    }

    pub(crate) fn get(&self, r: usize) -> ApplicantRef<'_> {
        ApplicantRef {
            id: &self.id[r],
            track: self.track.get(r).map_or("", |t| t.as_str()),
            gender: self.gender[r],
            groups: self.groups.row(r),
            choices: self.choices.row(r),
            categories: self.categories.row(r),
            indicators: self.indicators.row(r),
            family: self.family.get(r).map(|f| f.as_str()),
            priority: self.priority.row(r),
            manual: self.manual.get(r),
            xy: self.xy[r],
            private_hash: &self.private_hash[r],
        }
    }

    /// Runs `row`, which pushes one row's list items (from `Mark` on) and ends the row; when it
    /// fails, the items it pushed are taken back and the block is as it was.
    pub(crate) fn try_row<E>(
        &mut self,
        row: impl FnOnce(&mut Block, Mark) -> Result<(), E>,
    ) -> Result<(), E> {
        let m = self.mark();
        let r = row(self, m);
        if r.is_err() {
            self.rollback(m);
        }
        r
    }

    /// The list entries held (in the order of [`with_room`](Self::with_room)).
    pub(crate) fn items(&self) -> [usize; 5] {
        self.mark().0
    }

    /// The lists' lengths now.
    fn mark(&self) -> Mark {
        Mark([
            self.groups.items.len(),
            self.choices.items.len(),
            self.categories.items.len(),
            self.indicators.items.len(),
            self.priority.items.len(),
        ])
    }

    /// Drops the list items pushed since `m` (by a row that is not ended).
    fn rollback(&mut self, m: Mark) {
        self.groups.items.truncate(m.0[0]);
        self.choices.items.truncate(m.0[1]);
        self.categories.items.truncate(m.0[2]);
        self.indicators.items.truncate(m.0[3]);
        self.priority.items.truncate(m.0[4]);
    }

    // The row being parsed: its lists are pushed item by item, then the row is ended with its
    // other columns (`end_row`).
    pub(crate) fn push_group(&mut self, g: &str) {
        self.groups.items.push(CompactString::new(g));
    }
    pub(crate) fn push_choice(&mut self, s: u32) {
        self.choices.items.push(s);
    }
    pub(crate) fn push_category(&mut self, s: u32, c: u32) {
        self.categories.items.push((s, c));
    }
    pub(crate) fn push_indicator(&mut self, n: &str, v: i64) {
        self.indicators.items.push((CompactString::new(n), v));
    }
    pub(crate) fn push_priority(&mut self, s: &str, g: &str) {
        self.priority
            .items
            .push((CompactString::new(s), CompactString::new(g)));
    }
    /// The row's groups and choices so far (for the parser's order and duplicate checks).
    pub(crate) fn open_groups(&self, m: Mark) -> &[CompactString] {
        &self.groups.items[m.0[0]..]
    }
    pub(crate) fn open_categories(&self, m: Mark) -> &[(u32, u32)] {
        &self.categories.items[m.0[2]..]
    }
    pub(crate) fn open_indicators(&self, m: Mark) -> &[(CompactString, i64)] {
        &self.indicators.items[m.0[3]..]
    }
    pub(crate) fn open_priority(&self, m: Mark) -> &[(CompactString, CompactString)] {
        &self.priority.items[m.0[4]..]
    }

    /// Ends the row whose lists were pushed since the last one, with its other columns.
    pub(crate) fn end_row(&mut self, r: Scalars<'_>) -> Result<(), TooLarge> {
        // The lists' ends first: a row too large leaves every column as it was.
        let end = |len: usize| u32::try_from(len).map_err(|_| TooLarge);
        let ends = [
            end(self.groups.items.len())?,
            end(self.choices.items.len())?,
            end(self.categories.items.len())?,
            end(self.indicators.items.len())?,
            end(self.priority.items.len())?,
        ];
        self.groups.start.push(ends[0]);
        self.choices.start.push(ends[1]);
        self.categories.start.push(ends[2]);
        self.indicators.start.push(ends[3]);
        self.priority.start.push(ends[4]);
        self.track.push(Some(CompactString::new(r.track)));
        self.family.push(r.family.map(CompactString::new));
        self.manual.push(r.manual);
        self.id.push(CompactString::new(r.id));
        self.gender.push(r.gender);
        self.xy.push(r.xy);
        self.private_hash.push(r.private_hash);
        Ok(())
    }

    fn push(&mut self, a: ApplicantRef<'_>) -> Result<(), TooLarge> {
        self.try_row(|b, _| {
            b.groups.items.extend_from_slice(a.groups);
            b.choices.items.extend_from_slice(a.choices);
            b.categories.items.extend_from_slice(a.categories);
            b.indicators.items.extend_from_slice(a.indicators);
            b.priority.items.extend_from_slice(a.priority);
            b.end_row(Scalars {
                id: a.id,
                track: a.track,
                gender: a.gender,
                family: a.family,
                manual: a.manual.cloned(),
                xy: a.xy,
                private_hash: *a.private_hash,
            })
        })
    }
}

/// A row's columns other than its lists (see [`Block::end_row`]).
pub(crate) struct Scalars<'a> {
    pub(crate) id: &'a str,
    pub(crate) track: &'a str,
    pub(crate) gender: Gender,
    pub(crate) family: Option<&'a str>,
    pub(crate) manual: Option<(CompactString, CompactString)>,
    pub(crate) xy: Option<(i64, i64)>,
    pub(crate) private_hash: Digest,
}

/// Application ids in a given order, in one text ([`Applicants::ids_of`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdList {
    text: String,
    /// Where each id ends in `text`.
    ends: Vec<usize>,
}

impl IdList {
    fn of<'a>(ids: impl Iterator<Item = &'a str>) -> Self {
        let mut list = IdList::default();
        for id in ids {
            list.text.push_str(id);
            list.ends.push(list.text.len());
        }
        list
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The id at place `p`. Panics when `p` is out of range, as indexing a slice does.
    pub fn get(&self, p: usize) -> &str {
        let start = p.checked_sub(1).map_or(0, |q| self.ends[q]);
        &self.text[start..self.ends[p]]
    }

    /// The ids in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|p| self.get(p))
    }
}

/// The applicants of a round, in id order, by column in blocks of [`BLOCK`] rows.
#[derive(Debug, Clone, Default)]
pub struct Applicants {
    /// Every block full except the last.
    blocks: Vec<Block>,
    len: usize,
}

impl Applicants {
    /// No applicants.
    pub fn new() -> Self {
        Applicants::default()
    }

    /// From blocks that are all full except the last.
    pub(crate) fn from_blocks(blocks: Vec<Block>) -> Self {
        let len = blocks.iter().map(Block::len).sum();
        Applicants { blocks, len }
    }

    /// From records (in id order), a block per thread.
    pub fn from_applicants(list: &[Applicant]) -> Result<Self, TooLarge> {
        Self::build(list.len(), |i, b| b.push(list[i].view()))
    }

    /// From `n` records made by `row(0)`, `row(1)`, … (in id order), in parallel, a block per
    /// task; each record is dropped once it is stored, so they are never all held at once.
    pub fn par_from_fn(
        n: usize,
        row: impl Fn(usize) -> Applicant + Sync,
    ) -> Result<Self, TooLarge> {
        Self::build(n, |i, b| b.push(row(i).view()))
    }

    /// Blocks of rows `0..n`, built in parallel by `push(i, block)`.
    fn build(
        n: usize,
        push: impl Fn(usize, &mut Block) -> Result<(), TooLarge> + Sync,
    ) -> Result<Self, TooLarge> {
        use rayon::prelude::*;
        let blocks = (0..n.div_ceil(BLOCK))
            .into_par_iter()
            .map(|k| {
                let rows = k * BLOCK..n.min((k + 1) * BLOCK);
                let mut b = Block::with_capacity(rows.len(), 0);
                for i in rows {
                    push(i, &mut b)?;
                }
                Ok(b)
            })
            .collect::<Result<Vec<_>, TooLarge>>()?;
        Ok(Self::from_blocks(blocks))
    }

    /// Appends a record (the caller keeps id order).
    pub fn push(&mut self, a: ApplicantRef<'_>) -> Result<(), TooLarge> {
        if self.blocks.last().is_none_or(|b| b.len() == BLOCK) {
            self.blocks.push(Block::with_capacity(0, 0));
        }
        if let Some(b) = self.blocks.last_mut() {
            b.push(a)?;
            self.len += 1;
        }
        Ok(())
    }

    /// Number of applicants.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Applicant `i` (in id order). Panics when `i` is out of range, as indexing a slice does.
    pub fn get(&self, i: usize) -> ApplicantRef<'_> {
        self.blocks[i >> BLOCK_BITS].get(i & (BLOCK - 1))
    }

    /// Applicant `i`, or `None` when out of range.
    pub fn try_get(&self, i: usize) -> Option<ApplicantRef<'_>> {
        (i < self.len).then(|| self.get(i))
    }

    /// The id of applicant `i`.
    pub fn id(&self, i: usize) -> &str {
        &self.blocks[i >> BLOCK_BITS].id[i & (BLOCK - 1)]
    }

    /// The ids of the applicants `order` names, in that order, copied into one text. A file
    /// listed by school or class names the applicants in no order of theirs, and reading a
    /// million ids at random from the column was 4–5% of a verification (each a cache miss):
    /// the column is read here in index order, front to back, and each id written in place.
    pub fn ids_of(&self, order: &[u32]) -> IdList {
        use rayon::prelude::*;
        let Ok(len) = u32::try_from(order.len()) else {
            return IdList::of(order.iter().map(|&i| self.id(i as usize)));
        };
        // (index, place) in one integer, sorted by index.
        let mut by_index: Vec<u64> = order
            .iter()
            .zip(0..len)
            .map(|(&i, p)| (u64::from(i) << 32) | u64::from(p))
            .collect();
        by_index.par_sort_unstable();
        let split = |k: u64| ((k >> 32) as usize, (k & u64::from(u32::MAX)) as usize);
        // Each id's end in the text: its length at its place, then summed in place order.
        let mut ends = vec![0usize; order.len()];
        for &k in &by_index {
            let (i, p) = split(k);
            ends[p] = self.id(i).len();
        }
        let mut total = 0;
        for e in &mut ends {
            total += *e;
            *e = total;
        }
        let mut text = vec![0u8; total];
        for &k in &by_index {
            let (i, p) = split(k);
            let id = self.id(i).as_bytes();
            text[ends[p] - id.len()..ends[p]].copy_from_slice(id);
        }
        match String::from_utf8(text) {
            Ok(text) => IdList { text, ends },
            // Never: every id is a `str`, and so is their concatenation.
            Err(_) => IdList::of(order.iter().map(|&i| self.id(i as usize))),
        }
    }

    /// The choices of applicant `i`.
    pub fn choices(&self, i: usize) -> &[u32] {
        self.blocks[i >> BLOCK_BITS].choices.row(i & (BLOCK - 1))
    }

    /// The categories of applicant `i`.
    pub fn categories(&self, i: usize) -> &[(u32, u32)] {
        self.blocks[i >> BLOCK_BITS].categories.row(i & (BLOCK - 1))
    }

    /// The category of applicant `i` at a school (as [`ApplicantRef::category_at`]).
    pub fn category_at(&self, i: usize, school: u32) -> Option<u32> {
        category_in(self.categories(i), school)
    }

    /// The family of applicant `i`.
    pub fn family(&self, i: usize) -> Option<&str> {
        self.blocks[i >> BLOCK_BITS]
            .family
            .get(i & (BLOCK - 1))
            .map(|f| f.as_str())
    }

    /// The track of applicant `i`.
    pub fn track(&self, i: usize) -> &str {
        self.blocks[i >> BLOCK_BITS]
            .track
            .get(i & (BLOCK - 1))
            .map_or("", |t| t.as_str())
    }

    /// The gender of applicant `i`.
    pub fn gender(&self, i: usize) -> Gender {
        self.blocks[i >> BLOCK_BITS].gender[i & (BLOCK - 1)]
    }

    /// The groups of applicant `i`.
    pub fn groups(&self, i: usize) -> &[CompactString] {
        self.blocks[i >> BLOCK_BITS].groups.row(i & (BLOCK - 1))
    }

    /// The points indicators of applicant `i`.
    pub fn indicators(&self, i: usize) -> &[(CompactString, i64)] {
        self.blocks[i >> BLOCK_BITS].indicators.row(i & (BLOCK - 1))
    }

    /// The reserve-group memberships of applicant `i`.
    pub fn priority(&self, i: usize) -> &[(CompactString, CompactString)] {
        self.blocks[i >> BLOCK_BITS].priority.row(i & (BLOCK - 1))
    }

    /// The manual placement of applicant `i`.
    pub fn manual(&self, i: usize) -> Option<&(CompactString, CompactString)> {
        self.blocks[i >> BLOCK_BITS].manual.get(i & (BLOCK - 1))
    }

    /// The coordinates of applicant `i`.
    pub fn xy(&self, i: usize) -> Option<(i64, i64)> {
        self.blocks[i >> BLOCK_BITS].xy[i & (BLOCK - 1)]
    }

    /// Every applicant, in id order.
    pub fn iter(
        &self,
    ) -> impl ExactSizeIterator<Item = ApplicantRef<'_>> + DoubleEndedIterator + Clone + '_ {
        (0..self.len).map(move |i| self.get(i))
    }

    /// Every applicant, in parallel (indexed: results collect in id order).
    pub fn par_iter(
        &self,
    ) -> impl rayon::iter::IndexedParallelIterator<Item = ApplicantRef<'_>> + '_ {
        use rayon::prelude::*;
        (0..self.len).into_par_iter().map(move |i| self.get(i))
    }

    /// The position of an id (`Err`: where it would be), as `binary_search` on ids.
    pub fn binary_search_id(&self, id: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.id(mid).as_bytes().cmp(id.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Owned copies of every record.
    pub fn to_vec(&self) -> Vec<Applicant> {
        self.iter().map(|a| a.to_applicant()).collect()
    }
}

impl PartialEq for Applicants {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Applicants {}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(k: usize) -> Applicant {
        Applicant {
            id: CompactString::new(format!("A{k:06}")),
            track: CompactString::new(if k.is_multiple_of(3) {
                "migrant"
            } else {
                "local"
            }),
            gender: if k.is_multiple_of(2) {
                Gender::F
            } else {
                Gender::M
            },
            groups: (0..k % 3)
                .map(|g| CompactString::new(format!("g{g}")))
                .collect(),
            choices: (0..(k % 11) as u32)
                .map(|c| (c * 7 + k as u32) % 50)
                .collect(),
            categories: (0..(k % 4) as u32).map(|c| (c, 1 + c % 2)).collect(),
            indicators: (0..k % 2)
                .map(|_| (CompactString::new("years"), k as i64))
                .collect(),
            family: k
                .is_multiple_of(5)
                .then(|| CompactString::new(format!("F{}", k / 10))),
            priority: (0..k % 2)
                .map(|_| (CompactString::new("P1"), CompactString::new("staff")))
                .collect(),
            manual: k
                .is_multiple_of(97)
                .then(|| Box::new((CompactString::new("S1"), CompactString::new("care")))),
            xy: (!k.is_multiple_of(7)).then_some((k as i64, -(k as i64))),
            private_hash: Digest([(k % 251) as u8; 32]),
        }
    }

    #[test]
    fn rows_read_back_as_pushed_across_blocks() {
        let list: Vec<Applicant> = (0..2 * BLOCK + 17).map(applicant).collect();
        let all = Applicants::from_applicants(&list).unwrap();
        assert_eq!(all.len(), list.len());
        for (i, a) in list.iter().enumerate() {
            assert_eq!(all.get(i), a.view(), "row {i}");
            assert_eq!(all.id(i), a.id.as_str());
            assert_eq!(all.choices(i), &a.choices[..]);
            assert_eq!(all.categories(i), &a.categories[..]);
            assert_eq!(all.family(i), a.family.as_deref());
        }
        assert_eq!(all.to_vec(), list);
        assert_eq!(all.iter().len(), list.len());
        assert!(all.try_get(list.len()).is_none());
        assert_eq!(all.binary_search_id("A000005"), Ok(5));
        assert_eq!(all.binary_search_id("A0000055"), Err(6));
        assert_eq!(all.binary_search_id("Z"), Err(list.len()));
        use rayon::prelude::*;
        let ids: Vec<&str> = all.par_iter().map(|a| a.id).collect();
        assert_eq!(ids, list.iter().map(|a| a.id.as_str()).collect::<Vec<_>>());
    }

    #[test]
    fn a_row_taken_back_leaves_the_block_as_it_was() {
        let mut b = Block::with_capacity(4, 2);
        b.push(applicant(1).view()).unwrap();
        let r: Result<(), ()> = b.try_row(|b, _| {
            b.push_choice(3);
            b.push_group("x");
            Err(())
        });
        assert!(r.is_err());
        b.push(applicant(2).view()).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.get(1), applicant(2).view());
        assert_eq!(b.get(0), applicant(1).view());
    }

    fn arb_applicant() -> impl proptest::strategy::Strategy<Value = Applicant> {
        use proptest::prelude::*;
        let name = || "[a-z]{1,3}".prop_map(CompactString::from);
        (
            (0u32..1_000_000, "[a-z]{1,30}", any::<bool>()),
            proptest::collection::vec(name(), 0..3),
            proptest::collection::vec(0u32..6000, 0..12),
            proptest::collection::vec((0u32..6000, 1u32..4), 0..4),
            proptest::collection::vec((name(), any::<i64>()), 0..3),
            proptest::option::of(name()),
            proptest::collection::vec((name(), name()), 0..3),
            proptest::option::of((name(), name())),
            proptest::option::of((any::<i64>(), any::<i64>())),
            any::<[u8; 32]>(),
        )
            .prop_map(
                |(
                    (k, track, f),
                    groups,
                    choices,
                    categories,
                    indicators,
                    family,
                    priority,
                    manual,
                    xy,
                    h,
                )| {
                    Applicant {
                        id: CompactString::new(format!("A{k:07}")),
                        track: CompactString::new(track),
                        gender: if f { Gender::F } else { Gender::M },
                        groups: groups.into(),
                        choices: choices.into(),
                        categories: categories.into(),
                        indicators: indicators.into(),
                        family,
                        priority: priority.into(),
                        manual: manual.map(Box::new),
                        xy,
                        private_hash: Digest(h),
                    }
                },
            )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Whatever the records and however many blocks they fill, every row reads back as it
        /// was given, by row and by column, built at once or pushed one by one.
        #[test]
        fn any_records_read_back(
            seed in proptest::collection::vec(arb_applicant(), 1..40),
            copies in 1usize..300,
        ) {
            // Many rows from a few distinct records: several blocks without generating them all.
            let list: Vec<Applicant> = (0..seed.len() * copies).map(|i| seed[i % seed.len()].clone()).collect();
            let all = Applicants::from_applicants(&list).unwrap();
            let mut pushed = Applicants::new();
            for (i, a) in list.iter().enumerate() {
                pushed.push(a.view()).unwrap();
                proptest::prop_assert_eq!(pushed.len(), i + 1);
            }
            proptest::prop_assert_eq!(&all, &pushed);
            for (i, a) in list.iter().enumerate() {
                let v = a.view();
                proptest::prop_assert_eq!(all.get(i), v);
                proptest::prop_assert_eq!(all.track(i), v.track);
                proptest::prop_assert_eq!(all.gender(i), v.gender);
                proptest::prop_assert_eq!(all.groups(i), v.groups);
                proptest::prop_assert_eq!(all.indicators(i), v.indicators);
                proptest::prop_assert_eq!(all.priority(i), v.priority);
                proptest::prop_assert_eq!(all.manual(i), v.manual);
                proptest::prop_assert_eq!(all.xy(i), v.xy);
                // The lookup by school needs the sorted lists a parsed round has.
                if v.categories.windows(2).all(|w| w[0].0 < w[1].0) {
                    for &(s, c) in v.categories {
                        proptest::prop_assert_eq!(all.category_at(i, s), Some(c));
                    }
                }
            }
            proptest::prop_assert_eq!(all.to_vec(), list);
        }
    }

    #[test]
    fn ids_of_follows_the_order_given() {
        let list: Vec<Applicant> = (0..BLOCK + 50).map(applicant).collect();
        let all = Applicants::from_applicants(&list).unwrap();
        let order: Vec<u32> = [BLOCK + 49, 3, 3, 0, BLOCK, 17, BLOCK + 49]
            .iter()
            .map(|&i| i as u32)
            .collect();
        let expected: Vec<&str> = order
            .iter()
            .map(|&i| list[i as usize].id.as_str())
            .collect();
        let got = all.ids_of(&order);
        assert_eq!(got.iter().collect::<Vec<_>>(), expected);
        assert_eq!(got.get(3), list[0].id);
        assert!(all.ids_of(&[]).is_empty());
    }

    #[test]
    fn equality_is_by_rows() {
        let list: Vec<Applicant> = (0..40).map(applicant).collect();
        let a = Applicants::from_applicants(&list).unwrap();
        let mut b = Applicants::new();
        for x in &list {
            b.push(x.view()).unwrap();
        }
        assert_eq!(a, b);
        let c = Applicants::from_applicants(&list[1..]).unwrap();
        assert_ne!(a, c);
    }
}
