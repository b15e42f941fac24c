//! `fairdraw`: the enrollment-lottery command (simulate, draw, demo, ceremony steps).

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod bench;
mod simulate;

/// mimalloc reuses freed memory instead of faulting fresh pages in for every large allocation
/// (at a million applicants the system allocator spent a third of the time in page faults).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use server::output;

/// Fairdraw — a verifiable enrollment lottery for compulsory education.
#[derive(Parser)]
#[command(name = "fairdraw", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a realistic demo round end to end in the terminal: inputs, ceremony, draw, bundle,
    /// verification and a summary.
    Demo {
        /// Address for the web UI (the web service is not built yet; accepted for compatibility).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Database URL (accepted for compatibility; the terminal demo needs none).
        #[arg(long)]
        db: Option<String>,
        /// Where to keep the demo's files (default: a fresh temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Generate a synthetic round, run the full protocol (freeze, commit, reveal, draw, sign) and
    /// write the public bundle. Same arguments ⇒ byte-identical bundle.
    Simulate {
        /// Number of applicants.
        #[arg(long)]
        applicants: usize,
        /// Number of schools (about one in six private).
        #[arg(long)]
        schools: usize,
        /// Text all randomness and keys of the simulation derive from.
        #[arg(long, default_value = "fairdraw")]
        seed_text: String,
        /// Output directory of the bundle.
        #[arg(long)]
        out: PathBuf,
        /// Print a machine-readable summary.
        #[arg(long)]
        json: bool,
        /// Ranked choices per applicant (1–10; default: the usual 3–7 of a district round).
        #[arg(long)]
        choices: Option<usize>,
        /// Add a supplement (s1): this many private-stage admits decline their seats (递补) …
        #[arg(long, default_value_t = 0)]
        declines: usize,
        /// … and this many late arrivals are placed by a fresh lottery (随到随入).
        #[arg(long, default_value_t = 0)]
        late: usize,
    },
    /// Measure the engine: time and peak memory of every phase at 10k / 100k / 1M applicants
    /// (or one given size), and `bench da` for the peer comparison.
    Bench(bench::BenchArgs),
    /// After the draw: refill declined seats down the published waitlists (递补) and place late
    /// arrivals (随到随入) by a fresh lottery, as a signed supplement chained to the bundle.
    Supplement(SupplementArgs),
    /// Make a signing key file (owner-only, mode 0600; never overwrites).
    Keygen {
        /// Signer id written in the key and in every signature (e.g. bureau, notary-1).
        #[arg(long)]
        signer: String,
        /// The key file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// The ceremony steps over a round directory: freeze, commit, reveal, beacon, note, log, status.
    Round {
        #[command(subcommand)]
        step: RoundStep,
    },
    /// Run the draw of a prepared round directory and write the signed bundle, the ceremony sheet
    /// and the archive folder. Run again (or on a copy of the directory): byte-identical bundle.
    Draw {
        /// The round directory.
        round_dir: PathBuf,
        /// The bureau's key file (signs the manifest).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the public bundle.
        #[arg(long)]
        out: PathBuf,
        /// Co-signers' key files (e.g. the notary's), each adding a manifest signature.
        #[arg(long = "cosigner")]
        cosigners: Vec<PathBuf>,
        /// Name of the person at the keyboard (printed on the sheet).
        #[arg(long)]
        person: Option<String>,
    },
}

/// Arguments of `fairdraw supplement`.
#[derive(clap::Args)]
struct SupplementArgs {
    /// The published bundle directory (verified first; the supplement's files are added to it).
    bundle: PathBuf,
    /// The bureau's key file (the key that signed the main manifest).
    #[arg(long)]
    key: PathBuf,
    /// Declined seats: a text/CSV file with one application id per line, in processing order.
    #[arg(long)]
    declines: Option<PathBuf>,
    /// Late applicants (.csv or .xlsx, the applicants format of docs/INPUTS.md).
    #[arg(long)]
    late: Option<PathBuf>,
    /// The bureau's salt key file for the late applicants' secrets (64 hex digits, mode 0600).
    #[arg(long)]
    salt_key: Option<PathBuf>,
    /// Where to write the late applicants' secrets.csv and notices.html (never in the bundle).
    #[arg(long)]
    private: Option<PathBuf>,
    /// A party's share: PARTY=FILE (a share file or 64 hex digits); repeat for every party.
    #[arg(long = "share", value_name = "PARTY=FILE")]
    shares: Vec<String>,
    /// A party's share from dice: PARTY=DIGITS (at least 50 digits 1–6).
    #[arg(long = "dice", value_name = "PARTY=DIGITS")]
    dice: Vec<String>,
    /// The beacon value as text (its UTF-8 bytes) …
    #[arg(long, group = "beacon_value")]
    beacon_text: Option<String>,
    /// … or as hex.
    #[arg(long, group = "beacon_value")]
    beacon_hex: Option<String>,
    /// Beacon kind: drand, hall_digits, lottery_result, index_close or text.
    #[arg(long, default_value = "hall_digits")]
    beacon_kind: String,
    /// Where the beacon value comes from, in words.
    #[arg(long)]
    beacon_source: Option<String>,
    /// Time written in the supplement manifest (RFC 3339; default: now).
    #[arg(long)]
    created: Option<String>,
    /// The supplement's commitments file. With --commit: the party's commitment is added to it
    /// (created by the first). Without: the parties committed in advance, and every share must
    /// match its commitment there.
    #[arg(long)]
    commitments: Option<PathBuf>,
    /// Commit only: add this party's commitment (from its --share or --dice) to --commitments and
    /// write nothing to the bundle. Every party commits, the file is published, and only then is
    /// the beacon drawn.
    #[arg(
        long,
        value_name = "PARTY",
        requires = "commitments",
        conflicts_with = "beacon_value"
    )]
    commit: Option<String>,
}

