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

/// `fairdraw round log`: the ceremony log, checked and printed one line per entry.
pub fn print_log(rd: &RoundDir) -> Result<Summary> {
    let fr = rd.load("print the log")?;
    let log = rd.log(fr.domain())?;
    let head = lottery::log::verify_chain(fr.domain(), &log)
        .map_err(|e| super::damaged(&rd.log_file(), e.to_string()))?;
    let mut s = Summary::default();
    if fr.domain() == lottery::Domain::Rehearsal {
        s.push(REHEARSAL_BANNER);
    }
    s.push(format!(
        "Ceremony log of round {} / 仪式日志 — {}",
        fr.round_id(),
        rd.log_file().display()
    ));
    for e in super::round_dir::log_entries(&log) {
        let g = |k: &str| e[k].as_str().unwrap_or("").to_string();
        let detail = match g("step").as_str() {
            "freeze" => format!(
                "{} applicants, input root {}",
                e["applicants"],
                short(&g("input_root"))
            ),
            "commit" => format!(
                "{} commitment {} ({})",
                g("party"),
                short(&g("commitment")),
                g("source")
            ),
            "reveal" => format!("{} share {}", g("party"), short(&g("share"))),
            "beacon" => format!("{}: {}", g("kind"), g("source")),
            "draw" => format!("seed {}", short(&g("seed"))),
            "export" => format!("archive {}", short(&g("archive_sha256"))),
            _ => g("text"),
        };
        s.push(format!(
            "{:>3}  {}  {:<7} {:<9} {:<16} {detail}{}",
            e["seq"].as_u64().unwrap_or(0),
            g("time"),
            g("step"),
            g("role"),
            g("person"),
            match e["network"].as_str() {
                Some(n) if n != "offline" => format!("  [{n}]"),
                _ => String::new(),
            }
        ));
    }
    s.push(format!(
        "chain intact / 哈希链完整; head / 链头 {}",
        super::grouped(&head.to_hex())
    ));
    Ok(s)
}

fn short(h: &str) -> String {
    h.chars().take(16).collect::<String>() + "…"
}
