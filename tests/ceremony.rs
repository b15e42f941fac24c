//! The draw ceremony end to end, driving the `fairdraw` binary over a round directory and checking
//! the bundles with `lottery::verify::verify` on the files read back from disk.
//!
//! Inputs: `examples/county/` when present (one CSV and one `.xlsx` applicants file), otherwise a
//! small county generated here.

use lottery::verify::{Files, Status, verify};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type R = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_fairdraw");

/// Scratch space for these tests: Cargo's directory for integration tests' files, under
/// `target/` (each test's directory is replaced when it runs again, so nothing piles up in the
/// system's temporary directory).
fn scratch_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = scratch_root().join(format!("ceremony-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).ok();
    d
}

/// A valid 18-character ID number (GB 11643 check digit).
fn id_card(n: usize) -> String {
    let first17 = format!("330102201903{:02}{:03}", 1 + n % 28, n % 1000);
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(w)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

const POLICY: &str = r#"protocol = "fairdraw/v1"
tracks = ["local"]

[round]
id = "TEST2026-G1"
title = "测试县2026年小学一年级招生"
grade = "primary"
mode = "real"
draw_date = "2026-07-10"
max_choices = 3

[[categories]]
code = "hukou_and_home"
label = "房户一致"
[[categories]]
code = "other"
label = "其他"

[[stages]]
name = "catchment"
mechanism = "deferred_acceptance"
schools = "public"
tracks = ["local"]
priority = "category"
"#;

struct Person {
    name: String,
    id: String,
    phone: String,
    address: String,
}

/// A small county: 4 schools, `n` applicants. Returns the private values to search for.
fn small_county(dir: &Path, n: usize) -> std::io::Result<Vec<Person>> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("policy.toml"), POLICY)?;
    std::fs::write(
        dir.join("schools.csv"),
        "school_id,name,kind,capacity\nS01,城关第一小学,公办,12\nS02,城关第二小学,公办,10\nS03,实验小学,公办,8\nS04,南门小学,公办,15\n",
    )?;
    let surnames = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
    let given = [
        "子涵", "浩然", "欣怡", "梓萱", "宇轩", "一诺", "思远", "雨桐", "俊杰",
    ];
    let mut csv =
        String::from("application_id,name,id_card,phone,address,track,choices,categories\n");
    let mut people = Vec::new();
    for i in 0..n {
        let p = Person {
            name: format!(
                "{}{}{}",
                surnames[i % 8],
                given[i % 9],
                ["", "儿", "宝"][i % 3]
            ),
            id: id_card(i),
            phone: format!("139{:08}", 10_000_000 + i * 7919),
            address: format!("城关镇解放路{}号{}室", 10 + i, 101 + i % 7),
        };
        let s = |k: usize| format!("S0{}", 1 + (i + k) % 4);
        let choices = format!("{};{};{}", s(0), s(1), s(2));
        let cats = format!("{}:{};{}:2;{}:2", s(0), 1 + i % 2, s(1), s(2));
        csv.push_str(&format!(
            "TEST-{:05},{},{},{},{},local,{choices},{cats}\n",
            i + 1,
            p.name,
            p.id,
            p.phone,
            p.address
        ));
        people.push(p);
    }
    std::fs::write(dir.join("applicants.csv"), csv)?;
    Ok(people)
}

/// The example county (`examples/county`, or `examples/county-xlsx` with `.xlsx` tables) if the
/// repository has it, else a generated one; with the private values to search for.
fn inputs_kind(dir: &Path, xlsx: bool) -> std::io::Result<(PathBuf, Vec<Person>)> {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let ex = examples.join(if xlsx { "county-xlsx" } else { "county" });
    if ex.join("policy.toml").is_file() {
        return Ok((ex, example_people(&examples.join("county/applicants.csv"))?));
    }
    let d = dir.join("inputs");
    let people = small_county(&d, 40)?;
    Ok((d, people))
}

fn inputs(dir: &Path) -> std::io::Result<(PathBuf, Vec<Person>)> {
    inputs_kind(dir, false)
}

