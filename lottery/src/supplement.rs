//! Supplements: the refill of declined seats (递补) and the placement of late arrivals
//! (随迁子女随到随入) after the main draw (PROTOCOL.md §11).
//!
//! A supplement never changes the main draw's published files. It is a second, smaller round
//! chained to the bundle: its inputs are the previous manifest's hash, the ordered list of
//! declined seats and the late applicants; it has its own commitments, reveals and beacon, so
//! its lottery is drawn from a fresh seed; and it publishes its own signed manifest. Supplements
//! are numbered `s1`, `s2`, …; supplement `k` starts from the placements left by supplement
//! `k−1` (or by the main draw for `s1`).
//!
//! Steps (pure; [`run`]):
//!
//! 1. **Refill** — the declined applicants give up their seats and leave the round. Each seat
//!    given up is a vacancy queued first in, first out. A vacancy at school `s` is offered down
//!    the *refill order* of `s`: the main draw's waitlists of `s` concatenated in stage order
//!    (an applicant listed twice keeps the first place). The first applicant who has not
//!    declined, is not a manual placement and ranks `s` strictly above their current school
//!    (any listed school beats none, or a school not on their list) accepts; the seat they leave
//!    is queued as a new vacancy. No lottery is involved: the order was published by the main
//!    draw. A vacancy whose refill order runs out stays vacant.
//! 2. **Late arrivals** — placed into the public schools' remaining seats (capacity minus
//!    current placements) in the order of a fresh lottery (`late` purpose of the supplement
//!    seed; joint family tickets as in the main draw), each taking the first school on their
//!    own list with a seat left, else the nearest public school with a seat (when every school
//!    and the applicant have coordinates; ties by lower school index), else the first in the
//!    bureau's order (school-id order) — the reallocation mechanism of §6.3.6.
//!
//! Nobody placed by the main draw or an earlier supplement is moved, except by accepting a
//! refill offer that they prefer.

use crate::digest::Digest;
use crate::draw::{Detail, Outcome};
use crate::encoding::Domain;
use crate::mechanism::{self as mech, Instance, UNPLACED};
use crate::merkle;
use crate::round::{ApplicantRef, Applicants, FrozenRound, School, applicant_leaf, file_leaf};
use crate::seed::purpose_key;
use crate::ticket;

/// Header of `<id>-declines.csv`: one declined seat per line, in processing order.
pub const DECLINES_HEADER: &str = "application_id";
/// Header of `<id>-refills.csv`.
pub const REFILLS_HEADER: &str = "seq,school_id,application_id,vacated_school_id";
/// Header of `<id>-late_results.csv`.
pub const LATE_RESULTS_HEADER: &str = "application_id,school_id,lottery_number,ticket,detail";
/// Purpose label of the late-arrival lottery.
pub const LATE_LABEL: &str = "late";

/// The inputs of one supplement.
#[derive(Debug, Clone)]
pub struct Supplement {
    /// `s1`, `s2`, … (the file-name prefix).
    pub id: String,
    /// SHA-256 of the previous manifest file (the main `manifest.json` for `s1`).
    pub previous: Digest,
    /// The exact bytes of `<id>-declines.csv`.
    pub declines_bytes: Vec<u8>,
    /// Declined applicants (indices into the main round's applicants), in processing order.
    pub declines: Vec<u32>,
    /// Late applicants, sorted by id, ids distinct from the main round's.
    pub late: Applicants,
}

/// Why a supplement cannot be built or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupplementError {
    /// A supplement id other than `s1`, `s2`, ….
    #[error("supplement id {0:?}: expected s1, s2, …")]
    BadId(String),
    /// A line of the declines file.
    #[error("{file}, line {line}: {reason}")]
    Declines {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A late applicant's record.
    #[error("{0}")]
    Late(String),
    /// The placement mechanism refused its instance.
    #[error("late arrivals: {0}")]
    Mechanism(String),
}

/// Checks a supplement id: `s` followed by a number 1–999 without leading zeros.
pub fn check_id(id: &str) -> Result<u32, SupplementError> {
    let bad = || SupplementError::BadId(id.to_string());
    let digits = id.strip_prefix('s').ok_or_else(bad)?;
    if digits.is_empty() || digits.len() > 3 || digits.starts_with('0') {
        return Err(bad());
    }
    digits.parse::<u32>().map_err(|_| bad())
}

