//! `fairdraw round freeze`: validate the bureau's files (all or nothing), write the public files
//! as the engine reads them, compute the input root, sign the checkpoint and print the counts a
//! clerk reads aloud — all before any randomness exists.

use super::keys::{create_secret_file, key_fingerprint, read_key, read_secret_file};
use super::round_dir::{FROZEN_FILES, RoundDir, entry, log_entries};
use super::{CeremonyError, REHEARSAL_BANNER, Result, Summary, damaged, io_err, spinner};
use crate::import::{self, InputFiles};
use crate::output::write_dir_atomic;
use lottery::bundle::{checkpoint_with_root, signed_file};
use lottery::encoding::Domain;
use serde_json::{Value, json};
use std::path::Path;

/// Options of the freeze.
pub struct FreezeOptions<'a> {
    /// The bureau's input directory.
    pub inputs: &'a Path,
    /// The bureau's key file.
    pub key: &'a Path,
    /// The bureau's 32-byte salt key file (64 hex digits); default `private/salt.key`, created.
    pub salt_key: Option<&'a Path>,
    /// Parties that will commit (ids).
    pub parties: Vec<String>,
    /// Make this a rehearsal by rewriting the policy's `mode = "real"` line.
    pub rehearsal: bool,
    /// Name of the person at the keyboard (for the log).
    pub person: Option<&'a str>,
}

/// Rewrites `mode = "real"` in the `[round]` section to `mode = "rehearsal"`. Refuses unless there
/// is exactly one such plain line (anything else: edit the policy yourself).
pub fn make_rehearsal(policy: &[u8]) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(policy)
        .map_err(|_| CeremonyError::Refused("policy.toml is not UTF-8".into()))?;
    let mut section = String::new();
    let mut hits = Vec::new();
    let mut already = false;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            section = t.to_string();
            continue;
        }
        if section == "[round]"
            && let Some((k, v)) = t.split_once('=')
            && k.trim() == "mode"
        {
            match v.trim() {
                "\"real\"" => hits.push(i),
                "\"rehearsal\"" => already = true,
                _ => {}
            }
        }
    }
    if already && hits.is_empty() {
        return Ok(policy.to_vec());
    }
    if hits.len() != 1 {
        return Err(CeremonyError::Refused(
            "--rehearsal: policy.toml's [round] section has no single plain `mode = \"real\"` line to rewrite; \
             write mode = \"rehearsal\" in the policy yourself / 请在 policy.toml 中自行写 mode = \"rehearsal\""
                .into(),
        ));
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i == hits[0] {
            let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
            let nl = if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            out.push_str(&format!("{indent}mode = \"rehearsal\"{nl}"));
        } else {
            out.push_str(line);
        }
    }
    Ok(out.into_bytes())
}

/// The salt key, and whether it is new (to be saved in `private/salt.key` once the freeze
/// succeeds: a failed freeze writes nothing).
fn salt_key(rd: &RoundDir, given: Option<&Path>) -> Result<([u8; 32], bool)> {
    let parse = |p: &Path, b: Vec<u8>| -> Result<[u8; 32]> {
        let t = String::from_utf8_lossy(&b);
        lottery::Digest::from_hex(t.trim())
            .map(|d| d.0)
            .map_err(|e| CeremonyError::Refused(format!("{}: salt key: {e}", p.display())))
    };
    if let Some(p) = given {
        return Ok((parse(p, read_secret_file(p)?)?, false));
    }
    let p = rd.private().join("salt.key");
    if p.is_file() {
        return Ok((parse(&p, read_secret_file(&p)?)?, false));
    }
    let mut k = [0u8; 32];
    getrandom::fill(&mut k)
        .map_err(|e| CeremonyError::Refused(format!("the system random source failed: {e}")))?;
    Ok((k, true))
}

fn set_private_mode(dir: &Path) -> Result<()> {
    crate::output::create_private_dir(dir).map_err(io_err(dir))
}