#[derive(Subcommand)]
enum RoundStep {
    /// Validate the bureau's files (all or nothing), freeze the public inputs, compute the input
    /// root, sign the checkpoint and print the counts per school and category.
    Freeze {
        /// The round directory (created).
        round_dir: PathBuf,
        /// Directory with policy.toml, schools.(csv|xlsx), applicants.(csv|xlsx), teachers (optional).
        #[arg(long)]
        inputs: PathBuf,
        /// The bureau's key file.
        #[arg(long)]
        key: PathBuf,
        /// The bureau's salt key (64 hex digits, mode 0600); default: ROUND_DIR/private/salt.key,
        /// created on first use.
        #[arg(long)]
        salt_key: Option<PathBuf>,
        /// Parties that will contribute randomness, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "bureau,notary")]
        parties: Vec<String>,
        /// Make this round a rehearsal (演练): rewrites the policy's `mode = "real"` line.
        #[arg(long)]
        rehearsal: bool,
        /// Name of the person at the keyboard (for the log).
        #[arg(long)]
        person: Option<String>,
    },
    /// Commit a party's secret share (only the commitment enters the round directory).
    Commit {
        /// The round directory.
        round_dir: PathBuf,
        /// Party id.
        #[arg(long)]
        party: String,
        /// A share file the party brought.
        #[arg(long, group = "share")]
        share_file: Option<PathBuf>,
        /// Dice digits 1–6, at least 50 (≈ 129 bits).
        #[arg(long, group = "share")]
        dice: Option<String>,
        /// A share from the system's random source (needs --save-share).
        #[arg(long, group = "share")]
        random: bool,
        /// Save the share to this new file (mode 0600) for the party to take away.
        #[arg(long)]
        save_share: Option<PathBuf>,
        /// Name of the person (for the log).
        #[arg(long)]
        person: Option<String>,
    },
    /// Reveal a party's share (after every party committed); checked against its commitment.
    Reveal {
        /// The round directory.
        round_dir: PathBuf,
        /// Party id.
        #[arg(long)]
        party: String,
        /// The party's share file.
        #[arg(long, group = "share")]
        share_file: Option<PathBuf>,
        /// The same dice digits typed at the commit.
        #[arg(long, group = "share")]
        dice: Option<String>,
        /// Name of the person (for the log).
        #[arg(long)]
        person: Option<String>,
    },
    /// Record the public beacon value (after every reveal).
    Beacon {
        /// The round directory.
        round_dir: PathBuf,
        /// The value as hex (e.g. drand randomness).
        #[arg(long, group = "value")]
        hex: Option<String>,
        /// The value as text (its UTF-8 bytes).
        #[arg(long, group = "value")]
        text: Option<String>,
        /// The value as decimal digits (their ASCII bytes).
        #[arg(long, group = "value")]
        digits: Option<String>,
        /// A drand round number (with --drand-signature): verified offline against the pinned
        /// chain; the value is the round's randomness.
        #[arg(long, group = "value", requires = "drand_signature")]
        drand_round: Option<u64>,
        /// The drand round's BLS signature (hex).
        #[arg(long, requires = "drand_round")]
        drand_signature: Option<String>,
        /// The pinned drand chain.
        #[arg(long, default_value = "quicknet")]
        drand_chain: String,
        /// drand, hall_digits, lottery_result, index_close or text.
        #[arg(long)]
        kind: String,
        /// Where the value comes from, in words (optional for a verified drand round).
        #[arg(long, default_value = "")]
        source: String,
        /// Name of the person (for the log).
        #[arg(long)]
        person: Option<String>,
    },
    /// Log a suspension, resumption, abort or remark (an abort ends the round).
    Note {
        /// The round directory.
        round_dir: PathBuf,
        /// suspend, resume, abort or remark.
        #[arg(long)]
        kind: String,
        /// Role of the person (bureau, notary, observer, …).
        #[arg(long)]
        role: String,
        /// The person's name.
        #[arg(long)]
        person: String,
        /// What happened.
        #[arg(long)]
        text: String,
    },
    /// Print the ceremony log, one line per entry, after checking its hash chain.
    Log {
        /// The round directory.
        round_dir: PathBuf,
    },
    /// Show what has been done and what comes next.
    Status {
        /// The round directory.
        round_dir: PathBuf,
    },
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            if let Some(ce) = e.downcast_ref::<server::ceremony::CeremonyError>() {
                if let server::ceremony::CeremonyError::Problems(ps) = ce {
                    print_problems(ps);
                }
                eprintln!("error: {ce}");
                std::process::exit(ce.exit_code());
            }
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

/// Problems shown one by one; beyond these, a count per file (a damaged sheet can have tens of
/// thousands, and the first ones are what to fix first).
const PROBLEMS_SHOWN: usize = 100;

/// The problems of a refused import, each in Chinese then English, at most [`PROBLEMS_SHOWN`].
fn print_problems(ps: &[server::import::Problem]) {
    for p in ps.iter().take(PROBLEMS_SHOWN) {
        eprintln!("{}", p.zh());
        eprintln!("{}", p.en());
    }
    if ps.len() > PROBLEMS_SHOWN {
        let mut per_file: std::collections::BTreeMap<&str, usize> = Default::default();
        for p in &ps[PROBLEMS_SHOWN..] {
            *per_file.entry(p.file.as_str()).or_default() += 1;
        }
        let counts: Vec<String> = per_file.iter().map(|(f, n)| format!("{f} {n}")).collect();
        let rest = ps.len() - PROBLEMS_SHOWN;
        eprintln!(
            "……另有 {rest} 个问题未列出（{}）。请先改正以上问题再试。",
            counts.join("，")
        );
        eprintln!(
            "... and {rest} more problems not shown ({}). Fix the ones above first, then try again.",
            counts.join(", ")
        );
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate {
            applicants,
            schools,
            seed_text,
            out,
            json,
            choices,
            declines,
            late,
        } => cmd_simulate(
            applicants,
            schools,
            &seed_text,
            &out,
            json,
            choices,
            (declines, late),
        ),
        Command::Bench(args) => bench::run(args),
        Command::Demo { dir, .. } => cmd_demo(dir),
        Command::Supplement(args) => cmd_supplement(&args),
        Command::Keygen { signer, out } => ceremony_cmd::keygen(&signer, &out),
        Command::Round { step } => ceremony_cmd::round(step),
        Command::Draw {
            round_dir,
            key,
            out,
            cosigners,
            person,
        } => ceremony_cmd::draw(&round_dir, &key, &out, &cosigners, person.as_deref()),
    }
}

fn cmd_simulate(
    applicants: usize,
    schools: usize,
    seed_text: &str,
    out: &std::path::Path,
    json: bool,
    choices: Option<usize>,
    (declines, late): (usize, usize),
) -> Result<()> {
    if applicants == 0 {
        bail!("--applicants must be at least 1");
    }
    // Written as it is made, never held whole.
    let manifest_bytes =
        simulate::write_with_progress(applicants, schools, seed_text, choices, out)?.manifest;
    if declines > 0 || late > 0 {
        // The supplement is made as `fairdraw supplement` makes one: from the bundle written.
        use server::supplement as sup;
        let key = lottery::manifest::signing_key(&simulate::parties(seed_text).parties[0].2);
        let extra = sup::simulate(out, declines, late, seed_text, &key)?;
        sup::write(out, &extra)?;
    }
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_bytes).unwrap_or_default();
    let m = &manifest["manifest"];
    if json {
        println!(
            "{}",
            serde_json::json!({"out": out.display().to_string(), "round_id": m["round_id"], "input_root": m["input_root"], "seed": m["seed"], "results_root": m["results_root"], "applicants": applicants, "schools": schools})
        );
    } else {
        println!(
            "Simulated round {} — {applicants} applicants, {schools} schools",
            m["round_id"].as_str().unwrap_or("")
        );
        println!("  input root   {}", m["input_root"].as_str().unwrap_or(""));
        println!("  seed         {}", m["seed"].as_str().unwrap_or(""));
        println!(
            "  results root {}",
            m["results_root"].as_str().unwrap_or("")
        );
        println!("Bundle written to {}", out.display());
    }
    Ok(())
}