/// Is `name` a supplement file (`s<k>-…`, PROTOCOL.md §11)?
pub fn is_supplement_file(name: &str) -> bool {
    name.split_once('-')
        .is_some_and(|(prefix, _)| check_id(prefix).is_ok())
}

/// Parses `<id>-declines.csv` against the main round: every id must be a main-round applicant,
/// at most once.
pub fn parse_declines(
    file: &str,
    bytes: &[u8],
    round: &FrozenRound,
) -> Result<Vec<u32>, SupplementError> {
    let err = |line: usize, reason: String| SupplementError::Declines {
        file: file.to_string(),
        line,
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| err(1, "not valid UTF-8".into()))?;
    if !text.ends_with('\n') {
        return Err(err(
            text.lines().count().max(1),
            "the file must end with a line break".into(),
        ));
    }
    let mut lines = text[..text.len() - 1].split('\n');
    if lines.next() != Some(DECLINES_HEADER) {
        return Err(err(
            1,
            format!("header must be exactly {DECLINES_HEADER:?}"),
        ));
    }
    let mut out: Vec<u32> = Vec::new();
    let mut seen = vec![false; round.applicants.len()];
    for (k, id) in lines.enumerate() {
        let line = k + 2;
        let Some(i) = round.applicants.binary_search_id(id).ok() else {
            return Err(err(
                line,
                format!("{id:?} is not an applicant of the round"),
            ));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(err(line, format!("{id:?} is listed twice")));
        }
        out.push(i as u32);
    }
    Ok(out)
}

/// Writes `<id>-declines.csv`.
pub fn write_declines(round: &FrozenRound, declines: &[u32]) -> String {
    let mut s = format!("{DECLINES_HEADER}\n");
    for &i in declines {
        s.push_str(round.applicants.id(i as usize));
        s.push('\n');
    }
    s
}

/// Checks late applicants against the main round: ids unused there.
pub fn check_late(round: &FrozenRound, late: &Applicants) -> Result<(), SupplementError> {
    for a in late.iter() {
        if round.applicant_leaf_index(a.id).is_some() {
            return Err(SupplementError::Late(format!(
                "late applicant {} already has an application in the main round",
                a.id
            )));
        }
        if a.manual.is_some() {
            return Err(SupplementError::Late(format!(
                "late applicant {}: manual placements are made before the main draw",
                a.id
            )));
        }
    }
    Ok(())
}

/// The supplement's input tree: `[previous manifest hash, declines file, late applicants…]`
/// (leaves `enc(tag "leaf/file", "previous-manifest", hash)`, `enc(tag "leaf/file",
/// "<id>-declines.csv", bytes)`, then one applicant leaf per late applicant in id order).
/// Returns (root, size). `schools` are the main round's schools (which the late applicants'
/// choice and category indices point into).
pub fn input_root(domain: Domain, sup: &Supplement, schools: &[School]) -> (Digest, u64) {
    let leaves = input_leaves(domain, sup, schools);
    (merkle::root_from_leaf_hashes(&leaves), leaves.len() as u64)
}

/// Index of the first late applicant's leaf in a supplement's input tree.
pub const LATE_LEAVES_FROM: usize = 2;

/// The leaf hashes of a supplement's input tree ([`input_root`]).
pub fn input_leaves(domain: Domain, sup: &Supplement, schools: &[School]) -> Vec<Digest> {
    let mut leaves = vec![
        merkle::leaf_hash(&file_leaf(domain, "previous-manifest", &sup.previous.0)),
        merkle::leaf_hash(&file_leaf(
            domain,
            &format!("{}-declines.csv", sup.id),
            &sup.declines_bytes,
        )),
    ];
    leaves.extend(
        sup.late
            .iter()
            .map(|a| merkle::leaf_hash(&applicant_leaf(domain, a, schools))),
    );
    leaves
}

/// The round id a supplement's commitments and seed are bound to: `<round id>/<supplement id>`.
pub fn round_id(round: &FrozenRound, sup: &Supplement) -> String {
    format!("{}/{}", round.policy.round.id, sup.id)
}

