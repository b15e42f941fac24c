//! # The draw ceremony over a round directory (`docs/CEREMONY.md`)
//!
//! Each step of the hall is one function, run by one `fairdraw` subcommand, reading and writing a
//! round directory ([`round_dir::RoundDir`]): [`freeze::freeze`], [`commit::commit`],
//! [`commit::reveal`], [`beacon::beacon`], [`draw::draw`]. Every step
//!
//! - refuses to run out of order and says why ([`CeremonyError::OutOfOrder`]);
//! - writes atomically (temporary file, then rename) and appends one entry to the hash-chained
//!   `log.jsonl` (`lottery::log`);
//! - is idempotent: run again with the same inputs it changes nothing; the draw gives the same
//!   bytes on this PC or on a backup PC holding a copy of the directory;
//! - returns a [`Summary`]: a few lines a clerk can read aloud.

pub mod beacon;
pub mod commit;
pub mod demo;
pub mod drand;
pub mod draw;
pub mod freeze;
pub mod keys;
pub mod net;
pub mod note;
pub mod round_dir;
pub mod sheet;

use crate::import::Problem;
use std::path::{Path, PathBuf};

/// Why a ceremony step did not run.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// The step is not allowed yet (or any more).
    #[error("cannot {step}: {reason}")]
    OutOfOrder {
        /// The step refused (`commit`, `reveal`, …).
        step: &'static str,
        /// Why, in words.
        reason: String,
    },
    /// The step was refused for another reason (a mismatching share, an unsafe key file, …).
    #[error("{0}")]
    Refused(String),
    /// The bureau's files have problems: nothing was frozen.
    #[error("{} problem(s) in the input files; nothing was frozen / 输入文件有 {} 个问题，未冻结任何内容", .0.len(), .0.len())]
    Problems(Vec<Problem>),
    /// A file of the round directory is damaged or inconsistent.
    #[error("{path}: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl CeremonyError {
    /// Exit code: 1 for a refusal (out of order, mismatch, input problems), 2 for I/O or damage.
    pub fn exit_code(&self) -> i32 {
        match self {
            CeremonyError::OutOfOrder { .. }
            | CeremonyError::Refused(_)
            | CeremonyError::Problems(_) => 1,
            CeremonyError::Damaged { .. } | CeremonyError::Io { .. } => 2,
        }
    }
}

/// Result of a ceremony step.
pub type Result<T> = std::result::Result<T, CeremonyError>;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CeremonyError + '_ {
    move |source| CeremonyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn damaged(path: &Path, reason: impl Into<String>) -> CeremonyError {
    CeremonyError::Damaged {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// What a step reports: lines to read aloud (Chinese and English mixed as printed).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The lines, in order.
    pub lines: Vec<String>,
}

impl Summary {
    pub(crate) fn push(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in &self.lines {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

/// The banner printed by every step of a rehearsal round.
pub const REHEARSAL_BANNER: &str =
    "【演练 REHEARSAL】 this is a rehearsal round, not a real draw / 本轮为演练，不是正式摇号";

/// The current time, RFC 3339 in UTC, to the second (for log entries; the engine has no clock).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let rem = secs % 86_400;
    let (y, m, d) = crate::import::date::civil_from_days((secs / 86_400) as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A hex digest grouped by 4 for reading aloud: `3f2a 91c0 …`.
pub fn grouped(hex: &str) -> String {
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether progress bars may be drawn (stderr is a terminal).
pub fn progress_enabled() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// A spinner on a terminal, nothing otherwise.
pub fn spinner(msg: &str) -> Option<indicatif::ProgressBar> {
    if !progress_enabled() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// `fairdraw round status`: what has been done and what comes next.
pub fn status(rd: &round_dir::RoundDir) -> Result<Summary> {
    let mut s = Summary::default();
    if !freeze::frozen_present(rd)? {
        s.push(format!(
            "Round directory {}: not frozen yet.",
            rd.root.display()
        ));
        s.push("Next: fairdraw round freeze ROUND_DIR --inputs DIR --key BUREAU_KEY / 下一步：冻结名单");
        return Ok(s);
    }
    let fr = rd.load("show the status")?;
    if fr.domain() == lottery::Domain::Rehearsal {
        s.push(REHEARSAL_BANNER);
    }
    s.push(format!(
        "Round {} — {}: frozen, {} applicants, input root {}",
        fr.round_id(),
        fr.round.policy.round.title,
        fr.round.applicants.len(),
        grouped(&fr.root.to_hex())
    ));
    let (c, cm) = rd.commitments(&fr)?;
    let (r, rm) = rd.reveals(&fr)?;
    let names = |v: Vec<String>| {
        if v.is_empty() {
            "—".to_string()
        } else {
            v.join(", ")
        }
    };
    s.push(format!(
        "  committed / 已承诺: {}   missing / 未承诺: {}",
        names(c.into_iter().map(|c| c.party).collect()),
        names(cm.clone())
    ));
    s.push(format!(
        "  revealed / 已公开: {}   missing / 未公开: {}",
        names(r.into_iter().map(|r| r.party).collect()),
        names(rm.clone())
    ));
    let beacon = rd.beacon()?;
    match &beacon {
        Some(b) => s.push(format!("  beacon / 信标: {} — {}", b.kind, b.source)),
        None => s.push("  beacon / 信标: —"),
    }
    let log = rd.log(fr.domain())?;
    let entries = round_dir::log_entries(&log);
    let drawn = entries.iter().any(|e| e["step"].as_str() == Some("draw"));
    s.push(format!(
        "  log / 日志: {} entries, chain intact / 哈希链完整",
        entries.len()
    ));
    let next = if !cm.is_empty() {
        format!("fairdraw round commit ROUND_DIR --party {} …", cm[0])
    } else if !rm.is_empty() {
        format!("fairdraw round reveal ROUND_DIR --party {} …", rm[0])
    } else if beacon.is_none() {
        "fairdraw round beacon ROUND_DIR --kind K --source S (--hex|--text|--digits) …".to_string()
    } else if !drawn {
        "fairdraw draw ROUND_DIR --key BUREAU_KEY --out DIR".to_string()
    } else {
        "done: the draw is recorded; rerunning it reproduces the same bundle".to_string()
    };
    s.push(format!("Next / 下一步: {next}"));
    if let Some(w) = net::warning() {
        s.push(w);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_783_675_845), "2026-07-10T09:30:45Z");
    }

    #[test]
    fn grouping() {
        assert_eq!(grouped("0123456789"), "0123 4567 89");
    }
}
