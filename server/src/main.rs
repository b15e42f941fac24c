//! `fairdraw`: the enrollment-lottery command (simulate, draw, demo, ceremony steps).

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

mod bench;
mod output;
mod simulate;

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
    },
    /// Measure the engine: time and peak memory of every phase at 10k / 100k / 1M applicants
    /// (or one given size), and `bench da` for the peer comparison.
    Bench(bench::BenchArgs),
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
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
        } => cmd_simulate(applicants, schools, &seed_text, &out, json, choices),
        Command::Bench(args) => bench::run(args),
        Command::Demo { dir, .. } => cmd_demo(dir),
    }
}

/// Runs the simulated ceremony and returns the bundle files.
fn simulate_bundle(
    applicants: usize,
    schools: usize,
    seed_text: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let opts = simulate::Options::default();
    simulate::bundle_files(
        applicants,
        schools,
        seed_text,
        &opts,
        &mut |_| {},
        &mut |_| {},
    )
    .map_err(anyhow::Error::msg)
}

fn cmd_simulate(
    applicants: usize,
    schools: usize,
    seed_text: &str,
    out: &std::path::Path,
    json: bool,
    choices: Option<usize>,
) -> Result<()> {
    if applicants == 0 {
        bail!("--applicants must be at least 1");
    }
    let files = simulate::with_progress(applicants, schools, seed_text, choices)?;
    output::write_dir_atomic(out, &files)
        .with_context(|| format!("writing the bundle to {}", out.display()))?;
    let manifest: serde_json::Value = files
        .iter()
        .find(|(n, _)| n == "manifest.json")
        .and_then(|(_, b)| serde_json::from_slice(b).ok())
        .unwrap_or_default();
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

fn cmd_demo(dir: Option<PathBuf>) -> Result<()> {
    let dir = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("fairdraw-demo-{}", std::process::id())),
    };
    let bundle_dir = dir.join("bundle");
    println!("Fairdraw demo — a simulated district round, drawn and verified in the terminal.\n");
    let files = simulate_bundle(3000, 25, "fairdraw demo")?;
    output::write_dir_atomic(&bundle_dir, &files)?;
    let map: lottery::verify::Files = files.into_iter().collect();
    let report = lottery::verify::verify(&map).map_err(|e| anyhow::anyhow!("{e}"))?;
    for c in &report.checks {
        println!("  {:4} {:?}  {}", c.id, c.status, c.en);
    }
    println!("\nBundle: {}", bundle_dir.display());
    println!(
        "Verify it yourself: cargo run --release -p verifier -- {}",
        bundle_dir.display()
    );
    if !report.ok() {
        bail!("the demo bundle did not verify");
    }
    Ok(())
}