fn cmd_supplement(a: &SupplementArgs) -> Result<()> {
    use server::ceremony::keys::{read_key, read_secret_file};
    use server::supplement as sup;
    let (_, key) = read_key(&a.key)?;
    let replayed = sup::replay(&a.bundle)?;
    let domain = replayed.round.domain();
    let declines = match &a.declines {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => String::new(),
    };
    let late = match &a.late {
        Some(p) => Some((
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "late.csv".into()),
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        )),
        None => None,
    };
    let salt_key: [u8; 32] = match (&a.salt_key, &late) {
        (Some(p), _) => {
            let text = String::from_utf8(read_secret_file(p)?)?;
            lottery::Digest::from_hex(text.trim())
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
                .0
        }
        (None, Some(_)) => {
            bail!("late applicants need --salt-key (the bureau's salt key of the round)")
        }
        (None, None) => [0; 32],
    };
    let mut shares: Vec<(String, [u8; 32])> = Vec::new();
    for s in &a.shares {
        let (party, file) = s
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--share {s}: expected PARTY=FILE"))?;
        let text = String::from_utf8(read_secret_file(std::path::Path::new(file))?)?;
        let hexs = text
            .lines()
            .map(|l| l.strip_prefix("share=").unwrap_or(l).trim())
            .find(|l| l.len() == 64)
            .ok_or_else(|| anyhow::anyhow!("{file}: no 64-hex-digit share"))?;
        let d = lottery::Digest::from_hex(hexs).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        shares.push((party.to_string(), d.0));
    }
    for s in &a.dice {
        let (party, digits) = s
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--dice {s}: expected PARTY=DIGITS"))?;
        shares.push((
            party.to_string(),
            server::ceremony::commit::dice_share(domain, digits)?,
        ));
    }
    if let (Some(party), Some(path)) = (&a.commit, &a.commitments) {
        return supplement_commit(&replayed, a, declines, late, salt_key, shares, party, path);
    }
    let value = match (&a.beacon_text, &a.beacon_hex) {
        (Some(t), _) => t.as_bytes().to_vec(),
        (None, Some(h)) => {
            lottery::digest::parse_hex_bytes(h).map_err(|e| anyhow::anyhow!("--beacon-hex: {e}"))?
        }
        (None, None) => bail!("give the beacon value: --beacon-text or --beacon-hex"),
    };
    let Some(source) = a.beacon_source.clone() else {
        bail!("say where the beacon value comes from: --beacon-source");
    };
    let created = a
        .created
        .clone()
        .unwrap_or_else(server::ceremony::now_rfc3339);
    let commitments = match &a.commitments {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let req = sup::Request {
        inputs: sup::Inputs {
            id: None,
            declines: &declines,
            late,
            salt_key,
        },
        shares,
        beacon: lottery::bundle::Beacon {
            kind: a.beacon_kind.clone(),
            source,
            value,
        },
        created: &created,
        commitments: commitments.as_deref(),
    };
    let w = sup::build(&replayed, &req, &key)?;
    if let (Some(dir), Some(v)) = (&a.private, &w.late_private) {
        server::import::write_private(dir, v, None)
            .with_context(|| format!("writing {}", dir.display()))?;
    }
    sup::write(&a.bundle, &w.files)?;
    println!(
        "Supplement {} written to {}: {} refill offer(s) accepted, {} of {} late applicant(s) placed.",
        w.id,
        a.bundle.display(),
        w.refills,
        w.late_placed,
        w.late_total
    );
    println!("Verify: fairdraw-verify {}", a.bundle.display());
    Ok(())
}

