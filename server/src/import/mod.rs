//! # Import: from the files a county bureau really has to a validated round
//!
//! The bureau brings four files (format: `docs/INPUTS.md`, examples: `examples/county/`):
//! `policy.toml`, `schools.csv|xlsx`, `teachers.csv|xlsx` (optional) and `applicants.csv|xlsx`,
//! the last holding private columns (name, ID-card number, birth date, guardian phone, address)
//! next to public ones (track, gender, groups, choices, categories, indicators, family, priority,
//! manual, x, y). Column headers may be English or Chinese (`学校代码`, `身份证号`, …).
//!
//! ```text
//! let files = import::load_dir(Path::new("examples/county"))?;
//! match import::import_round(&files, &salt_key) {
//!     Ok(v) => { /* v.public → round dir, v.private → write_private(private_dir, &v, None) */ }
//!     Err(problems) => for p in problems { println!("{}", p.zh()); println!("{}", p.en()); }
//! }
//! ```
//!
//! - [`import_round`] validates ALL OR NOTHING: every problem in every file is collected
//!   ([`Problem`]: file, row, column, value, what was expected, in Chinese and English); if there is
//!   one, nothing is returned but the list.
//! - On success [`ValidatedRound::public`] holds the four public files as the engine writes them
//!   (policy bytes unchanged; schools, teachers and applicants in id order, restricted CSV) and
//!   [`ValidatedRound::round`] the parsed [`FrozenRound`]. [`ValidatedRound::private`] holds, per
//!   applicant, the private record and the family's 16-byte secret (the salt of the record's
//!   hash), derived from the caller's 32-byte salt key ([`salt_for`]), so the same files and key
//!   give the same bytes on any PC.
//! - [`write_private`] writes `secrets.csv` and printable `notices.html` into a directory that
//!   must lie outside the public bundle.
//!
//! Problems may quote private values (an ID number): show them to the clerk, never publish them.
//! The work is O(n log n): 100,000 applicants import in about a second (release build).

pub mod date;
pub mod idcard;
mod private;
mod problem;
#[allow(clippy::result_large_err)]
pub mod read;
mod validate;
pub mod xls;
pub mod xlsx;

pub use date::{Date, DateError};
pub use private::{
    NOTICES_PER_PART, PrivateFiles, notices_html, salt_for, secret_grouped, secret_hex,
    secrets_csv, write_private,
};
pub use problem::{Problem, ProblemKind};
pub use validate::{APPLICANT_COLUMNS, SCHOOL_COLUMNS, TEACHER_COLUMNS};

use lottery::Digest;
use lottery::round::FrozenRound;
use std::path::{Path, PathBuf};

/// One input file: its name (the extension decides CSV or workbook) and its bytes.
pub type InputFile = (String, Vec<u8>);

/// The bureau's input files.
#[derive(Debug, Clone)]
pub struct InputFiles {
    /// `policy.toml` (UTF-8; its bytes are published unchanged).
    pub policy: InputFile,
    /// Schools: `.csv` or `.xlsx`.
    pub schools: InputFile,
    /// Homeroom teachers (optional): `.csv` or `.xlsx`.
    pub teachers: Option<InputFile>,
    /// Applicants with private and public columns: `.csv` or `.xlsx`.
    pub applicants: InputFile,
}

/// The public files of a round, exactly as they enter the bundle and the input tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicFiles {
    /// `policy.toml`, byte for byte as given.
    pub policy: Vec<u8>,
    /// `schools.csv` (restricted CSV, id order).
    pub schools: Vec<u8>,
    /// `teachers.csv` (header only when no teachers file was given).
    pub teachers: Vec<u8>,
    /// `applicants.csv` (public columns and the private hash, id order).
    pub applicants: Vec<u8>,
}

impl PublicFiles {
    /// `(file name, bytes)` for the four files.
    pub fn files(&self) -> [(&'static str, &[u8]); 4] {
        [
            ("policy.toml", &self.policy),
            ("schools.csv", &self.schools),
            ("teachers.csv", &self.teachers),
            ("applicants.csv", &self.applicants),
        ]
    }
}

/// One applicant's private record and secret. Never part of the public bundle. Its `Debug` form
/// is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateEntry {
    /// Application id (also public).
    pub application_id: String,
    /// Child's name, as given (trimmed).
    pub name: String,
    /// ID-card number, 18 characters, upper-case `X`.
    pub id_card: String,
    /// Birth date `YYYY-MM-DD`.
    pub birth_date: String,
    /// Guardian phone, digits only (`+86` dropped, separators removed).
    pub phone: String,
    /// Address, as given (trimmed).
    pub address: String,
    /// The family's secret: the salt of the private-record hash.
    pub salt: [u8; 16],
    /// `lottery::round::private_hash` of this record (also in the public applicants file).
    pub private_hash: Digest,
}

