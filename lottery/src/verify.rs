//! Bundle verification: the numbered checks V1–V11 of PROTOCOL.md §9.
//!
//! Input is the bundle's files as bytes (the caller reads the directory); output is a [`Report`]
//! listing every check with its outcome. Checks continue after a mismatch where they can, so the
//! report names the precise record that differs, not only the file whose hash changed.

use crate::bundle::{
    self, Beacon, CEREMONY_FILES, Commitment, FORMAT, LOG_FILE, MANIFEST_FILE, PROTOCOL,
};
use crate::digest::{Digest, parse_hex_bytes};
use crate::encoding::{Domain, sha256};
use crate::manifest::{self, SignatureEntry};
use crate::round::FrozenRound;
use crate::seed::Reveal;
use serde_json::Value;
use std::collections::BTreeMap;

/// The bundle, file name → bytes.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Passed.
    Pass,
    /// A discrepancy: the bundle does not reproduce.
    Fail(String),
    /// Not applicable / not run (with why).
    Skip(String),
}

/// One numbered check.
#[derive(Debug, Clone)]
pub struct Check {
    /// `V1` …
    pub id: &'static str,
    /// Short English name.
    pub en: &'static str,
    /// Short Chinese name.
    pub zh: &'static str,
    /// Result.
    pub status: Status,
}

/// A verified signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Name as signed.
    pub name: String,
    /// Key fingerprint.
    pub fingerprint: String,
    /// Public key hex.
    pub public_key: String,
    /// `manifest`, `checkpoint` or `cosign` (with its file).
    pub role: String,
}

/// The full report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Checks in order.
    pub checks: Vec<Check>,
    /// Valid signers seen.
    pub signers: Vec<Signer>,
    /// Real or rehearsal (when the manifest was readable).
    pub domain: Option<Domain>,
    /// Round id.
    pub round_id: String,
    /// Counts.
    pub applicants: u64,
    /// Placed applicants.
    pub placed: u64,
    /// Schools.
    pub schools: u64,
    /// The seed.
    pub seed: String,
    /// The results root.
    pub results_root: String,
    /// The input root.
    pub input_root: String,
}

impl Report {
    /// Did every check pass (or not apply)?
    pub fn ok(&self) -> bool {
        self.checks
            .iter()
            .all(|c| !matches!(c.status, Status::Fail(_)))
    }
    /// The first failure.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks
            .iter()
            .find(|c| matches!(c.status, Status::Fail(_)))
    }
}

/// The bundle cannot be checked at all (exit code 2 in the CLI).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// A file is missing.
    #[error("{0}: file is missing")]
    Missing(String),
    /// A file does not parse.
    #[error("{file}: cannot be read: {reason}")]
    Parse {
        /// File.
        file: String,
        /// Why.
        reason: String,
    },
}

fn parse_json(files: &Files, name: &str) -> Result<Value, Unusable> {
    let b = files
        .get(name)
        .ok_or_else(|| Unusable::Missing(name.into()))?;
    serde_json::from_slice(b).map_err(|e| Unusable::Parse {
        file: name.into(),
        reason: e.to_string(),
    })
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn digest_field(v: &Value, k: &str, file: &str) -> Result<Digest, Unusable> {
    Digest::from_hex(s(v, k)).map_err(|e| Unusable::Parse {
        file: file.into(),
        reason: format!("{k}: {e}"),
    })
}

struct Checks(Vec<Check>);
impl Checks {
    fn push(&mut self, id: &'static str, en: &'static str, zh: &'static str, status: Status) {
        self.0.push(Check { id, en, zh, status });
    }
}

fn fail(msg: impl Into<String>) -> Status {
    Status::Fail(msg.into())
}

/// Splits a signed file into (document, JCS bytes of the document, signatures).
fn signed_parts(
    files: &Files,
    name: &str,
    kind: &str,
) -> Result<(Value, Vec<u8>, Vec<SignatureEntry>, bool), Unusable> {
    let v = parse_json(files, name)?;
    let doc = v.get(kind).cloned().ok_or_else(|| Unusable::Parse {
        file: name.into(),
        reason: format!("no {kind:?} object"),
    })?;
    let sigs = v
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| Unusable::Parse {
            file: name.into(),
            reason: "no signatures array".into(),
        })?
        .iter()
        .map(SignatureEntry::from_json)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|reason| Unusable::Parse {
            file: name.into(),
            reason,
        })?;
    let canonical = manifest::jcs(&v).ok().as_deref() == files.get(name).map(Vec::as_slice);
    let bytes = manifest::jcs(&doc).map_err(|e| Unusable::Parse {
        file: name.into(),
        reason: e.to_string(),
    })?;
    Ok((doc, bytes, sigs, canonical))
}

