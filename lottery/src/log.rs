//! The hash-chained ceremony log (PROTOCOL.md §8.4).
//!
//! `log.jsonl` holds one canonical-JSON object per line. Entry `k` (from 1) carries
//! `"seq": k` and `"prev"`: the hash of entry `k−1` (64 zeros for the first). The hash of an entry
//! is `H(tag "log", line bytes)`; the head — the last entry's hash — is written in the manifest, so
//! no step can be removed, reordered or edited afterwards without breaking the chain.

use crate::digest::Digest;
use crate::encoding::{Domain, hash_fields};
use crate::manifest::jcs;
use serde_json::{Map, Value};

/// Why a log does not chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A line is not JSON, not canonical, or lacks a field.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
}

/// The hash of one log line.
pub fn entry_hash(domain: Domain, line: &[u8]) -> Digest {
    hash_fields(&domain.tag("log"), &[line])
}

/// Appends an entry (an object without `seq`/`prev`) to a log, returning the new log bytes and head.
pub fn append(
    domain: Domain,
    log: &[u8],
    mut entry: Map<String, Value>,
) -> Result<(Vec<u8>, Digest), LogError> {
    let (head, count) = if log.is_empty() {
        (Digest([0; 32]), 0)
    } else {
        (verify_chain(domain, log)?, count_lines(log))
    };
    entry.insert("seq".into(), Value::from(count as u64 + 1));
    entry.insert("prev".into(), Value::String(head.to_hex()));
    let line = jcs(&Value::Object(entry)).map_err(|e| LogError::Line {
        line: count + 1,
        reason: e.to_string(),
    })?;
    let mut out = log.to_vec();
    out.extend_from_slice(&line);
    out.push(b'\n');
    Ok((out, entry_hash(domain, &line)))
}

fn count_lines(log: &[u8]) -> usize {
    log.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count()
}

/// Checks every link and returns the head.
pub fn verify_chain(domain: Domain, log: &[u8]) -> Result<Digest, LogError> {
    if !log.is_empty() && !log.ends_with(b"\n") {
        return Err(LogError::Line {
            line: count_lines(log),
            reason: "the log must end with a line break".into(),
        });
    }
    let mut head = Digest([0; 32]);
    let Some(body) = log.strip_suffix(b"\n") else {
        return Ok(head);
    };
    for (k, line) in body.split(|b| *b == b'\n').enumerate() {
        let n = k + 1;
        let err = |reason: &str| LogError::Line {
            line: n,
            reason: reason.to_string(),
        };
        // One entry per line, none blank: a log has exactly one written form.
        if line.is_empty() {
            return Err(err("empty line"));
        }
        let v: Value = serde_json::from_slice(line).map_err(|_| err("not JSON"))?;
        if jcs(&v).ok().as_deref() != Some(line) {
            return Err(err("not in canonical JSON form"));
        }
        if v.get("seq").and_then(Value::as_u64) != Some(n as u64) {
            return Err(err("wrong sequence number"));
        }
        if v.get("prev").and_then(Value::as_str) != Some(head.to_hex().as_str()) {
            return Err(err(
                "prev does not match the hash of the previous entry (an entry was changed, removed or reordered)",
            ));
        }
        head = entry_hash(domain, line);
    }
    Ok(head)
}

/// What a bundle holds that a ceremony log's entries name (PROTOCOL.md §8.4): the values its
/// `freeze`, `commit`, `reveal`, `beacon` and `draw` entries must agree with.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The manifest's `round_id`.
    pub round_id: String,
    /// The manifest's `input_root` (hex).
    pub input_root: String,
    /// The manifest's `tree_size`.
    pub tree_size: u64,
    /// SHA-256 of `checkpoint.json` (hex).
    pub checkpoint_sha256: String,
    /// `commitments.json`: (party, commitment hex).
    pub commitments: Vec<(String, String)>,
    /// `reveals.json`: (party, share hex).
    pub reveals: Vec<(String, String)>,
    /// `beacon.json`: kind, source, value (hex).
    pub beacon: [String; 3],
    /// The manifest's `seed` (hex).
    pub seed: String,
}

