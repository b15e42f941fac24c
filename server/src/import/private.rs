//! The private side of a round: each family's secret (the salt of its private-record hash) and
//! the outputs that carry names and secrets — `secrets.csv` for the notary's sealed copy and
//! `notices.html` to print one notice per child. None of it may enter the public bundle.
//!
//! ## Deterministic secrets
//!
//! `salt = first 16 bytes of H(tag "fairdraw/v1/salt", salt_key, application_id)` with the
//! protocol's length-prefixed hash `H` (a rehearsal uses `fairdraw/v1/rehearsal/salt`). The 32-byte
//! salt key is the bureau's secret: kept like a signing key, sealed with the notary, never
//! published. With the same key and the same input files, an import on a backup PC gives the same
//! secrets, the same private hashes and so the same public bytes. Use a fresh key for every round:
//! application ids may repeat across rounds.

use super::{PrivateEntry, ValidatedRound};
use crate::html::escape as esc;
use lottery::encoding::{Domain, hash_fields};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A family's 16-byte secret, derived from the bureau's salt key and the application id.
pub fn salt_for(domain: Domain, salt_key: &[u8; 32], application_id: &str) -> [u8; 16] {
    let d = hash_fields(&domain.tag("salt"), &[salt_key, application_id.as_bytes()]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&d.0[..16]);
    out
}

/// The secret as 32 lowercase hex digits (as in `secrets.csv` and the lookup form).
pub fn secret_hex(salt: &[u8; 16]) -> String {
    hex::encode(salt)
}

/// The secret grouped for printing and reading aloud: `3f2a-91c0-…` (8 groups of 4).
pub fn secret_grouped(salt: &[u8; 16]) -> String {
    let h = secret_hex(salt);
    h.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// Notices per printable file. A round with more children gets `notices.html` as an index of
/// parts `notices/00001.html`, … of this many notices each, in application-id order: one file
/// of a million notices (1.8 GB) is more than a browser opens or a printer queue takes.
pub const NOTICES_PER_PART: usize = 1000;

/// Paths written by [`write_private`].
#[derive(Debug, Clone)]
pub struct PrivateFiles {
    /// `secrets.csv`.
    pub secrets: PathBuf,
    /// `notices.html`: every notice, or (above [`NOTICES_PER_PART`] children) the index of the
    /// parts.
    pub notices: PathBuf,
    /// The parts `notices/NNNNN.html` in order (empty when `notices.html` holds every notice).
    pub notice_parts: Vec<PathBuf>,
}

/// Writes a file atomically (temporary file in the same directory, then rename), readable by
/// the owner only on Unix; `fill` writes its bytes (buffered).
fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    crate::output::write_atomic_with(path, Some(0o600), fill)
}

/// `secrets.csv`: `application_id,name,secret` in application-id order, UTF-8 with BOM (so that
/// Excel shows the names), fields quoted as needed (names may hold commas).
pub fn secrets_csv(round: &ValidatedRound) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write_secrets_csv(&mut out, round)?;
    Ok(out)
}

/// [`secrets_csv`] written to `out`.
fn write_secrets_csv(out: &mut dyn Write, round: &ValidatedRound) -> io::Result<()> {
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    w.write_record(["application_id", "name", "secret"])?;
    for e in &round.private {
        w.write_record([
            e.application_id.as_str(),
            e.name.as_str(),
            &secret_hex(&e.salt),
        ])?;
    }
    w.flush()
}

/// What every notice of a round shares: its escaped title, the rehearsal mark and where to
/// look the result up.
struct NoticeText {
    title: String,
    mark: &'static str,
    rehearsal: bool,
    lookup: String,
    draw_date: String,
}