/// Verifies a bundle. `Err` only when the bundle is unusable (missing or unparsable core files).
pub fn verify(files: &Files) -> Result<Report, Unusable> {
    let mut c = Checks(Vec::new());
    let mut report = Report::default();

    // V1 — manifest and file inventory.
    let (man, man_bytes, man_sigs, man_canonical) = signed_parts(files, MANIFEST_FILE, "manifest")?;
    if s(&man, "format") != FORMAT || s(&man, "protocol") != PROTOCOL {
        return Err(Unusable::Parse {
            file: MANIFEST_FILE.into(),
            reason: format!(
                "unknown format/protocol {:?}/{:?}; this verifier reads {FORMAT} / {PROTOCOL}",
                s(&man, "format"),
                s(&man, "protocol")
            ),
        });
    }
    let domain = Domain::parse(s(&man, "domain")).ok_or_else(|| Unusable::Parse {
        file: MANIFEST_FILE.into(),
        reason: "domain must be real or rehearsal".into(),
    })?;
    report.domain = Some(domain);
    report.round_id = s(&man, "round_id").to_string();
    let listed: Vec<(String, String, u64)> = man
        .get("files")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        s(f, "name").to_string(),
                        s(f, "sha256").to_string(),
                        f.get("bytes").and_then(Value::as_u64).unwrap_or(u64::MAX),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut inventory = Status::Pass;
    if !man_canonical {
        inventory = fail("manifest.json: the file is not in canonical JSON form (RFC 8785)");
    }
    for (name, hash, bytes) in &listed {
        let Some(b) = files.get(name) else {
            return Err(Unusable::Missing(name.clone()));
        };
        if inventory == Status::Pass && (sha256(b).to_hex() != *hash || b.len() as u64 != *bytes) {
            inventory = fail(format!(
                "{name}: SHA-256 differs from the manifest (expected {hash}, found {})",
                sha256(b).to_hex()
            ));
        }
    }
    for name in files.keys() {
        let cosign = name.starts_with("cosign-") && name.ends_with(".json");
        if name != MANIFEST_FILE
            && !cosign
            && !listed.iter().any(|(n, _, _)| n == name)
            && inventory == Status::Pass
        {
            inventory = fail(format!("{name}: file is not listed in the manifest"));
        }
    }
    for required in [
        "policy.toml",
        "schools.csv",
        "teachers.csv",
        "applicants.csv",
    ]
    .into_iter()
    .chain(CEREMONY_FILES)
    .chain(crate::results::RESULT_FILES)
    {
        if !listed.iter().any(|(n, _, _)| n == required) {
            return Err(Unusable::Missing(format!(
                "{required} (not listed in manifest.json)"
            )));
        }
    }
    c.push(
        "V1",
        "bundle complete, file hashes match the manifest",
        "文件齐全，哈希与清单一致",
        inventory,
    );

    // V2 — signatures (manifest, checkpoint, co-signatures).
    let mut sig_status = Status::Pass;
    if man_sigs.is_empty() {
        sig_status = fail("manifest.json: no signatures");
    }
    for e in &man_sigs {
        match manifest::verify(domain, "manifest", &man_bytes, e) {
            Ok(()) => report.signers.push(Signer {
                name: e.signer.clone(),
                fingerprint: manifest::fingerprint(&e.public_key),
                public_key: hex::encode(e.public_key),
                role: "manifest".into(),
            }),
            Err(err) => {
                if sig_status == Status::Pass {
                    sig_status = fail(format!("manifest.json: {err}"));
                }
            }
        }
    }
    let (cp, cp_bytes, cp_sigs, cp_canonical) =
        signed_parts(files, "checkpoint.json", "checkpoint")?;
    if !cp_canonical && sig_status == Status::Pass {
        sig_status = fail("checkpoint.json: not in canonical JSON form");
    }
    for e in &cp_sigs {
        if let Err(err) = manifest::verify(domain, "checkpoint", &cp_bytes, e)
            && sig_status == Status::Pass
        {
            sig_status = fail(format!("checkpoint.json: {err}"));
        }
    }
    // The bureau signs both: the freeze checkpoint (before any randomness) and the manifest.
    match (cp_sigs.first(), man_sigs.first()) {
        (Some(a), Some(b)) if a.public_key == b.public_key => {}
        (None, _) if sig_status == Status::Pass => {
            sig_status = fail("checkpoint.json: no signatures")
        }
        (Some(a), Some(b)) if sig_status == Status::Pass => {
            sig_status = fail(format!(
                "manifest.json: signed by key {} but the freeze checkpoint by key {} — the manifest was re-signed by another key",
                manifest::fingerprint(&b.public_key),
                manifest::fingerprint(&a.public_key)
            ))
        }
        _ => {}
    }
    for (name, bytes) in files.iter().filter(|(n, _)| n.starts_with("cosign-")) {
        let parsed = serde_json::from_slice::<Value>(bytes)
            .ok()
            .and_then(|v| v.get("cosignature").cloned())
            .ok_or_else(|| Unusable::Parse {
                file: name.clone(),
                reason: "no cosignature object".into(),
            })?;
        let e = SignatureEntry::from_json(&parsed).map_err(|reason| Unusable::Parse {
            file: name.clone(),
            reason,
        })?;
        let canonical = manifest::jcs(&serde_json::json!({"cosignature": parsed}))
            .ok()
            .as_deref()
            == Some(bytes.as_slice());
        match manifest::verify(domain, "manifest", &man_bytes, &e) {
            Ok(()) if canonical => report.signers.push(Signer {
                name: e.signer.clone(),
                fingerprint: manifest::fingerprint(&e.public_key),
                public_key: hex::encode(e.public_key),
                role: format!("cosign ({name})"),
            }),
            Ok(()) => {
                if sig_status == Status::Pass {
                    sig_status = fail(format!("{name}: not in canonical JSON form"));
                }
            }
            Err(err) => {
                if sig_status == Status::Pass {
                    sig_status = fail(format!("{name}: {err}"));
                }
            }
        }
    }
    c.push(
        "V2",
        "signatures (manifest, freeze checkpoint, co-signatures)",
        "签名（清单、冻结检查点、联署）",
        sig_status,
    );

    // V3 — input root.
    let get = |n: &str| files.get(n).map(Vec::as_slice).unwrap_or(&[]);
    let round = FrozenRound::parse(
        get("policy.toml"),
        get("schools.csv"),
        get("teachers.csv"),
        get("applicants.csv"),
    )
    .map_err(|e| Unusable::Parse {
        file: "inputs".into(),
        reason: e.to_string(),
    })?;
    report.applicants = round.applicants.len() as u64;
    report.schools = round.schools.len() as u64;
    let (root, size) = round.input_root();
    report.input_root = root.to_hex();
    let mut st = Status::Pass;
    let claims = [
        (
            "manifest.json",
            "input_root",
            s(&man, "input_root").to_string(),
            root.to_hex(),
        ),
        (
            "checkpoint.json",
            "input_root",
            s(&cp, "input_root").to_string(),
            root.to_hex(),
        ),
        (
            "manifest.json",
            "tree_size",
            man.get("tree_size")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .to_string(),
            size.to_string(),
        ),
        (
            "checkpoint.json",
            "tree_size",
            cp.get("tree_size")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .to_string(),
            size.to_string(),
        ),
        (
            "manifest.json",
            "policy_hash",
            s(&man, "policy_hash").to_string(),
            round.policy_hash().to_hex(),
        ),
        (
            "manifest.json",
            "round_id",
            report.round_id.clone(),
            round.policy.round.id.clone(),
        ),
        (
            "manifest.json",
            "domain",
            domain.as_str().to_string(),
            round.domain().as_str().to_string(),
        ),
        (
            "checkpoint.json",
            "domain",
            s(&cp, "domain").to_string(),
            round.domain().as_str().to_string(),
        ),
        (
            "manifest.json",
            "checkpoint_hash",
            s(&man, "checkpoint_hash").to_string(),
            sha256(get("checkpoint.json")).to_hex(),
        ),
    ];
    for (file, field, found, expected) in claims {
        if found != expected {
            st = fail(format!(
                "{file}: {field}: expected {expected} (recomputed), found {found}"
            ));
            break;
        }
    }
    c.push(
        "V3",
        "input root recomputed from policy, schools, teachers, applicants",
        "由公开输入重算输入根",
        st,
    );

    // V4 — checkpoint counts.
    let expected_cp = bundle::checkpoint_with_root(&round, &root, size);
    let st = if expected_cp == cp {
        Status::Pass
    } else {
        fail(first_json_difference("checkpoint.json", &expected_cp, &cp))
    };
    c.push(
        "V4",
        "freeze checkpoint counts per school, track and category",
        "冻结检查点的计数",
        st,
    );

    // V5 — commitments and reveals.
    let com = parse_json(files, "commitments.json")?;
    let rev = parse_json(files, "reveals.json")?;
    let commitments: Vec<Commitment> = com
        .get("commitments")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| {
                    Ok(Commitment {
                        party: s(x, "party").to_string(),
                        commitment: digest_field(x, "commitment", "commitments.json")?,
                    })
                })
                .collect::<Result<Vec<_>, Unusable>>()
        })
        .transpose()?
        .unwrap_or_default();
    let reveals: Vec<Reveal> = rev
        .get("reveals")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| {
                    let b = parse_hex_bytes(s(x, "share"))
                        .ok()
                        .and_then(|v| <[u8; 32]>::try_from(v).ok())
                        .ok_or_else(|| Unusable::Parse {
                            file: "reveals.json".into(),
                            reason: format!("party {}: share must be 64 hex digits", s(x, "party")),
                        })?;
                    Ok(Reveal {
                        party: s(x, "party").to_string(),
                        share: b,
                    })
                })
                .collect::<Result<Vec<_>, Unusable>>()
        })
        .transpose()?
        .unwrap_or_default();
    let beacon = Beacon::from_json(&parse_json(files, "beacon.json")?).map_err(|reason| {
        Unusable::Parse {
            file: "beacon.json".into(),
            reason,
        }
    })?;
    let ceremony = bundle::Ceremony {
        commitments,
        reveals,
        beacon,
    };
    let mut st = Status::Pass;
    if s(&com, "round_id") != round.policy.round.id || s(&com, "input_root") != root.to_hex() {
        st = fail("commitments.json: round_id or input_root differ from the frozen round");
    }
    let mut parties: Vec<&str> = ceremony
        .commitments
        .iter()
        .map(|c| c.party.as_str())
        .collect();
    parties.sort_unstable();
    if parties.windows(2).any(|w| w[0] == w[1]) {
        st = fail("commitments.json: a party committed twice");
    }
    let seed = match bundle::seed_for(&round, &root, size, &ceremony) {
        Ok(seed) => Some(seed),
        Err(e) => {
            if st == Status::Pass {
                st = fail(format!("reveals.json: {e}"));
            }
            None
        }
    };
    c.push(
        "V5",
        "every commitment matches its reveal, none missing",
        "每份承诺与揭示一致，无缺失",
        st,
    );
    c.push(
        "V6",
        "beacon recorded (value and source)",
        "公共信标已记录（值与来源）",
        if ceremony.beacon.source.is_empty() {
            fail("beacon.json: the source is empty")
        } else {
            Status::Pass
        },
    );

    // V7 — seed.
    let st = match seed {
        Some(seed) if seed.to_hex() == s(&man, "seed") => Status::Pass,
        Some(seed) => fail(format!(
            "manifest.json: seed: expected {} (re-derived), found {}",
            seed.to_hex(),
            s(&man, "seed")
        )),
        None => Status::Skip("no seed: commitments do not check".into()),
    };
    report.seed = seed.map(|d| d.to_hex()).unwrap_or_default();
    c.push(
        "V7",
        "master seed re-derived from shares, beacon and input root",
        "由份额、信标与输入根重算主种子",
        st,
    );

    // V8 — replay the draw.
    let mut placed = 0;
    let st = match seed {
        None => Status::Skip("no seed".into()),
        Some(seed) => {
            match crate::draw::draw(&round, &seed) {
                Err(e) => fail(format!("the draw cannot be replayed: {e}")),
                Ok(outcome) => {
                    placed = outcome
                        .school
                        .iter()
                        .filter(|s| **s != crate::mechanism::UNPLACED)
                        .count() as u64;
                    let expected = crate::results::render(&round, &outcome);
                    let mut st = Status::Pass;
                    for (name, text) in &expected {
                        if let Some(d) = first_line_difference(name, text.as_bytes(), get(name)) {
                            st = fail(d);
                            break;
                        }
                    }
                    if st == Status::Pass {
                        let pairs: Vec<(&str, &str)> =
                            expected.iter().map(|(n, t)| (*n, t.as_str())).collect();
                        let (rr, rs) = crate::results::results_root(domain, &pairs);
                        report.results_root = rr.to_hex();
                        if rr.to_hex() != s(&man, "results_root")
                            || Some(rs) != man.get("results_size").and_then(Value::as_u64)
                        {
                            c.push("V8", "every lottery number, placement, waitlist, points total, class list and quota re-computed", "重算全部摇号号码、录取、候补、积分、分班与指标分配", Status::Pass);
                            c.push("V9", "results root", "结果根", fail(format!("manifest.json: results_root: expected {} (recomputed), found {}", rr.to_hex(), s(&man, "results_root"))));
                            Status::Skip(String::new())
                        } else {
                            st
                        }
                    } else {
                        st
                    }
                }
            }
        }
    };
    report.placed = placed;
    if st != Status::Skip(String::new()) {
        let v9 = if st == Status::Pass {
            Status::Pass
        } else {
            Status::Skip("results differ".into())
        };
        c.push("V8", "every lottery number, placement, waitlist, points total, class list and quota re-computed", "重算全部摇号号码、录取、候补、积分、分班与指标分配", st);
        c.push("V9", "results root", "结果根", v9);
    }

    // V10 — ceremony log chain.
    let st = match files.get(LOG_FILE) {
        None => {
            if s(&man, "log_head").is_empty() {
                Status::Skip("no ceremony log in this bundle".into())
            } else {
                fail("manifest.json names a log head but log.jsonl is missing")
            }
        }
        Some(log) => match crate::log::verify_chain(domain, log) {
            Ok(head) if head.to_hex() == s(&man, "log_head") => Status::Pass,
            Ok(head) => fail(format!(
                "log.jsonl: chain head {} differs from the manifest's log_head {}",
                head.to_hex(),
                s(&man, "log_head")
            )),
            Err(e) => fail(format!("log.jsonl: {e}")),
        },
    };
    c.push("V10", "ceremony log hash chain", "仪式日志哈希链", st);
    report.checks = c.0;
    Ok(report)
}

