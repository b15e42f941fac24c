//! Bundle verification: the numbered checks of PROTOCOL.md §9.
//!
//! Input is the bundle's files as bytes, through a [`Source`]: the caller reads the directory
//! (or hands over a [`Files`] map already in memory), and the checks ask for each file when they
//! need it and let go of the large ones when done with them, so that a million-applicant
//! bundle's applicants file is not in memory beside the replay. Output is a [`Report`] listing
//! every check with its outcome. Checks continue after a mismatch where they can, so the report
//! names the precise record that differs, not only the file whose hash changed.
//!
//! The checks (ids are stable; the Python verifier `verifier/python/` mirrors them):
//!
//! - **V1** bundle complete: every file the manifest lists is present with its SHA-256 and size,
//!   no unlisted file (other than `cosign-*.json`), `manifest.json` in canonical JSON.
//! - **V2** signatures: every manifest signature and the freeze-checkpoint signature verify, the
//!   same key signed both, and every `cosign-*.json` co-signature verifies over the manifest.
//! - **V3** input root: the Merkle root (and tree size, policy hash, round id, domain, checkpoint
//!   hash) recomputed from `policy.toml`, `schools.csv`, `teachers.csv`, `applicants.csv` equals
//!   the signed manifest's and checkpoint's.
//! - **V4** checkpoint counts: `checkpoint.json` equals the counts recomputed from the inputs.
//! - **V5** commitments: every commitment in `commitments.json` matches the share revealed in
//!   `reveals.json`; none missing, none extra, no party twice; bound to the round and input root.
//! - **V6** beacon: `beacon.json` has a value and a named source.
//! - **V7** seed: the master seed re-derived from the shares, the beacon and the input root equals
//!   the manifest's `seed`.
//! - **V8** replay: every lottery number, ticket, placement, waitlist, points total, class list and
//!   quota allocation re-computed and compared byte for byte with the five result files.
//! - **V9** results root: the Merkle root of the re-computed result lines equals the manifest's.
//! - **V10** ceremony log: the hash chain of `log.jsonl` (when present) ends at the manifest's
//!   `log_head`.
//! - **V11** supplements (PROTOCOL.md §11, when present): every `s<k>-manifest.json` chains to the
//!   previous manifest, is signed by the bureau, and its refills and late arrivals re-compute
//!   byte for byte (`lottery::supplement::verify_all`).

use crate::bundle::{
    self, Beacon, CEREMONY_FILES, Commitment, FORMAT, LOG_FILE, MANIFEST_FILE, PROTOCOL,
};
use crate::digest::{Digest, parse_hex_bytes};
use crate::draw::Outcome;
use crate::encoding::{Domain, sha256};
use crate::lines::Hashed;
use crate::manifest::{self, SignatureEntry};
use crate::round::{FrozenRound, RecordError};
use crate::seed::Reveal;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

mod lookup;
pub use lookup::{ApplicantView, SupplementChange, SupplementStep, TicketRecipe, applicant_view};

/// The bundle, file name → bytes.
pub type Files = BTreeMap<String, Vec<u8>>;

/// Where the checks get a bundle's files. The engine does no I/O: a caller that reads a
/// directory implements this (keeping small files in memory and reading a large one each time
/// it is asked for); [`Files`] is a source already in memory.
pub trait Source: Sync {
    /// The names of the bundle's files, sorted.
    fn names(&self) -> Vec<String>;
    /// The bytes of one file: `Ok(None)` when the bundle has no such file, `Err(reason)` when
    /// it exists but cannot be read.
    fn load(&self, name: &str) -> Result<Option<Cow<'_, [u8]>>, String>;
    /// One file to be read in pieces (the large result files are read this way, twice: beside
    /// the replay for their hashes and root, after it to compare them with the replay). By
    /// default a reader over [`load`](Self::load)'s bytes.
    fn open(&self, name: &str) -> Result<Option<Box<dyn std::io::Read + Send + '_>>, String> {
        Ok(self
            .load(name)?
            .map(|b| Box::new(std::io::Cursor::new(b)) as Box<dyn std::io::Read + Send>))
    }
}

impl Source for Files {
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
    fn load(&self, name: &str) -> Result<Option<Cow<'_, [u8]>>, String> {
        Ok(self.get(name).map(|b| Cow::Borrowed(b.as_slice())))
    }
}

/// The four public input files.
pub const INPUTS: [&str; 4] = [
    "policy.toml",
    "schools.csv",
    "teachers.csv",
    "applicants.csv",
];

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

/// Where a discrepancy is: file, line, record, field, expected vs found (each when known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Bundle file.
    pub file: String,
    /// 1-based line (CSV and JSON-lines files).
    pub line: Option<usize>,
    /// Record: application id, party, school id …
    pub record: Option<String>,
    /// Field (column or JSON key).
    pub field: Option<String>,
    /// Expected (recomputed or signed) value.
    pub expected: Option<String>,
    /// Value found in the bundle.
    pub found: Option<String>,
}

impl Location {
    fn file(f: &str) -> Location {
        Location {
            file: f.to_string(),
            ..Location::default()
        }
    }
    fn record(mut self, r: impl Into<String>) -> Self {
        self.record = Some(r.into());
        self
    }
    fn field(mut self, f: impl Into<String>) -> Self {
        self.field = Some(f.into());
        self
    }
    fn line(mut self, l: usize) -> Self {
        self.line = Some(l);
        self
    }
    fn values(mut self, expected: impl Into<String>, found: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(found.into());
        self
    }
    /// `file, line L (record R), field F: expected "E", found "X"` (the parts that are known).
    pub fn describe(&self) -> String {
        let mut s = self.file.clone();
        if let Some(l) = self.line {
            s.push_str(&format!(", line {l}"));
        }
        if let Some(r) = &self.record {
            s.push_str(&format!(" (record {r})"));
        }
        if let Some(f) = &self.field {
            s.push_str(&format!(", field {f}"));
        }
        match (&self.expected, &self.found) {
            (Some(e), Some(f)) => s.push_str(&format!(": expected {e:?}, found {f:?}")),
            (Some(e), None) => s.push_str(&format!(": expected {e:?}")),
            _ => {}
        }
        s
    }
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
    /// For a failure: where, as precisely as known.
    pub location: Option<Location>,
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
    /// Files whose SHA-256 or size differs from the manifest.
    pub changed_files: Vec<String>,
}

impl Report {
    /// Did every check pass (or not apply)?
    pub fn ok(&self) -> bool {
        self.checks
            .iter()
            .all(|c| !matches!(c.status, Status::Fail(_)))
    }
    /// The first failure (its message already carries the most precise location known).
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
    /// A format or protocol version this verifier does not implement.
    #[error("{file}: refused: {reason}")]
    Version {
        /// File.
        file: String,
        /// What was found.
        reason: String,
    },
}

/// Stages of a verification, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the manifest.
    Inventory,
    /// Hashing every file, parsing the inputs and recomputing the input root; then signatures.
    InputRoot,
    /// Commitments, reveals, seed.
    Seed,
    /// Replaying the draw (beside the results root) and comparing result files.
    Replay,
    /// The results root's check, and the log.
    ResultsRoot,
}

/// A discrepancy found by a check: its message and location.
#[derive(Debug, Clone)]
struct Finding {
    msg: String,
    loc: Location,
}

impl Finding {
    /// The message is the location's description plus a note.
    fn at(loc: Location, note: &str) -> Finding {
        let mut msg = loc.describe();
        if !note.is_empty() {
            msg.push_str(note);
        }
        Finding { msg, loc }
    }
    fn msg(loc: Location, msg: impl Into<String>) -> Finding {
        Finding {
            msg: msg.into(),
            loc,
        }
    }
}

/// Keeps the first finding of a check.
#[derive(Default)]
struct First(Option<Finding>);
impl First {
    fn note(&mut self, f: Finding) {
        if self.0.is_none() {
            self.0 = Some(f);
        }
    }
}

struct Ctx<'a> {
    files: &'a dyn Source,
    /// The bundle's file names.
    names: Vec<String>,
    changed: BTreeSet<String>,
    checks: Vec<Check>,
}

