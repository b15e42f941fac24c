//! Reserved seats for priority groups — staff children, siblings — at a school (PROTOCOL.md
//! §Mechanisms, Reserved seats).
//!
//! **Expansion.** A school `s` with capacity `c` and reserves `r_g` for groups `g` becomes
//! sub-schools: one *reserved slot* per reserve (capacity `r_g`, open only to members of `g`)
//! and one *open slot* (capacity `c − Σ r_g`). In the expanded instance the open slot of `s`
//! keeps index `s`, and the reserved slot of the `j`-th reserve of the [`ReserveSpec`] gets
//! index `m + j`. An entry of a member of `g` for `s` (where `s` has a reserve for `g`) becomes
//! two consecutive entries: reserved then open for [`ReserveOrder::ReservedFirst`], open then
//! reserved for [`ReserveOrder::OpenFirst`]. Every other entry becomes one open-slot entry. The
//! open slot uses the entry's key; the reserved slot uses the caller's reserve-lottery key for
//! that entry if one is given, else the same key. The order is a policy parameter: it changes
//! who gets in (the Boston walk-zone lesson) — `OpenFirst` lets a member with a good key take an
//! open seat and leaves the reserved seat to a further member, so it favours members.
//!
//! **Mechanisms.** Deferred acceptance runs on the expanded instance as is. First choice first
//! runs round by round over the applicants' *original* choices: within round `k`, a school's
//! slots are tried in the policy order — first slot: members (reserved slot) or everyone (open
//! slot) of this round; second slot: those of this round not admitted by the first slot — each
//! slot admitting in ascending `(batch, key)` while seats last.
//!
//! **Return of unused reserved seats.** After a run, every reserved slot with `u > 0` unused
//! seats gives them to the open slot of its school (reserved capacity −u, open capacity +u), and
//! the mechanism is re-run from scratch on the new capacities. This repeats until a run leaves
//! no reserved seat unused. It terminates: every repetition strictly lowers the total reserved
//! capacity, a non-negative integer, so there are at most `1 + Σ r_g` runs (in practice two or
//! three). The final run is the result; in it every reserved seat is filled by a member, and a
//! school's total capacity never changes.

use super::deferred_acceptance::da_with_capacity;
use super::first_choice_first::fcf_core;
use super::{Instance, InstanceError, MechanismError, UNPLACED, ValidInstance, check_len};

/// The `entry_group` value of an entry that belongs to no priority group.
pub const NO_GROUP: u32 = u32::MAX;

/// Seats of one school reserved for one priority group (PROTOCOL.md §Mechanisms, Reserved
/// seats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedSeats {
    /// The school index.
    pub school: u32,
    /// The group, an opaque number chosen by the caller (not [`NO_GROUP`]).
    pub group: u32,
    /// Seats reserved for members of the group.
    pub seats: u32,
}

/// Which of a member's two slots at a school comes first (PROTOCOL.md §Mechanisms, Reserved
/// seats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveOrder {
    /// A member applies to the reserved slot, then to the open slot.
    ReservedFirst,
    /// A member applies to the open slot, then to the reserved slot.
    OpenFirst,
}

/// Reserved seats and who qualifies for them (PROTOCOL.md §Mechanisms, Reserved seats).
#[derive(Debug, Clone, Copy)]
pub struct ReserveSpec<'a> {
    /// The reserves; at most one per (school, group), and per school `Σ seats ≤ capacity`.
    pub reserves: &'a [ReservedSeats],
    /// One value per entry (aligned with `pref_school`): the group under which this applicant
    /// qualifies for a reserve at this entry's school, or [`NO_GROUP`]. An applicant who belongs
    /// to several groups at one school is given one by the caller (the policy's group order). A
    /// group without a reserve at that school has no effect.
    pub entry_group: &'a [u32],
    /// Optional per-entry key at the reserved slot (a separate reserve lottery); distinct among
    /// the members of a group at a school. `None`: the entry's own key.
    pub reserve_key: Option<&'a [u64]>,
    /// The slot order for members.
    pub order: ReserveOrder,
}

/// The mechanism run on the expanded instance (PROTOCOL.md §Mechanisms, Reserved seats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism<'a> {
    /// [`super::deferred_acceptance()`].
    DeferredAcceptance,
    /// [`super::first_choice_first()`]; rounds count original choices, `batch` is per original
    /// entry.
    FirstChoiceFirst {
        /// Per-entry batch numbers, lower first within a round and slot.
        batch: Option<&'a [u8]>,
        /// Only the first `N` choices.
        max_rounds: Option<u32>,
    },
}

