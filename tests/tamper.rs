//! Tamper suite for `fairdraw-verify`: every mutation of a simulated bundle must be caught with the
//! right exit code (1 for a discrepancy, 2 for unusable input) and a message naming the file and
//! the check.
//!
//! The bundle is made by the `fairdraw` binary (`fairdraw simulate`), which this package cannot
//! name with `CARGO_BIN_EXE_*`: it is looked up next to this test's executable and built with
//! `cargo build -p server --bin fairdraw` when missing.

mod support;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::fairdraw_bin;

type Res = Result<(), Box<dyn std::error::Error>>;

const SEED_TEXT: &str = "tamper";

fn verify_bin() -> &'static str {
    env!("CARGO_BIN_EXE_fairdraw-verify")
}

fn temp(tag: &str) -> PathBuf {
    support::temp_dir("tamper", tag)
}

/// The pristine bundle (simulated, plus a notary co-signature), made once.
fn base() -> &'static PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = temp("base");
        let dir = root.join("bundle");
        let st = Command::new(fairdraw_bin())
            .args([
                "simulate",
                "--applicants",
                "300",
                "--schools",
                "12",
                "--seed-text",
                SEED_TEXT,
                "--out",
            ])
            .arg(&dir)
            .output()
            .expect("run fairdraw simulate");
        assert!(st.status.success(), "simulate failed: {st:?}");
        let key = root.join("notary.key");
        let kg = Command::new(verify_bin())
            .args(["keygen", "--signer", "notary-1"])
            .arg(&key)
            .output()
            .expect("keygen");
        assert!(kg.status.success(), "keygen failed: {kg:?}");
        let cs = Command::new(verify_bin())
            .arg(&dir)
            .arg("--cosign")
            .arg(&key)
            .output()
            .expect("cosign");
        assert!(cs.status.success(), "cosign failed: {cs:?}");
        assert!(dir.join("cosign-notary-1.json").is_file());
        dir
    })
}

fn copy_base(tag: &str) -> PathBuf {
    let d = temp(tag);
    support::copy_files(base(), &d);
    d
}

struct Run {
    code: i32,
    out: String,
}

/// Runs the verifier on `dir` twice: as usual, and reading every file on demand (as it reads a
/// large round's big files); both must say the same.
fn run(dir: &Path) -> Run {
    let once = |lazy: bool| {
        let mut cmd = Command::new(verify_bin());
        cmd.arg(dir).args(["--lang", "en"]);
        if lazy {
            cmd.env("FAIRDRAW_VERIFY_LARGE_FILE_BYTES", "0");
        }
        let o = cmd.output().expect("run fairdraw-verify");
        Run {
            code: o.status.code().unwrap_or(-1),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        }
    };
    let (usual, lazy) = (once(false), once(true));
    assert_eq!(
        (usual.code, &usual.out),
        (lazy.code, &lazy.out),
        "reading files on demand changed the report on {}",
        dir.display()
    );
    usual
}

/// The "first discrepancy" line of a failed report.
fn first_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("NOT VERIFIED"))
        .unwrap_or("")
}

/// Digits → another digit, letters → another letter, anything else xor 1.
fn mutate(b: u8) -> u8 {
    match b {
        b'0'..=b'8' => b + 1,
        b'9' => b'0',
        b'a'..=b'y' | b'A'..=b'Y' => b + 1,
        b'z' => b'a',
        b'Z' => b'A',
        _ => b ^ 1,
    }
}

fn bundle_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(base())
        .expect("read base")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn one_byte_in_every_file_at_start_middle_end() -> Res {
    let names = bundle_files();
    assert!(names.len() >= 15, "expected a full bundle, got {names:?}");
    assert_eq!(run(base()).code, 0, "pristine bundle must verify");
    let mut failures = Vec::new();
    for name in &names {
        let bytes = std::fs::read(base().join(name))?;
        let n = bytes.len();
        for (what, pos) in [("start", 0), ("middle", n / 2), ("end", n - 1)] {
            let dir = copy_base("byte");
            let mut b = bytes.clone();
            b[pos] = mutate(b[pos]);
            std::fs::write(dir.join(name), &b)?;
            let r = run(&dir);
            let first = first_line(&r.out);
            let ok = match r.code {
                1 => first.contains(name.as_str()) && first.contains("at V"),
                // Only the manifest itself may become unusable (not JSON, unknown version).
                2 => name == "manifest.json" && r.out.contains("manifest.json"),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{name} byte {pos} ({what}): exit {}\n{}",
                    r.code, r.out
                ));
            }
            std::fs::remove_dir_all(&dir)?;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n----\n"));
    Ok(())
}