/// `fairdraw supplement --commit PARTY --commitments FILE`: adds the party's commitment to the
/// next supplement's commitments file (written atomically), nothing else.
#[allow(clippy::too_many_arguments)]
fn supplement_commit(
    replayed: &server::supplement::Replayed,
    a: &SupplementArgs,
    declines: String,
    late: Option<(String, Vec<u8>)>,
    salt_key: [u8; 32],
    shares: Vec<(String, [u8; 32])>,
    party: &str,
    path: &std::path::Path,
) -> Result<()> {
    use server::supplement as sup;
    let share = match shares.as_slice() {
        [(p, s)] if p == party => *s,
        _ => bail!(
            "--commit {party}: give that party's share (--share {party}=FILE or --dice {party}=DIGITS), and no other"
        ),
    };
    let existing = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let inputs = sup::Inputs {
        id: None,
        declines: &declines,
        late,
        salt_key,
    };
    let (bytes, c) = sup::commit(replayed, &inputs, party, &share, &existing)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "commitments.json".into());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    sup::write(dir, &[(name, bytes)])?;
    println!(
        "Party {party} committed to supplement s{} of {}: {}",
        replayed.existing.len() + 1,
        a.bundle.display(),
        c.to_hex()
    );
    println!(
        "When every party has committed, publish {} — and only then draw the beacon.",
        path.display()
    );
    Ok(())
}