impl<'a> Ctx<'a> {
    /// A file's bytes (empty when absent or unreadable: the checks that need it then fail).
    fn get(&self, n: &str) -> Cow<'a, [u8]> {
        self.files
            .load(n)
            .ok()
            .flatten()
            .unwrap_or(Cow::Borrowed(&[]))
    }
    /// A file's bytes, or the bundle is unusable when it exists but cannot be read.
    fn load(&self, n: &str) -> Result<Option<Cow<'a, [u8]>>, Unusable> {
        self.files.load(n).map_err(|reason| Unusable::Parse {
            file: n.to_string(),
            reason,
        })
    }
    fn has(&self, n: &str) -> bool {
        self.names.binary_search_by(|x| x.as_str().cmp(n)).is_ok()
    }
    fn push(&mut self, id: &'static str, en: &'static str, zh: &'static str, r: Option<Finding>) {
        let (status, location) = match r {
            None => (Status::Pass, None),
            Some(f) => (Status::Fail(f.msg), Some(f.loc)),
        };
        self.checks.push(Check {
            id,
            en,
            zh,
            status,
            location,
        });
    }
    fn skip(&mut self, id: &'static str, en: &'static str, zh: &'static str, why: &str) {
        self.checks.push(Check {
            id,
            en,
            zh,
            status: Status::Skip(why.to_string()),
            location: None,
        });
    }
    /// A file that cannot be read: a discrepancy when its bytes differ from the signed manifest
    /// (someone changed it), else the bundle is unusable.
    fn unreadable(&self, loc: Location, reason: &str) -> Result<Finding, Unusable> {
        if self.changed.contains(&loc.file) {
            let msg = format!(
                "{}: cannot be read ({reason}); its SHA-256 differs from the manifest",
                loc.describe()
            );
            Ok(Finding::msg(loc, msg))
        } else {
            Err(Unusable::Parse {
                file: loc.describe(),
                reason: reason.to_string(),
            })
        }
    }
}

const V1: (&str, &str, &str) = (
    "V1",
    "bundle complete, file hashes match the manifest",
    "文件齐全，哈希与清单一致",
);
const V2: (&str, &str, &str) = (
    "V2",
    "signatures (manifest, freeze checkpoint, co-signatures)",
    "签名（清单、冻结检查点、联署）",
);
const V3: (&str, &str, &str) = (
    "V3",
    "input root recomputed from policy, schools, teachers, applicants",
    "由公开输入重算输入根",
);
const V4: (&str, &str, &str) = (
    "V4",
    "freeze checkpoint counts per school, track and category",
    "冻结检查点的计数",
);
const V5: (&str, &str, &str) = (
    "V5",
    "every commitment matches its reveal, none missing",
    "每份承诺与揭示一致，无缺失",
);
const V6: (&str, &str, &str) = (
    "V6",
    "beacon recorded (value and source)",
    "公共信标已记录（值与来源）",
);
const V7: (&str, &str, &str) = (
    "V7",
    "master seed re-derived from shares, beacon and input root",
    "由份额、信标与输入根重算主种子",
);
const V8: (&str, &str, &str) = (
    "V8",
    "every lottery number, placement, waitlist, points total, class list and quota re-computed",
    "重算全部摇号号码、录取、候补、积分、分班与指标分配",
);
const V9: (&str, &str, &str) = ("V9", "results root", "结果根");
const V10: (&str, &str, &str) = (
    "V10",
    "ceremony log: hash chain, and its entries agree with the bundle",
    "仪式日志：哈希链，且各条目与数据包一致",
);
const V11: (&str, &str, &str) = (
    "V11",
    "supplements: refills and late arrivals re-computed, chained to the manifest",
    "补录：递补与随到随入重算，与清单链接",
);

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A signed document file, split.
struct Signed {
    doc: Value,
    /// JCS bytes of the document (what the signatures cover).
    bytes: Vec<u8>,
    sigs: Vec<Result<SignatureEntry, String>>,
    /// Is the whole file in canonical form?
    canonical: bool,
}

/// Splits a signed file `{"<kind>": doc, "signatures": [...]}`.
fn signed_parts(raw: &[u8], kind: &str) -> Result<Signed, String> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| e.to_string())?;
    let doc = v
        .get(kind)
        .cloned()
        .ok_or_else(|| format!("no {kind:?} object"))?;
    if let Some(extra) = v
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != kind && *k != "signatures"))
    {
        return Err(format!(
            "unexpected top-level field {extra:?} (outside what the signatures cover)"
        ));
    }
    let sigs = v
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| "no signatures array".to_string())?
        .iter()
        .map(signature_entry)
        .collect();
    let canonical = manifest::jcs(&v).ok().as_deref() == Some(raw);
    let bytes = manifest::jcs(&doc).map_err(|e| e.to_string())?;
    Ok(Signed {
        doc,
        bytes,
        sigs,
        canonical,
    })
}

/// A signature entry with exactly the fields `signer`, `public_key`, `signature`.
fn signature_entry(v: &Value) -> Result<SignatureEntry, String> {
    if let Some(extra) = v.as_object().and_then(|o| {
        o.keys()
            .find(|k| !matches!(k.as_str(), "signer" | "public_key" | "signature"))
    }) {
        return Err(format!("unexpected field {extra:?} in a signature entry"));
    }
    SignatureEntry::from_json(v)
}

fn signer(e: &SignatureEntry, role: String) -> Signer {
    Signer {
        name: e.signer.clone(),
        fingerprint: manifest::fingerprint(&e.public_key),
        public_key: hex::encode(e.public_key),
        role,
    }
}

/// Location of a parse error in an input file (with the record id of the line when known).
fn record_error_location(e: &RecordError, files: &dyn Source) -> Location {
    let with_record = |file: &str, line: usize| {
        let mut loc = Location::file(file).line(line);
        let bytes = files.load(file).ok().flatten().unwrap_or_default();
        if line > 1
            && let Some(text) = bytes.split(|c| *c == b'\n').nth(line - 1)
        {
            let id = String::from_utf8_lossy(text.split(|c| *c == b',').next().unwrap_or(&[]))
                .into_owned();
            if !id.is_empty() {
                loc = loc.record(id);
            }
        }
        loc
    };
    match e {
        RecordError::Field {
            file, line, column, ..
        } => with_record(file, *line).field(*column),
        RecordError::Line { file, line, .. } => with_record(file, *line),
        RecordError::Policy(_) => Location::file("policy.toml"),
    }
}

/// Verifies a bundle. `Err` only when the bundle is unusable (missing or unparsable core files,
/// unknown format or protocol version).
pub fn verify(files: &dyn Source) -> Result<Report, Unusable> {
    verify_with_progress(files, &mut |_| {})
}

/// As [`verify`], calling `progress` as each stage starts.
pub fn verify_with_progress(
    files: &dyn Source,
    progress: &mut dyn FnMut(Stage),
) -> Result<Report, Unusable> {
    let (report, replay) = verify_replaying(files, progress)?;
    // The round and the replay (at a million applicants, about a gigabyte in millions of
    // allocations) are freed on a pool thread: the report does not wait for it.
    rayon::spawn(move || drop(replay));
    Ok(report)
}

/// The draw as a verification replayed it (V8): the round read from the bundle's published
/// inputs, the master seed re-derived (V7) and the outcome of the draw.
pub struct Replay {
    /// The frozen round of the published inputs.
    pub round: FrozenRound,
    /// The master seed re-derived from the reveals, the beacon and the input root.
    pub seed: Digest,
    /// The replayed draw.
    pub outcome: Outcome,
}

