//! The four public input files, split out of the input at ASCII record separators (0x1E):
//! `policy ␞ schools ␞ teachers ␞ applicants` → `FrozenRound::parse`; a round that parses is drawn
//! with a fixed seed, its input root, checkpoint and result files computed. Oracles: the CSV files
//! are canonical; `applicants.csv` parsed in pieces (of lines, or of bytes cut anywhere) with the input root hashed beside
//! (the verifier's way) gives the same applicants or the same error, and the parsed round's root.
//! cargo-fuzz builds with debug assertions, so the draw's by-construction shortcuts
//! (`Instance::validate_ranked`, the reserve expansion) are checked against full validation too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery::round::{self, FrozenRound};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0x1E);
    let policy = parts.next().unwrap_or(&[]);
    let schools = parts.next().unwrap_or(&[]);
    let teachers = parts.next().unwrap_or(&[]);
    let applicants = parts.next().unwrap_or(&[]);
    let whole = FrozenRound::parse(policy, schools, teachers, applicants);
    // The verifier's parse: applicants.csv in pieces of `k` lines, the input root beside it;
    // the same result or error, whatever the pieces.
    let streamed = (|| {
        let pol = lottery::policy::Policy::parse(policy)?;
        let sch = round::parse_schools(schools)?;
        let _ = round::parse_teachers(teachers, &sch)?;
        let mut parser = round::ApplicantsParser::new(&pol, &sch).with_input_root(
            pol.domain(),
            policy,
            schools,
            teachers,
        );
        // Pieces of 1–5 whole lines, or of 1–97 bytes cut anywhere (inside a character too).
        let k = 1 + data.len() % 97;
        if data.len() % 2 == 0 {
            let lines: Vec<&[u8]> = applicants.split_inclusive(|b| *b == b'\n').collect();
            for piece in lines.chunks(1 + k % 5) {
                parser.feed(&piece.concat());
            }
        } else {
            for piece in applicants.chunks(k) {
                parser.feed(piece);
            }
        }
        parser.finish()
    })();
    let r = match (whole, streamed) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "the parse in pieces found another error");
            return;
        }
        (Ok(r), Ok((applicants, root))) => {
            assert!(
                applicants == r.applicants,
                "the parse in pieces read other applicants"
            );
            assert_eq!(
                root,
                Some(r.input_root()),
                "the streamed input root differs from the parsed round's"
            );
            r
        }
        (a, b) => panic!("whole {:?}, in pieces {:?}", a.err(), b.err()),
    };
    assert_eq!(
        round::write_schools(&r.schools).as_bytes(),
        schools,
        "schools.csv is not canonical"
    );
    assert_eq!(
        round::write_teachers(&r.teachers).as_bytes(),
        teachers,
        "teachers.csv is not canonical"
    );
    assert_eq!(
        round::write_applicants(&r.applicants, &r.schools).as_bytes(),
        applicants,
        "applicants.csv is not canonical"
    );
    let (root, size) = r.input_root();
    let _ = lottery::bundle::checkpoint_with_root(&r, &root, size);
    if let Ok(outcome) = lottery::draw::draw(&r, &lottery::Digest([7; 32])) {
        let files = lottery::results::render(&r, &outcome);
        let pairs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let _ = lottery::results::results_root(r.domain(), &pairs);
    }
});
