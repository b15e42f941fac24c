//! `fairdraw-verify`: re-checks a Fairdraw bundle — signatures, commitments, input root, seed and
//! every placement — and co-signs it for a notary. Exit 0 verified, 1 a discrepancy, 2 unusable
//! input. Depends only on `lottery` and small, well-known crates.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use lottery::verify::{self, Files, Report, Status};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use verifier::bundle_dir::{DirSource, read_bundle};

mod i18n;
use i18n::Lang;

/// mimalloc keeps and reuses freed memory instead of returning each large block to the kernel
/// and faulting fresh zeroed pages in for the next one (a third of the time at a million
/// applicants went to page faults with the system allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Asks Linux for ordinary 4 KiB pages only (`PR_SET_THP_DISABLE`), before the first large
/// allocation. mimalloc asks for transparent huge pages for its memory, which speeds a process
/// whose memory is already in place, but a verification is a short process whose every page is
/// fresh: each first touch of a 2 MiB page zeroes all of it at once, and on a virtual machine
/// whose host has taken its free memory back, faults it in from the host first. At a million
/// applicants that made the runs that found no memory warm (a notary's laptop, or any run a few
/// seconds after the last) take 2.9–3.0 s instead of 2.2–2.3 s (docs/PERFORMANCE.md, tenth
/// pass). Best effort: a kernel without the option verifies as before.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// Verify a Fairdraw bundle: signatures, commitments, input root, seed derivation and every
/// placement, byte for byte.
#[derive(Parser)]
#[command(
    name = "fairdraw-verify",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// The bundle directory.
    dir: Option<PathBuf>,
    /// Show one applicant's record, result and inclusion proof.
    #[arg(long)]
    applicant: Option<String>,
    /// Report language: zh or en (default: from LC_ALL / LC_MESSAGES / LANG).
    #[arg(long, global = true)]
    lang: Option<String>,
    /// Machine-readable JSON report on stdout.
    #[arg(long)]
    json: bool,
    /// After every check passes, co-sign the manifest with this key file (from `keygen`) and
    /// write `cosign-<signer>.json` into the bundle directory.
    #[arg(long)]
    cosign: Option<PathBuf>,
    /// Require the manifest to be signed by this public key (hex or fingerprint).
    #[arg(long)]
    trust_key: Vec<String>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make a notary key pair: KEYFILE (secret, owner-only) and KEYFILE.pub.
    Keygen {
        /// Key file to create.
        keyfile: PathBuf,
        /// Signer name written in co-signatures (ASCII, e.g. notary-1).
        #[arg(long, default_value = "notary")]
        signer: String,
    },
}