/// The result of [`with_reserves`] (PROTOCOL.md §Mechanisms, Reserved seats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveOutcome {
    /// Per applicant: the original school index, or [`UNPLACED`].
    pub school: Vec<u32>,
    /// Per applicant: whether the seat is a reserved one.
    pub reserved: Vec<bool>,
    /// Per reserve (aligned with [`ReserveSpec::reserves`]): seats still reserved after returns,
    /// which equals the members seated on them.
    pub reserve_seats: Vec<u32>,
    /// Mechanism runs performed (1 if no reserved seat had to be returned).
    pub runs: u32,
}

/// Why a reserve description is malformed (PROTOCOL.md §Mechanisms, Reserved seats).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReserveError {
    /// A per-entry array has the wrong length.
    #[error(transparent)]
    Argument(#[from] MechanismError),
    /// A reserve names a school `>= m`.
    #[error("reserve {index} names school {school}, which does not exist")]
    SchoolOutOfRange {
        /// Position in `reserves`.
        index: usize,
        /// The school index.
        school: u32,
    },
    /// A reserve uses [`NO_GROUP`] as its group.
    #[error("reserve {index} has no group")]
    NoGroup {
        /// Position in `reserves`.
        index: usize,
    },
    /// Two reserves for the same school and group.
    #[error("school {school} has two reserves for group {group}")]
    DuplicateReserve {
        /// The school.
        school: u32,
        /// The group.
        group: u32,
    },
    /// A school's reserves exceed its capacity.
    #[error("school {school} reserves {reserved} seats but has {capacity}")]
    OverReserved {
        /// The school.
        school: u32,
        /// Total reserved.
        reserved: u64,
        /// Its capacity.
        capacity: u32,
    },
    /// Two members of a group share a reserve key at a school.
    #[error("two members of group {group} at school {school} have reserve key {key}")]
    DuplicateReserveKey {
        /// The school.
        school: u32,
        /// The group.
        group: u32,
        /// The repeated key.
        key: u64,
    },
    /// The expanded instance would not fit 32-bit indices.
    #[error("the expanded instance is too large")]
    TooLarge,
    /// The expanded instance failed validation otherwise (not expected for a valid input).
    #[error("expanded instance: {0}")]
    Instance(InstanceError),
}

/// The expanded instance: sub-schools `0..m` are open slots, `m + j` the reserved slot of
/// reserve `j`; `phase` and `batch` per expanded entry for first choice first.
struct Expanded {
    inst: Instance,
    phase: Vec<u32>,
    batch: Option<Vec<u8>>,
}

