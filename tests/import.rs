//! Import of the bureau's files: the example round under `examples/`, every validation rule, and
//! one bad row among 100,000.

mod county;

use server::import::{self, InputFiles, Problem, ProblemKind};
use std::path::{Path, PathBuf};

const KEY: [u8; 32] = [7; 32];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Writes `examples/county*` from the generator. Run after changing `tests/county/mod.rs`:
/// `cargo test -p server --test import -- --ignored generate_county_example`.
#[test]
#[ignore]
fn generate_county_example() -> Result<(), Box<dyn std::error::Error>> {
    for (path, bytes) in county::files() {
        let p = root().join(path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, bytes)?;
    }
    Ok(())
}

#[test]
fn county_example_is_reproducible() -> Result<(), Box<dyn std::error::Error>> {
    for (path, bytes) in county::files() {
        let committed = std::fs::read(root().join(&path))?;
        assert!(
            committed == bytes,
            "{path} differs from what tests/county/mod.rs generates; regenerate with \
             `cargo test -p server --test import -- --ignored generate_county_example`"
        );
    }
    Ok(())
}

fn show(problems: &[Problem]) -> String {
    problems
        .iter()
        .take(20)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn load(dir: &str) -> InputFiles {
    import::load_dir(&root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"))
}

#[test]
fn county_example_imports_from_csv_xlsx_xls_and_gb18030_alike() {
    let csv = import::import_round(&load("examples/county"), &KEY)
        .unwrap_or_else(|p| panic!("examples/county:\n{}", show(&p)));
    assert_eq!(csv.private.len(), county::APPLICANTS);
    assert_eq!(csv.round.applicants.len(), county::APPLICANTS);
    assert_eq!(csv.round.schools.len(), 16);
    for dir in [
        "examples/county-xlsx",
        "examples/county-xls",
        "examples/county-gb18030",
    ] {
        let other = import::import_round(&load(dir), &KEY)
            .unwrap_or_else(|p| panic!("{dir}:\n{}", show(&p)));
        assert_eq!(other.public, csv.public, "{dir}: public files differ");
        assert!(
            other.private == csv.private,
            "{dir}: private records differ"
        );
    }
}

/// The schools file's row order does not matter: the applicants' choices and categories are
/// held as indices into the round's schools sorted by id, and name the same schools either way.
#[test]
fn schools_in_any_row_order_import_alike() {
    let files = load("examples/county");
    let sorted = import::import_round(&files, &KEY)
        .unwrap_or_else(|p| panic!("examples/county:\n{}", show(&p)));
    let text = String::from_utf8(files.schools.1.clone()).unwrap_or_default();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    let mut reversed = files.clone();
    reversed.schools.1 = format!("{}\n", lines.join("\n")).into_bytes();
    assert_ne!(reversed.schools.1, files.schools.1);
    let other = import::import_round(&reversed, &KEY)
        .unwrap_or_else(|p| panic!("reversed schools:\n{}", show(&p)));
    assert_eq!(other.public, sorted.public, "public files differ");
    assert_eq!(
        lottery::round::write_applicants(&other.round.applicants, &other.round.schools),
        String::from_utf8(other.public.applicants.clone()).unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------------------------
// Validation rules: each test breaks one thing in the example round and expects exactly the
// problem that names it.

/// Column index of a header in a table.
fn col(t: &county::Table, header: &str) -> usize {
    t.header
        .iter()
        .position(|h| *h == header)
        .unwrap_or_else(|| panic!("no column {header}"))
}

/// The example's files with the tables changed by `f`, all as UTF-8 CSV.
fn files_with(f: impl FnOnce(&mut county::County)) -> InputFiles {
    let mut c = county::county();
    f(&mut c);
    InputFiles {
        policy: ("policy.toml".into(), county::POLICY.as_bytes().to_vec()),
        schools: ("schools.csv".into(), county::csv_utf8(&c.schools, false)),
        teachers: Some(("teachers.csv".into(), county::csv_utf8(&c.teachers, false))),
        applicants: (
            "applicants.csv".into(),
            county::csv_utf8(&c.applicants, true),
        ),
    }
}

/// Imports and returns the problems (the import must fail), checking that each one says where
/// and what in both languages.
fn problems(files: &InputFiles) -> Vec<Problem> {
    match import::import_round(files, &KEY) {
        Ok(_) => panic!("the import should have failed"),
        Err(p) => {
            for x in &p {
                assert!(!x.file.is_empty());
                assert!(!x.detail_zh.is_empty() && !x.detail_en.is_empty());
                assert!(x.zh().starts_with(&x.file) && x.en().starts_with(&x.file));
                if x.column.is_some() {
                    assert!(x.row.is_some(), "{x}");
                }
                if x.row.is_some_and(|r| r > 1) && x.column.is_some() {
                    assert!(x.value.is_some(), "{x}");
                }
            }
            p
        }
    }
}

/// Exactly one problem, of this kind, at this file/row/column.
fn one(p: &[Problem], kind: ProblemKind, file: &str, row: usize, column: &str) -> Problem {
    assert_eq!(p.len(), 1, "expected one problem, got:\n{}", show(p));
    let x = &p[0];
    assert_eq!(x.kind, kind, "{x}");
    assert_eq!(x.file, file, "{x}");
    assert_eq!(x.row, Some(row), "{x}");
    assert_eq!(x.column.as_deref(), Some(column), "{x}");
    x.clone()
}

/// Spreadsheet row of data row `i` in a CSV with the header on row 1.
fn row(i: usize) -> usize {
    i + 2
}

/// A valid ID-card number for data row `i` with another birth date (same region and gender).
fn id_born(a: &county::Table, i: usize, y: i64, m: i64, d: i64) -> String {
    let old = &a.rows[i][col(a, "身份证号")];
    let region = &old[..6];
    let seq: u32 = old[14..17].parse().unwrap_or(0);
    county::id_number(region, y, m, d, seq)
}

#[test]
fn the_example_validates_with_english_headers_too() {
    let f = files_with(|c| {
        c.schools.header = vec![
            "School ID",
            "name",
            "kind",
            "capacity",
            "reserved",
            "points_seats",
            "classes",
            "x",
            "y",
            "graduates",
        ];
        c.teachers.header = vec!["teacher_id", "school_id"];
        c.applicants.header = vec![
            "Application_ID",
            "name",
            "gender",
            "birth_date",
            "id_card",
            "phone",
            "address",
            "track",
            "groups",
            "choices",
            "categories",
            "indicators",
            "family",
            "priority",
            "manual",
            "x",
            "y",
        ];
    });
    let english = import::import_round(&f, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let chinese =
        import::import_round(&files_with(|_| {}), &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(english.public, chinese.public);
}

#[test]
fn rule_id_card_check_digit() {
    let mut bad = String::new();
    let f = files_with(|c| {
        let j = col(&c.applicants, "身份证号");
        let id = c.applicants.rows[9][j].clone();
        let wrong = if id.ends_with('3') { '4' } else { '3' };
        bad = format!("{}{wrong}", &id[..17]);
        c.applicants.rows[9][j] = bad.clone();
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::IdCardCheckDigit,
        "applicants.csv",
        row(9),
        "身份证号",
    );
    assert_eq!(x.value.as_deref(), Some(bad.as_str()));
    assert!(x.detail_zh.contains("校验位") && x.detail_en.contains("check character"));
}

#[test]
fn rule_id_card_damaged_by_a_spreadsheet() {
    // Scientific notation, a lost trailing X, a 15-digit number.
    let f = files_with(|c| {
        let j = col(&c.applicants, "身份证号");
        let x_row = c.applicants.rows.iter().position(|r| r[j].ends_with('X'));
        let x_row = x_row.expect("the example has IDs ending in X");
        c.applicants.rows[x_row][j].pop();
        c.applicants.rows[3][j] = "3.50582E+17".into();
        // Saved from a number cell as text: 15 significant digits, then zeros.
        let id = c.applicants.rows[4][j].clone();
        c.applicants.rows[4][j] = format!("{}000", &id[..15]);
    });
    let p = problems(&f);
    let kinds: Vec<ProblemKind> = p.iter().map(|x| x.kind).collect();
    assert_eq!(p.len(), 3, "{}", show(&p));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == ProblemKind::ScientificNotation)
            .count(),
        2
    );
    assert!(kinds.contains(&ProblemKind::IdCardLostX));
}

#[test]
fn rule_birth_date_inside_the_age_window() {
    // The window is 2012-09-01 ..= 2014-08-31: both ends are inside, the days beyond are not.
    let dates = [(2012, 9, 1), (2014, 8, 31), (2012, 8, 31), (2014, 9, 1)];
    let f = files_with(|c| {
        let a = &mut c.applicants;
        let (jb, jd) = (col(a, "身份证号"), col(a, "出生日期"));
        for (k, (y, m, d)) in dates.iter().enumerate() {
            let id = id_born(a, 40 + k, *y, *m, *d);
            a.rows[40 + k][jb] = id;
            a.rows[40 + k][jd] = format!("{y:04}-{m:02}-{d:02}");
        }
    });
    let p = problems(&f);
    assert_eq!(p.len(), 2, "{}", show(&p));
    for (x, i) in p.iter().zip([42, 43]) {
        assert_eq!(x.kind, ProblemKind::BirthDateOutsideWindow, "{x}");
        assert_eq!(
            (x.row, x.column.as_deref()),
            (Some(row(i)), Some("出生日期"))
        );
        assert!(x.detail_zh.contains("2012-09-01") && x.detail_en.contains("2014-08-31"));
    }
    // Without a birth-date column the ID number's date is checked, and the problem points there.
    let f = files_with(|c| {
        let a = &mut c.applicants;
        let (jb, jd) = (col(a, "身份证号"), col(a, "出生日期"));
        let id = id_born(a, 50, 2015, 1, 10);
        a.rows[50][jb] = id;
        a.header.remove(jd);
        for r in &mut a.rows {
            r.remove(jd);
        }
    });
    let p = problems(&f);
    one(
        &p,
        ProblemKind::BirthDateOutsideWindow,
        "applicants.csv",
        row(50),
        "身份证号",
    );
}

#[test]
fn rule_birth_date_must_agree_with_the_id_number() {
    let f = files_with(|c| {
        let jd = col(&c.applicants, "出生日期");
        c.applicants.rows[60][jd] = "2013-01-01".into();
    });
    let p = problems(&f);
    one(
        &p,
        ProblemKind::BirthDateMismatch,
        "applicants.csv",
        row(60),
        "出生日期",
    );
}

#[test]
fn rule_the_same_child_twice() {
    let f = files_with(|c| {
        let a = &mut c.applicants;
        for h in ["身份证号", "出生日期", "性别"] {
            let j = col(a, h);
            a.rows[300][j] = a.rows[20][j].clone();
        }
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::DuplicateIdCard,
        "applicants.csv",
        row(300),
        "身份证号",
    );
    assert!(x.detail_zh.contains(&format!("第 {} 行", row(20))), "{x}");
    assert!(x.detail_en.contains("JJ2607-0021") && x.detail_en.contains("JJ2607-0301"));
}

#[test]
fn rule_the_same_application_id_twice() {
    let f = files_with(|c| {
        let j = col(&c.applicants, "申请编号");
        c.applicants.rows[77][j] = c.applicants.rows[76][j].clone();
    });
    let p = problems(&f);
    one(
        &p,
        ProblemKind::DuplicateApplicationId,
        "applicants.csv",
        row(77),
        "申请编号",
    );
}

#[test]
fn rule_choice_of_an_unknown_school() {
    let f = files_with(|c| {
        let j = col(&c.applicants, "志愿学校");
        c.applicants.rows[100][j] = "JJ-GB-01;JJ-GB-99".into();
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::UnknownSchool,
        "applicants.csv",
        row(100),
        "志愿学校",
    );
    assert!(x.detail_en.contains("JJ-GB-99"));
    // Choices may name a school by its name.
    let f = files_with(|c| {
        let j = col(&c.applicants, "志愿学校");
        c.applicants.rows[100][j] = "晋江市养正中学；晋江市季延中学".into();
    });
    assert!(import::import_round(&f, &KEY).is_ok());
}

#[test]
fn rule_choice_repeated() {
    let f = files_with(|c| {
        let j = col(&c.applicants, "志愿学校");
        c.applicants.rows[101][j] = "JJ-GB-02;JJ-GB-01;晋江市季延中学".into();
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::RepeatedEntry,
        "applicants.csv",
        row(101),
        "志愿学校",
    );
    assert!(x.detail_en.contains("JJ-GB-02"));
}

#[test]
fn rule_choices_beyond_the_policy_limit() {
    let f = files_with(|c| {
        let j = col(&c.applicants, "志愿学校");
        c.applicants.rows[102][j] =
            "JJ-GB-01;JJ-GB-02;JJ-GB-03;JJ-GB-04;JJ-GB-05;JJ-GB-06;JJ-GB-07".into();
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::TooManyChoices,
        "applicants.csv",
        row(102),
        "志愿学校",
    );
    assert!(x.detail_zh.contains("最多允许 6 个") && x.detail_en.contains("at most 6"));
}

#[test]
fn rule_undefined_category() {
    let f = files_with(|c| {
        let j = col(&c.applicants, "类别");
        let i = c.applicants.rows.iter().position(|r| !r[j].is_empty());
        let i = i.expect("a row with categories");
        c.applicants.rows[i][j] = "JJ-GB-01:学区房".into();
        assert_eq!(i, 1);
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::UnknownCategory,
        "applicants.csv",
        row(1),
        "类别",
    );
    assert!(x.detail_zh.contains("房户一致"), "{x}");
}

#[test]
fn rule_undefined_points_indicator() {
    let f = files_with(|c| {
        let j = col(&c.applicants, "积分指标");
        c.applicants.rows[0][j] = "社保月数=60;纳税年限=3".into();
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::UnknownIndicator,
        "applicants.csv",
        row(0),
        "积分指标",
    );
    assert!(x.detail_en.contains("social_insurance_months"), "{x}");
}

#[test]
fn rule_undefined_track_and_group() {
    let f = files_with(|c| {
        let (jt, jg) = (col(&c.applicants, "报名通道"), col(&c.applicants, "群体"));
        c.applicants.rows[5][jt] = "户籍生".into();
        c.applicants.rows[6][jg] = "vip".into();
    });
    let p = problems(&f);
    assert_eq!(p.len(), 2, "{}", show(&p));
    assert_eq!(p[0].kind, ProblemKind::UnknownTrack);
    assert_eq!(p[1].kind, ProblemKind::UnknownGroup);
}

#[test]
fn rule_capacity_missing() {
    let f = files_with(|c| {
        let j = col(&c.schools, "招生计划");
        c.schools.rows[3][j] = String::new();
    });
    let p = problems(&f);
    one(&p, ProblemKind::Required, "schools.csv", row(3), "招生计划");
}

#[test]
fn rule_capacity_not_positive() {
    for bad in ["0", "-5"] {
        let f = files_with(|c| {
            let j = col(&c.schools, "招生计划");
            c.schools.rows[4][j] = bad.into();
        });
        let p = problems(&f);
        one(
            &p,
            ProblemKind::NotPositive,
            "schools.csv",
            row(4),
            "招生计划",
        );
    }
    let f = files_with(|c| {
        let j = col(&c.schools, "招生计划");
        c.schools.rows[4][j] = "五十".into();
    });
    one(
        &problems(&f),
        ProblemKind::BadNumber,
        "schools.csv",
        row(4),
        "招生计划",
    );
}

#[test]
fn rule_family_link_to_a_missing_applicant() {
    let mut expected_row = 0;
    let f = files_with(|c| {
        let a = &mut c.applicants;
        let j = col(a, "家庭编号");
        // Delete the first twin of the first family: the second one is left alone.
        let first = a.rows.iter().position(|r| !r[j].is_empty());
        let first = first.expect("the example has families");
        a.rows.remove(first);
        expected_row = row(first);
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::FamilyAlone,
        "applicants.csv",
        expected_row,
        "家庭编号",
    );
    assert_eq!(x.value.as_deref(), Some("JJF-001"));
}

#[test]
fn rule_manual_placement_and_priority_references() {
    let f = files_with(|c| {
        let a = &mut c.applicants;
        let (jm, jp) = (col(a, "一人一案"), col(a, "优先"));
        a.rows[10][jm] = "JJ-GB-01:关系户".into();
        a.rows[11][jp] = "JJ-GB-01:staff".into();
    });
    let p = problems(&f);
    assert_eq!(p.len(), 2, "{}", show(&p));
    assert_eq!(p[0].kind, ProblemKind::UnknownManualReason);
    assert_eq!(p[1].kind, ProblemKind::GroupNotReserved);
}

#[test]
fn every_problem_in_every_file_is_reported_at_once() {
    let f = files_with(|c| {
        let j = col(&c.schools, "招生计划");
        c.schools.rows[0][j] = "0".into();
        let j = col(&c.teachers, "学校代码");
        c.teachers.rows[0][j] = "JJ-GB-77".into();
        let j = col(&c.applicants, "监护人电话");
        c.applicants.rows[0][j] = "12345".into();
        c.applicants.rows[599][j] = "5958568123".into();
    });
    let p = problems(&f);
    let got: Vec<(&str, Option<usize>, ProblemKind)> =
        p.iter().map(|x| (x.file.as_str(), x.row, x.kind)).collect();
    assert_eq!(
        got,
        vec![
            ("schools.csv", Some(2), ProblemKind::NotPositive),
            ("teachers.csv", Some(2), ProblemKind::UnknownSchool),
            ("applicants.csv", Some(2), ProblemKind::BadPhone),
            ("applicants.csv", Some(601), ProblemKind::LeadingZeros),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Scale: one bad row among 100,000.

/// 100,000 valid applicants of the example's schools, as a UTF-8 CSV; `bad` replaces the check
/// character of that data row's ID number with a wrong one.
fn hundred_thousand(bad: Option<usize>) -> Vec<u8> {
    applicants_csv(100_000, bad)
}

/// `n` (at most 100,000) valid applicants of the example's schools, as [`hundred_thousand`].
fn applicants_csv(n: usize, bad: Option<usize>) -> Vec<u8> {
    let mut s = String::with_capacity(160 * n);
    s.push_str("申请编号,姓名,出生日期,身份证号,监护人电话,家庭住址,报名通道,志愿学校,类别\n");
    let schools = ["JJ-GB-01", "JJ-GB-02", "JJ-GB-03", "JJ-GB-04"];
    for i in 0..n {
        // 336 birth dates in 2013 (inside the window), sequence numbers up to 297.
        let (m, d) = (1 + (i % 336) / 28, 1 + i % 28);
        let seq = (i / 336) as u32;
        let mut id = county::id_number("350582", 2013, m as i64, d as i64, seq);
        if bad == Some(i) {
            let wrong = if id.ends_with('0') { '1' } else { '0' };
            id.pop();
            id.push(wrong);
        }
        let a = schools[i % 4];
        let b = schools[(i + 1) % 4];
        s.push_str(&format!(
            "JJ2607-{i:06},测试{i},2013-{m:02}-{d:02},{id},138{i:08},福建省晋江市青阳街道测试路{i}号,local,{a};{b},{a}:1;{b}:2\n"
        ));
    }
    s.into_bytes()
}

#[test]
fn one_bad_row_among_100000_freezes_nothing_and_names_that_row() {
    let base = files_with(|_| {});
    let bad_index = 73_210;
    let files = InputFiles {
        applicants: ("applicants.csv".into(), hundred_thousand(Some(bad_index))),
        ..base.clone()
    };
    let p = problems(&files);
    let x = one(
        &p,
        ProblemKind::IdCardCheckDigit,
        "applicants.csv",
        row(bad_index),
        "身份证号",
    );
    assert!(x.zh().contains("第 73212 行「身份证号」列"), "{}", x.zh());
    assert!(
        x.en().contains("row 73212, column \"身份证号\""),
        "{}",
        x.en()
    );

    // Without the bad row the same file imports: that row alone stopped the freeze.
    let files = InputFiles {
        applicants: ("applicants.csv".into(), hundred_thousand(None)),
        ..base
    };
    let v = import::import_round(&files, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(v.round.applicants.len(), 100_000);
}

/// The sections (one notice each) of a notices page, in order.
fn notice_sections(page: &str) -> Vec<&str> {
    page.split("<section class=\"notice\">")
        .skip(1)
        .map(|s| s.split("</section>").next().unwrap_or(""))
        .collect()
}

#[test]
fn notices_come_in_printable_parts_above_a_thousand_children()
-> Result<(), Box<dyn std::error::Error>> {
    let per = import::NOTICES_PER_PART;
    let files = InputFiles {
        applicants: ("applicants.csv".into(), applicants_csv(2 * per + 100, None)),
        ..files_with(|_| {})
    };
    let v = import::import_round(&files, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("notices-in-parts");
    let _ = std::fs::remove_dir_all(&dir);
    let written = import::write_private(&dir, &v, None)?;
    // Three parts of 1,000, 1,000 and 100 notices, in application-id order, and together the
    // notices of the single page.
    let parts: Vec<String> = written
        .notice_parts
        .iter()
        .map(std::fs::read_to_string)
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = written
        .notice_parts
        .iter()
        .filter_map(|p| p.strip_prefix(&dir).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "notices/00001.html",
            "notices/00002.html",
            "notices/00003.html"
        ]
    );
    let counts: Vec<usize> = parts.iter().map(|p| notice_sections(p).len()).collect();
    assert_eq!(counts, [per, per, 100]);
    let whole = import::notices_html(&v, None);
    let joined: Vec<&str> = parts.iter().flat_map(|p| notice_sections(p)).collect();
    assert_eq!(joined, notice_sections(&whole));
    assert!(
        parts[1].contains("（第 2/3 册）"),
        "the part's number in its title"
    );
    // The index names every part and the application ids it holds; it holds no notice.
    let index = std::fs::read_to_string(&written.notices)?;
    assert!(notice_sections(&index).is_empty());
    for (name, part) in names.iter().zip(&parts) {
        assert!(index.contains(&format!("href=\"{name}\"")), "{name}");
        let first = &v.private[names.iter().position(|n| n == name).unwrap_or(0) * per];
        assert!(index.contains(&first.application_id) && part.contains(&first.application_id));
    }
    // Written again: the same bytes.
    let again = import::write_private(&dir, &v, None)?;
    for (p, bytes) in again.notice_parts.iter().zip(&parts) {
        assert_eq!(&std::fs::read_to_string(p)?, bytes);
    }
    assert_eq!(std::fs::read_to_string(&again.notices)?, index);
    // A round of at most 1,000 children: every notice in notices.html, no parts left over.
    let small =
        import::import_round(&files_with(|_| {}), &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let one = import::write_private(&dir, &small, None)?;
    assert!(one.notice_parts.is_empty() && !dir.join("notices").exists());
    assert_eq!(
        std::fs::read_to_string(&one.notices)?,
        import::notices_html(&small, None)
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What spreadsheets do to data.

/// A plain workbook of a table (header on row 1), every cell text except the `numbers` cells
/// (data row, column), written as number cells.
fn workbook(t: &county::Table, numbers: &[(usize, usize)]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in t.header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("header");
    }
    for (r, row) in t.rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if numbers.contains(&(r, c)) {
                let n: f64 = v.parse().expect("a number");
                ws.write_number(r as u32 + 1, c as u16, n).expect("number");
            } else if !v.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, v).expect("text");
            }
        }
    }
    wb.save_to_buffer().expect("workbook")
}

fn with_workbook(files: InputFiles, c: &county::County, numbers: &[(usize, usize)]) -> InputFiles {
    InputFiles {
        applicants: ("applicants.xlsx".into(), workbook(&c.applicants, numbers)),
        ..files
    }
}

#[test]
fn spreadsheet_id_number_stored_as_a_number_is_refused() {
    let c = county::county();
    let j = col(&c.applicants, "身份证号");
    // Pick a row whose ID has no X, so that it can be a number at all.
    let i = (0..c.applicants.rows.len())
        .find(|&i| !c.applicants.rows[i][j].ends_with('X'))
        .expect("a numeric ID");
    let f = with_workbook(files_with(|_| {}), &c, &[(i, j)]);
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::ScientificNotation,
        "applicants.xlsx",
        i + 2,
        "身份证号",
    );
    assert!(x.value.as_deref().is_some_and(|v| v.contains('E')), "{x}");
    assert!(x.detail_zh.contains("文本") && x.detail_en.contains("Text"));
}

#[test]
fn spreadsheet_date_as_a_serial_number_is_refused_with_its_meaning() {
    let mut c = county::county();
    let j = col(&c.applicants, "出生日期");
    // 41640 is 2014-01-01 in Excel's 1900 date system.
    c.applicants.rows[8][j] = "41640".into();
    let f = with_workbook(files_with(|_| {}), &c, &[(8, j)]);
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::ExcelSerialDate,
        "applicants.xlsx",
        10,
        "出生日期",
    );
    assert!(
        x.detail_zh.contains("2014") || x.detail_en.contains("2014"),
        "{x}"
    );
}

#[test]
fn spreadsheet_landline_that_lost_its_leading_zero() {
    let mut c = county::county();
    let j = col(&c.applicants, "监护人电话");
    c.applicants.rows[12][j] = "59585681234".into();
    let f = with_workbook(files_with(|_| {}), &c, &[(12, j)]);
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::LeadingZeros,
        "applicants.xlsx",
        14,
        "监护人电话",
    );
    assert!(x.detail_en.contains("059585681234"), "{x}");
}

#[test]
fn spreadsheet_school_code_that_lost_its_leading_zeros() {
    let f = files_with(|c| {
        for t in [&mut c.schools, &mut c.teachers, &mut c.applicants] {
            for r in &mut t.rows {
                for v in r.iter_mut() {
                    *v = v.replace("JJ-GB-01", "0101");
                }
            }
        }
        let j = col(&c.applicants, "志愿学校");
        c.applicants.rows[14][j] = "101;JJ-GB-02".into();
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::UnknownSchool,
        "applicants.csv",
        row(14),
        "志愿学校",
    );
    assert!(
        x.detail_zh.contains("0101") && x.detail_zh.contains("开头的 0"),
        "{x}"
    );
    assert!(x.detail_en.contains("leading zeros"), "{x}");
}

#[test]
fn spreadsheet_full_width_characters_spaces_and_empty_rows_are_harmless() {
    let plain =
        import::import_round(&files_with(|_| {}), &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let full = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                _ => c,
            })
            .collect()
    };
    let f = files_with(|c| {
        let a = &mut c.applicants;
        for h in [
            "身份证号",
            "监护人电话",
            "志愿学校",
            "类别",
            "坐标X",
            "申请编号",
        ] {
            let j = col(a, h);
            // Full-width forms (an IME left in full-width mode) and stray spaces around values.
            a.rows[3][j] = format!(" {}\u{3000}", full(&a.rows[3][j]));
            a.rows[4][j] = format!("\u{A0}{} ", a.rows[4][j]);
        }
        let j = col(a, "身份证号");
        a.rows[5][j] = a.rows[5][j].to_lowercase();
        // Rows a spreadsheet leaves at the end: empty cells, only spaces.
        let width = a.header.len();
        a.rows.push(vec![String::new(); width]);
        a.rows.push(vec![" ".to_string(); width]);
        let w = c.schools.header.len();
        c.schools.rows.push(vec![String::new(); w]);
    });
    let folded = import::import_round(&f, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(folded.public, plain.public);
    assert!(folded.private == plain.private);
}

#[test]
fn spreadsheet_error_values_and_broken_rows() {
    let f = files_with(|c| {
        let a = &mut c.applicants;
        let j = col(a, "家庭住址");
        a.rows[30][j] = "#N/A".into();
        // An unquoted comma in an address: the row has one cell too many.
        a.rows[31][j] = "福建省晋江市青阳街道迎宾路88号".into();
        a.rows[31].push("3幢1203室".into());
        // A date written day/month/year that reads two ways (5 March or 3 May).
        let j = col(a, "出生日期");
        a.rows[32][j] = "05/03/2013".into();
    });
    let p = problems(&f);
    let got: Vec<(Option<usize>, ProblemKind)> = p.iter().map(|x| (x.row, x.kind)).collect();
    assert_eq!(
        got,
        [
            (Some(row(30)), ProblemKind::SpreadsheetError),
            (Some(row(31)), ProblemKind::RowShape),
            (Some(row(32)), ProblemKind::AmbiguousDate)
        ],
        "{}",
        show(&p)
    );
}

#[test]
fn encodings_utf8_bom_gb18030_and_garbage() {
    let c = county::county();
    // GB18030 decodes to the same round as UTF-8 (with and without BOM).
    let base = files_with(|_| {});
    let expect = import::import_round(&base, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    for bytes in [
        county::csv_utf8(&c.applicants, false),
        county::csv_gb18030(&c.applicants),
    ] {
        let f = InputFiles {
            applicants: ("applicants.csv".into(), bytes),
            ..base.clone()
        };
        let v = import::import_round(&f, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
        assert_eq!(v.public, expect.public);
    }
    // A binary file saved under a .csv name.
    let f = InputFiles {
        applicants: (
            "applicants.csv".into(),
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00\x00\xFF\xFF".to_vec(),
        ),
        ..base
    };
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{}", show(&p));
    assert_eq!(p[0].kind, ProblemKind::FileUnreadable);
}

/// The problem report of `examples/county-broken/`, as `fairdraw round freeze` would show it:
/// each problem in Chinese, then in English.
fn broken_report() -> String {
    let files = load("examples/county-broken");
    let p = problems(&files);
    let mut out = format!(
        "{} 个问题，未冻结任何数据 / {} problems, nothing frozen\n\n",
        p.len(),
        p.len()
    );
    for x in &p {
        out.push_str(&format!("{x}\n"));
    }
    out
}

/// Writes `examples/county-broken/problems.txt` (after `generate_county_example`).
#[test]
#[ignore]
fn generate_county_broken_report() -> Result<(), Box<dyn std::error::Error>> {
    std::fs::write(
        root().join("examples/county-broken/problems.txt"),
        broken_report(),
    )?;
    Ok(())
}

#[test]
fn county_broken_report_is_as_documented() -> Result<(), Box<dyn std::error::Error>> {
    let committed = std::fs::read_to_string(root().join("examples/county-broken/problems.txt"))?;
    assert_eq!(committed, broken_report());
    Ok(())
}

#[test]
fn spreadsheet_merged_header_cells_do_not_drop_data_silently() {
    // A form with the header 志愿学校 merged over three columns, one school in each.
    let c = county::county();
    let a = &c.applicants;
    let jc = col(a, "志愿学校");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let mut out_col = 0u16;
    let mut choice_cols = 0u16;
    for (j, h) in a.header.iter().enumerate() {
        if j == jc {
            ws.merge_range(
                0,
                out_col,
                0,
                out_col + 2,
                h,
                &rust_xlsxwriter::Format::new(),
            )
            .expect("merge");
            choice_cols = out_col;
            out_col += 3;
        } else {
            ws.write_string(0, out_col, *h).expect("header");
            out_col += 1;
        }
    }
    for (r, row) in a.rows.iter().enumerate() {
        let mut k = 0u16;
        for (j, v) in row.iter().enumerate() {
            if j == jc {
                for (n, school) in v.split([';', '；', '、']).take(3).enumerate() {
                    ws.write_string(r as u32 + 1, k + n as u16, school)
                        .expect("choice");
                }
                k += 3;
            } else {
                if !v.is_empty() {
                    ws.write_string(r as u32 + 1, k, v).expect("cell");
                }
                k += 1;
            }
        }
    }
    let f = InputFiles {
        applicants: (
            "applicants.xlsx".into(),
            wb.save_to_buffer().expect("workbook"),
        ),
        ..files_with(|_| {})
    };
    let p = problems(&f);
    // Two columns without a header, each reported once (not once per row).
    assert_eq!(p.len(), 2, "{}", show(&p));
    for (x, k) in p.iter().zip(1..) {
        assert_eq!(x.kind, ProblemKind::UnnamedColumn);
        let letter = char::from(b'A' + (choice_cols + k) as u8).to_string();
        assert_eq!(x.column.as_deref(), Some(letter.as_str()), "{x}");
        assert!(x.detail_zh.contains("合并") && x.detail_en.contains("merged"));
    }
}

// ---------------------------------------------------------------------------------------------
// Choices one per column (第一志愿, 第二志愿, …), as enrollment platforms export them.

fn numbered_files(f: impl FnOnce(&mut county::Table)) -> InputFiles {
    let mut t = county::numbered_choices(&county::county().applicants);
    f(&mut t);
    InputFiles {
        applicants: ("applicants.csv".into(), county::csv_utf8(&t, true)),
        ..files_with(|_| {})
    }
}

#[test]
fn numbered_choice_columns_give_the_same_round() {
    let list =
        import::import_round(&files_with(|_| {}), &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let numbered = import::import_round(&numbered_files(|_| {}), &KEY)
        .unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(numbered.public, list.public);
    // Columns in any order, and a gap (an empty second choice) closed up.
    let f = numbered_files(|t| {
        let (j1, j2, j3) = (col(t, "第一志愿"), col(t, "第二志愿"), col(t, "第三志愿"));
        t.header.swap(j1, j3);
        for r in &mut t.rows {
            r.swap(j1, j3);
            // 第二志愿 is now at j2 and 第三志愿 at j1: move a lone second choice to the third.
            if !r[j2].is_empty() && r[j1].is_empty() {
                r[j1] = std::mem::take(&mut r[j2]);
            }
        }
    });
    let v = import::import_round(&f, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(v.public, list.public);
}

#[test]
fn numbered_choice_problems_name_their_column() {
    let f = numbered_files(|t| {
        let j = col(t, "第三志愿");
        t.rows[40][j] = "晋江市第九中学".into();
        let (j1, j2) = (col(t, "第一志愿"), col(t, "第二志愿"));
        t.rows[41][j2] = t.rows[41][j1].clone();
    });
    let p = problems(&f);
    assert_eq!(p.len(), 2, "{}", show(&p));
    one(
        &p[..1],
        ProblemKind::UnknownSchool,
        "applicants.csv",
        row(40),
        "第三志愿",
    );
    one(
        &p[1..],
        ProblemKind::RepeatedEntry,
        "applicants.csv",
        row(41),
        "第二志愿",
    );
    // Both forms at once are refused.
    let f = numbered_files(|t| {
        t.header.push("志愿学校");
        for r in &mut t.rows {
            r.push("JJ-GB-01".into());
        }
    });
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{}", show(&p));
    assert_eq!(p[0].kind, ProblemKind::DuplicateColumn);
}

#[test]
fn two_row_header_with_merged_choice_title() {
    // Row 1: 申请编号 … (each merged down over rows 1–2), 志愿 merged across six columns;
    // row 2: 第一志愿 … 第六志愿.
    let t = county::numbered_choices(&county::county().applicants);
    let first = col(&t, "第一志愿") as u16;
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let fmt = rust_xlsxwriter::Format::new();
    for (c, h) in t.header.iter().enumerate() {
        let c = c as u16;
        if (first..first + 6).contains(&c) {
            ws.write_string(1, c, *h).expect("sub-header");
        } else {
            ws.merge_range(0, c, 1, c, h, &fmt).expect("merge down");
        }
    }
    ws.merge_range(0, first, 0, first + 5, "志愿", &fmt)
        .expect("merge across");
    for (r, row) in t.rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 2, c as u16, v).expect("cell");
            }
        }
    }
    let f = InputFiles {
        applicants: (
            "applicants.xlsx".into(),
            wb.save_to_buffer().expect("workbook"),
        ),
        ..files_with(|_| {})
    };
    let v = import::import_round(&f, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let list =
        import::import_round(&files_with(|_| {}), &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(v.public, list.public);
}

#[test]
fn csv_text_marks_from_exporters_are_removed() {
    // Exporters write ="…" or a leading apostrophe so that Excel keeps ID numbers as text.
    let c = county::county();
    let a = &c.applicants;
    let (jid, jp) = (col(a, "身份证号"), col(a, "监护人电话"));
    let mut text = county::csv_text(a, false);
    for r in a.rows.iter().take(50) {
        let (id, phone) = (&r[jid], &r[jp]);
        text = text.replacen(
            &format!(",{id},{phone},"),
            &format!(",=\"{id}\",'{phone},"),
            1,
        );
    }
    assert_eq!(text.matches(",=\"").count(), 50);
    let f = InputFiles {
        applicants: ("applicants.csv".into(), text.into_bytes()),
        ..files_with(|_| {})
    };
    let v = import::import_round(&f, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let plain =
        import::import_round(&files_with(|_| {}), &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(v.public, plain.public);
    assert!(v.private == plain.private);
}

// ---------------------------------------------------------------------------------------------
// Round directories and rehearsals.

#[test]
fn a_round_directory_holds_one_file_per_table() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("import-load");
    let _ = std::fs::remove_dir_all(&dir); // left by an earlier run that failed
    std::fs::create_dir_all(&dir)?;
    for name in ["policy.toml", "schools.csv", "applicants.csv"] {
        std::fs::copy(root().join("examples/county").join(name), dir.join(name))?;
    }
    // teachers are optional
    let f = import::load_dir(&dir)?;
    assert!(f.teachers.is_none());
    std::fs::copy(
        root().join("examples/county-xlsx/applicants.xlsx"),
        dir.join("applicants.xlsx"),
    )?;
    let e = import::load_dir(&dir).expect_err("two applicants files");
    assert!(e.to_string().contains("applicants.csv") && e.to_string().contains("applicants.xlsx"));
    std::fs::remove_file(dir.join("applicants.csv"))?;
    std::fs::remove_file(dir.join("schools.csv"))?;
    let e = import::load_dir(&dir).expect_err("no schools file");
    assert!(e.to_string().contains("schools.csv"), "{e}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn a_rehearsal_import_has_other_secrets_and_hashes() {
    let real =
        import::import_round(&files_with(|_| {}), &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    let mut f = files_with(|_| {});
    let policy = county::POLICY.replace("mode = \"real\"", "mode = \"rehearsal\"");
    assert_ne!(policy, county::POLICY);
    f.policy.1 = policy.into_bytes();
    let rehearsal = import::import_round(&f, &KEY).unwrap_or_else(|p| panic!("{}", show(&p)));
    assert_eq!(rehearsal.private.len(), real.private.len());
    for (a, b) in real.private.iter().zip(&rehearsal.private) {
        assert_eq!(a.application_id, b.application_id);
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.private_hash, b.private_hash);
    }
}

#[test]
fn rule_classes_and_teachers_cannot_fail_at_the_draw() {
    // JJ-GB-09 (capacity 60, classes of at most 50) may need 2 classes: leave it one teacher.
    let f = files_with(|c| {
        let j = col(&c.teachers, "学校代码");
        let mut seen = 0;
        c.teachers.rows.retain(|r| {
            if r[j] == "JJ-GB-09" {
                seen += 1;
                seen == 1
            } else {
                true
            }
        });
    });
    let p = problems(&f);
    let school_row = county::county()
        .schools
        .rows
        .iter()
        .position(|r| r[0] == "JJ-GB-09")
        .map(row)
        .unwrap_or(0);
    let x = one(
        &p,
        ProblemKind::TooFewTeachers,
        "schools.csv",
        school_row,
        "招生计划",
    );
    assert!(
        x.detail_en.contains("2 classes") && x.detail_en.contains("has 1"),
        "{x}"
    );

    // A fixed number of classes that cannot hold the capacity.
    let f = files_with(|c| {
        let j = col(&c.schools, "班级数");
        c.schools.rows[8][j] = "1".into();
    });
    let p = problems(&f);
    one(
        &p,
        ProblemKind::ClassesTooFew,
        "schools.csv",
        row(8),
        "班级数",
    );

    // The policy draws teachers but no teachers file was given.
    let mut f = files_with(|_| {});
    f.teachers = None;
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{}", show(&p));
    assert_eq!(p[0].kind, ProblemKind::TooFewTeachers);
}

#[test]
fn rule_manual_placements_and_quota_cannot_fail_at_the_draw() {
    // Schools JJ-MB-04 has 20 seats: 21 manual placements there.
    let f = files_with(|c| {
        let j = col(&c.applicants, "一人一案");
        for r in c.applicants.rows.iter_mut().skip(100).take(21) {
            r[j] = "JJ-MB-04:military_family".into();
        }
    });
    let p = problems(&f);
    let x = one(
        &p,
        ProblemKind::ManualOverCapacity,
        "schools.csv",
        row(15),
        "招生计划",
    );
    assert!(x.detail_en.contains("21 manual placements"), "{x}");
    // Quota seats with no graduates anywhere.
    let f = files_with(|c| {
        let j = col(&c.schools, "毕业生数");
        for r in &mut c.schools.rows {
            r[j] = String::new();
        }
    });
    let p = problems(&f);
    assert_eq!(p.len(), 1, "{}", show(&p));
    assert!(p[0].detail_en.contains("quota"));
}