fn main() -> ExitCode {
    no_huge_pages();
    let cli = Cli::parse();
    let lang = Lang::pick(cli.lang.as_deref());
    match cli.command {
        Some(Cmd::Keygen { keyfile, signer }) => return keygen(&keyfile, &signer, lang),
        None => {}
    }
    let Some(dir) = cli.dir else {
        eprintln!("{}", lang.t("usage: fairdraw-verify DIR [--applicant ID] [--json] [--lang zh|en] [--cosign KEYFILE]", "用法：fairdraw-verify 目录 [--applicant 报名号] [--json] [--lang zh|en] [--cosign 密钥文件]"));
        return ExitCode::from(2);
    };
    // A key that cannot be used is refused before any work.
    let cosign_key = match &cli.cosign {
        None => None,
        Some(k) => match read_key(k) {
            Ok(sk) => Some(sk),
            Err(e) => {
                eprintln!("{}: {e}", lang.t("cannot co-sign", "无法联署"));
                return ExitCode::from(2);
            }
        },
    };
    let bar = progress_bar(lang);
    if let Some(b) = &bar {
        b.set_message(lang.t("reading the bundle", "读取数据包"));
    }
    let t0 = std::time::Instant::now();
    let timing = std::env::var_os("FAIRDRAW_VERIFY_TIMING").is_some();
    let files = match read_bundle(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: {e}", lang.t("unusable input", "输入不可用"));
            return ExitCode::from(2);
        }
    };
    if let Some(id) = cli.applicant {
        if let Some(b) = &bar {
            b.set_message(lang.t("input root and inclusion proof", "输入根与包含证明"));
        }
        return match files.into_files() {
            Ok(files) => applicant(&files, &id, lang, cli.json, bar),
            Err(e) => {
                eprintln!("{}: {e}", lang.t("unusable input", "输入不可用"));
                ExitCode::from(2)
            }
        };
    }
    if timing {
        eprintln!("read at {:?}{}", t0.elapsed(), memory());
    }
    let result = verify::verify_with_progress(&files, &mut |stage| {
        if timing {
            eprintln!("{:?} at {:?}{}", stage, t0.elapsed(), memory());
        }
        if let Some(b) = &bar {
            b.set_message(stage_name(stage, lang));
        }
    });
    if timing {
        eprintln!("checked at {:?}{}", t0.elapsed(), memory());
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"result": "unusable", "error": e.to_string()})
                );
            }
            eprintln!("{}: {e}", lang.t("unusable input", "输入不可用"));
            if !cli.json {
                println!("{}: {e}", lang.t("UNUSABLE INPUT", "输入不可用"));
            }
            return ExitCode::from(2);
        }
    };
    let mut ok = report.ok();
    let mut trust_msg = None;
    for want in &cli.trust_key {
        let found = report
            .signers
            .iter()
            .any(|s| s.public_key == *want || s.fingerprint == *want);
        if !found {
            ok = false;
            trust_msg = Some(format!(
                "{} {want}",
                lang.t(
                    "no valid signature by the trusted key",
                    "没有受信任密钥的有效签名："
                )
            ));
        }
    }
    // Co-sign only after every check passed; the co-signature line comes before the final
    // VERIFIED line so the summary still ends with it.
    let mut cosigned = None;
    if ok && let Some((signer, key)) = &cosign_key {
        match cosign(&dir, &files, signer, key) {
            Ok(path) => cosigned = Some(path),
            Err(e) => {
                eprintln!("{}: {e}", lang.t("cannot co-sign", "无法联署"));
                return ExitCode::from(2);
            }
        }
    }
    let cosign_line = cosigned.as_ref().map(|p| {
        format!(
            "{} {}",
            lang.t("co-signature written:", "联署签名已写入："),
            p.display()
        )
    });
    if cli.json {
        let mut v = json_report(&report, ok, trust_msg.as_deref());
        if let Some(p) = &cosigned {
            v["cosign_file"] = serde_json::Value::String(p.display().to_string());
        }
        println!("{v}");
    } else {
        print_report(
            &report,
            lang,
            ok,
            trust_msg.as_deref(),
            cosign_line.as_deref(),
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A spinner on stderr, only when stderr is a terminal.
fn progress_bar(lang: Lang) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
        b.set_style(style);
    }
    b.enable_steady_tick(std::time::Duration::from_millis(120));
    b.set_message(lang.t("starting", "开始"));
    Some(b)
}

fn stage_name(s: verify::Stage, lang: Lang) -> &'static str {
    use verify::Stage::*;
    match s {
        Inventory => lang.t("reading the manifest", "读取清单"),
        InputRoot => lang.t(
            "file hashes, inputs and input root; signatures",
            "文件哈希、输入与输入根；签名",
        ),
        Seed => lang.t(
            "seed: commitments, reveals, beacon",
            "种子：承诺、揭示、信标",
        ),
        Replay => lang.t("replay: re-running the draw", "重放：重新运行摇号"),
        ResultsRoot => lang.t("results root", "结果根"),
    }
}

