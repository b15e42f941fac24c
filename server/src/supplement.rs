//! `fairdraw supplement`: refill declined seats (递补) and place late arrivals (随到随入) after
//! the main draw, as a chained, signed supplement appended to the bundle (PROTOCOL.md §10).
//!
//! The main bundle is verified first; existing supplements are replayed; the new one starts from
//! the placements they left. Nothing already published changes: the supplement's files are
//! added beside the bundle's, its manifest (`<id>-manifest.json`) last, each written atomically.

use crate::import::{self, InputFiles};
use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use lottery::bundle::{Beacon, Ceremony, Commitment};
use lottery::draw::Outcome;
use lottery::round::FrozenRound;
use lottery::seed::{Reveal, commitment};
use lottery::supplement::{self, Supplement, SupplementInput};
use lottery::verify::Files;
use lottery::{Digest, Domain};
use std::path::Path;

/// A main bundle read back, verified and replayed.
pub struct Replayed {
    /// The bundle's files that a supplement reads: the main manifest, `schools.csv`,
    /// `teachers.csv` and the existing supplements' files (not `applicants.csv` nor the result
    /// files, which the verification read in pieces).
    pub files: Files,
    /// The frozen round.
    pub round: FrozenRound,
    /// The main draw's outcome.
    pub base: Outcome,
    /// Placements after the existing supplements.
    pub current: Vec<u32>,
    /// Supplements already present.
    pub existing: Vec<String>,
    /// The public key that signed the main manifest first (the bureau).
    pub bureau_key: [u8; 32],
}

/// Every file of a bundle directory in memory, read as `fairdraw-verify` reads it (regular files
/// only, each of bounded size; see [`verifier::bundle_dir::read_bundle`]).
pub fn read_dir(dir: &Path) -> Result<Files> {
    verifier::bundle_dir::read_bundle(dir)
        .and_then(|d| d.into_files())
        .map_err(|e| anyhow!("{}: {e}", dir.display()))
}

