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