/// Names, ID numbers, phones and addresses of the example applicants file.
fn example_people(path: &Path) -> std::io::Result<Vec<Person>> {
    let bytes = std::fs::read(path)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut r = csv::Reader::from_reader(bytes);
    let headers = r.headers().map_err(std::io::Error::other)?.clone();
    let col = |names: &[&str]| headers.iter().position(|h| names.contains(&h));
    let (Some(n), Some(i), Some(p), Some(a)) = (
        col(&["姓名", "name"]),
        col(&["身份证号", "id_card"]),
        col(&["监护人电话", "phone"]),
        col(&["家庭住址", "address"]),
    ) else {
        return Err(std::io::Error::other(
            "applicants.csv: private columns not found",
        ));
    };
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(std::io::Error::other)?;
        let get = |k: usize| rec.get(k).unwrap_or("").trim().to_string();
        out.push(Person {
            name: get(n),
            id: get(i),
            phone: get(p),
            address: get(a),
        });
    }
    assert!(out.len() > 100, "example applicants");
    Ok(out)
}

fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output()
        .unwrap_or_else(|e| panic!("cannot run fairdraw: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "fairdraw {args:?} failed:\n{}",
        text(&o)
    );
    text(&o)
}

fn refused(args: &[&str], want: &str) {
    let o = run(args);
    assert!(!o.status.success(), "fairdraw {args:?} should be refused");
    let t = text(&o);
    assert!(
        t.contains(want),
        "fairdraw {args:?}: expected {want:?} in:\n{t}"
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap_or("")
}

fn read_dir_files(dir: &Path) -> std::io::Result<Files> {
    let mut f = Files::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.path().is_file() {
            f.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path())?,
            );
        }
    }
    Ok(f)
}

struct Keys {
    bureau: PathBuf,
    notary: PathBuf,
    observer: PathBuf,
}

fn keys(dir: &Path) -> Keys {
    let k = Keys {
        bureau: dir.join("bureau.key"),
        notary: dir.join("notary.key"),
        observer: dir.join("observer.key"),
    };
    for (name, p) in [
        ("bureau", &k.bureau),
        ("notary", &k.notary),
        ("observer", &k.observer),
    ] {
        ok(&["keygen", "--signer", name, "--out", s(p)]);
    }
    k
}

/// drand quicknet round 123's signature (public; from drand-verify's tests).
const QUICKNET_123: &str = "b75c69d0b72a5d906e854e808ba7e2accb1542ac355ae486d591aa9d43765482e26cd02df835d3546d23c4b13e0dfc92";

const DICE: &str = "3164 2515 6623 4142 5361 2543 6126 3451 2366 1542 3316 4251 56";

/// Freeze, three commits (random, dice, file), three reveals and the beacon.
fn prepare(round: &Path, inputs: &Path, k: &Keys, work: &Path, rehearsal: bool) -> String {
    let mut log = String::new();
    let mut freeze = vec![
        "round",
        "freeze",
        s(round),
        "--inputs",
        s(inputs),
        "--key",
        s(&k.bureau),
        "--parties",
        "bureau,notary,observer",
    ];
    if rehearsal {
        freeze.push("--rehearsal");
    }
    log += &ok(&freeze);
    let bshare = work.join(format!("bureau-{rehearsal}.share"));
    log += &ok(&[
        "round",
        "commit",
        s(round),
        "--party",
        "bureau",
        "--random",
        "--save-share",
        s(&bshare),
    ]);
    log += &ok(&[
        "round",
        "commit",
        s(round),
        "--party",
        "notary",
        "--dice",
        DICE,
    ]);
    let oshare = work.join(format!("observer-{rehearsal}.share"));
    std::fs::write(&oshare, format!("{}\n", "5a".repeat(32))).ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&oshare, std::fs::Permissions::from_mode(0o600)).ok();
    }
    log += &ok(&[
        "round",
        "commit",
        s(round),
        "--party",
        "observer",
        "--share-file",
        s(&oshare),
    ]);
    log += &ok(&[
        "round",
        "reveal",
        s(round),
        "--party",
        "bureau",
        "--share-file",
        s(&bshare),
    ]);
    log += &ok(&[
        "round",
        "reveal",
        s(round),
        "--party",
        "notary",
        "--dice",
        DICE,
    ]);
    log += &ok(&[
        "round",
        "reveal",
        s(round),
        "--party",
        "observer",
        "--share-file",
        s(&oshare),
    ]);
    log += &ok(&[
        "round",
        "beacon",
        s(round),
        "--kind",
        "hall_digits",
        "--source",
        "six digits drawn from the ball machine in the hall",
        "--digits",
        "408317",
    ]);
    log
}