/// Verifies the main bundle in `dir` (every check must pass) and replays its draw and
/// supplements. The bundle is read as `fairdraw-verify` reads it (`applicants.csv` and the result
/// files in pieces, never whole), and the round and the main draw are the verification's own
/// replay (read and drawn once).
pub fn replay(dir: &Path) -> Result<Replayed> {
    use lottery::verify::Source as _;
    let source =
        verifier::bundle_dir::read_bundle(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let (report, replay) =
        lottery::verify::verify_replaying(&source, &mut |_| {}).map_err(|e| anyhow!("{e}"))?;
    if let Some(f) = report.first_failure() {
        bail!(
            "the bundle does not verify ({} {}): fix or re-export it before a supplement",
            f.id,
            f.en
        );
    }
    // Every check passed, V8 (the replay) among them.
    let Some(lottery::verify::Replay {
        round,
        outcome: base,
        ..
    }) = replay
    else {
        bail!("the bundle verified but its draw was not replayed");
    };
    let kept = |n: &str| {
        ["manifest.json", "schools.csv", "teachers.csv"].contains(&n)
            || supplement::is_supplement_file(n)
    };
    let mut files = Files::new();
    for name in source.names().into_iter().filter(|n| kept(n)) {
        let bytes = source.load(&name).map_err(|e| anyhow!("{e}"))?;
        files.insert(name, bytes.map(|b| b.into_owned()).unwrap_or_default());
    }
    let get = |n: &str| files.get(n).map(Vec::as_slice).unwrap_or(&[]);
    let man: serde_json::Value = serde_json::from_slice(get("manifest.json"))?;
    let bureau_key = lottery::manifest::SignatureEntry::from_json(&man["signatures"][0])
        .map_err(|e| anyhow!("manifest.json: {e}"))?
        .public_key;
    let check = supplement::verify_all(&files, &round, &base, Some(&bureau_key));
    if let Some(f) = check.failure {
        bail!("an existing supplement does not verify: {f}");
    }
    Ok(Replayed {
        files,
        round,
        base,
        current: check.school,
        existing: check.ids,
        bureau_key,
    })
}

/// Canonical declines file from a clerk's list: one application id per line, an optional
/// `application_id` header, blank lines and surrounding spaces ignored.
pub fn canonical_declines(text: &str) -> String {
    let mut out = format!("{}\n", supplement::DECLINES_HEADER);
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if l == supplement::DECLINES_HEADER || l == "报名号" {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// What a supplement is about: the inputs its input root covers, which parties commit to.
pub struct Inputs<'a> {
    /// Supplement id (`s1`, …); `None` = the next free one.
    pub id: Option<&'a str>,
    /// The clerk's declines list (text).
    pub declines: &'a str,
    /// Late applicants in the import format (`.csv`/`.xlsx`, private and public columns), if any.
    pub late: Option<(String, Vec<u8>)>,
    /// The bureau's salt key for the late applicants' secrets.
    pub salt_key: [u8; 32],
}

/// One supplement's draw, as the command collects it.
pub struct Request<'a> {
    /// Its inputs.
    pub inputs: Inputs<'a>,
    /// Shares: (party, 32 bytes).
    pub shares: Vec<(String, [u8; 32])>,
    /// The beacon.
    pub beacon: Beacon,
    /// Time written in the manifest.
    pub created: &'a str,
    /// The supplement's commitments file, published before the beacon was drawn (its bytes), if
    /// the parties committed in advance (`fairdraw supplement --commit`): every share must then
    /// match its party's commitment, and every committed party must reveal.
    pub commitments: Option<&'a [u8]>,
}

/// A supplement before any share: its inputs, input root and round id.
pub struct Prepared {
    /// The supplement's inputs.
    pub sup: Supplement,
    /// Late applicants' private records, if any.
    pub late_private: Option<import::ValidatedRound>,
    /// Its input root.
    pub root: Digest,
    /// Its round id (`<round id>/<supplement id>`), which commitments are bound to.
    pub rid: String,
}

/// The written supplement.
pub struct Written {
    /// Its files.
    pub files: Vec<(String, Vec<u8>)>,
    /// Late applicants' private records (for secrets and notices), if any.
    pub late_private: Option<import::ValidatedRound>,
    /// Refill offers accepted.
    pub refills: usize,
    /// Late applicants placed / total.
    pub late_placed: usize,
    /// Late applicants in total.
    pub late_total: usize,
    /// The supplement id.
    pub id: String,
}

/// The next supplement of a replayed bundle on `req`'s inputs, before any share: the declines
/// and late applicants checked, the input root and round id computed.
pub fn prepare(r: &Replayed, req: &Inputs<'_>) -> Result<Prepared> {
    let next = format!("s{}", r.existing.len() + 1);
    let id = req.id.unwrap_or(&next).to_string();
    if id != next {
        bail!("the next supplement of this bundle is {next}, not {id}");
    }
    let previous_name = r
        .existing
        .last()
        .map(|p| format!("{p}-manifest.json"))
        .unwrap_or_else(|| "manifest.json".into());
    let previous = lottery::encoding::sha256(
        r.files
            .get(&previous_name)
            .ok_or_else(|| anyhow!("{previous_name} is missing"))?,
    );
    let declines_text = canonical_declines(req.declines);
    let declines = supplement::parse_declines("declines", declines_text.as_bytes(), &r.round)?;
    let late_private = match &req.late {
        None => None,
        Some((name, bytes)) => {
            let files = InputFiles {
                policy: ("policy.toml".into(), r.round.policy_bytes.clone()),
                schools: (
                    "schools.csv".into(),
                    r.files.get("schools.csv").cloned().unwrap_or_default(),
                ),
                teachers: r
                    .files
                    .get("teachers.csv")
                    .map(|t| ("teachers.csv".to_string(), t.clone())),
                applicants: (name.clone(), bytes.clone()),
            };
            match import::import_round(&files, &req.salt_key) {
                Ok(v) => Some(v),
                Err(problems) => {
                    let lines: Vec<String> = problems
                        .iter()
                        .map(|p| format!("{}\n  {}", p.zh(), p.en()))
                        .collect();
                    bail!(
                        "the late applicants file has {} problem(s); nothing was written:\n{}",
                        problems.len(),
                        lines.join("\n")
                    );
                }
            }
        }
    };
    let late = late_private
        .as_ref()
        .map(|v| v.round.applicants.clone())
        .unwrap_or_default();
    let sup = Supplement {
        id: id.clone(),
        previous,
        declines_bytes: declines_text.into_bytes(),
        declines,
        late,
    };
    supplement::check_late(&r.round, &sup.late)?;
    let (root, _) = supplement::input_root(r.round.domain(), &sup, &r.round.schools);
    let rid = supplement::round_id(&r.round, &sup);
    Ok(Prepared {
        sup,
        late_private,
        root,
        rid,
    })
}

/// Adds `party`'s commitment to the next supplement's commitments file (`existing`: its bytes,
/// empty before the first party): returns the file's new bytes (canonical JSON, as
/// `<id>-commitments.json` will be) and the commitment. Run once per party before the beacon is
/// drawn, and publish the file; [`build`] then holds every share to it.
pub fn commit(
    r: &Replayed,
    req: &Inputs<'_>,
    party: &str,
    share: &[u8; 32],
    existing: &[u8],
) -> Result<(Vec<u8>, Digest)> {
    if !lottery::policy::is_id(party) {
        bail!("party {party:?}: a party id is ASCII letters, digits, . _ -");
    }
    let p = prepare(r, req)?;
    let domain = r.round.domain();
    let mut list = if existing.is_empty() {
        Vec::new()
    } else {
        published_commitments(&p.rid, &p.root, existing)?
    };
    let c = commitment(domain, &p.rid, &p.root, party, share);
    match list.iter().find(|x| x.party == party) {
        Some(x) if x.commitment == c => {}
        Some(_) => {
            bail!("party {party} has already committed to this supplement, to another share")
        }
        None => list.push(Commitment {
            party: party.to_string(),
            commitment: c,
        }),
    }
    list.sort_by(|a, b| a.party.cmp(&b.party));
    let doc = lottery::bundle::commitments_json(&p.rid, &p.root, &list);
    let bytes = lottery::manifest::jcs(&doc).map_err(|e| anyhow!("{e}"))?;
    Ok((bytes, c))
}

/// The commitments of a commitments file made for the supplement of round id `rid` and input
/// root `root` (the file's must be these: otherwise its declines or late applicants changed
/// since).
fn published_commitments(rid: &str, root: &Digest, bytes: &[u8]) -> Result<Vec<Commitment>> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).context("the commitments file is not JSON")?;
    let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
    if text("round_id") != rid || text("input_root") != root.to_hex() {
        bail!(
            "the commitments were made for round {:?}, input root {:?}; this supplement is {}, \
             input root {}: its declines or late applicants changed since the parties committed",
            text("round_id"),
            text("input_root"),
            rid,
            root.to_hex()
        );
    }
    let mut out: Vec<Commitment> = Vec::new();
    for c in v
        .get("commitments")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let party = c
            .get("party")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let commitment = Digest::from_hex(
            c.get("commitment")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(""),
        )
        .map_err(|e| anyhow!("the commitments file: party {party}: {e}"))?;
        if party.is_empty() || out.iter().any(|x| x.party == party) {
            bail!("the commitments file names a party twice, or one without a name");
        }
        out.push(Commitment {
            party: party.to_string(),
            commitment,
        });
    }
    Ok(out)
}

