//! Supplements (PROTOCOL.md §10): refill of declined seats and late arrivals, as properties
//! over random rounds and as a signed, chained, verifiable file set.

mod common;

use common::{Spec, build, spec};
use lottery::Digest;
use lottery::bundle::{Beacon, Ceremony, Commitment};
use lottery::draw::{Detail, draw};
use lottery::manifest::signing_key;
use lottery::mechanism::UNPLACED;
use lottery::round::{Applicant, FrozenRound, Gender};
use lottery::seed::{Reveal, commitment};
use lottery::supplement::{self, Supplement, SupplementInput};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn late_applicants(round: &FrozenRound, k: usize, salt: u8) -> Vec<Applicant> {
    (0..k)
        .map(|i| Applicant {
            id: format!("L{salt:02}{i:03}").into(),
            track: "migrant".into(),
            gender: if i % 2 == 0 { Gender::F } else { Gender::M },
            groups: Box::new(["migrant".into()]),
            choices: Box::new([((i + salt as usize) % round.schools.len()) as u32]),
            categories: Box::default(),
            indicators: Box::default(),
            family: None,
            priority: Box::default(),
            manual: None,
            xy: Some((i as i64 * 300, 0)),
            private_hash: Digest([7; 32]),
        })
        .collect()
}

fn sup_for(round: &FrozenRound, declines: Vec<u32>, late: Vec<Applicant>) -> Supplement {
    Supplement {
        id: "s1".into(),
        previous: Digest([1; 32]),
        declines_bytes: supplement::write_declines(round, &declines).into_bytes(),
        declines,
        late: lottery::round::Applicants::from_applicants(&late).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn refill_and_late_arrivals_keep_their_promises(
        caps in proptest::collection::vec((1u32..8, 0u32..3), 6),
        specs in proptest::collection::vec(spec(), 1..50),
        pick in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        late_n in 0usize..8,
        seed in any::<[u8; 32]>(),
    ) {
        let Some(round) = build(&caps, &specs) else { return Err(TestCaseError::fail("policy")) };
        let Ok(base) = draw(&round, &Digest(seed)) else { return Ok(()) };
        let n = round.applicants.len();
        let mut declines: Vec<u32> = pick.iter().map(|ix| ix.index(n) as u32).collect();
        let mut seen = vec![false; n];
        declines.retain(|&d| !std::mem::replace(&mut seen[d as usize], true));
        let late = late_applicants(&round, late_n, seed[0] % 50);
        let sup = sup_for(&round, declines.clone(), late);
        let out = supplement::run(&round, &base, &base.school, &sup, &Digest(seed))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Declined applicants end unplaced; nobody else loses a seat; moves only improve.
        for i in 0..n {
            let (before, after) = (base.school[i], out.school[i]);
            if declines.contains(&(i as u32)) {
                prop_assert_eq!(after, UNPLACED);
            } else if after != before {
                let a = round.applicants.get(i);
                let rank = |s: u32| a.choices.iter().position(|c| *c == s);
                prop_assert!(after != UNPLACED, "{} lost a seat", a.id);
                let ra = rank(after);
                prop_assert!(ra.is_some(), "{} moved to an unlisted school", a.id);
                if before != UNPLACED {
                    prop_assert!(rank(before).is_none_or(|rb| ra < Some(rb)), "{} moved down", a.id);
                }
            }
        }
        // Capacity: refills only fill seats given up; late arrivals only spare public seats.
        let mut count = vec![0i64; round.schools.len()];
        let mut family_extra = vec![0i64; round.schools.len()];
        for i in 0..n {
            if out.school[i] != UNPLACED {
                count[out.school[i] as usize] += 1;
                if base.detail[i] == Some(Detail::Family) && base.school[i] == out.school[i] {
                    family_extra[out.school[i] as usize] += 1;
                }
            }
        }
        for (p, &s) in out.late_school.iter().enumerate() {
            if s != UNPLACED {
                prop_assert!(!round.schools[s as usize].private, "late {} at a private school", p);
                count[s as usize] += 1;
            }
        }
        for (s, school) in round.schools.iter().enumerate() {
            prop_assert!(count[s] - family_extra[s] <= i64::from(school.capacity), "school {} over capacity", school.id);
        }
        // Every refill offer went to someone on that school's waitlist.
        for r in &out.refills {
            prop_assert!(base.waitlists.iter().any(|w| w.school == r.school && w.applicants.contains(&r.applicant)));
        }
        // Late lottery numbers are a permutation; the result is deterministic.
        let mut nums = out.late_numbers.clone();
        nums.sort_unstable();
        prop_assert_eq!(nums, (1..=sup.late.len() as u32).collect::<Vec<_>>());
        let again = supplement::run(&round, &base, &base.school, &sup, &Digest(seed))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(supplement::render(&round, &sup, &out), supplement::render(&round, &sup, &again));
    }
}

/// A signed supplement chained to a (stand-in) main manifest verifies; tampering is named.
#[test]
fn signed_supplement_verifies_and_tampering_is_caught() -> Result<(), String> {
    let specs: Vec<Spec> = (0..60)
        .map(|i| Spec {
            migrant: i % 4 == 0,
            female: i % 2 == 0,
            choices: vec![i % 6, (i + 2) % 6],
            category: 1 + (i % 2) as u32,
            months: (i % 30) as i64,
            twin_with_next: false,
            manual: false,
            staff: false,
            xy: (i as i64 * 50, 0),
        })
        .collect();
    let round = build(&[(6, 1), (4, 1), (5, 1), (6, 2), (3, 0), (3, 0)], &specs).ok_or("round")?;
    let base = draw(&round, &Digest([3; 32])).map_err(|e| e.to_string())?;
    // Decline two placed applicants, add three late arrivals.
    let declines: Vec<u32> = (0..round.applicants.len() as u32)
        .filter(|&i| base.school[i as usize] != UNPLACED)
        .take(2)
        .collect();
    let main_manifest = b"{\"manifest\":{}}".to_vec();
    let mut sup = sup_for(&round, declines, late_applicants(&round, 3, 1));
    sup.previous = lottery::encoding::sha256(&main_manifest);
    let (root, _) = supplement::input_root(round.domain(), &sup, &round.schools);
    let rid = supplement::round_id(&round, &sup);
    let parties = [("bureau", [11u8; 32]), ("notary", [12u8; 32])];
    let ceremony = Ceremony {
        commitments: parties
            .iter()
            .map(|(p, s)| Commitment {
                party: p.to_string(),
                commitment: commitment(round.domain(), &rid, &root, p, s),
            })
            .collect(),
        reveals: parties
            .iter()
            .map(|(p, s)| Reveal {
                party: p.to_string(),
                share: *s,
            })
            .collect(),
        beacon: Beacon {
            kind: "text".into(),
            source: "test".into(),
            value: b"beacon".to_vec(),
        },
    };
    let key = signing_key(&[5; 32]);
    let (files, _) = supplement::build(&SupplementInput {
        round: &round,
        base: &base,
        current: &base.school,
        supplement: &sup,
        ceremony: &ceremony,
        created: "2026-08-01T09:00:00+08:00",
        signers: &[("bureau", &key)],
    })?;
    let mut map: BTreeMap<String, Vec<u8>> = files.into_iter().collect();
    map.insert("manifest.json".into(), main_manifest);
    let bureau = key.verifying_key().to_bytes();
    let ok = supplement::verify_all(&map, &round, &base, Some(&bureau));
    assert_eq!(ok.failure, None);
    assert_eq!(ok.ids, vec!["s1".to_string()]);
    assert_eq!(ok.files.len(), 8);

    // Another key signed the supplement.
    let other = supplement::verify_all(&map, &round, &base, Some(&[9; 32]));
    assert!(
        other
            .failure
            .is_some_and(|f| f.contains("s1-manifest.json"))
    );
    // One changed byte in each supplement file is named.
    for name in supplement::file_names("s1") {
        let mut t = map.clone();
        if let Some(b) = t.get_mut(&name) {
            let k = b.len() / 2;
            b[k] ^= 1;
        }
        let r = supplement::verify_all(&t, &round, &base, Some(&bureau));
        assert!(
            r.failure.as_deref().is_some_and(|f| f.contains(&name)),
            "{name}: {:?}",
            r.failure
        );
    }
    // A stray supplement file without its manifest.
    let mut t = map.clone();
    t.insert("s2-refills.csv".into(), b"x".to_vec());
    let r = supplement::verify_all(&t, &round, &base, Some(&bureau));
    assert!(r.failure.is_some_and(|f| f.contains("s2-refills.csv")));
    Ok(())
}
