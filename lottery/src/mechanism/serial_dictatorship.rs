//! Serial dictatorship (PROTOCOL.md §Mechanisms, Serial dictatorship).
//!
//! Applicants are taken in a given order (usually a lottery order, or points order); each in
//! turn takes the highest-ranked school on their list that still has a free seat, or stays
//! unplaced if none has. Applicants not in the order are not considered and stay unplaced.
//! Keys are not used.

use super::{MechanismError, UNPLACED, ValidInstance, check_applicant_list};

/// Serial dictatorship (PROTOCOL.md §Mechanisms, Serial dictatorship) in `order`, a list of
/// distinct applicant indices (a permutation of a subset of `0..n`): the school index of each
/// applicant, or [`UNPLACED`].
pub fn serial_dictatorship(
    inst: ValidInstance<'_>,
    order: &[u32],
) -> Result<Vec<u32>, MechanismError> {
    check_applicant_list("order", inst.num_applicants(), order)?;
    let mut left = inst.capacity.clone();
    let mut assignment = vec![UNPLACED; inst.num_applicants()];
    for &i in order {
        let i = i as usize;
        for &s in &inst.pref_school[inst.entries(i)] {
            let seats = &mut left[s as usize];
            if *seats > 0 {
                *seats -= 1;
                assignment[i] = s;
                break;
            }
        }
    }
    Ok(assignment)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use proptest::prelude::*;

    /// The worked example of PROTOCOL.md §Mechanisms, Serial dictatorship.
    #[test]
    fn worked_example() {
        // Schools A=0, B=1, one seat each; keys are ignored.
        let inst = build(
            &[1, 1],
            &[
                &[(0, 0), (1, 0)], // applicant 0: A, B
                &[(0, 1)],         // applicant 1: A
                &[(1, 2), (0, 2)], // applicant 2: B, A
            ],
        );
        let v = inst.validate().unwrap();
        // Order 2, 0, 1: 2 takes B, 0 takes A, A is full for 1.
        assert_eq!(
            serial_dictatorship(v, &[2, 0, 1]).unwrap(),
            vec![0, UNPLACED, 1]
        );
        // Order 1, 0 (2 not in the order): 1 takes A, 0 takes B.
        assert_eq!(
            serial_dictatorship(v, &[1, 0]).unwrap(),
            vec![1, 0, UNPLACED]
        );
    }

    #[test]
    fn order_is_checked() {
        let inst = build(&[1], &[&[(0, 1)], &[(0, 2)]]);
        let v = inst.validate().unwrap();
        assert!(matches!(
            serial_dictatorship(v, &[0, 2]),
            Err(MechanismError::ApplicantOutOfRange { applicant: 2, .. })
        ));
        assert!(matches!(
            serial_dictatorship(v, &[1, 1]),
            Err(MechanismError::DuplicateApplicant { applicant: 1, .. })
        ));
    }

    fn arb_with_order() -> impl Strategy<Value = (Instance, Vec<u32>)> {
        arb_instance(12, 5, 3).prop_flat_map(|inst| {
            let n = inst.num_applicants();
            (Just(inst), arb_perm(n), 0..=n).prop_map(|(inst, perm, k)| {
                let order = perm[..k].iter().map(|&i| i as u32).collect();
                (inst, order)
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The definition, checked from the result: each applicant in the order holds their
        /// best school among those not filled by earlier applicants; others are unplaced.
        #[test]
        fn matches_definition((inst, order) in arb_with_order()) {
            let v = inst.validate().unwrap();
            let a = serial_dictatorship(v, &order).unwrap();
            assert_feasible(&inst, &a);
            let mut used = vec![0u32; inst.num_schools()];
            for &i in &order {
                let i = i as usize;
                for &s in &inst.pref_school[inst.entries(i)] {
                    if s == a[i] {
                        break;
                    }
                    prop_assert_eq!(used[s as usize], inst.capacity[s as usize]);
                }
                if a[i] != UNPLACED {
                    used[a[i] as usize] += 1;
                }
            }
            let in_order: std::collections::BTreeSet<u32> = order.iter().copied().collect();
            for (i, &s) in a.iter().enumerate() {
                if !in_order.contains(&(i as u32)) {
                    prop_assert_eq!(s, UNPLACED);
                }
            }
            prop_assert_eq!(a, serial_dictatorship(v, &order).unwrap());
        }
    }
}
