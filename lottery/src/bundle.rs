//! The public bundle: ceremony documents, the checkpoint and the signed manifest (PROTOCOL.md §8).
//!
//! This module builds the files in memory; writing them to disk is the caller's job.

use crate::digest::{Digest, parse_hex_bytes};
use crate::encoding::{Domain, sha256};
use crate::manifest::{SignatureEntry, jcs, sign};
use crate::round::FrozenRound;
use crate::seed::{Reveal, SeedInputs, commitment, master_seed};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

/// Bundle format version written in the manifest.
pub const FORMAT: &str = "fairdraw-bundle/1";
/// Protocol version.
pub const PROTOCOL: &str = "fairdraw/v1";
/// Engine identity written in the manifest.
pub const ENGINE: &str = concat!("fairdraw-lottery ", env!("CARGO_PKG_VERSION"));

/// Ceremony files, in the order the manifest lists them after the inputs.
pub const CEREMONY_FILES: [&str; 4] = [
    "checkpoint.json",
    "commitments.json",
    "reveals.json",
    "beacon.json",
];
/// The optional ceremony log.
pub const LOG_FILE: &str = "log.jsonl";
/// The manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// A public randomness beacon value (PROTOCOL.md §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    /// `drand`, `hall_digits`, `lottery_result`, `index_close` or `text`.
    pub kind: String,
    /// Where it comes from, in words (e.g. "drand quicknet round 1234567", "福彩3D 2026321期").
    pub source: String,
    /// The value's bytes.
    pub value: Vec<u8>,
}

impl Beacon {
    /// `beacon.json` content.
    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind, "source": self.source, "value": hex::encode(&self.value)})
    }
    /// Parses `beacon.json`.
    pub fn from_json(v: &Value) -> Result<Beacon, String> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("missing string field {k:?}"))
        };
        let value = parse_hex_bytes(s("value")?).map_err(|e| format!("value: {e}"))?;
        if value.is_empty() || value.len() > 4096 {
            return Err("value: 1..=4096 bytes".into());
        }
        Ok(Beacon {
            kind: s("kind")?.to_string(),
            source: s("source")?.to_string(),
            value,
        })
    }
}

/// A party's commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commitment {
    /// Party id.
    pub party: String,
    /// `H(commit, round, root, party, share)`.
    pub commitment: Digest,
}

/// Everything the ceremony adds to the frozen inputs.
#[derive(Debug, Clone)]
pub struct Ceremony {
    /// Commitments, sorted by party.
    pub commitments: Vec<Commitment>,
    /// Reveals, sorted by party.
    pub reveals: Vec<Reveal>,
    /// The beacon.
    pub beacon: Beacon,
}

impl Ceremony {
    /// The commitments as (party, commitment hex), in order.
    pub fn commitments_hex(&self) -> Vec<(String, String)> {
        self.commitments
            .iter()
            .map(|c| (c.party.clone(), c.commitment.to_hex()))
            .collect()
    }

    /// The reveals as (party, share hex), in order.
    pub fn reveals_hex(&self) -> Vec<(String, String)> {
        self.reveals
            .iter()
            .map(|r| (r.party.clone(), hex::encode(r.share)))
            .collect()
    }

    /// The beacon's kind, source and value (hex), as `beacon.json` writes them.
    pub fn beacon_hex(&self) -> [String; 3] {
        [
            self.beacon.kind.clone(),
            self.beacon.source.clone(),
            hex::encode(&self.beacon.value),
        ]
    }
}

/// Canonical JSON bytes of a value (JCS); `Value`s built here are always inside the subset.
pub fn canonical(v: &Value) -> Vec<u8> {
    jcs(v).unwrap_or_default()
}

/// The checkpoint published at the freeze: round, input root and the counts a clerk reads aloud.
pub fn checkpoint(round: &FrozenRound) -> Value {
    let (root, size) = round.input_root();
    checkpoint_with_root(round, &root, size)
}

