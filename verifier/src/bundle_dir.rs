//! A bundle directory as the verification reads it ([`lottery::verify::Source`]): the small
//! files in memory, the large ones (`applicants.csv`, `results.csv` at a million applicants)
//! opened and read in pieces when the checks ask for them, each refused if it changed since the
//! directory was listed or is larger than any real round's. `fairdraw-verify` and `fairdraw
//! supplement` read bundles through it.

use lottery::verify::{self, Files};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest bundle file read (8 GiB).
pub const MAX_BUNDLE_FILE_BYTES: u64 = 8 << 30;

/// Files larger than this are read when the checks ask for them (and let go of when they are
/// done), not with the rest of the bundle: a million-applicant round's applicants file is then
/// not in memory beside the replay. `FAIRDRAW_VERIFY_LARGE_FILE_BYTES` overrides it (0 reads
/// every file on demand; the tests use it so that small bundles take this path too).
const LARGE_FILE_BYTES: u64 = 16 << 20;

fn large_file_bytes() -> u64 {
    std::env::var("FAIRDRAW_VERIFY_LARGE_FILE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LARGE_FILE_BYTES)
}

/// A bundle directory: its small files in memory, its large ones read on demand.
pub struct DirSource {
    small: Files,
    /// The large files, each read when asked for, and as it was when the bundle was listed.
    large: BTreeMap<String, (PathBuf, Stamp)>,
}

/// A file's length and modification time: a large file is read more than once (the result
/// files beside the replay and after it), and refused if it changed in between.
type Stamp = (u64, Option<std::time::SystemTime>);

fn stamp(m: &std::fs::Metadata) -> Stamp {
    (m.len(), m.modified().ok())
}

impl verify::Source for DirSource {
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .small
            .keys()
            .chain(self.large.keys())
            .cloned()
            .collect();
        names.sort_unstable();
        names
    }
    fn load(&self, name: &str) -> Result<Option<Cow<'_, [u8]>>, String> {
        if let Some(b) = self.small.get(name) {
            return Ok(Some(Cow::Borrowed(b)));
        }
        match self.large.get(name) {
            None => Ok(None),
            Some((path, was)) => read_capped(name, path, Some(was)).map(|b| Some(Cow::Owned(b))),
        }
    }
    fn open(&self, name: &str) -> Result<Option<Box<dyn std::io::Read + Send + '_>>, String> {
        if let Some(b) = self.small.get(name) {
            return Ok(Some(Box::new(&b[..])));
        }
        match self.large.get(name) {
            None => Ok(None),
            Some((path, was)) => open_capped(name, path, was).map(|r| Some(Box::new(r) as _)),
        }
    }
}

impl DirSource {
    /// The files held in memory (all but the large ones).
    pub fn small_files(&self) -> &Files {
        &self.small
    }

    /// Every file in memory (the `--applicant` lookup reads the bundle whole).
    pub fn into_files(self) -> Result<Files, String> {
        let mut files = self.small;
        for (name, (path, was)) in self.large {
            let bytes = read_capped(&name, &path, Some(&was))?;
            files.insert(name, bytes);
        }
        Ok(files)
    }
}