/// As [`verify_with_progress`], also handing back the replayed draw when there was one, so
/// that whoever goes on from a verified bundle (a supplement, PROTOCOL.md §11) neither reads
/// the round nor draws it a second time. `None` when the draw could not be replayed (no seed,
/// inputs that do not parse, a draw refused); the report says why.
pub fn verify_replaying(
    files: &dyn Source,
    progress: &mut dyn FnMut(Stage),
) -> Result<(Report, Option<Replay>), Unusable> {
    let mut names = files.names();
    names.sort_unstable();
    let mut c = Ctx {
        files,
        names,
        changed: BTreeSet::new(),
        checks: Vec::new(),
    };
    let mut report = Report::default();
    progress(Stage::Inventory);

    // V1 — manifest and file inventory.
    let man_raw = c
        .load(MANIFEST_FILE)?
        .ok_or_else(|| Unusable::Missing(MANIFEST_FILE.into()))?;
    let m = signed_parts(&man_raw, "manifest").map_err(|reason| Unusable::Parse {
        file: MANIFEST_FILE.into(),
        reason,
    })?;
    let man = &m.doc;
    if s(man, "format") != FORMAT || s(man, "protocol") != PROTOCOL {
        return Err(Unusable::Version {
            file: MANIFEST_FILE.into(),
            reason: format!(
                "unknown format/protocol {:?}/{:?}; this verifier implements {FORMAT} / {PROTOCOL} only",
                s(man, "format"),
                s(man, "protocol")
            ),
        });
    }
    let domain = Domain::parse(s(man, "domain")).ok_or_else(|| Unusable::Parse {
        file: MANIFEST_FILE.into(),
        reason: format!(
            "domain must be real or rehearsal, found {:?}",
            s(man, "domain")
        ),
    })?;
    report.domain = Some(domain);
    report.round_id = s(man, "round_id").to_string();
    let listed: Vec<(String, String, Option<u64>)> = man
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| Unusable::Parse {
            file: MANIFEST_FILE.into(),
            reason: "no files list".into(),
        })?
        .iter()
        .map(|f| {
            (
                s(f, "name").to_string(),
                s(f, "sha256").to_string(),
                f.get("bytes").and_then(Value::as_u64),
            )
        })
        .collect();
    let missing: Vec<&str> = listed
        .iter()
        .map(|(n, _, _)| n.as_str())
        .filter(|n| !c.has(n))
        .collect();
    if !missing.is_empty() {
        return Err(Unusable::Missing(format!(
            "{} (listed in manifest.json, absent from the bundle)",
            missing.join(", ")
        )));
    }
    for required in INPUTS
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
    // Every listed file but the large ones is read for this stage and let go of at its end.
    // `applicants.csv` is read in pieces, parsed and hashed as they come; the result files are
    // read in pieces too, never held: beside the replay for their hashes and root, after it to
    // compare them with the replay.
    progress(Stage::InputRoot);
    let in_pieces = |n: &str| crate::results::RESULT_FILES.contains(&n) || n == APPLICANTS;
    let held: Vec<Cow<'_, [u8]>> = {
        use rayon::prelude::*;
        listed
            .par_iter()
            .map(|(n, _, _)| match in_pieces(n) {
                true => Ok(Cow::Borrowed(&[][..])),
                false => c.load(n).map(Option::unwrap_or_default),
            })
            .collect::<Result<_, _>>()?
    };
    let at = |n: &str| listed.iter().position(|(l, _, _)| l == n);
    let get = |n: &str| -> &[u8] { at(n).map_or(&[], |k| &held[k]) };
    // Hash every held file, and read the freeze checkpoint and check its signatures (V2),
    // while the inputs parse.
    let checkpoint = || {
        let cp = signed_parts(&c.get("checkpoint.json"), "checkpoint");
        let checked: Vec<Result<(), String>> = cp.as_ref().map_or(Vec::new(), |cp| {
            let check = |e: &Result<SignatureEntry, String>| {
                let e = e.as_ref().map_err(Clone::clone)?;
                manifest::verify(domain, "checkpoint", &cp.bytes, e).map_err(|x| x.to_string())
            };
            cp.sigs.iter().map(check).collect()
        });
        (cp, checked)
    };
    let ((mut hashes, (cp, cp_checked)), inputs) = rayon::join(
        || {
            use rayon::prelude::*;
            let hashes = || {
                held.par_iter()
                    .zip(&listed)
                    .map(|(b, (n, _, _))| (!in_pieces(n)).then(|| (sha256(b), b.len() as u64)))
                    .collect::<Vec<_>>()
            };
            rayon::join(hashes, checkpoint)
        },
        || {
            read_inputs(
                &c,
                get("policy.toml"),
                get("schools.csv"),
                get("teachers.csv"),
            )
        },
    );
    let (parsed, applicants_read) = inputs?;
    if let Some(k) = at(APPLICANTS) {
        hashes[k] = Some((applicants_read.sha256, applicants_read.bytes));
    }
    drop(held);
    // The files found to differ from the manifest so far (the result files' are known after
    // the replay, when V1 is reported).
    let v1 = PendingV1 {
        read: hashes
            .into_iter()
            .map(|h| h.map(|(sha256, bytes)| Hashed { sha256, bytes }))
            .collect(),
        listed,
        canonical: m.canonical,
    };
    v1_findings(&mut c, &v1.listed, &v1.read, v1.canonical);

    // V2 — signatures (manifest, checkpoint, co-signatures).
    let mut v2 = First::default();
    if m.sigs.is_empty() {
        v2.note(Finding::msg(
            Location::file(MANIFEST_FILE).field("signatures"),
            "manifest.json: no signatures",
        ));
    }
    for (k, e) in m.sigs.iter().enumerate() {
        match e {
            Err(r) => v2.note(Finding::msg(
                Location::file(MANIFEST_FILE).field(format!("signatures[{k}]")),
                format!("manifest.json: signatures[{k}]: {r}"),
            )),
            Ok(e) => match manifest::verify(domain, "manifest", &m.bytes, e) {
                Ok(()) => report.signers.push(signer(e, "manifest".into())),
                Err(err) => v2.note(Finding::msg(
                    Location::file(MANIFEST_FILE)
                        .record(&e.signer)
                        .field("signature"),
                    format!("manifest.json: signature of {}: {err}", e.signer),
                )),
            },
        }
    }
    let cp = match cp {
        Ok(cp) => Some(cp),
        Err(reason) => {
            v2.note(c.unreadable(Location::file("checkpoint.json"), &reason)?);
            None
        }
    };
    if let Some(cp) = &cp {
        if !cp.canonical {
            v2.note(Finding::msg(
                Location::file("checkpoint.json"),
                "checkpoint.json: not in canonical JSON form",
            ));
        }
        if cp.sigs.is_empty() {
            v2.note(Finding::msg(
                Location::file("checkpoint.json").field("signatures"),
                "checkpoint.json: no signatures",
            ));
        }
        for (k, r) in cp_checked.iter().enumerate() {
            if let Err(err) = r {
                v2.note(Finding::msg(
                    Location::file("checkpoint.json").field(format!("signatures[{k}]")),
                    format!("checkpoint.json: signatures[{k}]: {err}"),
                ));
            }
        }
        // Signature entries' signer names are labels outside the signed bytes; the checkpoint's
        // are bound by the manifest's checkpoint_hash, so a key that signed both must carry the
        // same name in both.
        for (k, e) in m.sigs.iter().enumerate() {
            if let Ok(e) = e
                && let Some(Ok(c)) = cp
                    .sigs
                    .iter()
                    .find(|c| matches!(c, Ok(c) if c.public_key == e.public_key))
                && c.signer != e.signer
            {
                v2.note(Finding::msg(
                    Location::file(MANIFEST_FILE)
                        .field(format!("signatures[{k}].signer"))
                        .values(&c.signer, &e.signer),
                    format!(
                        "manifest.json, field signatures[{k}].signer: expected {:?} (the same key signed the freeze checkpoint under that name), found {:?}",
                        c.signer, e.signer
                    ),
                ));
            }
        }
        // The bureau signs both: the freeze checkpoint (before any randomness) and the manifest.
        if let (Some(Ok(a)), Some(Ok(b))) = (cp.sigs.first(), m.sigs.first())
            && a.public_key != b.public_key
        {
            v2.note(Finding::msg(
                Location::file(MANIFEST_FILE).field("signatures[0].public_key").values(
                    manifest::fingerprint(&a.public_key),
                    manifest::fingerprint(&b.public_key),
                ),
                format!(
                    "manifest.json: signed by key {} but the freeze checkpoint by key {} — the manifest was re-signed by another key",
                    manifest::fingerprint(&b.public_key),
                    manifest::fingerprint(&a.public_key)
                ),
            ));
        }
    }
    for name in c.names.iter().filter(|n| n.starts_with("cosign-")) {
        let bytes = c.get(name);
        let parsed = serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                let inner = v
                    .get("cosignature")
                    .cloned()
                    .ok_or_else(|| "no cosignature object".to_string())?;
                if v.as_object().is_some_and(|o| o.len() != 1) {
                    return Err("unexpected top-level field besides \"cosignature\"".into());
                }
                let e = signature_entry(&inner)?;
                let canonical = manifest::jcs(&v).ok().as_deref() == Some(&*bytes);
                Ok((e, canonical))
            });
        match parsed {
            Err(r) => v2.note(Finding::msg(
                Location::file(name),
                format!("{name}: not a valid co-signature: {r}"),
            )),
            Ok((e, _)) if *name != format!("cosign-{}.json", e.signer) => v2.note(Finding::msg(
                Location::file(name)
                    .field("signer")
                    .values(name.trim_start_matches("cosign-").trim_end_matches(".json"), &e.signer),
                format!(
                    "{name}: signed as {:?}, but the file name says otherwise (a co-signature is published as cosign-<signer>.json)",
                    e.signer
                ),
            )),
            Ok((e, canonical)) => match manifest::verify(domain, "manifest", &m.bytes, &e) {
                Ok(()) if canonical => {
                    report.signers.push(signer(&e, format!("cosign ({name})")));
                }
                Ok(()) => v2.note(Finding::msg(
                    Location::file(name),
                    format!("{name}: not in canonical JSON form"),
                )),
                Err(err) => v2.note(Finding::msg(
                    Location::file(name).record(&e.signer).field("signature"),
                    format!(
                        "{name}: the co-signature of {} does not verify over this manifest: {err}",
                        e.signer
                    ),
                )),
            },
        }
    }
    c.push(V2.0, V2.1, V2.2, v2.0);

    // V3 — input root (hashed above).
    let round = match parsed {
        Ok(r) => Some(r),
        Err(e) => {
            let loc = record_error_location(&e, files);
            let reason = e.to_string();
            if INPUTS.iter().any(|f| c.changed.contains(*f)) && !c.changed.contains(&loc.file) {
                // The error shows in a file that is intact, caused by one that changed.
                let changed: Vec<&str> = INPUTS
                    .into_iter()
                    .filter(|f| c.changed.contains(*f))
                    .collect();
                let f = Finding::msg(
                    loc,
                    format!(
                        "{reason} (after {} changed; its SHA-256 differs from the manifest)",
                        changed.join(", ")
                    ),
                );
                c.push(V3.0, V3.1, V3.2, Some(f));
            } else {
                let f = c.unreadable(loc, &reason)?;
                c.push(V3.0, V3.1, V3.2, Some(f));
            }
            None
        }
    };
    let Some(round) = round else {
        for v in [V4, V5, V6, V7, V8, V9] {
            c.skip(v.0, v.1, v.2, "the published inputs cannot be read");
        }
        v1.report(&mut c, &mut report, domain, None)?;
        v10(&mut c, domain, man)?;
        v11(&mut c, None, None, None);
        return Ok((finish(c, report, None), None));
    };
    let (round, (root, size)) = round;
    report.applicants = round.applicants.len() as u64;
    report.schools = round.schools.len() as u64;
    report.input_root = root.to_hex();
    let mut v3 = First::default();
    let inputs_note = " (recomputed from policy.toml, schools.csv, teachers.csv, applicants.csv)";
    let num = |v: &Value, k: &str| {
        v.get(k)
            .map(|x| x.as_u64().map_or_else(|| x.to_string(), |n| n.to_string()))
            .unwrap_or_default()
    };
    let mut claims = vec![
        (
            MANIFEST_FILE,
            "input_root",
            s(man, "input_root").to_string(),
            root.to_hex(),
        ),
        (
            MANIFEST_FILE,
            "tree_size",
            num(man, "tree_size"),
            size.to_string(),
        ),
        (
            MANIFEST_FILE,
            "policy_hash",
            s(man, "policy_hash").to_string(),
            round.policy_hash().to_hex(),
        ),
        (
            MANIFEST_FILE,
            "round_id",
            report.round_id.clone(),
            round.policy.round.id.clone(),
        ),
        (
            MANIFEST_FILE,
            "domain",
            domain.as_str().to_string(),
            round.domain().as_str().to_string(),
        ),
        (
            MANIFEST_FILE,
            "checkpoint_hash",
            s(man, "checkpoint_hash").to_string(),
            sha256(&c.get("checkpoint.json")).to_hex(),
        ),
    ];
    if let Some(cp) = &cp {
        claims.push((
            "checkpoint.json",
            "input_root",
            s(&cp.doc, "input_root").to_string(),
            root.to_hex(),
        ));
        claims.push((
            "checkpoint.json",
            "tree_size",
            num(&cp.doc, "tree_size"),
            size.to_string(),
        ));
        claims.push((
            "checkpoint.json",
            "domain",
            s(&cp.doc, "domain").to_string(),
            round.domain().as_str().to_string(),
        ));
    }
    for (file, field, found, expected) in claims {
        if found != expected {
            v3.note(Finding::at(
                Location::file(file).field(field).values(expected, found),
                inputs_note,
            ));
        }
    }
    c.push(V3.0, V3.1, V3.2, v3.0);

    // V4 — checkpoint counts.
    match &cp {
        None => c.skip(V4.0, V4.1, V4.2, "checkpoint.json cannot be read"),
        Some(cp) => {
            let expected_cp = bundle::checkpoint_with_root(&round, &root, size);
            let f = (expected_cp != cp.doc).then(|| {
                let loc = first_json_difference("checkpoint.json", "", &expected_cp, &cp.doc);
                Finding::at(loc, " (recomputed from the inputs)")
            });
            c.push(V4.0, V4.1, V4.2, f);
        }
    }

    // V5 — commitments and reveals; V6 — beacon.
    progress(Stage::Seed);
    let ceremony = read_ceremony(&c, &round, &root)?;
    let seed = match ceremony {
        Err(f) => {
            c.push(V5.0, V5.1, V5.2, Some(f));
            c.skip(V6.0, V6.1, V6.2, "ceremony files cannot be read");
            None
        }
        Ok((ceremony, v5)) => {
            let seed = if v5.is_none() {
                bundle::seed_for(&round, &root, size, &ceremony).ok()
            } else {
                None
            };
            c.push(V5.0, V5.1, V5.2, v5);
            let v6 = ceremony.beacon.source.trim().is_empty().then(|| {
                Finding::at(
                    Location::file("beacon.json").field("source"),
                    ": the source is empty (a beacon must say where its value comes from)",
                )
            });
            c.push(V6.0, V6.1, V6.2, v6);
            seed
        }
    };

    // V7 — seed.
    match seed {
        None => c.skip(V7.0, V7.1, V7.2, "no seed: the commitments do not check"),
        Some(seed) => {
            let found = s(man, "seed");
            let f = (seed.to_hex() != found).then(|| {
                let file = ["beacon.json", "reveals.json"]
                    .into_iter()
                    .find(|f| c.changed.contains(*f))
                    .unwrap_or(MANIFEST_FILE);
                let mut loc = Location::file(MANIFEST_FILE)
                    .field("seed")
                    .values(seed.to_hex(), found);
                let note = format!(
                    " (re-derived from reveals.json, beacon.json and the input root{})",
                    if file == MANIFEST_FILE {
                        String::new()
                    } else {
                        format!("; {file} differs from the manifest")
                    }
                );
                let mut f = Finding::at(loc.clone(), &note);
                loc.file = file.to_string();
                if file != MANIFEST_FILE {
                    loc.field = None;
                }
                f.loc = loc;
                f
            });
            c.push(V7.0, V7.1, V7.2, f);
        }
    }
    report.seed = seed.map(|d| d.to_hex()).unwrap_or_default();

    // V8 — replay the draw; V9 — results root.
    let mut published: Option<[Hashed; 5]> = None;
    let mut rendered: Option<Vec<(&str, String)>> = None;
    let mut all_reproduced = false;
    let mut replayed = None;
    match seed {
        None => {
            c.skip(V8.0, V8.1, V8.2, "no seed");
            c.skip(V9.0, V9.1, V9.2, "no seed");
        }
        Some(seed) => {
            progress(Stage::Replay);
            // While the draw is replayed, the published result files are read in pieces and
            // hashed (V1), and their root: it stands for the replay's when every file is
            // byte-identical to the replay.
            let mut open = open_results(&c)?;
            let (replay, read_results) = rayon::join(
                || crate::draw::draw(&round, &seed),
                || crate::results::read_published(domain, readers(&mut open)),
            );
            let got = read_results.map_err(read_failed)?;
            let published_root = got.root;
            published = Some(got.files);
            // Then they are read again and compared with the replay (a source that reads files
            // refuses one that changed in between).
            let reproduced = match &replay {
                Err(_) => false,
                Ok(o) => {
                    let mut open = open_results(&c)?;
                    crate::results::reproduces(&round, o, readers(&mut open))
                        .map_err(read_failed)?
                }
            };
            match replay {
                Err(e) => {
                    let f = Finding::msg(
                        Location::file("policy.toml"),
                        format!("the draw cannot be replayed: {e}"),
                    );
                    c.push(V8.0, V8.1, V8.2, Some(f));
                    c.skip(V9.0, V9.1, V9.2, "no replay");
                }
                Ok(outcome) => {
                    report.placed = outcome
                        .school
                        .iter()
                        .filter(|s| **s != crate::mechanism::UNPLACED)
                        .count() as u64;
                    // Every result file reproduces byte for byte, or the replay is rendered to
                    // find the first difference.
                    all_reproduced = reproduced;
                    let mut v8 = First::default();
                    if !reproduced {
                        let expected = crate::results::render(&round, &outcome);
                        let inputs_changed = INPUTS.iter().any(|f| c.changed.contains(*f));
                        for (name, text) in &expected {
                            if let Some(loc) =
                                first_line_location(name, text.as_bytes(), &c.get(name))
                            {
                                let note = if inputs_changed {
                                    " (replayed from published inputs that differ from the signed ones, see V3)"
                                } else {
                                    ""
                                };
                                v8.note(Finding::at(loc, note));
                                break;
                            }
                        }
                        rendered = Some(expected);
                    }
                    // No finding means every file compared equal byte for byte
                    // (`first_line_location` is `None` only then).
                    let identical = v8.0.is_none();
                    c.push(V8.0, V8.1, V8.2, v8.0);
                    progress(Stage::ResultsRoot);
                    let (rr, rs) = match published_root {
                        Some(r) if identical => r,
                        _ => {
                            // The replay's files (rendered above whenever they differ; a file
                            // that reproduces is valid UTF-8, so its root is known anyway).
                            let expected = rendered
                                .get_or_insert_with(|| crate::results::render(&round, &outcome));
                            let pairs: Vec<(&str, &str)> =
                                expected.iter().map(|(n, t)| (*n, t.as_str())).collect();
                            crate::results::results_root(domain, &pairs)
                        }
                    };
                    replayed = Some(outcome);
                    report.results_root = rr.to_hex();
                    let mut v9 = First::default();
                    if rr.to_hex() != s(man, "results_root") {
                        v9.note(Finding::at(
                            Location::file(MANIFEST_FILE)
                                .field("results_root")
                                .values(rr.to_hex(), s(man, "results_root")),
                            " (recomputed from the replayed result files)",
                        ));
                    }
                    if Some(rs) != man.get("results_size").and_then(Value::as_u64) {
                        v9.note(Finding::at(
                            Location::file(MANIFEST_FILE)
                                .field("results_size")
                                .values(rs.to_string(), num(man, "results_size")),
                            "",
                        ));
                    }
                    c.push(V9.0, V9.1, V9.2, v9.0);
                }
            }
        }
    }

    let v1_first = v1.report(&mut c, &mut report, domain, published)?;

    v10(&mut c, domain, man)?;
    let bureau = m
        .sigs
        .first()
        .and_then(|e| e.as_ref().ok())
        .map(|e| e.public_key);
    v11(&mut c, Some(&round), replayed.as_ref(), bureau);
    let mut report = finish(c, report, Some(&round));
    if let Some(f) = v1_first {
        // A result file whose hash differs but which reproduces byte for byte: the manifest's
        // entry is what changed.
        let file = f.loc.file.as_str();
        let reproduces = if all_reproduced {
            crate::results::RESULT_FILES.contains(&file)
        } else {
            rendered
                .as_ref()
                .and_then(|e| e.iter().find(|(n, _)| *n == file))
                .is_some_and(|(_, text)| {
                    files
                        .load(file)
                        .ok()
                        .flatten()
                        .is_some_and(|b| text.as_bytes() == &*b)
                })
        };
        if reproduces
            && let Some(v) = report.checks.first_mut()
            && let Status::Fail(msg) = &mut v.status
        {
            msg.push_str(&format!(
                " — the file reproduces byte for byte from the replay, so manifest.json's entry for {file} is what changed"
            ));
            v.location = Some(Location::file(MANIFEST_FILE).record(file).field("sha256"));
        }
    }
    // The rendered files (when the replay differs) are freed on a pool thread.
    rayon::spawn(move || drop(rendered));
    let replay = seed.zip(replayed).map(|(seed, outcome)| Replay {
        round,
        seed,
        outcome,
    });
    Ok((report, replay))
}