impl NoticeText {
    fn new(round: &ValidatedRound, lookup: Option<&str>) -> Self {
        let pol = &round.round.policy;
        let rehearsal = round.round.domain() == Domain::Rehearsal;
        NoticeText {
            title: esc(&pol.round.title),
            mark: if rehearsal {
                "【演练 REHEARSAL】"
            } else {
                ""
            },
            rehearsal,
            lookup: match lookup {
                Some(l) => format!("访问 <b>{}</b>", esc(l)),
                None => "通过教育局公布的查询方式".to_string(),
            },
            draw_date: esc(&pol.round.draw_date),
        }
    }

    /// The page head, up to and including `<body>`; `part` is added to the page title.
    fn head(&self, part: &str) -> String {
        let (mark, title) = (self.mark, &self.title);
        format!(
            r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{mark}{title} — 派位查询凭证{part}</title>
<style>
@page {{ size: A4; margin: 18mm; }}
body {{ font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif; font-size: 12pt; color: #000; }}
.notice {{ page-break-after: always; break-after: page; }}
.notice:last-child {{ page-break-after: auto; break-after: auto; }}
h1 {{ font-size: 16pt; text-align: center; margin: 0 0 4mm; }}
h2 {{ font-size: 14pt; text-align: center; margin: 0 0 6mm; }}
.rehearsal {{ border: 2px solid #000; text-align: center; font-size: 14pt; padding: 2mm; margin-bottom: 4mm; }}
table {{ border-collapse: collapse; width: 100%; margin: 3mm 0; }}
td, th {{ border: 1px solid #000; padding: 2mm 3mm; text-align: left; vertical-align: top; }}
th {{ width: 32%; font-weight: normal; }}
.secret {{ font-family: "DejaVu Sans Mono", "Consolas", monospace; font-size: 15pt; letter-spacing: 0.5pt; }}
.mono {{ font-family: "DejaVu Sans Mono", "Consolas", monospace; font-size: 9pt; word-break: break-all; }}
.small {{ font-size: 10pt; }}
</style>
</head>
<body>
"#
        )
    }

    /// One child's notice (one A4 page), written into `h` (no string of its own: a million of
    /// them are 1.8 GB).
    fn push(&self, h: &mut String, e: &PrivateEntry) {
        use crate::html::Escaped as E;
        use std::fmt::Write as _;
        let (mark, title, lookup) = (self.mark, &self.title, &self.lookup);
        h.push_str("<section class=\"notice\">\n");
        if self.rehearsal {
            h.push_str("<div class=\"rehearsal\">演练 REHEARSAL — 本凭证仅用于演练，不是正式派位凭证</div>\n");
        }
        // Writing into a `String` cannot fail.
        let _ = write!(
            h,
            "<h1>{title}</h1>\n<h2>{mark}派位查询凭证（请妥善保管，勿交给他人）</h2>\n<table>\n<tr><th>儿童姓名</th><td>{}</td></tr>\n<tr><th>申请编号</th><td class=\"secret\">{}</td></tr>\n<tr><th>查询密钥</th><td class=\"secret\">{}</td></tr>\n<tr><th>派位日期</th><td>{}</td></tr>\n</table>\n",
            E(&e.name),
            E(&e.application_id),
            secret_grouped(&e.salt),
            self.draw_date,
        );
        let _ = write!(
            h,
            r#"<h3>如何查询和核对结果</h3>
<ol>
<li>派位结束、结果公布后，{lookup}，输入<b>申请编号</b>和<b>查询密钥</b>，即可看到孩子的派位结果、随机号、候补位次（积分入学的还有积分明细）。</li>
<li>查询密钥只有您家知道。别人没有密钥，查不到您家的信息；公开名单里只有申请编号，没有姓名、身份证号、电话和住址。</li>
<li>核对报名信息已被完整、原样地列入冻结名单：查询页面（或任何人都能运行的核验程序 fairdraw-verify）用您的密钥和下表中的登记信息重新计算“记录摘要”，并证明它在派位前公布的名单根哈希之中。若摘要不一致或证明不通过，请在公示期内持本凭证向教育局提出。</li>
<li>请勿把查询密钥告诉他人，也不要拍照发到群里。遗失后可凭户口簿到教育局申请核对。</li>
</ol>
<h3>登记信息（用于核对记录摘要，须与报名时一致）</h3>
<table class="small">
<tr><th>姓名</th><td>{}</td></tr>
<tr><th>身份证号</th><td>{}</td></tr>
<tr><th>出生日期</th><td>{}</td></tr>
<tr><th>监护人电话</th><td>{}</td></tr>
<tr><th>住址</th><td>{}</td></tr>
<tr><th>记录摘要</th><td class="mono">{}</td></tr>
</table>
</section>
"#,
            E(&e.name),
            E(&e.id_card),
            E(&e.birth_date),
            E(&e.phone),
            E(&e.address),
            e.private_hash,
        );
    }

    /// A page of the notices of `entries`.
    fn page(&self, part: &str, entries: &[PrivateEntry]) -> String {
        let mut h = self.head(part);
        h.reserve(entries.len() * 2048 + 32);
        for e in entries {
            self.push(&mut h, e);
        }
        h.push_str("</body>\n</html>\n");
        h
    }

    /// The index of the parts (each `entries` chunk of [`NOTICES_PER_PART`]): which file holds
    /// which application ids.
    fn index(&self, entries: &[PrivateEntry]) -> String {
        let (mark, title) = (self.mark, &self.title);
        let parts = entries.len().div_ceil(NOTICES_PER_PART);
        let mut h = format!(
            r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{mark}{title} — 派位查询凭证 目录 / notices: index</title>
<style>
body {{ font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif; font-size: 12pt; color: #000; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #000; padding: 1mm 3mm; text-align: left; }}
.mono {{ font-family: "DejaVu Sans Mono", "Consolas", monospace; }}
</style>
</head>
<body>
<h1>{mark}{title} — 派位查询凭证 目录</h1>
<p>共 {n} 名儿童的凭证，按申请编号顺序分为 {parts} 册（每册至多 {per} 份，每份一页 A4），在文件夹 <span class="mono">notices/</span> 中。请逐册打印，按申请编号分发到各报名点；打印后妥善保管，勿外传。</p>
<p>{n} children's notices in application-id order, in {parts} files of at most {per} (one A4 page each) in the folder <span class="mono">notices/</span>. Print them file by file and hand them out by application id; keep them sealed.</p>
<table>
<tr><th>册 / file</th><th>份数 / notices</th><th>申请编号 / application ids</th></tr>
"#,
            n = entries.len(),
            per = NOTICES_PER_PART,
        );
        for (k, chunk) in entries.chunks(NOTICES_PER_PART).enumerate() {
            let name = part_name(k);
            let (first, last) = match (chunk.first(), chunk.last()) {
                (Some(a), Some(b)) => (esc(&a.application_id), esc(&b.application_id)),
                _ => (String::new(), String::new()),
            };
            h.push_str(&format!(
                "<tr><td class=\"mono\"><a href=\"notices/{name}\">notices/{name}</a></td><td>{}</td><td class=\"mono\">{first} … {last}</td></tr>\n",
                chunk.len()
            ));
        }
        h.push_str("</table>\n</body>\n</html>\n");
        h
    }
}

/// The file name of part `k` (from 0) of the notices: `00001.html`, ….
fn part_name(k: usize) -> String {
    format!("{:05}.html", k + 1)
}

/// The printable notices: one A4 page per child, in Chinese, all in one page.
///
/// `lookup` tells families where to check (a web address or an office); `None` prints a
/// generic sentence.
pub fn notices_html(round: &ValidatedRound, lookup: Option<&str>) -> String {
    NoticeText::new(round, lookup).page("", &round.private)
}

/// Writes `secrets.csv` and the notices into `dir` (created if needed, owner-only on Unix):
/// `notices.html` with every notice ([`notices_html`]), or, for more than
/// [`NOTICES_PER_PART`] children, `notices.html` as the index of the parts `notices/00001.html`,
/// … (each a page like [`notices_html`]'s, written as a directory that appears whole).
///
/// `dir` must be OUTSIDE the public bundle: these files hold names, ID numbers and secrets. Each
/// file is written atomically and streamed (a million children's notices are 1.8 GB, never
/// held); running this again with the same round gives the same bytes.
pub fn write_private(
    dir: &Path,
    round: &ValidatedRound,
    lookup: Option<&str>,
) -> io::Result<PrivateFiles> {
    use rayon::prelude::*;
    crate::output::create_private_dir(dir)?;
    let mut files = PrivateFiles {
        secrets: dir.join("secrets.csv"),
        notices: dir.join("notices.html"),
        notice_parts: Vec::new(),
    };
    write_atomic(&files.secrets, |w| write_secrets_csv(w, round))?;
    let text = NoticeText::new(round, lookup);
    let entries = &round.private;
    let parts_dir = dir.join("notices");
    if entries.len() <= NOTICES_PER_PART {
        write_atomic(&files.notices, |w| {
            w.write_all(text.page("", entries).as_bytes())
        })?;
        if parts_dir.is_dir() {
            std::fs::remove_dir_all(&parts_dir)?;
        }
        return Ok(files);
    }
    // The parts: a window of them rendered in parallel while the window before is written;
    // then the index that names them.
    let chunks: Vec<&[PrivateEntry]> = entries.chunks(NOTICES_PER_PART).collect();
    let total = chunks.len();
    const WINDOW: usize = 8;
    let render = |w: usize| -> Vec<String> {
        let first = (w * WINDOW).min(total);
        chunks[first..(first + WINDOW).min(total)]
            .par_iter()
            .enumerate()
            .map(|(i, c)| text.page(&format!("（第 {}/{total} 册）", first + i + 1), c))
            .collect()
    };
    let mut out = crate::output::DirWriter::new(&parts_dir);
    let mut pages = render(0);
    for w in 0..total.div_ceil(WINDOW) {
        let (next, written) = rayon::join(
            || render(w + 1),
            || -> io::Result<Vec<PathBuf>> {
                let mut names = Vec::new();
                for (i, page) in pages.iter().enumerate() {
                    let name = part_name(w * WINDOW + i);
                    out.piece(&name, page.as_bytes())?;
                    names.push(parts_dir.join(name));
                }
                Ok(names)
            },
        );
        files.notice_parts.extend(written?);
        pages = next;
    }
    out.finish()?;
    crate::output::create_private_dir(&parts_dir)?;
    write_atomic(&files.notices, |w| {
        w.write_all(text.index(entries).as_bytes())
    })?;
    Ok(files)
}

impl std::fmt::Debug for PrivateEntry {
    /// Redacted: private data never reaches a log by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateEntry")
            .field("application_id", &self.application_id)
            .field("private_hash", &self.private_hash)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_are_deterministic_and_separated() {
        let k = [7u8; 32];
        let a = salt_for(Domain::Real, &k, "JJ2026-000123");
        assert_eq!(a, salt_for(Domain::Real, &k, "JJ2026-000123"));
        assert_ne!(a, salt_for(Domain::Real, &k, "JJ2026-000124"));
        assert_ne!(a, salt_for(Domain::Rehearsal, &k, "JJ2026-000123"));
        assert_ne!(a, salt_for(Domain::Real, &[8u8; 32], "JJ2026-000123"));
        let expect = hash_fields("fairdraw/v1/salt", &[&k, b"JJ2026-000123"]);
        assert_eq!(&a[..], &expect.0[..16]);
        let g = secret_grouped(&a);
        assert_eq!(g.len(), 39);
        assert_eq!(g.replace('-', ""), secret_hex(&a));
    }

    #[test]
    fn html_escapes() {
        assert_eq!(esc("<a&\"'>"), "&lt;a&amp;&quot;&#39;&gt;");
    }
}
