//! `fairdraw round note`: log entries for what happens in the hall besides the steps — a
//! suspension and its resumption, an abort, a remark. An abort ends the round: every later step
//! is refused.

use super::freeze::merge;
use super::round_dir::{RoundDir, entry};
use super::{CeremonyError, REHEARSAL_BANNER, Result, Summary};
use serde_json::json;

/// The kinds of note.
pub const KINDS: [&str; 4] = ["suspend", "resume", "abort", "remark"];

/// Appends a note to the log.
pub fn note(rd: &RoundDir, kind: &str, role: &str, person: &str, text: &str) -> Result<Summary> {
    if !KINDS.contains(&kind) {
        return Err(CeremonyError::Refused(format!(
            "--kind {kind:?}: one of {}",
            KINDS.join(", ")
        )));
    }
    if text.trim().is_empty() {
        return Err(CeremonyError::Refused(
            "--text: say what happened (e.g. \"power cut, draw resumed on the backup PC\")".into(),
        ));
    }
    let fr = rd.load("add a note")?;
    let mut e = entry(kind, role, person);
    merge(&mut e, json!({ "text": text }));
    let head = rd.append_log(fr.domain(), e)?;
    let mut s = Summary::default();
    if fr.domain() == lottery::Domain::Rehearsal {
        s.push(REHEARSAL_BANNER);
    }
    s.push(format!(
        "Logged / 已记录: {kind} by {role} {person}: {text}"
    ));
    s.push(format!(
        "  log head / 日志链头 {}",
        super::grouped(&head.to_hex())
    ));
    if kind == "abort" {
        s.push("The round is aborted: no further step will run in this directory / 本轮已中止");
    }
    Ok(s)
}
