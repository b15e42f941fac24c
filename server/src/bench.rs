//! `fairdraw bench`: end-to-end timings and peak memory of every phase of a simulated round, and
//! `fairdraw bench da` (the deferred-acceptance driver of `bench/peers.sh`).
//!
//! Without `--applicants`, the command runs itself once per size (10k / 100k / 1M applicants with
//! 50 / 500 / 5,000 schools), each in a fresh process so that peak memory is per size, and prints
//! a scaling table. Peak memory is the kernel's `VmHWM` (from `/proc/self/status`), reset before
//! each phase through `/proc/self/clear_refs`, so the figure of a phase is the highest resident
//! set reached during it (which includes what earlier phases left in memory; `VmRSS` before the
//! phase is printed beside it).

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use lottery::digest::Digest;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::simulate;

/// Arguments of `fairdraw bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    cmd: Option<BenchCmd>,
    /// Applicants (one size only; default: 10k, 100k and 1M, each in its own process).
    #[arg(long)]
    applicants: Option<usize>,
    /// Schools (default: one per 200 applicants).
    #[arg(long)]
    schools: Option<usize>,
    /// Ranked choices per applicant (1–10).
    #[arg(long, default_value_t = 10)]
    choices: usize,
    /// Seed text of the simulated round.
    #[arg(long, default_value = "fairdraw bench")]
    seed_text: String,
    /// Run the draw this many times and report the fastest.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Where to write the bundle (default: a temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Skip writing and verifying the bundle.
    #[arg(long)]
    no_bundle: bool,
    /// Machine-readable output (one JSON object per size).
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// Solve a deferred-acceptance instance (JSON: {"capacity": [..], "students": [[school, ..],
    /// ..], "priority": [[student, ..], ..]}) with Fairdraw's DA; prints the time and writes the
    /// assignment (school index per student, -1 unplaced) as JSON.
    Da {
        /// Instance file.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the assignment.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Solve this many times and report the fastest.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
}

/// Entry point.
pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(BenchCmd::Da {
        input,
        output,
        repeat,
    }) = &args.cmd
    {
        return da(input, output.as_deref(), *repeat);
    }
    match args.applicants {
        Some(n) => {
            let m = args.schools.unwrap_or((n / 200).max(2));
            let phases = one_size(&args, n, m)?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"applicants": n, "schools": m, "choices": args.choices, "phases": phases.iter().map(|p| serde_json::json!({"phase": p.name, "seconds": p.secs, "cpu_seconds": p.cpu, "peak_mib": p.peak_mib, "rss_before_mib": p.rss_before_mib})).collect::<Vec<_>>()})
                );
            } else {
                print_one(n, m, args.choices, &phases);
            }
            Ok(())
        }
        None => scaling(&args),
    }
}

/// One timed phase.
struct Phase {
    name: String,
    secs: f64,
    cpu: f64,
    peak_mib: f64,
    rss_before_mib: f64,
}

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// CPU time (user + system, all threads) of this process so far, in seconds.
fn cpu_secs() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let Some(rest) = s.rsplit_once(") ").map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |k: usize| f.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat(5); the kernel's USER_HZ is 100.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn mib(kib: Option<u64>) -> f64 {
    kib.map_or(f64::NAN, |k| k as f64 / 1024.0)
}

/// Resets the peak-RSS counter (Linux: writing 5 to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Timer {
    phases: Vec<Phase>,
}

impl Timer {
    fn time<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let rss = mib(status_kib("VmRSS:"));
        reset_peak();
        let c = cpu_secs();
        let t = Instant::now();
        let v = f();
        let secs = t.elapsed().as_secs_f64();
        self.phases.push(Phase {
            name: name.to_string(),
            secs,
            cpu: cpu_secs() - c,
            peak_mib: mib(status_kib("VmHWM:")),
            rss_before_mib: rss,
        });
        v
    }
}