/// One accepted refill offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    /// The school whose seat was offered.
    pub school: u32,
    /// The main-round applicant who took it.
    pub applicant: u32,
    /// The school they left, or [`UNPLACED`].
    pub vacated: u32,
}

/// The outcome of one supplement.
#[derive(Debug, Clone)]
pub struct SupplementOutcome {
    /// Main-round placements after the refill (declined applicants are [`UNPLACED`]).
    pub school: Vec<u32>,
    /// Accepted offers, in processing order.
    pub refills: Vec<Refill>,
    /// Late applicants' tickets.
    pub late_tickets: Vec<Digest>,
    /// Late applicants' lottery numbers (1 = best).
    pub late_numbers: Vec<u32>,
    /// Late applicants' schools, or [`UNPLACED`].
    pub late_school: Vec<u32>,
    /// How each late applicant was placed, or why not.
    pub late_detail: Vec<Detail>,
}

/// The refill order of every school: main-draw waitlists in stage order, first place kept.
fn refill_orders(round: &FrozenRound, base: &Outcome) -> Vec<Vec<u32>> {
    let m = round.schools.len();
    let mut order: Vec<Vec<u32>> = vec![Vec::new(); m];
    let mut lists: Vec<&crate::draw::Waitlist> = base.waitlists.iter().collect();
    lists.sort_by_key(|w| (w.school, w.stage));
    for w in lists {
        let o = &mut order[w.school as usize];
        for &i in &w.applicants {
            if !o.contains(&i) {
                o.push(i);
            }
        }
    }
    order
}