/// A round that passed every check.
#[derive(Debug, Clone)]
pub struct ValidatedRound {
    /// The public files.
    pub public: PublicFiles,
    /// Private records and secrets, in application-id order.
    pub private: Vec<PrivateEntry>,
    /// The public files parsed by the engine.
    pub round: FrozenRound,
}

/// Validates the bureau's files into a round, all or nothing.
///
/// `salt_key` is the bureau's 32-byte secret from which every family's secret is derived
/// ([`salt_for`]). On failure, every problem found in every file, sorted by file and row.
pub fn import_round(
    files: &InputFiles,
    salt_key: &[u8; 32],
) -> Result<ValidatedRound, Vec<Problem>> {
    validate::run(files, salt_key)
}

/// Why the input files of a directory cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A required file is missing.
    #[error("{dir}: no {what} file (looked for {looked}) / 缺少{what_zh}文件")]
    Missing {
        /// Directory searched.
        dir: PathBuf,
        /// Which file (English).
        what: &'static str,
        /// Which file (Chinese).
        what_zh: &'static str,
        /// Names tried.
        looked: String,
    },
    /// Two candidates for one file.
    #[error("{dir}: both {a} and {b} exist; keep only one / 同时存在 {a} 和 {b}，请只保留一个")]
    Ambiguous {
        /// Directory searched.
        dir: PathBuf,
        /// First file.
        a: String,
        /// Second file.
        b: String,
    },
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

const TABLE_EXTENSIONS: [&str; 3] = ["csv", "xlsx", "xls"];

fn find_table(
    dir: &Path,
    stem: &'static str,
    what_zh: &'static str,
    required: bool,
) -> Result<Option<InputFile>, LoadError> {
    let mut found: Vec<String> = Vec::new();
    for ext in TABLE_EXTENSIONS {
        let name = format!("{stem}.{ext}");
        if dir.join(&name).is_file() {
            found.push(name);
        }
    }
    match found.as_slice() {
        [] if required => Err(LoadError::Missing {
            dir: dir.to_path_buf(),
            what: stem,
            what_zh,
            looked: TABLE_EXTENSIONS
                .iter()
                .map(|e| format!("{stem}.{e}"))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        [] => Ok(None),
        [one] => read_file(dir, one).map(Some),
        [a, b, ..] => Err(LoadError::Ambiguous {
            dir: dir.to_path_buf(),
            a: a.clone(),
            b: b.clone(),
        }),
    }
}

fn read_file(dir: &Path, name: &str) -> Result<InputFile, LoadError> {
    let path = dir.join(name);
    read::read_file_limited(&path)
        .map(|b| (name.to_string(), b))
        .map_err(|source| LoadError::Io { path, source })
}

/// Loads `policy.toml`, `schools.(csv|xlsx|xls)`, `teachers.(csv|xlsx|xls)` (optional) and
/// `applicants.(csv|xlsx|xls)` from a directory.
pub fn load_dir(dir: &Path) -> Result<InputFiles, LoadError> {
    if !dir.join("policy.toml").is_file() {
        return Err(LoadError::Missing {
            dir: dir.to_path_buf(),
            what: "policy",
            what_zh: "策略",
            looked: "policy.toml".into(),
        });
    }
    let policy = read_file(dir, "policy.toml")?;
    let missing = || LoadError::Missing {
        dir: dir.to_path_buf(),
        what: "table",
        what_zh: "表格",
        looked: String::new(),
    };
    let schools = find_table(dir, "schools", "学校", true)?.ok_or_else(missing)?;
    let teachers = find_table(dir, "teachers", "教师", false)?;
    let applicants = find_table(dir, "applicants", "申请人", true)?.ok_or_else(missing)?;
    Ok(InputFiles {
        policy,
        schools,
        teachers,
        applicants,
    })
}