fn one_size(args: &BenchArgs, n: usize, m: usize) -> Result<Vec<Phase>> {
    use lottery::bundle;
    let mut t = Timer { phases: Vec::new() };
    let opts = simulate::Options {
        choices: Some(args.choices),
    };
    let round = t
        .time("generate round", || {
            simulate::generate_with(n, m, &args.seed_text, &opts, &mut |_| {})
        })
        .map_err(anyhow::Error::msg)?;
    let (root, size) = t.time("input root", || round.input_root());
    let sim = simulate::ceremony(&round, &args.seed_text, &root, size);
    let seed: Digest = t
        .time("seed", || {
            bundle::seed_for(&round, &root, size, &sim.ceremony)
        })
        .map_err(anyhow::Error::msg)?;
    // The draw, `repeat` times; the fastest run's sub-phases are kept.
    type Marks = Vec<(String, f64, f64)>;
    let mut best: Option<(f64, f64, Marks, f64, f64)> = None;
    let mut outcome = None;
    for _ in 0..args.repeat.max(1) {
        let rss = mib(status_kib("VmRSS:"));
        reset_peak();
        let mut marks: Marks = Vec::new();
        let cpu0 = cpu_secs();
        let start = Instant::now();
        let mut last = (start, cpu0);
        let o = lottery::draw::draw_observed(&round, &seed, &mut |p| {
            let now = (Instant::now(), cpu_secs());
            marks.push((
                p.to_string(),
                (now.0 - last.0).as_secs_f64(),
                now.1 - last.1,
            ));
            last = now;
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let total = start.elapsed().as_secs_f64();
        let cpu = cpu_secs() - cpu0;
        let peak = mib(status_kib("VmHWM:"));
        drop(outcome.take());
        outcome = Some(o);
        if best.as_ref().is_none_or(|b| total < b.0) {
            best = Some((total, cpu, marks, peak, rss));
        }
    }
    let Some(outcome) = outcome else {
        bail!("no draw ran");
    };
    if let Some((total, cpu, marks, peak, rss)) = best {
        t.phases.push(Phase {
            name: "draw (total)".into(),
            secs: total,
            cpu,
            peak_mib: peak,
            rss_before_mib: rss,
        });
        for (name, secs, cpu) in marks {
            t.phases.push(Phase {
                name: format!("  draw: {name}"),
                secs,
                cpu,
                peak_mib: f64::NAN,
                rss_before_mib: f64::NAN,
            });
        }
    }
    let files = t.time("render results", || {
        lottery::results::render(&round, &outcome)
    });
    let _ = t.time("results root", || {
        let pairs: Vec<(&str, &str)> = files.iter().map(|(n, s)| (*n, s.as_str())).collect();
        lottery::results::results_root(round.domain(), &pairs)
    });
    drop(files);
    drop(outcome);
    if args.no_bundle {
        return Ok(t.phases);
    }
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("fairdraw-bench-{}", std::process::id())),
            true,
        ),
    };
    // The bundle drawn, rendered, hashed and written as it is made (`bundle::write_with_root`):
    // what `fairdraw simulate` and `fairdraw draw` do.
    t.time("bundle (draw + write)", || -> Result<()> {
        let mut out = crate::output::DirWriter::new(&dir);
        simulate::write_bundle_of(&round, &sim, &root, size, &mut |n, p| out.piece(n, p))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        out.finish()?;
        Ok(())
    })
    .with_context(|| format!("writing {}", dir.display()))?;
    drop(round);
    {
        let read = |n: &str| std::fs::read(dir.join(n)).with_context(|| format!("reading {n}"));
        let (p, s, te, a) = (
            read("policy.toml")?,
            read("schools.csv")?,
            read("teachers.csv")?,
            read("applicants.csv")?,
        );
        let parsed = t.time("verify: parse inputs", || {
            lottery::round::FrozenRound::parse(&p, &s, &te, &a)
        });
        parsed.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let report = t.time("verify (read + check)", || -> Result<_> {
        let mut map = lottery::verify::Files::new();
        for e in std::fs::read_dir(&dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            map.insert(name, std::fs::read(e.path())?);
        }
        lottery::verify::verify(&map).map_err(|e| anyhow::anyhow!("{e}"))
    })?;
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if !report.ok() {
        bail!("the benchmark bundle did not verify");
    }
    Ok(t.phases)
}

fn print_one(n: usize, m: usize, choices: usize, phases: &[Phase]) {
    println!("fairdraw bench — {n} applicants, {m} schools, {choices} choices each");
    println!(
        "{:<28} {:>10} {:>10} {:>14} {:>14}",
        "phase", "seconds", "CPU s", "peak RSS MiB", "RSS before MiB"
    );
    for p in phases {
        println!(
            "{:<28} {:>10.3} {:>10.2} {:>14} {:>14}",
            p.name,
            p.secs,
            p.cpu,
            fmt_mib(p.peak_mib),
            fmt_mib(p.rss_before_mib)
        );
    }
    let peak = phases
        .iter()
        .map(|p| p.peak_mib)
        .filter(|v| !v.is_nan())
        .fold(0.0, f64::max);
    println!("highest peak RSS of any phase: {peak:.0} MiB");
}

fn fmt_mib(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v:.0}")
    }
}

