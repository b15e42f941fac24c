//! Adversarial inputs (issue 12): files written by people and programs that make mistakes, or lie.
//!
//! Every malformed input must give a clean error that names the file, the line and the field —
//! never a panic, a hang or a silently accepted round. The cases run against both readers: the
//! engine's strict bundle parsers (`lottery::round`, `lottery::policy`, `lottery::verify`) and the
//! bureau-facing import (`server::import`). Inputs start from the seed files the fuzz targets use
//! (`fuzz/seeds/`), so a valid case and its broken twin differ by exactly the broken byte(s).

use lottery::mechanism::{self as mech, PointsError, PointsRule};
use lottery::policy::{Policy, PolicyError};
use lottery::round::{self, RecordError};
use lottery::verify::{self, Files, Status, Unusable};
use server::import::{self, InputFiles, Problem, ProblemKind, read};

const POLICY: &str = include_str!("../fuzz/seeds/bundle/policy.toml");
const SCHOOLS: &str = include_str!("../fuzz/seeds/bundle/schools.csv");
const TEACHERS: &str = include_str!("../fuzz/seeds/bundle/teachers.csv");
const APPLICANTS: &str = include_str!("../fuzz/seeds/bundle/applicants.csv");
const IMPORT_APPLICANTS: &str = include_str!("../fuzz/seeds/import/applicants.csv");

/// The seed bundle (40 applicants, 5 schools), as the verifier reads it.
fn bundle() -> Files {
    macro_rules! f {
        ($($n:literal),*) => {
            [$(($n, &include_bytes!(concat!("../fuzz/seeds/bundle/", $n))[..])),*]
        };
    }
    f!(
        "policy.toml",
        "schools.csv",
        "teachers.csv",
        "applicants.csv",
        "checkpoint.json",
        "commitments.json",
        "reveals.json",
        "beacon.json",
        "results.csv",
        "waitlists.csv",
        "classes.csv",
        "class_teachers.csv",
        "quota.csv",
        "manifest.json"
    )
    .iter()
    .map(|(n, b)| (n.to_string(), b.to_vec()))
    .collect()
}

fn policy() -> Policy {
    Policy::parse(POLICY.as_bytes()).expect("seed policy parses")
}

fn schools() -> Vec<round::School> {
    round::parse_schools(SCHOOLS.as_bytes()).expect("seed schools parse")
}

/// The seed applicants.csv with line `line` (1-based, 2 = first record) replaced.
fn applicants_with_line(line: usize, text: &str) -> String {
    let mut lines: Vec<&str> = APPLICANTS.lines().collect();
    lines[line - 1] = text;
    lines.join("\n") + "\n"
}

/// Field `k` of line `line` of the seed applicants.csv replaced by `value`.
fn applicants_with_field(line: usize, k: usize, value: &str) -> String {
    let original = APPLICANTS.lines().nth(line - 1).expect("line exists");
    let mut f: Vec<&str> = original.split(',').collect();
    f[k] = value;
    applicants_with_line(line, &f.join(","))
}

fn parse_applicants(text: &str) -> Result<round::Applicants, RecordError> {
    round::parse_applicants(text.as_bytes(), &policy(), &schools())
}

/// Asserts an engine error names this file, line and column, and its reason contains `reason`.
#[track_caller]
fn assert_field(
    r: Result<impl std::fmt::Debug, RecordError>,
    file: &str,
    line: usize,
    column: &str,
    reason: &str,
) {
    let e = r.expect_err("the input must be refused");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("{file}, line {line}, column {column}: ")) && msg.contains(reason),
        "expected {file}, line {line}, column {column}: …{reason}…, got {msg:?}"
    );
}

/// The import's seed files, with one replaced.
fn import_files() -> InputFiles {
    InputFiles {
        policy: ("policy.toml".into(), POLICY.as_bytes().to_vec()),
        schools: ("schools.csv".into(), SCHOOLS.as_bytes().to_vec()),
        teachers: Some(("teachers.csv".into(), TEACHERS.as_bytes().to_vec())),
        applicants: (
            "applicants.csv".into(),
            IMPORT_APPLICANTS.as_bytes().to_vec(),
        ),
    }
}

fn import_applicants(text: &[u8]) -> Result<import::ValidatedRound, Vec<Problem>> {
    let mut f = import_files();
    f.applicants.1 = text.to_vec();
    import::import_round(&f, &[1; 32])
}

/// Asserts the import found a problem of `kind` at file/row/column, and returns its message.
#[track_caller]
fn assert_problem(
    r: Result<import::ValidatedRound, Vec<Problem>>,
    kind: ProblemKind,
    file: &str,
    row: Option<usize>,
    column: Option<&str>,
) -> String {
    let problems = r.expect_err("the import must refuse this input");
    let p = problems
        .iter()
        .find(|p| p.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} problem among {:?}", en(&problems)));
    assert_eq!(
        (p.file.as_str(), p.row, p.column.as_deref()),
        (file, row, column),
        "{}",
        p.en()
    );
    p.en()
}

