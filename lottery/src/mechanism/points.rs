//! Points-based ranking, 积分入学 (PROTOCOL.md §Mechanisms, Points).
//!
//! A policy publishes indicators (social-insurance months, residence-permit years, home
//! ownership, …), each with a weight in **milli-points per unit**, a cap on the milli-points it
//! can contribute, and an optional eligibility threshold. An applicant's indicator values are
//! non-negative integers. For each rule, `part = value × weight`, limited to `cap` in magnitude
//! (`min(part, cap)` for a non-negative weight, `max(part, −cap)` for a negative weight, which
//! models deductions); the total is the sum of the parts. The applicant is eligible if every
//! value is at least its rule's threshold (threshold 0: no condition). All arithmetic is exact
//! 64-bit integer arithmetic; any overflow is an error, never a wrap or a saturation.
//!
//! Ranking: total descending, ties by the lottery rank ascending (then by applicant index,
//! which only matters if the caller passes equal lottery ranks).

use std::cmp::Reverse;

/// One published points indicator (PROTOCOL.md §Mechanisms, Points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointsRule {
    /// The indicator's published name (not used in the computation).
    pub name: String,
    /// Milli-points per unit of the indicator; negative for a deduction.
    pub weight: i64,
    /// Maximum milli-points (in magnitude) from this indicator; `>= 0`.
    pub cap: i64,
    /// Minimum indicator value to be eligible; `>= 0`, 0 = no condition.
    pub threshold: i64,
}

/// An applicant's points (PROTOCOL.md §Mechanisms, Points).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// Sum of `parts`, in milli-points.
    pub total_milli: i64,
    /// Milli-points per rule, aligned with the rules.
    pub parts: Vec<i64>,
    /// Every value meets its rule's threshold.
    pub eligible: bool,
}

/// Why points cannot be computed (PROTOCOL.md §Mechanisms, Points).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointsError {
    /// Values and rules (or totals and lottery ranks) differ in length.
    #[error("{values} values for {rules} rules")]
    Length {
        /// Number of values (or totals).
        values: usize,
        /// Number of rules (or lottery ranks).
        rules: usize,
    },
    /// An indicator value is negative.
    #[error("value {value} for rule {rule} is negative")]
    NegativeValue {
        /// Rule index.
        rule: usize,
        /// The value.
        value: i64,
    },
    /// A rule has a negative cap or threshold.
    #[error("rule {rule} has a negative cap or threshold")]
    InvalidRule {
        /// Rule index.
        rule: usize,
    },
    /// `value × weight` overflows 64 bits.
    #[error("points for rule {rule} overflow")]
    Overflow {
        /// Rule index.
        rule: usize,
    },
    /// The sum of the parts overflows 64 bits.
    #[error("total points overflow")]
    TotalOverflow,
}

/// Score one applicant (PROTOCOL.md §Mechanisms, Points); `values` aligned with `rules`.
/// Errors are reported for the lowest rule index at fault, rules checked before values.
pub fn score(values: &[i64], rules: &[PointsRule]) -> Result<Score, PointsError> {
    if values.len() != rules.len() {
        return Err(PointsError::Length {
            values: values.len(),
            rules: rules.len(),
        });
    }
    if let Some(rule) = rules.iter().position(|r| r.cap < 0 || r.threshold < 0) {
        return Err(PointsError::InvalidRule { rule });
    }
    let mut parts = Vec::with_capacity(rules.len());
    let mut total = 0i64;
    let mut eligible = true;
    for (rule, (&value, r)) in values.iter().zip(rules).enumerate() {
        if value < 0 {
            return Err(PointsError::NegativeValue { rule, value });
        }
        let raw = value
            .checked_mul(r.weight)
            .ok_or(PointsError::Overflow { rule })?;
        let part = if r.weight >= 0 {
            raw.min(r.cap)
        } else {
            raw.max(-r.cap)
        };
        total = total.checked_add(part).ok_or(PointsError::TotalOverflow)?;
        eligible &= value >= r.threshold;
        parts.push(part);
    }
    Ok(Score {
        total_milli: total,
        parts,
        eligible,
    })
}