/// A discrepancy's location in words.
fn describe(l: &verify::Location, lang: Lang) -> String {
    match lang {
        Lang::En => l.describe(),
        Lang::Zh => {
            let mut s = l.file.clone();
            if let Some(n) = l.line {
                s.push_str(&format!("，第 {n} 行"));
            }
            if let Some(r) = &l.record {
                s.push_str(&format!("（记录 {r}）"));
            }
            if let Some(f) = &l.field {
                s.push_str(&format!("，字段 {f}"));
            }
            match (&l.expected, &l.found) {
                (Some(e), Some(f)) => s.push_str(&format!("：应为 {e:?}，实为 {f:?}")),
                (Some(e), None) => s.push_str(&format!("：应为 {e:?}")),
                _ => {}
            }
            s
        }
    }
}

/// For `FAIRDRAW_VERIFY_TIMING`: the process's resident memory now and at its peak, and the CPU
/// time of all its threads so far (Linux).
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    // User and system time of all threads so far, in clock ticks (fields 14 and 15 of
    // /proc/self/stat, counted after the command name's closing parenthesis).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let cpu = match ticks[..] {
        [u, s] => format!(", CPU {:.2} s", (u + s) as f64 / 100.0),
        _ => String::new(),
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (rss, hwm) if !rss.is_empty() => format!(" (RSS {rss}, peak {hwm}{cpu})"),
        _ => String::new(),
    }
}

fn status_word(s: &Status, lang: Lang) -> &'static str {
    match s {
        Status::Pass => lang.t("PASS", "通过"),
        Status::Fail(_) => lang.t("FAIL", "失败"),
        Status::Skip(_) => lang.t("SKIP", "跳过"),
    }
}

fn print_report(r: &Report, lang: Lang, ok: bool, trust: Option<&str>, before_last: Option<&str>) {
    let rehearsal = r.domain == Some(lottery::Domain::Rehearsal);
    println!("{} {}", lang.t("Round:", "轮次："), r.round_id);
    if rehearsal {
        println!(
            "{}",
            lang.t(
                "*** REHEARSAL bundle (演练) — not a real draw ***",
                "*** 演练（REHEARSAL）数据包——不是正式摇号 ***"
            )
        );
    }
    for c in &r.checks {
        let name = match lang {
            Lang::Zh => c.zh,
            Lang::En => c.en,
        };
        let extra = match &c.status {
            Status::Fail(m) => format!("\n         {m}"),
            Status::Skip(m) if !m.is_empty() => format!(" ({m})"),
            _ => String::new(),
        };
        println!(
            "  {:4} {:5} {name}{extra}",
            c.id,
            status_word(&c.status, lang)
        );
    }
    for s in &r.signers {
        println!(
            "  {} {} [{}] {}",
            lang.t("signer", "签名者"),
            s.name,
            s.fingerprint,
            s.role
        );
    }
    if let Some(t) = trust {
        println!("  {t}");
    }
    if let Some(l) = before_last {
        println!("{l}");
    }
    if ok {
        let kind = if rehearsal {
            lang.t("REHEARSAL ", "演练 ")
        } else {
            ""
        };
        println!(
            "VERIFIED {kind}round {} — {} applicants, {} placed, {} schools; seed {}; results root {}",
            r.round_id, r.applicants, r.placed, r.schools, r.seed, r.results_root
        );
    } else if let Some(f) = r.first_failure() {
        let msg = match &f.status {
            Status::Fail(m) => m.as_str(),
            _ => "",
        };
        println!(
            "{} {}: {msg}",
            lang.t(
                "NOT VERIFIED — first discrepancy at",
                "未通过验证——首个不一致："
            ),
            f.id
        );
        if let Some(l) = &f.location {
            println!("  {} {}", lang.t("where:", "位置："), describe(l, lang));
        }
    } else {
        println!(
            "{}",
            lang.t(
                "NOT VERIFIED — trusted key missing",
                "未通过验证——缺少受信任密钥"
            )
        );
    }
}