fn en(ps: &[Problem]) -> Vec<String> {
    ps.iter().map(Problem::en).collect()
}

/// The import applicants file with one CSV cell replaced (row 1 = header).
fn import_with_cell(row: usize, col: usize, value: &str) -> String {
    let mut rows: Vec<Vec<String>> = IMPORT_APPLICANTS
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    rows[row - 1][col] = value.to_string();
    rows.iter().map(|r| r.join(",") + "\n").collect()
}

// ---------------------------------------------------------------------------------------------
// The seeds themselves are valid: every case below breaks exactly what it names.

#[test]
fn seeds_are_valid() {
    assert!(parse_applicants(APPLICANTS).is_ok());
    assert!(
        round::FrozenRound::parse(
            POLICY.as_bytes(),
            SCHOOLS.as_bytes(),
            TEACHERS.as_bytes(),
            APPLICANTS.as_bytes()
        )
        .is_ok()
    );
    let v = import::import_round(&import_files(), &[1; 32]);
    assert!(v.is_ok(), "{:?}", v.err().map(|p| en(&p)));
    let report = verify::verify(&bundle()).expect("the seed bundle is usable");
    assert!(report.ok(), "{:?}", report.first_failure());
}

// ---------------------------------------------------------------------------------------------
// Duplicate ids.

#[test]
fn duplicate_application_id() {
    let second = APPLICANTS.lines().nth(1).expect("a record");
    // The same record twice in a row: line 3 repeats line 2's id.
    let mut lines: Vec<&str> = APPLICANTS.lines().collect();
    lines.insert(2, second);
    let text = lines.join("\n") + "\n";
    assert_field(
        parse_applicants(&text),
        "applicants.csv",
        3,
        "application_id",
        "out of order or repeated",
    );

    let text = import_with_cell(3, 0, "A1");
    let msg = assert_problem(
        import_applicants(text.as_bytes()),
        ProblemKind::DuplicateApplicationId,
        "applicants.csv",
        Some(3),
        Some("application_id"),
    );
    assert!(msg.contains("\"A1\""), "{msg}");
}

#[test]
fn duplicate_school_and_teacher_ids() {
    let mut lines: Vec<&str> = SCHOOLS.lines().collect();
    lines.insert(2, lines[1]);
    let text = lines.join("\n") + "\n";
    assert_field(
        round::parse_schools(text.as_bytes()),
        "schools.csv",
        3,
        "school_id",
        "out of order or repeated",
    );
    let mut lines: Vec<&str> = TEACHERS.lines().collect();
    lines.insert(2, lines[1]);
    let text = lines.join("\n") + "\n";
    assert_field(
        round::parse_teachers(text.as_bytes(), &schools()),
        "teachers.csv",
        3,
        "teacher_id",
        "repeated",
    );
}

// ---------------------------------------------------------------------------------------------
// A choice naming an unknown school.

#[test]
fn choice_naming_an_unknown_school() {
    let text = applicants_with_field(2, 4, "S0004;NOPE");
    assert_field(
        parse_applicants(&text),
        "applicants.csv",
        2,
        "choices",
        "unknown school \"NOPE\"",
    );
    let text = import_with_cell(2, 9, "S0001;NOPE");
    let msg = assert_problem(
        import_applicants(text.as_bytes()),
        ProblemKind::UnknownSchool,
        "applicants.csv",
        Some(2),
        Some("choices"),
    );
    assert!(msg.contains("NOPE"), "{msg}");
    // A teacher at an unknown school.
    let text = TEACHERS.replacen(",P0001\n", ",NOPE\n", 1);
    assert_field(
        round::parse_teachers(text.as_bytes(), &schools()),
        "teachers.csv",
        2,
        "school_id",
        "unknown school \"NOPE\"",
    );
}

// ---------------------------------------------------------------------------------------------
// Zero, negative and absurd capacities and seat counts.

fn schools_with_field(line: usize, k: usize, value: &str) -> String {
    let mut lines: Vec<String> = SCHOOLS.lines().map(str::to_string).collect();
    let mut f: Vec<&str> = lines[line - 1].split(',').collect();
    f[k] = value;
    lines[line - 1] = f.join(",");
    lines.join("\n") + "\n"
}