/// As [`checkpoint`], with an already computed root.
pub fn checkpoint_with_root(round: &FrozenRound, root: &Digest, size: u64) -> Value {
    let p = &round.policy;
    // Counted per chunk of applicants in parallel and summed (integer sums: the same at any
    // thread count).
    use rayon::prelude::*;
    type Counts = (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>);
    let zero = || -> Counts {
        (
            vec![0u64; round.schools.len()],
            vec![0u64; round.schools.len()],
            vec![0u64; p.tracks.len()],
            vec![0u64; p.categories.len()],
        )
    };
    let apps = &round.applicants;
    const CHUNK: usize = 1 << 14;
    let (first, listed, per_track, per_cat) = (0..apps.len().div_ceil(CHUNK))
        .into_par_iter()
        .map(|chunk| {
            let (mut first, mut listed, mut per_track, mut per_cat) = zero();
            for i in chunk * CHUNK..apps.len().min((chunk + 1) * CHUNK) {
                for (r, c) in apps.choices(i).iter().enumerate() {
                    // An index out of range (never in a parsed or engine-built round) is skipped.
                    let s = *c as usize;
                    if s < listed.len() {
                        listed[s] += 1;
                        if r == 0 {
                            first[s] += 1;
                        }
                    }
                }
                let track = apps.track(i);
                if let Some(t) = p.tracks.iter().position(|t| t == track) {
                    per_track[t] += 1;
                }
                if let Some(best) = apps.categories(i).iter().map(|(_, c)| *c).min() {
                    per_cat[best as usize - 1] += 1;
                }
            }
            (first, listed, per_track, per_cat)
        })
        .reduce(zero, |mut a, b| {
            for (x, y) in [
                (&mut a.0, b.0),
                (&mut a.1, b.1),
                (&mut a.2, b.2),
                (&mut a.3, b.3),
            ] {
                for (x, y) in x.iter_mut().zip(y) {
                    *x += y;
                }
            }
            a
        });
    json!({
        "format": FORMAT,
        "protocol": PROTOCOL,
        "domain": round.domain().as_str(),
        "round_id": p.round.id,
        "title": ascii_escape(&p.round.title),
        "policy_hash": round.policy_hash().to_hex(),
        "input_root": root.to_hex(),
        "tree_size": size,
        "applicants": round.applicants.len() as u64,
        "seats": round.schools.iter().map(|s| u64::from(s.capacity)).sum::<u64>(),
        "schools": round.schools.iter().enumerate().map(|(i, s)| json!({
            "school_id": s.id, "seats": s.capacity, "first_choice": first[i], "listed": listed[i]
        })).collect::<Vec<_>>(),
        "tracks": p.tracks.iter().zip(&per_track).map(|(t, n)| json!({"track": t, "applicants": n})).collect::<Vec<_>>(),
        "categories": p.categories.iter().zip(&per_cat).map(|(c, n)| json!({"category": c.code, "applicants": n})).collect::<Vec<_>>(),
    })
}

/// Non-ASCII text (Chinese titles) is kept out of signed JSON as `\uXXXX`-free ASCII: we write it
/// as its UTF-8 hex with a `hex:` prefix so signed documents stay ASCII (PROTOCOL.md §8.1).
pub fn ascii_escape(s: &str) -> String {
    if s.is_ascii() {
        s.to_string()
    } else {
        format!("hex:{}", hex::encode(s.as_bytes()))
    }
}

/// A signed document file: `{"<kind>": doc, "signatures": [...]}` as JCS.
pub fn signed_file(
    domain: Domain,
    kind: &str,
    doc: &Value,
    signers: &[(&str, &SigningKey)],
) -> Vec<u8> {
    let bytes = canonical(doc);
    let sigs: Vec<Value> = signers
        .iter()
        .map(|(name, key)| sign(domain, kind, &bytes, name, key).to_json())
        .collect();
    let mut obj = serde_json::Map::new();
    obj.insert(kind.to_string(), doc.clone());
    obj.insert("signatures".into(), Value::Array(sigs));
    canonical(&Value::Object(obj))
}

/// `commitments.json`.
pub fn commitments_json(round_id: &str, input_root: &Digest, c: &[Commitment]) -> Value {
    json!({
        "round_id": round_id,
        "input_root": input_root.to_hex(),
        "commitments": c.iter().map(|c| json!({"party": c.party, "commitment": c.commitment.to_hex()})).collect::<Vec<_>>(),
    })
}

/// `reveals.json`.
pub fn reveals_json(r: &[Reveal]) -> Value {
    json!({"reveals": r.iter().map(|r| json!({"party": r.party, "share": hex::encode(r.share)})).collect::<Vec<_>>()})
}

/// Derives the seed for a ceremony after checking every reveal against its commitment.
pub fn seed_for(
    round: &FrozenRound,
    root: &Digest,
    size: u64,
    c: &Ceremony,
) -> Result<Digest, String> {
    seed_for_round_id(round, &round.policy.round.id, root, size, c)
}

/// As [`seed_for`], with the commitments and seed bound to another round id (a supplement's
/// `<round id>/<supplement id>`, PROTOCOL.md §10).
pub fn seed_for_round_id(
    round: &FrozenRound,
    rid: &str,
    root: &Digest,
    size: u64,
    c: &Ceremony,
) -> Result<Digest, String> {
    let domain = round.domain();
    if c.commitments.is_empty() {
        return Err("no commitments: at least one party must commit".into());
    }
    for (what, mut parties) in [
        (
            "committed",
            c.commitments
                .iter()
                .map(|x| x.party.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "revealed",
            c.reveals
                .iter()
                .map(|x| x.party.as_str())
                .collect::<Vec<_>>(),
        ),
    ] {
        parties.sort_unstable();
        if let Some(w) = parties.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("party {} {what} twice", w[0]));
        }
    }
    for com in &c.commitments {
        let Some(r) = c.reveals.iter().find(|r| r.party == com.party) else {
            return Err(format!("party {} committed but did not reveal", com.party));
        };
        if commitment(domain, rid, root, &r.party, &r.share) != com.commitment {
            return Err(format!(
                "party {}: the revealed share does not match its commitment",
                r.party
            ));
        }
    }
    if let Some(r) = c
        .reveals
        .iter()
        .find(|r| !c.commitments.iter().any(|k| k.party == r.party))
    {
        return Err(format!("party {} revealed without a commitment", r.party));
    }
    let ph = round.policy_hash();
    Ok(master_seed(&SeedInputs {
        domain,
        round_id: rid,
        policy_hash: &ph,
        input_root: root,
        tree_size: size,
        beacon: &c.beacon.value,
        reveals: &c.reveals,
    }))
}