/// Demo step 8: after the results are out, three private-school admits give up their seats and
/// two children arrive late; a supplement refills the seats down the published waitlists and
/// places the late arrivals by a fresh lottery (PROTOCOL.md §11). Returns whether it verified.
fn demo_supplement(dir: &std::path::Path, bundle: &std::path::Path) -> Result<bool> {
    use server::supplement as sup;
    println!(
        "\n── 8. after the draw: declined seats refilled (递补) and late arrivals placed (随到随入)"
    );
    let replayed = sup::replay(bundle)?;
    let results = std::fs::read_to_string(bundle.join("results.csv"))
        .with_context(|| format!("reading {}", bundle.join("results.csv").display()))?;
    let declines: String = results
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1).is_some_and(|s| s.contains("-MB-")))
        .filter_map(|l| l.split(',').next())
        .take(3)
        .map(|id| format!("{id}\n"))
        .collect();
    let late = "申请编号,姓名,性别,出生日期,身份证号,监护人电话,家庭住址,报名通道,群体,志愿学校,坐标X,坐标Y\n\
                JJ2607-L001,林晓东,男,2013-10-08,350582201310081532,13905951234,福建省晋江市青阳街道和平路18号,migrant,migrant,JJ-GB-01;JJ-GB-02,9800,15100\n\
                JJ2607-L002,吴思琪,女,2014-02-11,350582201402112041,13905955678,福建省晋江市梅岭街道世纪大道66号,migrant,migrant,JJ-GB-03,10200,14800\n";
    let salt_text = std::fs::read_to_string(dir.join("real/private/salt.key"))?;
    let salt_key = lottery::Digest::from_hex(salt_text.trim())
        .map_err(|e| anyhow::anyhow!("salt key: {e}"))?
        .0;
    let mut shares = Vec::new();
    for p in ["bureau", "notary"] {
        let mut s = [0u8; 32];
        getrandom::fill(&mut s).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
        shares.push((p.to_string(), s));
    }
    let created = server::ceremony::now_rfc3339();
    let (_, key) = server::ceremony::keys::read_key(&dir.join("keys/bureau.key"))?;
    let mut req = sup::Request {
        inputs: sup::Inputs {
            id: None,
            declines: &declines,
            late: Some(("late.csv".into(), late.as_bytes().to_vec())),
            salt_key,
        },
        shares,
        beacon: lottery::bundle::Beacon {
            kind: "hall_digits".into(),
            source: "demo: digits read in the hall after the commitments were published".into(),
            value: b"582093".to_vec(),
        },
        created: &created,
        commitments: None,
    };
    // Each party commits first (`fairdraw supplement --commit`); the file is published before
    // the beacon is drawn, and the draw holds every share to it.
    let mut commitments = Vec::new();
    for (party, share) in &req.shares {
        (commitments, _) = sup::commit(&replayed, &req.inputs, party, share, &commitments)?;
    }
    req.commitments = Some(&commitments);
    let w = sup::build(&replayed, &req, &key)?;
    sup::write(bundle, &w.files)?;
    if let Some(v) = &w.late_private {
        let private = dir.join("real/private/late");
        server::import::write_private(&private, v, None)?;
        println!(
            "  the late families' secrets and notices: {} (never published)",
            private.display()
        );
    }
    println!(
        "  bureau and notary committed to the supplement's inputs; the commitments were published, then the beacon drawn (582093)"
    );
    println!(
        "  supplement {}: {} declined, {} refill offer(s) accepted down the waitlists, {} of {} late arrival(s) placed",
        w.id,
        declines.lines().count(),
        w.refills,
        w.late_placed,
        w.late_total
    );
    let report =
        lottery::verify::verify(&sup::read_dir(bundle)?).map_err(|e| anyhow::anyhow!("{e}"))?;
    let v11 = report.checks.iter().find(|c| c.id == "V11");
    let ok = report.ok();
    println!(
        "  V11  {}  {}",
        match v11.map(|c| &c.status) {
            Some(lottery::verify::Status::Pass) => "pass".to_string(),
            Some(lottery::verify::Status::Fail(m)) => format!("FAIL {m}"),
            Some(lottery::verify::Status::Skip(m)) => format!("skip ({m})"),
            None => "missing".to_string(),
        },
        v11.map_or("", |c| c.en)
    );
    Ok(ok)
}

