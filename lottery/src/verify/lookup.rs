//! One family's check (`fairdraw-verify DIR --applicant ID`, PROTOCOL.md §9): one applicant
//! looked up in a bundle. Their public record and result, the inclusion proof of the record in
//! the signed input root, the recipe to recompute their lottery ticket with standard tools, and
//! what the supplements (§11) did to them afterwards. A late arrival is found in the supplement
//! that placed them, and checked against that supplement's input root and seed.
//!
//! Every file the view reads must have the SHA-256 its signed manifest lists — also a supplement
//! file that does not name the applicant, since "no change" is a statement too — so that what a
//! family reads is what the bureau signed.

use super::{
    FORMAT, Files, MANIFEST_FILE, PROTOCOL, Signer, Unusable, record_error_location, s,
    signed_parts, signer,
};
use crate::digest::Digest;
use crate::encoding::{Domain, sha256};
use crate::round::FrozenRound;
use crate::supplement;
use serde_json::Value;

/// How a parent recomputes their ticket with standard tools: two SHA-256 hashes of exact bytes.
#[derive(Debug, Clone)]
pub struct TicketRecipe {
    /// The seed signed in the manifest (hex): the main draw's, or the supplement's for a late
    /// arrival.
    pub seed: String,
    /// The purpose label (`lottery`, or `late` for a late arrival).
    pub label: String,
    /// Bytes hashed to make the purpose key: `H(tag "purpose", seed, label)` (hex).
    pub key_input_hex: String,
    /// The purpose key (hex).
    pub key: String,
    /// The name the ticket is drawn under (application id, or `family:ID`).
    pub name: String,
    /// Bytes hashed to make the ticket: `H(tag "ticket", key, name)` (hex).
    pub ticket_input_hex: String,
    /// The recomputed ticket (hex).
    pub ticket: String,
    /// Does it equal the ticket in the result file?
    pub matches_results: bool,
}

/// What one supplement did to a main-round applicant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupplementChange {
    /// The family gave up its seat: the applicant is listed in `<id>-declines.csv` and left the
    /// round.
    Declined,
    /// The applicant took a refilled seat: row `seq` of `<id>-refills.csv`.
    Refilled {
        /// The row's `seq` (offers are numbered in the order they were made).
        seq: String,
        /// The school whose seat they took.
        school: String,
        /// The school they left (empty when they had none).
        vacated: String,
    },
}

/// One supplement's change to a main-round applicant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplementStep {
    /// `s1`, `s2`, …
    pub supplement: String,
    /// The change.
    pub change: SupplementChange,
}

/// One applicant's view, checked against the signed input root (`fairdraw-verify --applicant`).
#[derive(Debug, Clone)]
pub struct ApplicantView {
    /// `main`, or the supplement (`s1`, …) among whose late arrivals the applicant is: the round
    /// whose files, input root and seed the record, proof and ticket come from.
    pub round: String,
    /// The file the record is from (`applicants.csv`, or `<id>-late_applicants.csv`).
    pub record_file: String,
    /// The public record's fields (header, value).
    pub record: Vec<(String, String)>,
    /// The file the result is from (`results.csv`, or `<id>-late_results.csv`).
    pub result_file: String,
    /// The result row's fields.
    pub result: Vec<(String, String)>,
    /// Waitlist entries: (stage, school, position).
    pub waitlists: Vec<(String, String, String)>,
    /// classes.csv entries: (school, class).
    pub classes: Vec<(String, String)>,
    /// Leaf index in the input tree.
    pub leaf_index: u64,
    /// Tree size.
    pub tree_size: u64,
    /// The leaf hash (hex).
    pub leaf_hash: String,
    /// Audit path (hex).
    pub proof: Vec<String>,
    /// The committed input root.
    pub input_root: String,
    /// Did the inclusion proof verify?
    pub proof_ok: bool,
    /// Signers whose signature verifies: the main manifest's, and for a late arrival its
    /// supplement's.
    pub signers: Vec<Signer>,
    /// Does every signature of every manifest read verify (at least one each), with each
    /// supplement manifest chained to the one before it (`previous_manifest`) and signed first by
    /// the main manifest's first signer?
    pub signature_ok: bool,
    /// Files read for this view whose SHA-256 or size differs from their manifest's entry (or
    /// that no manifest lists).
    pub unlisted: Vec<String>,
    /// How to recompute the lottery ticket.
    pub ticket: Option<TicketRecipe>,
    /// What the supplements did to a main-round applicant, in order (empty for a late arrival).
    pub supplements: Vec<SupplementStep>,
}

