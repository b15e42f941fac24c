//! `fairdraw demo` in the terminal: the real ceremony over the example county
//! (`examples/county`, embedded in the binary so the demo runs from any directory) — three
//! parties, a rehearsal and then the real round, bundles, private notices, verification and a
//! summary.

use super::beacon::{BeaconValue, beacon};
use super::commit::{ShareSource, commit, reveal};
use super::draw::{DrawOptions, draw};
use super::freeze::{FreezeOptions, freeze};
use super::keys::keygen;
use super::round_dir::RoundDir;
use super::{CeremonyError, Result, Summary, io_err};
use std::path::{Path, PathBuf};

/// The example county's files, embedded at compile time.
pub const COUNTY: [(&str, &[u8]); 4] = [
    (
        "policy.toml",
        include_bytes!("../../../examples/county/policy.toml"),
    ),
    (
        "schools.csv",
        include_bytes!("../../../examples/county/schools.csv"),
    ),
    (
        "teachers.csv",
        include_bytes!("../../../examples/county/teachers.csv"),
    ),
    (
        "applicants.csv",
        include_bytes!("../../../examples/county/applicants.csv"),
    ),
];

/// The parties of the demo.
pub const PARTIES: [&str; 3] = ["bureau", "notary", "observer"];

/// What the demo produced.
pub struct DemoOutcome {
    /// The real round's bundle.
    pub bundle: PathBuf,
    /// The rehearsal's bundle.
    pub rehearsal_bundle: PathBuf,
    /// The real round's directory.
    pub round: PathBuf,
}

fn dice_from_random_source() -> Result<String> {
    // Simulates the notary throwing a die 50 times: unbiased faces by rejection sampling.
    let mut out = String::new();
    while out.len() < super::commit::MIN_DICE {
        let mut b = [0u8; 64];
        getrandom::fill(&mut b)
            .map_err(|e| CeremonyError::Refused(format!("the system random source failed: {e}")))?;
        for x in b {
            if x < 252 && out.len() < super::commit::MIN_DICE {
                out.push(char::from(b'1' + x % 6));
            }
        }
    }
    Ok(out)
}

fn say(out: &mut dyn FnMut(&str), title: &str, s: &Summary) {
    out(&format!("\n── {title}"));
    for l in &s.lines {
        out(l);
    }
}

/// Runs one round of the ceremony; returns the bundle directory.
fn one_round(
    dir: &Path,
    name: &str,
    rehearsal: bool,
    out: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    let keys = dir.join("keys");
    let rd = RoundDir::new(&dir.join(name));
    let inputs = dir.join("inputs");
    let parties: Vec<String> = PARTIES.iter().map(|p| p.to_string()).collect();
    let s = freeze(
        &rd,
        &FreezeOptions {
            inputs: &inputs,
            key: &keys.join("bureau.key"),
            salt_key: None,
            parties,
            rehearsal,
            person: Some("clerk 王芳"),
        },
    )?;
    say(out, "1. freeze / 冻结名单", &s);
    let shares = dir.join("shares");
    let bshare = shares.join(format!("{name}-bureau.share"));
    let oshare = shares.join(format!("{name}-observer.share"));
    let dice = dice_from_random_source()?;
    let s = commit(
        &rd,
        "bureau",
        &ShareSource::Random,
        Some(&bshare),
        Some("director 陈建国"),
    )?;
    say(out, "2. commit: bureau (system random source)", &s);
    out(&format!("   the notary throws a die 50 times: {dice}"));
    let s = commit(
        &rd,
        "notary",
        &ShareSource::Dice(&dice),
        None,
        Some("notary 张敏"),
    )?;
    say(out, "2. commit: notary (50 dice)", &s);
    let s = commit(
        &rd,
        "observer",
        &ShareSource::Random,
        Some(&oshare),
        Some("parent representative 林志强"),
    )?;
    say(
        out,
        "2. commit: observer (system random source, saved to its share file)",
        &s,
    );
    let s = reveal(&rd, "bureau", &ShareSource::File(&bshare), None)?;
    say(out, "3. reveal: bureau", &s);
    let s = reveal(&rd, "notary", &ShareSource::Dice(&dice), None)?;
    say(out, "3. reveal: notary", &s);
    let s = reveal(&rd, "observer", &ShareSource::File(&oshare), None)?;
    say(out, "3. reveal: observer", &s);
    let s = beacon(
        &rd,
        &BeaconValue::Digits("408317"),
        "hall_digits",
        "demo: six digits read from the ball machine in the hall",
        Some("notary 张敏"),
    )?;
    say(out, "4. beacon / 信标", &s);
    let bundle = dir.join(format!("{name}-bundle"));
    let cosigners = [keys.join("notary.key")];
    let o = draw(
        &rd,
        &DrawOptions {
            key: &keys.join("bureau.key"),
            cosigners: &cosigners,
            out: &bundle,
            person: Some("clerk 王芳"),
        },
    )?;
    say(out, "5. draw / 派位", &o.summary);
    Ok(bundle)
}

/// Runs the whole demo in `dir` (must be new or empty), printing through `out`.
pub fn run(dir: &Path, out: &mut dyn FnMut(&str)) -> Result<DemoOutcome> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map_err(io_err(dir))?
            .next()
            .is_some()
    {
        return Err(CeremonyError::Refused(format!(
            "{}: the demo needs a new or empty directory",
            dir.display()
        )));
    }
    let inputs = dir.join("inputs");
    std::fs::create_dir_all(&inputs).map_err(io_err(&inputs))?;
    for (n, b) in COUNTY {
        let p = inputs.join(n);
        std::fs::write(&p, b).map_err(io_err(&p))?;
    }
    out("The bureau's files: examples/county (晋江市 2026 初一, 600 applicants, 16 schools).");
    let keys = dir.join("keys");
    for p in PARTIES {
        let s = keygen(p, &keys.join(format!("{p}.key")))?;
        say(out, &format!("0. keygen: {p}"), &s);
    }
    out("\n════ REHEARSAL / 演练 ════");
    let rehearsal_bundle = one_round(dir, "rehearsal", true, out)?;
    out("\n════ REAL ROUND / 正式派位 ════");
    let bundle = one_round(dir, "real", false, out)?;
    Ok(DemoOutcome {
        bundle,
        rehearsal_bundle,
        round: dir.join("real"),
    })
}