/// Runs a supplement (PROTOCOL.md §11) from the current main-round placements `current`
/// (the main draw's `school`, or the previous supplement's [`SupplementOutcome::school`]).
pub fn run(
    round: &FrozenRound,
    base: &Outcome,
    current: &[u32],
    sup: &Supplement,
    seed: &Digest,
) -> Result<SupplementOutcome, SupplementError> {
    let domain = round.domain();
    let m = round.schools.len();
    let n = round.applicants.len();
    let mut cur = current.to_vec();
    let choice_idx = |a: ApplicantRef<'_>| -> Vec<u32> {
        a.choices
            .iter()
            .copied()
            .filter(|&c| (c as usize) < m)
            .collect()
    };
    // 1. Refill.
    let orders = refill_orders(round, base);
    let mut cursor = vec![0usize; m];
    let mut gone = vec![false; n];
    let mut queue = std::collections::VecDeque::new();
    // Seats held per school; a seat given up is a vacancy only if the school is then below its
    // capacity (a sibling admitted above capacity, §6.3.8, leaves no vacancy behind).
    let mut held = vec![0u32; m];
    for &s in &cur {
        if s != UNPLACED {
            held[s as usize] += 1;
        }
    }
    let vacate = |s: u32, held: &mut [u32], queue: &mut std::collections::VecDeque<u32>| {
        held[s as usize] -= 1;
        if held[s as usize] < round.schools[s as usize].capacity {
            queue.push_back(s);
        }
    };
    for &d in &sup.declines {
        gone[d as usize] = true;
        if cur[d as usize] != UNPLACED {
            vacate(cur[d as usize], &mut held, &mut queue);
            cur[d as usize] = UNPLACED;
        }
    }
    let mut refills = Vec::new();
    while let Some(s) = queue.pop_front() {
        let list = &orders[s as usize];
        while cursor[s as usize] < list.len() {
            let j = list[cursor[s as usize]] as usize;
            cursor[s as usize] += 1;
            let a = round.applicants.get(j);
            if gone[j] || a.manual.is_some() {
                continue;
            }
            let prefs = choice_idx(a);
            let rank_s = prefs.iter().position(|&c| c == s);
            let better = match (rank_s, cur[j]) {
                (None, _) => false,
                (Some(_), UNPLACED) => true,
                (Some(r), c) => prefs.iter().position(|&x| x == c).is_none_or(|rc| r < rc),
            };
            if !better {
                continue;
            }
            let vacated = cur[j];
            cur[j] = s;
            held[s as usize] += 1;
            refills.push(Refill {
                school: s,
                applicant: j as u32,
                vacated,
            });
            if vacated != UNPLACED {
                vacate(vacated, &mut held, &mut queue);
            }
            break;
        }
    }
    // 2. Late arrivals into the public schools' remaining seats.
    let spare: Vec<u32> = (0..m)
        .map(|s| {
            if round.schools[s].private {
                0
            } else {
                round.schools[s].capacity.saturating_sub(held[s])
            }
        })
        .collect();
    let key = purpose_key(domain, seed, LATE_LABEL);
    let names: Vec<String> = sup
        .late
        .iter()
        .map(|a| crate::draw::ticket_name_of(round, a))
        .collect();
    let late_tickets = ticket::tickets(domain, &key, &names);
    let late_numbers = ticket::lottery_numbers(&late_tickets);
    let mut pref_start = vec![0u32];
    let mut pref_school = Vec::new();
    let mut pref_key = Vec::new();
    for (p, a) in sup.late.iter().enumerate() {
        for s in choice_idx(a) {
            pref_school.push(s);
            pref_key.push(u64::from(late_numbers[p]));
        }
        pref_start.push(pref_school.len() as u32);
    }
    let inst = Instance {
        capacity: spare.clone(),
        pref_start,
        pref_school,
        pref_key,
    };
    let valid = inst
        .validate()
        .map_err(|e| SupplementError::Mechanism(e.to_string()))?;
    let mut order: Vec<u32> = (0..sup.late.len() as u32).collect();
    order.sort_unstable_by_key(|&p| late_numbers[p as usize]);
    let all_xy = round.schools.iter().all(|s| s.xy.is_some());
    let school_pts: Vec<mech::Point> = round
        .schools
        .iter()
        .map(|s| {
            s.xy.map_or(mech::Point { x: 0, y: 0 }, |(x, y)| mech::Point { x, y })
        })
        .collect();
    let app_pts: Vec<Option<mech::Point>> = sup
        .late
        .iter()
        .map(|a| a.xy.map(|(x, y)| mech::Point { x, y }))
        .collect();
    let coords = all_xy.then_some(mech::Coordinates {
        applicant: &app_pts,
        school: &school_pts,
    });
    let bureau: Vec<u32> = (0..m as u32)
        .filter(|&s| !round.schools[s as usize].private)
        .collect();
    let placed = mech::reallocate(valid, &spare, &order, coords, &bureau)
        .map_err(|e| SupplementError::Mechanism(e.to_string()))?;
    let mut late_school = vec![UNPLACED; sup.late.len()];
    let mut late_detail = vec![Detail::NoSeat; sup.late.len()];
    for p in placed {
        late_school[p.applicant as usize] = p.school;
        late_detail[p.applicant as usize] = Detail::from(p.reason);
    }
    Ok(SupplementOutcome {
        school: cur,
        refills,
        late_tickets,
        late_numbers,
        late_school,
        late_detail,
    })
}

/// Renders `<id>-refills.csv` and `<id>-late_results.csv`.
pub fn render(
    round: &FrozenRound,
    sup: &Supplement,
    out: &SupplementOutcome,
) -> [(String, String); 2] {
    let sid = |s: u32| {
        if s == UNPLACED {
            ""
        } else {
            round.schools[s as usize].id.as_str()
        }
    };
    let mut refills = format!("{REFILLS_HEADER}\n");
    for (k, r) in out.refills.iter().enumerate() {
        refills.push_str(&format!(
            "{},{},{},{}\n",
            k + 1,
            sid(r.school),
            round.applicants.id(r.applicant as usize),
            sid(r.vacated)
        ));
    }
    let mut late = format!("{LATE_RESULTS_HEADER}\n");
    for (p, a) in sup.late.iter().enumerate() {
        late.push_str(&format!(
            "{},{},{},{},{}\n",
            a.id,
            sid(out.late_school[p]),
            out.late_numbers[p],
            out.late_tickets[p].to_hex(),
            out.late_detail[p].code()
        ));
    }
    [
        (format!("{}-refills.csv", sup.id), refills),
        (format!("{}-late_results.csv", sup.id), late),
    ]
}

