//! Import of the bureau's files: the example round under `examples/`, every validation rule, and
//! one bad row among 100,000.

mod county;

use server::import::{self, InputFiles, Problem, ProblemKind};
use std::path::{Path, PathBuf};

const KEY: [u8; 32] = [7; 32];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Writes `examples/county*` from the generator. Run after changing `tests/county/mod.rs`:
/// `cargo test -p server --test import -- --ignored generate_county_example`.
#[test]
#[ignore]
fn generate_county_example() -> Result<(), Box<dyn std::error::Error>> {
    for (path, bytes) in county::files() {
        let p = root().join(path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(&p, bytes)?;
    }
    Ok(())
}

#[test]
fn county_example_is_reproducible() -> Result<(), Box<dyn std::error::Error>> {
    for (path, bytes) in county::files() {
        let committed = std::fs::read(root().join(&path))?;
        assert!(
            committed == bytes,
            "{path} differs from what tests/county/mod.rs generates; regenerate with \
             `cargo test -p server --test import -- --ignored generate_county_example`"
        );
    }
    Ok(())
}

fn show(problems: &[Problem]) -> String {
    problems
        .iter()
        .take(20)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn load(dir: &str) -> InputFiles {
    import::load_dir(&root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"))
}

#[test]
fn county_example_imports_from_csv_xlsx_and_gb18030_alike() {
    let csv = import::import_round(&load("examples/county"), &KEY)
        .unwrap_or_else(|p| panic!("examples/county:\n{}", show(&p)));
    assert_eq!(csv.private.len(), county::APPLICANTS);
    assert_eq!(csv.round.applicants.len(), county::APPLICANTS);
    assert_eq!(csv.round.schools.len(), 16);
    for dir in ["examples/county-xlsx", "examples/county-gb18030"] {
        let other = import::import_round(&load(dir), &KEY)
            .unwrap_or_else(|p| panic!("{dir}:\n{}", show(&p)));
        assert_eq!(other.public, csv.public, "{dir}: public files differ");
        assert!(
            other.private == csv.private,
            "{dir}: private records differ"
        );
    }
}
