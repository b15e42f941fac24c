//! `fairdraw supplement` end to end (PROTOCOL.md §11): a simulated bundle, declined private seats
//! refilled down the published waitlists, late arrivals imported from a bureau-style CSV and
//! placed by a fresh lottery; then a second supplement chained to the first. The bundle verifies
//! after each step (check V11), tampering is named, and nothing already published changes.

use lottery::encoding::hash_fields;
use lottery::verify::{Files, Status, verify};
use std::path::{Path, PathBuf};
use std::process::Command;

type R = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_fairdraw");

/// Scratch space for these tests: Cargo's directory for integration tests' files, under
/// `target/` (each test's directory is replaced when it runs again, so nothing piles up in the
/// system's temporary directory).
fn scratch_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = scratch_root().join(format!("supplement-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::create_dir_all(&d);
    d
}

fn secret_file(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn read(dir: &Path) -> std::io::Result<Files> {
    let mut f = Files::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            f.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path())?,
            );
        }
    }
    Ok(f)
}

fn fairdraw(args: &[&str]) -> Result<String, String> {
    let o = Command::new(BIN)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    if o.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// A valid 18-character ID number (GB 11643 check digit).
fn id_card(n: usize) -> String {
    let first17 = format!("350582201403{:02}{:03}", 1 + n % 28, n % 1000);
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(w)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn verified(dir: &Path) -> Result<lottery::verify::Report, Box<dyn std::error::Error>> {
    let report = verify(&read(dir)?).map_err(|e| e.to_string())?;
    let fails: Vec<String> = report
        .checks
        .iter()
        .filter_map(|c| match &c.status {
            Status::Fail(m) => Some(format!("{}: {m}", c.id)),
            _ => None,
        })
        .collect();
    assert!(fails.is_empty(), "{}: {fails:?}", dir.display());
    Ok(report)
}

/// A simulated bundle in `<scratch>/supplement-NAME/bundle`, with beside it the bureau's key
/// file, a salt key, two parties' shares, `declines.txt` (three private-school admits, in a
/// clerk's plain list) and `late.csv` (two late arrivals in the bureau's import format).
struct Setup {
    work: PathBuf,
    bundle: PathBuf,
    key_path: PathBuf,
    before: Files,
    results: String,
}

fn setup(name: &str) -> Result<Setup, Box<dyn std::error::Error>> {
    let work = tmp(name);
    let bundle = work.join("bundle");
    let seed_text = "supplement-cli";
    fairdraw(&[
        "simulate",
        "--applicants",
        "1500",
        "--schools",
        "18",
        "--seed-text",
        seed_text,
        "--out",
        bundle.to_str().ok_or("path")?,
    ])?;
    let before = read(&bundle)?;
    // The simulated bureau key, written as a key file.
    let secret = hash_fields(
        "fairdraw/sim/secret",
        &[seed_text.as_bytes(), b"key/bureau"],
    );
    let key = lottery::manifest::signing_key(&secret.0);
    let key_path = work.join("bureau.key");
    secret_file(&key_path, &lottery::manifest::key_file("bureau", &key))?;
    secret_file(&work.join("salt.key"), &format!("{}\n", "ab".repeat(32)))?;
    secret_file(
        &work.join("bureau.share"),
        &format!("{}\n", "11".repeat(32)),
    )?;
    secret_file(
        &work.join("notary.share"),
        &format!("{}\n", "22".repeat(32)),
    )?;

    // Three private-school admits decline (a clerk's plain list, with a header and a blank line).
    let results = String::from_utf8(before["results.csv"].clone())?;
    let private: Vec<&str> = results
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1).is_some_and(|s| s.starts_with('P')))
        .filter_map(|l| l.split(',').next())
        .take(3)
        .collect();
    assert_eq!(
        private.len(),
        3,
        "the simulated round admits to private schools"
    );
    std::fs::write(
        work.join("declines.txt"),
        format!("报名号\n{}\n\n{}\n{}\n", private[0], private[1], private[2]),
    )?;
    // Two late arrivals, in the bureau's import format (Chinese headers, private columns).
    std::fs::write(
        work.join("late.csv"),
        format!(
            "申请编号,姓名,性别,身份证号,监护人电话,家庭住址,报名通道,群体,志愿学校,坐标X,坐标Y\n\
             L2026-0001,迟到甲,男,{},13800000001,晋江市青阳街道某路1号,migrant,migrant,S0001;S0002,1000,1000\n\
             L2026-0002,迟到乙,女,{},13800000002,晋江市青阳街道某路2号,migrant,migrant,S0003,2000,2000\n",
            id_card(1),
            id_card(2)
        ),
    )?;
    Ok(Setup {
        work,
        bundle,
        key_path,
        before,
        results,
    })
}