#[test]
fn zero_negative_and_huge_capacity() {
    for bad in [
        "0",
        "-5",
        "1000001",
        "99999999999999999999",
        "4294967297",
        "+3",
        "03",
        "3.0",
    ] {
        assert_field(
            round::parse_schools(schools_with_field(3, 3, bad).as_bytes()),
            "schools.csv",
            3,
            "capacity",
            "positive whole number",
        );
    }
    // Points seats and reserved seats are bounded by the capacity before any narrowing: a value
    // of 2^32 + 1 must not be read as 1 (it was, before the fuzzing of issue 12).
    for bad in ["4294967297", "11"] {
        assert_field(
            round::parse_schools(schools_with_field(3, 5, bad).as_bytes()),
            "schools.csv",
            3,
            "points_seats",
            "at most the capacity",
        );
    }
    assert_field(
        round::parse_schools(schools_with_field(3, 4, "staff=4294967297").as_bytes()),
        "schools.csv",
        3,
        "reserved",
        "at most the capacity",
    );
    assert_field(
        round::parse_schools(schools_with_field(3, 4, "staff=5;teachers=5").as_bytes()),
        "schools.csv",
        3,
        "capacity",
        "exceed the capacity",
    );

    let mut f = import_files();
    let text = schools_with_field(3, 3, "0");
    f.schools.1 = text.into_bytes();
    assert_problem(
        import::import_round(&f, &[1; 32]),
        ProblemKind::NotPositive,
        "schools.csv",
        Some(3),
        Some("capacity"),
    );
    f.schools.1 = schools_with_field(3, 3, "-5").into_bytes();
    assert_problem(
        import::import_round(&f, &[1; 32]),
        ProblemKind::NotPositive,
        "schools.csv",
        Some(3),
        Some("capacity"),
    );
    f.schools.1 = schools_with_field(3, 3, "99999999999999999999").into_bytes();
    assert_problem(
        import::import_round(&f, &[1; 32]),
        ProblemKind::BadNumber,
        "schools.csv",
        Some(3),
        Some("capacity"),
    );
}

// ---------------------------------------------------------------------------------------------
// More choices than the policy allows (max_choices = 10 in the seed policy).

#[test]
fn more_choices_than_the_policy_allows() {
    let eleven = ["P0001", "S0001", "S0002", "S0003", "S0004"]
        .iter()
        .cycle()
        .take(11)
        .copied()
        .collect::<Vec<_>>()
        .join(";");
    // Counted before anything else in the list: even with repeats, the count is the error.
    assert_field(
        parse_applicants(&applicants_with_field(2, 4, &eleven)),
        "applicants.csv",
        2,
        "choices",
        "11 choices, the policy allows 10",
    );
    // A hostile list of 200,000 choices is refused at once, not checked pairwise (quadratic).
    let huge = vec!["S0001"; 200_000].join(";");
    assert_field(
        parse_applicants(&applicants_with_field(2, 4, &huge)),
        "applicants.csv",
        2,
        "choices",
        "200000 choices, the policy allows 10",
    );
    let text = import_with_cell(2, 9, &eleven);
    assert_problem(
        import_applicants(text.as_bytes()),
        ProblemKind::TooManyChoices,
        "applicants.csv",
        Some(2),
        Some("choices"),
    );
    let text = import_with_cell(2, 9, &vec!["S0001"; 5_000].join(";"));
    assert_problem(
        import_applicants(text.as_bytes()),
        ProblemKind::TooManyChoices,
        "applicants.csv",
        Some(2),
        Some("choices"),
    );
}

// ---------------------------------------------------------------------------------------------
// Points that overflow.

fn policy_with(old: &str, new: &str) -> Result<Policy, PolicyError> {
    assert!(POLICY.contains(old), "{old}");
    Policy::parse(POLICY.replacen(old, new, 1).as_bytes())
}

#[test]
fn points_weights_caps_and_values_that_overflow() {
    for (old, new) in [
        ("weight = 1000\n", "weight = 9223372036854775807\n"),
        ("weight = 1000\n", "weight = 1000000001\n"),
        ("cap = 60000\n", "cap = 9223372036854775807\n"),
        ("weight = 1000\n", "weight = -9223372036854775808\n"),
        ("threshold = 12\n", "threshold = -1\n"),
    ] {
        let e = policy_with(old, new).expect_err(new);
        assert!(
            matches!(&e, PolicyError::Invalid { field, .. } if field == "points.social_insurance_months"),
            "{new}: {e}"
        );
        assert!(
            e.to_string()
                .starts_with("policy.toml: points.social_insurance_months: ")
        );
    }
    // Beyond i64: a TOML syntax error, still naming the file and the line.
    let e = policy_with("weight = 1000\n", "weight = 99999999999999999999\n").expect_err("big");
    assert!(
        matches!(&e, PolicyError::Toml(m) if m.contains("line")),
        "{e}"
    );
    assert!(e.to_string().starts_with("policy.toml: "), "{e}");
    // The largest weight and cap allowed, with the largest value allowed, draw without error.
    let p = POLICY
        .replacen("weight = 1000\n", "weight = 1000000000\n", 1)
        .replacen("cap = 60000\n", "cap = 1000000000\n", 1);
    assert!(Policy::parse(p.as_bytes()).is_ok());
    let text = applicants_with_field(2, 6, "social_insurance_months=1000000");
    let r = round::FrozenRound::parse(
        p.as_bytes(),
        SCHOOLS.as_bytes(),
        TEACHERS.as_bytes(),
        text.as_bytes(),
    )
    .expect("round with extreme points");
    let out = lottery::draw::draw(&r, &lottery::Digest([3; 32])).expect("no overflow");
    assert_eq!(out.points[0].as_ref().map(|s| s.total), Some(1_000_000_000));

    // Indicator values: at most 1,000,000, no sign, no overflow.
    for bad in [
        "social_insurance_months=1000001",
        "social_insurance_months=-1",
        "social_insurance_months=99999999999999999999",
        "social_insurance_months=9223372036854775808",
    ] {
        assert_field(
            parse_applicants(&applicants_with_field(2, 6, bad)),
            "applicants.csv",
            2,
            "indicators",
            "",
        );
    }
    let text = import_with_cell(3, 11, "social_insurance_months=9223372036854775807");
    assert_problem(
        import_applicants(text.as_bytes()),
        ProblemKind::BadIndicatorValue,
        "applicants.csv",
        Some(3),
        Some("indicators"),
    );
}

