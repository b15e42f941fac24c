//! Placement mechanisms (PROTOCOL.md §Mechanisms).
//!
//! Every mechanism here is a pure function of flat, index-based arrays: applicants are indices
//! `0..n`, schools are indices `0..m`, and an applicant's preference list is a slice of the
//! shared entry arrays of an [`Instance`]. Nothing here reads a clock, a global random source or
//! a hash map's iteration order; given the same arrays, every function returns the same bytes.
//! Randomness enters only through the *keys* (priority numbers) and *orders* the caller derives
//! from protocol streams before calling in.
//!
//! Malformed input is an error, never a panic: an [`Instance`] must pass [`Instance::validate`],
//! which returns a [`ValidInstance`] — the only form the mechanisms accept — and every other
//! argument (orders, batches, reserve descriptions, coordinates) is checked by the function that
//! takes it, with a typed error.
//!
//! | mechanism | module | PROTOCOL.md |
//! |---|---|---|
//! | student-proposing deferred acceptance | [`deferred_acceptance`](mod@deferred_acceptance) | §Mechanisms, Deferred acceptance |
//! | first choice first (immediate acceptance) | [`first_choice_first`](mod@first_choice_first) | §Mechanisms, First choice first |
//! | serial dictatorship | [`serial_dictatorship`](mod@serial_dictatorship) | §Mechanisms, Serial dictatorship |
//! | reserved seats for priority groups | [`reserve`] | §Mechanisms, Reserved seats |
//! | waitlists and refill (递补) | [`waitlist`] | §Mechanisms, Waitlists and refill |
//! | points-based ranking (积分入学) | [`points`] | §Mechanisms, Points |
//! | coordinated reallocation (统筹调剂) | [`reallocation`] | §Mechanisms, Reallocation |
#![warn(missing_docs)]

pub mod deferred_acceptance;
pub mod first_choice_first;
pub mod points;
pub mod reallocation;
pub mod reserve;
pub mod serial_dictatorship;
pub mod waitlist;

#[cfg(test)]
mod testutil;

pub use deferred_acceptance::deferred_acceptance;
pub use first_choice_first::first_choice_first;
pub use points::{PointsError, PointsRule, Score, rank_by_points, score};
pub use reallocation::{
    COORD_LIMIT, Coordinates, Placement, Point, ReallocationError, Reason, reallocate,
};
pub use reserve::{
    Mechanism, NO_GROUP, ReserveError, ReserveOrder, ReserveOutcome, ReserveSpec, ReservedSeats,
    with_reserves,
};
pub use serial_dictatorship::serial_dictatorship;
pub use waitlist::{RefillEvent, RefillOutcome, Waitlists, refill, waitlists};

use std::ops::{Deref, Range};

/// The assignment value of an applicant who has no school (PROTOCOL.md §Mechanisms).
pub const UNPLACED: u32 = u32::MAX;

/// One placement instance in index form (PROTOCOL.md §Mechanisms, Instances).
///
/// Applicants are `0..n` with `n = pref_start.len() − 1`; schools are `0..m` with
/// `m = capacity.len()`. Applicant `i`'s preference list is the entries
/// `pref_start[i]..pref_start[i+1]`, best first; entry `e` names a school `pref_school[e]` and
/// the applicant's priority key there, `pref_key[e]`. A **lower key means higher priority**; keys
/// are distinct among the applicants of one school (callers usually pack
/// `category << 32 | lottery_number` into a key).
///
/// Build it from parsed input, then call [`Instance::validate`] before handing it to a mechanism.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    /// Seats per school index `0..m`.
    pub capacity: Vec<u32>,
    /// Length `n + 1`, starts at 0, non-decreasing, ends at the number of entries.
    pub pref_start: Vec<u32>,
    /// School index of each entry, best first within an applicant; no school twice for one
    /// applicant.
    pub pref_school: Vec<u32>,
    /// The applicant's priority key at that entry's school: lower = higher priority; distinct
    /// among the applicants of one school.
    pub pref_key: Vec<u64>,
}

