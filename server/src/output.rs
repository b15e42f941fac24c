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
    write_atomic_with(path, mode, |w| w.write_all(bytes))
}

/// As [`write_atomic_mode`], the bytes written by `fill` through a buffer (a large file is
/// streamed, never held).
pub fn write_atomic_with(
    path: &Path,
    mode: Option<u32>,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
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
        let mut w = std::io::BufWriter::with_capacity(1 << 20, opts.open(&tmp)?);
        fill(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Creates `dir` if needed, readable by the owner only on Unix (for private files).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
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
pub fn write_dir_atomic(dir: &Path, files: &[(&str, &[u8])]) -> std::io::Result<()> {
    let mut w = DirWriter::new(dir);
    for (n, b) in files {
        w.piece(n, b)?;
    }
    w.finish()
}

/// A directory written atomically file by file, each file piece by piece (as
/// `lottery::bundle::write_with_root` hands a bundle over): the files go into `.DIR.tmp-PID`,
/// each synced when the next one starts, and [`finish`](Self::finish) renames the directory onto
/// `DIR` (an existing `DIR` is replaced only then). Nothing is touched before the first piece (a
/// draw refused before its first file leaves no trace); dropped unfinished, it leaves only the
/// temporary directory, which the next write removes.
pub struct DirWriter {
    dir: PathBuf,
    parent: PathBuf,
    name: String,
    tmp: PathBuf,
    started: bool,
    /// The file being written: its name and handle.
    open: Option<(String, fs::File)>,
    /// Files written whole so far.
    written: usize,
    crash: Option<usize>,
}

impl DirWriter {
    /// A writer of `dir` (nothing is written yet).
    pub fn new(dir: &Path) -> Self {
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        DirWriter {
            dir: dir.to_path_buf(),
            parent,
            name,
            tmp,
            started: false,
            open: None,
            written: 0,
            crash: crash_after(),
        }
    }

    /// Creates the parent and the temporary directory (leftovers of an interrupted write
    /// removed), once.
    fn start(&mut self) -> std::io::Result<()> {
        if !self.started {
            fs::create_dir_all(&self.parent)?;
            remove_stale(&self.parent, &self.name)?;
            fs::create_dir_all(&self.tmp)?;
            self.started = true;
        }
        Ok(())
    }

    /// Appends `bytes` to the file `name`: a new file when the last piece was another file's
    /// (the one before is then complete and synced).
    pub fn piece(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        if self.open.as_ref().is_none_or(|(n, _)| n != name) {
            self.close()?;
            self.start()?;
            let path = self.tmp.join(name);
            if let Some(p) = path.parent() {
                fs::create_dir_all(p)?;
            }
            self.open = Some((name.to_string(), fs::File::create(&path)?));
        }
        match &mut self.open {
            Some((_, f)) => f.write_all(bytes),
            None => Ok(()),
        }
    }

    /// Syncs the file being written (the crash test hook counts it as written).
    fn close(&mut self) -> std::io::Result<()> {
        if let Some((_, f)) = self.open.take() {
            f.sync_all()?;
            self.written += 1;
            if self.crash == Some(self.written) {
                eprintln!("{CRASH_HOOK}={}: aborting as a crash would", self.written);
                std::process::abort();
            }
        }
        Ok(())
    }

    /// Completes the directory: the last file synced, the directory renamed onto `DIR`.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.close()?;
        self.start()?;
        if self.dir.exists() {
            let old = self
                .parent
                .join(format!(".{}.old-{}", self.name, std::process::id()));
            fs::rename(&self.dir, &old)?;
            fs::rename(&self.tmp, &self.dir)?;
            fs::remove_dir_all(&old)?;
        } else {
            fs::rename(&self.tmp, &self.dir)?;
        }
        Ok(())
    }
}
