//! Student-proposing deferred acceptance (Gale–Shapley) (PROTOCOL.md §Mechanisms, Deferred
//! acceptance).
//!
//! The result is the student-optimal stable matching of the instance: no applicant ranks a
//! school above their placement where that school has a free seat or holds an applicant with a
//! larger key. That matching is unique, so any proposal order gives it; the order below is
//! fixed anyway so that intermediate states are reproducible too.
//!
//! **Proposal order** (McVitie–Wilson): applicants enter one at a time in ascending index.
//! An entering applicant proposes to the first school on their list they have not yet proposed
//! to. If the school has a free seat, it holds the proposer. Otherwise, if the proposer's key is
//! lower than the largest key the school holds, the school holds the proposer and releases the
//! applicant with the largest key, who proposes next (to their next school); otherwise the
//! proposer is rejected and proposes to their next school. The chain ends when a proposal is
//! held or the proposer's list is exhausted (that applicant is unplaced for now, and for good);
//! then the next applicant enters.
//!
//! Cost: `O(E log c)` for `E` entries and capacities up to `c`, one binary max-heap per school.

use super::{Instance, UNPLACED, ValidInstance};
use std::collections::BinaryHeap;

/// Student-proposing deferred acceptance (PROTOCOL.md §Mechanisms, Deferred acceptance): the
/// school index of each applicant, or [`UNPLACED`].
pub fn deferred_acceptance(inst: ValidInstance<'_>) -> Vec<u32> {
    da_with_capacity(inst.get(), &inst.capacity)
}