/// Why an [`Instance`] is malformed (PROTOCOL.md §Mechanisms, Instances).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceError {
    /// `pref_start` is empty; it must hold `n + 1` offsets even when `n = 0`.
    #[error("pref_start must have n + 1 elements (at least one)")]
    EmptyPrefStart,
    /// Too many applicants or schools for 32-bit indices (`u32::MAX` is reserved for
    /// [`UNPLACED`]).
    #[error("too many applicants ({applicants}) or schools ({schools}) for 32-bit indices")]
    TooLarge {
        /// Number of applicants.
        applicants: usize,
        /// Number of schools.
        schools: usize,
    },
    /// `pref_start[0]` is not 0.
    #[error("pref_start[0] must be 0, found {found}")]
    PrefStartNotZero {
        /// The value found.
        found: u32,
    },
    /// `pref_start[i + 1] < pref_start[i]`.
    #[error("pref_start decreases at applicant {applicant}")]
    PrefStartDecreasing {
        /// The applicant whose range is reversed.
        applicant: u32,
    },
    /// The last offset does not equal the number of entries.
    #[error("pref_start ends at {last} but there are {entries} preference entries")]
    PrefEndMismatch {
        /// `pref_start[n]`.
        last: u32,
        /// `pref_school.len()`.
        entries: usize,
    },
    /// `pref_key` and `pref_school` differ in length.
    #[error("pref_key has {keys} entries but pref_school has {schools}")]
    KeyLengthMismatch {
        /// `pref_key.len()`.
        keys: usize,
        /// `pref_school.len()`.
        schools: usize,
    },
    /// An entry names a school index `>= m`.
    #[error("applicant {applicant} ranks school {school}, which does not exist")]
    SchoolOutOfRange {
        /// The applicant.
        applicant: u32,
        /// The school index found.
        school: u32,
    },
    /// A school appears twice in one applicant's list.
    #[error("applicant {applicant} ranks school {school} twice")]
    DuplicateSchool {
        /// The applicant.
        applicant: u32,
        /// The repeated school.
        school: u32,
    },
    /// Two applicants of one school have the same key (reported: the lowest such school, and
    /// there the lowest repeated key).
    #[error("two applicants of school {school} have the same key {key}")]
    DuplicateKey {
        /// The school.
        school: u32,
        /// The repeated key.
        key: u64,
    },
}

/// An [`Instance`] that passed [`Instance::validate`]; the only form the mechanisms accept
/// (PROTOCOL.md §Mechanisms, Instances).
///
/// It borrows the instance immutably, so the instance cannot change while it is held.
#[derive(Debug, Clone, Copy)]
pub struct ValidInstance<'a> {
    inst: &'a Instance,
}

impl<'a> ValidInstance<'a> {
    /// The validated instance.
    pub fn get(&self) -> &'a Instance {
        self.inst
    }
}

impl Deref for ValidInstance<'_> {
    type Target = Instance;
    fn deref(&self) -> &Instance {
        self.inst
    }
}

impl Instance {
    /// Number of applicants `n` (`pref_start.len() − 1`, or 0 if `pref_start` is empty).
    pub fn num_applicants(&self) -> usize {
        self.pref_start.len().saturating_sub(1)
    }

    /// Number of schools `m`.
    pub fn num_schools(&self) -> usize {
        self.capacity.len()
    }

    /// The entry range of applicant `i` (`pref_start[i]..pref_start[i+1]`).
    ///
    /// # Panics
    /// If `i >= n` (a caller bug; applicants come from `0..n`).
    pub fn entries(&self, i: usize) -> Range<usize> {
        self.pref_start[i] as usize..self.pref_start[i + 1] as usize
    }