fn scaling(args: &BenchArgs) -> Result<()> {
    let exe = std::env::current_exe().context("locating the fairdraw binary")?;
    let sizes = [(10_000usize, 50usize), (100_000, 500), (1_000_000, 5_000)];
    let mut runs: Vec<(usize, usize, serde_json::Value)> = Vec::new();
    for (n, m) in sizes {
        eprintln!("bench: {n} applicants, {m} schools …");
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["bench", "--json", "--applicants", &n.to_string()])
            .args(["--schools", &m.to_string()])
            .args(["--choices", &args.choices.to_string()])
            .args(["--repeat", &args.repeat.to_string()])
            .args(["--seed-text", &args.seed_text]);
        if args.no_bundle {
            cmd.arg("--no-bundle");
        }
        let out = cmd.output().context("running a bench child")?;
        if !out.status.success() {
            bail!(
                "bench at {n} applicants failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        if args.json {
            println!("{v}");
        }
        runs.push((n, m, v));
    }
    if args.json {
        return Ok(());
    }
    println!(
        "fairdraw bench — {} choices each; wall s/CPU s (peak RSS MiB during the phase)",
        args.choices
    );
    print!("{:<28}", "phase");
    for (n, m, _) in &runs {
        print!(" {:>24}", format!("{n}/{m}"));
    }
    println!(" {:>12}", "1M/10k ratio");
    let names: Vec<String> = runs[0].2["phases"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["phase"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for name in names {
        print!("{name:<28}");
        let mut secs = Vec::new();
        for (_, _, v) in &runs {
            let p = v["phases"]
                .as_array()
                .and_then(|a| a.iter().find(|p| p["phase"] == name.as_str()));
            let s = p.and_then(|p| p["seconds"].as_f64()).unwrap_or(f64::NAN);
            let cpu = p
                .and_then(|p| p["cpu_seconds"].as_f64())
                .unwrap_or(f64::NAN);
            let mem = p.and_then(|p| p["peak_mib"].as_f64());
            secs.push(s);
            let cell = match mem {
                Some(mm) => format!("{s:.3}/{cpu:.2} ({mm:.0})"),
                None => format!("{s:.3}/{cpu:.2}"),
            };
            print!(" {cell:>24}");
        }
        let ratio = secs.last().copied().unwrap_or(f64::NAN) / secs[0];
        println!(" {ratio:>12.1}");
    }
    Ok(())
}

/// A deferred-acceptance instance in the peer benchmark's JSON form.
#[derive(serde::Deserialize)]
struct DaInstance {
    capacity: Vec<u32>,
    students: Vec<Vec<u32>>,
    priority: Vec<Vec<u32>>,
}

fn da(input: &Path, output: Option<&Path>, repeat: usize) -> Result<()> {
    use lottery::mechanism::{Instance, UNPLACED, deferred_acceptance};
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let t0 = Instant::now();
    let inst: DaInstance = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a DA instance", input.display()))?;
    let parse = t0.elapsed().as_secs_f64();
    let n = inst.students.len();
    let m = inst.capacity.len();
    let mut best = f64::INFINITY;
    let mut result = Vec::new();
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        // Priority position of each (school, student): rank arrays per school, looked up by
        // scanning each student's list once.
        let mut pos_start = vec![0usize; m + 1];
        for (s, p) in inst.priority.iter().enumerate() {
            pos_start[s + 1] = pos_start[s] + p.len();
        }
        let mut sorted: Vec<(u32, u32)> = Vec::with_capacity(pos_start[m]);
        for p in &inst.priority {
            let base = sorted.len();
            sorted.extend(p.iter().enumerate().map(|(r, &i)| (i, r as u32)));
            sorted[base..].sort_unstable();
        }
        let mut pref_start = Vec::with_capacity(n + 1);
        pref_start.push(0u32);
        let mut pref_school = Vec::new();
        let mut pref_key = Vec::new();
        for (i, list) in inst.students.iter().enumerate() {
            for &s in list {
                let su = s as usize;
                if su >= m {
                    bail!("student {i} ranks school {s}, which does not exist");
                }
                let slice = &sorted[pos_start[su]..pos_start[su + 1]];
                let Ok(k) = slice.binary_search_by_key(&(i as u32), |&(j, _)| j) else {
                    bail!("school {s} does not rank student {i}, who ranks it");
                };
                pref_school.push(s);
                pref_key.push(u64::from(slice[k].1));
            }
            pref_start.push(pref_school.len() as u32);
        }
        let instance = Instance {
            capacity: inst.capacity.clone(),
            pref_start,
            pref_school,
            pref_key,
        };
        let valid = instance
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid instance: {e}"))?;
        let a = deferred_acceptance(valid);
        let secs = t.elapsed().as_secs_f64();
        best = best.min(secs);
        result = a;
    }
    let assignment: Vec<i64> = result
        .iter()
        .map(|&s| if s == UNPLACED { -1 } else { i64::from(s) })
        .collect();
    if let Some(out) = output {
        std::fs::write(out, serde_json::to_vec(&assignment)?)
            .with_context(|| format!("writing {}", out.display()))?;
    }
    println!(
        "{}",
        serde_json::json!({"students": n, "schools": m, "seconds": best, "parse_seconds": parse, "placed": assignment.iter().filter(|&&s| s >= 0).count()})
    );
    Ok(())
}
