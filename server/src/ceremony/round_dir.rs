//! The round directory: where each ceremony step finds what the previous ones wrote.
//!
//! ```text
//! ROUND_DIR/
//!   inputs/                      the bureau's files as imported (PRIVATE: names, ID numbers)
//!   frozen/policy.toml schools.csv teachers.csv applicants.csv
//!   frozen/checkpoint.json       signed by the bureau at the freeze (its presence = frozen)
//!   ceremony/parties.json        the parties expected to commit, fixed at the freeze
//!   ceremony/commitments/P.json  one per party
//!   ceremony/reveals/P.json      one per party
//!   ceremony/beacon.json
//!   log.jsonl                    hash-chained ceremony log (lottery::log)
//!   private/                     salt.key, secrets.csv, notices.html [notices/] (PRIVATE, never published)
//!   sheet.html sheet.txt         the ceremony sheet (after the draw)
//!   archive/                     bundle/, log.jsonl, sheet.html, SHA256SUMS (after the draw)
//! ```

use super::{CeremonyError, Result, damaged, io_err};
use crate::output::write_atomic;
use lottery::Digest;
use lottery::bundle::{Beacon, Commitment, canonical};
use lottery::encoding::Domain;
use lottery::round::FrozenRound;
use lottery::seed::Reveal;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The public input files in `frozen/`, in bundle order.
pub const FROZEN_FILES: [&str; 4] = [
    "policy.toml",
    "schools.csv",
    "teachers.csv",
    "applicants.csv",
];

/// A round directory.
#[derive(Debug, Clone)]
pub struct RoundDir {
    /// Its root.
    pub root: PathBuf,
}

/// A frozen round loaded from `frozen/`.
pub struct Frozen {
    /// The parsed round.
    pub round: FrozenRound,
    /// Input root.
    pub root: Digest,
    /// Tree size.
    pub size: u64,
    /// `checkpoint.json` bytes.
    pub checkpoint: Vec<u8>,
    /// Expected parties, sorted.
    pub parties: Vec<String>,
}

impl Frozen {
    /// Real or rehearsal.
    pub fn domain(&self) -> Domain {
        self.round.domain()
    }
    /// Round id.
    pub fn round_id(&self) -> &str {
        &self.round.policy.round.id
    }
}

