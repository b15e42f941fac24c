//! First choice first — immediate acceptance, the "Boston mechanism" (PROTOCOL.md §Mechanisms,
//! First choice first).
//!
//! Round `k = 1, 2, …`: every applicant still unplaced applies to the `k`-th school on their
//! list. Each school takes this round's applicants in ascending `(batch, key)` and admits them
//! while it has seats left; admissions are final. Optional **batches** (one number per entry,
//! lower first) let a policy admit priority batches before others inside a round, as several
//! cities do; without batches every entry is batch 0. **`max_rounds`** limits the draw to the
//! first `N` choices; applicants still unplaced afterwards are left for a supplementary round,
//! which the orchestrator runs as a separate call on the remaining capacity
//! ([`super::remaining_capacity`]).
//!
//! Since in one round an applicant applies to one school only, the rounds are independent per
//! school and the processing order of schools inside a round does not matter.

use super::{Instance, MechanismError, UNPLACED, ValidInstance, check_len};

/// First choice first (PROTOCOL.md §Mechanisms, First choice first): the school index of each
/// applicant, or [`UNPLACED`].
///
/// `batch`, if given, has one number per entry (aligned with `pref_school`); inside a round a
/// school admits lower batches first, and by key within a batch. `max_rounds = Some(N)` stops
/// after round `N` (choices beyond the `N`-th are ignored; `Some(0)` places nobody).
pub fn first_choice_first(
    inst: ValidInstance<'_>,
    batch: Option<&[u8]>,
    max_rounds: Option<u32>,
) -> Result<Vec<u32>, MechanismError> {
    if let Some(b) = batch {
        check_len("batch", inst.pref_school.len(), b.len())?;
    }
    let start = &inst.pref_start;
    Ok(fcf_core(
        inst.get(),
        &inst.capacity,
        batch,
        max_rounds.unwrap_or(u32::MAX),
        |i, e| e - start[i],
    ))
}