fn expand(
    inst: &Instance,
    spec: &ReserveSpec<'_>,
    batch: Option<&[u8]>,
) -> Result<Expanded, ReserveError> {
    let n = inst.num_applicants();
    let m = inst.num_schools();
    let entries = inst.pref_school.len();
    check_len("entry_group", entries, spec.entry_group.len())?;
    if let Some(k) = spec.reserve_key {
        check_len("reserve_key", entries, k.len())?;
    }
    if let Some(b) = batch {
        check_len("batch", entries, b.len())?;
    }
    let r = spec.reserves.len();
    if m + r >= UNPLACED as usize || entries.saturating_mul(2) >= UNPLACED as usize {
        return Err(ReserveError::TooLarge);
    }
    // (school, group, reserve index), sorted for lookup; per-school reserved totals.
    let mut lookup: Vec<(u32, u32, u32)> = Vec::with_capacity(r);
    let mut reserved_total = vec![0u64; m];
    for (j, res) in spec.reserves.iter().enumerate() {
        if res.school as usize >= m {
            return Err(ReserveError::SchoolOutOfRange {
                index: j,
                school: res.school,
            });
        }
        if res.group == NO_GROUP {
            return Err(ReserveError::NoGroup { index: j });
        }
        lookup.push((res.school, res.group, j as u32));
        reserved_total[res.school as usize] += u64::from(res.seats);
    }
    lookup.sort_unstable();
    if let Some(w) = lookup
        .windows(2)
        .find(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1)
    {
        return Err(ReserveError::DuplicateReserve {
            school: w[0].0,
            group: w[0].1,
        });
    }
    let mut capacity = Vec::with_capacity(m + r);
    for (s, (&c, &t)) in inst.capacity.iter().zip(&reserved_total).enumerate() {
        match u32::try_from(t).ok().and_then(|t| c.checked_sub(t)) {
            Some(open) => capacity.push(open),
            None => {
                return Err(ReserveError::OverReserved {
                    school: s as u32,
                    reserved: t,
                    capacity: c,
                });
            }
        }
    }
    capacity.extend(spec.reserves.iter().map(|res| res.seats));

    let (first_step, second_step) = (0u32, 1u32);
    let open_step_alone = match spec.order {
        ReserveOrder::ReservedFirst => second_step,
        ReserveOrder::OpenFirst => first_step,
    };
    let mut out = Expanded {
        inst: Instance {
            capacity,
            pref_start: Vec::with_capacity(n + 1),
            pref_school: Vec::with_capacity(entries),
            pref_key: Vec::with_capacity(entries),
        },
        phase: Vec::with_capacity(entries),
        batch: batch.map(|_| Vec::with_capacity(entries)),
    };
    out.inst.pref_start.push(0);
    for i in 0..n {
        let range = inst.entries(i);
        let first = range.start;
        for e in range {
            let s = inst.pref_school[e];
            let g = spec.entry_group[e];
            let key = inst.pref_key[e];
            let round = 2 * (e - first) as u32;
            let b = batch.map_or(0, |b| b[e]);
            let reserve = if g == NO_GROUP {
                None
            } else {
                lookup
                    .binary_search_by(|&(ls, lg, _)| (ls, lg).cmp(&(s, g)))
                    .ok()
                    .map(|at| lookup[at].2)
            };
            let mut push = |school: u32, key: u64, step: u32| {
                out.inst.pref_school.push(school);
                out.inst.pref_key.push(key);
                out.phase.push(round + step);
                if let Some(v) = out.batch.as_mut() {
                    v.push(b);
                }
            };
            match reserve {
                None => push(s, key, open_step_alone),
                Some(j) => {
                    let slot = m as u32 + j;
                    let rkey = spec.reserve_key.map_or(key, |k| k[e]);
                    match spec.order {
                        ReserveOrder::ReservedFirst => {
                            push(slot, rkey, first_step);
                            push(s, key, second_step);
                        }
                        ReserveOrder::OpenFirst => {
                            push(s, key, first_step);
                            push(slot, rkey, second_step);
                        }
                    }
                }
            }
        }
        out.inst.pref_start.push(out.inst.pref_school.len() as u32);
    }
    // The expanded instance is well formed by construction: the input is a valid instance, and
    // each entry becomes one open-slot entry (with the input's key) and at most one reserved-slot
    // entry, the slot being unique to its (school, group). What remains is that the caller's
    // reserve keys are distinct within each reserved slot: checked on those entries alone (the
    // lowest slot and key first, as a full validation would report).
    let mut reserved: Vec<(u32, u64)> = out
        .inst
        .pref_school
        .iter()
        .zip(&out.inst.pref_key)
        .filter(|(s, _)| **s as usize >= m)
        .map(|(s, k)| (*s, *k))
        .collect();
    reserved.sort_unstable();
    if let Some(w) = reserved.windows(2).find(|w| w[0] == w[1]) {
        let res = spec.reserves[w[0].0 as usize - m];
        return Err(ReserveError::DuplicateReserveKey {
            school: res.school,
            group: res.group,
            key: w[0].1,
        });
    }
    debug_assert!(
        out.inst.validate().is_ok(),
        "expanded instance: {:?}",
        out.inst.validate().err()
    );
    Ok(out)
}

