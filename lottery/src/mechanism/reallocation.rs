//! Coordinated reallocation, 统筹调剂 (PROTOCOL.md §Mechanisms, Reallocation).
//!
//! Applicants left without a seat are processed one at a time in a given order (the lottery
//! order). Each takes, from the schools with spare seats:
//!
//! 1. **Preference** — the highest-ranked school on their own list with a spare seat; else
//! 2. **Distance** — if coordinates are given and the applicant has a position, the school with
//!    a spare seat at the smallest squared Euclidean distance `(xa−xs)² + (ya−ys)²` on the
//!    integer grid, ties by lower school index (a caller who wants ties broken by lottery
//!    numbers the schools in a lottery order first); else
//! 3. **Bureau order** — the first school with a spare seat in the bureau's published list;
//!    else
//! 4. **No capacity** — unplaced.
//!
//! Spare seats are the caller's `spare` per school (remaining capacity after the main draw; 0
//! for schools that must not receive reallocated children). Coordinates are integers with
//! absolute value at most [`COORD_LIMIT`], so squared distances are exact in 64 bits.
//!
//! Cost: `O(L + s·q + m)` for `L` list entries read, `q` applicants using the distance step and
//! `s` schools with spare seats at that time (full schools leave the distance search).

use super::{MechanismError, UNPLACED, ValidInstance, check_applicant_list, check_len};

/// Largest absolute coordinate value accepted: `2^30 − 1`.
pub const COORD_LIMIT: i64 = (1 << 30) - 1;

/// A position on the integer grid (e.g. metres in a projected system).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// East coordinate.
    pub x: i64,
    /// North coordinate.
    pub y: i64,
}

/// Positions for the distance step (PROTOCOL.md §Mechanisms, Reallocation).
#[derive(Debug, Clone, Copy)]
pub struct Coordinates<'a> {
    /// Per applicant (length `n`); `None` skips the distance step for that applicant.
    pub applicant: &'a [Option<Point>],
    /// Per school (length `m`).
    pub school: &'a [Point],
}

/// Which step placed an applicant (PROTOCOL.md §Mechanisms, Reallocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A school on the applicant's own list.
    Preference,
    /// The nearest school with a spare seat.
    Distance,
    /// The first school with a spare seat in the bureau's order.
    BureauOrder,
    /// No step found a spare seat; the applicant stays unplaced.
    NoCapacity,
}

/// One reallocated applicant (PROTOCOL.md §Mechanisms, Reallocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The applicant.
    pub applicant: u32,
    /// The school, or [`UNPLACED`] with [`Reason::NoCapacity`].
    pub school: u32,
    /// The step that decided.
    pub reason: Reason,
}

/// Why reallocation arguments are malformed (PROTOCOL.md §Mechanisms, Reallocation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReallocationError {
    /// A length, index or duplicate problem in `spare`, `order`, `bureau_order` or the
    /// coordinate arrays.
    #[error(transparent)]
    Argument(#[from] MechanismError),
    /// A coordinate outside `[−COORD_LIMIT, COORD_LIMIT]`.
    #[error("{what} {index} has a coordinate outside ±(2^30 − 1)")]
    CoordinateOutOfRange {
        /// `"applicant"` or `"school"`.
        what: &'static str,
        /// Its index.
        index: usize,
    },
    /// A squared distance overflowed (impossible within the coordinate limit; reported rather
    /// than panicking).
    #[error("distance from applicant {applicant} to school {school} overflows")]
    DistanceOverflow {
        /// The applicant.
        applicant: u32,
        /// The school.
        school: u32,
    },
}

fn in_range(p: &Point) -> bool {
    (-COORD_LIMIT..=COORD_LIMIT).contains(&p.x) && (-COORD_LIMIT..=COORD_LIMIT).contains(&p.y)
}

fn squared_distance(a: Point, b: Point) -> Option<i64> {
    let dx = a.x.checked_sub(b.x)?;
    let dy = a.y.checked_sub(b.y)?;
    dx.checked_mul(dx)?.checked_add(dy.checked_mul(dy)?)
}