#[test]
fn points_arithmetic_at_i64_extremes_is_an_error_not_a_panic() {
    let rule = |weight: i64, cap: i64, threshold: i64| PointsRule {
        name: "x".into(),
        weight,
        cap,
        threshold,
    };
    assert_eq!(
        mech::score(&[i64::MAX], &[rule(2, i64::MAX, 0)]),
        Err(PointsError::Overflow { rule: 0 })
    );
    assert_eq!(
        mech::score(&[2], &[rule(i64::MIN, i64::MAX, 0)]),
        Err(PointsError::Overflow { rule: 0 })
    );
    assert_eq!(
        mech::score(&[1, 1], &[rule(i64::MAX, i64::MAX, 0), rule(1, 1, 0)]),
        Err(PointsError::TotalOverflow)
    );
    assert_eq!(
        mech::score(&[i64::MIN], &[rule(1, 1, 0)]),
        Err(PointsError::NegativeValue {
            rule: 0,
            value: i64::MIN
        })
    );
    assert_eq!(
        mech::score(&[0], &[rule(1, i64::MIN, 0)]),
        Err(PointsError::InvalidRule { rule: 0 })
    );
    // Negative weight with a cap of i64::MAX: the part is bounded by −cap, no negation overflow.
    let s = mech::score(&[1], &[rule(i64::MIN + 1, i64::MAX, 0)]).expect("fits");
    assert_eq!(s.total_milli, i64::MIN + 1);
    let s = mech::score(&[i64::MAX], &[rule(1, i64::MAX, i64::MAX)]).expect("fits");
    assert_eq!((s.total_milli, s.eligible), (i64::MAX, true));
    // Ranking extremes: no subtraction, no overflow.
    let order = mech::rank_by_points(&[i64::MIN, i64::MAX, 0], &[u64::MAX, 0, 1]).expect("ranks");
    assert_eq!(order, vec![1, 2, 0]);
    assert!(mech::rank_by_points(&[1], &[]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Non-UTF-8 bytes in each file.

#[test]
fn non_utf8_bytes_in_each_engine_file() {
    let bad = |text: &str, at: &str| {
        let mut b = text.as_bytes().to_vec();
        let i = text.find(at).expect("anchor");
        b[i] = 0xFF;
        b
    };
    assert_eq!(
        Policy::parse(&bad(POLICY, "local")).err(),
        Some(PolicyError::NotUtf8)
    );
    assert_eq!(
        PolicyError::NotUtf8.to_string(),
        "policy.toml: the file is not valid UTF-8"
    );
    let e = round::parse_schools(&bad(SCHOOLS, "S0002")).expect_err("schools");
    assert_eq!(e.to_string(), "schools.csv, line 4: not valid UTF-8");
    let e = round::parse_teachers(&bad(TEACHERS, "TP0001-02"), &schools()).expect_err("teachers");
    assert_eq!(e.to_string(), "teachers.csv, line 3: not valid UTF-8");
    let e = round::parse_applicants(&bad(APPLICANTS, "A2026-0000002"), &policy(), &schools())
        .expect_err("applicants");
    assert_eq!(e.to_string(), "applicants.csv, line 3: not valid UTF-8");

    // In the bundle: each JSON document and the log name themselves.
    for name in [
        "manifest.json",
        "checkpoint.json",
        "commitments.json",
        "reveals.json",
        "beacon.json",
    ] {
        let mut files = bundle();
        files.get_mut(name).expect("file")[2] = 0xFF;
        match verify::verify(&files) {
            Err(Unusable::Parse { file, .. }) => assert_eq!(file, name),
            Ok(r) => {
                // A file that still parses as JSON fails V1 (its hash) by name.
                let f = r.first_failure().expect("must fail");
                assert!(
                    matches!(&f.status, Status::Fail(m) if m.starts_with(name)),
                    "{name}: {:?}",
                    f.status
                );
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    for name in [
        "policy.toml",
        "schools.csv",
        "teachers.csv",
        "applicants.csv",
    ] {
        let mut files = bundle();
        files.get_mut(name).expect("file")[20] = 0xFF;
        // A changed file that no longer parses is a discrepancy (exit 1) naming the file and
        // the reason: its bytes differ from the signed manifest.
        let r = verify::verify(&files).expect("usable");
        let v3 = r.checks.iter().find(|c| c.id == "V3").expect("V3");
        match &v3.status {
            Status::Fail(m) => {
                assert!(m.starts_with(name), "{m}");
                assert!(m.contains("UTF-8"), "{m}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let mut files = bundle();
    files.insert("log.jsonl".into(), b"{\"seq\":1,\xff}\n".to_vec());
    let r = verify::verify(&files).expect("usable");
    let v10 = r.checks.iter().find(|c| c.id == "V10").expect("V10");
    assert_eq!(
        v10.status,
        Status::Fail("log.jsonl, line 1: not JSON".into())
    );
}

#[test]
fn non_utf8_bytes_in_import_files() {
    // Bytes that are neither UTF-8 nor GB18030: the row where decoding stops is named.
    let mut b = IMPORT_APPLICANTS.as_bytes().to_vec();
    b.extend_from_slice(b"A9,\xFF\xFF\xFF\n");
    let msg = assert_problem(
        import_applicants(&b),
        ProblemKind::FileUnreadable,
        "applicants.csv",
        Some(6),
        None,
    );
    assert!(msg.contains("GB18030"), "{msg}");
    // A UTF-16 byte-order mark followed by an unpaired surrogate.
    let p =
        read::read_sheet("applicants.csv", b"\xFF\xFEa\x00\x00\xD8").expect_err("broken UTF-16");
    assert_eq!(p.kind, ProblemKind::FileUnreadable);
    // Valid GB18030 (Excel's "CSV" on Chinese Windows) is read, not refused.
    let (gb, _, _) = encoding_rs::GB18030.encode(IMPORT_APPLICANTS);
    assert!(import_applicants(&gb).is_ok());
    // A policy is UTF-8 only.
    let mut f = import_files();
    f.policy.1[0] = 0xFF;
    let problems = import::import_round(&f, &[1; 32]).expect_err("policy");
    assert!(
        problems
            .iter()
            .any(|p| p.kind == ProblemKind::Policy && p.file == "policy.toml"),
        "{:?}",
        en(&problems)
    );
}

// ---------------------------------------------------------------------------------------------
// A 2 GB line, without allocating 2 GB.

/// A sparse file of 2 GiB of zero bytes — one line of 2 GiB — costs no disk and no memory;
/// `load_dir` must refuse it by its size, before reading it.
#[test]
fn a_2_gb_file_is_refused_before_it_is_read() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("adversarial-2gb");
    let _ = std::fs::remove_dir_all(&dir); // left by an earlier run that failed
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("policy.toml"), POLICY).expect("policy");
    std::fs::write(dir.join("schools.csv"), SCHOOLS).expect("schools");
    let f = std::fs::File::create(dir.join("applicants.csv")).expect("applicants");
    f.set_len(2 << 30).expect("sparse 2 GiB file");
    drop(f);
    let r = import::load_dir(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let e = r.expect_err("a 2 GiB file must be refused");
    let msg = e.to_string();
    assert!(
        msg.contains("applicants.csv") && msg.contains(&read::MAX_FILE_BYTES.to_string()),
        "{msg}"
    );
    assert!(matches!(e, import::LoadError::Io { ref source, .. }
        if source.kind() == std::io::ErrorKind::FileTooLarge));
}

/// An input file that is a device (`/dev/zero` behind a symlink: it never ends) is refused, not
/// read until the size limit; the reader refuses anything but a regular file before opening it
/// (opening a named pipe would wait for a writer).
#[cfg(unix)]
#[test]
fn a_device_as_an_input_file_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("adversarial-device");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("policy.toml"), POLICY).expect("policy");
    std::fs::write(dir.join("schools.csv"), SCHOOLS).expect("schools");
    std::os::unix::fs::symlink("/dev/zero", dir.join("applicants.csv")).expect("symlink");
    let r = import::load_dir(&dir);
    let direct = read::read_file_limited(&dir.join("applicants.csv"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(r.is_err(), "a device must not load as applicants.csv");
    let e = direct.expect_err("refused");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn an_overlong_line_is_refused_with_its_number() {
    // The import: a line one byte over the limit, named by its row.
    let mut text = IMPORT_APPLICANTS.to_string();
    text.push_str(&"x".repeat(read::MAX_LINE_BYTES + 1));
    text.push('\n');
    let p = read::read_sheet("applicants.csv", text.as_bytes()).expect_err("long line");
    assert_eq!((p.kind, p.row), (ProblemKind::FileUnreadable, Some(6)));
    assert!(p.en().contains("line 6 has 65537 bytes"), "{}", p.en());
    let msg = assert_problem(
        import_applicants(text.as_bytes()),
        ProblemKind::FileUnreadable,
        "applicants.csv",
        Some(6),
        None,
    );
    assert!(msg.contains("65536"), "{msg}");
    // An in-memory bytes slice over MAX_FILE_BYTES is not built here (1 GiB); the bound is the
    // same constant `read_sheet` checks first.

    // The engine's bundle parsers: a 16 MiB line is one malformed record, refused by name.
    let long = "A".repeat(16 << 20);
    assert_field(
        parse_applicants(&applicants_with_field(2, 0, &long)),
        "applicants.csv",
        2,
        "application_id",
        "1-64 characters",
    );
    let e =
        round::parse_schools(format!("{}\n", "x".repeat(16 << 20)).as_bytes()).expect_err("header");
    assert!(
        e.to_string()
            .starts_with("schools.csv, line 1: header must be")
    );
}

// ---------------------------------------------------------------------------------------------
// Bundles whose manifest references missing files, or with extra files.

#[test]
fn bundle_with_a_missing_file_is_unusable() {
    for name in [
        "results.csv",
        "waitlists.csv",
        "applicants.csv",
        "beacon.json",
    ] {
        let mut files = bundle();
        files.remove(name);
        match verify::verify(&files).err() {
            Some(Unusable::Missing(m)) => assert!(m.starts_with(name), "{m}"),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(
            Unusable::Missing(name.into()).to_string(),
            format!("{name}: file is missing")
        );
    }
    let mut files = bundle();
    files.remove("manifest.json");
    assert_eq!(
        verify::verify(&files).err(),
        Some(Unusable::Missing("manifest.json".into()))
    );
}

/// A bundle read through a `verify::Source` that hands over copies (as `fairdraw-verify` does for
/// its large files) and readers that give a few bytes at a time, and may fail to read one file
/// (at once, or half way through reading it in pieces).
struct Copies {
    files: Files,
    unreadable: Option<&'static str>,
}

impl verify::Source for Copies {
    fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }
    fn load(&self, name: &str) -> Result<Option<std::borrow::Cow<'_, [u8]>>, String> {
        if self.unreadable == Some(name) {
            return Err("input/output error".into());
        }
        Ok(self
            .files
            .get(name)
            .map(|b| std::borrow::Cow::Owned(b.clone())))
    }
    fn open(&self, name: &str) -> Result<Option<Box<dyn std::io::Read + Send + '_>>, String> {
        Ok(self.files.get(name).map(|b| {
            Box::new(Trickle {
                data: b,
                fail_at: (self.unreadable == Some(name)).then_some(b.len() / 2),
            }) as Box<dyn std::io::Read + Send>
        }))
    }
}

/// At most 7 bytes per read; an error at `fail_at` bytes before the end.
struct Trickle<'a> {
    data: &'a [u8],
    fail_at: Option<usize>,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.fail_at.is_some_and(|k| self.data.len() <= k) {
            return Err(std::io::Error::other("input/output error"));
        }
        let k = buf.len().min(7).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

#[test]
fn a_file_that_cannot_be_read_makes_the_bundle_unusable_naming_it() {
    // Read as copies, the bundle verifies as it does in memory, also when one file changed.
    for changed in [
        None,
        Some("results.csv"),
        Some("classes.csv"),
        Some("applicants.csv"),
    ] {
        let mut files = bundle();
        if let Some(name) = changed {
            let b = files.get_mut(name).expect("file");
            let i = b.len() / 2;
            b[i] ^= 0x01;
        }
        let copies = Copies {
            files: files.clone(),
            unreadable: None,
        };
        let (a, b) = (verify::verify(&files), verify::verify(&copies));
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "{changed:?}");
    }
    for name in [
        "applicants.csv",
        "results.csv",
        "quota.csv",
        "beacon.json",
        "manifest.json",
    ] {
        let copies = Copies {
            files: bundle(),
            unreadable: Some(name),
        };
        match verify::verify(&copies).err() {
            Some(e @ Unusable::Parse { .. }) => {
                let m = e.to_string();
                assert!(
                    m.starts_with(name) && m.contains("input/output error"),
                    "{m}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn bundle_with_an_extra_file_fails_naming_it() {
    for name in ["notes.txt", "results2.csv", "log.jsonl"] {
        let mut files = bundle();
        files.insert(name.into(), b"anything\n".to_vec());
        let r = verify::verify(&files).expect("usable");
        let f = r.first_failure().expect("an extra file must fail");
        assert_eq!(f.id, "V1");
        assert_eq!(
            f.status,
            Status::Fail(format!(
                "{name}: file is not listed in the manifest (an extra file)"
            ))
        );
    }
}

#[test]
fn every_single_byte_change_in_a_bundle_file_fails() {
    // One flipped bit per file (at its middle): never Ok with every check passing.
    let base = bundle();
    for name in base.keys() {
        let mut files = base.clone();
        let b = files.get_mut(name).expect("file");
        let i = b.len() / 2;
        b[i] ^= 0x01;
        match verify::verify(&files) {
            Ok(r) => assert!(!r.ok(), "{name}: a changed bundle verified"),
            Err(e) => assert!(e.to_string().contains(name) || e.to_string().starts_with("inputs")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workbooks: a tiny file must not make the reader allocate the sheet's bounding box.

fn xlsx(cells: &[(u32, u16, &str)]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (r, c, t) in cells {
        ws.write_string(*r, *c, *t).expect("cell");
    }
    wb.save_to_buffer().expect("xlsx")
}

#[test]
fn workbook_reads_like_its_csv() {
    let rows: Vec<Vec<&str>> = IMPORT_APPLICANTS
        .lines()
        .map(|l| l.split(',').collect())
        .collect();
    let mut cells = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                cells.push((r as u32, c as u16, *v));
            }
        }
    }
    let mut f = import_files();
    f.applicants = ("applicants.xlsx".into(), xlsx(&cells));
    let from_xlsx = import::import_round(&f, &[1; 32]).map_err(|p| en(&p));
    let from_csv = import::import_round(&import_files(), &[1; 32]).map_err(|p| en(&p));
    assert_eq!(
        from_xlsx.map(|v| v.public),
        from_csv.map(|v| v.public),
        "the same table as .xlsx and .csv"
    );
}

/// An OpenDocument sheet of 1.6 KB whose repeated rows and columns ask for 96 million cells
/// (calamine would build them all while opening it, several GB) is refused at once, whatever
/// its name says.
#[test]
fn opendocument_sheet_is_refused_before_it_is_opened() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions/import/ods-96m-cell-bounding-box");
    let bytes = std::fs::read(path).expect("regression input");
    // The first byte is the fuzz target's choice of entry point.
    for name in ["applicants.xls", "applicants.xlsx", "applicants.ods"] {
        let p = read::read_sheet(name, &bytes[1..]).expect_err("refused");
        assert_eq!(p.kind, ProblemKind::FileUnreadable);
        assert!(p.en().contains("OpenDocument"), "{}", p.en());
    }
}

#[test]
fn workbook_with_far_apart_cells_is_read_sparsely() {
    // A1 and XFD1048576: the bounding box is 17 billion cells.
    let b = xlsx(&[(0, 0, "x"), (1_048_575, 16_383, "y")]);
    let p = read::read_sheet("applicants.xlsx", &b).expect_err("beyond the column limit");
    assert_eq!(
        (p.kind, p.row),
        (ProblemKind::FileUnreadable, Some(1_048_576))
    );
    assert!(p.en().contains("column 16384"), "{}", p.en());
    // A1 and K1048576: a million rows apart, read as the two rows there are.
    let b = xlsx(&[(0, 0, "x"), (1_048_575, 10, "y")]);
    let s = read::read_sheet("applicants.xlsx", &b).expect("two rows");
    assert_eq!(s.rows.len(), 2);
    assert_eq!(s.rows[1].0, 1_048_576);
    assert_eq!(s.rows[1].1.len(), 11);
}

// ---------------------------------------------------------------------------------------------
// .xls workbooks: calamine sizes its memory by what the file claims (`server::import::xls`).

/// The schools table of the `.xls` county example.
fn xls_example() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/county-xls/schools.xls"),
    )
    .expect("examples/county-xls/schools.xls")
}

/// `bytes` with its workbook stream changed by `edit`.
fn xls_with(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut cf = cfb::CompoundFile::open(std::io::Cursor::new(bytes.to_vec())).expect("cfb");
    let mut stream = Vec::new();
    cf.open_stream("/Workbook")
        .and_then(|mut s| s.read_to_end(&mut stream))
        .expect("workbook stream");
    edit(&mut stream);
    let mut s = cf.create_stream("/Workbook").expect("stream");
    s.write_all(&stream).expect("write");
    drop(s);
    cf.flush().expect("flush");
    cf.into_inner().into_inner()
}

/// The offset of the data of the first record of type `typ` after `from` in a BIFF stream.
fn biff_record(stream: &[u8], from: usize, typ: u16) -> usize {
    let mut at = from;
    while at + 4 <= stream.len() {
        let t = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        if t == typ {
            return at + 4;
        }
        at += 4 + len;
    }
    panic!("no record {typ:#06x}");
}

/// The sheet's start (from the globals' BOUNDSHEET record).
fn first_sheet(stream: &[u8]) -> usize {
    let b = biff_record(stream, 0, 0x0085);
    u32::from_le_bytes(stream[b..b + 4].try_into().expect("4 bytes")) as usize
}

#[test]
fn xls_example_reads_like_its_csv() {
    let s = read::read_sheet("schools.xls", &xls_example()).expect("schools.xls");
    assert_eq!(s.rows.len(), 17);
    assert_eq!(s.rows[1].1[0], "JJ-GB-01");
    assert_eq!(s.rows[1].1[3], "40", "a number cell reads as its digits");
}

/// A DIMENSIONS record claiming four billion rows of 65,535 columns made calamine ask for 11 PB
/// and abort the process (found by hand, 2026-11-26); one whose last row comes before its first
/// made it wrap around to the same. Both are refused before calamine reads the file.
#[test]
fn xls_claiming_billions_of_cells_is_refused_not_a_crash() {
    let base = xls_example();
    for (rows, cols) in [((0u32, u32::MAX), (0u16, u16::MAX)), ((9, 1), (0, 10))] {
        let bytes = xls_with(&base, |s| {
            let d = biff_record(s, first_sheet(s), 0x0200);
            s[d..d + 4].copy_from_slice(&rows.0.to_le_bytes());
            s[d + 4..d + 8].copy_from_slice(&rows.1.to_le_bytes());
            s[d + 8..d + 10].copy_from_slice(&cols.0.to_le_bytes());
            s[d + 10..d + 12].copy_from_slice(&cols.1.to_le_bytes());
        });
        let p = read::read_sheet("schools.xls", &bytes).expect_err("refused");
        assert_eq!(p.kind, ProblemKind::FileUnreadable, "{}", p.en());
        assert!(p.en().starts_with("schools.xls"), "{}", p.en());
    }
}

/// Two cells at A1 and IV65536 make calamine lay out 16.7 million cells (half a GB) per sheet.
#[test]
fn xls_with_far_apart_cells_is_refused() {
    let bytes = xls_with(&xls_example(), |s| {
        // The first text cell (a LABELSST record) moves to the sheet's last row and column.
        let d = biff_record(s, first_sheet(s), 0x00FD);
        s[d..d + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        s[d + 2..d + 4].copy_from_slice(&255u16.to_le_bytes());
    });
    let p = read::read_sheet("schools.xls", &bytes).expect_err("refused");
    assert!(p.en().contains("too much memory"), "{}", p.en());
    assert!(
        p.en().contains("more than the limit of 4194304"),
        "{}",
        p.en()
    );
}

/// A BOUNDSHEET record pointing past the end of the stream, or cut short, made calamine panic.
#[test]
fn xls_with_a_stray_sheet_is_refused_not_a_panic() {
    let base = xls_example();
    let past = xls_with(&base, |s| {
        let b = biff_record(s, 0, 0x0085);
        s[b..b + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    });
    let p = read::read_sheet("schools.xls", &past).expect_err("refused");
    assert!(p.en().contains("past the end"), "{}", p.en());
    let cut = xls_with(&base, |s| {
        let b = biff_record(s, 0, 0x0085);
        s[b - 2..b].copy_from_slice(&3u16.to_le_bytes());
    });
    let p = read::read_sheet("schools.xls", &cut).expect_err("refused");
    assert_eq!(p.kind, ProblemKind::FileUnreadable, "{}", p.en());
}

/// An `.xlsx` workbook whose shared-strings part claims 10^14 distinct strings made calamine
/// reserve room for them while opening it (2.4 PB) and abort the process (found by hand,
/// 2026-11-26). The claim is read first and refused.
#[test]
fn xlsx_claiming_a_hundred_trillion_strings_is_refused_not_a_crash() {
    use std::io::{Read, Write};
    let good = xlsx(&[(0, 0, "x"), (1, 0, "y")]);
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(&good)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        let mut part = zin.by_index(i).expect("part");
        let name = part.name().expect("name").to_string();
        let mut data = Vec::new();
        part.read_to_end(&mut data).expect("read");
        if name.ends_with("sharedStrings.xml") {
            let text = String::from_utf8(data).expect("utf-8");
            let at = text.find("uniqueCount=\"").expect("uniqueCount") + 13;
            let end = at + text[at..].find('"').expect("quote");
            data = format!("{}100000000000000{}", &text[..at], &text[end..]).into_bytes();
        }
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        out.start_file(name, options).expect("start");
        out.write_all(&data).expect("write");
    }
    let bad = out.finish().expect("finish").into_inner();
    assert!(read::read_sheet("applicants.xlsx", &good).is_ok());
    let p = read::read_sheet("applicants.xlsx", &bad).expect_err("refused");
    assert_eq!(p.kind, ProblemKind::FileUnreadable, "{}", p.en());
    assert!(
        p.en().contains("100000000000000 distinct strings"),
        "{}",
        p.en()
    );
}

/// A panic inside calamine that the `.xls` guard does not foresee (here a shared-strings record
/// whose first string's run count is cut off) is caught: the file is reported as unreadable and
/// the import goes on to report it like any other problem.
#[test]
fn a_workbook_the_reader_panics_on_is_reported_not_a_crash() {
    let bytes = xls_with(&xls_example(), |s| {
        let bof_len = 4 + usize::from(u16::from_le_bytes([s[2], s[3]]));
        // SST: 8 bytes of counts, then a string of 1 character flagged as rich text (a run
        // count follows) with nothing after it.
        let sst: [u8; 15] = [0xFC, 0x00, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x08];
        // The example has one sheet: its BOUNDSHEET position moves by the inserted record.
        let k = biff_record(s, 0, 0x0085);
        let pos = u32::from_le_bytes(s[k..k + 4].try_into().expect("4 bytes")) + 15;
        s[k..k + 4].copy_from_slice(&pos.to_le_bytes());
        s.splice(bof_len..bof_len, sst);
    });
    let p = read::read_sheet("schools.xls", &bytes).expect_err("refused");
    assert_eq!(p.kind, ProblemKind::FileUnreadable, "{}", p.en());
    assert!(p.en().contains("could not make sense"), "{}", p.en());
}