fn first_json_difference(file: &str, expected: &Value, found: &Value) -> String {
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    None => return format!("{file}: field {k} is missing"),
                    Some(w) if w != v => {
                        return first_json_difference(&format!("{file}: {k}"), v, w);
                    }
                    _ => {}
                }
            }
            format!("{file}: unexpected extra field")
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                if v != w {
                    return first_json_difference(&format!("{file}[{i}]"), v, w);
                }
            }
            format!("{file}: expected {} entries, found {}", a.len(), b.len())
        }
        _ => format!("{file}: expected {expected}, found {found}"),
    }
}

/// Names the first differing line and field of a CSV file.
pub fn first_line_difference(name: &str, expected: &[u8], found: &[u8]) -> Option<String> {
    if expected == found {
        return None;
    }
    let e = String::from_utf8_lossy(expected);
    let f = String::from_utf8_lossy(found);
    let mut el = e.split('\n');
    let mut fl = f.split('\n');
    let header: Vec<&str> = e.lines().next().unwrap_or("").split(',').collect();
    let mut line = 0;
    loop {
        line += 1;
        match (el.next(), fl.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) => {
                let ea: Vec<&str> = a.split(',').collect();
                let fb: Vec<&str> = b.split(',').collect();
                let record = if line > 1 {
                    format!(" (record {})", ea.first().copied().unwrap_or(""))
                } else {
                    String::new()
                };
                for (k, col) in header.iter().enumerate() {
                    let x = ea.get(k).copied().unwrap_or("");
                    let y = fb.get(k).copied().unwrap_or("<missing>");
                    if x != y {
                        return Some(format!(
                            "{name}, line {line}{record}, field {col}: expected {x:?}, found {y:?}"
                        ));
                    }
                }
                return Some(format!(
                    "{name}, line {line}{record}: expected {a:?}, found {b:?}"
                ));
            }
            (Some(a), None) => {
                return Some(format!(
                    "{name}, line {line}: expected {a:?}, the file ends"
                ));
            }
            (None, Some(b)) => return Some(format!("{name}, line {line}: unexpected line {b:?}")),
            (None, None) => return Some(format!("{name}: bytes differ")),
        }
    }
}