/// V1's findings in the manifest's order: every listed file whose SHA-256 or length as `read`
/// (`None`: not read yet, skipped) differs from its entry, then every file of the bundle that
/// is not listed. The differing files are marked as changed.
fn v1_findings(
    c: &mut Ctx<'_>,
    listed: &[(String, String, Option<u64>)],
    read: &[Option<Hashed>],
    canonical: bool,
) -> Vec<Finding> {
    let mut v1: Vec<Finding> = Vec::new();
    if !canonical {
        v1.push(Finding::msg(
            Location::file(MANIFEST_FILE),
            "manifest.json: the file is not in canonical JSON form (RFC 8785)",
        ));
    }
    for ((name, hash, bytes), h) in listed.iter().zip(read) {
        let Some(h) = h else { continue };
        let (found, len) = (h.sha256.to_hex(), h.bytes);
        if found != *hash {
            c.changed.insert(name.clone());
            v1.push(Finding::msg(
                Location::file(name).field("sha256").values(hash, &found),
                format!(
                    "{name}: SHA-256 differs from the manifest (expected {hash}, found {found})"
                ),
            ));
        } else if Some(len) != *bytes {
            c.changed.insert(name.clone());
            let e = bytes.map(|b| b.to_string()).unwrap_or_default();
            v1.push(Finding::msg(
                Location::file(MANIFEST_FILE)
                    .record(name)
                    .field("bytes")
                    .values(&e, len.to_string()),
                format!(
                    "manifest.json: files[{name}].bytes: expected {e}, the file has {len} bytes"
                ),
            ));
        }
    }
    for name in &c.names {
        let cosign = name.starts_with("cosign-") && name.ends_with(".json");
        // Supplement files are covered by their own manifests (V11).
        let supplement = crate::supplement::is_supplement_file(name);
        if name != MANIFEST_FILE
            && !cosign
            && !supplement
            && !listed.iter().any(|(n, _, _)| n == name)
        {
            v1.push(Finding::msg(
                Location::file(name),
                format!("{name}: file is not listed in the manifest (an extra file)"),
            ));
        }
    }
    v1
}

