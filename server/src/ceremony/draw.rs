//! `fairdraw draw`: derive the seed, run the draw, write the signed bundle, the ceremony sheet and
//! the archive folder.
//!
//! Reproducible from the directory alone: the manifest's `created` time is the time of the last
//! log entry before the draw (normally the beacon's), and the draw's own log entry carries that
//! same time and no clock reading, so the same step run again — here or on a backup PC holding a
//! copy of the round directory — writes byte-identical bundles.

use super::keys::{key_fingerprint, read_key};
use super::round_dir::{RoundDir, log_entries};
use super::sheet::{self, SheetData};
use super::{CeremonyError, REHEARSAL_BANNER, Result, Summary, damaged, grouped, io_err, spinner};
use crate::output::{DirWriter, write_atomic};
use ed25519_dalek::SigningKey;
use lottery::bundle::{self, BundleError, BundleInput, Ceremony, MANIFEST_FILE};
use lottery::encoding::{Domain, sha256};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// What the draw wrote.
pub struct DrawOutcome {
    /// Summary lines.
    pub summary: Summary,
    /// SHA-256 of `manifest.json` (the bundle's hash).
    pub bundle_hash: String,
    /// SHA-256 of the archive's `SHA256SUMS`.
    pub archive_hash: String,
}

/// Options of the draw.
pub struct DrawOptions<'a> {
    /// The bureau's key (signs the manifest first).
    pub key: &'a Path,
    /// Co-signers' keys (notary, …), each adding a manifest signature.
    pub cosigners: &'a [PathBuf],
    /// The bundle directory to write.
    pub out: &'a Path,
    /// Person at the keyboard (for the sheet; the log's draw entry names the signer).
    pub person: Option<&'a str>,
}

/// Splits the log into the entries before the first `draw` entry and the rest.
fn split_at_draw(log: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = Vec::new();
    let mut rest = Vec::new();
    let mut drawn = false;
    for line in log.split_inclusive(|b| *b == b'\n') {
        if !drawn {
            let v: Value = serde_json::from_slice(line).unwrap_or_default();
            if v["step"].as_str() == Some("draw") {
                drawn = true;
            }
        }
        if drawn {
            rest.extend_from_slice(line);
        } else {
            prefix.extend_from_slice(line);
        }
    }
    (prefix, rest)
}

/// An absolute, normalised form of a path that may not exist yet.
fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => absolute(parent).join(name),
        _ => std::env::current_dir().unwrap_or_default().join(p),
    }
}

/// Refuses an output directory whose replacement would destroy something: the round directory
/// itself, one of its parts or an ancestor, or an existing non-empty directory that is not a bundle.
fn check_out(rd: &RoundDir, out: &Path) -> Result<()> {
    let root = absolute(&rd.root);
    let target = absolute(out);
    let refuse = |why: &str| {
        Err(CeremonyError::Refused(format!(
            "--out {}: {why}; choose another directory",
            out.display()
        )))
    };
    if root.starts_with(&target) {
        return refuse("it is the round directory or contains it");
    }
    for part in [
        "inputs",
        "frozen",
        "ceremony",
        "private",
        "archive",
        "log.jsonl",
    ] {
        if target.starts_with(root.join(part)) {
            return refuse("it is part of the round directory");
        }
    }
    if target.is_file() {
        return refuse("it is a file");
    }
    if target.is_dir()
        && !target.join(MANIFEST_FILE).is_file()
        && std::fs::read_dir(&target)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return refuse("it is a non-empty directory that is not a bundle (the draw replaces it)");
    }
    Ok(())
}