/// The files of a supplement, in manifest order (before `<id>-manifest.json`).
pub fn file_names(id: &str) -> [String; 7] {
    [
        "declines.csv",
        "late_applicants.csv",
        "commitments.json",
        "reveals.json",
        "beacon.json",
        "refills.csv",
        "late_results.csv",
    ]
    .map(|n| format!("{id}-{n}"))
}

/// Files as (name, bytes).
pub type NamedFiles = Vec<(String, Vec<u8>)>;

/// Everything needed to write a supplement.
pub struct SupplementInput<'a> {
    /// The main round.
    pub round: &'a FrozenRound,
    /// The main draw's outcome.
    pub base: &'a Outcome,
    /// Current main-round placements (after earlier supplements).
    pub current: &'a [u32],
    /// The supplement's inputs.
    pub supplement: &'a Supplement,
    /// Its ceremony (commitments bound to `<round id>/<id>` and the supplement's input root).
    pub ceremony: &'a crate::bundle::Ceremony,
    /// Time written in the manifest (supplied by the caller).
    pub created: &'a str,
    /// Signers (the bureau first: the same key that signed the main manifest).
    pub signers: &'a [(&'a str, &'a ed25519_dalek::SigningKey)],
}

/// Draws a supplement and builds its files: (name, bytes), `<id>-manifest.json` last.
pub fn build(inp: &SupplementInput<'_>) -> Result<(NamedFiles, SupplementOutcome), String> {
    use crate::bundle::{canonical, commitments_json, reveals_json, signed_file};
    let round = inp.round;
    let sup = inp.supplement;
    let domain = round.domain();
    check_id(&sup.id).map_err(|e| e.to_string())?;
    check_late(round, &sup.late).map_err(|e| e.to_string())?;
    let (root, size) = input_root(domain, sup, &round.schools);
    let rid = round_id(round, sup);
    let seed = crate::bundle::seed_for_round_id(round, &rid, &root, size, inp.ceremony)?;
    let out = run(round, inp.base, inp.current, sup, &seed).map_err(|e| e.to_string())?;
    let [refills, late] = render(round, sup, &out);
    let names = file_names(&sup.id);
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (names[0].clone(), sup.declines_bytes.clone()),
        (
            names[1].clone(),
            crate::round::write_applicants(&sup.late, &round.schools).into_bytes(),
        ),
        (
            names[2].clone(),
            canonical(&commitments_json(&rid, &root, &inp.ceremony.commitments)),
        ),
        (
            names[3].clone(),
            canonical(&reveals_json(&inp.ceremony.reveals)),
        ),
        (names[4].clone(), canonical(&inp.ceremony.beacon.to_json())),
        (refills.0, refills.1.into_bytes()),
        (late.0, late.1.into_bytes()),
    ];
    let pairs: Vec<(&str, &str)> = files[5..]
        .iter()
        .map(|(n, b)| (n.as_str(), std::str::from_utf8(b).unwrap_or("")))
        .collect();
    let (results_root, results_size) = crate::results::results_root(domain, &pairs);
    let doc = serde_json::json!({
        "format": crate::bundle::FORMAT,
        "protocol": crate::bundle::PROTOCOL,
        "engine": crate::bundle::ENGINE,
        "domain": domain.as_str(),
        "round_id": rid,
        "supplement": sup.id,
        "created": inp.created,
        "previous_manifest": sup.previous.to_hex(),
        "input_root": root.to_hex(),
        "tree_size": size,
        "seed": seed.to_hex(),
        "results_root": results_root.to_hex(),
        "results_size": results_size,
        "files": files.iter().map(|(n, b)| serde_json::json!({
            "name": n, "sha256": crate::encoding::sha256(b).to_hex(), "bytes": b.len() as u64
        })).collect::<Vec<_>>(),
    });
    files.push((
        format!("{}-manifest.json", sup.id),
        signed_file(domain, "supplement", &doc, inp.signers),
    ));
    Ok((files, out))
}

/// The result of checking the supplements of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplementCheck {
    /// Supplement ids found, in order.
    pub ids: Vec<String>,
    /// Every file the supplements cover (manifests included).
    pub files: Vec<String>,
    /// `None` when every supplement reproduces, else the first discrepancy.
    pub failure: Option<String>,
    /// Main-round placements after the last supplement.
    pub school: Vec<u32>,
}