/// V1 before the result files are read: the manifest's list, each listed file's hash and length
/// as read in the first stage (`None` for the result files), whether the manifest is canonical.
struct PendingV1 {
    listed: Vec<(String, String, Option<u64>)>,
    read: Vec<Option<Hashed>>,
    canonical: bool,
}

impl PendingV1 {
    /// Reports V1, first of the checks, once the result files have been read (beside the
    /// replay, `published`; without a replay they are read for it now); returns its first
    /// finding.
    fn report(
        mut self,
        c: &mut Ctx<'_>,
        report: &mut Report,
        domain: Domain,
        published: Option<[Hashed; 5]>,
    ) -> Result<Option<Finding>, Unusable> {
        let published = match published {
            Some(h) => h,
            None => {
                let mut open = open_results(c)?;
                crate::results::read_published(domain, readers(&mut open))
                    .map_err(read_failed)?
                    .files
            }
        };
        for (name, h) in crate::results::RESULT_FILES.iter().zip(published) {
            for (k, (n, _, _)) in self.listed.iter().enumerate() {
                if n == name {
                    self.read[k] = Some(h);
                }
            }
        }
        let v1 = v1_findings(c, &self.listed, &self.read, self.canonical);
        report.changed_files = c.changed.iter().cloned().collect();
        let v1_first = v1.first().cloned();
        let v1_result = v1.first().cloned().map(|mut f| {
            if v1.len() > 1 {
                let others: Vec<&str> = v1[1..].iter().map(|f| f.loc.file.as_str()).collect();
                f.msg
                    .push_str(&format!("; {} more: {}", others.len(), others.join(", ")));
            }
            f
        });
        c.push(V1.0, V1.1, V1.2, v1_result);
        c.checks.rotate_right(1);
        Ok(v1_first)
    }
}

