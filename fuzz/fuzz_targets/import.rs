//! The import of the bureau's files: `read_sheet` on CSV (UTF-8, GB18030, UTF-16) and workbook
//! bytes, and `import_round` with one of the files (applicants, schools, teachers, policy) from
//! the fuzzer and the others from `fuzz/seeds/import/`. The first byte picks. Oracles besides "no
//! panic": the import never produces files the engine refuses (an `Internal` problem), and a
//! CSV text read in parallel parts reads as it does whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::import::{self, InputFiles, ProblemKind, read};

const POLICY: &[u8] = include_bytes!("../seeds/import/policy.toml");
const SCHOOLS: &[u8] = include_bytes!("../seeds/import/schools.csv");
const APPLICANTS: &[u8] = include_bytes!("../seeds/import/applicants.csv");

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let mut files = InputFiles {
        policy: ("policy.toml".into(), POLICY.to_vec()),
        schools: ("schools.csv".into(), SCHOOLS.to_vec()),
        teachers: None,
        applicants: ("applicants.csv".into(), APPLICANTS.to_vec()),
    };
    match which % 8 {
        0 => {
            let _ = read::read_sheet("table.csv", bytes);
            // A large file's cells are read in parallel parts: at any part size they must be
            // what the one-thread read gives.
            if let Ok(text) = std::str::from_utf8(bytes) {
                let whole = read::csv_rows_whole("t.csv", text, b',').map_err(|e| e.en());
                for part in [1, 2, 5] {
                    let parts =
                        read::csv_rows_in_parts("t.csv", text, b',', part).map_err(|e| e.en());
                    assert_eq!(parts, whole, "in parts of {part}");
                }
            }
            return;
        }
        1 => {
            let _ = read::read_sheet("table.xlsx", bytes);
            return;
        }
        2 | 3 => files.applicants.1 = bytes.to_vec(),
        4 => files.applicants = ("applicants.xlsx".into(), bytes.to_vec()),
        5 => files.schools.1 = bytes.to_vec(),
        6 => files.teachers = Some(("teachers.csv".into(), bytes.to_vec())),
        _ => files.policy.1 = bytes.to_vec(),
    }
    match import::import_round(&files, &[5; 32]) {
        Ok(v) => {
            let _ = v.public.files();
        }
        Err(problems) => {
            for p in &problems {
                assert!(
                    p.kind != ProblemKind::Internal,
                    "import wrote files the engine refuses: {}",
                    p.en()
                );
                let _ = (p.zh(), p.en());
            }
        }
    }
});