/// Runs the draw.
pub fn draw(rd: &RoundDir, o: &DrawOptions<'_>) -> Result<DrawOutcome> {
    let fr = rd.load_active("draw")?;
    check_out(rd, o.out)?;
    let domain = fr.domain();
    let (commitments, missing_c) = rd.commitments(&fr)?;
    let (reveals, missing_r) = rd.reveals(&fr)?;
    let Some(beacon) = rd.beacon()? else {
        let why = if !missing_c.is_empty() {
            format!(
                "not all parties have committed: missing {}",
                missing_c.join(", ")
            )
        } else if !missing_r.is_empty() {
            format!(
                "not all parties have revealed: missing {}",
                missing_r.join(", ")
            )
        } else {
            "no beacon recorded yet (run `fairdraw round beacon` first)".to_string()
        };
        return Err(CeremonyError::OutOfOrder {
            step: "draw",
            reason: format!("{why} / 尚不能派位"),
        });
    };
    let (signer, key) = read_key(o.key)?;
    let mut keys: Vec<(String, SigningKey)> = vec![(signer.clone(), key)];
    for c in o.cosigners {
        let k = read_key(c)?;
        if keys.iter().any(|(n, _)| *n == k.0) {
            return Err(CeremonyError::Refused(format!(
                "two keys sign as {:?}; each signer once",
                k.0
            )));
        }
        keys.push(k);
    }
    let signers: Vec<(&str, &SigningKey)> = keys.iter().map(|(n, k)| (n.as_str(), k)).collect();

    let log = rd.log(domain)?;
    let (prefix, rest) = split_at_draw(&log);
    let entries = log_entries(&prefix);
    let created = entries
        .last()
        .and_then(|e| e["time"].as_str())
        .map(str::to_string)
        .ok_or_else(|| damaged(&rd.log_file(), "the log has no entry before the draw"))?;
    let ceremony = Ceremony {
        commitments,
        reveals,
        beacon,
    };
    let seed = bundle::seed_for(&fr.round, &fr.root, fr.size, &ceremony)
        .map_err(CeremonyError::Refused)?;
    let mut e = Map::new();
    e.insert("step".into(), json!("draw"));
    e.insert("role".into(), json!("bureau"));
    e.insert("person".into(), json!(signer));
    e.insert("time".into(), json!(created));
    e.insert("seed".into(), json!(seed.to_hex()));
    e.insert("engine".into(), json!(bundle::ENGINE));
    e.insert(
        "signers".into(),
        Value::Array(
            keys.iter()
                .map(|(n, k)| json!({"signer": n, "fingerprint": key_fingerprint(k)}))
                .collect(),
        ),
    );
    let (bundle_log, head) = lottery::log::append(domain, &prefix, e)
        .map_err(|e| damaged(&rd.log_file(), e.to_string()))?;
    if !rest.is_empty() && !log.starts_with(&bundle_log) {
        return Err(CeremonyError::OutOfOrder {
            step: "draw",
            reason: "this round was already drawn with other signers (see log.jsonl); \
                     run the draw again with the same keys to reproduce it / 本轮已派位（签名人不同）"
                .into(),
        });
    }
    let pb = spinner("drawing / 正在派位");
    // The bundle is written as it is made (never held whole), into a temporary directory renamed
    // onto `out` when complete.
    let mut dir = DirWriter::new(o.out);
    let written = bundle::write_with_root(
        &BundleInput {
            round: &fr.round,
            ceremony: &ceremony,
            checkpoint_file: &fr.checkpoint,
            log: Some(&bundle_log),
            log_head: head.to_hex(),
            created: &created,
            signers: &signers,
        },
        &fr.root,
        fr.size,
        &mut |name, piece| dir.piece(name, piece),
    );
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let written = written.map_err(|e| match e {
        BundleError::Refused(reason) => CeremonyError::Refused(reason),
        BundleError::Write { file, source } => io_err(&o.out.join(file))(source),
    })?;
    dir.finish().map_err(io_err(o.out))?;
    if rest.is_empty() {
        write_atomic(&rd.log_file(), &bundle_log).map_err(io_err(&rd.log_file()))?;
    }

    // The sheet and the archive.
    let bundle_hash = sha256(&written.manifest).to_hex();
    let man: Value = serde_json::from_slice(&written.manifest).unwrap_or_default();
    let m = &man["manifest"];
    let placed = written.placed;
    let data = SheetData {
        domain,
        round_id: fr.round_id().to_string(),
        title: fr.round.policy.round.title.clone(),
        draw_date: fr.round.policy.round.draw_date.clone(),
        created: created.clone(),
        build: sheet::BuildIdentity::current(),
        input_root: fr.root.to_hex(),
        tree_size: fr.size,
        applicants: fr.round.applicants.len() as u64,
        schools: fr.round.schools.len() as u64,
        seats: fr.round.schools.iter().map(|s| u64::from(s.capacity)).sum(),
        placed,
        commitments: ceremony.commitments_hex(),
        reveals: ceremony.reveals_hex(),
        beacon: {
            let [kind, source, value] = ceremony.beacon_hex();
            (kind, source, value)
        },
        seed: seed.to_hex(),
        results_root: m["results_root"].as_str().unwrap_or("").to_string(),
        log_head: head.to_hex(),
        signatures: keys
            .iter()
            .map(|(n, k)| (n.clone(), key_fingerprint(k)))
            .collect(),
        bundle_hash: bundle_hash.clone(),
        network_warning: super::net::warning(),
        operator: o.person.unwrap_or(&signer).to_string(),
    };
    let html = sheet::html(&data);
    let text = sheet::text(&data);
    write_atomic(&rd.sheet(), html.as_bytes()).map_err(io_err(&rd.sheet()))?;
    let txt = rd.root.join("sheet.txt");
    write_atomic(&txt, text.as_bytes()).map_err(io_err(&txt))?;
    let archive_hash = write_archive(
        &rd.archive(),
        o.out,
        &written.files,
        [
            ("log.jsonl", bundle_log.as_slice()),
            ("sheet.html", html.as_bytes()),
            ("sheet.txt", text.as_bytes()),
        ],
    )?;
    // The export is logged once per distinct archive (after the draw entry: the bundle's log is a
    // prefix of the round's log).
    let log_now = rd.log(domain)?;
    let exported = log_entries(&log_now).iter().any(|e| {
        e["step"].as_str() == Some("export") && e["archive_sha256"].as_str() == Some(&archive_hash)
    });
    if !exported {
        let mut e = super::round_dir::entry("export", "bureau", o.person.unwrap_or(&signer));
        super::freeze::merge(
            &mut e,
            json!({"archive_sha256": archive_hash, "bundle_sha256": bundle_hash}),
        );
        rd.append_log(domain, e)?;
    }

    let mut s = Summary::default();
    if domain == Domain::Rehearsal {
        s.push(REHEARSAL_BANNER);
    }
    s.push(format!(
        "Draw done / 派位完成 — round {}: {} of {} applicants placed / 已录取",
        fr.round_id(),
        placed,
        fr.round.applicants.len()
    ));
    s.push(format!(
        "  seed / 种子              {}",
        grouped(&seed.to_hex())
    ));
    s.push(format!(
        "  results root / 结果根哈希 {}",
        grouped(m["results_root"].as_str().unwrap_or(""))
    ));
    s.push(format!(
        "  bundle hash / 数据包哈希  {}  (SHA-256 of manifest.json)",
        grouped(&bundle_hash)
    ));
    s.push(format!(
        "  signed by / 签名: {}",
        keys.iter()
            .map(|(n, k)| format!("{n} ({})", key_fingerprint(k)))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s.push(format!("  bundle written to {}", o.out.display()));
    s.push(format!(
        "  ceremony sheet / 仪式记录单: {}",
        rd.sheet().display()
    ));
    s.push(format!(
        "  archive / 存档: {}  SHA-256 of SHA256SUMS = {}",
        rd.archive().display(),
        grouped(&archive_hash)
    ));
    if let Some(w) = super::net::warning() {
        s.push(w);
    }
    Ok(DrawOutcome {
        summary: s,
        bundle_hash,
        archive_hash,
    })
}

/// Writes the archive folder `archive`: the bundle just written to `bundle_dir` (its files as
/// `bundle/NAME`, copied in pieces, each checked against the SHA-256 it was written with), the
/// files `extra`, and `SHA256SUMS` over all of them in name order; returns the SHA-256 of
/// `SHA256SUMS`.
fn write_archive(
    archive: &Path,
    bundle_dir: &Path,
    bundle_files: &[(String, lottery::lines::Hashed)],
    extra: [(&str, &[u8]); 3],
) -> Result<String> {
    use sha2::Digest as _;
    use std::io::Read as _;
    // (archive name, SHA-256, the bytes when in memory; a bundle file's are read back).
    let mut entries: Vec<(String, lottery::Digest, Option<&[u8]>)> = bundle_files
        .iter()
        .map(|(n, h)| (format!("bundle/{n}"), h.sha256, None))
        .chain(
            extra
                .iter()
                .map(|(n, b)| (n.to_string(), sha256(b), Some(*b))),
        )
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let sums: String = entries
        .iter()
        .map(|(n, h, _)| format!("{}  {n}\n", h.to_hex()))
        .collect();
    let mut dir = DirWriter::new(archive);
    let mut buf = vec![0u8; 1 << 20];
    for (name, hash, bytes) in &entries {
        if let Some(b) = bytes {
            dir.piece(name, b).map_err(io_err(archive))?;
            continue;
        }
        let path = bundle_dir.join(name.trim_start_matches("bundle/"));
        let mut f = std::fs::File::open(&path).map_err(io_err(&path))?;
        let mut h = sha2::Sha256::new();
        dir.piece(name, &[]).map_err(io_err(archive))?;
        loop {
            let k = f.read(&mut buf).map_err(io_err(&path))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            dir.piece(name, &buf[..k]).map_err(io_err(archive))?;
        }
        if lottery::Digest(h.finalize().into()) != *hash {
            return Err(damaged(
                &path,
                "changed after the draw wrote it; run the draw again",
            ));
        }
    }
    dir.piece("SHA256SUMS", sums.as_bytes())
        .map_err(io_err(archive))?;
    dir.finish().map_err(io_err(archive))?;
    Ok(sha256(sums.as_bytes()).to_hex())
}