/// The name of the applicant list, the one input file read in pieces.
const APPLICANTS: &str = "applicants.csv";

/// A parsed round with its input root and tree size, or the inputs' first error.
type ParsedInputs = Result<(FrozenRound, (Digest, u64)), RecordError>;

/// Parses the input files (the three small ones given, `applicants.csv` read in pieces and
/// parsed as it is read) and computes the input root beside the parse: the round, or the first
/// error in the order of [`FrozenRound::parse`]; and `applicants.csv`'s hash and length, read to
/// its end whatever the other files hold. Unusable when `applicants.csv` cannot be read.
fn read_inputs(
    c: &Ctx<'_>,
    policy: &[u8],
    schools: &[u8],
    teachers: &[u8],
) -> Result<(ParsedInputs, Hashed), Unusable> {
    let front = || -> Result<_, RecordError> {
        let pol = crate::policy::Policy::parse(policy)?;
        let sch = crate::round::parse_schools(schools)?;
        let tea = crate::round::parse_teachers(teachers, &sch)?;
        Ok((pol, sch, tea))
    };
    let unusable = |reason: String| Unusable::Parse {
        file: APPLICANTS.to_string(),
        reason,
    };
    let mut src = c
        .files
        .open(APPLICANTS)
        .map_err(unusable)?
        .unwrap_or_else(|| Box::new(std::io::empty()));
    let mut read = |each: &mut (dyn FnMut(&[u8]) + Send)| {
        crate::lines::read_lines(&mut *src, crate::lines::PIECE, |piece| {
            each(piece);
            true
        })
        .map_err(|e| unusable(e.to_string()))?
        .ok_or_else(|| unusable("not read to its end".into()))
    };
    match front() {
        Err(e) => Ok((Err(e), read(&mut |_| {})?)),
        Ok((pol, sch, tea)) => {
            let mut parser = crate::round::ApplicantsParser::new(&pol, &sch).with_input_root(
                pol.domain(),
                policy,
                schools,
                teachers,
            );
            let hashed = read(&mut |piece| parser.feed(piece))?;
            let parsed = parser
                .finish()
                .map(|(app, root)| (app, root.unwrap_or_default()));
            let parsed = parsed.map(|(applicants, root)| {
                let round = FrozenRound {
                    policy_bytes: policy.to_vec(),
                    policy: pol,
                    schools: sch,
                    teachers: tea,
                    applicants,
                };
                (round, root)
            });
            Ok((parsed, hashed))
        }
    }
}

/// The five result files opened to be read in pieces (an absent one reads as empty: V1 has
/// found it missing already).
fn open_results<'a>(c: &Ctx<'a>) -> Result<[Box<dyn std::io::Read + Send + 'a>; 5], Unusable> {
    let [a, b, d, e, f] = crate::results::RESULT_FILES.map(|n| {
        c.files
            .open(n)
            .map(|r| r.unwrap_or_else(|| Box::new(std::io::empty())))
            .map_err(|reason| Unusable::Parse {
                file: n.to_string(),
                reason,
            })
    });
    Ok([a?, b?, d?, e?, f?])
}

/// The readers of [`open_results`] as the result functions take them.
fn readers<'b>(
    open: &'b mut [Box<dyn std::io::Read + Send + '_>; 5],
) -> crate::results::Readers<'b> {
    open.each_mut()
        .map(|r| &mut **r as &mut (dyn std::io::Read + Send))
}

/// A result file that could not be read makes the bundle unusable.
fn read_failed(e: crate::results::ReadError) -> Unusable {
    Unusable::Parse {
        file: e.file.to_string(),
        reason: e.source.to_string(),
    }
}