/// Run `mechanism` with reserved seats (PROTOCOL.md §Mechanisms, Reserved seats): expand the
/// instance, run, return unused reserved seats to the open slots and re-run until no reserved
/// seat is unused, and report the final run in original school indices.
pub fn with_reserves(
    inst: ValidInstance<'_>,
    spec: &ReserveSpec<'_>,
    mechanism: Mechanism<'_>,
) -> Result<ReserveOutcome, ReserveError> {
    let m = inst.num_schools();
    let batch = match mechanism {
        Mechanism::DeferredAcceptance => None,
        Mechanism::FirstChoiceFirst { batch, .. } => batch,
    };
    let exp = expand(inst.get(), spec, batch)?;
    let mut capacity = exp.inst.capacity.clone();
    let mut runs = 0u32;
    loop {
        runs += 1;
        let sub = match mechanism {
            Mechanism::DeferredAcceptance => da_with_capacity(&exp.inst, &capacity),
            Mechanism::FirstChoiceFirst { max_rounds, .. } => fcf_core(
                &exp.inst,
                &capacity,
                exp.batch.as_deref(),
                max_rounds.map_or(u32::MAX, |r| r.saturating_mul(2)),
                |_, e| exp.phase[e as usize],
            ),
        };
        let mut filled = vec![0u32; spec.reserves.len()];
        for &t in &sub {
            if t != UNPLACED && t as usize >= m {
                filled[t as usize - m] += 1;
            }
        }
        let mut returned = false;
        for (j, (&f, res)) in filled.iter().zip(spec.reserves).enumerate() {
            let unused = capacity[m + j] - f;
            if unused > 0 {
                capacity[m + j] = f;
                capacity[res.school as usize] += unused;
                returned = true;
            }
        }
        if !returned {
            let school = sub
                .iter()
                .map(|&t| {
                    if t == UNPLACED || (t as usize) < m {
                        t
                    } else {
                        spec.reserves[t as usize - m].school
                    }
                })
                .collect();
            let reserved = sub
                .iter()
                .map(|&t| t != UNPLACED && t as usize >= m)
                .collect();
            return Ok(ReserveOutcome {
                school,
                reserved,
                reserve_seats: capacity[m..].to_vec(),
                runs,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;
    use proptest::prelude::*;

    const SIBLING: u32 = 0;
    const STAFF: u32 = 1;

    /// School A (index 0) has 2 seats, 1 reserved for siblings. Applicant 0 (key 1) and 2
    /// (key 3) are siblings, 1 (key 2) is not. Everyone ranks only A.
    fn walk_zone() -> Instance {
        build(&[2], &[&[(0, 1)], &[(0, 2)], &[(0, 3)]])
    }

    #[test]
    fn order_changes_who_gets_in() {
        let inst = walk_zone();
        let v = inst.validate().unwrap();
        let reserves = [ReservedSeats {
            school: 0,
            group: SIBLING,
            seats: 1,
        }];
        let groups = [SIBLING, NO_GROUP, SIBLING];
        for mech in [
            Mechanism::DeferredAcceptance,
            Mechanism::FirstChoiceFirst {
                batch: None,
                max_rounds: None,
            },
        ] {
            let spec = ReserveSpec {
                reserves: &reserves,
                entry_group: &groups,
                reserve_key: None,
                order: ReserveOrder::ReservedFirst,
            };
            // Reserved first: 0 takes the reserved seat, 1 beats 2 to the open seat.
            let out = with_reserves(v, &spec, mech).unwrap();
            assert_eq!(out.school, vec![0, 0, UNPLACED]);
            assert_eq!(out.reserved, vec![true, false, false]);
            // Open first: 0 takes the open seat, 2 the reserved one; 1 is out.
            let open_first = ReserveSpec {
                order: ReserveOrder::OpenFirst,
                ..spec
            };
            let out = with_reserves(v, &open_first, mech).unwrap();
            assert_eq!(out.school, vec![0, UNPLACED, 0]);
            assert_eq!(out.reserved, vec![false, false, true]);
            assert_eq!(out.runs, 1);
            // A separate reserve lottery in which 2 beats 0: reserved first, 2 gets the
            // reserved seat and 0 still wins the open one.
            let rkey = [9, 0, 4];
            let lottery = ReserveSpec {
                reserve_key: Some(&rkey),
                ..spec
            };
            let out = with_reserves(v, &lottery, mech).unwrap();
            assert_eq!(out.school, vec![0, UNPLACED, 0]);
            assert_eq!(out.reserved, vec![false, false, true]);
        }
    }

    /// The worked example of PROTOCOL.md §Mechanisms, Reserved seats.
    #[test]
    fn worked_example() {
        // A=0: 2 seats, 1 reserved for siblings. B=1: 1 seat, reserved for staff children.
        let inst = build(
            &[2, 1],
            &[
                &[(0, 1)], // applicant 0: A, sibling, key 1
                &[(0, 2)], // applicant 1: A, key 2
                &[(0, 3)], // applicant 2: A, sibling, key 3
                &[(1, 1)], // applicant 3: B, key 1 (not a staff child)
            ],
        );
        let v = inst.validate().unwrap();
        let reserves = [
            ReservedSeats {
                school: 0,
                group: SIBLING,
                seats: 1,
            },
            ReservedSeats {
                school: 1,
                group: STAFF,
                seats: 1,
            },
        ];
        let groups = [SIBLING, NO_GROUP, SIBLING, NO_GROUP];
        let spec = ReserveSpec {
            reserves: &reserves,
            entry_group: &groups,
            reserve_key: None,
            order: ReserveOrder::ReservedFirst,
        };
        // Run 1: B's open slot has 0 seats, 3 is rejected, B's staff seat is unused. It
        // returns to B's open slot; run 2 places 3.
        let out = with_reserves(v, &spec, Mechanism::DeferredAcceptance).unwrap();
        assert_eq!(out.school, vec![0, 0, UNPLACED, 1]);
        assert_eq!(out.reserved, vec![true, false, false, false]);
        assert_eq!(out.reserve_seats, vec![1, 0]);
        assert_eq!(out.runs, 2);
        let spec = ReserveSpec {
            order: ReserveOrder::OpenFirst,
            ..spec
        };
        let out = with_reserves(v, &spec, Mechanism::DeferredAcceptance).unwrap();
        assert_eq!(out.school, vec![0, UNPLACED, 0, 1]);
        assert_eq!(out.reserved, vec![false, false, true, false]);
        assert_eq!(out.reserve_seats, vec![1, 0]);
        assert_eq!(out.runs, 2);
    }

    #[test]
    fn malformed_reserves_are_errors() {
        let inst = walk_zone();
        let v = inst.validate().unwrap();
        let groups = [SIBLING, NO_GROUP, SIBLING];
        let run = |reserves: &[ReservedSeats], rkey: Option<&[u64]>| {
            let spec = ReserveSpec {
                reserves,
                entry_group: &groups,
                reserve_key: rkey,
                order: ReserveOrder::ReservedFirst,
            };
            with_reserves(v, &spec, Mechanism::DeferredAcceptance)
        };
        let res = |school, group, seats| ReservedSeats {
            school,
            group,
            seats,
        };
        assert!(matches!(
            run(&[res(1, 0, 1)], None),
            Err(ReserveError::SchoolOutOfRange {
                index: 0,
                school: 1
            })
        ));
        assert!(matches!(
            run(&[res(0, NO_GROUP, 1)], None),
            Err(ReserveError::NoGroup { index: 0 })
        ));
        assert!(matches!(
            run(&[res(0, 0, 1), res(0, 0, 1)], None),
            Err(ReserveError::DuplicateReserve {
                school: 0,
                group: 0
            })
        ));
        assert!(matches!(
            run(&[res(0, 0, 2), res(0, 1, 1)], None),
            Err(ReserveError::OverReserved {
                school: 0,
                reserved: 3,
                capacity: 2
            })
        ));
        assert!(matches!(
            run(&[res(0, 0, 1)], Some(&[5, 0, 5])),
            Err(ReserveError::DuplicateReserveKey {
                school: 0,
                group: 0,
                key: 5
            })
        ));
        assert!(matches!(
            run(&[res(0, 0, 1)], Some(&[5])),
            Err(ReserveError::Argument(MechanismError::Length { .. }))
        ));
        // Reserve keys may repeat across groups and non-members' values are ignored.
        assert!(run(&[res(0, 0, 1)], Some(&[5, 5, 6])).is_ok());
    }

    /// An instance with random reserves (groups 0 and 1), memberships, reserve keys, order
    /// and mechanism.
    #[allow(clippy::type_complexity)]
    fn arb_case() -> impl Strategy<
        Value = (
            Instance,
            Vec<ReservedSeats>,
            Vec<u32>,
            Option<Vec<u64>>,
            ReserveOrder,
            bool,
        ),
    > {
        arb_instance(12, 4, 3).prop_flat_map(|inst| {
            let m = inst.num_schools();
            let e = inst.pref_school.len();
            let caps = inst.capacity.clone();
            (
                Just(inst),
                prop::collection::vec((0u32..=3, 0u32..=3), m).prop_map(move |r| {
                    let mut out = Vec::new();
                    for (s, &(a, b)) in r.iter().enumerate() {
                        let a = a.min(caps[s]);
                        let b = b.min(caps[s] - a);
                        for (g, seats) in [(SIBLING, a), (STAFF, b)] {
                            if seats > 0 || g == SIBLING {
                                out.push(ReservedSeats {
                                    school: s as u32,
                                    group: g,
                                    seats,
                                });
                            }
                        }
                    }
                    out
                }),
                prop::collection::vec(prop_oneof![Just(NO_GROUP), Just(SIBLING), Just(STAFF)], e),
                prop::option::of(prop::collection::vec(any::<u16>(), e)),
                prop_oneof![
                    Just(ReserveOrder::ReservedFirst),
                    Just(ReserveOrder::OpenFirst)
                ],
                any::<bool>(),
            )
                .prop_map(|(inst, reserves, groups, rk, order, da)| {
                    // Reserve keys distinct per school: applicant index in the low bits.
                    let rk = rk.map(|rk| {
                        let mut out = vec![0u64; rk.len()];
                        for i in 0..inst.num_applicants() {
                            for e in inst.entries(i) {
                                out[e] = (u64::from(rk[e]) << 32) | i as u64;
                            }
                        }
                        out
                    });
                    (inst, reserves, groups, rk, order, da)
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn reserve_properties((inst, reserves, groups, rk, order, da) in arb_case()) {
            let v = inst.validate().unwrap();
            let spec = ReserveSpec {
                reserves: &reserves,
                entry_group: &groups,
                reserve_key: rk.as_deref(),
                order,
            };
            let mech = if da {
                Mechanism::DeferredAcceptance
            } else {
                Mechanism::FirstChoiceFirst { batch: None, max_rounds: None }
            };
            let out = with_reserves(v, &spec, mech).unwrap();
            prop_assert_eq!(&out, &with_reserves(v, &spec, mech).unwrap()); // determinism
            assert_feasible(&inst, &out.school);
            prop_assert!(out.runs as u64 <= 1 + reserves.iter().map(|r| u64::from(r.seats)).sum::<u64>());
            // Reserved seats only go to members, and every seat still reserved is filled.
            let mut on_reserve = vec![0u32; reserves.len()];
            for (i, (&s, &r)) in out.school.iter().zip(&out.reserved).enumerate() {
                if r {
                    let e = inst.entries(i).find(|&e| inst.pref_school[e] == s).unwrap();
                    let j = reserves.iter().position(|x| x.school == s && x.group == groups[e]);
                    prop_assert!(j.is_some(), "reserved seat for a non-member");
                    on_reserve[j.unwrap()] += 1;
                }
            }
            prop_assert_eq!(&on_reserve, &out.reserve_seats);
            for (j, res) in reserves.iter().enumerate() {
                prop_assert!(out.reserve_seats[j] <= res.seats);
            }
            // No school with a free seat (reserved or open) turns away an applicant who
            // ranked it above their placement.
            let left = remaining_capacity(v, &out.school).unwrap();
            for (i, &own) in out.school.iter().enumerate() {
                for e in inst.entries(i) {
                    let s = inst.pref_school[e];
                    if s == own { break; }
                    prop_assert_eq!(left[s as usize], 0, "applicant {} rejected by {} with free seats", i, s);
                }
            }
            // Without members, reserves change nothing (all their seats return).
            let nobody = vec![NO_GROUP; groups.len()];
            let plain = with_reserves(v, &ReserveSpec { entry_group: &nobody, ..spec }, mech).unwrap();
            let expected = if da { deferred_acceptance(v) } else { first_choice_first(v, None, None).unwrap() };
            prop_assert_eq!(plain.school, expected);
        }

        /// With deferred acceptance the result is stable in the expanded instance's sense:
        /// checked directly on the expanded instance of the final capacities.
        #[test]
        fn da_final_run_is_stable((inst, reserves, groups, rk, order, _da) in arb_case()) {
            let v = inst.validate().unwrap();
            let spec = ReserveSpec { reserves: &reserves, entry_group: &groups, reserve_key: rk.as_deref(), order };
            let out = with_reserves(v, &spec, Mechanism::DeferredAcceptance).unwrap();
            let mut exp = expand(&inst, &spec, None).unwrap().inst;
            let m = inst.num_schools();
            for (j, res) in reserves.iter().enumerate() {
                let returned = exp.capacity[m + j] - out.reserve_seats[j];
                exp.capacity[m + j] -= returned;
                exp.capacity[res.school as usize] += returned;
            }
            let direct = da_with_capacity(&exp, &exp.capacity);
            let mapped: Vec<u32> = direct.iter().map(|&t| if t == UNPLACED || (t as usize) < m { t } else { reserves[t as usize - m].school }).collect();
            prop_assert_eq!(&mapped, &out.school);
            assert_stable(&exp, &direct);
        }
    }
}