impl ApplicantView {
    /// A field of the result row.
    pub fn result_field(&self, k: &str) -> &str {
        self.result
            .iter()
            .find(|(h, _)| h == k)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The school the applicant holds after the last supplement (empty: none).
    pub fn placed_now(&self) -> &str {
        match self.supplements.last().map(|s| &s.change) {
            Some(SupplementChange::Declined) => "",
            Some(SupplementChange::Refilled { school, .. }) => school,
            None => self.result_field("school_id"),
        }
    }

    /// Everything checks: the inclusion proof, every signature and chain link, every file's
    /// hash, and the recomputed ticket equals the published one.
    pub fn verified(&self) -> bool {
        self.proof_ok
            && self.signature_ok
            && self.unlisted.is_empty()
            && self.ticket.as_ref().is_some_and(|t| t.matches_results)
    }
}

/// A signed manifest as the lookup reads it.
struct Manifest {
    doc: Value,
    /// Signers whose signature verifies.
    signers: Vec<Signer>,
    /// Signed (every signature verifies, at least one), and for a supplement chained and signed
    /// first by the bureau.
    ok: bool,
    /// For a supplement, the SHA-256 of the manifest before it in the chain (zero for the main
    /// manifest).
    previous: Digest,
}

impl Manifest {
    /// `name`'s entry in the manifest's `files` matches `bytes`.
    fn lists(&self, name: &str, bytes: &[u8]) -> bool {
        self.doc
            .get("files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
            .is_some_and(|f| {
                f.get("sha256").and_then(Value::as_str) == Some(sha256(bytes).to_hex().as_str())
                    && f.get("bytes").and_then(Value::as_u64) == Some(bytes.len() as u64)
            })
    }
}

/// Reads the signed file `raw` (top-level object `kind`) and checks its signatures under
/// `domain`; the first signer's key is returned too.
fn read_manifest(
    raw: &[u8],
    file: &str,
    kind: &str,
    domain: Domain,
) -> Result<(Manifest, Option<[u8; 32]>), Unusable> {
    let m = signed_parts(raw, kind).map_err(|reason| Unusable::Parse {
        file: file.into(),
        reason,
    })?;
    let mut signers = Vec::new();
    let mut ok = !m.sigs.is_empty();
    let mut first = None;
    for (k, e) in m.sigs.iter().enumerate() {
        match e {
            Ok(e) if crate::manifest::verify(domain, kind, &m.bytes, e).is_ok() => {
                if k == 0 {
                    first = Some(e.public_key);
                }
                signers.push(signer(e, kind.into()));
            }
            _ => ok = false,
        }
    }
    Ok((
        Manifest {
            doc: m.doc,
            signers,
            ok,
            previous: Digest::default(),
        },
        first,
    ))
}

/// The supplement manifests `s1-manifest.json`, `s2-…` present, in chain order, each checked:
/// its signatures, its first signer is `bureau`, its `previous_manifest` is the SHA-256 of the
/// manifest before it, its `supplement` field is its id.
fn supplement_manifests(
    files: &Files,
    domain: Domain,
    bureau: Option<[u8; 32]>,
) -> Result<Vec<(String, Manifest)>, Unusable> {
    let mut out = Vec::new();
    let mut previous = files.get(MANIFEST_FILE).map(|p| sha256(p));
    for k in 1u32.. {
        let id = format!("s{k}");
        let name = format!("{id}-manifest.json");
        let Some(raw) = files.get(&name) else {
            break;
        };
        let (mut m, first) = read_manifest(raw, &name, "supplement", domain)?;
        let chained = previous.is_some_and(|p| s(&m.doc, "previous_manifest") == p.to_hex());
        m.ok &= chained && first.is_some() && first == bureau && s(&m.doc, "supplement") == id;
        m.previous = previous.unwrap_or_default();
        out.push((id, m));
        previous = Some(sha256(raw));
    }
    Ok(out)
}

/// The rows of a CSV file whose column `key_col` is `id`, as (header, value) pairs.
fn rows(bytes: &[u8], key_col: &str, id: &str) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let Some(k) = header.iter().position(|h| *h == key_col) else {
        return Vec::new();
    };
    lines
        .filter(|l| l.split(',').nth(k) == Some(id))
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn field(r: &[(String, String)], k: &str) -> String {
    r.iter()
        .find(|(h, _)| h == k)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The steps of recomputing the ticket drawn under `name` from the seed `seed_hex` and purpose
/// `label`, compared with `published` (`None` when the seed is not a digest).
fn ticket_recipe(
    domain: Domain,
    seed_hex: &str,
    label: &str,
    name: String,
    published: &str,
) -> Option<TicketRecipe> {
    let seed = Digest::from_hex(seed_hex).ok()?;
    let key_input = crate::encoding::encode_fields(
        &domain.tag("purpose"),
        &[seed.as_bytes(), label.as_bytes()],
    );
    let key = crate::seed::purpose_key(domain, &seed, label);
    let ticket_input =
        crate::encoding::encode_fields(&domain.tag("ticket"), &[key.as_bytes(), name.as_bytes()]);
    let t = crate::ticket::ticket(domain, &key, &name);
    Some(TicketRecipe {
        seed: seed.to_hex(),
        label: label.to_string(),
        key_input_hex: hex::encode(&key_input),
        key: key.to_hex(),
        name,
        ticket_input_hex: hex::encode(&ticket_input),
        ticket: t.to_hex(),
        matches_results: published == t.to_hex(),
    })
}

/// A view holding only the inclusion proof of leaf `index` of the tree over `leaves` against the
/// root `input_root` (hex); the caller fills in the rest.
fn proved(leaves: Vec<Digest>, index: u64, input_root: String) -> ApplicantView {
    let tree_size = leaves.len() as u64;
    let leaf = leaves.get(index as usize).copied().unwrap_or_default();
    let tree = crate::merkle::Tree::new(leaves);
    let proof = tree.inclusion_proof(index).unwrap_or_default();
    let proof_ok = Digest::from_hex(&input_root).is_ok_and(|root| {
        crate::merkle::verify_inclusion(&leaf, index, tree_size, &proof, &root).is_ok()
    });
    ApplicantView {
        round: String::new(),
        record_file: String::new(),
        record: Vec::new(),
        result_file: String::new(),
        result: Vec::new(),
        waitlists: Vec::new(),
        classes: Vec::new(),
        leaf_index: index,
        tree_size,
        leaf_hash: leaf.to_hex(),
        proof: proof.iter().map(Digest::to_hex).collect(),
        input_root,
        proof_ok,
        signers: Vec::new(),
        signature_ok: false,
        unlisted: Vec::new(),
        ticket: None,
        supplements: Vec::new(),
    }
}

/// Looks up one applicant in a bundle: checks the manifest signatures (and the supplements'
/// chain), the inclusion proof of the applicant's record against the signed input root, the
/// hashes of the files read, and recomputes the lottery ticket. A late arrival is looked up in
/// the supplement that placed them. `Ok(None)`: no such application.
pub fn applicant_view(files: &Files, id: &str) -> Result<Option<ApplicantView>, Unusable> {
    let get = |n: &str| files.get(n).map(Vec::as_slice).unwrap_or(&[]);
    let raw = files
        .get(MANIFEST_FILE)
        .ok_or_else(|| Unusable::Missing(MANIFEST_FILE.into()))?;
    let round = FrozenRound::parse(
        get("policy.toml"),
        get("schools.csv"),
        get("teachers.csv"),
        get("applicants.csv"),
    )
    .map_err(|e| Unusable::Parse {
        file: record_error_location(&e, files).describe(),
        reason: e.reason(),
    })?;
    let domain = round.domain();
    let (main, bureau) = read_manifest(raw, MANIFEST_FILE, "manifest", domain)?;
    if s(&main.doc, "format") != FORMAT || s(&main.doc, "protocol") != PROTOCOL {
        return Err(Unusable::Version {
            file: MANIFEST_FILE.into(),
            reason: format!(
                "unknown format/protocol {:?}/{:?}",
                s(&main.doc, "format"),
                s(&main.doc, "protocol")
            ),
        });
    }
    let sups = supplement_manifests(files, domain, bureau)?;
    // Every file read, with the manifest that must list it.
    let mut shown: Vec<(&Manifest, String)> = Vec::new();
    let view = match round.applicant_leaf_index(id) {
        Some(index) => {
            let mut supplements = Vec::new();
            for (sid, m) in &sups {
                let [declines, _, _, _, _, refills, _] = supplement::file_names(sid);
                // Both files count whether or not they name the applicant: "no change" must come
                // from the signed files too.
                if get(&declines)
                    .split(|b| *b == b'\n')
                    .skip(1)
                    .any(|l| l == id.as_bytes())
                {
                    supplements.push(SupplementStep {
                        supplement: sid.clone(),
                        change: SupplementChange::Declined,
                    });
                }
                let taken = rows(get(&refills), "application_id", id);
                shown.push((m, declines));
                shown.push((m, refills));
                supplements.extend(taken.iter().map(|r| SupplementStep {
                    supplement: sid.clone(),
                    change: SupplementChange::Refilled {
                        seq: field(r, "seq"),
                        school: field(r, "school_id"),
                        vacated: field(r, "vacated_school_id"),
                    },
                }));
            }
            for f in [
                "applicants.csv",
                "results.csv",
                "waitlists.csv",
                "classes.csv",
            ] {
                shown.push((&main, f.to_string()));
            }
            let result = rows(get("results.csv"), "application_id", id)
                .into_iter()
                .next()
                .unwrap_or_default();
            let name =
                crate::draw::ticket_name(&round, index as usize - crate::round::INPUT_FILES.len());
            let input_root = s(&main.doc, "input_root").to_string();
            ApplicantView {
                round: "main".into(),
                record_file: "applicants.csv".into(),
                record: rows(get("applicants.csv"), "application_id", id)
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                result_file: "results.csv".into(),
                ticket: ticket_recipe(
                    domain,
                    s(&main.doc, "seed"),
                    crate::draw::labels::LOTTERY,
                    name,
                    &field(&result, "ticket"),
                ),
                result,
                waitlists: rows(get("waitlists.csv"), "application_id", id)
                    .iter()
                    .map(|r| {
                        (
                            field(r, "stage"),
                            field(r, "school_id"),
                            field(r, "position"),
                        )
                    })
                    .collect(),
                classes: rows(get("classes.csv"), "application_id", id)
                    .iter()
                    .map(|r| (field(r, "school_id"), field(r, "class")))
                    .collect(),
                signers: main.signers.clone(),
                signature_ok: main.ok && sups.iter().all(|(_, m)| m.ok),
                supplements,
                ..proved(round.input_leaves(), index, input_root)
            }
        }
        None => {
            let Some(view) = late_view(files, &round, &main, &sups, id, &mut shown)? else {
                return Ok(None);
            };
            view
        }
    };
    let unlisted = shown
        .into_iter()
        .filter(|(m, f)| !m.lists(f, get(f)))
        .map(|(_, f)| f)
        .collect();
    Ok(Some(ApplicantView { unlisted, ..view }))
}

/// The view of a late arrival (PROTOCOL.md §11): found in the first supplement whose late
/// applicants list `id`; its proof is against that supplement's input tree (previous manifest,
/// declines file, then the late applicants in id order), its ticket drawn from the supplement's
/// seed under the purpose `late`.
fn late_view<'m>(
    files: &Files,
    round: &FrozenRound,
    main: &'m Manifest,
    sups: &'m [(String, Manifest)],
    id: &str,
    shown: &mut Vec<(&'m Manifest, String)>,
) -> Result<Option<ApplicantView>, Unusable> {
    let get = |n: &str| files.get(n).map(Vec::as_slice).unwrap_or(&[]);
    let domain = round.domain();
    for (sid, m) in sups {
        let [declines_file, late_file, _, _, _, _, results_file] = supplement::file_names(sid);
        let unreadable = |file: &str, reason: String| Unusable::Parse {
            file: file.to_string(),
            reason,
        };
        // The late applicants have the applicants' format; an error names their own file.
        let late = crate::round::parse_applicants(get(&late_file), &round.policy, &round.schools)
            .map_err(|e| unreadable(&late_file, e.located()))?;
        // Read whether or not it lists the applicant (an earlier supplement's list included).
        shown.push((m, late_file.clone()));
        let Some(p) = late.iter().position(|a| a.id == id) else {
            continue;
        };
        let declines = supplement::parse_declines(&declines_file, get(&declines_file), round)
            .map_err(|e| unreadable(&declines_file, e.to_string()))?;
        let name = crate::draw::ticket_name_of(round, late.get(p));
        let sup = supplement::Supplement {
            id: sid.clone(),
            previous: m.previous,
            declines_bytes: get(&declines_file).to_vec(),
            declines,
            late,
        };
        let leaves = supplement::input_leaves(domain, &sup, &round.schools);
        let index = (supplement::LATE_LEAVES_FROM + p) as u64;
        let input_root = s(&m.doc, "input_root").to_string();
        let result = rows(get(&results_file), "application_id", id)
            .into_iter()
            .next()
            .unwrap_or_default();
        let view = ApplicantView {
            round: sid.clone(),
            record: rows(get(&late_file), "application_id", id)
                .into_iter()
                .next()
                .unwrap_or_default(),
            ticket: ticket_recipe(
                domain,
                s(&m.doc, "seed"),
                supplement::LATE_LABEL,
                name,
                &field(&result, "ticket"),
            ),
            result,
            signers: main.signers.iter().chain(&m.signers).cloned().collect(),
            // The supplement and every manifest before it in the chain.
            signature_ok: main.ok
                && m.ok
                && sups.iter().take_while(|(k, _)| k != sid).all(|(_, m)| m.ok),
            record_file: late_file.clone(),
            result_file: results_file.clone(),
            ..proved(leaves, index, input_root)
        };
        shown.push((m, results_file));
        return Ok(Some(view));
    }
    Ok(None)
}