    /// Check the instance (PROTOCOL.md §Mechanisms, Instances): offsets well formed, key and
    /// school arrays of equal length, every school index `< m`, no school twice in one list, no
    /// key twice at one school, and `n, m < 2^32 − 1`. Checks run in this order and the first
    /// failure is returned. `O(E + E log(E/m))` time for `E` entries.
    pub fn validate(&self) -> Result<ValidInstance<'_>, InstanceError> {
        let count = self.shape_counts()?;
        self.check_keys(&count)?;
        Ok(ValidInstance { inst: self })
    }

    /// As [`Instance::validate`] but without the check that keys are distinct at each school
    /// (the costliest one, a sort per school), for callers whose keys are distinct by
    /// construction: the draw's keys end in 32 bits of rank that are a permutation among each
    /// school's applicants (PROTOCOL.md §6.3.1). Debug builds (the tests) still run it.
    pub(crate) fn validate_ranked(&self) -> Result<ValidInstance<'_>, InstanceError> {
        self.shape_counts()?;
        debug_assert!(
            self.validate().is_ok(),
            "keys not distinct per school: {:?}",
            self.validate().err()
        );
        Ok(ValidInstance { inst: self })
    }

    /// The shape checks of [`Instance::validate`], in order; the number of entries per school.
    fn shape_counts(&self) -> Result<Vec<u32>, InstanceError> {
        if self.pref_start.is_empty() {
            return Err(InstanceError::EmptyPrefStart);
        }
        let n = self.num_applicants();
        let m = self.num_schools();
        if n >= UNPLACED as usize || m >= UNPLACED as usize {
            return Err(InstanceError::TooLarge {
                applicants: n,
                schools: m,
            });
        }
        if self.pref_start[0] != 0 {
            return Err(InstanceError::PrefStartNotZero {
                found: self.pref_start[0],
            });
        }
        for (i, w) in self.pref_start.windows(2).enumerate() {
            if w[1] < w[0] {
                return Err(InstanceError::PrefStartDecreasing {
                    applicant: i as u32,
                });
            }
        }
        let last = self.pref_start[n];
        if last as usize != self.pref_school.len() {
            return Err(InstanceError::PrefEndMismatch {
                last,
                entries: self.pref_school.len(),
            });
        }
        if self.pref_key.len() != self.pref_school.len() {
            return Err(InstanceError::KeyLengthMismatch {
                keys: self.pref_key.len(),
                schools: self.pref_school.len(),
            });
        }
        // Schools in range and no school twice in one list: `seen[s]` = last applicant that
        // ranked s.
        let mut seen = vec![UNPLACED; m];
        let mut count = vec![0u32; m];
        for i in 0..n {
            for &s in &self.pref_school[self.entries(i)] {
                if s as usize >= m {
                    return Err(InstanceError::SchoolOutOfRange {
                        applicant: i as u32,
                        school: s,
                    });
                }
                if seen[s as usize] == i as u32 {
                    return Err(InstanceError::DuplicateSchool {
                        applicant: i as u32,
                        school: s,
                    });
                }
                seen[s as usize] = i as u32;
                count[s as usize] += 1;
            }
        }
        Ok(count)
    }

    /// No key twice at one school (`count`: entries per school).
    fn check_keys(&self, count: &[u32]) -> Result<(), InstanceError> {
        let m = self.num_schools();
        // Keys distinct per school: bucket the keys by school (counting sort), sort each bucket.
        let start = csr_offsets(count);
        let mut fill: Vec<u32> = start[..m].to_vec();
        let mut keys = vec![0u64; self.pref_key.len()];
        for (&s, &k) in self.pref_school.iter().zip(&self.pref_key) {
            let slot = &mut fill[s as usize];
            keys[*slot as usize] = k;
            *slot += 1;
        }
        // Each school's bucket sorted on its own (in parallel); the error reported is the first
        // school's in index order, whatever the thread count.
        let mut buckets: Vec<&mut [u64]> = Vec::with_capacity(m);
        let mut rest: &mut [u64] = &mut keys;
        for s in 0..m {
            let (b, r) = rest.split_at_mut((start[s + 1] - start[s]) as usize);
            buckets.push(b);
            rest = r;
        }
        let duplicate = |bucket: &mut &mut [u64]| {
            bucket.sort_unstable();
            bucket.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
        };
        let dups: Vec<Option<u64>> = if self.pref_key.len() >= 1 << 16 {
            use rayon::prelude::*;
            buckets.par_iter_mut().map(duplicate).collect()
        } else {
            buckets.iter_mut().map(duplicate).collect()
        };
        if let Some((s, key)) = dups.iter().enumerate().find_map(|(s, d)| d.map(|k| (s, k))) {
            return Err(InstanceError::DuplicateKey {
                school: s as u32,
                key,
            });
        }
        Ok(())
    }
}