/// The order of the ceremony's steps within an attempt (PROTOCOL.md §4.2): all commitments,
/// then all reveals, then the beacon, then the draw.
fn phase(step: &str) -> Option<(u8, &'static str)> {
    match step {
        "commit" => Some((1, "commit")),
        "reveal" => Some((2, "reveal")),
        "beacon" => Some((3, "beacon")),
        "draw" => Some((4, "draw")),
        _ => None,
    }
}

/// Checks a chained log's entries against the bundle (PROTOCOL.md §8.4, check V10): the values
/// an entry names agree with the bundle's, the steps of the final attempt come in the
/// ceremony's order, and the final attempt's `commit` and `reveal` entries name exactly the
/// parties of `commitments.json` and `reveals.json`. Call it on a log [`verify_chain`] accepts.
pub fn check_entries(log: &[u8], facts: &Facts) -> Result<(), LogError> {
    let entries: Vec<(usize, Value)> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(k, l)| (k + 1, serde_json::from_slice(l).unwrap_or(Value::Null)))
        .collect();
    let text = |v: &Value, k: &str| v.get(k).map(|x| x.as_str().map(str::to_string));
    let step = |v: &Value| {
        v.get("step")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    // Entries after the last abort are the final attempt; earlier ones are history.
    let attempt = entries
        .iter()
        .rposition(|(_, v)| step(v) == "abort")
        .map_or(0, |k| k + 1);
    let mut reached: Option<(u8, &str)> = None;
    // The entries that name a party's value: (step, field, the ceremony file, its pairs), and
    // the (line, party) of each such entry of the final attempt.
    let party_steps = [
        (
            "commit",
            "commitment",
            "commitments.json",
            &facts.commitments,
        ),
        ("reveal", "share", "reveals.json", &facts.reveals),
    ];
    let mut seen: [Vec<(usize, String)>; 2] = Default::default();
    for (k, (line, v)) in entries.iter().enumerate() {
        let line = *line;
        let fail = |reason: String| Err(LogError::Line { line, reason });
        // A named value that differs from the bundle's (`None`: not named; `Some(None)`: not a
        // string).
        let differs =
            |k: &str, want: &str| text(v, k).is_some_and(|got| got.as_deref() != Some(want));
        let st = step(v);
        match st.as_str() {
            "freeze" => {
                if let Some((_, after)) = reached {
                    return fail(format!("a freeze entry after a {after} entry"));
                }
                for (k, want) in [
                    ("round_id", &facts.round_id),
                    ("input_root", &facts.input_root),
                    ("checkpoint_sha256", &facts.checkpoint_sha256),
                ] {
                    if differs(k, want) {
                        return fail(format!(
                            "the freeze entry's {k} is {}, the bundle's {want}",
                            v[k]
                        ));
                    }
                }
                if v.get("tree_size")
                    .is_some_and(|t| t.as_u64() != Some(facts.tree_size))
                {
                    return fail(format!(
                        "the freeze entry's tree_size is {}, the manifest's {}",
                        v["tree_size"], facts.tree_size
                    ));
                }
            }
            _ if k < attempt => {}
            _ => {
                if let Some(p) = phase(&st) {
                    if let Some((r, after)) = reached
                        && p.0 < r
                    {
                        return fail(format!(
                            "a {st} entry after a {after} entry: the ceremony's steps are commit, reveal, beacon, draw"
                        ));
                    }
                    reached = Some(reached.map_or(p, |r| r.max(p)));
                }
            }
        }
        if k < attempt {
            continue;
        }
        if let Some(j) = party_steps.iter().position(|(s, ..)| *s == st) {
            let (_, field, file, list) = party_steps[j];
            let party = text(v, "party").flatten().unwrap_or_default();
            if let Some(got) = text(v, field) {
                match list.iter().find(|(p, _)| *p == party) {
                    Some((_, w)) if got.as_deref() == Some(w.as_str()) => {}
                    None => {
                        return fail(format!(
                            "the {st} entry names party {party:?}, which {file} does not list"
                        ));
                    }
                    Some((_, w)) => {
                        return fail(format!(
                            "the {st} entry's {field} for party {party} is {}, {file} has {w}",
                            v[field]
                        ));
                    }
                }
            }
            if v.get("party").is_some() {
                if seen[j].iter().any(|(_, p)| *p == party) {
                    return fail(format!("a second {st} entry for party {party}"));
                }
                seen[j].push((line, party));
            }
        }
        match st.as_str() {
            "beacon" => {
                for (k, want) in ["kind", "source", "value"].iter().zip(&facts.beacon) {
                    if differs(k, want) {
                        return fail(format!(
                            "the beacon entry's {k} is {}, beacon.json's {want:?}",
                            v[*k]
                        ));
                    }
                }
            }
            "draw" if differs("seed", &facts.seed) => {
                return fail(format!(
                    "the draw entry's seed is {}, the manifest's {}",
                    v["seed"], facts.seed
                ));
            }
            _ => {}
        }
    }
    // Entries that name parties name them all.
    for ((st, _, file, list), seen) in party_steps.iter().zip(&seen) {
        if let Some(&(line, _)) = seen.last()
            && let Some((p, _)) = list.iter().find(|(p, _)| !seen.iter().any(|(_, s)| s == p))
        {
            return Err(LogError::Line {
                line,
                reason: format!(
                    "the final attempt's {st} entries name no {st} of party {p}, which {file} lists"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn chain_appends_and_detects_edits() {
        let d = Domain::Real;
        let (log, h1) = append(d, b"", obj(json!({"step": "freeze"}))).unwrap_or_default();
        let (log, h2) =
            append(d, &log, obj(json!({"step": "commit", "party": "notary"}))).unwrap_or_default();
        assert_ne!(h1, h2);
        assert_eq!(verify_chain(d, &log), Ok(h2));
        // Editing the last entry changes the head (the manifest's log_head catches it) …
        let text = String::from_utf8_lossy(&log).replace("notary", "notarx");
        assert_ne!(verify_chain(d, text.as_bytes()), Ok(h2));
        // … editing an earlier entry breaks the chain itself.
        let text = String::from_utf8_lossy(&log).replace("freeze", "freezx");
        assert!(verify_chain(d, text.as_bytes()).is_err());
        let lines: Vec<&str> = std::str::from_utf8(&log).unwrap_or("").lines().collect();
        let swapped = format!("{}\n{}\n", lines[1], lines[0]);
        assert!(verify_chain(d, swapped.as_bytes()).is_err());
        // A rehearsal chain differs.
        assert_ne!(verify_chain(Domain::Rehearsal, &log), Ok(h2));
    }

    fn facts() -> Facts {
        Facts {
            round_id: "r1".into(),
            input_root: "aa".repeat(32),
            tree_size: 7,
            checkpoint_sha256: "cc".repeat(32),
            commitments: vec![
                ("bureau".into(), "01".repeat(32)),
                ("notary".into(), "02".repeat(32)),
            ],
            reveals: vec![
                ("bureau".into(), "11".repeat(32)),
                ("notary".into(), "12".repeat(32)),
            ],
            beacon: ["text".into(), "the hall".into(), "3134".into()],
            seed: "ee".repeat(32),
        }
    }

    /// A log of `entries`, chained.
    fn log_of(entries: &[Value]) -> Vec<u8> {
        entries.iter().fold(Vec::new(), |log, e| {
            append(Domain::Real, &log, obj(e.clone())).map_or(log, |(l, _)| l)
        })
    }

    /// The ceremony of `facts()`, as the ceremony tool logs it.
    fn ceremony() -> Vec<Value> {
        let f = facts();
        vec![
            json!({"step": "freeze", "round_id": "r1", "input_root": f.input_root, "tree_size": 7, "checkpoint_sha256": f.checkpoint_sha256}),
            json!({"step": "commit", "party": "bureau", "commitment": "01".repeat(32)}),
            json!({"step": "commit", "party": "notary", "commitment": "02".repeat(32)}),
            json!({"step": "reveal", "party": "notary", "share": "12".repeat(32)}),
            json!({"step": "reveal", "party": "bureau", "share": "11".repeat(32)}),
            json!({"step": "remark", "text": "tea break"}),
            json!({"step": "beacon", "kind": "text", "source": "the hall", "value": "3134"}),
            json!({"step": "draw", "seed": f.seed}),
            json!({"step": "export"}),
        ]
    }

    fn reason(entries: &[Value]) -> String {
        match check_entries(&log_of(entries), &facts()) {
            Ok(()) => String::new(),
            Err(LogError::Line { line, reason }) => format!("{line}: {reason}"),
        }
    }

    #[test]
    fn entries_agree_with_the_bundle() {
        assert_eq!(reason(&ceremony()), "");
        // Entries that name no values (another tool's log) are not checked against anything.
        let bare: Vec<Value> = ["freeze", "commit", "reveal", "beacon", "draw"]
            .iter()
            .map(|s| json!({"step": s, "detail": "done"}))
            .collect();
        assert_eq!(reason(&bare), "");
        assert_eq!(reason(&[]), "");
    }

    #[test]
    fn an_entry_naming_another_value_is_caught() {
        let cases: [(usize, &str, Value, &str); 7] = [
            (
                0,
                "input_root",
                json!("ab".repeat(32)),
                "1: the freeze entry's input_root",
            ),
            (
                0,
                "tree_size",
                json!(8),
                "1: the freeze entry's tree_size is 8",
            ),
            (
                1,
                "commitment",
                json!("03".repeat(32)),
                "2: the commit entry's commitment for party bureau",
            ),
            (
                2,
                "party",
                json!("observer"),
                "3: the commit entry names party \"observer\"",
            ),
            (
                3,
                "share",
                json!("13".repeat(32)),
                "4: the reveal entry's share for party notary",
            ),
            (6, "value", json!("3135"), "7: the beacon entry's value"),
            (
                7,
                "seed",
                json!("ef".repeat(32)),
                "8: the draw entry's seed",
            ),
        ];
        for (k, field, value, want) in cases {
            let mut e = ceremony();
            e[k][field] = value;
            let got = reason(&e);
            assert!(got.starts_with(want), "{field}: {got}");
        }
    }

    #[test]
    fn steps_out_of_order_or_missing_are_caught() {
        // A reveal before the last commitment: a party could have committed knowing a share.
        let mut e = ceremony();
        e.swap(2, 3);
        assert!(
            reason(&e).starts_with("4: a commit entry after a reveal entry"),
            "{}",
            reason(&e)
        );
        // The beacon before the reveals closed.
        let mut e = ceremony();
        let beacon = e.remove(6);
        e.insert(3, beacon);
        assert!(
            reason(&e).starts_with("5: a reveal entry after a beacon entry"),
            "{}",
            reason(&e)
        );
        // A party's commit entry missing, or twice.
        let mut e = ceremony();
        e.remove(2);
        assert!(
            reason(&e).starts_with(
                "2: the final attempt's commit entries name no commit of party notary"
            ),
            "{}",
            reason(&e)
        );
        let mut e = ceremony();
        e.insert(2, e[1].clone());
        assert!(
            reason(&e).starts_with("3: a second commit entry for party bureau"),
            "{}",
            reason(&e)
        );
        // A freeze after the ceremony began.
        let mut e = ceremony();
        e.push(e[0].clone());
        assert!(
            reason(&e).starts_with("10: a freeze entry after a draw entry"),
            "{}",
            reason(&e)
        );
    }

    #[test]
    fn only_the_final_attempt_must_match_the_ceremony_files() {
        // An aborted attempt (other commitments, one reveal) before the final one.
        let mut e = ceremony();
        let aborted = [
            json!({"step": "commit", "party": "bureau", "commitment": "0a".repeat(32)}),
            json!({"step": "commit", "party": "observer", "commitment": "0b".repeat(32)}),
            json!({"step": "reveal", "party": "bureau", "share": "1a".repeat(32)}),
            json!({"step": "abort", "party": "observer", "reason": "no reveal"}),
        ];
        for (k, a) in aborted.into_iter().enumerate() {
            e.insert(1 + k, a);
        }
        assert_eq!(reason(&e), "");
        // … but the final attempt is checked.
        e[6]["commitment"] = json!("0a".repeat(32));
        assert!(
            reason(&e).starts_with("7: the commit entry's commitment"),
            "{}",
            reason(&e)
        );
    }

    #[test]
    fn blank_lines_are_refused() {
        let d = Domain::Real;
        let (log, _) = append(d, b"", obj(json!({"step": "freeze"}))).unwrap_or_default();
        let mut blank = log.clone();
        blank.push(b'\n');
        assert_eq!(
            verify_chain(d, &blank),
            Err(LogError::Line {
                line: 2,
                reason: "empty line".into()
            })
        );
        assert!(verify_chain(d, b"\n").is_err());
        assert_eq!(verify_chain(d, b""), Ok(Digest([0; 32])));
    }
}