#[test]
fn a_reordered_row_in_each_csv() -> Res {
    for name in bundle_files().iter().filter(|n| n.ends_with(".csv")) {
        let dir = copy_base("reorder");
        let text = std::fs::read_to_string(dir.join(name))?;
        let mut lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 3, "{name} has too few rows to reorder");
        lines.swap(1, 2);
        std::fs::write(dir.join(name), format!("{}\n", lines.join("\n")))?;
        let r = run(&dir);
        assert_eq!(r.code, 1, "{name}: {}", r.out);
        let first = first_line(&r.out);
        assert!(first.contains(name.as_str()), "{name}: {first}");
        assert!(
            first.contains("line 2") || first.contains("line 3"),
            "{name}: the line is named: {first}"
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

#[test]
fn two_placements_swapped_in_results() -> Res {
    let dir = copy_base("swap");
    let text = std::fs::read_to_string(dir.join("results.csv"))?;
    let mut rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    // Two placed applicants at different schools.
    let a = 1;
    let b = (2..rows.len())
        .find(|&k| !rows[k][1].is_empty() && rows[k][1] != rows[a][1])
        .ok_or("no second school")?;
    let (sa, sb) = (rows[a][1].clone(), rows[b][1].clone());
    rows[a][1] = sb.clone();
    rows[b][1] = sa.clone();
    let out: String = rows.iter().map(|r| r.join(",") + "\n").collect();
    std::fs::write(dir.join("results.csv"), out)?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    let first = first_line(&r.out);
    let id = &rows[a][0];
    assert!(
        first.contains(&format!(
            "results.csv, line 2 (record {id}), field school_id: expected \"{sa}\", found \"{sb}\""
        )),
        "{first}"
    );
    assert!(r.out.contains("V8   FAIL"), "{}", r.out);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The simulation's bureau key (derived from the seed text, like `fairdraw simulate` does).
fn bureau_key() -> lottery::manifest::Key {
    let secret = lottery::encoding::hash_fields(
        "fairdraw/sim/secret",
        &[SEED_TEXT.as_bytes(), b"key/bureau"],
    );
    lottery::manifest::signing_key(&secret.0)
}

/// Rewrites the manifest after `edit`, fixing file hashes and sizes, re-signed with `key` by `who`.
fn resign(
    dir: &Path,
    key: &lottery::manifest::Key,
    who: &str,
    edit: impl FnOnce(&mut Value),
) -> Res {
    let v: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
    let mut doc = v["manifest"].clone();
    if let Some(files) = doc["files"].as_array_mut() {
        files.retain(|f| dir.join(f["name"].as_str().unwrap_or("")).exists());
        for f in files.iter_mut() {
            let bytes = std::fs::read(dir.join(f["name"].as_str().unwrap_or("")))?;
            f["sha256"] = Value::String(lottery::encoding::sha256(&bytes).to_hex());
            f["bytes"] = Value::from(bytes.len() as u64);
        }
    }
    edit(&mut doc);
    let domain = lottery::Domain::parse(doc["domain"].as_str().unwrap_or("")).ok_or("domain")?;
    let file = lottery::bundle::signed_file(domain, "manifest", &doc, &[(who, key)]);
    std::fs::write(dir.join("manifest.json"), file)?;
    // The notary's co-signature covered the old manifest.
    std::fs::remove_file(dir.join("cosign-notary-1.json"))?;
    Ok(())
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) -> Res {
    let mut v: Value = serde_json::from_slice(&std::fs::read(path)?)?;
    edit(&mut v);
    std::fs::write(path, lottery::bundle::canonical(&v))?;
    Ok(())
}

#[test]
fn resigning_with_the_bureau_key_keeps_it_valid() -> Res {
    // Guards the helpers below: a fixed-up manifest with no change verifies.
    let dir = copy_base("resign-same");
    resign(&dir, &bureau_key(), "bureau", |_| {})?;
    let r = run(&dir);
    assert_eq!(r.code, 0, "{}", r.out);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn manifest_resigned_by_another_key() -> Res {
    let dir = copy_base("resign-other");
    let other = lottery::manifest::signing_key(&[7u8; 32]);
    resign(&dir, &other, "bureau", |_| {})?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    let first = first_line(&r.out);
    assert!(first.contains("at V2"), "{first}");
    assert!(first.contains("manifest.json"), "{first}");
    assert!(first.contains("re-signed by another key"), "{first}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn dropped_commitment_caught_semantically() -> Res {
    let dir = copy_base("drop-commitment");
    edit_json(&dir.join("commitments.json"), |v| {
        if let Some(a) = v["commitments"].as_array_mut() {
            a.remove(1);
        }
    })?;
    resign(&dir, &bureau_key(), "bureau", |_| {})?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.contains("V1   PASS"),
        "hashes were fixed up: {}",
        r.out
    );
    let first = first_line(&r.out);
    assert!(first.contains("at V5"), "{first}");
    assert!(first.contains("commitments.json"), "{first}");
    assert!(first.contains("notary"), "the party is named: {first}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn dropped_reveal_caught_semantically() -> Res {
    let dir = copy_base("drop-reveal");
    edit_json(&dir.join("reveals.json"), |v| {
        if let Some(a) = v["reveals"].as_array_mut() {
            a.remove(2);
        }
    })?;
    resign(&dir, &bureau_key(), "bureau", |_| {})?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    let first = first_line(&r.out);
    assert!(first.contains("at V5"), "{first}");
    assert!(first.contains("reveals.json"), "{first}");
    assert!(first.contains("observer"), "the party is named: {first}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn changed_beacon_caught_semantically() -> Res {
    let dir = copy_base("beacon");
    edit_json(&dir.join("beacon.json"), |v| {
        let hex = v["value"].as_str().unwrap_or("").to_string();
        let mut b = hex.into_bytes();
        b[0] = if b[0] == b'0' { b'1' } else { b'0' };
        v["value"] = Value::String(String::from_utf8(b).unwrap_or_default());
    })?;
    resign(&dir, &bureau_key(), "bureau", |_| {})?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    let first = first_line(&r.out);
    assert!(first.contains("at V7"), "{first}");
    assert!(first.contains("beacon.json"), "{first}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn changed_beacon_bytes() -> Res {
    let dir = copy_base("beacon-raw");
    edit_json(&dir.join("beacon.json"), |v| {
        v["source"] = Value::String("another draw".into());
    })?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        first_line(&r.out).contains("at V1: beacon.json"),
        "{}",
        r.out
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn unknown_format_version_refused() -> Res {
    let dir = copy_base("version");
    resign(&dir, &bureau_key(), "bureau", |d| {
        d["format"] = Value::String("fairdraw-bundle/2".into());
    })?;
    let r = run(&dir);
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(
        r.out.contains("manifest.json") && r.out.contains("fairdraw-bundle/2"),
        "{}",
        r.out
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn extra_unlisted_file() -> Res {
    let dir = copy_base("extra");
    std::fs::write(dir.join("extra.csv"), "a,b\n1,2\n")?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    let first = first_line(&r.out);
    assert!(
        first.contains("at V1") && first.contains("extra.csv"),
        "{first}"
    );
    assert!(first.contains("not listed"), "{first}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn missing_listed_file() -> Res {
    for name in ["waitlists.csv", "reveals.json", "applicants.csv"] {
        let dir = copy_base("missing");
        std::fs::remove_file(dir.join(name))?;
        let r = run(&dir);
        assert_eq!(r.code, 2, "{name}: {}", r.out);
        assert!(
            r.out.contains(name) && r.out.contains("missing"),
            "{}",
            r.out
        );
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

#[test]
fn tampered_cosignature_names_the_file() -> Res {
    let dir = copy_base("cosign");
    edit_json(&dir.join("cosign-notary-1.json"), |v| {
        v["cosignature"]["signer"] = Value::String("notary-2".into());
    })?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    let first = first_line(&r.out);
    assert!(
        first.contains("at V2") && first.contains("cosign-notary-1.json"),
        "{first}"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Even when the manifest is fixed up and re-signed with the bureau's own key (so V1 and the
/// manifest signature pass), a changed byte in any file is caught by the semantic checks. The one
/// exception is the beacon's free-text `source`/`kind`, which only the manifest hash binds; the
/// beacon's value is tested instead.
#[test]
fn one_byte_in_every_file_with_a_resigned_manifest() -> Res {
    let mut failures = Vec::new();
    for name in bundle_files() {
        if name == "manifest.json" || name.starts_with("cosign-") {
            continue; // re-signing replaces the manifest and drops the co-signature
        }
        let bytes = std::fs::read(base().join(&name))?;
        let positions: Vec<usize> = if name == "beacon.json" {
            let text = String::from_utf8_lossy(&bytes);
            let at = text.find("\"value\":\"").ok_or("beacon value")? + 9;
            vec![at, at + 31, at + 63]
        } else {
            vec![0, bytes.len() / 2, bytes.len() - 1]
        };
        for pos in positions {
            let dir = copy_base("resigned-byte");
            let mut b = bytes.clone();
            b[pos] = mutate(b[pos]);
            std::fs::write(dir.join(&name), &b)?;
            resign(&dir, &bureau_key(), "bureau", |_| {})?;
            let r = run(&dir);
            let ok = match r.code {
                1 => {
                    r.out.contains("V1   PASS")
                        && first_line(&r.out).contains("at V")
                        && first_line(&r.out).contains(name.as_str())
                }
                // The signed manifest vouches for a file that does not parse: unusable input.
                2 => r.out.contains(name.as_str()),
                _ => false,
            };
            if !ok {
                failures.push(format!("{name} byte {pos}: exit {}\n{}", r.code, r.out));
            }
            std::fs::remove_dir_all(&dir)?;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n----\n"));
    Ok(())
}

#[test]
fn unsigned_parts_of_the_manifest() -> Res {
    // The signer label sits outside the signed bytes; it is bound through the checkpoint.
    let dir = copy_base("signer-label");
    edit_json(&dir.join("manifest.json"), |v| {
        v["signatures"][0]["signer"] = Value::String("bureav".into());
    })?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    let first = first_line(&r.out);
    assert!(
        first.contains("at V2") && first.contains("signatures[0].signer"),
        "{first}"
    );

    // An extra field outside the signed document, or inside a signature entry, is refused.
    for (what, edit) in [
        (
            "top",
            Box::new(|v: &mut Value| v["note"] = Value::String("x".into()))
                as Box<dyn Fn(&mut Value)>,
        ),
        (
            "entry",
            Box::new(|v: &mut Value| v["signatures"][0]["note"] = Value::String("x".into())),
        ),
    ] {
        let dir = copy_base("extra-field");
        edit_json(&dir.join("manifest.json"), |v| edit(v))?;
        let r = run(&dir);
        assert_ne!(r.code, 0, "{what}: {}", r.out);
        assert!(
            r.out.contains("manifest.json") && r.out.contains("unexpected"),
            "{what}: {}",
            r.out
        );
        std::fs::remove_dir_all(&dir)?;
    }
    let dir = copy_base("cosign-extra");
    edit_json(&dir.join("cosign-notary-1.json"), |v| {
        v["note"] = Value::String("x".into());
    })?;
    let r = run(&dir);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        first_line(&r.out).contains("cosign-notary-1.json"),
        "{}",
        r.out
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Exhaustive: every single byte of every JSON file, with each of the mutations, verified
/// in-process. Slow (thousands of verifications); run with `cargo test -p verifier --test tamper
/// -- --ignored`.
#[test]
#[ignore]
fn exhaustive_single_byte_json() -> Res {
    let mut files = lottery::verify::Files::new();
    for name in bundle_files() {
        files.insert(name.clone(), std::fs::read(base().join(&name))?);
    }
    assert!(lottery::verify::verify(&files)?.ok());
    let mut passed = Vec::new();
    for name in bundle_files().iter().filter(|n| n.ends_with(".json")) {
        let orig = files[name].clone();
        for pos in 0..orig.len() {
            for m in [mutate(orig[pos]), orig[pos] ^ 1, orig[pos] ^ 0x20] {
                if m == orig[pos] {
                    continue;
                }
                let mut f = files.clone();
                if let Some(b) = f.get_mut(name) {
                    b[pos] = m;
                }
                if let Ok(r) = lottery::verify::verify(&f)
                    && r.ok()
                {
                    passed.push(format!(
                        "{name} byte {pos}: {:?} -> {:?}",
                        orig[pos] as char, m as char
                    ));
                }
            }
        }
    }
    assert!(
        passed.is_empty(),
        "undetected changes:\n{}",
        passed.join("\n")
    );
    Ok(())
}