/// Why an argument other than the instance is malformed (PROTOCOL.md §Mechanisms).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MechanismError {
    /// A per-entry, per-applicant or per-school array has the wrong length.
    #[error("{what} has {found} elements, expected {expected}")]
    Length {
        /// Which argument.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// An applicant index `>= n`.
    #[error("{what}: applicant {applicant} does not exist")]
    ApplicantOutOfRange {
        /// Which argument.
        what: &'static str,
        /// The index found.
        applicant: u32,
    },
    /// An applicant listed twice where each may appear once.
    #[error("{what}: applicant {applicant} appears twice")]
    DuplicateApplicant {
        /// Which argument.
        what: &'static str,
        /// The repeated applicant.
        applicant: u32,
    },
    /// A school index `>= m` (and not [`UNPLACED`] where that is allowed).
    #[error("{what}: school {school} does not exist")]
    SchoolOutOfRange {
        /// Which argument.
        what: &'static str,
        /// The index found.
        school: u32,
    },
    /// A school listed twice where each may appear once.
    #[error("{what}: school {school} appears twice")]
    DuplicateSchool {
        /// Which argument.
        what: &'static str,
        /// The repeated school.
        school: u32,
    },
    /// An assignment puts more applicants in a school than it has seats.
    #[error("assignment puts {assigned} applicants in school {school}, which has {capacity} seats")]
    OverCapacity {
        /// The school.
        school: u32,
        /// Applicants assigned.
        assigned: u64,
        /// Its capacity.
        capacity: u32,
    },
    /// The waitlists were not built for this instance.
    #[error("the waitlists do not belong to this instance")]
    ForeignWaitlists,
}

/// Seats left per school after `assignment` (PROTOCOL.md §Mechanisms): `capacity[s]` minus the
/// applicants assigned to `s`. Useful to feed a supplementary round or a reallocation.
///
/// Errors if `assignment` has the wrong length, names a school `>= m` (other than
/// [`UNPLACED`]), or overfills a school.
pub fn remaining_capacity(
    inst: ValidInstance<'_>,
    assignment: &[u32],
) -> Result<Vec<u32>, MechanismError> {
    check_assignment(&inst, assignment)?;
    let mut left = inst.capacity.clone();
    for &s in assignment {
        if s != UNPLACED {
            let slot = &mut left[s as usize];
            match slot.checked_sub(1) {
                Some(v) => *slot = v,
                None => {
                    let assigned = assignment.iter().filter(|&&t| t == s).count() as u64;
                    return Err(MechanismError::OverCapacity {
                        school: s,
                        assigned,
                        capacity: inst.capacity[s as usize],
                    });
                }
            }
        }
    }
    Ok(left)
}

/// Length `n` and every value `< m` or [`UNPLACED`].
pub(crate) fn check_assignment(inst: &Instance, assignment: &[u32]) -> Result<(), MechanismError> {
    check_len("assignment", inst.num_applicants(), assignment.len())?;
    let m = inst.num_schools();
    if let Some(&s) = assignment
        .iter()
        .find(|&&s| s != UNPLACED && s as usize >= m)
    {
        return Err(MechanismError::SchoolOutOfRange {
            what: "assignment",
            school: s,
        });
    }
    Ok(())
}

/// `Err(Length)` unless `found == expected`.
pub(crate) fn check_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), MechanismError> {
    if expected == found {
        Ok(())
    } else {
        Err(MechanismError::Length {
            what,
            expected,
            found,
        })
    }
}