fn json_report(r: &Report, ok: bool, trust: Option<&str>) -> serde_json::Value {
    let checks: Vec<serde_json::Value> = r
        .checks
        .iter()
        .map(|c| {
            let (status, detail) = match &c.status {
                Status::Pass => ("pass", String::new()),
                Status::Fail(m) => ("fail", m.clone()),
                Status::Skip(m) => ("skip", m.clone()),
            };
            serde_json::json!({"id": c.id, "name": c.en, "name_zh": c.zh, "status": status, "detail": detail, "location": c.location.as_ref().map(location_json)})
        })
        .collect();
    serde_json::json!({
        "result": if ok { "verified" } else { "failed" },
        "round_id": r.round_id,
        "domain": r.domain.map(|d| d.as_str()).unwrap_or(""),
        "applicants": r.applicants,
        "placed": r.placed,
        "schools": r.schools,
        "input_root": r.input_root,
        "seed": r.seed,
        "results_root": r.results_root,
        "checks": checks,
        "signers": r.signers.iter().map(|s| serde_json::json!({"name": s.name, "fingerprint": s.fingerprint, "public_key": s.public_key, "role": s.role})).collect::<Vec<_>>(),
        "trust": trust.unwrap_or(""),
        "changed_files": r.changed_files,
        "first_discrepancy": r.first_failure().map(|c| serde_json::json!({
            "check": c.id,
            "message": match &c.status { Status::Fail(m) => m.as_str(), _ => "" },
            "location": c.location.as_ref().map(location_json),
        })),
    })
}

fn location_json(l: &verify::Location) -> serde_json::Value {
    serde_json::json!({
        "file": l.file, "line": l.line, "record": l.record, "field": l.field,
        "expected": l.expected, "found": l.found,
    })
}

