//! Privacy: the public bundle of the example round carries no name, ID-card number, phone or
//! address of any applicant — in any form a file could hold it (UTF-8, JSON `\u` escapes, the
//! bundle's `hex:` form, the phone's digits) — and none of the families' secrets; the private
//! outputs (`secrets.csv`, `notices.html`) are not bundle files.

use ed25519_dalek::SigningKey;
use lottery::bundle::{self, Beacon, BundleInput, Ceremony, Commitment};
use lottery::seed::{Reveal, commitment};
use server::import::{self, ValidatedRound};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Builds the public bundle of a validated round with a test ceremony of three parties.
fn bundle_of(v: &ValidatedRound) -> Result<Vec<(String, Vec<u8>)>, String> {
    let round = &v.round;
    let domain = round.domain();
    let party = |name: &str, k: u8| {
        (
            name.to_string(),
            [k; 32],
            lottery::manifest::signing_key(&[k + 100; 32]),
        )
    };
    let parties: Vec<(String, [u8; 32], SigningKey)> =
        vec![party("bureau", 1), party("notary", 2), party("observer", 3)];
    let (root, size) = round.input_root();
    let bureau = &parties[0].2;
    let checkpoint = bundle::checkpoint_with_root(round, &root, size);
    let checkpoint_file =
        bundle::signed_file(domain, "checkpoint", &checkpoint, &[("bureau", bureau)]);
    let rid = round.policy.round.id.clone();
    let ceremony = Ceremony {
        commitments: parties
            .iter()
            .map(|(p, share, _)| Commitment {
                party: p.clone(),
                commitment: commitment(domain, &rid, &root, p, share),
            })
            .collect(),
        reveals: parties
            .iter()
            .map(|(p, share, _)| Reveal {
                party: p.clone(),
                share: *share,
            })
            .collect(),
        beacon: Beacon {
            kind: "text".into(),
            source: "privacy test beacon".into(),
            value: b"privacy test".to_vec(),
        },
    };
    let created = format!("{}T10:00:00+08:00", round.policy.round.draw_date);
    bundle::build(&BundleInput {
        round,
        ceremony: &ceremony,
        checkpoint_file: &checkpoint_file,
        log: None,
        log_head: String::new(),
        created: &created,
        signers: &[("bureau", bureau)],
    })
}

/// Every form a private value could take inside a public file.
fn variants(v: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![v.as_bytes().to_vec()];
    // `hex:` form of the bundle's signed JSON (lower-case hex of the UTF-8 bytes).
    out.push(hex::encode(v.as_bytes()).into_bytes());
    out.push(hex::encode_upper(v.as_bytes()).into_bytes());
    if !v.is_ascii() {
        // JSON escapes: \uXXXX for every non-ASCII UTF-16 unit, lower and upper case.
        let lower: String = v
            .encode_utf16()
            .map(|u| {
                if u < 0x80 {
                    char::from(u as u8).to_string()
                } else {
                    format!("\\u{u:04x}")
                }
            })
            .collect();
        out.push(lower.clone().into_bytes());
        out.push(lower.to_uppercase().replace("\\U", "\\u").into_bytes());
        // GB18030, should a file ever be written in the bureau's encoding.
        let (gb, _, _) = encoding_rs::GB18030.encode(v);
        out.push(gb.into_owned());
    }
    out
}

