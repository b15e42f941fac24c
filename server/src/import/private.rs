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

/// Paths written by [`write_private`].
#[derive(Debug, Clone)]
pub struct PrivateFiles {
    /// `secrets.csv`.
    pub secrets: PathBuf,
    /// `notices.html`.
    pub notices: PathBuf,
}

/// Writes a file atomically (temporary file in the same directory, then rename), readable by
/// the owner only on Unix.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// `secrets.csv`: `application_id,name,secret` in application-id order, UTF-8 with BOM (so that
/// Excel shows the names), fields quoted as needed (names may hold commas).
pub fn secrets_csv(round: &ValidatedRound) -> io::Result<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut out);
        w.write_record(["application_id", "name", "secret"])?;
        for e in &round.private {
            w.write_record([
                e.application_id.as_str(),
                e.name.as_str(),
                &secret_hex(&e.salt),
            ])?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// The printable notices: one A4 page per child, in Chinese.
///
/// `lookup` tells families where to check (a web address or an office); `None` prints a
/// generic sentence.
pub fn notices_html(round: &ValidatedRound, lookup: Option<&str>) -> String {
    let pol = &round.round.policy;
    let rehearsal = round.round.domain() == Domain::Rehearsal;
    let title = esc(&pol.round.title);
    let mark = if rehearsal {
        "【演练 REHEARSAL】"
    } else {
        ""
    };
    let lookup = match lookup {
        Some(l) => format!("访问 <b>{}</b>", esc(l)),
        None => "通过教育局公布的查询方式".to_string(),
    };
    let mut h = String::with_capacity(1024 + round.private.len() * 2048);
    h.push_str(&format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{mark}{title} — 派位查询凭证</title>
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
    ));
    for e in &round.private {
        h.push_str("<section class=\"notice\">\n");
        if rehearsal {
            h.push_str("<div class=\"rehearsal\">演练 REHEARSAL — 本凭证仅用于演练，不是正式派位凭证</div>\n");
        }
        h.push_str(&format!(
            "<h1>{title}</h1>\n<h2>{mark}派位查询凭证（请妥善保管，勿交给他人）</h2>\n"
        ));
        h.push_str(&format!(
            "<table>\n<tr><th>儿童姓名</th><td>{}</td></tr>\n<tr><th>申请编号</th><td class=\"secret\">{}</td></tr>\n<tr><th>查询密钥</th><td class=\"secret\">{}</td></tr>\n<tr><th>派位日期</th><td>{}</td></tr>\n</table>\n",
            esc(&e.name),
            esc(&e.application_id),
            secret_grouped(&e.salt),
            esc(&pol.round.draw_date),
        ));
        h.push_str(&format!(
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
            esc(&e.name),
            esc(&e.id_card),
            esc(&e.birth_date),
            esc(&e.phone),
            esc(&e.address),
            e.private_hash.to_hex(),
        ));
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// Writes `secrets.csv` and `notices.html` into `dir` (created if needed, owner-only on Unix).
///
/// `dir` must be OUTSIDE the public bundle: these files hold names, ID numbers and secrets. Each
/// file is written atomically; running this again with the same round gives the same bytes.
pub fn write_private(
    dir: &Path,
    round: &ValidatedRound,
    lookup: Option<&str>,
) -> io::Result<PrivateFiles> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let files = PrivateFiles {
        secrets: dir.join("secrets.csv"),
        notices: dir.join("notices.html"),
    };
    write_atomic(&files.secrets, &secrets_csv(round)?)?;
    write_atomic(&files.notices, notices_html(round, lookup).as_bytes())?;
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
