//! Whole-round properties of the draw (PROTOCOL.md §6): random small rounds with every stage
//! kind, checked for capacity, completeness of reasons, manual placements, waitlists, points
//! order, determinism and seed sensitivity. The mechanisms' own definitions (stability, naive
//! references) are tested beside each mechanism in `lottery/src/mechanism/`.

mod common;

use common::{Spec, build, spec};
use lottery::Digest;
use lottery::draw::{Detail, Outcome, draw};
use lottery::mechanism::UNPLACED;
use lottery::round::FrozenRound;
use proptest::prelude::*;

fn check_outcome(round: &FrozenRound, out: &Outcome) -> Result<(), TestCaseError> {
    let n = round.applicants.len();
    // Lottery numbers are a permutation of 1..=n.
    let mut nums = out.numbers.clone();
    nums.sort_unstable();
    prop_assert_eq!(nums, (1..=n as u32).collect::<Vec<_>>());
    // Capacity never exceeded; points seats only used by the points stage or reallocation.
    // Siblings admitted with a family member (policy family_overflow) may exceed it.
    let mut count = vec![0u32; round.schools.len()];
    for i in 0..n {
        if out.school[i] != UNPLACED && out.detail[i] != Some(Detail::Family) {
            count[out.school[i] as usize] += 1;
        }
    }
    for (s, school) in round.schools.iter().enumerate() {
        prop_assert!(
            count[s] <= school.capacity,
            "school {} holds {} > {}",
            school.id,
            count[s],
            school.capacity
        );
    }
    for (i, a) in round.applicants.iter().enumerate() {
        let d = out.detail[i];
        prop_assert!(d.is_some(), "{} has no detail", a.id);
        match (out.school[i], d) {
            (UNPLACED, Some(Detail::NoStage | Detail::NoChoice | Detail::NoSeat)) => {}
            (UNPLACED, other) => prop_assert!(false, "{} unplaced with {:?}", a.id, other),
            (_, Some(Detail::NoStage | Detail::NoChoice | Detail::NoSeat)) => {
                prop_assert!(false, "{} placed but has an unplaced reason", a.id)
            }
            _ => {}
        }
        // Manual placements are honoured.
        if let Some((sid, _)) = a.manual {
            let s = out.school[i];
            prop_assert!(s != UNPLACED && round.schools[s as usize].id == *sid);
            prop_assert_eq!(out.detail[i], Some(Detail::Manual));
        }
        // An open-seat placement in a choice stage is at a school the applicant listed.
        if matches!(out.detail[i], Some(Detail::Open | Detail::Reserved(_))) {
            let sid = &round.schools[out.school[i] as usize].id;
            prop_assert!(
                a.choices.contains(&out.school[i]),
                "{} placed at unlisted {}",
                a.id,
                sid
            );
        }
        // Every placed applicant has a class; unplaced ones none.
        prop_assert_eq!(out.school[i] == UNPLACED, out.class[i] == u32::MAX);
    }
    // Waitlists hold applicants not admitted at that school in that stage, each once (a later
    // stage, e.g. reallocation, may still place them there).
    for w in &out.waitlists {
        let mut seen = w.applicants.clone();
        seen.sort_unstable();
        seen.dedup();
        prop_assert_eq!(seen.len(), w.applicants.len());
        for &i in &w.applicants {
            let i = i as usize;
            prop_assert!(!(out.school[i] == w.school && out.stage[i] == w.stage));
        }
    }
    // Points stage: serial dictatorship in (points desc, lottery number) order means nobody
    // placed by the points stage at school s is behind an applicant who wanted s first and was
    // left without a seat in that stage... checked on the simplest form: totals are consistent.
    for (i, a) in round.applicants.iter().enumerate() {
        if let Some(p) = &out.points[i] {
            let months = a.indicators.first().map_or(0, |x| x.1);
            prop_assert_eq!(p.total, (months * 1000).min(60_000));
            prop_assert_eq!(p.eligible, months >= 6);
        }
    }
    // Quota sums exactly.
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn whole_round_invariants(
        caps in proptest::collection::vec((1u32..8, 0u32..3), 6),
        specs in proptest::collection::vec(spec(), 0..60),
        seed in any::<[u8; 32]>(),
        change in (0usize..5, any::<usize>(), 0u8..4),
    ) {
        let Some(round) = build(&caps, &specs) else { return Err(TestCaseError::fail("policy")) };
        let manual_at_s0 = round.applicants.iter().filter(|a| a.manual.is_some()).count() as u32;
        let s0 = round.schools.iter().find(|s| s.id == "S0").map_or(0, |s| s.capacity);
        match draw(&round, &Digest(seed)) {
            Ok(out) => {
                check_outcome(&round, &out)?;
                // Deterministic: the same round and seed give the same outcome.
                let again = draw(&round, &Digest(seed)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&out.school, &again.school);
                prop_assert_eq!(&out.numbers, &again.numbers);
                prop_assert_eq!(&out.class, &again.class);
                let files = lottery::results::render(&round, &out);
                let files2 = lottery::results::render(&round, &again);
                prop_assert_eq!(&files, &files2);
                // The verifier's chunked comparison says yes to the rendered files, at any chunk
                // size, and no to any change of them.
                let bytes = files.iter().map(|(_, t)| t.as_bytes().to_vec()).collect::<Vec<_>>();
                // Read in pieces of `piece` bytes.
                let reproduces = |b: &[Vec<u8>], piece: usize, chunk: usize| {
                    let mut r: [&[u8]; 5] = std::array::from_fn(|k| b[k].as_slice());
                    let [r0, r1, r2, r3, r4] = &mut r;
                    lottery::results::reproduces_in(&round, &out, [r0, r1, r2, r3, r4], piece, chunk)
                        .map_err(|e| TestCaseError::fail(e.to_string()))
                };
                let hashed: Vec<lottery::lines::Hashed> = bytes
                    .iter()
                    .map(|b| lottery::lines::Hashed { sha256: lottery::encoding::sha256(b), bytes: b.len() as u64 })
                    .collect();
                for (piece, chunk) in [(1, 1), (5, 2), (64, 7), (1 << 20, 1 << 15)] {
                    prop_assert!(reproduces(&bytes, piece, chunk)?);
                }
                // The published files' root, read in pieces, is the rendered files'.
                let domain = round.domain();
                let pairs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
                let want = lottery::results::results_root(domain, &pairs);
                for piece in [1, 9, 1 << 20] {
                    let mut r: [&[u8]; 5] = std::array::from_fn(|k| bytes[k].as_slice());
                    let [r0, r1, r2, r3, r4] = &mut r;
                    let p = lottery::results::read_published_in(domain, [r0, r1, r2, r3, r4], piece)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(Vec::from(p.files), hashed.clone());
                    prop_assert_eq!(p.root, Some(want));
                }
                // Written in pieces: the same bytes, file by file, and the same root.
                let mut written: Vec<(&str, Vec<u8>)> = Vec::new();
                let root = lottery::results::write(&round, &out, &mut |name, piece| {
                    match written.last_mut() {
                        Some((n, b)) if *n == name => b.extend_from_slice(piece),
                        _ => written.push((name, piece.to_vec())),
                    }
                    Ok(())
                })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(root, want);
                let names: Vec<&str> = written.iter().map(|(n, _)| *n).collect();
                prop_assert_eq!(names, lottery::results::RESULT_FILES.to_vec());
                prop_assert_eq!(written.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), bytes.clone());
                let (f, at, how) = change;
                let mut changed = bytes.clone();
                let file = &mut changed[f % 5];
                let at = at % (file.len() + 1);
                match how {
                    0 => file.insert(at, b'x'),
                    1 if at < file.len() => { file.remove(at); }
                    2 if at < file.len() => file[at] ^= 1,
                    _ => file.extend_from_slice(b"extra,line\n"),
                }
                for (piece, chunk) in [(1, 1), (7, 3), (1 << 20, 1 << 15)] {
                    prop_assert!(!reproduces(&changed, piece, chunk)?);
                }
            }
            Err(lottery::draw::DrawError::ManualOverCapacity { .. }) => prop_assert!(manual_at_s0 > s0),
            Err(lottery::draw::DrawError::Classes { .. }) => {} // a cohort larger than the class cap allows
            Err(e) => prop_assert!(false, "unexpected draw error {e}"),
        }
    }

    /// The verifier's input root, hashed from the files' lines as `applicants.csv` is parsed
    /// in pieces (of `k` lines), is the parsed round's.
    #[test]
    fn streamed_input_root_equals_the_parsed_rounds(
        caps in proptest::collection::vec((1u32..8, 0u32..3), 6),
        specs in proptest::collection::vec(spec(), 0..60),
        k in 1usize..9,
    ) {
        let Some(round) = build(&caps, &specs) else { return Err(TestCaseError::fail("policy")) };
        let files = [
            round.policy_bytes.clone(),
            lottery::round::write_schools(&round.schools).into_bytes(),
            lottery::round::write_teachers(&round.teachers).into_bytes(),
            lottery::round::write_applicants(&round.applicants, &round.schools).into_bytes(),
        ];
        let parsed = FrozenRound::parse(&files[0], &files[1], &files[2], &files[3])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut parser = lottery::round::ApplicantsParser::new(&parsed.policy, &parsed.schools)
            .with_input_root(round.domain(), &files[0], &files[1], &files[2]);
        for piece in files[3].split_inclusive(|b| *b == b'\n').collect::<Vec<_>>().chunks(k) {
            parser.feed(&piece.concat());
        }
        let (applicants, root) = parser.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(applicants == parsed.applicants);
        prop_assert_eq!(root, Some(parsed.input_root()));
        prop_assert_eq!(parsed.input_root(), round.input_root());
    }

    /// A hand-built round (its fields are public) may hold a school index out of range: the
    /// draw drops it, and draws exactly as if it were not there.
    #[test]
    fn out_of_range_school_indices_are_dropped(
        caps in proptest::collection::vec((1u32..8, 0u32..3), 6),
        specs in proptest::collection::vec(spec(), 1..40),
        seed in any::<[u8; 32]>(),
        who in any::<usize>(),
    ) {
        let Some(round) = build(&caps, &specs) else { return Err(TestCaseError::fail("policy")) };
        let mut bad = round.clone();
        let m = bad.schools.len() as u32;
        let mut list = bad.applicants.to_vec();
        let a = &mut list[who % specs.len()];
        let mut choices = a.choices.to_vec();
        choices.insert(choices.len() / 2, m + 3);
        a.choices = choices.into();
        let mut cats = a.categories.to_vec();
        cats.push((m, 1));
        a.categories = cats.into();
        bad.applicants = lottery::round::Applicants::from_applicants(&list).unwrap();
        let (x, y) = (draw(&round, &Digest(seed)), draw(&bad, &Digest(seed)));
        match (x, y) {
            (Ok(x), Ok(y)) => {
                prop_assert_eq!(&x.school, &y.school);
                prop_assert_eq!(&x.detail, &y.detail);
                prop_assert_eq!(&x.class, &y.class);
                prop_assert_eq!(&x.waitlists, &y.waitlists);
            }
            (Err(x), Err(y)) => prop_assert_eq!(x.to_string(), y.to_string()),
            (x, y) => prop_assert!(false, "{:?} vs {:?}", x.err(), y.err()),
        }
    }

    #[test]
    fn twins_share_a_ticket(
        caps in proptest::collection::vec((1u32..8, 0u32..3), 6),
        specs in proptest::collection::vec(spec(), 2..40),
        seed in any::<[u8; 32]>(),
    ) {
        let Some(round) = build(&caps, &specs) else { return Err(TestCaseError::fail("policy")) };
        if let Ok(out) = draw(&round, &Digest(seed)) {
            for i in 1..round.applicants.len() {
                let (a, b) = (round.applicants.get(i - 1), round.applicants.get(i));
                if a.family.is_some() && a.family == b.family {
                    prop_assert_eq!(out.tickets[i - 1], out.tickets[i]);
                    // Joint draw: consecutive lottery numbers.
                    prop_assert_eq!(out.numbers[i - 1] + 1, out.numbers[i]);
                    // Siblings follow: placed by the same choice stage at a school both
                    // listed, they are never split by the lottery.
                    for (x, y) in [(i - 1, i), (i, i - 1)] {
                        let s = out.school[x];
                        let choice_stage = out.stage[x] != u32::MAX
                            && round.policy.stages[out.stage[x] as usize].name != "reallocation";
                        // (A member placed elsewhere by the same stage took a school of its own.)
                        if s != UNPLACED && choice_stage && round.applicants.get(y).manual.is_none()
                            && round.applicants.choices(y).contains(&s)
                        {
                            prop_assert!(
                                out.school[y] != UNPLACED && out.stage[y] <= out.stage[x],
                                "twins {} and {} split", a.id, b.id
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn different_seeds_give_different_draws() {
    let specs: Vec<Spec> = (0..40)
        .map(|i| Spec {
            migrant: i % 5 == 0,
            female: i % 2 == 0,
            choices: vec![i % 6, (i + 1) % 6],
            category: 1 + (i % 2) as u32,
            months: i as i64,
            twin_with_next: false,
            manual: false,
            staff: false,
            xy: (i as i64 * 100, 0),
        })
        .collect();
    let round = build(&[(3, 1); 6], &specs).expect("round");
    let a = draw(&round, &Digest([1; 32])).expect("draw");
    let b = draw(&round, &Digest([2; 32])).expect("draw");
    assert_ne!(a.numbers, b.numbers);
    assert_ne!(
        a.school, b.school,
        "oversubscribed schools must be decided by the seed"
    );
}