/// One applicant's view, checked against the signed input root (`fairdraw-verify --applicant`).
#[derive(Debug, Clone)]
pub struct ApplicantView {
    /// The public applicants.csv row fields (header, value).
    pub record: Vec<(String, String)>,
    /// The results.csv row fields.
    pub result: Vec<(String, String)>,
    /// Waitlist entries: (stage, school, position).
    pub waitlists: Vec<(String, String, String)>,
    /// Leaf index in the input tree.
    pub leaf_index: u64,
    /// Tree size.
    pub tree_size: u64,
    /// Audit path (hex).
    pub proof: Vec<String>,
    /// The committed input root.
    pub input_root: String,
    /// Did the inclusion proof verify?
    pub proof_ok: bool,
}

/// Looks up one applicant in a bundle and checks its inclusion proof.
pub fn applicant_view(files: &Files, id: &str) -> Result<Option<ApplicantView>, Unusable> {
    let get = |n: &str| files.get(n).map(Vec::as_slice).unwrap_or(&[]);
    let round = FrozenRound::parse(
        get("policy.toml"),
        get("schools.csv"),
        get("teachers.csv"),
        get("applicants.csv"),
    )
    .map_err(|e| Unusable::Parse {
        file: "inputs".into(),
        reason: e.to_string(),
    })?;
    let Some(index) = round.applicant_leaf_index(id) else {
        return Ok(None);
    };
    let (man, _, _, _) = signed_parts(files, MANIFEST_FILE, "manifest")?;
    let committed = digest_field(&man, "input_root", MANIFEST_FILE)?;
    let leaves = round.input_leaves();
    let size = leaves.len() as u64;
    let leaf = leaves[index as usize];
    let tree = crate::merkle::Tree::new(leaves);
    let proof = tree.inclusion_proof(index).unwrap_or_default();
    let proof_ok = crate::merkle::verify_inclusion(&leaf, index, size, &proof, &committed).is_ok();
    let row = |file: &str, key_col: usize| -> Vec<Vec<(String, String)>> {
        let text = String::from_utf8_lossy(get(file)).into_owned();
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::to_string)
            .collect();
        lines
            .filter(|l| l.split(',').nth(key_col) == Some(id))
            .map(|l| {
                header
                    .iter()
                    .cloned()
                    .zip(l.split(',').map(str::to_string))
                    .collect()
            })
            .collect()
    };
    let record = row("applicants.csv", 0)
        .into_iter()
        .next()
        .unwrap_or_default();
    let result = row("results.csv", 0).into_iter().next().unwrap_or_default();
    let waitlists = row("waitlists.csv", 3)
        .into_iter()
        .map(|r| {
            let g = |k: &str| {
                r.iter()
                    .find(|(h, _)| h == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            (g("stage"), g("school_id"), g("position"))
        })
        .collect();
    Ok(Some(ApplicantView {
        record,
        result,
        waitlists,
        leaf_index: index,
        tree_size: size,
        proof: proof.iter().map(Digest::to_hex).collect(),
        input_root: committed.to_hex(),
        proof_ok,
    }))
}
