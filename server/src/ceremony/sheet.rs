//! The ceremony sheet: one printable A4 page for the notarial certificate (HTML, and the same
//! facts as plain text), with a QR code of the bundle's hash.

use crate::html::escape as esc;
use lottery::encoding::{Domain, sha256};

/// Which program ran: version and SHA-256 of the running executable.
#[derive(Debug, Clone)]
pub struct BuildIdentity {
    /// `fairdraw <version>`.
    pub version: String,
    /// SHA-256 of the executable file (hex), or `unknown`.
    pub executable_sha256: String,
}

impl BuildIdentity {
    /// The identity of the running program.
    pub fn current() -> BuildIdentity {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::read(p).ok())
            .map(|b| sha256(&b).to_hex())
            .unwrap_or_else(|| "unknown".into());
        BuildIdentity {
            version: format!("fairdraw {}", env!("CARGO_PKG_VERSION")),
            executable_sha256: exe,
        }
    }
}

/// Everything printed on the sheet.
#[derive(Debug, Clone)]
pub struct SheetData {
    /// Real or rehearsal.
    pub domain: Domain,
    /// Round id.
    pub round_id: String,
    /// Title.
    pub title: String,
    /// Draw date from the policy.
    pub draw_date: String,
    /// The manifest's `created`.
    pub created: String,
    /// Build identity.
    pub build: BuildIdentity,
    /// Input root (hex).
    pub input_root: String,
    /// Tree size.
    pub tree_size: u64,
    /// Applicants.
    pub applicants: u64,
    /// Schools.
    pub schools: u64,
    /// Seats.
    pub seats: u64,
    /// Placed applicants.
    pub placed: u64,
    /// (party, commitment hex).
    pub commitments: Vec<(String, String)>,
    /// (party, share hex).
    pub reveals: Vec<(String, String)>,
    /// (kind, source, value hex).
    pub beacon: (String, String, String),
    /// Seed hex.
    pub seed: String,
    /// Results root hex.
    pub results_root: String,
    /// Log head hex.
    pub log_head: String,
    /// (signer, fingerprint).
    pub signatures: Vec<(String, String)>,
    /// SHA-256 of manifest.json.
    pub bundle_hash: String,
    /// Set when a network interface was up.
    pub network_warning: Option<String>,
    /// Who ran the draw.
    pub operator: String,
}

/// Terminal width of a string: CJK and other wide characters count 2.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            if (0x1100..=0x115f).contains(&u)
                || (0x2e80..=0xa4cf).contains(&u)
                || (0xac00..=0xd7a3).contains(&u)
                || (0xf900..=0xfaff).contains(&u)
                || (0xfe30..=0xfe4f).contains(&u)
                || (0xff00..=0xff60).contains(&u)
                || (0xffe0..=0xffe6).contains(&u)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

/// The QR code's content: `fairdraw-bundle:<round id>:<domain>:<sha256 of manifest.json>`.
pub fn qr_payload(d: &SheetData) -> String {
    format!(
        "fairdraw-bundle:{}:{}:{}",
        d.round_id,
        d.domain.as_str(),
        d.bundle_hash
    )
}

/// An inline SVG QR code.
pub fn qr_svg(payload: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(150, 150)
            .quiet_zone(true)
            .build(),
        Err(e) => format!("<p>QR code unavailable: {}</p>", esc(&e.to_string())),
    }
}

