//! `fairdraw round commit` and `fairdraw round reveal`: each party's secret share.
//!
//! A share is 32 bytes, from one of three sources:
//!
//! - a share file the party brought (`fairdraw-share-v1` text, or just 64 hex digits);
//! - typed dice: at least [`MIN_DICE`] digits `1`–`6` (50 · log2 6 ≈ 129.2 bits), and
//!   `share = H(tag "fairdraw/v1/dice", digits)` — a rehearsal uses `fairdraw/v1/rehearsal/dice` —
//!   with the protocol's length-prefixed hash `H`, `digits` being the ASCII digits only (spaces,
//!   dashes and commas typed between them are dropped);
//! - the system's random source (`--random`), which must be saved to a share file the party takes
//!   away (`--save-share`).
//!
//! The round directory only ever holds the commitment until the party reveals.

use super::keys::{create_secret_file, read_secret_file};
use super::round_dir::{Frozen, RoundDir, entry};
use super::{CeremonyError, REHEARSAL_BANNER, Result, Summary, grouped};
use crate::ceremony::freeze::merge;
use lottery::bundle::Commitment;
use lottery::encoding::{Domain, hash_fields};
use lottery::seed::{Reveal, commitment};
use serde_json::json;
use std::path::Path;

/// Fewest dice accepted: 50 throws of a six-sided die carry 50 · log2(6) ≈ 129.2 bits.
pub const MIN_DICE: usize = 50;

