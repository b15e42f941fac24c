//! The public bundle: ceremony documents, the checkpoint and the signed manifest (PROTOCOL.md §8).
//!
//! This module makes the files: in memory ([`build`]), or piece by piece into a sink the caller
//! supplies ([`write_with_root`]), so that a million-applicant bundle is written without being
//! held. Writing them to disk is the caller's job (the engine does no I/O).

use crate::digest::{Digest, parse_hex_bytes};
use crate::encoding::Domain;
use crate::lines::Hashed;
use crate::manifest::{SignatureEntry, jcs, sign};
use crate::round::FrozenRound;
use crate::seed::{Reveal, SeedInputs, commitment, master_seed};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

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
/// `inp.round.input_root()`): [`write_with_root`] into memory.
pub fn build_with_root(
    inp: &BundleInput<'_>,
    root: &Digest,
    size: u64,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    write_with_root(inp, root, size, &mut collector(&mut files)).map_err(|e| e.to_string())?;
    Ok(files)
}

/// A sink for [`write_with_root`] that keeps the files in memory: (name, bytes), in order.
fn collector(
    files: &mut Vec<(String, Vec<u8>)>,
) -> impl FnMut(&str, &[u8]) -> std::io::Result<()> + Send + '_ {
    |name, piece| {
        match files.last_mut() {
            Some((n, bytes)) if n == name => bytes.extend_from_slice(piece),
            _ => files.push((name.to_string(), piece.to_vec())),
        }
        Ok(())
    }
}

/// What [`write_with_root`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Every file in the order written (the manifest last): name, SHA-256 and length.
    pub files: Vec<(String, Hashed)>,
    /// The signed manifest: `manifest.json`'s bytes.
    pub manifest: Vec<u8>,
    /// Applicants the draw placed.
    pub placed: u64,
}

/// Why a bundle was not written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The round cannot be drawn with this ceremony (the seed or the draw refused it).
    #[error("{0}")]
    Refused(String),
    /// The sink failed on a file.
    #[error("{file}: {source}")]
    Write {
        /// The file being written.
        file: String,
        /// The sink's error.
        #[source]
        source: std::io::Error,
    },
}

/// The bundle's files as they pass to the caller's sink: each one hashed for the manifest.
struct Files<'s> {
    sink: &'s mut (dyn FnMut(&str, &[u8]) -> std::io::Result<()> + Send),
    /// The files passed on whole.
    done: Vec<(String, Hashed)>,
    /// The file being passed on: name, hash of its pieces so far, their length.
    open: Option<(String, Sha256, u64)>,
}

impl Files<'_> {
    /// Passes on the next piece of `name` (a new file when the last piece was another file's).
    fn piece(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        if self.open.as_ref().is_none_or(|(n, _, _)| n != name) {
            self.close();
            self.open = Some((name.to_string(), Sha256::new(), 0));
        }
        if let Some((_, h, k)) = &mut self.open {
            h.update(bytes);
            *k += bytes.len() as u64;
        }
        (self.sink)(name, bytes)
    }

    /// Passes on a whole file.
    fn file(&mut self, name: &str, bytes: &[u8]) -> Result<(), BundleError> {
        self.piece(name, bytes).map_err(|e| self.failed(e))
    }

    /// The sink's error, naming the file it failed on.
    fn failed(&self, source: std::io::Error) -> BundleError {
        BundleError::Write {
            file: self
                .open
                .as_ref()
                .map(|(n, _, _)| n.clone())
                .unwrap_or_default(),
            source,
        }
    }

    /// Ends the file being passed on.
    fn close(&mut self) {
        if let Some((name, h, bytes)) = self.open.take() {
            let sha256 = Digest(h.finalize().into());
            self.done.push((name, Hashed { sha256, bytes }));
        }
    }
}

/// Draws the round and writes every bundle file through `sink(name, piece)`: each file's pieces
/// in order, one file after the other (inputs, ceremony files, the log, the five result files,
/// the manifest last; every file passed at least once, perhaps as one empty piece), each hashed
/// as it passes for the manifest. `applicants.csv` and `results.csv` are rendered a window of
/// rows at a time: the bundle is never held whole. `(root, size)` must be the round's input
/// root. The bytes are [`build`]'s.
pub fn write_with_root(
    inp: &BundleInput<'_>,
    root: &Digest,
    size: u64,
    sink: &mut (dyn FnMut(&str, &[u8]) -> std::io::Result<()> + Send),
) -> Result<Written, BundleError> {
    let (root, size) = (*root, size);
    let round = inp.round;
    let domain = round.domain();
    let seed = seed_for(round, &root, size, inp.ceremony).map_err(BundleError::Refused)?;
    let outcome =
        crate::draw::draw(round, &seed).map_err(|e| BundleError::Refused(e.to_string()))?;
    let mut f = Files {
        sink,
        done: Vec::new(),
        open: None,
    };
    f.file("policy.toml", &round.policy_bytes)?;
    f.file(
        "schools.csv",
        crate::round::write_schools(&round.schools).as_bytes(),
    )?;
    f.file(
        "teachers.csv",
        crate::round::write_teachers(&round.teachers).as_bytes(),
    )?;
    let written =
        crate::round::write_applicants_in_pieces(&round.applicants, &round.schools, |p| {
            f.piece("applicants.csv", p.as_bytes())
        });
    written.map_err(|e| f.failed(e))?;
    f.file("checkpoint.json", inp.checkpoint_file)?;
    f.file(
        "commitments.json",
        &canonical(&commitments_json(
            &round.policy.round.id,
            &root,
            &inp.ceremony.commitments,
        )),
    )?;
    f.file(
        "reveals.json",
        &canonical(&reveals_json(&inp.ceremony.reveals)),
    )?;
    f.file("beacon.json", &canonical(&inp.ceremony.beacon.to_json()))?;
    if let Some(log) = inp.log {
        f.file(LOG_FILE, log)?;
    }
    let results = crate::results::write(round, &outcome, &mut |n, p| f.piece(n, p));
    let (results_root, results_size) = results.map_err(|e| f.failed(e))?;
    f.close();
    // The checkpoint's hash as it was passed on (not hashed a second time).
    let checkpoint_hash = f
        .done
        .iter()
        .find(|(n, _)| n == "checkpoint.json")
        .map(|(_, h)| h.sha256)
        .unwrap_or_default();
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
        "checkpoint_hash": checkpoint_hash.to_hex(),
        "seed": seed.to_hex(),
        "results_root": results_root.to_hex(),
        "results_size": results_size,
        "log_head": inp.log_head,
        "files": f.done.iter().map(|(n, h)| json!({"name": n, "sha256": h.sha256.to_hex(), "bytes": h.bytes})).collect::<Vec<_>>(),
    });
    let manifest = signed_file(domain, "manifest", &manifest, inp.signers);
    f.file(MANIFEST_FILE, &manifest)?;
    f.close();
    let placed = outcome
        .school
        .iter()
        .filter(|s| **s != crate::mechanism::UNPLACED)
        .count() as u64;
    Ok(Written {
        files: f.done,
        manifest,
        placed,
    })
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
