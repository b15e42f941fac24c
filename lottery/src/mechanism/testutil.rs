//! Test helpers shared by the mechanism tests: instance builders, proptest strategies and
//! checkers.

use super::{Instance, UNPLACED};
use proptest::prelude::*;

/// An instance from capacities and per-applicant lists of `(school, key)`, best first.
pub fn build(capacity: &[u32], lists: &[&[(u32, u64)]]) -> Instance {
    let owned: Vec<Vec<(u32, u64)>> = lists.iter().map(|l| l.to_vec()).collect();
    build_owned(capacity.to_vec(), &owned)
}

/// As [`build`], from owned lists.
pub fn build_owned(capacity: Vec<u32>, lists: &[Vec<(u32, u64)>]) -> Instance {
    let mut inst = Instance {
        capacity,
        pref_start: vec![0],
        ..Instance::default()
    };
    for l in lists {
        for &(s, k) in l {
            inst.pref_school.push(s);
            inst.pref_key.push(k);
        }
        inst.pref_start.push(inst.pref_school.len() as u32);
    }
    inst
}

/// The per-applicant lists of an instance.
pub fn lists_of(inst: &Instance) -> Vec<Vec<(u32, u64)>> {
    (0..inst.num_applicants())
        .map(|i| {
            inst.entries(i)
                .map(|e| (inst.pref_school[e], inst.pref_key[e]))
                .collect()
        })
        .collect()
}

/// Small random valid instances: up to `max_n` applicants, `1..=max_m` schools, capacities
/// `0..=max_cap`. Keys are `(random u16) << 32 | applicant`, so distinct per school but often
/// in a different order at different schools.
pub fn arb_instance(max_n: usize, max_m: usize, max_cap: u32) -> impl Strategy<Value = Instance> {
    (1..=max_m).prop_flat_map(move |m| {
        (
            prop::collection::vec(0..=max_cap, m),
            prop::collection::vec(
                prop::collection::vec((0..m as u32, any::<u16>()), 0..=m),
                0..=max_n,
            ),
        )
            .prop_map(|(cap, raw)| {
                let lists: Vec<Vec<(u32, u64)>> = raw
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let mut out: Vec<(u32, u64)> = Vec::new();
                        for &(s, hi) in l {
                            if !out.iter().any(|&(t, _)| t == s) {
                                out.push((s, (u64::from(hi) << 32) | i as u64));
                            }
                        }
                        out
                    })
                    .collect();
                build_owned(cap, &lists)
            })
    })
}

/// Position of school `s` in applicant `i`'s list, if ranked.
pub fn rank_of(inst: &Instance, i: usize, s: u32) -> Option<usize> {
    inst.pref_school[inst.entries(i)]
        .iter()
        .position(|&t| t == s)
}

/// Key of applicant `i` at school `s`, if ranked.
pub fn key_at(inst: &Instance, i: usize, s: u32) -> Option<u64> {
    inst.entries(i)
        .find(|&e| inst.pref_school[e] == s)
        .map(|e| inst.pref_key[e])
}

/// Panics unless no school holds more applicants than its capacity and every placement is at
/// a ranked school.
pub fn assert_feasible(inst: &Instance, a: &[u32]) {
    assert_eq!(a.len(), inst.num_applicants());
    let mut used = vec![0u32; inst.num_schools()];
    for (i, &s) in a.iter().enumerate() {
        if s != UNPLACED {
            assert!(
                rank_of(inst, i, s).is_some(),
                "applicant {i} at unranked {s}"
            );
            used[s as usize] += 1;
        }
    }
    for (s, (&u, &c)) in used.iter().zip(&inst.capacity).enumerate() {
        assert!(u <= c, "school {s}: {u} > {c}");
    }
}

/// Panics if the assignment has a blocking pair: an applicant who ranks a school above their
/// placement where that school has a free seat or holds someone with a larger key.
pub fn assert_stable(inst: &Instance, a: &[u32]) {
    assert_feasible(inst, a);
    let m = inst.num_schools();
    let mut used = vec![0u32; m];
    let mut worst = vec![None::<u64>; m];
    for (i, &s) in a.iter().enumerate() {
        if s != UNPLACED {
            used[s as usize] += 1;
            let k = key_at(inst, i, s);
            worst[s as usize] = worst[s as usize].max(k);
        }
    }
    for (i, &own) in a.iter().enumerate() {
        for e in inst.entries(i) {
            let s = inst.pref_school[e];
            if s == own {
                break;
            }
            let su = s as usize;
            assert!(used[su] >= inst.capacity[su], "{i} envies free seat at {s}");
            if let Some(w) = worst[su] {
                assert!(w < inst.pref_key[e], "{i} blocks with school {s}");
            }
        }
    }
}

/// The instance with applicants renumbered: old applicant `i` becomes `perm[i]`.
pub fn permute_applicants(inst: &Instance, perm: &[usize]) -> Instance {
    let lists = lists_of(inst);
    let mut new_lists = vec![Vec::new(); lists.len()];
    for (i, l) in lists.into_iter().enumerate() {
        new_lists[perm[i]] = l;
    }
    build_owned(inst.capacity.clone(), &new_lists)
}

/// Reference deferred acceptance, written as plainly as possible: rounds in which every free
/// applicant with choices left proposes to their next school, and every school keeps the best
/// `capacity` of its held plus new proposers and rejects the rest.
pub fn naive_da(inst: &Instance) -> Vec<u32> {
    let n = inst.num_applicants();
    let m = inst.num_schools();
    let mut next = vec![0usize; n];
    let mut held: Vec<Vec<usize>> = vec![Vec::new(); m];
    let mut free: Vec<bool> = vec![true; n];
    loop {
        let mut any = false;
        for i in 0..n {
            if free[i] && next[i] < inst.entries(i).len() {
                let s = inst.pref_school[inst.entries(i).start + next[i]] as usize;
                next[i] += 1;
                held[s].push(i);
                free[i] = false;
                any = true;
            }
        }
        if !any {
            break;
        }
        for (s, h) in held.iter_mut().enumerate() {
            h.sort_by_key(|&i| key_at(inst, i, s as u32));
            while h.len() > inst.capacity[s] as usize {
                let out = h.pop().unwrap();
                free[out] = true;
            }
        }
    }
    let mut a = vec![UNPLACED; n];
    for (s, h) in held.iter().enumerate() {
        for &i in h {
            a[i] = s as u32;
        }
    }
    a
}

/// A proptest strategy for a permutation of `0..n`.
pub fn arb_perm(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<usize>>()).prop_shuffle()
}
