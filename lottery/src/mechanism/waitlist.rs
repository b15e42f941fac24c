//! Waitlists and the refill of declined seats, 递补 (PROTOCOL.md §Mechanisms, Waitlists and
//! refill).
//!
//! **Waitlist of school `s`**: every applicant who ranked `s` strictly above their final
//! placement — or ranked `s` at all if unplaced or placed at a school not on their list — in
//! ascending key at `s`. Stored flat (CSR): school `s`'s waitlist is positions
//! `start[s]..start[s+1]` of the `applicant`, `key` and `rank` arrays (`rank` is the 0-based
//! position of `s` in that applicant's list).
//!
//! **Refill**: declining applicants give up their seats and leave the round (they are offered
//! nothing further). Each seat given up is queued as a vacancy at its school, in the order of the
//! `declined` list. Vacancies are processed first in, first out: the seat is offered down the
//! school's waitlist from where the previous offer at that school stopped; an applicant is
//! eligible if they have not declined and rank the school strictly above their current
//! placement (any ranked school beats no placement); the first eligible applicant accepts,
//! moves, and the seat they leave (if any) is queued as a new vacancy — a chain. A skipped
//! applicant is never eligible again at that school (placements only improve, declines are
//! final), so each waitlist is read at most once and the refill is linear. A vacancy whose
//! waitlist runs out stays vacant.

use super::{
    Instance, MechanismError, UNPLACED, ValidInstance, check_applicant_list, check_assignment,
    csr_offsets,
};
use std::collections::VecDeque;
use std::ops::Range;

/// Per-school waitlists in flat (CSR) form (PROTOCOL.md §Mechanisms, Waitlists and refill).
/// Built by [`waitlists`] only, so always consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waitlists {
    applicants: usize,
    start: Vec<u32>,
    applicant: Vec<u32>,
    key: Vec<u64>,
    rank: Vec<u32>,
}

impl Waitlists {
    /// Number of schools.
    pub fn num_schools(&self) -> usize {
        self.start.len() - 1
    }

    /// Total waitlist entries over all schools.
    pub fn len(&self) -> usize {
        self.applicant.len()
    }

    /// Whether every waitlist is empty.
    pub fn is_empty(&self) -> bool {
        self.applicant.is_empty()
    }

    /// Positions of school `s`'s waitlist in the flat arrays.
    ///
    /// # Panics
    /// If `s >= m`.
    pub fn of(&self, s: usize) -> Range<usize> {
        self.start[s] as usize..self.start[s + 1] as usize
    }

    /// CSR offsets, length `m + 1`.
    pub fn start(&self) -> &[u32] {
        &self.start
    }

    /// Applicant of each waitlist position.
    pub fn applicants(&self) -> &[u32] {
        &self.applicant
    }

    /// The applicant's key at the school, per position (ascending within a school).
    pub fn keys(&self) -> &[u64] {
        &self.key
    }

    /// The 0-based position of the school in the applicant's list, per position.
    pub fn ranks(&self) -> &[u32] {
        &self.rank
    }
}

/// Position of applicant `i`'s placement in their list, or `u32::MAX` if unplaced or placed at
/// an unranked school.
fn placement_rank(inst: &Instance, i: usize, school: u32) -> u32 {
    if school == UNPLACED {
        return u32::MAX;
    }
    inst.pref_school[inst.entries(i)]
        .iter()
        .position(|&s| s == school)
        .map_or(u32::MAX, |p| p as u32)
}

/// The waitlists of `assignment` (PROTOCOL.md §Mechanisms, Waitlists and refill).
///
/// `assignment` has one school index or [`UNPLACED`] per applicant.
pub fn waitlists(inst: ValidInstance<'_>, assignment: &[u32]) -> Result<Waitlists, MechanismError> {
    check_assignment(&inst, assignment)?;
    let n = inst.num_applicants();
    let m = inst.num_schools();
    let mut count = vec![0u32; m];
    let mut cut = Vec::with_capacity(n); // entries of i above the placement: start..cut[i]
    for (i, &a) in assignment.iter().enumerate() {
        let r = inst.entries(i);
        let above = placement_rank(&inst, i, a).min(r.len() as u32) as usize;
        for &s in &inst.pref_school[r.start..r.start + above] {
            count[s as usize] += 1;
        }
        cut.push(r.start + above);
    }
    let start = csr_offsets(&count);
    let mut fill: Vec<u32> = start[..m].to_vec();
    let total = start[m] as usize;
    let mut rows: Vec<(u64, u32, u32)> = vec![(0, 0, 0); total];
    for (i, &end) in cut.iter().enumerate() {
        let first = inst.pref_start[i] as usize;
        for e in first..end {
            let s = inst.pref_school[e] as usize;
            rows[fill[s] as usize] = (inst.pref_key[e], i as u32, (e - first) as u32);
            fill[s] += 1;
        }
    }
    for s in 0..m {
        rows[start[s] as usize..start[s + 1] as usize].sort_unstable();
    }
    Ok(Waitlists {
        applicants: n,
        start,
        applicant: rows.iter().map(|r| r.1).collect(),
        key: rows.iter().map(|r| r.0).collect(),
        rank: rows.iter().map(|r| r.2).collect(),
    })
}