/// The sheet as HTML (A4, one page).
pub fn html(d: &SheetData) -> String {
    let rehearsal = d.domain == Domain::Rehearsal;
    let mark = if rehearsal {
        "【演练 REHEARSAL】"
    } else {
        ""
    };
    let mut h = String::new();
    h.push_str(&format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{mark}派位仪式记录单 Ceremony sheet — {rid}</title>
<style>
@page {{ size: A4; margin: 12mm; }}
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "SimHei", sans-serif; font-size: 9pt; color: #000; margin: 0; }}
h1 {{ font-size: 14pt; margin: 0 0 2mm; text-align: center; }}
.rehearsal {{ border: 2px solid #000; text-align: center; font-size: 13pt; font-weight: bold; padding: 1mm; margin-bottom: 2mm; }}
.warn {{ border: 2px dashed #000; padding: 1mm; margin: 1mm 0; font-weight: bold; }}
table {{ border-collapse: collapse; width: 100%; margin: 1mm 0; }}
td, th {{ border: 1px solid #000; padding: 0.6mm 1.5mm; text-align: left; vertical-align: top; }}
th {{ width: 28%; font-weight: normal; }}
.mono {{ font-family: "DejaVu Sans Mono", "Consolas", monospace; font-size: 7.5pt; word-break: break-all; }}
.top {{ display: flex; gap: 3mm; align-items: flex-start; }}
.top .left {{ flex: 1; min-width: 0; }}
.qr {{ width: 36mm; flex: none; text-align: center; font-size: 7pt; }}
.qr svg {{ width: 36mm; height: 36mm; }}
.sign td {{ height: 12mm; }}
</style>
</head>
<body>
"#,
        rid = esc(&d.round_id)
    ));
    if rehearsal {
        h.push_str(
            "<div class=\"rehearsal\">演练 REHEARSAL — 本记录单仅记录演练，不是正式派位</div>\n",
        );
    }
    h.push_str(&format!(
        "<h1>{mark}派位仪式记录单 / Draw ceremony sheet</h1>\n"
    ));
    let qr = format!(
        "<div class=\"qr\">{}<br>数据包哈希 QR<br>bundle hash</div>\n",
        qr_svg(&qr_payload(d))
    );
    if let Some(w) = &d.network_warning {
        h.push_str(&format!("<div class=\"warn\">{}</div>\n", esc(w)));
    }
    let row = |k: &str, v: &str, mono: bool| {
        format!(
            "<tr><th>{k}</th><td{}>{}</td></tr>\n",
            if mono { " class=\"mono\"" } else { "" },
            esc(v)
        )
    };
    h.push_str("<div class=\"top\"><div class=\"left\">\n<table>\n");
    h.push_str(&row(
        "轮次 Round",
        &format!("{} — {}", d.round_id, d.title),
        false,
    ));
    h.push_str(&row(
        "类型 Kind",
        if rehearsal {
            "演练 rehearsal"
        } else {
            "正式 real"
        },
        false,
    ));
    h.push_str(&row("派位日期 Draw date", &d.draw_date, false));
    h.push_str(&row(
        "记录时间 Recorded (manifest created)",
        &d.created,
        false,
    ));
    h.push_str(&row("程序 Build", &d.build.version, false));
    h.push_str(&row(
        "程序哈希 Executable SHA-256",
        &d.build.executable_sha256,
        true,
    ));
    h.push_str(&row(
        "网络 Network",
        d.network_warning
            .as_deref()
            .unwrap_or("offline: no network interface up / 断网"),
        false,
    ));
    h.push_str(&row("名单根哈希 Input root", &d.input_root, true));
    h.push_str(&row(
        "人数 Counts",
        &format!(
            "申请人 applicants {} · 学校 schools {} · 学位 seats {} · 录取 placed {} · 叶子 leaves {}",
            d.applicants, d.schools, d.seats, d.placed, d.tree_size
        ),
        false,
    ));
    h.push_str("</table>\n</div>\n");
    h.push_str(&qr);
    h.push_str("</div>\n<table>\n<tr><th>参与方 Party</th><th>承诺 Commitment</th><th>公开份额 Revealed share</th></tr>\n");
    for (p, c) in &d.commitments {
        let r = d
            .reveals
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, s)| s.as_str())
            .unwrap_or("—");
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>\n",
            esc(p),
            esc(c),
            esc(r)
        ));
    }
    h.push_str("</table>\n<table>\n");
    h.push_str(&row(
        "信标 Beacon",
        &format!("{} — {}", d.beacon.0, d.beacon.1),
        false,
    ));
    h.push_str(&row("信标值 Beacon value (hex)", &d.beacon.2, true));
    h.push_str(&row("种子 Seed", &d.seed, true));
    h.push_str(&row("结果根哈希 Results root", &d.results_root, true));
    h.push_str(&row("日志链头 Log head", &d.log_head, true));
    h.push_str(&row(
        "数据包哈希 Bundle hash (SHA-256 of manifest.json)",
        &d.bundle_hash,
        true,
    ));
    for (n, f) in &d.signatures {
        h.push_str(&row(
            "签名 Signature (key fingerprint)",
            &format!("{n}: {f}"),
            false,
        ));
    }
    h.push_str(&row(
        "存档哈希 Archive SHA-256 (handwritten / 手写)",
        "",
        false,
    ));
    h.push_str("</table>\n<table class=\"sign\">\n<tr><th>操作员 Operator</th><td>");
    h.push_str(&esc(&d.operator));
    h.push_str("</td></tr>\n<tr><th>公证员签字 Notary</th><td></td></tr>\n<tr><th>监督员签字 Observer</th><td></td></tr>\n<tr><th>教育局盖章 Bureau seal</th><td></td></tr>\n</table>\n");
    h.push_str("<p>任何人都可用 fairdraw-verify 重新计算本次派位 / Anyone can recompute this draw with fairdraw-verify.</p>\n</body>\n</html>\n");
    h
}

/// The sheet as plain text (the same facts, for the log book and `docs/CEREMONY.md`).
pub fn text(d: &SheetData) -> String {
    let rehearsal = d.domain == Domain::Rehearsal;
    let mut t = String::new();
    if rehearsal {
        t.push_str("*** 演练 REHEARSAL — not a real draw / 不是正式派位 ***\n");
    }
    t.push_str("派位仪式记录单 / Draw ceremony sheet\n");
    let mut kv = |k: &str, v: &str| {
        let pad = 36usize.saturating_sub(display_width(k));
        t.push_str(&format!("{k}{} {v}\n", " ".repeat(pad)));
    };
    kv("Round / 轮次", &format!("{} — {}", d.round_id, d.title));
    kv(
        "Kind / 类型",
        if rehearsal {
            "rehearsal 演练"
        } else {
            "real 正式"
        },
    );
    kv("Draw date / 派位日期", &d.draw_date);
    kv("Recorded / 记录时间", &d.created);
    kv("Build / 程序", &d.build.version);
    kv("Executable SHA-256 / 程序哈希", &d.build.executable_sha256);
    kv(
        "Network / 网络",
        d.network_warning
            .as_deref()
            .unwrap_or("offline: no network interface up / 断网"),
    );
    kv("Input root / 名单根哈希", &d.input_root);
    kv(
        "Counts / 人数",
        &format!(
            "applicants {} · schools {} · seats {} · placed {} · leaves {}",
            d.applicants, d.schools, d.seats, d.placed, d.tree_size
        ),
    );
    for (p, c) in &d.commitments {
        kv(&format!("Commitment / 承诺 {p}"), c);
    }
    for (p, s) in &d.reveals {
        kv(&format!("Share / 份额 {p}"), s);
    }
    kv("Beacon / 信标", &format!("{} — {}", d.beacon.0, d.beacon.1));
    kv("Beacon value / 信标值", &d.beacon.2);
    kv("Seed / 种子", &d.seed);
    kv("Results root / 结果根哈希", &d.results_root);
    kv("Log head / 日志链头", &d.log_head);
    kv("Bundle hash / 数据包哈希", &d.bundle_hash);
    for (n, f) in &d.signatures {
        kv("Signature / 签名", &format!("{n} (fingerprint {f})"));
    }
    kv("QR code / 二维码", &qr_payload(d));
    kv("Operator / 操作员", &d.operator);
    kv("Archive SHA-256 / 存档哈希", "(written by hand / 手写)");
    kv("Notary / 公证员签字", "");
    t
}
