//! Writing files safely: every step writes to a temporary name and renames, so a crash never
//! leaves a half-written file or bundle.
//!
//! ## Test hook
//!
//! `FAIRDRAW_TEST_CRASH_AFTER=<n>`: [`write_dir_atomic`] aborts the process (as a power cut would)
//! right after writing its `n`-th file into the temporary directory. Only the crash tests set it;
//! it lets them show that an interrupted draw leaves the round consistent and that the rerun gives
//! the same bytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable of the crash test hook (see the module documentation).
pub const CRASH_HOOK: &str = "FAIRDRAW_TEST_CRASH_AFTER";

fn crash_after() -> Option<usize> {
    std::env::var(CRASH_HOOK).ok()?.trim().parse().ok()
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, None)
}

/// As [`write_atomic`], creating the file with the given Unix mode (e.g. `0o600`).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if let Some(m) = mode {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(m);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Removes leftovers of interrupted writes of `name` in `parent` (`.NAME.tmp-*`).
fn remove_stale(parent: &Path, name: &str) -> std::io::Result<()> {
    let prefix = format!(".{name}.tmp-");
    let Ok(rd) = fs::read_dir(parent) else {
        return Ok(());
    };
    for e in rd.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let p = e.path();
            if p.is_dir() {
                fs::remove_dir_all(&p)?;
            } else {
                fs::remove_file(&p)?;
            }
        }
    }
    Ok(())
}

/// Writes a whole directory of files atomically: into `.DIR.tmp-PID`, then renamed onto `DIR`
/// (an existing `DIR` is replaced only after the new one is complete). File names may contain
/// `/` for sub-directories. Leftovers of an earlier interrupted write are removed first.
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
    remove_stale(parent, &name)?;
    let tmp: PathBuf = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    fs::create_dir_all(&tmp)?;
    let crash = crash_after();
    for (k, (n, b)) in files.iter().enumerate() {
        let path = tmp.join(n);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p)?;
        }
        let mut f = fs::File::create(&path)?;
        f.write_all(b)?;
        f.sync_all()?;
        if crash == Some(k + 1) {
            eprintln!("{CRASH_HOOK}={}: aborting as a crash would", k + 1);
            std::process::abort();
        }
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
