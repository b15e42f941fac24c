//! Signing keys and secret files: owner-only (mode 0600), never overwritten, and refused when
//! another user could read them.

use super::{CeremonyError, Result, io_err};
use ed25519_dalek::SigningKey;
use lottery::manifest::{fingerprint, key_file, parse_key_file};
use std::io::Write;
use std::path::Path;

/// Creates a new secret file with mode 0600; refuses to overwrite an existing file.
pub fn create_secret_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.exists() {
        return Err(CeremonyError::Refused(format!(
            "{} already exists; refusing to overwrite it (move it away first) / 文件已存在，拒绝覆盖",
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Reads a secret file after checking that only its owner can read it.
pub fn read_secret_file(path: &Path) -> Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(io_err(path))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CeremonyError::Refused(format!(
                "{p}: the secret file is readable by other users (mode {mode:04o}); refusing to use it. \
                 Run `chmod 600 {p}` if you are sure nobody copied it, otherwise make a new key / \
                 密钥文件其他用户可读，拒绝使用",
                p = path.display()
            )));
        }
    }
    std::fs::read(path).map_err(io_err(path))
}

/// `fairdraw keygen`: a fresh Ed25519 key from the system's random source, written owner-only.
/// Returns the summary lines (signer, public key, fingerprint).
pub fn keygen(signer: &str, out: &Path) -> Result<super::Summary> {
    if !lottery::policy::is_id(signer) {
        return Err(CeremonyError::Refused(format!(
            "signer {signer:?}: use 1–64 of A–Z a–z 0–9 . _ - (e.g. bureau, notary-1)"
        )));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| CeremonyError::Refused(format!("the system random source failed: {e}")))?;
    let key = SigningKey::from_bytes(&secret);
    create_secret_file(out, key_file(signer, &key).as_bytes())?;
    let pk = key.verifying_key().to_bytes();
    let mut s = super::Summary::default();
    s.push(format!(
        "Key for {signer} written to {} (mode 0600).",
        out.display()
    ));
    s.push(format!("  public key  {}", hex::encode(pk)));
    s.push(format!(
        "  fingerprint {}   ← read this aloud; the notary writes it on the ceremony sheet / 指纹",
        fingerprint(&pk)
    ));
    Ok(s)
}

/// Reads a key file (refusing one others can read): (signer, key).
pub fn read_key(path: &Path) -> Result<(String, SigningKey)> {
    let bytes = read_secret_file(path)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CeremonyError::Refused(format!("{}: not a key file", path.display())))?;
    parse_key_file(&text).map_err(|e| CeremonyError::Refused(format!("{}: {e}", path.display())))
}

/// A key's fingerprint.
pub fn key_fingerprint(key: &SigningKey) -> String {
    fingerprint(&key.verifying_key().to_bytes())
}