/// Reads one bundle file, refusing one larger than any real round's (a hostile bundle must not
/// exhaust memory; a national cohort's applicants.csv is about 3 GB), also when it grew after the
/// directory was listed.
fn read_capped(name: &str, path: &Path, was: Option<&Stamp>) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let (file, len) = open_unchanged(name, path, was)?;
    let too_large = |len: u64| too_large(name, len);
    if len > MAX_BUNDLE_FILE_BYTES {
        return Err(too_large(len));
    }
    #[cfg(unix)]
    if let (Some(_), Ok(n)) = (was, usize::try_from(len)) {
        // A large file, unchanged since the listing: read in parallel pieces at their offsets,
        // so that both cores copy it (and fault its memory in) and nothing waits for one.
        return read_in_parallel(name, &file, n);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_BUNDLE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() as u64 > MAX_BUNDLE_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The `n` bytes of a file read in 4 MiB pieces in parallel; an error if it is shorter, or
/// longer (it changed since it was listed).
#[cfg(unix)]
fn read_in_parallel(name: &str, file: &std::fs::File, n: usize) -> Result<Vec<u8>, String> {
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    const PIECE: usize = 4 << 20;
    let mut bytes = vec![0u8; n];
    bytes
        .par_chunks_mut(PIECE)
        .enumerate()
        .try_for_each(|(k, piece)| file.read_exact_at(piece, (k * PIECE) as u64))
        .map_err(|e| format!("{name}: {e}"))?;
    let mut more = [0u8; 1];
    match file.read_at(&mut more, n as u64) {
        Ok(0) => Ok(bytes),
        Ok(_) => Err(format!(
            "{name}: the file changed while the bundle was being verified; verify it again"
        )),
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// Opens one bundle file to be read in pieces, refusing one larger than any real round's; it
/// reads as an error if it grows past that while it is read.
fn open_capped(name: &str, path: &Path, was: &Stamp) -> Result<Capped, String> {
    let (file, len) = open_unchanged(name, path, Some(was))?;
    if len > MAX_BUNDLE_FILE_BYTES {
        return Err(too_large(name, len));
    }
    Ok(Capped {
        file,
        name: name.to_string(),
        seen: 0,
    })
}

/// The refusal of a bundle entry that is a device, a pipe or a socket.
fn not_regular(name: &str) -> String {
    format!("{name}: not a regular file (a device, pipe or socket) in the bundle")
}

/// Opens a bundle file, with its length; refused when it is no longer as it was listed.
fn open_unchanged(
    name: &str,
    path: &Path,
    was: Option<&Stamp>,
) -> Result<(std::fs::File, u64), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{name}: {e}"))?;
    if !meta.is_file() {
        return Err(not_regular(name));
    }
    let now = stamp(&meta);
    if was.is_some_and(|w| *w != now) {
        return Err(format!(
            "{name}: the file changed while the bundle was being verified; verify it again"
        ));
    }
    Ok((file, now.0))
}

/// A bundle file read in pieces, at most [`MAX_BUNDLE_FILE_BYTES`].
struct Capped {
    file: std::fs::File,
    name: String,
    seen: u64,
}

impl std::io::Read for Capped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.file.read(buf)?;
        self.seen += k as u64;
        if self.seen > MAX_BUNDLE_FILE_BYTES {
            return Err(std::io::Error::other(too_large(&self.name, self.seen)));
        }
        Ok(k)
    }
}

/// The refusal of a file larger than [`MAX_BUNDLE_FILE_BYTES`].
fn too_large(name: &str, len: u64) -> String {
    format!(
        "{name}: {len} bytes, more than the {MAX_BUNDLE_FILE_BYTES} bytes any bundle file may have"
    )
}

/// Lists a bundle directory (no subdirectories are expected): every regular file, the small
/// ones read (in parallel), the large ones kept to be read on demand. Refused: a subdirectory,
/// anything but a regular file, a file too large, no `manifest.json`.
pub fn read_bundle(dir: &Path) -> Result<DirSource, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut listed = Vec::new();
    let mut large = BTreeMap::new();
    let large_from = large_file_bytes();
    for entry in rd {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            return Err(format!("{name}: unexpected directory in the bundle"));
        }
        // Refused before anything is read: anything but a regular file (a device such as
        // /dev/zero never ends, opening a named pipe waits for a writer), and a file too large.
        let meta = std::fs::metadata(&path).map_err(|e| format!("{name}: {e}"))?;
        if !meta.is_file() {
            return Err(not_regular(&name));
        }
        let len = meta.len();
        if len > MAX_BUNDLE_FILE_BYTES {
            return Err(too_large(&name, len));
        }
        if len > large_from {
            large.insert(name, (path, stamp(&meta)));
        } else {
            listed.push((name, path));
        }
    }
    // The small files are read in parallel.
    use rayon::prelude::*;
    let read: Vec<Result<(String, Vec<u8>), String>> = listed
        .into_par_iter()
        .map(|(name, path)| read_capped(&name, &path, None).map(|b| (name, b)))
        .collect();
    let small: Files = read.into_iter().collect::<Result<_, _>>()?;
    if !small.contains_key("manifest.json") && !large.contains_key("manifest.json") {
        return Err(format!("{}: manifest.json is missing", dir.display()));
    }
    Ok(DirSource { small, large })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_file_that_changed_since_the_listing_is_refused() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tmp/verifier-unit");
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let path = dir.join("results.csv");
        std::fs::write(&path, "a\n").expect("write");
        let was = stamp(&std::fs::metadata(&path).expect("metadata"));
        assert!(open_capped("results.csv", &path, &was).is_ok());
        assert_eq!(
            read_capped("results.csv", &path, Some(&was)).ok(),
            Some(b"a\n".to_vec())
        );
        std::fs::write(&path, "a\nb\n").expect("write");
        for e in [
            open_capped("results.csv", &path, &was).err(),
            read_capped("results.csv", &path, Some(&was)).err(),
        ] {
            assert!(
                e.is_some_and(|e| e
                    .contains("results.csv: the file changed while the bundle was being verified")),
                "refused"
            );
        }
    }
}