impl RoundDir {
    /// A round directory at `root` (not created).
    pub fn new(root: &Path) -> RoundDir {
        RoundDir {
            root: root.to_path_buf(),
        }
    }
    /// `inputs/`.
    pub fn inputs(&self) -> PathBuf {
        self.root.join("inputs")
    }
    /// `frozen/`.
    pub fn frozen(&self) -> PathBuf {
        self.root.join("frozen")
    }
    /// `frozen/checkpoint.json`.
    pub fn checkpoint(&self) -> PathBuf {
        self.frozen().join("checkpoint.json")
    }
    /// `ceremony/parties.json`.
    pub fn parties_file(&self) -> PathBuf {
        self.root.join("ceremony").join("parties.json")
    }
    /// `ceremony/commitments/<party>.json`.
    pub fn commitment_file(&self, party: &str) -> PathBuf {
        self.root
            .join("ceremony")
            .join("commitments")
            .join(format!("{party}.json"))
    }
    /// `ceremony/reveals/<party>.json`.
    pub fn reveal_file(&self, party: &str) -> PathBuf {
        self.root
            .join("ceremony")
            .join("reveals")
            .join(format!("{party}.json"))
    }
    /// `ceremony/beacon.json`.
    pub fn beacon_file(&self) -> PathBuf {
        self.root.join("ceremony").join("beacon.json")
    }
    /// `log.jsonl`.
    pub fn log_file(&self) -> PathBuf {
        self.root.join("log.jsonl")
    }
    /// `private/`.
    pub fn private(&self) -> PathBuf {
        self.root.join("private")
    }
    /// `sheet.html`.
    pub fn sheet(&self) -> PathBuf {
        self.root.join("sheet.html")
    }
    /// `archive/`.
    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }

    /// Has the round been frozen?
    pub fn is_frozen(&self) -> bool {
        self.checkpoint().is_file()
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        std::fs::read(path).map_err(io_err(path))
    }

    /// Loads the frozen round, or says the step cannot run before the freeze.
    pub fn load(&self, step: &'static str) -> Result<Frozen> {
        if !self.is_frozen() {
            return Err(CeremonyError::OutOfOrder {
                step,
                reason: format!(
                    "the round in {} is not frozen yet (run `fairdraw round freeze` first) / 名单尚未冻结",
                    self.root.display()
                ),
            });
        }
        let f = self.frozen();
        let [policy, schools, teachers, applicants] = FROZEN_FILES.map(|n| f.join(n));
        let (policy, schools, teachers) = (
            self.read(&policy)?,
            self.read(&schools)?,
            self.read(&teachers)?,
        );
        // applicants.csv is read in pieces and parsed as it comes, with the input root, not
        // held whole (≈ 200 MB at a million rows).
        let mut file = std::fs::File::open(&applicants).map_err(io_err(&applicants))?;
        let (round, (root, size)) = FrozenRound::read(&policy, &schools, &teachers, &mut file)
            .map_err(|e| match e {
                lottery::round::ReadRoundError::Read(e) => io_err(&applicants)(e),
                e => damaged(&f, e.to_string()),
            })?;
        let checkpoint = self.read(&self.checkpoint())?;
        let cp: Value = serde_json::from_slice(&checkpoint)
            .map_err(|e| damaged(&self.checkpoint(), e.to_string()))?;
        if cp["checkpoint"]["input_root"].as_str() != Some(root.to_hex().as_str()) {
            return Err(damaged(
                &self.checkpoint(),
                "the input root in checkpoint.json does not match the frozen files (a frozen file was changed)",
            ));
        }
        let pf = self.parties_file();
        let pv: Value =
            serde_json::from_slice(&self.read(&pf)?).map_err(|e| damaged(&pf, e.to_string()))?;
        let parties: Vec<String> = pv["parties"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if parties.is_empty() {
            return Err(damaged(&pf, "no parties listed"));
        }
        Ok(Frozen {
            round,
            root,
            size,
            checkpoint,
            parties,
        })
    }

    /// As [`RoundDir::load`], refusing when the log records an abort: an aborted round takes no
    /// further step (start a new round directory).
    pub fn load_active(&self, step: &'static str) -> Result<Frozen> {
        let fr = self.load(step)?;
        let log = self.log(fr.domain())?;
        if let Some(e) = log_entries(&log)
            .into_iter()
            .find(|e| e["step"].as_str() == Some("abort"))
        {
            return Err(CeremonyError::OutOfOrder {
                step,
                reason: format!(
                    "the round was aborted at {} by {} ({}); start a new round directory / 本轮已中止",
                    e["time"].as_str().unwrap_or("?"),
                    e["person"].as_str().unwrap_or("?"),
                    e["text"].as_str().unwrap_or("")
                ),
            });
        }
        Ok(fr)
    }

    /// Writes `ceremony/parties.json`.
    pub fn write_parties(&self, parties: &[String]) -> Result<()> {
        let p = self.parties_file();
        write_atomic(&p, &canonical(&json!({ "parties": parties }))).map_err(io_err(&p))
    }

    /// The commitment of a party, if it committed.
    pub fn commitment(&self, fr: &Frozen, party: &str) -> Result<Option<Commitment>> {
        let p = self.commitment_file(party);
        if !p.is_file() {
            return Ok(None);
        }
        let v: Value =
            serde_json::from_slice(&self.read(&p)?).map_err(|e| damaged(&p, e.to_string()))?;
        if v["party"].as_str() != Some(party)
            || v["round_id"].as_str() != Some(fr.round_id())
            || v["input_root"].as_str() != Some(fr.root.to_hex().as_str())
        {
            return Err(damaged(
                &p,
                "the commitment names another party, round or input root",
            ));
        }
        let c = Digest::from_hex(v["commitment"].as_str().unwrap_or(""))
            .map_err(|e| damaged(&p, format!("commitment: {e}")))?;
        Ok(Some(Commitment {
            party: party.to_string(),
            commitment: c,
        }))
    }

    /// Writes a commitment file.
    pub fn write_commitment(&self, fr: &Frozen, c: &Commitment) -> Result<()> {
        let p = self.commitment_file(&c.party);
        let v = json!({
            "party": c.party,
            "round_id": fr.round_id(),
            "domain": fr.domain().as_str(),
            "input_root": fr.root.to_hex(),
            "commitment": c.commitment.to_hex(),
        });
        write_atomic(&p, &canonical(&v)).map_err(io_err(&p))
    }

    /// The reveal of a party, if it revealed.
    pub fn reveal(&self, party: &str) -> Result<Option<Reveal>> {
        let p = self.reveal_file(party);
        if !p.is_file() {
            return Ok(None);
        }
        let v: Value =
            serde_json::from_slice(&self.read(&p)?).map_err(|e| damaged(&p, e.to_string()))?;
        if v["party"].as_str() != Some(party) {
            return Err(damaged(&p, "the reveal names another party"));
        }
        let s = Digest::from_hex(v["share"].as_str().unwrap_or(""))
            .map_err(|e| damaged(&p, format!("share: {e}")))?;
        Ok(Some(Reveal {
            party: party.to_string(),
            share: s.0,
        }))
    }

    /// Writes a reveal file.
    pub fn write_reveal(&self, r: &Reveal) -> Result<()> {
        let p = self.reveal_file(&r.party);
        let v = json!({"party": r.party, "share": hex::encode(r.share)});
        write_atomic(&p, &canonical(&v)).map_err(io_err(&p))
    }

    /// All commitments present, in party order, and the parties still missing.
    pub fn commitments(&self, fr: &Frozen) -> Result<(Vec<Commitment>, Vec<String>)> {
        let mut have = Vec::new();
        let mut missing = Vec::new();
        for p in &fr.parties {
            match self.commitment(fr, p)? {
                Some(c) => have.push(c),
                None => missing.push(p.clone()),
            }
        }
        Ok((have, missing))
    }

    /// All reveals present, in party order, and the parties still missing.
    pub fn reveals(&self, fr: &Frozen) -> Result<(Vec<Reveal>, Vec<String>)> {
        let mut have = Vec::new();
        let mut missing = Vec::new();
        for p in &fr.parties {
            match self.reveal(p)? {
                Some(r) => have.push(r),
                None => missing.push(p.clone()),
            }
        }
        Ok((have, missing))
    }

    /// The beacon, if recorded.
    pub fn beacon(&self) -> Result<Option<Beacon>> {
        let p = self.beacon_file();
        if !p.is_file() {
            return Ok(None);
        }
        let v: Value =
            serde_json::from_slice(&self.read(&p)?).map_err(|e| damaged(&p, e.to_string()))?;
        Beacon::from_json(&v).map(Some).map_err(|e| damaged(&p, e))
    }

    /// Writes the beacon.
    pub fn write_beacon(&self, b: &Beacon) -> Result<()> {
        let p = self.beacon_file();
        write_atomic(&p, &canonical(&b.to_json())).map_err(io_err(&p))
    }

    /// The log's bytes (empty when there is none yet), its chain checked.
    pub fn log(&self, domain: Domain) -> Result<Vec<u8>> {
        let p = self.log_file();
        if !p.is_file() {
            return Ok(Vec::new());
        }
        let bytes = self.read(&p)?;
        lottery::log::verify_chain(domain, &bytes).map_err(|e| {
            damaged(
                &p,
                format!("the ceremony log does not chain ({e}); it was edited"),
            )
        })?;
        Ok(bytes)
    }

    /// Appends one entry (fields besides `seq`/`prev`) to the log; returns the new head.
    pub fn append_log(&self, domain: Domain, entry: Value) -> Result<Digest> {
        let log = self.log(domain)?;
        let p = self.log_file();
        let map: Map<String, Value> = entry.as_object().cloned().unwrap_or_default();
        let (bytes, head) =
            lottery::log::append(domain, &log, map).map_err(|e| damaged(&p, e.to_string()))?;
        write_atomic(&p, &bytes).map_err(io_err(&p))?;
        Ok(head)
    }
}

/// The log's entries as JSON values.
pub fn log_entries(log: &[u8]) -> Vec<Value> {
    log.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

/// The common fields of a log entry: step, role, person, time (the clock, now) and the network
/// state.
pub fn entry(step: &str, role: &str, person: &str) -> Value {
    json!({
        "step": step,
        "role": role,
        "person": person,
        "time": super::now_rfc3339(),
        "network": super::net::status(),
    })
}