/// One accepted refill offer (PROTOCOL.md §Mechanisms, Waitlists and refill).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefillEvent {
    /// The school whose seat was offered.
    pub school: u32,
    /// The applicant who accepted it.
    pub applicant: u32,
    /// The school they left, or [`UNPLACED`] if they had none.
    pub vacated: u32,
}

/// The result of [`refill`] (PROTOCOL.md §Mechanisms, Waitlists and refill).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefillOutcome {
    /// The assignment after refill; declining applicants are [`UNPLACED`].
    pub assignment: Vec<u32>,
    /// Accepted offers in processing order.
    pub events: Vec<RefillEvent>,
    /// One school index per seat left vacant (its waitlist ran out), in processing order.
    pub vacant: Vec<u32>,
}

/// Refill the seats given up by `declined` (PROTOCOL.md §Mechanisms, Waitlists and refill).
///
/// `lists` must be the waitlists of `assignment` in `inst`; `declined` lists distinct applicants
/// in the order their declines are processed (e.g. ascending applicant index, or the published
/// order of decline notices). A declining applicant without a seat just leaves the round.
pub fn refill(
    inst: ValidInstance<'_>,
    lists: &Waitlists,
    assignment: &[u32],
    declined: &[u32],
) -> Result<RefillOutcome, MechanismError> {
    check_assignment(&inst, assignment)?;
    let n = inst.num_applicants();
    if lists.applicants != n || lists.num_schools() != inst.num_schools() {
        return Err(MechanismError::ForeignWaitlists);
    }
    check_applicant_list("declined", n, declined)?;
    let mut assignment = assignment.to_vec();
    let mut current: Vec<u32> = (0..n)
        .map(|i| placement_rank(&inst, i, assignment[i]))
        .collect();
    let mut gone = vec![false; n];
    let mut queue: VecDeque<u32> = VecDeque::new();
    for &d in declined {
        let d = d as usize;
        gone[d] = true;
        if assignment[d] != UNPLACED {
            queue.push_back(assignment[d]);
            assignment[d] = UNPLACED;
        }
    }
    let mut cursor: Vec<u32> = lists.start[..lists.num_schools()].to_vec();
    let mut events = Vec::new();
    let mut vacant = Vec::new();
    while let Some(s) = queue.pop_front() {
        let end = lists.start[s as usize + 1];
        let mut taken = false;
        while cursor[s as usize] < end {
            let at = cursor[s as usize] as usize;
            cursor[s as usize] += 1;
            let j = lists.applicant[at] as usize;
            if gone[j] || lists.rank[at] >= current[j] {
                continue;
            }
            let vacated = assignment[j];
            assignment[j] = s;
            current[j] = lists.rank[at];
            events.push(RefillEvent {
                school: s,
                applicant: j as u32,
                vacated,
            });
            if vacated != UNPLACED {
                queue.push_back(vacated);
            }
            taken = true;
            break;
        }
        if !taken {
            vacant.push(s);
        }
    }
    Ok(RefillOutcome {
        assignment,
        events,
        vacant,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use proptest::prelude::*;

    /// The worked example of PROTOCOL.md §Mechanisms, Waitlists and refill.
    #[test]
    fn worked_example() {
        // Schools A=0, B=1, C=2, one seat each.
        let inst = build(
            &[1, 1, 1],
            &[
                &[(0, 1), (1, 1)],         // applicant 0: A (key 1), B (key 1)
                &[(0, 2), (1, 2), (2, 1)], // applicant 1: A (2), B (2), C (1)
                &[(0, 3), (2, 2)],         // applicant 2: A (3), C (2)
                &[(1, 3)],                 // applicant 3: B (3)
            ],
        );
        let v = inst.validate().unwrap();
        let a = deferred_acceptance(v);
        assert_eq!(a, vec![0, 1, 2, UNPLACED]);
        let w = waitlists(v, &a).unwrap();
        assert_eq!(w.start(), &[0, 2, 3, 3]);
        assert_eq!(w.applicants(), &[1, 2, 3]);
        assert_eq!(w.keys(), &[2, 3, 3]);
        assert_eq!(w.ranks(), &[0, 0, 0]);
        // Applicant 0 declines A: 1 moves up from B to A, 3 takes B.
        let out = refill(v, &w, &a, &[0]).unwrap();
        assert_eq!(
            out.events,
            vec![
                RefillEvent {
                    school: 0,
                    applicant: 1,
                    vacated: 1
                },
                RefillEvent {
                    school: 1,
                    applicant: 3,
                    vacated: UNPLACED
                },
            ]
        );
        assert_eq!(out.assignment, vec![UNPLACED, 0, 2, 1]);
        assert!(out.vacant.is_empty());
        // If 3 declines too, B stays vacant.
        let out = refill(v, &w, &a, &[0, 3]).unwrap();
        assert_eq!(out.assignment, vec![UNPLACED, 0, 2, UNPLACED]);
        assert_eq!(out.vacant, vec![1]);
    }

    #[test]
    fn arguments_are_checked() {
        let inst = build(&[1], &[&[(0, 1)], &[(0, 2)]]);
        let v = inst.validate().unwrap();
        let a = vec![0, UNPLACED];
        let w = waitlists(v, &a).unwrap();
        assert!(matches!(
            refill(v, &w, &a, &[2]),
            Err(MechanismError::ApplicantOutOfRange { .. })
        ));
        let other = build(&[1, 1], &[&[(0, 1)], &[(0, 2)]]);
        let ov = other.validate().unwrap();
        assert!(matches!(
            refill(ov, &w, &[0, UNPLACED], &[]),
            Err(MechanismError::ForeignWaitlists)
        ));
        assert!(matches!(
            waitlists(v, &[3, 0]),
            Err(MechanismError::SchoolOutOfRange { school: 3, .. })
        ));
    }

    fn arb_case() -> impl Strategy<Value = (Instance, Vec<u32>, bool)> {
        arb_instance(12, 5, 3).prop_flat_map(|inst| {
            let n = inst.num_applicants();
            (Just(inst), arb_perm(n), 0..=n, any::<bool>()).prop_map(|(inst, perm, k, da)| {
                let declined = perm[..k.min(3)].iter().map(|&i| i as u32).collect();
                (inst, declined, da)
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn waitlists_match_definition((inst, _d, da) in arb_case()) {
            let v = inst.validate().unwrap();
            let a = if da { deferred_acceptance(v) } else { first_choice_first(v, None, None).unwrap() };
            let w = waitlists(v, &a).unwrap();
            for s in 0..inst.num_schools() as u32 {
                let mut expected: Vec<(u64, u32)> = (0..inst.num_applicants())
                    .filter_map(|i| {
                        let r = rank_of(&inst, i, s)?;
                        let own = if a[i] == UNPLACED { usize::MAX } else { rank_of(&inst, i, a[i]).unwrap() };
                        (r < own).then(|| (key_at(&inst, i, s).unwrap(), i as u32))
                    })
                    .collect();
                expected.sort();
                let got: Vec<(u64, u32)> = w.of(s as usize).map(|p| (w.keys()[p], w.applicants()[p])).collect();
                prop_assert_eq!(got, expected);
                for p in w.of(s as usize) {
                    prop_assert_eq!(Some(w.ranks()[p] as usize), rank_of(&inst, w.applicants()[p] as usize, s));
                }
            }
        }

        #[test]
        fn refill_properties((inst, declined, da) in arb_case()) {
            let v = inst.validate().unwrap();
            let a = if da { deferred_acceptance(v) } else { first_choice_first(v, None, None).unwrap() };
            let w = waitlists(v, &a).unwrap();
            let out = refill(v, &w, &a, &declined).unwrap();
            prop_assert_eq!(&out, &refill(v, &w, &a, &declined).unwrap());
            assert_feasible(&inst, &out.assignment);
            for &d in &declined {
                prop_assert_eq!(out.assignment[d as usize], UNPLACED);
            }
            // Replaying the events on the assignment gives the result, and every move is an
            // improvement for the mover.
            let mut replay = a.clone();
            for &d in &declined { replay[d as usize] = UNPLACED; }
            for ev in &out.events {
                let j = ev.applicant as usize;
                prop_assert_eq!(replay[j], ev.vacated);
                let new = rank_of(&inst, j, ev.school).unwrap();
                if ev.vacated != UNPLACED {
                    prop_assert!(new < rank_of(&inst, j, ev.vacated).unwrap());
                }
                replay[j] = ev.school;
            }
            prop_assert_eq!(&replay, &out.assignment);
            // Seats given up = seats refilled from outside the placed set + seats left vacant.
            let given_up = declined.iter().filter(|&&d| a[d as usize] != UNPLACED).count();
            let newcomers = out.events.iter().filter(|e| e.vacated == UNPLACED).count();
            prop_assert_eq!(given_up, newcomers + out.vacant.len());
            // A vacant seat has nobody eligible left on its waitlist.
            for &s in &out.vacant {
                for p in w.of(s as usize) {
                    let j = w.applicants()[p] as usize;
                    let own = out.assignment[j];
                    let ok = declined.contains(&(j as u32))
                        || (own != UNPLACED && rank_of(&inst, j, own).unwrap() <= w.ranks()[p] as usize);
                    prop_assert!(ok, "applicant {} eligible for vacant seat at {}", j, s);
                }
            }
        }
    }
}