#[test]
fn refill_and_late_arrivals_chain_and_verify() -> R {
    let Setup {
        work,
        bundle,
        key_path,
        before,
        results,
    } = setup("chain")?;
    let b = bundle.to_str().ok_or("path")?;
    let share = |p: &str| format!("{p}={}", work.join(format!("{p}.share")).display());
    let out = fairdraw(&[
        "supplement",
        b,
        "--key",
        key_path.to_str().ok_or("path")?,
        "--declines",
        work.join("declines.txt").to_str().ok_or("path")?,
        "--late",
        work.join("late.csv").to_str().ok_or("path")?,
        "--salt-key",
        work.join("salt.key").to_str().ok_or("path")?,
        "--private",
        work.join("private").to_str().ok_or("path")?,
        "--share",
        &share("bureau"),
        "--share",
        &share("notary"),
        "--beacon-text",
        "271828",
        "--beacon-source",
        "digits drawn in the hall",
        "--created",
        "2026-08-01T09:00:00+08:00",
    ])?;
    assert!(out.contains("Supplement s1"), "{out}");
    let after = read(&bundle)?;
    // Nothing published before changed.
    for (name, bytes) in &before {
        assert_eq!(after.get(name), Some(bytes), "{name} changed");
    }
    assert!(after.contains_key("s1-manifest.json"));
    let late = String::from_utf8(after["s1-late_results.csv"].clone())?;
    assert!(
        late.lines().count() == 3 && late.contains("L2026-0001,S"),
        "{late}"
    );
    // The late families' secrets and notices are private, not in the bundle.
    assert!(work.join("private/secrets.csv").exists());
    for (name, bytes) in &after {
        let t = String::from_utf8_lossy(bytes);
        assert!(
            !t.contains("迟到甲") && !t.contains(&id_card(1)),
            "{name} leaks"
        );
    }
    verified(&bundle)?;

    // A second supplement (declines only) chains to the first.
    std::fs::write(
        work.join("declines2.txt"),
        format!(
            "{}\n",
            results
                .lines()
                .nth(1)
                .and_then(|l| l.split(',').next())
                .ok_or("row")?
        ),
    )?;
    fairdraw(&[
        "supplement",
        b,
        "--key",
        key_path.to_str().ok_or("path")?,
        "--declines",
        work.join("declines2.txt").to_str().ok_or("path")?,
        "--share",
        &share("bureau"),
        "--beacon-text",
        "1",
        "--beacon-source",
        "hall",
        "--created",
        "2026-08-02T09:00:00+08:00",
    ])?;
    assert!(bundle.join("s2-manifest.json").exists());
    verified(&bundle)?;

    // Tampering with a supplement file is named.
    let refills = bundle.join("s1-refills.csv");
    let mut bytes = std::fs::read(&refills)?;
    let k = bytes.len() - 3;
    bytes[k] = if bytes[k] == b'1' { b'2' } else { b'1' };
    std::fs::write(&refills, bytes)?;
    let report = verify(&read(&bundle)?).map_err(|e| e.to_string())?;
    let failure = report.first_failure().map(|c| match &c.status {
        Status::Fail(m) => m.clone(),
        _ => String::new(),
    });
    assert!(
        failure
            .as_deref()
            .is_some_and(|m| m.contains("s1-refills.csv")),
        "{failure:?}"
    );
    Ok(())
}