/// Builds the next supplement of a replayed bundle.
pub fn build(r: &Replayed, req: &Request<'_>, key: &SigningKey) -> Result<Written> {
    if key.verifying_key().to_bytes() != r.bureau_key {
        bail!("the key does not belong to the bureau that signed the main manifest");
    }
    let Prepared {
        sup,
        late_private,
        root,
        rid,
    } = prepare(r, &req.inputs)?;
    let id = sup.id.clone();
    let domain: Domain = r.round.domain();
    if req.shares.is_empty() {
        bail!("at least one party's share is needed (--share PARTY=FILE)");
    }
    let mut parties: Vec<&str> = req.shares.iter().map(|(p, _)| p.as_str()).collect();
    parties.sort_unstable();
    if parties.windows(2).any(|w| w[0] == w[1]) {
        bail!("a party is named twice");
    }
    if let Some(bytes) = req.commitments {
        let published = published_commitments(&rid, &root, bytes)?;
        for c in &published {
            match req.shares.iter().find(|(q, _)| *q == c.party) {
                None => bail!("party {} committed but gave no share", c.party),
                Some((_, share))
                    if commitment(domain, &rid, &root, &c.party, share) != c.commitment =>
                {
                    bail!(
                        "party {}: the share does not match the commitment it published",
                        c.party
                    )
                }
                Some(_) => {}
            }
        }
        if let Some((q, _)) = req
            .shares
            .iter()
            .find(|(q, _)| !published.iter().any(|c| c.party == *q))
        {
            bail!("party {q} gives a share but published no commitment before the beacon");
        }
    }
    let ceremony = ceremony_from_shares(domain, &rid, &root, &req.shares, req.beacon.clone());
    let (files, out) = supplement::build(&SupplementInput {
        round: &r.round,
        base: &r.base,
        current: &r.current,
        supplement: &sup,
        ceremony: &ceremony,
        created: req.created,
        signers: &[("bureau", key)],
    })
    .map_err(|e| anyhow!(e))?;
    Ok(Written {
        files,
        late_private,
        refills: out.refills.len(),
        late_placed: out
            .late_school
            .iter()
            .filter(|s| **s != lottery::mechanism::UNPLACED)
            .count(),
        late_total: sup.late.len(),
        id,
    })
}