/// Runs the freeze.
pub fn freeze(rd: &RoundDir, o: &FreezeOptions<'_>) -> Result<Summary> {
    let (signer, key) = read_key(o.key)?;
    let mut parties = o.parties.clone();
    parties.sort();
    parties.dedup();
    if parties.is_empty() || parties.len() != o.parties.len() {
        return Err(CeremonyError::Refused(
            "--parties: name each party once (e.g. bureau,notary,observer)".into(),
        ));
    }
    if let Some(bad) = parties.iter().find(|p| !lottery::policy::is_id(p)) {
        return Err(CeremonyError::Refused(format!(
            "party {bad:?}: use 1–64 of A–Z a–z 0–9 . _ -"
        )));
    }
    if !rd.is_frozen()
        && rd.root.is_dir()
        && std::fs::read_dir(&rd.root)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(CeremonyError::Refused(format!(
            "{}: a new round needs a new or empty directory (this one holds other files) / 请使用新的空目录",
            rd.root.display()
        )));
    }
    let mut files: InputFiles = import::load_dir(o.inputs).map_err(|e| {
        CeremonyError::Refused(format!(
            "cannot read the input files / 无法读取输入文件: {e}"
        ))
    })?;
    // The policy as given (kept in `inputs/`); a rehearsal freezes it rewritten.
    let original_policy = if o.rehearsal {
        let rewritten = make_rehearsal(&files.policy.1)?;
        Some(std::mem::replace(&mut files.policy.1, rewritten))
    } else {
        None
    };
    let (salt, new_salt) = salt_key(rd, o.salt_key)?;
    let pb = spinner("validating the input files / 正在校验输入文件");
    let imported = import::import_round(&files, &salt);
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let v = imported.map_err(CeremonyError::Problems)?;
    let round = &v.round;
    let domain = round.domain();
    let pb = spinner("computing the input root / 正在计算名单根哈希");
    let (root, size) = round.input_root();
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let cp_doc = checkpoint_with_root(round, &root, size);
    let cp_file = signed_file(domain, "checkpoint", &cp_doc, &[(&signer, &key)]);
    let mut frozen: Vec<(&str, &[u8])> = v.public.files().to_vec();
    frozen.push(("checkpoint.json", &cp_file));

    if rd.is_frozen() {
        // Idempotent: the same inputs and key give the same bytes; anything else is refused.
        let same = frozen.iter().all(|(n, b)| {
            std::fs::read(rd.frozen().join(n))
                .map(|x| x == **b)
                .unwrap_or(false)
        });
        let fr = rd.load("freeze")?;
        if !same || fr.parties != parties {
            return Err(CeremonyError::OutOfOrder {
                step: "freeze",
                reason: format!(
                    "the round in {} is already frozen with other inputs, key or parties; \
                     a frozen round cannot be changed (start a new round directory) / 名单已冻结，不能更改",
                    rd.root.display()
                ),
            });
        }
        let log = rd.log(domain)?;
        if log_entries(&log)
            .iter()
            .any(|e| e["step"].as_str() == Some("freeze"))
        {
            let mut s = summary(rd, &v, &cp_doc, &signer, &key);
            s.lines.insert(
                0,
                "Already frozen with these same inputs; nothing changed. / 已冻结（内容相同），未做更改"
                    .into(),
            );
            return Ok(s);
        }
    } else {
        // Private side first, then the public files (whose checkpoint marks the round frozen).
        set_private_mode(&rd.root)?;
        set_private_mode(&rd.private())?;
        if new_salt {
            let p = rd.private().join("salt.key");
            create_secret_file(&p, format!("{}\n", hex::encode(salt)).as_bytes())?;
        }
        let inputs_dir = rd.inputs();
        let policy = original_policy.as_ref().unwrap_or(&files.policy.1);
        let mut copies: Vec<(&str, &[u8])> = vec![
            (&files.policy.0, policy),
            (&files.schools.0, &files.schools.1),
        ];
        if let Some(t) = &files.teachers {
            copies.push((&t.0, &t.1));
        }
        copies.push((&files.applicants.0, &files.applicants.1));
        write_dir_atomic(&inputs_dir, &copies).map_err(io_err(&inputs_dir))?;
        set_private_mode(&inputs_dir)?;
        import::write_private(&rd.private(), &v, None).map_err(io_err(&rd.private()))?;
        rd.write_parties(&parties)?;
        write_dir_atomic(&rd.frozen(), &frozen).map_err(io_err(&rd.frozen()))?;
    }
    let build = super::sheet::BuildIdentity::current();
    let mut e = entry("freeze", "bureau", o.person.unwrap_or(&signer));
    let extra = json!({
        "signer": signer,
        "fingerprint": key_fingerprint(&key),
        "round_id": round.policy.round.id,
        "input_root": root.to_hex(),
        "tree_size": size,
        "applicants": round.applicants.len() as u64,
        "schools": round.schools.len() as u64,
        "seats": round.schools.iter().map(|s| u64::from(s.capacity)).sum::<u64>(),
        "checkpoint_sha256": lottery::encoding::sha256(&cp_file).to_hex(),
        "parties": parties,
        "fairdraw": build.version,
        "executable_sha256": build.executable_sha256,
    });
    merge(&mut e, extra);
    rd.append_log(domain, e)?;
    let s = summary(rd, &v, &cp_doc, &signer, &key);
    // A million applicants' records are freed on a pool thread, not on the way out.
    rayon::spawn(move || drop(v));
    Ok(s)
}