/// Everything needed to write a bundle.
pub struct BundleInput<'a> {
    /// The round.
    pub round: &'a FrozenRound,
    /// The ceremony.
    pub ceremony: &'a Ceremony,
    /// The signed checkpoint file bytes (from the freeze).
    pub checkpoint_file: &'a [u8],
    /// The ceremony log (JSON lines), if any.
    pub log: Option<&'a [u8]>,
    /// Head of the log chain (hex) or empty.
    pub log_head: String,
    /// Time written in the manifest (RFC 3339, supplied by the caller: the engine has no clock).
    pub created: &'a str,
    /// Manifest signers (bureau first).
    pub signers: &'a [(&'a str, &'a SigningKey)],
}

/// Draws and builds every bundle file: (name, bytes), manifest last.
pub fn build(inp: &BundleInput<'_>) -> Result<Vec<(String, Vec<u8>)>, String> {
    let (root, size) = inp.round.input_root();
    build_with_root(inp, &root, size)
}

/// [`build`] for a caller that already computed the round's input root `(root, size)` (it must be
/// `inp.round.input_root()`).
pub fn build_with_root(
    inp: &BundleInput<'_>,
    root: &Digest,
    size: u64,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let (root, size) = (*root, size);
    let round = inp.round;
    let domain = round.domain();
    let seed = seed_for(round, &root, size, inp.ceremony)?;
    let outcome = crate::draw::draw(round, &seed).map_err(|e| e.to_string())?;
    let results = crate::results::render(round, &outcome);
    let pairs: Vec<(&str, &str)> = results.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (results_root, results_size) = crate::results::results_root(domain, &pairs);

    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("policy.toml".into(), round.policy_bytes.clone()),
        (
            "schools.csv".into(),
            crate::round::write_schools(&round.schools).into_bytes(),
        ),
        (
            "teachers.csv".into(),
            crate::round::write_teachers(&round.teachers).into_bytes(),
        ),
        (
            "applicants.csv".into(),
            crate::round::write_applicants(&round.applicants, &round.schools).into_bytes(),
        ),
        ("checkpoint.json".into(), inp.checkpoint_file.to_vec()),
        (
            "commitments.json".into(),
            canonical(&commitments_json(
                &round.policy.round.id,
                &root,
                &inp.ceremony.commitments,
            )),
        ),
        (
            "reveals.json".into(),
            canonical(&reveals_json(&inp.ceremony.reveals)),
        ),
        (
            "beacon.json".into(),
            canonical(&inp.ceremony.beacon.to_json()),
        ),
    ];
    if let Some(log) = inp.log {
        files.push((LOG_FILE.into(), log.to_vec()));
    }
    for (n, t) in results {
        files.push((n.to_string(), t.into_bytes()));
    }
    let hashes: Vec<Digest> = {
        use rayon::prelude::*;
        files.par_iter().map(|(_, b)| sha256(b)).collect()
    };
    let manifest = json!({
        "format": FORMAT,
        "protocol": PROTOCOL,
        "engine": ENGINE,
        "domain": domain.as_str(),
        "round_id": round.policy.round.id,
        "title": ascii_escape(&round.policy.round.title),
        "draw_date": round.policy.round.draw_date,
        "created": inp.created,
        "policy_hash": round.policy_hash().to_hex(),
        "input_root": root.to_hex(),
        "tree_size": size,
        "checkpoint_hash": sha256(inp.checkpoint_file).to_hex(),
        "seed": seed.to_hex(),
        "results_root": results_root.to_hex(),
        "results_size": results_size,
        "log_head": inp.log_head,
        "files": files.iter().zip(&hashes).map(|((n, b), h)| json!({"name": n, "sha256": h.to_hex(), "bytes": b.len() as u64})).collect::<Vec<_>>(),
    });
    files.push((
        MANIFEST_FILE.into(),
        signed_file(domain, "manifest", &manifest, inp.signers),
    ));
    Ok(files)
}

/// A detached co-signature file (`cosign-<signer>.json`) over a manifest's signed bytes.
pub fn cosign_file(
    domain: Domain,
    manifest_doc: &Value,
    signer: &str,
    key: &SigningKey,
) -> Vec<u8> {
    let e: SignatureEntry = sign(domain, "manifest", &canonical(manifest_doc), signer, key);
    canonical(&json!({"cosignature": e.to_json()}))
}