fn check_report(bundle: &Path, want: lottery::Domain) -> R {
    let files = read_dir_files(bundle)?;
    let report = verify(&files)?;
    assert!(
        report.ok(),
        "{}: verification failed: {:?}",
        bundle.display(),
        report.first_failure()
    );
    assert_eq!(report.domain, Some(want), "{}", bundle.display());
    let v10 = report.checks.iter().find(|c| c.id == "V10");
    assert_eq!(
        v10.map(|c| &c.status),
        Some(&Status::Pass),
        "V10 (log chain) must pass"
    );
    Ok(())
}

#[test]
fn rehearsal_then_real_round_with_three_parties() -> R {
    let work = tmp("full");
    // The rehearsal from the .xlsx variant, the real round from the CSV files.
    let (xlsx_inputs, _) = inputs_kind(&work, true)?;
    let (inputs, people) = inputs(&work)?;
    let k = keys(&work);

    // The rehearsal.
    let reh = work.join("rehearsal");
    let out = prepare(&reh, &xlsx_inputs, &k, &work, true);
    assert!(out.contains("演练") && out.contains("REHEARSAL"), "{out}");
    let reh_bundle = work.join("rehearsal-bundle");
    let out = ok(&[
        "draw",
        s(&reh),
        "--key",
        s(&k.bureau),
        "--out",
        s(&reh_bundle),
        "--cosigner",
        s(&k.notary),
    ]);
    assert!(out.contains("REHEARSAL"), "{out}");
    check_report(&reh_bundle, lottery::Domain::Rehearsal)?;
    // A rehearsal bundle relabelled as real does not verify.
    let mut forged = read_dir_files(&reh_bundle)?;
    if let Some(m) = forged.get_mut("manifest.json") {
        let t =
            String::from_utf8_lossy(m).replace("\"domain\":\"rehearsal\"", "\"domain\":\"real\"");
        *m = t.into_bytes();
    }
    let forged_ok = verify(&forged).map(|r| r.ok()).unwrap_or(false);
    assert!(!forged_ok, "a rehearsal bundle relabelled real must fail");
    let sheet = std::fs::read_to_string(reh.join("sheet.html"))?;
    assert!(
        sheet.contains("演练") && sheet.contains("<svg"),
        "rehearsal sheet"
    );

    // The real round.
    let real = work.join("real");
    let out = prepare(&real, &inputs, &k, &work, false);
    assert!(!out.contains("REHEARSAL"), "{out}");
    let bundle = work.join("bundle");
    let out = ok(&[
        "draw",
        s(&real),
        "--key",
        s(&k.bureau),
        "--out",
        s(&bundle),
        "--cosigner",
        s(&k.notary),
        "--cosigner",
        s(&k.observer),
    ]);
    assert!(out.contains("seed"), "{out}");
    check_report(&bundle, lottery::Domain::Real)?;
    let status = ok(&["round", "status", s(&real)]);
    assert!(status.contains("done"), "{status}");
    let log = ok(&["round", "log", s(&real)]);
    assert!(
        log.contains("chain intact") && log.contains("draw"),
        "{log}"
    );
    // The sheet names the executable that ran.
    let exe = lottery::encoding::sha256(&std::fs::read(BIN)?).to_hex();
    assert!(
        std::fs::read_to_string(real.join("sheet.txt"))?.contains(&exe),
        "the sheet must carry the executable's SHA-256"
    );

    // The sheet and the archive.
    let sheet = std::fs::read_to_string(real.join("sheet.html"))?;
    let manifest = std::fs::read(bundle.join("manifest.json"))?;
    let bundle_hash = lottery::encoding::sha256(&manifest).to_hex();
    assert!(sheet.contains(&bundle_hash) && sheet.contains("<svg"));
    assert!(!sheet.contains("演练"));
    let sums = std::fs::read_to_string(real.join("archive/SHA256SUMS"))?;
    for line in sums.lines() {
        let (hash, name) = line.split_once("  ").unwrap_or(("", ""));
        let b = std::fs::read(real.join("archive").join(name))?;
        assert_eq!(
            lottery::encoding::sha256(&b).to_hex(),
            hash,
            "archive {name}"
        );
    }
    assert!(out.contains(&lottery::encoding::sha256(sums.as_bytes()).to_hex()[..4]));

    // The rehearsal and real rounds differ in everything random.
    let a = std::fs::read_to_string(reh_bundle.join("results.csv"))?;
    let b = std::fs::read_to_string(bundle.join("results.csv"))?;
    assert_ne!(a, b);

    // No private value reaches a public file.
    for dir in [&bundle, &reh_bundle] {
        for (name, bytes) in read_dir_files(dir)? {
            let t = String::from_utf8_lossy(&bytes);
            for p in &people {
                for v in [&p.name, &p.id, &p.phone, &p.address] {
                    assert!(
                        v.is_empty() || !t.contains(v.as_str()),
                        "{name} contains a private value"
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn steps_out_of_order_are_refused() -> R {
    let work = tmp("order");
    let (inputs, _) = inputs(&work)?;
    let k = keys(&work);
    let round = work.join("round");
    let r = s(&round);
    refused(
        &["round", "commit", r, "--party", "notary", "--dice", DICE],
        "not frozen yet",
    );
    refused(
        &[
            "draw",
            r,
            "--key",
            s(&k.bureau),
            "--out",
            s(&work.join("b")),
        ],
        "not frozen yet",
    );
    ok(&[
        "round",
        "freeze",
        r,
        "--inputs",
        s(&inputs),
        "--key",
        s(&k.bureau),
        "--parties",
        "bureau,notary,observer",
    ]);
    // Freezing again with the same inputs changes nothing.
    let again = ok(&[
        "round",
        "freeze",
        r,
        "--inputs",
        s(&inputs),
        "--key",
        s(&k.bureau),
        "--parties",
        "bureau,notary,observer",
    ]);
    assert!(again.contains("Already frozen"), "{again}");
    refused(
        &[
            "round",
            "freeze",
            r,
            "--inputs",
            s(&inputs),
            "--key",
            s(&k.notary),
            "--parties",
            "bureau,notary,observer",
        ],
        "already frozen",
    );
    // A new round needs a new or empty directory.
    refused(
        &[
            "round",
            "freeze",
            s(&work),
            "--inputs",
            s(&inputs),
            "--key",
            s(&k.bureau),
        ],
        "new or empty directory",
    );
    refused(
        &["round", "commit", r, "--party", "mallory", "--dice", DICE],
        "not a party",
    );
    refused(
        &[
            "round", "commit", r, "--party", "notary", "--dice", "123456",
        ],
        "at least 50",
    );
    ok(&["round", "commit", r, "--party", "notary", "--dice", DICE]);
    let again = ok(&["round", "commit", r, "--party", "notary", "--dice", DICE]);
    assert!(again.contains("nothing changed"), "{again}");
    refused(
        &["round", "reveal", r, "--party", "notary", "--dice", DICE],
        "not all parties have committed: missing bureau, observer",
    );
    refused(
        &[
            "round", "beacon", r, "--kind", "text", "--source", "x", "--text", "y",
        ],
        "not all parties have revealed",
    );
    refused(
        &[
            "draw",
            r,
            "--key",
            s(&k.bureau),
            "--out",
            s(&work.join("b")),
        ],
        "not all parties have committed",
    );
    let dice2 = DICE.replace('3', "4");
    ok(&["round", "commit", r, "--party", "bureau", "--dice", &dice2]);
    let dice3 = DICE.replace('1', "2");
    ok(&[
        "round", "commit", r, "--party", "observer", "--dice", &dice3,
    ]);
    refused(
        &["round", "reveal", r, "--party", "notary", "--dice", &dice2],
        "does not match its commitment",
    );
    ok(&["round", "reveal", r, "--party", "notary", "--dice", DICE]);
    refused(
        &["round", "commit", r, "--party", "notary", "--dice", &dice3],
        "commitments are closed",
    );
    refused(
        &[
            "round", "beacon", r, "--kind", "text", "--source", "x", "--text", "y",
        ],
        "missing bureau, observer",
    );
    ok(&["round", "reveal", r, "--party", "bureau", "--dice", &dice2]);
    ok(&[
        "round", "reveal", r, "--party", "observer", "--dice", &dice3,
    ]);
    refused(
        &[
            "draw",
            r,
            "--key",
            s(&k.bureau),
            "--out",
            s(&work.join("b")),
        ],
        "no beacon recorded yet",
    );
    // A drand round is verified offline: a wrong round number is refused.
    refused(
        &[
            "round",
            "beacon",
            r,
            "--kind",
            "drand",
            "--drand-round",
            "124",
            "--drand-signature",
            QUICKNET_123,
        ],
        "does not verify",
    );
    ok(&[
        "round", "beacon", r, "--kind", "text", "--source", "x", "--text", "y",
    ]);
    refused(
        &[
            "round", "beacon", r, "--kind", "text", "--source", "x", "--text", "z",
        ],
        "a different beacon is already recorded",
    );
    // The log recorded every step, chained.
    let log = std::fs::read(round.join("log.jsonl"))?;
    assert!(lottery::log::verify_chain(lottery::Domain::Real, &log).is_ok());
    assert_eq!(log.iter().filter(|b| **b == b'\n').count(), 8);
    // An abort ends the round.
    ok(&[
        "round",
        "note",
        r,
        "--kind",
        "abort",
        "--role",
        "notary",
        "--person",
        "张敏",
        "--text",
        "the beacon was read from the wrong draw",
    ]);
    refused(
        &[
            "draw",
            r,
            "--key",
            s(&k.bureau),
            "--out",
            s(&work.join("b")),
        ],
        "the round was aborted",
    );
    let log = std::fs::read(round.join("log.jsonl"))?;
    assert!(lottery::log::verify_chain(lottery::Domain::Real, &log).is_ok());
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t)?;
        } else {
            std::fs::copy(e.path(), &t)?;
        }
    }
    Ok(())
}

fn listing(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        for e in std::fs::read_dir(d)? {
            let e = e?;
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else {
                let rel = p.strip_prefix(base).unwrap_or(&p).display().to_string();
                out.push((rel, std::fs::read(&p)?));
            }
        }
        Ok(())
    }
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

#[test]
fn crashed_draw_leaves_round_consistent_and_reruns_identically_also_on_a_backup_pc() -> R {
    let work = tmp("crash");
    let (inputs, _) = inputs(&work)?;
    let k = keys(&work);
    let round = work.join("round");
    prepare(&round, &inputs, &k, &work, false);
    let backup = work.join("backup-pc-round");
    copy_dir(&round, &backup)?;
    let before = listing(&round)?;

    let bundle = work.join("bundle");
    let args = [
        "draw",
        s(&round),
        "--key",
        s(&k.bureau),
        "--out",
        s(&bundle),
    ];
    let o = run_env(&args, &[("FAIRDRAW_TEST_CRASH_AFTER", "3")]);
    assert!(!o.status.success(), "the crash hook must abort the draw");
    // Nothing half-written: no bundle, the round directory unchanged.
    assert!(!bundle.exists(), "a crashed draw must not leave a bundle");
    assert_eq!(listing(&round)?, before, "the round directory changed");
    ok(&["round", "status", s(&round)]);

    // An --out that the draw would destroy is refused.
    for bad in [round.clone(), work.clone(), round.join("frozen")] {
        refused(
            &["draw", s(&round), "--key", s(&k.bureau), "--out", s(&bad)],
            "choose another directory",
        );
    }
    ok(&args);
    let first = listing(&bundle)?;
    assert!(
        !std::fs::read_dir(&work)?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains(".tmp-"))
    );
    ok(&args);
    assert_eq!(listing(&bundle)?, first, "rerun on the same PC differs");

    let other = work.join("bundle-from-backup");
    ok(&[
        "draw",
        s(&backup),
        "--key",
        s(&k.bureau),
        "--out",
        s(&other),
    ]);
    assert_eq!(listing(&other)?, first, "the backup PC's bundle differs");
    check_report(&bundle, lottery::Domain::Real)?;
    Ok(())
}

#[test]
fn key_files_are_owner_only() -> R {
    let work = tmp("keys");
    let key = work.join("bureau.key");
    ok(&["keygen", "--signer", "bureau", "--out", s(&key)]);
    refused(
        &["keygen", "--signer", "bureau", "--out", s(&key)],
        "refusing to overwrite",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key)?.permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))?;
        let (inputs, _) = inputs(&work)?;
        let round = work.join("round");
        refused(
            &[
                "round",
                "freeze",
                s(&round),
                "--inputs",
                s(&inputs),
                "--key",
                s(&key),
            ],
            "readable by other users",
        );
        assert!(!round.join("frozen").exists());
    }
    Ok(())
}