/// The supplement's ceremony from the parties' shares: each commitment bound to the
/// supplement's round id and input root (PROTOCOL.md §11.2), each share revealed.
fn ceremony_from_shares(
    domain: Domain,
    rid: &str,
    root: &Digest,
    shares: &[(String, [u8; 32])],
    beacon: Beacon,
) -> Ceremony {
    Ceremony {
        commitments: shares
            .iter()
            .map(|(p, s)| Commitment {
                party: p.clone(),
                commitment: commitment(domain, rid, root, p, s),
            })
            .collect(),
        reveals: shares
            .iter()
            .map(|(p, s)| Reveal {
                party: p.clone(),
                share: *s,
            })
            .collect(),
        beacon,
    }
}

/// Writes the supplement's files into the bundle directory, each atomically, the manifest last.
pub fn write(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    for (name, bytes) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Digits of a simulated application id's number for `n` applicants (`fairdraw simulate`'s
/// `A2026-0000001`, its late arrivals' `L2026-0000001`): 7 for every round up to 9,999,999, more
/// above, so that the ids sort as their numbers do (the published files are in id order).
pub fn sim_id_width(n: usize) -> usize {
    n.to_string().len().max(7)
}

/// A simulated supplement for `fairdraw simulate --declines N --late N` to the bundle in `dir`:
/// the first `declines` placed applicants of the private stage decline (the typical 民办
/// give-up), and `late` late arrivals with public choices join. Everything derives from the seed
/// text. Returns the supplement's files (for [`write`]).
pub fn simulate(
    dir: &Path,
    declines: usize,
    late: usize,
    seed_text: &str,
    key: &SigningKey,
) -> Result<Vec<(String, Vec<u8>)>> {
    use lottery::encoding::hash_fields;
    let r = replay(dir)?;
    // The first `declines` applicants placed at private schools decline.
    let mut list = String::new();
    let private_admits = (r.round.applicants.iter().enumerate()).filter(|(i, _)| {
        let s = r.base.school[*i];
        s != lottery::mechanism::UNPLACED && r.round.schools[s as usize].private
    });
    for (_, a) in private_admits.take(declines) {
        list.push_str(a.id);
        list.push('\n');
    }
    // (index in the round, school) of the public schools.
    let public: Vec<(u32, &lottery::round::School)> = (0u32..)
        .zip(&r.round.schools)
        .filter(|(_, s)| !s.private)
        .collect();
    let mut late_sup = Vec::new();
    let width = sim_id_width(late);
    for k in 0..late {
        let d = hash_fields(
            "fairdraw/sim/late",
            &[seed_text.as_bytes(), &k.to_be_bytes()],
        );
        let pick = |b: u8| public[usize::from(b) % public.len().max(1)];
        let a = pick(d.0[0]);
        let b = pick(d.0[1]);
        let id = format!("L2026-{:0width$}", k + 1);
        let salt: [u8; 16] = d.0[16..].try_into().unwrap_or([0; 16]);
        let (x, y) = a.1.xy.unwrap_or((0, 0));
        let mut choices = vec![a.0];
        if b.0 != a.0 {
            choices.push(b.0);
        }
        late_sup.push(lottery::round::Applicant {
            id: id.as_str().into(),
            track: "migrant".into(),
            gender: if d.0[2].is_multiple_of(2) {
                lottery::round::Gender::F
            } else {
                lottery::round::Gender::M
            },
            groups: Box::new(["migrant".into()]),
            choices: choices.into(),
            categories: Box::default(),
            indicators: Box::default(),
            family: None,
            priority: Box::default(),
            manual: None,
            xy: Some((x + i64::from(d.0[3]) * 10, y)),
            private_hash: lottery::round::private_hash(
                r.round.domain(),
                &salt,
                &lottery::round::PrivateRecord {
                    application_id: &id,
                    name: "Simulated late arrival",
                    id_card: "000000000000000000",
                    birth_date: "2014-01-01",
                    phone: "",
                    address: "",
                },
            ),
        });
    }
    let declines_text = canonical_declines(&list);
    let declines_idx = supplement::parse_declines("declines", declines_text.as_bytes(), &r.round)?;
    let previous = lottery::encoding::sha256(r.files.get("manifest.json").map_or(&[][..], |v| v));
    let sup = Supplement {
        id: "s1".into(),
        previous,
        declines_bytes: declines_text.into_bytes(),
        declines: declines_idx,
        late: lottery::round::Applicants::from_applicants(&late_sup)?,
    };
    let domain = r.round.domain();
    let (root, _) = supplement::input_root(domain, &sup, &r.round.schools);
    let rid = supplement::round_id(&r.round, &sup);
    let shares: Vec<(String, [u8; 32])> = ["bureau", "notary"]
        .iter()
        .map(|p| {
            (
                p.to_string(),
                hash_fields(
                    "fairdraw/sim/late-share",
                    &[seed_text.as_bytes(), p.as_bytes()],
                )
                .0,
            )
        })
        .collect();
    let ceremony = ceremony_from_shares(
        domain,
        &rid,
        &root,
        &shares,
        Beacon {
            kind: "text".into(),
            source: format!("simulated late-arrival beacon from the seed text {seed_text:?}"),
            value: hash_fields("fairdraw/sim/late-beacon", &[seed_text.as_bytes()])
                .0
                .to_vec(),
        },
    );
    let created = format!("{}T10:00:00+08:00", r.round.policy.round.draw_date);
    let (files, _) = supplement::build(&SupplementInput {
        round: &r.round,
        base: &r.base,
        current: &r.current,
        supplement: &sup,
        ceremony: &ceremony,
        created: &created,
        signers: &[("bureau", key)],
    })
    .map_err(|e| anyhow!(e))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::sim_id_width;

    #[test]
    fn simulated_ids_sort_as_their_numbers() {
        assert_eq!(sim_id_width(0), 7);
        assert_eq!(sim_id_width(9_999_999), 7);
        assert_eq!(sim_id_width(10_000_000), 8);
        assert_eq!(sim_id_width(17_000_000), 8);
        let w = sim_id_width(17_000_000);
        let (a, b) = (
            format!("A2026-{:0w$}", 9_999_999),
            format!("A2026-{:0w$}", 10_000_000),
        );
        assert!(a < b, "{a} {b}");
    }
}