/// Reads commitments, reveals and beacon; `Err(finding)` when one cannot be read (after a change),
/// `Ok((ceremony, V5 finding))` otherwise.
#[allow(clippy::type_complexity)]
fn read_ceremony(
    c: &Ctx<'_>,
    round: &FrozenRound,
    root: &Digest,
) -> Result<Result<(bundle::Ceremony, Option<Finding>), Finding>, Unusable> {
    let json = |name: &str| -> Result<Result<Value, Finding>, Unusable> {
        match serde_json::from_slice::<Value>(&c.get(name)) {
            Ok(v) => Ok(Ok(v)),
            Err(e) => Ok(Err(c.unreadable(Location::file(name), &e.to_string())?)),
        }
    };
    let com = match json("commitments.json")? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let rev = match json("reveals.json")? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let beacon_v = match json("beacon.json")? {
        Ok(v) => v,
        Err(f) => return Ok(Err(f)),
    };
    let beacon = match Beacon::from_json(&beacon_v) {
        Ok(b) => b,
        Err(r) => return Ok(Err(c.unreadable(Location::file("beacon.json"), &r)?)),
    };
    let mut v5 = First::default();
    let mut commitments = Vec::new();
    for (k, x) in com
        .get("commitments")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let party = s(x, "party");
        match Digest::from_hex(s(x, "commitment")) {
            Ok(d) => commitments.push(Commitment {
                party: party.to_string(),
                commitment: d,
            }),
            Err(e) => {
                let loc = Location::file("commitments.json")
                    .record(party)
                    .field(format!("commitments[{k}].commitment"));
                return Ok(Err(c.unreadable(loc, &e.to_string())?));
            }
        }
    }
    let mut reveals = Vec::new();
    for (k, x) in rev
        .get("reveals")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let party = s(x, "party");
        match parse_hex_bytes(s(x, "share"))
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
        {
            Some(share) => reveals.push(Reveal {
                party: party.to_string(),
                share,
            }),
            None => {
                let loc = Location::file("reveals.json")
                    .record(party)
                    .field(format!("reveals[{k}].share"));
                return Ok(Err(c.unreadable(loc, "a share must be 64 hex digits")?));
            }
        }
    }
    let rid = &round.policy.round.id;
    if s(&com, "round_id") != rid {
        v5.note(Finding::at(
            Location::file("commitments.json")
                .field("round_id")
                .values(rid, s(&com, "round_id")),
            "",
        ));
    }
    if s(&com, "input_root") != root.to_hex() {
        v5.note(Finding::at(
            Location::file("commitments.json")
                .field("input_root")
                .values(root.to_hex(), s(&com, "input_root")),
            " (recomputed)",
        ));
    }
    if commitments.is_empty() {
        v5.note(Finding::msg(
            Location::file("commitments.json").field("commitments"),
            "commitments.json: no commitments: at least one party must commit",
        ));
    }
    let mut by_party: BTreeMap<&str, &Reveal> = BTreeMap::new();
    for r in &reveals {
        if by_party.insert(r.party.as_str(), r).is_some() {
            v5.note(Finding::msg(
                Location::file("reveals.json").record(&r.party),
                format!("reveals.json: party {} revealed twice", r.party),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    let domain = round.domain();
    for com in &commitments {
        if !seen.insert(com.party.as_str()) {
            v5.note(Finding::msg(
                Location::file("commitments.json").record(&com.party),
                format!("commitments.json: party {} committed twice", com.party),
            ));
            continue;
        }
        match by_party.get(com.party.as_str()) {
            None => v5.note(Finding::msg(
                Location::file("reveals.json").record(&com.party),
                format!(
                    "reveals.json: party {} committed (commitments.json) but its reveal is missing",
                    com.party
                ),
            )),
            Some(r) => {
                let expected = crate::seed::commitment(domain, rid, root, &r.party, &r.share);
                if expected != com.commitment {
                    let loc = if c.changed.contains("reveals.json")
                        && !c.changed.contains("commitments.json")
                    {
                        Location::file("reveals.json")
                            .record(&r.party)
                            .field("share")
                    } else {
                        Location::file("commitments.json")
                            .record(&com.party)
                            .field("commitment")
                            .values(expected.to_hex(), com.commitment.to_hex())
                    };
                    v5.note(Finding::at(
                        loc,
                        " (the revealed share does not match the commitment)",
                    ));
                }
            }
        }
    }
    for r in &reveals {
        if !seen.contains(r.party.as_str()) {
            v5.note(Finding::msg(
                Location::file("commitments.json").record(&r.party),
                format!(
                    "commitments.json: party {} revealed (reveals.json) but its commitment is missing",
                    r.party
                ),
            ));
        }
    }
    Ok(Ok((
        bundle::Ceremony {
            commitments,
            reveals,
            beacon,
        },
        v5.0,
    )))
}

/// V11 — supplements (PROTOCOL.md §11): skipped when the bundle has none.
fn v11(
    c: &mut Ctx<'_>,
    round: Option<&FrozenRound>,
    base: Option<&crate::draw::Outcome>,
    bureau: Option<[u8; 32]>,
) {
    if !c
        .names
        .iter()
        .any(|n| crate::supplement::is_supplement_file(n))
    {
        c.skip(V11.0, V11.1, V11.2, "no supplement in this bundle");
        return;
    }
    let (Some(round), Some(base)) = (round, base) else {
        c.skip(V11.0, V11.1, V11.2, "the main draw could not be replayed");
        return;
    };
    // The supplements and the manifest they chain to (small files).
    let files: Files = c
        .names
        .iter()
        .filter(|n| *n == MANIFEST_FILE || crate::supplement::is_supplement_file(n))
        .map(|n| (n.clone(), c.get(n).into_owned()))
        .collect();
    let check = crate::supplement::verify_all(&files, round, base, bureau.as_ref());
    let f = check.failure.map(|msg| {
        let file = msg.split([':', ',']).next().unwrap_or_default().to_string();
        Finding::msg(Location::file(&file), msg)
    });
    c.push(V11.0, V11.1, V11.2, f);
}

fn v10(c: &mut Ctx<'_>, domain: Domain, man: &Value) -> Result<(), Unusable> {
    match c.load(LOG_FILE)? {
        None => {
            if s(man, "log_head").is_empty() {
                c.skip(V10.0, V10.1, V10.2, "no ceremony log in this bundle");
            } else {
                let f = Finding::msg(
                    Location::file(LOG_FILE),
                    "log.jsonl: manifest.json names a log head but the log is missing",
                );
                c.push(V10.0, V10.1, V10.2, Some(f));
            }
        }
        Some(log) => {
            let f = match crate::log::verify_chain(domain, &log) {
                Ok(head) if head.to_hex() == s(man, "log_head") => {
                    match crate::log::check_entries(&log, &log_facts(c, man)) {
                        Ok(()) => None,
                        Err(crate::log::LogError::Line { line, reason }) => Some(Finding::msg(
                            Location::file(LOG_FILE).line(line),
                            format!("log.jsonl, line {line}: {reason}"),
                        )),
                    }
                }
                Ok(head) => Some(Finding::at(
                    Location::file(MANIFEST_FILE)
                        .field("log_head")
                        .values(head.to_hex(), s(man, "log_head")),
                    " (the head of the chain recomputed from log.jsonl)",
                )),
                Err(crate::log::LogError::Line { line, reason }) => {
                    let loc = Location::file(LOG_FILE).line(line);
                    Some(Finding::msg(
                        loc,
                        format!("log.jsonl, line {line}: {reason}"),
                    ))
                }
            };
            c.push(V10.0, V10.1, V10.2, f);
        }
    }
    Ok(())
}

/// What the log's entries must agree with: the manifest's round, root and seed, the checkpoint's
/// hash and the ceremony files (a file that does not parse names nothing, and V4–V7 report it).
fn log_facts(c: &Ctx<'_>, man: &Value) -> crate::log::Facts {
    let json = |n: &str| serde_json::from_slice::<Value>(&c.get(n)).unwrap_or(Value::Null);
    let pairs = |v: &Value, list: &str, field: &str| -> Vec<(String, String)> {
        v.get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| (s(e, "party").to_string(), s(e, field).to_string()))
            .collect()
    };
    let beacon = json("beacon.json");
    crate::log::Facts {
        round_id: s(man, "round_id").to_string(),
        input_root: s(man, "input_root").to_string(),
        tree_size: man.get("tree_size").and_then(Value::as_u64).unwrap_or(0),
        checkpoint_sha256: sha256(&c.get("checkpoint.json")).to_hex(),
        commitments: pairs(&json("commitments.json"), "commitments", "commitment"),
        reveals: pairs(&json("reveals.json"), "reveals", "share"),
        beacon: ["kind", "source", "value"].map(|k| s(&beacon, k).to_string()),
        seed: s(man, "seed").to_string(),
    }
}

/// Completes the report: when V1 failed on a changed file, names the precise record where a later
/// check found it (or, for inputs, where it can be located).
fn finish(c: Ctx<'_>, mut report: Report, round: Option<&FrozenRound>) -> Report {
    let files = c.files;
    let changed = c.changed;
    let mut checks = c.checks;
    // A manifest whose own signature fails cannot be trusted to say what a file should hash to:
    // the manifest is then what changed.
    let bad_manifest_sig =
        checks
            .iter()
            .find(|k| k.id == "V2")
            .and_then(|k| match (&k.status, &k.location) {
                (Status::Fail(m), Some(l))
                    if l.file == MANIFEST_FILE && l.field.as_deref() == Some("signature") =>
                {
                    Some((m.clone(), l.clone()))
                }
                _ => None,
            });
    if let Some((msg, loc)) = bad_manifest_sig
        && let Some(v) = checks.first_mut()
        && let Status::Fail(m) = &mut v.status
    {
        *m = format!(
            "{m} — but manifest.json's own signature does not verify, so the manifest is what changed: {msg} [V2]"
        );
        v.location = Some(loc);
    }
    let first_changed = checks
        .first()
        .and_then(|v| v.location.clone())
        .filter(|l| l.file != MANIFEST_FILE && changed.contains(&l.file));
    if let Some(hash_loc) = first_changed {
        let file = hash_loc.file.clone();
        let precise = checks
            .iter()
            .skip(1)
            .filter(|k| matches!(k.status, Status::Fail(_)))
            .find_map(|k| {
                k.location
                    .as_ref()
                    .filter(|l| l.file == file)
                    .map(|l| (k.id, l.clone(), k.status.clone()))
            })
            .map(|(id, l, st)| {
                let msg = match st {
                    Status::Fail(m) => m,
                    _ => String::new(),
                };
                (l, format!("{msg} [{id}]"))
            })
            .or_else(|| round.and_then(|r| locate_input_change(files, r, &file)));
        // Else the first consequence a later check saw (e.g. the input root differs).
        let consequence = checks.iter().skip(1).find_map(|k| match &k.status {
            Status::Fail(m) => Some(format!("{m} [{}]", k.id)),
            _ => None,
        });
        if let Some(v) = checks.first_mut()
            && let Status::Fail(m) = &mut v.status
        {
            if let Some((loc, msg)) = precise {
                *m = format!("{m} — first difference: {msg}");
                v.location = Some(loc);
            } else if let Some(msg) = consequence {
                *m = format!("{m} — then: {msg}");
            }
        }
    }
    report.checks = checks;
    report
}

/// Locates a change in an input file that still parses: a line not in the form the engine
/// writes, or (for applicants.csv) an application id that differs from the signed results.csv.
fn locate_input_change(
    files: &dyn Source,
    round: &FrozenRound,
    file: &str,
) -> Option<(Location, String)> {
    let found = files.load(file).ok()??;
    let found = &*found;
    let canonical = match file {
        "schools.csv" => crate::round::write_schools(&round.schools),
        "teachers.csv" => crate::round::write_teachers(&round.teachers),
        "applicants.csv" => crate::round::write_applicants(&round.applicants, &round.schools),
        _ => return None,
    };
    if let Some(loc) = first_line_location(file, canonical.as_bytes(), found) {
        let msg = format!("{} (not in the form the engine writes)", loc.describe());
        return Some((loc, msg));
    }
    if file == "applicants.csv" {
        let results = files.load("results.csv").ok()??;
        for (k, (a, r)) in found
            .split(|c| *c == b'\n')
            .zip(results.split(|c| *c == b'\n'))
            .enumerate()
            .skip(1)
        {
            let id = |l: &[u8]| {
                String::from_utf8_lossy(l.split(|c| *c == b',').next().unwrap_or(&[])).into_owned()
            };
            let (ia, ir) = (id(a), id(r));
            if ia != ir {
                let loc = Location::file(file)
                    .line(k + 1)
                    .record(&ir)
                    .field("application_id")
                    .values(&ir, &ia);
                let msg = format!(
                    "{} (the signed results.csv lists {ir} on this line)",
                    loc.describe()
                );
                return Some((loc, msg));
            }
        }
    }
    None
}

/// Names the first difference between two JSON values: `path` into `file`.
fn first_json_difference(file: &str, path: &str, expected: &Value, found: &Value) -> Location {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (expected, found) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    None => {
                        return Location::file(file)
                            .field(join(k))
                            .values(v.to_string(), "<missing>");
                    }
                    Some(w) if w != v => return first_json_difference(file, &join(k), v, w),
                    _ => {}
                }
            }
            let extra = b
                .keys()
                .find(|k| !a.contains_key(*k))
                .cloned()
                .unwrap_or_default();
            Location::file(file).field(join(&extra)).values(
                "<absent>",
                b.get(&extra).map(Value::to_string).unwrap_or_default(),
            )
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                if v != w {
                    return first_json_difference(file, &format!("{path}[{i}]"), v, w);
                }
            }
            Location::file(file).field(path).values(
                format!("{} entries", a.len()),
                format!("{} entries", b.len()),
            )
        }
        _ => Location::file(file)
            .field(path)
            .values(expected.to_string(), found.to_string()),
    }
}