fn cmd_demo(dir: Option<PathBuf>) -> Result<()> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("fairdraw-demo-{}", std::process::id())),
    };
    println!(
        "Fairdraw demo — the draw ceremony of a county round, in the terminal: three parties \
         (bureau, notary, observer), a rehearsal, then the real round.\nFiles: {}",
        dir.display()
    );
    let outcome = server::ceremony::demo::run(&dir, &mut |l| println!("{l}"))?;
    let mut all_ok = true;
    for (label, bundle) in [
        ("rehearsal / 演练", &outcome.rehearsal_bundle),
        ("real round / 正式", &outcome.bundle),
    ] {
        let files = server::supplement::read_dir(bundle)?;
        let report = lottery::verify::verify(&files).map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("\n── 6. verification of the {label} bundle (as fairdraw-verify does)");
        for c in &report.checks {
            let st = match &c.status {
                lottery::verify::Status::Pass => "pass".to_string(),
                lottery::verify::Status::Fail(m) => format!("FAIL {m}"),
                lottery::verify::Status::Skip(m) => format!("skip ({m})"),
            };
            println!("  {:4} {:<48} {st}", c.id, c.en);
        }
        println!(
            "  domain: {}",
            match report.domain {
                Some(lottery::Domain::Rehearsal) => "REHEARSAL 演练 — not a real draw",
                _ => "real 正式",
            }
        );
        all_ok &= report.ok();
    }
    // One family checks its result with the secret printed on its notice.
    let secrets = std::fs::read(outcome.round.join("private/secrets.csv")).unwrap_or_default();
    let secrets = String::from_utf8_lossy(&secrets);
    if let Some(line) = secrets.lines().nth(1) {
        let id = line
            .split(',')
            .next()
            .unwrap_or("")
            .trim_start_matches('\u{feff}');
        let files = server::supplement::read_dir(&outcome.bundle)?;
        if let Ok(Some(v)) = lottery::verify::applicant_view(&files, id) {
            let get = |k: &str| {
                v.result
                    .iter()
                    .find(|(h, _)| h == k)
                    .map(|(_, x)| x.as_str())
                    .unwrap_or("")
            };
            println!(
                "\n── 7. a family looks up application {id} (its secret is on its private notice)"
            );
            println!(
                "  school {}  lottery number {}  stage {}  inclusion proof {}",
                if get("school_id").is_empty() {
                    "—"
                } else {
                    get("school_id")
                },
                get("lottery_number"),
                get("stage"),
                if v.proof_ok {
                    "verified against the input root"
                } else {
                    "FAILED"
                }
            );
        }
    }
    all_ok &= demo_supplement(&dir, &outcome.bundle)?;
    println!("\n════ Summary / 总结 ════");
    println!(
        "  public bundle (publish this)     {}",
        outcome.bundle.display()
    );
    println!(
        "  rehearsal bundle (演练)           {}",
        outcome.rehearsal_bundle.display()
    );
    println!(
        "  private notices (never publish)  {}",
        outcome.round.join("private/notices.html").display()
    );
    println!(
        "  ceremony sheet (print, sign)     {}",
        outcome.round.join("sheet.html").display()
    );
    println!(
        "  archive for the notary           {}",
        outcome.round.join("archive").display()
    );
    println!(
        "  verify it yourself: cargo run -p verifier -- {}",
        outcome.bundle.display()
    );
    if !all_ok {
        bail!("a demo bundle did not verify");
    }
    println!("VERIFIED: both bundles reproduce.");
    Ok(())
}

