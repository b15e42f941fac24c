//! The four public input files, split out of the input at ASCII record separators (0x1E):
//! `policy ␞ schools ␞ teachers ␞ applicants` → `FrozenRound::parse`; a round that parses is drawn
//! with a fixed seed, its input root, checkpoint and result files computed. Oracles: the CSV files
//! are canonical, and the input root hashed from the files' bytes (the verifier's) is the parsed
//! round's. cargo-fuzz builds with debug assertions, so the draw's by-construction shortcuts
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
    let Ok(r) = FrozenRound::parse(policy, schools, teachers, applicants) else {
        return;
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
    // The verifier hashes the input root straight from the files' bytes.
    assert_eq!(
        round::input_root_of_files(r.domain(), policy, schools, teachers, applicants),
        (root, size),
        "input root from the files differs from the parsed round's"
    );
    let _ = lottery::bundle::checkpoint_with_root(&r, &root, size);
    if let Ok(outcome) = lottery::draw::draw(&r, &lottery::Digest([7; 32])) {
        let files = lottery::results::render(&r, &outcome);
        let pairs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let _ = lottery::results::results_root(r.domain(), &pairs);
    }
});