/// Every position of every 4-byte window of a file: a substring search for thousands of needles
/// that stays fast in a debug build.
struct Index<'a> {
    bytes: &'a [u8],
    at: HashMap<[u8; 4], Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(bytes: &'a [u8]) -> Index<'a> {
        let mut at: HashMap<[u8; 4], Vec<usize>> = HashMap::new();
        for (i, w) in bytes.windows(4).enumerate() {
            at.entry([w[0], w[1], w[2], w[3]]).or_default().push(i);
        }
        Index { bytes, at }
    }

    fn contains(&self, needle: &[u8]) -> bool {
        if needle.len() < 4 {
            return !needle.is_empty() && self.bytes.windows(needle.len()).any(|w| w == needle);
        }
        let key = [needle[0], needle[1], needle[2], needle[3]];
        self.at.get(&key).is_some_and(|v| {
            v.iter()
                .any(|&i| self.bytes.get(i..i + needle.len()) == Some(needle))
        })
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    Index::new(hay).contains(needle)
}

/// The private values of the input as the bureau typed them and as the import stores them.
fn private_values(v: &ValidatedRound) -> Result<BTreeSet<String>, Box<dyn std::error::Error>> {
    let mut values: BTreeSet<String> = BTreeSet::new();
    for e in &v.private {
        values.insert(e.name.clone());
        values.insert(e.id_card.clone());
        values.insert(e.phone.clone());
        values.insert(e.address.clone());
    }
    // As typed in the file (phones with spaces or dashes).
    let text = std::fs::read_to_string(root().join("examples/county/applicants.csv"))?;
    let mut rd = csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = rd.headers()?.clone();
    let private_columns: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| matches!(*h, "姓名" | "身份证号" | "监护人电话" | "家庭住址"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(private_columns.len(), 4);
    for rec in rd.records() {
        let rec = rec?;
        for &i in &private_columns {
            values.insert(rec[i].trim().to_string());
        }
    }
    Ok(values)
}

#[test]
fn no_private_value_reaches_the_public_bundle() -> Result<(), Box<dyn std::error::Error>> {
    let files = import::load_dir(&root().join("examples/county"))?;
    let v = import::import_round(&files, &[42; 32]).map_err(|p| {
        p.iter()
            .take(5)
            .map(|x| x.en())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let bundle = bundle_of(&v)?;
    let names: Vec<&str> = bundle.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"applicants.csv") && names.contains(&"manifest.json"));
    // The bundle is a valid one: the search is over real output.
    let map: lottery::verify::Files = bundle.iter().cloned().collect();
    let report = lottery::verify::verify(&map).map_err(|e| e.to_string())?;
    assert!(report.ok(), "the test bundle does not verify");

    let values = private_values(&v)?;
    assert!(
        values.len() > 4 * 500,
        "only {} distinct values",
        values.len()
    );
    let secrets: Vec<String> = v
        .private
        .iter()
        .flat_map(|e| [import::secret_hex(&e.salt), import::secret_grouped(&e.salt)])
        .collect();
    let mut found: Vec<String> = Vec::new();
    let forms: Vec<(usize, Vec<u8>)> = values
        .iter()
        .chain(&secrets)
        .flat_map(|v| variants(v).into_iter().map(|f| (v.len(), f)))
        .collect();
    for (name, bytes) in &bundle {
        let hay = Index::new(bytes);
        for (len, form) in &forms {
            if hay.contains(form) {
                found.push(format!("{name}: a private value ({len} bytes)"));
            }
        }
        // The search sees public values: every application id is in the public applicants file.
        if name == "applicants.csv" {
            assert!(
                v.private
                    .iter()
                    .all(|e| hay.contains(e.application_id.as_bytes()))
            );
        }
    }
    assert!(
        found.is_empty(),
        "private data in the bundle:\n{}",
        found.join("\n")
    );

    // The private outputs exist, hold the names (so the search above looks for the right
    // bytes), and are not part of the bundle.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("privacy-private");
    let _ = std::fs::remove_dir_all(&dir); // left by an earlier run that failed
    let private = import::write_private(&dir, &v, None)?;
    let secrets_csv = std::fs::read(&private.secrets)?;
    let notices = std::fs::read(&private.notices)?;
    let first = &v.private[0];
    assert!(contains(&secrets_csv, first.name.as_bytes()));
    assert!(contains(
        &secrets_csv,
        import::secret_hex(&first.salt).as_bytes()
    ));
    for (name, bytes) in &bundle {
        assert!(
            !name.contains("secrets") && !name.contains("notices"),
            "{name} is a private file"
        );
        assert!(bytes != &secrets_csv && bytes != &notices);
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