/// Dispatch of the ceremony subcommands to `server::ceremony`.
mod ceremony_cmd {
    use super::RoundStep;
    use anyhow::Result;
    use server::ceremony::{self, beacon, commit, draw as drawing, freeze, keys, round_dir};
    use std::path::{Path, PathBuf};

    pub fn keygen(signer: &str, out: &Path) -> Result<()> {
        print!("{}", keys::keygen(signer, out)?);
        Ok(())
    }

    fn share<'a>(
        file: &'a Option<PathBuf>,
        dice: &'a Option<String>,
        random: bool,
    ) -> Result<commit::ShareSource<'a>> {
        Ok(match (file, dice, random) {
            (Some(f), None, false) => commit::ShareSource::File(f),
            (None, Some(d), false) => commit::ShareSource::Dice(d),
            (None, None, true) => commit::ShareSource::Random,
            _ => anyhow::bail!("give exactly one of --share-file, --dice or --random"),
        })
    }

    pub fn round(step: RoundStep) -> Result<()> {
        let summary = match step {
            RoundStep::Freeze {
                round_dir,
                inputs,
                key,
                salt_key,
                parties,
                rehearsal,
                person,
            } => freeze::freeze(
                &round_dir::RoundDir::new(&round_dir),
                &freeze::FreezeOptions {
                    inputs: &inputs,
                    key: &key,
                    salt_key: salt_key.as_deref(),
                    parties,
                    rehearsal,
                    person: person.as_deref(),
                },
            )?,
            RoundStep::Commit {
                round_dir,
                party,
                share_file,
                dice,
                random,
                save_share,
                person,
            } => commit::commit(
                &round_dir::RoundDir::new(&round_dir),
                &party,
                &share(&share_file, &dice, random)?,
                save_share.as_deref(),
                person.as_deref(),
            )?,
            RoundStep::Reveal {
                round_dir,
                party,
                share_file,
                dice,
                person,
            } => commit::reveal(
                &round_dir::RoundDir::new(&round_dir),
                &party,
                &share(&share_file, &dice, false)?,
                person.as_deref(),
            )?,
            RoundStep::Beacon {
                round_dir,
                hex,
                text,
                digits,
                drand_round,
                drand_signature,
                drand_chain,
                kind,
                source,
                person,
            } => {
                let value = match (&hex, &text, &digits, drand_round, &drand_signature) {
                    (Some(h), None, None, None, None) => beacon::BeaconValue::Hex(h),
                    (None, Some(t), None, None, None) => beacon::BeaconValue::Text(t),
                    (None, None, Some(d), None, None) => beacon::BeaconValue::Digits(d),
                    (None, None, None, Some(round), Some(signature)) => {
                        beacon::BeaconValue::Drand {
                            chain: &drand_chain,
                            round,
                            signature,
                        }
                    }
                    _ => anyhow::bail!(
                        "give exactly one of --hex, --text, --digits or --drand-round with --drand-signature"
                    ),
                };
                beacon::beacon(
                    &round_dir::RoundDir::new(&round_dir),
                    &value,
                    &kind,
                    &source,
                    person.as_deref(),
                )?
            }
            RoundStep::Note {
                round_dir,
                kind,
                role,
                person,
                text,
            } => server::ceremony::note::note(
                &round_dir::RoundDir::new(&round_dir),
                &kind,
                &role,
                &person,
                &text,
            )?,
            RoundStep::Log { round_dir } => {
                server::ceremony::note::print_log(&round_dir::RoundDir::new(&round_dir))?
            }
            RoundStep::Status { round_dir } => {
                ceremony::status(&round_dir::RoundDir::new(&round_dir))?
            }
        };
        print!("{summary}");
        Ok(())
    }

    pub fn draw(
        round_dir: &Path,
        key: &Path,
        out: &Path,
        cosigners: &[PathBuf],
        person: Option<&str>,
    ) -> Result<()> {
        let o = drawing::draw(
            &round_dir::RoundDir::new(round_dir),
            &drawing::DrawOptions {
                key,
                cosigners,
                out,
                person,
            },
        )?;
        print!("{}", o.summary);
        Ok(())
    }
}
