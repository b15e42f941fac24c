//! `fairdraw round beacon`: the public value mixed into the seed, recorded after every share is
//! revealed (so no party can choose its share knowing the beacon).
//!
//! Kinds: `drand` (a drand round's randomness, given as hex; offline BLS verification against
//! pinned chain info is not implemented yet — the source must name the chain and round so anyone
//! can check it online afterwards), `hall_digits` (digits read in the hall, e.g. from balls),
//! `lottery_result` (a published lottery draw), `index_close` (a published index), `text`.

use super::round_dir::{RoundDir, entry};
use super::{CeremonyError, REHEARSAL_BANNER, Result, Summary, grouped};
use crate::ceremony::freeze::merge;
use lottery::bundle::Beacon;
use lottery::encoding::Domain;
use serde_json::json;

/// Accepted kinds.
pub const KINDS: [&str; 5] = [
    "drand",
    "hall_digits",
    "lottery_result",
    "index_close",
    "text",
];

/// The value as given on the command line.
pub enum BeaconValue<'a> {
    /// Hex digits (e.g. drand randomness).
    Hex(&'a str),
    /// Text, taken as its UTF-8 bytes.
    Text(&'a str),
    /// Decimal digits, taken as their ASCII bytes (spaces dropped).
    Digits(&'a str),
    /// A drand round, verified offline against the pinned chain; the value is its randomness.
    Drand {
        /// Pinned chain name (`quicknet`).
        chain: &'a str,
        /// Round number.
        round: u64,
        /// The round's BLS signature (hex).
        signature: &'a str,
    },
}

/// The bytes of a beacon value.
pub fn value_bytes(v: &BeaconValue<'_>) -> Result<Vec<u8>> {
    let bytes = match v {
        BeaconValue::Hex(h) => {
            let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
            hex::decode(&h).map_err(|e| CeremonyError::Refused(format!("--hex: {e}")))?
        }
        BeaconValue::Text(t) => t.as_bytes().to_vec(),
        BeaconValue::Digits(d) => {
            let d: String = d.chars().filter(|c| !c.is_whitespace()).collect();
            if !d.chars().all(|c| c.is_ascii_digit()) {
                return Err(CeremonyError::Refused(
                    "--digits: only the digits 0–9".into(),
                ));
            }
            d.into_bytes()
        }
        BeaconValue::Drand {
            chain,
            round,
            signature,
        } => {
            let c = super::drand::chain(chain)
                .map_err(|e| CeremonyError::Refused(format!("drand: {e}")))?;
            super::drand::verify(c, *round, signature)
                .map_err(|e| CeremonyError::Refused(format!("drand: {e}; nothing was recorded")))?
                .to_vec()
        }
    };
    if bytes.is_empty() || bytes.len() > 4096 {
        return Err(CeremonyError::Refused(
            "the beacon value must be 1 to 4096 bytes".into(),
        ));
    }
    Ok(bytes)
}

/// `fairdraw round beacon`.
pub fn beacon(
    rd: &RoundDir,
    value: &BeaconValue<'_>,
    kind: &str,
    source: &str,
    person: Option<&str>,
) -> Result<Summary> {
    let fr = rd.load_active("record the beacon")?;
    if !KINDS.contains(&kind) {
        return Err(CeremonyError::Refused(format!(
            "--kind {kind:?}: one of {}",
            KINDS.join(", ")
        )));
    }
    let mut notes = Vec::new();
    let source = match value {
        BeaconValue::Drand {
            chain,
            round,
            signature,
        } => {
            if kind != "drand" {
                return Err(CeremonyError::Refused(
                    "a drand round needs --kind drand".into(),
                ));
            }
            let c = super::drand::chain(chain)
                .map_err(|e| CeremonyError::Refused(format!("drand: {e}")))?;
            let published = super::rfc3339(super::drand::round_time(c, *round));
            let log = rd.log(fr.domain())?;
            let last_reveal = super::round_dir::log_entries(&log)
                .iter()
                .filter(|e| e["step"].as_str() == Some("reveal"))
                .filter_map(|e| e["time"].as_str().map(str::to_string))
                .max();
            if let Some(t) = last_reveal.filter(|t| published < *t) {
                notes.push(format!(
                    "  WARNING: drand round {round} was published at {published}, before the last reveal \
                     ({t} by this PC's clock): its value was already public. Use a later round unless the \
                     PC's clock is wrong / 警告：该 drand 轮次早于最后一次公开份额"
                ));
            }
            let sig: String = signature.chars().filter(|c| !c.is_whitespace()).collect();
            let auto = format!(
                "drand {} chain {} round {round} published {published} signature {}",
                c.name,
                c.hash,
                sig.to_lowercase()
            );
            if source.trim().is_empty() {
                auto
            } else {
                format!("{}; {auto}", source.trim())
            }
        }
        _ => source.to_string(),
    };
    let source = source.as_str();
    if source.trim().is_empty() {
        return Err(CeremonyError::Refused(
            "--source: say where the value comes from (e.g. \"drand quicknet round 1234567\")"
                .into(),
        ));
    }
    let (_, missing_c) = rd.commitments(&fr)?;
    let (_, missing) = rd.reveals(&fr)?;
    if !missing_c.is_empty() || !missing.is_empty() {
        return Err(CeremonyError::OutOfOrder {
            step: "record the beacon",
            reason: format!(
                "not all parties have revealed: missing {} (the beacon comes after every reveal) / 尚有参与方未公开份额",
                missing.join(", ")
            ),
        });
    }
    let b = Beacon {
        kind: kind.to_string(),
        source: source.to_string(),
        value: value_bytes(value)?,
    };
    let mut s = Summary::default();
    if fr.domain() == Domain::Rehearsal {
        s.push(REHEARSAL_BANNER);
    }
    if let Some(old) = rd.beacon()? {
        if old == b {
            s.push("The same beacon is already recorded; nothing changed.");
            return Ok(s);
        }
        return Err(CeremonyError::OutOfOrder {
            step: "record the beacon",
            reason: format!(
                "a different beacon is already recorded ({} {:?}); it cannot be changed",
                old.kind, old.source
            ),
        });
    }
    rd.write_beacon(&b)?;
    let mut e = entry("beacon", "bureau", person.unwrap_or("bureau"));
    merge(
        &mut e,
        json!({"kind": b.kind, "source": b.source, "value": hex::encode(&b.value)}),
    );
    if !notes.is_empty() {
        merge(
            &mut e,
            json!({"warnings": notes.iter().map(|n| n.trim()).collect::<Vec<_>>()}),
        );
    }
    rd.append_log(fr.domain(), e)?;
    s.push("Beacon recorded / 信标已记录:");
    s.push(format!("  kind {}  source {}", b.kind, b.source));
    s.push(format!("  value (hex) {}", grouped(&hex::encode(&b.value))));
    if let BeaconValue::Drand { chain, round, .. } = value {
        s.push(format!(
            "  drand {chain} round {round}: BLS signature verified offline against the pinned chain key / 已离线验证签名"
        ));
    } else if kind == "drand" {
        s.push("  note: given as plain hex, the drand signature was not verified; prefer --drand-round and --drand-signature");
    }
    for n in notes {
        s.push(n);
    }
    s.push("Next: fairdraw draw ROUND_DIR --key KEY --out DIR / 下一步：派位");
    Ok(s)
}