/// Verifies every supplement `s1, s2, …` present in `files` (PROTOCOL.md §11, check V11):
/// chain to the previous manifest, file hashes, signature by the main manifest's first signer,
/// commitments and reveals, seed, and the refill and late results byte for byte.
pub fn verify_all(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
    round: &FrozenRound,
    base: &Outcome,
    bureau_key: Option<&[u8; 32]>,
) -> SupplementCheck {
    let mut check = SupplementCheck {
        ids: Vec::new(),
        files: Vec::new(),
        failure: None,
        school: base.school.clone(),
    };
    let mut previous_name = crate::bundle::MANIFEST_FILE.to_string();
    for k in 1u32.. {
        let id = format!("s{k}");
        let man_name = format!("{id}-manifest.json");
        let Some(man_bytes) = files.get(&man_name) else {
            break;
        };
        check.ids.push(id.clone());
        check.files.push(man_name.clone());
        check.files.extend(file_names(&id));
        if let Err(e) = verify_one(
            files,
            round,
            base,
            &mut check.school,
            &id,
            &previous_name,
            man_bytes,
            bureau_key,
        ) {
            check.failure = Some(e);
            return check;
        }
        previous_name = man_name;
    }
    // A supplement file without its manifest (or beyond a gap in the numbering).
    if let Some(stray) = files
        .keys()
        .find(|n| is_supplement_file(n) && !check.files.contains(n))
    {
        check.failure = Some(format!(
            "{stray}: supplement file without a supplement manifest before it in the chain"
        ));
    }
    check
}