/// Adds the fields of `extra` to the object `e`.
pub fn merge(e: &mut Value, extra: Value) {
    if let (Some(m), Value::Object(x)) = (e.as_object_mut(), extra) {
        m.extend(x);
    }
}

fn summary(
    rd: &RoundDir,
    v: &import::ValidatedRound,
    cp: &Value,
    signer: &str,
    key: &ed25519_dalek::SigningKey,
) -> Summary {
    let round = &v.round;
    let p = &round.policy;
    let mut s = Summary::default();
    if round.domain() == Domain::Rehearsal {
        s.push(REHEARSAL_BANNER);
    }
    s.push(format!(
        "Round {} — {} / 名单已冻结",
        p.round.id, p.round.title
    ));
    s.push(format!(
        "  {} applicants / 申请人, {} schools / 学校, {} seats / 学位",
        cp["applicants"],
        round.schools.len(),
        cp["seats"]
    ));
    s.push("  school 学校       seats 学位  1st choice 第一志愿  listed 填报  name 校名");
    let schools = cp["schools"].as_array().cloned().unwrap_or_default();
    for (sc, j) in round.schools.iter().zip(schools) {
        s.push(format!(
            "  {:<12} {:>10}  {:>18}  {:>11}  {}{}",
            sc.id,
            j["seats"].as_u64().unwrap_or(0),
            j["first_choice"].as_u64().unwrap_or(0),
            j["listed"].as_u64().unwrap_or(0),
            sc.name,
            if sc.private { " (民办 private)" } else { "" }
        ));
    }
    for c in cp["categories"].as_array().into_iter().flatten() {
        let code = c["category"].as_str().unwrap_or("");
        let label = p
            .categories
            .iter()
            .find(|k| k.code == code)
            .map(|k| k.label.as_str())
            .unwrap_or("");
        s.push(format!(
            "  category 类别 {code:<20} {:>6}  {label}",
            c["applicants"].as_u64().unwrap_or(0)
        ));
    }
    for t in cp["tracks"].as_array().into_iter().flatten() {
        s.push(format!(
            "  track 通道    {:<20} {:>6}",
            t["track"].as_str().unwrap_or(""),
            t["applicants"].as_u64().unwrap_or(0)
        ));
    }
    s.push(format!(
        "  input root / 名单根哈希  {}",
        super::grouped(cp["input_root"].as_str().unwrap_or(""))
    ));
    s.push(format!(
        "  checkpoint signed by {signer} (fingerprint {})",
        key_fingerprint(key)
    ));
    s.push(format!(
        "  private notices and secrets: {} (keep sealed; never publish) / 私密文件",
        rd.private().display()
    ));
    s
}

/// The checked frozen file names (for `status`).
pub fn frozen_present(rd: &RoundDir) -> Result<bool> {
    let all = FROZEN_FILES.iter().all(|n| rd.frozen().join(n).is_file());
    if rd.is_frozen() && !all {
        return Err(damaged(&rd.frozen(), "a frozen file is missing"));
    }
    Ok(rd.is_frozen())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rehearsal_rewrite() {
        let p = b"protocol = \"fairdraw/v1\"\n[round]\nid = \"R\"\n  mode = \"real\"\n[other]\nmode = \"real\"\n";
        let out = make_rehearsal(p).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "protocol = \"fairdraw/v1\"\n[round]\nid = \"R\"\n  mode = \"rehearsal\"\n[other]\nmode = \"real\"\n"
        );
        assert_eq!(make_rehearsal(&out).unwrap_or_default(), out);
        assert!(make_rehearsal(b"[round]\nmode = 'real'\n").is_err());
    }
}