/// Where a share comes from.
pub enum ShareSource<'a> {
    /// A share file.
    File(&'a Path),
    /// Typed dice digits.
    Dice(&'a str),
    /// The system's random source.
    Random,
}

/// `H(tag "dice", digits)` after checking there are enough digits 1–6.
pub fn dice_share(domain: Domain, typed: &str) -> Result<[u8; 32]> {
    let mut digits = String::new();
    for c in typed.chars() {
        match c {
            '1'..='6' => digits.push(c),
            ' ' | '-' | ',' | '\t' | '\n' | '\r' => {}
            _ => {
                return Err(CeremonyError::Refused(format!(
                    "--dice: {c:?} is not a die face; type only the digits 1–6 / 只能输入骰子点数 1–6"
                )));
            }
        }
    }
    if digits.len() < MIN_DICE {
        return Err(CeremonyError::Refused(format!(
            "--dice: {} dice typed; at least {MIN_DICE} are needed (50 dice ≈ 129 bits of randomness, \
             the protocol asks for at least 128) / 至少需要 {MIN_DICE} 个骰子点数（约 129 比特）",
            digits.len()
        )));
    }
    Ok(hash_fields(&domain.tag("dice"), &[digits.as_bytes()]).0)
}

/// The text of a share file.
pub fn share_file_text(fr: &Frozen, party: &str, share: &[u8; 32]) -> String {
    format!(
        "fairdraw-share-v1\nround={}\ndomain={}\nparty={party}\nshare={}\n",
        fr.round_id(),
        fr.domain().as_str(),
        hex::encode(share)
    )
}

/// Reads a share file, checking it names this round and party when it says.
pub fn read_share_file(path: &Path, fr: &Frozen, party: &str) -> Result<[u8; 32]> {
    let bytes = read_secret_file(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let bad = |why: String| CeremonyError::Refused(format!("{}: {why}", path.display()));
    let mut share = None;
    if text.starts_with("fairdraw-share-v1") {
        for l in text.lines().skip(1) {
            match l.split_once('=') {
                Some(("round", v)) if v != fr.round_id() => {
                    return Err(bad(format!(
                        "this share is for round {v}, not {}",
                        fr.round_id()
                    )));
                }
                Some(("domain", v)) if v != fr.domain().as_str() => {
                    return Err(bad(format!(
                        "this share is for a {v} round, not a {} round",
                        fr.domain().as_str()
                    )));
                }
                Some(("party", v)) if v != party => {
                    return Err(bad(format!("this share belongs to party {v}, not {party}")));
                }
                Some(("share", v)) => share = Some(v.trim().to_string()),
                _ => {}
            }
        }
    } else {
        share = Some(text.trim().to_string());
    }
    let s = share.ok_or_else(|| bad("no share= line".into()))?;
    lottery::Digest::from_hex(&s)
        .map(|d| d.0)
        .map_err(|e| bad(format!("share: {e} (expected 64 hex digits)")))
}

fn get_share(src: &ShareSource<'_>, fr: &Frozen, party: &str) -> Result<[u8; 32]> {
    match src {
        ShareSource::File(p) => read_share_file(p, fr, party),
        ShareSource::Dice(d) => dice_share(fr.domain(), d),
        ShareSource::Random => {
            let mut s = [0u8; 32];
            getrandom::fill(&mut s).map_err(|e| {
                CeremonyError::Refused(format!("the system random source failed: {e}"))
            })?;
            Ok(s)
        }
    }
}

fn check_party(fr: &Frozen, party: &str, step: &'static str) -> Result<()> {
    if fr.parties.iter().any(|p| p == party) {
        Ok(())
    } else {
        Err(CeremonyError::OutOfOrder {
            step,
            reason: format!(
                "{party:?} is not a party of this round (fixed at the freeze: {})",
                fr.parties.join(", ")
            ),
        })
    }
}

fn banner(fr: &Frozen, s: &mut Summary) {
    if fr.domain() == Domain::Rehearsal {
        s.push(REHEARSAL_BANNER);
    }
}

/// `fairdraw round commit`.
pub fn commit(
    rd: &RoundDir,
    party: &str,
    src: &ShareSource<'_>,
    save_share: Option<&Path>,
    person: Option<&str>,
) -> Result<Summary> {
    let fr = rd.load_active("commit")?;
    check_party(&fr, party, "commit")?;
    let (revealed, _) = rd.reveals(&fr)?;
    if let Some(r) = revealed.first() {
        return Err(CeremonyError::OutOfOrder {
            step: "commit",
            reason: format!(
                "commitments are closed: party {} has already revealed / 已开始公开份额，不再接受承诺",
                r.party
            ),
        });
    }
    if matches!(src, ShareSource::Random) && save_share.is_none() {
        return Err(CeremonyError::Refused(
            "--random needs --save-share FILE: the party must take its share away to reveal it later"
                .into(),
        ));
    }
    let share = get_share(src, &fr, party)?;
    let c = commitment(fr.domain(), fr.round_id(), &fr.root, party, &share);
    let mut s = Summary::default();
    banner(&fr, &mut s);
    if let Some(old) = rd.commitment(&fr, party)? {
        if old.commitment == c {
            s.push(format!(
                "Party {party} has already committed this same share; nothing changed."
            ));
            return Ok(s);
        }
        return Err(CeremonyError::Refused(format!(
            "party {party} has already committed a different share ({}); a commitment cannot be changed",
            old.commitment.to_hex()
        )));
    }
    if let Some(p) = save_share {
        create_secret_file(p, share_file_text(&fr, party, &share).as_bytes())?;
    }
    rd.write_commitment(
        &fr,
        &Commitment {
            party: party.to_string(),
            commitment: c,
        },
    )?;
    let source = match src {
        ShareSource::File(_) => "file",
        ShareSource::Dice(_) => "dice",
        ShareSource::Random => "random",
    };
    let mut e = entry("commit", party, person.unwrap_or(party));
    merge(
        &mut e,
        json!({"party": party, "commitment": c.to_hex(), "source": source}),
    );
    rd.append_log(fr.domain(), e)?;
    let (have, missing) = rd.commitments(&fr)?;
    s.push(format!("Party {party} committed / 已提交承诺:"));
    s.push(format!("  commitment / 承诺值  {}", grouped(&c.to_hex())));
    if let Some(p) = save_share {
        s.push(format!(
            "  share saved to {} (mode 0600) — take it away, keep it secret until the reveal / 份额已保存，请带走并保密",
            p.display()
        ));
    }
    s.push(format!(
        "  committed {} of {}: {}{}",
        have.len(),
        fr.parties.len(),
        have.iter()
            .map(|c| c.party.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if missing.is_empty() {
            " — all parties have committed; reveals may start / 全部承诺完毕".to_string()
        } else {
            format!("; waiting for / 等待: {}", missing.join(", "))
        }
    ));
    Ok(s)
}

/// `fairdraw round reveal`.
pub fn reveal(
    rd: &RoundDir,
    party: &str,
    src: &ShareSource<'_>,
    person: Option<&str>,
) -> Result<Summary> {
    let fr = rd.load_active("reveal")?;
    check_party(&fr, party, "reveal")?;
    if matches!(src, ShareSource::Random) {
        return Err(CeremonyError::Refused(
            "reveal needs the committed share: --share-file FILE or --dice DIGITS".into(),
        ));
    }
    let (_, missing) = rd.commitments(&fr)?;
    if !missing.is_empty() {
        return Err(CeremonyError::OutOfOrder {
            step: "reveal",
            reason: format!(
                "not all parties have committed: missing {} / 尚有参与方未提交承诺",
                missing.join(", ")
            ),
        });
    }
    let share = get_share(src, &fr, party)?;
    let Some(com) = rd.commitment(&fr, party)? else {
        return Err(CeremonyError::OutOfOrder {
            step: "reveal",
            reason: format!("party {party} has not committed"),
        });
    };
    let c = commitment(fr.domain(), fr.round_id(), &fr.root, party, &share);
    if c != com.commitment {
        return Err(CeremonyError::Refused(format!(
            "party {party}: this share does not match its commitment (committed {}, this share gives {}); \
             wrong share file or mistyped dice? Nothing was recorded / 份额与承诺不符，未记录",
            com.commitment.to_hex(),
            c.to_hex()
        )));
    }
    let mut s = Summary::default();
    banner(&fr, &mut s);
    if let Some(old) = rd.reveal(party)? {
        if old.share == share {
            s.push(format!(
                "Party {party} has already revealed this share; nothing changed."
            ));
            return Ok(s);
        }
        return Err(damaged_reveal(rd, party));
    }
    if rd.beacon()?.is_some() {
        return Err(CeremonyError::OutOfOrder {
            step: "reveal",
            reason: "the beacon is already recorded".into(),
        });
    }
    rd.write_reveal(&Reveal {
        party: party.to_string(),
        share,
    })?;
    let mut e = entry("reveal", party, person.unwrap_or(party));
    merge(&mut e, json!({"party": party, "share": hex::encode(share)}));
    rd.append_log(fr.domain(), e)?;
    let (have, missing) = rd.reveals(&fr)?;
    s.push(format!(
        "Party {party} revealed its share; it matches the commitment / 份额已公开，与承诺一致:"
    ));
    s.push(format!("  share / 份额  {}", grouped(&hex::encode(share))));
    s.push(format!(
        "  revealed {} of {}{}",
        have.len(),
        fr.parties.len(),
        if missing.is_empty() {
            " — all shares revealed; now record the beacon / 全部公开，下一步：记录信标".to_string()
        } else {
            format!("; waiting for / 等待: {}", missing.join(", "))
        }
    ));
    Ok(s)
}

fn damaged_reveal(rd: &RoundDir, party: &str) -> CeremonyError {
    super::damaged(
        &rd.reveal_file(party),
        "a different share is already recorded for this party",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dice_needs_fifty_faces() {
        let d49 = "1".repeat(49);
        assert!(dice_share(Domain::Real, &d49).is_err());
        assert!(dice_share(Domain::Real, &format!("{d49}7")).is_err());
        let fifty = "12345 61234 56123 45612 34561 23456 12345 61234 56123 45612";
        let a = dice_share(Domain::Real, fifty).unwrap_or([0; 32]);
        assert_eq!(
            a,
            hash_fields("fairdraw/v1/dice", &[fifty.replace(' ', "").as_bytes()]).0
        );
        assert_ne!(a, dice_share(Domain::Rehearsal, fifty).unwrap_or([0; 32]));
        // Known answers (docs/CEREMONY.md §5), computed independently with Python's hashlib.
        let d = "31642515662341425361254361263451236615423316425156";
        assert_eq!(
            hex::encode(dice_share(Domain::Real, d).unwrap_or([0; 32])),
            "a582c01de572a640f2d141410c7003df3c7898a60e22c75ff31f483a9761eb62"
        );
        assert_eq!(
            hex::encode(dice_share(Domain::Rehearsal, d).unwrap_or([0; 32])),
            "7943bb91e1bb820d58dd1f460bfdd1c6c0c4a08343e80ac51d4b13176c7c45d5"
        );
        // 50 · log2(6) ≥ 128.
        assert!(50.0 * 6f64.log2() >= 128.0);
    }
}