#[allow(clippy::too_many_arguments)]
fn verify_one(
    files: &std::collections::BTreeMap<String, Vec<u8>>,
    round: &FrozenRound,
    base: &Outcome,
    current: &mut Vec<u32>,
    id: &str,
    previous_name: &str,
    man_bytes: &[u8],
    bureau_key: Option<&[u8; 32]>,
) -> Result<(), String> {
    use crate::bundle::{Beacon, Ceremony, Commitment};
    use crate::manifest::{SignatureEntry, jcs};
    use serde_json::Value;
    let domain = round.domain();
    let man_name = format!("{id}-manifest.json");
    let v: Value =
        serde_json::from_slice(man_bytes).map_err(|e| format!("{man_name}: not JSON: {e}"))?;
    if jcs(&v).ok().as_deref() != Some(man_bytes) {
        return Err(format!("{man_name}: not in canonical JSON form"));
    }
    let doc = v
        .get("supplement")
        .ok_or(format!("{man_name}: no supplement object"))?;
    let doc_bytes = jcs(doc).map_err(|e| format!("{man_name}: {e}"))?;
    let sigs = v
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or(format!("{man_name}: no signatures"))?;
    if sigs.is_empty() {
        return Err(format!("{man_name}: no signatures"));
    }
    for (k, s) in sigs.iter().enumerate() {
        let e = SignatureEntry::from_json(s).map_err(|e| format!("{man_name}: {e}"))?;
        crate::manifest::verify(domain, "supplement", &doc_bytes, &e)
            .map_err(|e| format!("{man_name}: {e}"))?;
        if k == 0 && bureau_key.is_some_and(|b| *b != e.public_key) {
            return Err(format!(
                "{man_name}: signed by key {} but the main manifest by key {}",
                crate::manifest::fingerprint(&e.public_key),
                bureau_key
                    .map(crate::manifest::fingerprint)
                    .unwrap_or_default()
            ));
        }
    }
    let field = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let prev_hash = files
        .get(previous_name)
        .map(|b| crate::encoding::sha256(b).to_hex())
        .unwrap_or_default();
    if field("previous_manifest") != prev_hash {
        return Err(format!(
            "{man_name}: previous_manifest: expected {prev_hash} (SHA-256 of {previous_name}), found {}",
            field("previous_manifest")
        ));
    }
    if field("supplement") != id || field("domain") != domain.as_str() {
        return Err(format!("{man_name}: supplement id or domain differ"));
    }
    let names = file_names(id);
    let listed = doc
        .get("files")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if listed.len() != names.len() {
        return Err(format!(
            "{man_name}: expected {} files listed, found {}",
            names.len(),
            listed.len()
        ));
    }
    for (want, f) in names.iter().zip(&listed) {
        let name = f.get("name").and_then(Value::as_str).unwrap_or("");
        if name != want {
            return Err(format!("{man_name}: expected file {want}, found {name:?}"));
        }
        let bytes = files.get(want).ok_or(format!("{want}: file is missing"))?;
        let hash = crate::encoding::sha256(bytes).to_hex();
        if f.get("sha256").and_then(Value::as_str) != Some(hash.as_str())
            || f.get("bytes").and_then(Value::as_u64) != Some(bytes.len() as u64)
        {
            return Err(format!(
                "{want}: SHA-256 differs from {man_name} (found {hash})"
            ));
        }
    }
    let get = |n: &str| files.get(n).map(Vec::as_slice).unwrap_or(&[]);
    let declines = parse_declines(&names[0], get(&names[0]), round).map_err(|e| e.to_string())?;
    let late = crate::round::parse_applicants(get(&names[1]), &round.policy, &round.schools)
        .map_err(|e| e.in_file(&names[1]))?;
    check_late(round, &late).map_err(|e| format!("{}: {e}", names[1]))?;
    let sup = Supplement {
        id: id.to_string(),
        previous: crate::digest::Digest::from_hex(&prev_hash).unwrap_or_default(),
        declines_bytes: get(&names[0]).to_vec(),
        declines,
        late,
    };
    let (root, size) = input_root(domain, &sup, &round.schools);
    if field("input_root") != root.to_hex()
        || doc.get("tree_size").and_then(Value::as_u64) != Some(size)
    {
        return Err(format!(
            "{man_name}: input_root: expected {} (recomputed), found {}",
            root.to_hex(),
            field("input_root")
        ));
    }
    let json = |n: &str| -> Result<Value, String> {
        serde_json::from_slice(get(n)).map_err(|e| format!("{n}: not JSON: {e}"))
    };
    let com = json(&names[2])?;
    let rid = round_id(round, &sup);
    if com.get("round_id").and_then(Value::as_str) != Some(rid.as_str())
        || com.get("input_root").and_then(Value::as_str) != Some(root.to_hex().as_str())
    {
        return Err(format!(
            "{}: round_id or input_root differ from the supplement",
            names[2]
        ));
    }
    let commitments = com
        .get("commitments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            Ok(Commitment {
                party: c
                    .get("party")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                commitment: crate::digest::Digest::from_hex(
                    c.get("commitment").and_then(Value::as_str).unwrap_or(""),
                )
                .map_err(|e| format!("{}: {e}", names[2]))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let reveals = json(&names[3])?
        .get("reveals")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let share = crate::digest::Digest::from_hex(
                r.get("share").and_then(Value::as_str).unwrap_or(""),
            )
            .map_err(|e| format!("{}: {e}", names[3]))?;
            Ok(crate::seed::Reveal {
                party: r
                    .get("party")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                share: share.0,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let beacon = Beacon::from_json(&json(&names[4])?).map_err(|e| format!("{}: {e}", names[4]))?;
    let ceremony = Ceremony {
        commitments,
        reveals,
        beacon,
    };
    let seed = crate::bundle::seed_for_round_id(round, &rid, &root, size, &ceremony)
        .map_err(|e| format!("{}: {e}", names[3]))?;
    if field("seed") != seed.to_hex() {
        return Err(format!(
            "{man_name}: seed: expected {} (re-derived), found {}",
            seed.to_hex(),
            field("seed")
        ));
    }
    let out = run(round, base, current, &sup, &seed).map_err(|e| e.to_string())?;
    for (name, text) in render(round, &sup, &out) {
        if let Some(d) = crate::verify::first_line_difference(&name, text.as_bytes(), get(&name)) {
            return Err(d);
        }
    }
    *current = out.school;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(check_id("s1"), Ok(1));
        assert_eq!(check_id("s12"), Ok(12));
        for bad in ["", "s", "s0", "s01", "t1", "s1000", "s-1"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