/// Reallocate the applicants of `order` (PROTOCOL.md §Mechanisms, Reallocation) into the
/// `spare` seats (per school), returning one [`Placement`] per applicant of `order`, in that
/// order. `bureau_order` lists distinct schools; schools not listed are not used by the bureau
/// step.
pub fn reallocate(
    inst: ValidInstance<'_>,
    spare: &[u32],
    order: &[u32],
    coords: Option<Coordinates<'_>>,
    bureau_order: &[u32],
) -> Result<Vec<Placement>, ReallocationError> {
    let n = inst.num_applicants();
    let m = inst.num_schools();
    check_len("spare", m, spare.len())?;
    check_applicant_list("order", n, order)?;
    let mut listed = vec![false; m];
    for &s in bureau_order {
        let Some(flag) = listed.get_mut(s as usize) else {
            return Err(MechanismError::SchoolOutOfRange {
                what: "bureau_order",
                school: s,
            }
            .into());
        };
        if *flag {
            return Err(MechanismError::DuplicateSchool {
                what: "bureau_order",
                school: s,
            }
            .into());
        }
        *flag = true;
    }
    if let Some(c) = coords {
        check_len("applicant coordinates", n, c.applicant.len())?;
        check_len("school coordinates", m, c.school.len())?;
        if let Some(index) = c
            .applicant
            .iter()
            .position(|p| p.is_some_and(|p| !in_range(&p)))
        {
            return Err(ReallocationError::CoordinateOutOfRange {
                what: "applicant",
                index,
            });
        }
        if let Some(index) = c.school.iter().position(|p| !in_range(p)) {
            return Err(ReallocationError::CoordinateOutOfRange {
                what: "school",
                index,
            });
        }
    }

    let mut left = spare.to_vec();
    // Schools with spare seats, in no particular order (the distance tie rule uses the
    // index), with each school's position for O(1) removal.
    let mut open: Vec<u32> = (0..m as u32).filter(|&s| left[s as usize] > 0).collect();
    let mut pos = vec![UNPLACED; m];
    for (p, &s) in open.iter().enumerate() {
        pos[s as usize] = p as u32;
    }
    let mut bureau_cursor = 0usize;
    let mut out = Vec::with_capacity(order.len());
    for &i in order {
        let iu = i as usize;
        let mut pick = inst.pref_school[inst.entries(iu)]
            .iter()
            .find(|&&s| left[s as usize] > 0)
            .map(|&s| (s, Reason::Preference));
        if pick.is_none()
            && let Some(c) = coords
            && let Some(home) = c.applicant[iu]
        {
            let mut best: Option<(i64, u32)> = None;
            for &s in &open {
                let d = squared_distance(home, c.school[s as usize]).ok_or(
                    ReallocationError::DistanceOverflow {
                        applicant: i,
                        school: s,
                    },
                )?;
                if best.is_none_or(|b| (d, s) < b) {
                    best = Some((d, s));
                }
            }
            pick = best.map(|(_, s)| (s, Reason::Distance));
        }
        if pick.is_none() {
            while bureau_cursor < bureau_order.len()
                && left[bureau_order[bureau_cursor] as usize] == 0
            {
                bureau_cursor += 1;
            }
            pick = bureau_order
                .get(bureau_cursor)
                .map(|&s| (s, Reason::BureauOrder));
        }
        let (school, reason) = pick.unwrap_or((UNPLACED, Reason::NoCapacity));
        if school != UNPLACED {
            let su = school as usize;
            left[su] -= 1;
            if left[su] == 0 {
                // Remove from `open` by swapping in the last element.
                let p = pos[su] as usize;
                open.swap_remove(p);
                if let Some(&moved) = open.get(p) {
                    pos[moved as usize] = p as u32;
                }
                pos[su] = UNPLACED;
            }
        }
        out.push(Placement {
            applicant: i,
            school,
            reason,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;
    use proptest::prelude::*;

    fn p(x: i64, y: i64) -> Point {
        Point { x, y }
    }

    /// Reference: the definition, recomputing everything from scratch for each applicant.
    fn naive(
        inst: &Instance,
        spare: &[u32],
        order: &[u32],
        coords: Option<Coordinates<'_>>,
        bureau: &[u32],
    ) -> Vec<Placement> {
        let mut left = spare.to_vec();
        let mut out = Vec::new();
        for &i in order {
            let iu = i as usize;
            let mut pick = None;
            for e in inst.entries(iu) {
                let s = inst.pref_school[e];
                if left[s as usize] > 0 {
                    pick = Some((s, Reason::Preference));
                    break;
                }
            }
            if pick.is_none()
                && let Some(c) = coords
                && let Some(h) = c.applicant[iu]
            {
                pick = (0..inst.num_schools() as u32)
                    .filter(|&s| left[s as usize] > 0)
                    .min_by_key(|&s| {
                        let q = c.school[s as usize];
                        ((h.x - q.x).pow(2) + (h.y - q.y).pow(2), s)
                    })
                    .map(|s| (s, Reason::Distance));
            }
            if pick.is_none() {
                pick = bureau
                    .iter()
                    .find(|&&s| left[s as usize] > 0)
                    .map(|&s| (s, Reason::BureauOrder));
            }
            let (school, reason) = pick.unwrap_or((UNPLACED, Reason::NoCapacity));
            if school != UNPLACED {
                left[school as usize] -= 1;
            }
            out.push(Placement {
                applicant: i,
                school,
                reason,
            });
        }
        out
    }

    /// The worked example of PROTOCOL.md §Mechanisms, Reallocation.
    #[test]
    fn worked_example() {
        // Schools S0..S3 with spare seats 1, 1, 1, 0 at (0,0), (10,0), (0,10), (5,5).
        let inst = build(
            &[3, 3, 3, 3],
            &[
                &[(3, 0), (1, 0)], // applicant 0 at (9,1): S3, S1
                &[(3, 1)],         // applicant 1 at (5,5): S3
                &[],               // applicant 2, no position, no list
                &[(0, 3)],         // applicant 3 at (0,0): S0
            ],
        );
        let v = inst.validate().unwrap();
        let spare = [1, 1, 1, 0];
        let app = [Some(p(9, 1)), Some(p(5, 5)), None, Some(p(0, 0))];
        let sch = [p(0, 0), p(10, 0), p(0, 10), p(5, 5)];
        let coords = Coordinates {
            applicant: &app,
            school: &sch,
        };
        let bureau = [2, 0, 1, 3];
        let out = reallocate(v, &spare, &[0, 1, 2, 3], Some(coords), &bureau).unwrap();
        let got: Vec<(u32, u32, Reason)> = out
            .iter()
            .map(|p| (p.applicant, p.school, p.reason))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 1, Reason::Preference),  // S3 full, S1 spare
                (1, 0, Reason::Distance),    // S0 and S2 both at 50: lower index
                (2, 2, Reason::BureauOrder), // first spare in [S2, S0, S1, S3]
                (3, UNPLACED, Reason::NoCapacity),
            ]
        );
        // Without coordinates, applicant 1 takes the bureau's first spare school, S2.
        let out = reallocate(v, &spare, &[0, 1, 2, 3], None, &bureau).unwrap();
        assert_eq!((out[1].school, out[1].reason), (2, Reason::BureauOrder));
        assert_eq!((out[2].school, out[2].reason), (0, Reason::BureauOrder));
    }

    #[test]
    fn arguments_are_checked() {
        let inst = build(&[1, 1], &[&[(0, 1)]]);
        let v = inst.validate().unwrap();
        let err = |r: Result<Vec<Placement>, ReallocationError>| r.unwrap_err();
        assert!(matches!(
            err(reallocate(v, &[1], &[0], None, &[])),
            ReallocationError::Argument(MechanismError::Length { what: "spare", .. })
        ));
        assert!(matches!(
            err(reallocate(v, &[1, 1], &[0, 0], None, &[])),
            ReallocationError::Argument(MechanismError::DuplicateApplicant { .. })
        ));
        assert!(matches!(
            err(reallocate(v, &[1, 1], &[0], None, &[1, 1])),
            ReallocationError::Argument(MechanismError::DuplicateSchool { school: 1, .. })
        ));
        assert!(matches!(
            err(reallocate(v, &[1, 1], &[0], None, &[2])),
            ReallocationError::Argument(MechanismError::SchoolOutOfRange { school: 2, .. })
        ));
        let far = [Some(p(COORD_LIMIT + 1, 0))];
        let sch = [p(0, 0), p(0, 0)];
        let c = Coordinates {
            applicant: &far,
            school: &sch,
        };
        assert!(matches!(
            err(reallocate(v, &[1, 1], &[0], Some(c), &[])),
            ReallocationError::CoordinateOutOfRange {
                what: "applicant",
                index: 0
            }
        ));
        // At the limit, the largest distance is exact.
        let edge = [Some(p(COORD_LIMIT, COORD_LIMIT))];
        let sch = [p(-COORD_LIMIT, -COORD_LIMIT), p(-COORD_LIMIT, -COORD_LIMIT)];
        let c = Coordinates {
            applicant: &edge,
            school: &sch,
        };
        let out = reallocate(v, &[0, 1], &[0], Some(c), &[]).unwrap();
        assert_eq!((out[0].school, out[0].reason), (1, Reason::Distance));
        assert_eq!(
            squared_distance(edge[0].unwrap(), sch[0]),
            Some(2 * (2 * COORD_LIMIT) * (2 * COORD_LIMIT))
        );
    }

    #[allow(clippy::type_complexity)]
    fn arb_case() -> impl Strategy<
        Value = (
            Instance,
            Vec<u32>,
            Vec<u32>,
            Vec<Option<Point>>,
            Vec<Point>,
            Vec<u32>,
            bool,
        ),
    > {
        arb_instance(14, 6, 3).prop_flat_map(|inst| {
            let n = inst.num_applicants();
            let m = inst.num_schools();
            let pt = || (-4i64..4, -4i64..4).prop_map(|(x, y)| p(x, y));
            (
                Just(inst),
                prop::collection::vec(0u32..3, m),
                arb_perm(n),
                0..=n,
                prop::collection::vec(prop::option::weighted(0.8, pt()), n),
                prop::collection::vec(pt(), m),
                arb_perm(m),
                0..=m,
                any::<bool>(),
            )
                .prop_map(|(inst, spare, perm, k, app, sch, bperm, bk, use_coords)| {
                    let order = perm[..k].iter().map(|&i| i as u32).collect();
                    let bureau = bperm[..bk].iter().map(|&s| s as u32).collect();
                    (inst, spare, order, app, sch, bureau, use_coords)
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn matches_definition((inst, spare, order, app, sch, bureau, use_coords) in arb_case()) {
            let v = inst.validate().unwrap();
            let coords = use_coords.then_some(Coordinates { applicant: &app, school: &sch });
            let out = reallocate(v, &spare, &order, coords, &bureau).unwrap();
            prop_assert_eq!(&out, &naive(&inst, &spare, &order, coords, &bureau));
            prop_assert_eq!(out.len(), order.len());
            let mut used = vec![0u32; inst.num_schools()];
            for (pl, &i) in out.iter().zip(&order) {
                prop_assert_eq!(pl.applicant, i);
                prop_assert_eq!(pl.school == UNPLACED, pl.reason == Reason::NoCapacity);
                if pl.school != UNPLACED {
                    used[pl.school as usize] += 1;
                }
            }
            for (u, s) in used.iter().zip(&spare) {
                prop_assert!(u <= s);
            }
            // With every applicant positioned, NoCapacity means no spare seat was left.
            if use_coords && app.iter().all(Option::is_some)
                && out.iter().any(|p| p.reason == Reason::NoCapacity)
            {
                prop_assert_eq!(used, spare);
            }
        }
    }
}