fn applicant(
    files: &Files,
    id: &str,
    lang: Lang,
    json: bool,
    bar: Option<indicatif::ProgressBar>,
) -> ExitCode {
    let view = verify::applicant_view(files, id);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let view = match view {
        Ok(Some(v)) => v,
        Ok(None) => {
            let msg = format!(
                "{} {id} {}",
                lang.t("no such application id:", "没有此报名号："),
                lang.t(
                    "(it is not in applicants.csv; check the spelling, e.g. A2026-0000123)",
                    "（applicants.csv 中没有；请核对拼写，例如 A2026-0000123）"
                )
            );
            if json {
                println!(
                    "{}",
                    serde_json::json!({"application_id": id, "status": "not_found", "error": msg})
                );
            }
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"status": "unusable", "error": e.to_string()})
                );
            }
            eprintln!("{}: {e}", lang.t("unusable input", "输入不可用"));
            return ExitCode::from(2);
        }
    };
    let ok = view.verified();
    let map = |v: &[(String, String)]| {
        v.iter()
            .cloned()
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    if json {
        let ticket = view.ticket.as_ref().map(|t| {
            serde_json::json!({
                "seed": t.seed, "label": t.label, "key_input_hex": t.key_input_hex, "key": t.key,
                "name": t.name, "ticket_input_hex": t.ticket_input_hex, "ticket": t.ticket,
                "matches_results": t.matches_results,
                "commands": [
                    format!("printf '%s' {} | xxd -r -p | sha256sum", t.key_input_hex),
                    format!("printf '%s' {} | xxd -r -p | sha256sum", t.ticket_input_hex),
                ],
            })
        });
        println!(
            "{}",
            serde_json::json!({
                "application_id": id,
                "status": if ok { "verified" } else { "failed" },
                "round": view.round,
                "record_file": view.record_file,
                "record": map(&view.record),
                "result_file": view.result_file,
                "result": map(&view.result),
                "school_id": view.result_field("school_id"),
                "school_id_now": view.placed_now(),
                "supplements": view.supplements.iter().map(|st| match &st.change {
                    verify::SupplementChange::Declined => serde_json::json!({"supplement": st.supplement, "change": "declined"}),
                    verify::SupplementChange::Refilled { seq, school, vacated } => serde_json::json!({"supplement": st.supplement, "change": "refilled", "seq": seq, "school_id": school, "vacated_school_id": vacated}),
                }).collect::<Vec<_>>(),
                "files_not_as_signed": view.unlisted,
                "lottery_number": view.result_field("lottery_number"),
                "points": view.result_field("points"),
                "points_parts": view.result_field("points_parts"),
                "class": view.result_field("class"),
                "waitlists": view.waitlists.iter().map(|(st, s, p)| serde_json::json!({"stage": st, "school_id": s, "position": p})).collect::<Vec<_>>(),
                "classes": view.classes.iter().map(|(s, c)| serde_json::json!({"school_id": s, "class": c})).collect::<Vec<_>>(),
                "ticket": ticket,
                "leaf_index": view.leaf_index, "tree_size": view.tree_size, "leaf_hash": view.leaf_hash,
                "proof": view.proof,
                "input_root": view.input_root, "inclusion_proof": if view.proof_ok { "valid" } else { "invalid" },
                "manifest_signature": if view.signature_ok { "valid" } else { "invalid" },
                "signers": view.signers.iter().map(|s| serde_json::json!({"name": s.name, "fingerprint": s.fingerprint, "public_key": s.public_key, "role": s.role})).collect::<Vec<_>>(),
            })
        );
        return if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let yes_no = |b: bool| {
        if b {
            lang.t("valid", "有效")
        } else {
            lang.t("INVALID", "无效")
        }
    };
    println!("{} {id}", lang.t("Application", "报名号"));
    if view.round != "main" {
        println!(
            "  {} {}",
            lang.t(
                "a late arrival, placed by supplement",
                "随到随入的报名，由补录轮次录取："
            ),
            view.round
        );
    }
    println!("{} ({})", lang.t("Record", "报名记录"), view.record_file);
    for (k, v) in &view.record {
        if k != "application_id" {
            println!("  {k:22} {v}");
        }
    }
    println!("{} ({})", lang.t("Result", "结果"), view.result_file);
    println!(
        "  {:22} {}",
        lang.t("placed at", "录取学校"),
        school_or_none(view.result_field("school_id"), lang)
    );
    println!(
        "  {:22} {}",
        lang.t("lottery number", "摇号号码"),
        view.result_field("lottery_number")
    );
    if view.round == "main" {
        println!(
            "  {:22} {} / {}",
            lang.t("stage / detail", "阶段 / 说明"),
            view.result_field("stage"),
            view.result_field("detail")
        );
    } else {
        println!(
            "  {:22} {}",
            lang.t("detail", "说明"),
            view.result_field("detail")
        );
    }
    if !view.result_field("points").is_empty() {
        println!(
            "  {:22} {}",
            lang.t("points total", "积分总分"),
            view.result_field("points")
        );
        for part in view.result_field("points_parts").split(';') {
            if !part.is_empty() {
                println!("      {part}");
            }
        }
    }
    let class = view.result_field("class");
    if !class.is_empty() {
        println!("  {:22} {class}", lang.t("class", "班级"));
    }
    for (s, c) in &view.classes {
        println!("  {} {s}: {c}", lang.t("classes.csv", "分班表"));
    }
    if view.waitlists.is_empty() && view.round == "main" {
        println!("  {}", lang.t("on no waitlist", "不在任何候补名单上"));
    }
    for (st, s, p) in &view.waitlists {
        println!(
            "  {} {st} / {s}: {} {p}",
            lang.t("waitlist", "候补"),
            lang.t("position", "位次")
        );
    }
    if !view.supplements.is_empty() {
        println!(
            "{}",
            lang.t("After the draw (supplements)", "摇号之后（补录）")
        );
        for st in &view.supplements {
            match &st.change {
                verify::SupplementChange::Declined => println!(
                    "  {}: {}",
                    st.supplement,
                    lang.t(
                        "the seat was given up (declines.csv); the application left the round",
                        "放弃学位（declines.csv），退出本轮"
                    )
                ),
                verify::SupplementChange::Refilled {
                    seq,
                    school,
                    vacated,
                } => println!(
                    "  {}: {} {school} ({} {seq}){}",
                    st.supplement,
                    lang.t("took a refilled seat at", "递补录取到"),
                    lang.t("refills.csv offer", "refills.csv 序号"),
                    if vacated.is_empty() {
                        String::new()
                    } else {
                        format!(", {} {vacated}", lang.t("leaving", "让出"))
                    }
                ),
            }
        }
        println!(
            "  {:22} {}",
            lang.t("placed now", "当前录取学校"),
            school_or_none(view.placed_now(), lang)
        );
    }
    if let Some(t) = &view.ticket {
        println!("{}", lang.t("Lottery ticket", "摇号票值"));
        println!("  {:22} {}", lang.t("ticket", "票值"), t.ticket);
        println!(
            "  {:22} {}",
            format!("{} {}", lang.t("equals", "一致于"), view.result_file),
            if t.matches_results {
                lang.t("yes", "是")
            } else {
                lang.t("NO", "否")
            }
        );
        println!(
            "{}",
            lang.t(
                "  Recompute it yourself (each field is a 4-byte big-endian length, then its bytes):",
                "  自行重算（每个字段为 4 字节大端长度，后接字段内容）："
            )
        );
        println!(
            "  1. {} {:?}:",
            lang.t(
                "purpose key = SHA-256(tag, seed, label), label",
                "用途密钥 = SHA-256(标签, 种子, 用途)，用途"
            ),
            t.label
        );
        println!(
            "     printf '%s' {} | xxd -r -p | sha256sum",
            t.key_input_hex
        );
        println!("     → {}", t.key);
        println!(
            "  2. {} {:?}:",
            lang.t(
                "ticket = SHA-256(tag, purpose key, name), name",
                "票值 = SHA-256(标签, 用途密钥, 名称)，名称"
            ),
            t.name
        );
        println!(
            "     printf '%s' {} | xxd -r -p | sha256sum",
            t.ticket_input_hex
        );
        println!("     → {}", t.ticket);
        println!(
            "{}",
            if view.round == "main" {
                lang.t(
                    "  Lottery number = rank of the ticket among all tickets, smallest first (1 = best).",
                    "  摇号号码 = 该票值在全部票值中从小到大的名次（1 为最优）。",
                )
            } else {
                lang.t(
                    "  Lottery number = rank of the ticket among the supplement's late arrivals' tickets, smallest first (1 = best).",
                    "  摇号号码 = 该票值在本补录轮次全部随到随入报名的票值中从小到大的名次（1 为最优）。",
                )
            }
        );
    }
    println!("{}", lang.t("Proofs", "证明"));
    println!(
        "  {} {} / {} → {}: {}",
        lang.t("inclusion proof: leaf", "包含证明：叶"),
        view.leaf_index,
        view.tree_size,
        view.input_root,
        yes_no(view.proof_ok)
    );
    println!("    {} {}", lang.t("leaf hash", "叶哈希"), view.leaf_hash);
    for (k, p) in view.proof.iter().enumerate() {
        println!("    {} {k}: {p}", lang.t("path", "路径"));
    }
    println!(
        "  {}: {}",
        lang.t("manifest signature", "清单签名"),
        yes_no(view.signature_ok)
    );
    for f in &view.unlisted {
        println!(
            "  {f}: {}",
            lang.t(
                "NOT the file its manifest signed (SHA-256 or size differs)",
                "与清单签名的文件不符（SHA-256 或大小不同）"
            )
        );
    }
    for s in &view.signers {
        println!(
            "    {} {} [{}] {}",
            lang.t("signer", "签名者"),
            s.name,
            s.fingerprint,
            s.role
        );
    }
    if ok {
        println!(
            "{} {id}",
            lang.t(
                "INCLUDED — the signed input root contains",
                "已包含——签名的输入根包含"
            )
        );
        println!(
            "{}",
            lang.t(
                "(run fairdraw-verify DIR without --applicant to re-check the seed and every placement)",
                "（不带 --applicant 运行 fairdraw-verify 目录，可重算种子与全部录取结果）"
            )
        );
        ExitCode::SUCCESS
    } else {
        println!("{} {id}", lang.t("NOT VERIFIED —", "未通过验证——"));
        ExitCode::from(1)
    }
}

/// A school id, or "(not placed)" for none.
fn school_or_none(school: &str, lang: Lang) -> &str {
    if school.is_empty() {
        lang.t("(not placed)", "（未录取）")
    } else {
        school
    }
}

fn keygen(path: &Path, signer: &str, lang: Lang) -> ExitCode {
    if !lottery::policy::is_id(signer) {
        eprintln!(
            "{}",
            lang.t(
                "--signer must be ASCII letters, digits, . _ -",
                "--signer 只能包含 ASCII 字母、数字、. _ -"
            )
        );
        return ExitCode::from(2);
    }
    if path.exists() {
        eprintln!(
            "{} {}",
            lang.t("refusing to overwrite", "拒绝覆盖"),
            path.display()
        );
        return ExitCode::from(2);
    }
    let mut secret = [0u8; 32];
    if getrandom::fill(&mut secret).is_err() {
        eprintln!("no system random source");
        return ExitCode::from(2);
    }
    let key = lottery::manifest::signing_key(&secret);
    let public = hex::encode(key.verifying_key().to_bytes());
    let body = lottery::manifest::key_file(signer, &key);
    if let Err(e) = write_private(path, body.as_bytes()) {
        eprintln!("{}: {e}", path.display());
        return ExitCode::from(2);
    }
    let pub_path = path.with_extension("pub");
    if let Err(e) = std::fs::write(&pub_path, format!("signer={signer}\npublic={public}\n")) {
        eprintln!("{}: {e}", pub_path.display());
        return ExitCode::from(2);
    }
    println!(
        "{} {} ({} {})",
        lang.t("key written:", "密钥已写入："),
        path.display(),
        lang.t("fingerprint", "指纹"),
        lottery::manifest::fingerprint(&key.verifying_key().to_bytes())
    );
    ExitCode::SUCCESS
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Reads a key file written by `keygen` (or `fairdraw keygen`).
fn read_key(path: &Path) -> Result<(String, ed25519_dalek_key::Key), String> {
    ed25519_dalek_key::read(path)
}

fn cosign(
    dir: &Path,
    files: &DirSource,
    signer: &str,
    key: &ed25519_dalek_key::Key,
) -> Result<PathBuf, String> {
    use verify::Source;
    let manifest = files.load("manifest.json")?.unwrap_or_default();
    let man: serde_json::Value = serde_json::from_slice(&manifest).map_err(|e| e.to_string())?;
    let doc = &man["manifest"];
    let domain = lottery::Domain::parse(doc["domain"].as_str().unwrap_or(""))
        .ok_or("manifest: bad domain")?;
    let bytes = lottery::bundle::cosign_file(domain, doc, signer, &key.0);
    let path = dir.join(format!("cosign-{signer}.json"));
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

mod ed25519_dalek_key {
    //! The key-file format shared with `fairdraw keygen`.
    use std::path::Path;

    /// A signing key.
    pub struct Key(pub lottery::manifest::Key);

    /// Reads `fairdraw-key-v1` files, refusing keys other users can read.
    pub fn read(path: &Path) -> Result<(String, Key), String> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(format!(
                    "{}: key file is readable by others; run chmod 600",
                    path.display()
                ));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (signer, key) = lottery::manifest::parse_key_file(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // The signer names the co-signature file: keep it a plain file name.
        if !lottery::policy::is_id(&signer) {
            return Err(format!(
                "{}: signer {signer:?}: only ASCII letters, digits, . _ - are allowed",
                path.display()
            ));
        }
        Ok((signer, Key(key)))
    }
}