/// Names the first differing line and field of a CSV file.
pub fn first_line_difference(name: &str, expected: &[u8], found: &[u8]) -> Option<String> {
    first_line_location(name, expected, found).map(|l| l.describe())
}

/// Locates the first differing line and field of a CSV file: the record is the line's
/// `application_id` (or its first column when the file has none).
pub fn first_line_location(name: &str, expected: &[u8], found: &[u8]) -> Option<Location> {
    if expected == found {
        return None;
    }
    let mut el = expected.split(|c| *c == b'\n');
    let mut fl = found.split(|c| *c == b'\n');
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let header: Vec<String> = expected
        .split(|c| *c == b'\n')
        .next()
        .unwrap_or(&[])
        .split(|c| *c == b',')
        .map(text)
        .collect();
    let key = header
        .iter()
        .position(|h| h == "application_id")
        .unwrap_or(0);
    let mut line = 0;
    loop {
        line += 1;
        match (el.next(), fl.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) if a.is_empty() || b.is_empty() => {
                // A line only one side has (restricted CSV has no empty lines).
                let word = |x: &[u8]| {
                    if x.is_empty() {
                        "<no line>".to_string()
                    } else {
                        text(x)
                    }
                };
                return Some(Location::file(name).line(line).values(word(a), word(b)));
            }
            (Some(a), Some(b)) => {
                let ea: Vec<String> = a.split(|c| *c == b',').map(text).collect();
                let fb: Vec<String> = b.split(|c| *c == b',').map(text).collect();
                let mut loc = Location::file(name).line(line);
                if line > 1 {
                    loc = loc.record(ea.get(key).cloned().unwrap_or_default());
                }
                for (k, col) in header.iter().enumerate() {
                    let x = ea.get(k).cloned().unwrap_or_default();
                    let y = fb.get(k).cloned().unwrap_or_else(|| "<missing>".into());
                    if x != y {
                        return Some(loc.field(col).values(x, y));
                    }
                }
                return Some(loc.values(text(a), text(b)));
            }
            (Some(a), None) => {
                return Some(
                    Location::file(name)
                        .line(line)
                        .values(text(a), "<end of file>"),
                );
            }
            (None, Some(b)) => {
                return Some(
                    Location::file(name)
                        .line(line)
                        .values("<end of file>", text(b)),
                );
            }
            (None, None) => return Some(Location::file(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_location_names_record_field_and_values() {
        let e = b"stage,school_id,position,application_id\nlottery,S1,1,A1\nlottery,S1,2,A2\n";
        let f = b"stage,school_id,position,application_id\nlottery,S1,1,A1\nlottery,S2,2,A2\n";
        let loc = first_line_location("waitlists.csv", e, f).expect("differs");
        assert_eq!(loc.line, Some(3));
        assert_eq!(loc.record.as_deref(), Some("A2"));
        assert_eq!(loc.field.as_deref(), Some("school_id"));
        assert_eq!(
            loc.describe(),
            "waitlists.csv, line 3 (record A2), field school_id: expected \"S1\", found \"S2\""
        );
        assert_eq!(first_line_location("x.csv", e, e), None);
    }

    #[test]
    fn line_location_extra_and_missing_lines() {
        let e = b"a,b\n1,2\n";
        let longer = b"a,b\n1,2\n3,4\n";
        let loc = first_line_location("x.csv", e, longer).expect("differs");
        assert_eq!(loc.line, Some(3));
        assert_eq!(loc.expected.as_deref(), Some("<no line>"));
        assert_eq!(loc.found.as_deref(), Some("3,4"));
        let loc = first_line_location("x.csv", longer, e).expect("differs");
        assert_eq!(loc.line, Some(3));
        assert_eq!(loc.found.as_deref(), Some("<no line>"));
        // A missing column.
        let loc = first_line_location("x.csv", b"a,b\n1,2\n", b"a,b\n1\n").expect("differs");
        assert_eq!(loc.field.as_deref(), Some("b"));
        assert_eq!(loc.found.as_deref(), Some("<missing>"));
    }

    #[test]
    fn json_difference_path() {
        let e =
            serde_json::json!({"schools": [{"id": "S1", "seats": 3}, {"id": "S2", "seats": 4}]});
        let f =
            serde_json::json!({"schools": [{"id": "S1", "seats": 3}, {"id": "S2", "seats": 5}]});
        let loc = first_json_difference("checkpoint.json", "", &e, &f);
        assert_eq!(loc.field.as_deref(), Some("schools[1].seats"));
        assert_eq!(loc.expected.as_deref(), Some("4"));
        assert_eq!(loc.found.as_deref(), Some("5"));
    }

    fn manifest_with(format: &str) -> Files {
        let doc = serde_json::json!({"format": format, "protocol": PROTOCOL, "domain": "real", "files": []});
        let file = serde_json::json!({"manifest": doc, "signatures": []});
        let mut files = Files::new();
        files.insert(
            MANIFEST_FILE.into(),
            manifest::jcs(&file).unwrap_or_default(),
        );
        files
    }

    #[test]
    fn unusable_bundles() {
        assert_eq!(
            verify(&Files::new()).err(),
            Some(Unusable::Missing(MANIFEST_FILE.into()))
        );
        assert!(matches!(
            verify(&manifest_with("fairdraw-bundle/9")),
            Err(Unusable::Version { .. })
        ));
        // A current manifest that lists nothing: the required files are named as missing.
        match verify(&manifest_with(FORMAT)) {
            Err(Unusable::Missing(m)) => assert!(m.contains("policy.toml"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut bad = Files::new();
        bad.insert(MANIFEST_FILE.into(), b"{".to_vec());
        assert!(matches!(verify(&bad), Err(Unusable::Parse { .. })));
    }
}