/// Every applicant `< n` and none twice.
pub(crate) fn check_applicant_list(
    what: &'static str,
    n: usize,
    list: &[u32],
) -> Result<(), MechanismError> {
    let mut seen = vec![false; n];
    for &a in list {
        let Some(flag) = seen.get_mut(a as usize) else {
            return Err(MechanismError::ApplicantOutOfRange { what, applicant: a });
        };
        if *flag {
            return Err(MechanismError::DuplicateApplicant { what, applicant: a });
        }
        *flag = true;
    }
    Ok(())
}

/// Prefix sums `[0, c0, c0+c1, …]` of per-bucket counts (length `counts.len() + 1`). The total
/// never exceeds the number of entries, which fits in `u32` for a valid instance.
pub(crate) fn csr_offsets(counts: &[u32]) -> Vec<u32> {
    let mut start = Vec::with_capacity(counts.len() + 1);
    let mut acc = 0u32;
    start.push(0);
    for &c in counts {
        acc += c;
        start.push(acc);
    }
    start
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn validate_accepts_empty_and_small() {
        let empty = Instance {
            pref_start: vec![0],
            ..Instance::default()
        };
        assert!(empty.validate().is_ok());
        let inst = build(&[1, 1], &[&[(0, 5), (1, 7)], &[(1, 3)]]);
        let v = inst.validate().unwrap();
        assert_eq!(v.num_applicants(), 2);
        assert_eq!(v.num_schools(), 2);
        assert_eq!(v.entries(1), 2..3);
    }

    #[test]
    fn validate_rejects_each_malformation() {
        let good = build(&[1, 1], &[&[(0, 5), (1, 7)], &[(1, 3)]]);
        let mut x = good.clone();
        x.pref_start.clear();
        assert_eq!(x.validate().unwrap_err(), InstanceError::EmptyPrefStart);
        let mut x = good.clone();
        x.pref_start[0] = 1;
        assert!(matches!(
            x.validate(),
            Err(InstanceError::PrefStartNotZero { found: 1 })
        ));
        let mut x = good.clone();
        x.pref_start = vec![0, 3, 2];
        assert!(matches!(
            x.validate(),
            Err(InstanceError::PrefStartDecreasing { applicant: 1 })
        ));
        let mut x = good.clone();
        x.pref_start = vec![0, 2, 4];
        assert!(matches!(
            x.validate(),
            Err(InstanceError::PrefEndMismatch { last: 4, .. })
        ));
        let mut x = good.clone();
        x.pref_key.pop();
        assert!(matches!(
            x.validate(),
            Err(InstanceError::KeyLengthMismatch { .. })
        ));
        let mut x = good.clone();
        x.pref_school[2] = 2;
        assert!(matches!(
            x.validate(),
            Err(InstanceError::SchoolOutOfRange {
                applicant: 1,
                school: 2
            })
        ));
        let mut x = good.clone();
        x.pref_school[1] = 0;
        assert!(matches!(
            x.validate(),
            Err(InstanceError::DuplicateSchool {
                applicant: 0,
                school: 0
            })
        ));
        let mut x = good.clone();
        x.pref_key[2] = 7;
        assert!(matches!(
            x.validate(),
            Err(InstanceError::DuplicateKey { school: 1, key: 7 })
        ));
        // The same key at two different schools is fine.
        let mut x = good;
        x.pref_key[2] = 5;
        assert!(x.validate().is_ok());
    }

    #[test]
    fn remaining_capacity_counts_and_rejects_overfill() {
        let inst = build(&[2, 1], &[&[(0, 1)], &[(0, 2)], &[(1, 3)]]);
        let v = inst.validate().unwrap();
        assert_eq!(
            remaining_capacity(v, &[0, UNPLACED, 1]).unwrap(),
            vec![1, 0]
        );
        assert!(matches!(
            remaining_capacity(v, &[1, 1, 1]),
            Err(MechanismError::OverCapacity {
                school: 1,
                assigned: 3,
                capacity: 1
            })
        ));
        assert!(matches!(
            remaining_capacity(v, &[0, 5, 1]),
            Err(MechanismError::SchoolOutOfRange { school: 5, .. })
        ));
        assert!(matches!(
            remaining_capacity(v, &[0]),
            Err(MechanismError::Length { .. })
        ));
    }
}