/// Deferred acceptance on a valid instance with the capacities replaced by `capacity`
/// (`capacity.len() == m`); used by the reserve module's re-runs.
pub(crate) fn da_with_capacity(inst: &Instance, capacity: &[u32]) -> Vec<u32> {
    let n = inst.num_applicants();
    let m = capacity.len();
    let (school, key, start) = (&inst.pref_school, &inst.pref_key, &inst.pref_start);

    // Heap sizes never exceed min(capacity, applicants ranking the school): reserve that once.
    let mut demand = vec![0u32; m];
    for &s in school {
        demand[s as usize] += 1;
    }
    let mut held: Vec<BinaryHeap<(u64, u32)>> = (0..m)
        .map(|s| BinaryHeap::with_capacity(demand[s].min(capacity[s]) as usize))
        .collect();
    drop(demand);

    let mut assignment = vec![UNPLACED; n];
    // next[i]: the entry applicant i proposes with next.
    let mut next: Vec<u32> = start[..n].to_vec();
    for entering in 0..n {
        let mut i = entering;
        loop {
            let e = next[i];
            if e >= start[i + 1] {
                break; // list exhausted: i stays unplaced
            }
            next[i] = e + 1;
            let s = school[e as usize];
            let k = key[e as usize];
            let heap = &mut held[s as usize];
            if heap.len() < capacity[s as usize] as usize {
                heap.push((k, i as u32));
                assignment[i] = s;
                break;
            }
            if let Some(mut top) = heap.peek_mut()
                && top.0 > k
            {
                let released = top.1 as usize;
                *top = (k, i as u32); // sifts down when `top` drops
                assignment[i] = s;
                assignment[released] = UNPLACED;
                i = released;
            }
            // else: rejected (full with better keys, or capacity 0); i proposes again.
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use proptest::prelude::*;

    /// The worked example of PROTOCOL.md §Mechanisms, Deferred acceptance.
    #[test]
    fn worked_example() {
        // Schools A=0, B=1, C=2, one seat each. Lists (school, key), best first.
        let inst = build(
            &[1, 1, 1],
            &[
                &[(0, 2), (1, 1)], // applicant 0: A (key 2), B (key 1)
                &[(0, 1), (2, 3)], // applicant 1: A (key 1), C (key 3)
                &[(1, 2), (0, 3)], // applicant 2: B (key 2), A (key 3)
                &[(1, 3), (2, 1)], // applicant 3: B (key 3), C (key 1)
            ],
        );
        let a = deferred_acceptance(inst.validate().unwrap());
        assert_eq!(a, vec![1, 0, UNPLACED, 2]);
        assert_eq!(naive_da(&inst), a);
    }

    #[test]
    fn zero_capacity_and_empty_lists() {
        let inst = build(&[0, 1], &[&[(0, 1), (1, 5)], &[], &[(0, 2)]]);
        let a = deferred_acceptance(inst.validate().unwrap());
        assert_eq!(a, vec![1, UNPLACED, UNPLACED]);
    }

    #[test]
    fn long_rejection_chain() {
        // Everyone ranks 0 then 1 then 2; one seat each; keys reverse the index order, so each
        // new applicant displaces the previous holder of school 0.
        let lists: Vec<Vec<(u32, u64)>> = (0..4u64)
            .map(|i| vec![(0, 10 - i), (1, 10 - i), (2, 10 - i)])
            .collect();
        let inst = build_owned(vec![1, 1, 1], &lists);
        let a = deferred_acceptance(inst.validate().unwrap());
        assert_eq!(a, vec![UNPLACED, 2, 1, 0]);
        assert_stable(&inst, &a);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn stable_and_equal_to_reference(inst in arb_instance(12, 5, 3)) {
            let v = inst.validate().unwrap();
            let a = deferred_acceptance(v);
            assert_stable(&inst, &a);
            prop_assert_eq!(&a, &naive_da(&inst));
            prop_assert_eq!(a, deferred_acceptance(v)); // determinism
        }

        #[test]
        fn independent_of_applicant_numbering(
            (inst, perm) in arb_instance(10, 4, 2)
                .prop_flat_map(|inst| { let n = inst.num_applicants(); (Just(inst), arb_perm(n)) })
        ) {
            let a = deferred_acceptance(inst.validate().unwrap());
            let permuted = permute_applicants(&inst, &perm);
            let b = deferred_acceptance(permuted.validate().unwrap());
            for (i, &p) in perm.iter().enumerate() {
                prop_assert_eq!(a[i], b[p]);
            }
        }

        /// With one common priority order at every school, deferred acceptance is serial
        /// dictatorship in that order.
        #[test]
        fn common_priority_equals_serial_dictatorship(inst in arb_instance(12, 5, 3)) {
            let mut common = inst.clone();
            let global: Vec<u64> = (0..inst.num_applicants() as u64).map(|i| (i * 7919) % 1_000_003).collect();
            for (i, &g) in global.iter().enumerate() {
                for e in inst.entries(i) {
                    common.pref_key[e] = g;
                }
            }
            let v = common.validate().unwrap();
            let mut order: Vec<u32> = (0..inst.num_applicants() as u32).collect();
            order.sort_by_key(|&i| global[i as usize]);
            prop_assert_eq!(deferred_acceptance(v), serial_dictatorship(v, &order).unwrap());
        }
    }
}

/// Large-instance timing, run with
/// `cargo test --release -p lottery mechanism::deferred_acceptance::perf -- --ignored --nocapture`.
#[cfg(test)]
pub(crate) mod perf {
    use super::super::*;
    use crate::{Digest, Stream};

    /// `n` applicants × `k` distinct random choices among `m` schools with total capacity about
    /// `0.95 n`; keys `category << 32 | lottery number`.
    pub(crate) fn big_instance(n: usize, k: usize, m: usize) -> Instance {
        let mut rng = Stream::new(&Digest([7u8; 32]));
        let lottery = rng.permutation(n);
        let per = (n * 95 / 100 / m) as u32;
        let mut inst = Instance {
            capacity: vec![per; m],
            pref_start: Vec::with_capacity(n + 1),
            pref_school: Vec::with_capacity(n * k),
            pref_key: Vec::with_capacity(n * k),
        };
        inst.pref_start.push(0);
        for &lot in &lottery {
            let home = rng.below(m as u64) as u32;
            let from = inst.pref_school.len();
            while inst.pref_school.len() - from < k.min(m) {
                // Choices cluster near the home school, as catchments do.
                let s = ((home as u64 + rng.below(40) + m as u64 - 20) % m as u64) as u32;
                let s = if inst.pref_school.len() - from >= 5 {
                    rng.below(m as u64) as u32
                } else {
                    s
                };
                if !inst.pref_school[from..].contains(&s) {
                    let category = u64::from(s != home) + rng.below(2);
                    inst.pref_school.push(s);
                    inst.pref_key.push((category << 32) | u64::from(lot));
                }
            }
            inst.pref_start.push(inst.pref_school.len() as u32);
        }
        inst
    }

    #[test]
    #[ignore]
    fn perf_million() {
        let inst = big_instance(1_000_000, 10, 5_000);
        let t = std::time::Instant::now();
        let v = inst.validate().unwrap();
        eprintln!("validate: {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let a = deferred_acceptance(v);
        eprintln!("deferred acceptance: {:?}", t.elapsed());
        let placed = a.iter().filter(|&&s| s != UNPLACED).count();
        eprintln!("placed {placed}");
        let t = std::time::Instant::now();
        let b = first_choice_first(v, None, None).unwrap();
        eprintln!("first choice first: {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let order: Vec<u32> = (0..1_000_000).collect();
        let c = serial_dictatorship(v, &order).unwrap();
        eprintln!("serial dictatorship: {:?}", t.elapsed());
        let t = std::time::Instant::now();
        let w = waitlists(v, &a).unwrap();
        eprintln!("waitlists: {:?} ({} entries)", t.elapsed(), w.len());
        let _ = (b, c);
    }
}