/// Applicant indices in points order (PROTOCOL.md §Mechanisms, Points): `total_milli`
/// descending, then `lottery_rank` ascending, then index ascending. Both slices are per
/// applicant; the caller passes only the applicants to rank (e.g. the eligible ones, via
/// its own index mapping).
pub fn rank_by_points(total_milli: &[i64], lottery_rank: &[u64]) -> Result<Vec<u32>, PointsError> {
    if total_milli.len() != lottery_rank.len() {
        return Err(PointsError::Length {
            values: total_milli.len(),
            rules: lottery_rank.len(),
        });
    }
    let mut order: Vec<u32> = (0..total_milli.len() as u32).collect();
    order.sort_unstable_by_key(|&i| {
        (
            Reverse(total_milli[i as usize]),
            lottery_rank[i as usize],
            i,
        )
    });
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(name: &str, weight: i64, cap: i64, threshold: i64) -> PointsRule {
        PointsRule {
            name: name.into(),
            weight,
            cap,
            threshold,
        }
    }

    fn example_rules() -> Vec<PointsRule> {
        vec![
            rule("social_insurance_months", 1_000, 60_000, 12),
            rule("residence_permit_years", 5_000, 25_000, 0),
            rule("home_owner", 20_000, 20_000, 0),
        ]
    }

    /// The worked example of PROTOCOL.md §Mechanisms, Points.
    #[test]
    fn worked_example() {
        let rules = example_rules();
        let s = |v: &[i64]| score(v, &rules).unwrap();
        assert_eq!(
            s(&[30, 3, 1]),
            Score {
                total_milli: 65_000,
                parts: vec![30_000, 15_000, 20_000],
                eligible: true
            }
        );
        assert_eq!(
            s(&[72, 6, 0]),
            Score {
                total_milli: 85_000,
                parts: vec![60_000, 25_000, 0],
                eligible: true
            }
        );
        assert_eq!(
            s(&[10, 8, 1]),
            Score {
                total_milli: 55_000,
                parts: vec![10_000, 25_000, 20_000],
                eligible: false
            }
        );
        assert_eq!(s(&[20, 3, 1]).total_milli, 55_000);
        let totals = [65_000, 85_000, 55_000, 65_000];
        let lottery = [3, 2, 0, 1];
        assert_eq!(rank_by_points(&totals, &lottery).unwrap(), vec![1, 3, 0, 2]);
    }

    #[test]
    fn deductions_are_capped_in_magnitude() {
        let rules = vec![
            rule("base", 1_000, 100_000, 0),
            rule("penalty", -3_000, 5_000, 0),
        ];
        let sc = score(&[10, 4], &rules).unwrap();
        assert_eq!(sc.parts, vec![10_000, -5_000]);
        assert_eq!(sc.total_milli, 5_000);
    }

    #[test]
    fn errors() {
        let rules = example_rules();
        assert_eq!(
            score(&[1, 2], &rules),
            Err(PointsError::Length {
                values: 2,
                rules: 3
            })
        );
        assert_eq!(
            score(&[1, -2, 0], &rules),
            Err(PointsError::NegativeValue { rule: 1, value: -2 })
        );
        let big = vec![rule("a", i64::MAX, i64::MAX, 0)];
        assert_eq!(score(&[2], &big), Err(PointsError::Overflow { rule: 0 }));
        let two = vec![rule("a", 1, i64::MAX, 0), rule("b", 1, i64::MAX, 0)];
        assert_eq!(score(&[i64::MAX, 1], &two), Err(PointsError::TotalOverflow));
        let bad = vec![rule("a", 1, -1, 0)];
        assert_eq!(score(&[1], &bad), Err(PointsError::InvalidRule { rule: 0 }));
        let bad = vec![rule("a", 1, 1, -1)];
        assert_eq!(score(&[1], &bad), Err(PointsError::InvalidRule { rule: 0 }));
        assert!(matches!(
            rank_by_points(&[1], &[]),
            Err(PointsError::Length { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Scores agree with exact 128-bit arithmetic whenever they succeed, and fail exactly
        /// when a product or the sum leaves 64 bits.
        #[test]
        fn exact_or_error(
            rules in prop::collection::vec((any::<i64>(), 0..=i64::MAX, 0i64..100), 0..4),
            values in prop::collection::vec(0..=i64::MAX, 4),
        ) {
            let rules: Vec<PointsRule> = rules.into_iter().map(|(w, c, t)| rule("r", w, c, t)).collect();
            let values = &values[..rules.len()];
            let mut expected: Result<(i128, Vec<i64>), ()> = Ok((0, vec![]));
            for (v, r) in values.iter().zip(&rules) {
                let raw = i128::from(*v) * i128::from(r.weight);
                if raw > i128::from(i64::MAX) || raw < i128::from(i64::MIN) {
                    expected = Err(());
                    break;
                }
                let part = if r.weight >= 0 { raw.min(i128::from(r.cap)) } else { raw.max(-i128::from(r.cap)) };
                if let Ok((t, p)) = &mut expected {
                    *t += part;
                    p.push(part as i64);
                    if *t > i128::from(i64::MAX) || *t < i128::from(i64::MIN) {
                        expected = Err(());
                        break;
                    }
                }
            }
            match (score(values, &rules), expected) {
                (Ok(s), Ok((t, p))) => {
                    prop_assert_eq!(i128::from(s.total_milli), t);
                    prop_assert_eq!(s.parts, p);
                    prop_assert_eq!(s.eligible, values.iter().zip(&rules).all(|(v, r)| *v >= r.threshold));
                }
                (Err(_), Err(())) => {}
                (got, want) => prop_assert!(false, "got {:?}, want {:?}", got, want),
            }
        }

        #[test]
        fn ranking_is_sorted_permutation(
            rows in prop::collection::vec((-5i64..5, any::<u64>()), 0..30)
        ) {
            let totals: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let lottery: Vec<u64> = rows.iter().map(|r| r.1).collect();
            let order = rank_by_points(&totals, &lottery).unwrap();
            let mut seen = order.clone();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..rows.len() as u32).collect::<Vec<_>>());
            for w in order.windows(2) {
                let (a, b) = (w[0] as usize, w[1] as usize);
                prop_assert!((Reverse(totals[a]), lottery[a], a) < (Reverse(totals[b]), lottery[b], b));
            }
        }
    }
}
