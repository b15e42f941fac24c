//! Writing files safely: every step writes to a temporary name and renames, so a crash never
//! leaves a half-written file or bundle.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
#[allow(dead_code)] // used by the ceremony steps
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Writes a whole directory of files atomically: into `DIR.tmp-PID`, then renamed onto `DIR`
/// (an existing `DIR` is replaced only after the new one is complete).
pub fn write_dir_atomic(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle".into());
    let tmp: PathBuf = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir_all(&tmp)?;
    for (n, b) in files {
        let mut f = fs::File::create(tmp.join(n))?;
        f.write_all(b)?;
        f.sync_all()?;
    }
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        fs::rename(dir, &old)?;
        fs::rename(&tmp, dir)?;
        fs::remove_dir_all(&old)?;
    } else {
        fs::rename(&tmp, dir)?;
    }
    Ok(())
}