#[test]
fn bad_input_freezes_nothing() -> R {
    let work = tmp("bad");
    let inputs = work.join("inputs");
    small_county(&inputs, 30)?;
    let csv = std::fs::read_to_string(inputs.join("applicants.csv"))?;
    let good = id_card(6);
    let mut bad = good.clone();
    bad.replace_range(17..18, if good.ends_with('1') { "2" } else { "1" });
    std::fs::write(inputs.join("applicants.csv"), csv.replace(&good, &bad))?;
    let k = keys(&work);
    let round = work.join("round");
    let o = run(&[
        "round",
        "freeze",
        s(&round),
        "--inputs",
        s(&inputs),
        "--key",
        s(&k.bureau),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("nothing was frozen") && t.contains("未冻结"),
        "{t}"
    );
    assert!(!round.exists(), "a failed freeze must write nothing");
    // The example of typical spreadsheet mistakes: every problem printed in both languages.
    let broken = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/county-broken");
    if broken.join("policy.toml").is_file() {
        let round = work.join("round-broken");
        let o = run(&[
            "round",
            "freeze",
            s(&round),
            "--inputs",
            s(&broken),
            "--key",
            s(&k.bureau),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let t = text(&o);
        assert!(t.contains("row ") && t.contains("行"), "{t}");
        assert!(!round.exists(), "a failed freeze must write nothing");
    }
    Ok(())
}

#[test]
fn freezing_again_elsewhere_with_the_same_salt_key_gives_the_same_public_files() -> R {
    let work = tmp("refreeze");
    let (inputs, _) = inputs(&work)?;
    let k = keys(&work);
    let a = work.join("pc-a");
    let b = work.join("pc-b");
    let args = |r: &Path| {
        vec![
            "round".to_string(),
            "freeze".into(),
            s(r).into(),
            "--inputs".into(),
            s(&inputs).into(),
            "--key".into(),
            s(&k.bureau).into(),
        ]
    };
    let a_args = args(&a);
    ok(&a_args.iter().map(String::as_str).collect::<Vec<_>>());
    let salt = a.join("private/salt.key");
    let mut b_args = args(&b);
    b_args.extend(["--salt-key".to_string(), s(&salt).to_string()]);
    ok(&b_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        listing(&a.join("frozen"))?,
        listing(&b.join("frozen"))?,
        "same inputs, key and salt key must freeze the same bytes"
    );
    assert_eq!(
        std::fs::read(a.join("private/secrets.csv"))?,
        std::fs::read(b.join("private/secrets.csv"))?
    );
    Ok(())
}