/// The general immediate-acceptance loop over **phases**: `phase(i, e)` gives the phase of
/// applicant `i`'s entry `e` and must be strictly increasing along each list. In phase
/// `p = 0, 1, …` every unplaced applicant whose next entry has phase `p` applies there; each
/// school admits those applicants in ascending `(batch, key)` while seats last; the rest move
/// to their next entry. Entries with phase `>= phase_limit` are ignored.
///
/// Plain first choice first uses phase = rank in the list; the reserve module uses
/// `2 · rank + step` so that the two slots of one school are tried in order within a round.
/// Requires a valid instance, `capacity.len() == m` and `batch` (if any) of length `E`.
pub(crate) fn fcf_core(
    inst: &Instance,
    capacity: &[u32],
    batch: Option<&[u8]>,
    phase_limit: u32,
    phase: impl Fn(usize, u32) -> u32,
) -> Vec<u32> {
    let n = inst.num_applicants();
    let start = &inst.pref_start;
    let mut remaining = capacity.to_vec();
    let mut assignment = vec![UNPLACED; n];
    // cur[i]: applicant i's next entry; `active`: unplaced applicants with entries left, in
    // ascending index (only for a fixed iteration order; the result does not depend on it).
    let mut cur: Vec<u32> = start[..n].to_vec();
    let mut active: Vec<u32> = (0..n as u32)
        .filter(|&i| {
            let i = i as usize;
            start[i] < start[i + 1] && phase(i, start[i]) < phase_limit
        })
        .collect();
    // (school, batch, key, applicant); (school, key) is unique, so the sort is total.
    let mut applying: Vec<(u32, u8, u64, u32)> = Vec::with_capacity(active.len());
    let mut p = 0u32;
    while !active.is_empty() {
        applying.clear();
        for &i in &active {
            let e = cur[i as usize];
            if phase(i as usize, e) == p {
                let e = e as usize;
                let b = batch.map_or(0, |b| b[e]);
                applying.push((inst.pref_school[e], b, inst.pref_key[e], i));
            }
        }
        // The tuples are distinct, so any sort (serial or parallel) gives the same order.
        if applying.len() >= 1 << 16 {
            use rayon::slice::ParallelSliceMut;
            applying.par_sort_unstable();
        } else {
            applying.sort_unstable();
        }
        for &(s, _, _, i) in &applying {
            let left = &mut remaining[s as usize];
            if *left > 0 {
                *left -= 1;
                assignment[i as usize] = s;
            }
        }
        active.retain(|&i| {
            let i = i as usize;
            if assignment[i] != UNPLACED {
                return false;
            }
            if phase(i, cur[i]) == p {
                cur[i] += 1;
            }
            cur[i] < start[i + 1] && phase(i, cur[i]) < phase_limit
        });
        // Every active applicant's next entry has phase > p now; phases are bounded by the
        // entry count, so the loop ends.
        p += 1;
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use proptest::prelude::*;

    /// Reference: the definition, round by round and school by school, picking the applicant
    /// with the smallest (batch, key) one at a time.
    fn naive_fcf(inst: &Instance, batch: Option<&[u8]>, max_rounds: Option<u32>) -> Vec<u32> {
        let n = inst.num_applicants();
        let mut a = vec![UNPLACED; n];
        let mut left = inst.capacity.clone();
        let longest = (0..n).map(|i| inst.entries(i).len()).max().unwrap_or(0);
        let rounds = max_rounds.map_or(longest, |r| longest.min(r as usize));
        for k in 0..rounds {
            for s in 0..inst.num_schools() as u32 {
                let mut cands: Vec<usize> = (0..n)
                    .filter(|&i| {
                        a[i] == UNPLACED
                            && inst.entries(i).len() > k
                            && inst.pref_school[inst.entries(i).start + k] == s
                    })
                    .collect();
                while left[s as usize] > 0 && !cands.is_empty() {
                    let best = (0..cands.len())
                        .min_by_key(|&j| {
                            let e = inst.entries(cands[j]).start + k;
                            (batch.map_or(0, |b| b[e]), inst.pref_key[e])
                        })
                        .unwrap();
                    a[cands.swap_remove(best)] = s;
                    left[s as usize] -= 1;
                }
            }
        }
        a
    }

    /// The worked example of PROTOCOL.md §Mechanisms, First choice first.
    #[test]
    fn worked_example() {
        // Schools A=0, B=1, one seat each.
        let inst = build(
            &[1, 1],
            &[
                &[(0, 3), (1, 3)], // applicant 0: A (key 3), B (key 3)
                &[(0, 1), (1, 5)], // applicant 1: A (key 1), B (key 5)
                &[(1, 2)],         // applicant 2: B (key 2)
                &[(0, 2), (1, 1)], // applicant 3: A (key 2), B (key 1)
            ],
        );
        let v = inst.validate().unwrap();
        // Round 1: A admits 1 (key 1) of {0, 1, 3}; B admits 2. Round 2: B is full.
        assert_eq!(
            first_choice_first(v, None, None).unwrap(),
            vec![UNPLACED, 0, 1, UNPLACED]
        );
        // Deferred acceptance differs: 3 has the better key at B and displaces 2.
        assert_eq!(deferred_acceptance(v), vec![UNPLACED, 0, UNPLACED, 1]);
        // Batches: applicant 3's entry for A is batch 0, all others batch 1.
        let batch = [1, 1, 1, 1, 1, 0, 1];
        assert_eq!(
            first_choice_first(v, Some(&batch), None).unwrap(),
            vec![UNPLACED, UNPLACED, 1, 0]
        );
        // Only the first choice, then a supplementary round on the remaining seats.
        let first = first_choice_first(v, None, Some(1)).unwrap();
        assert_eq!(first, vec![UNPLACED, 0, 1, UNPLACED]);
        assert_eq!(remaining_capacity(v, &first).unwrap(), vec![0, 0]);
        assert_eq!(
            first_choice_first(v, None, Some(0)).unwrap(),
            vec![UNPLACED; 4]
        );
    }

    #[test]
    fn batch_length_is_checked() {
        let inst = build(&[1], &[&[(0, 1)]]);
        assert!(matches!(
            first_choice_first(inst.validate().unwrap(), Some(&[0, 0]), None),
            Err(MechanismError::Length { what: "batch", .. })
        ));
    }

    fn arb_with_batch() -> impl Strategy<Value = (Instance, Vec<u8>, Option<u32>)> {
        arb_instance(12, 5, 3).prop_flat_map(|inst| {
            let e = inst.pref_school.len();
            (
                Just(inst),
                prop::collection::vec(0u8..3, e),
                prop::option::of(0u32..4),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn matches_definition((inst, batch, rounds) in arb_with_batch()) {
            let v = inst.validate().unwrap();
            let a = first_choice_first(v, None, rounds).unwrap();
            assert_feasible(&inst, &a);
            prop_assert_eq!(&a, &naive_fcf(&inst, None, rounds));
            let b = first_choice_first(v, Some(&batch), rounds).unwrap();
            assert_feasible(&inst, &b);
            prop_assert_eq!(&b, &naive_fcf(&inst, Some(&batch), rounds));
            prop_assert_eq!(b, first_choice_first(v, Some(&batch), rounds).unwrap());
        }

        /// Without a round limit nobody is left out of a school they ranked that still has a
        /// free seat (a school that rejects anyone is full then, and admissions are final).
        #[test]
        fn non_wasteful(inst in arb_instance(12, 5, 3)) {
            let v = inst.validate().unwrap();
            let a = first_choice_first(v, None, None).unwrap();
            let left = remaining_capacity(v, &a).unwrap();
            for (i, &own) in a.iter().enumerate() {
                for e in inst.entries(i) {
                    let s = inst.pref_school[e];
                    if s == own { break; }
                    prop_assert_eq!(left[s as usize], 0);
                }
            }
        }
    }
}