/// The witnessed supplement (`--commit`): every party commits to the supplement's inputs before
/// the beacon is drawn, the commitments file is published, and the draw holds every share to it.
#[test]
fn parties_commit_before_the_beacon_and_the_draw_holds_every_share_to_it() -> R {
    let Setup {
        work,
        bundle,
        before,
        ..
    } = setup("commit")?;
    let path = |n: &str| work.join(n).to_string_lossy().into_owned();
    let (b, key, commitments) = (
        path("bundle"),
        path("bureau.key"),
        path("s1-commitments.json"),
    );
    let inputs = [
        "--key",
        key.as_str(),
        "--declines",
        &path("declines.txt"),
        "--late",
        &path("late.csv"),
        "--salt-key",
        &path("salt.key"),
    ]
    .map(str::to_string);
    let run = |extra: &[&str]| -> Result<String, String> {
        let mut args: Vec<&str> = vec!["supplement", b.as_str()];
        args.extend(inputs.iter().map(String::as_str));
        args.extend(extra);
        fairdraw(&args)
    };
    let share = |p: &str| format!("{p}={}", path(&format!("{p}.share")));
    let beacon = [
        "--beacon-text",
        "314159",
        "--beacon-source",
        "digits drawn in the hall after the commitments were published",
        "--created",
        "2026-08-01T09:00:00+08:00",
    ];
    let commit = |party: &str, s: &str| {
        run(&[
            "--commitments",
            &commitments,
            "--commit",
            party,
            "--share",
            s,
        ])
    };
    // Each party commits; committing again to the same share changes nothing.
    let out = commit("bureau", &share("bureau"))?;
    assert!(
        out.contains("Party bureau committed to supplement s1"),
        "{out}"
    );
    commit("notary", &share("notary"))?;
    let published = std::fs::read(&commitments)?;
    commit("notary", &share("notary"))?;
    assert_eq!(std::fs::read(&commitments)?, published);
    // Nothing was written to the bundle by committing.
    assert_eq!(read(&bundle)?, before);
    // A party cannot commit again to another share, nor commit with the beacon in hand.
    secret_file(&work.join("other.share"), &format!("{}\n", "33".repeat(32)))?;
    let other = format!("notary={}", path("other.share"));
    let e = commit("notary", &other)
        .err()
        .ok_or("a second commitment was accepted")?;
    assert!(e.contains("already committed"), "{e}");
    let e = run(&[
        "--commitments",
        &commitments,
        "--commit",
        "bureau",
        "--share",
        &share("bureau"),
        "--beacon-text",
        "1",
    ])
    .err()
    .ok_or("a commitment with the beacon was accepted")?;
    assert!(e.contains("--beacon-text"), "{e}");

    // The draw refuses a share that does not match, a missing party and an uncommitted one.
    let draw = |shares: &[&str]| {
        let mut args: Vec<&str> = vec!["--commitments", commitments.as_str()];
        for s in shares {
            args.extend(["--share", s]);
        }
        args.extend(beacon);
        run(&args)
    };
    let e = draw(&[&share("bureau"), &other])
        .err()
        .ok_or("a wrong share was accepted")?;
    assert!(
        e.contains("party notary: the share does not match the commitment it published"),
        "{e}"
    );
    let e = draw(&[&share("bureau")])
        .err()
        .ok_or("a missing party was accepted")?;
    assert!(
        e.contains("party notary committed but gave no share"),
        "{e}"
    );
    let e = draw(&[
        &share("bureau"),
        &share("notary"),
        &format!("observer={}", path("other.share")),
    ])
    .err()
    .ok_or("an uncommitted party was accepted")?;
    assert!(
        e.contains("party observer gives a share but published no commitment"),
        "{e}"
    );
    // Changed inputs after the commitments: refused.
    let declines = std::fs::read(work.join("declines.txt"))?;
    std::fs::write(work.join("declines.txt"), "")?;
    let e = draw(&[&share("bureau"), &share("notary")])
        .err()
        .ok_or("changed inputs were accepted")?;
    assert!(e.contains("changed since the parties committed"), "{e}");
    assert_eq!(read(&bundle)?, before);

    // With the inputs as committed, the draw goes through; the published commitments file is the
    // bundle's, and the bundle verifies.
    std::fs::write(work.join("declines.txt"), declines)?;
    let out = draw(&[&share("bureau"), &share("notary")])?;
    assert!(out.contains("Supplement s1"), "{out}");
    assert_eq!(
        std::fs::read(bundle.join("s1-commitments.json"))?,
        published
    );
    verified(&bundle)?;
    Ok(())
}
