//! The complete example of `docs/POLICY.md` must parse: the documentation cannot drift from the
//! parser.

use lottery::policy::{MechanismKind, Policy};
use std::error::Error;
use std::path::PathBuf;

/// The first fenced block opened by exactly "```toml".
fn toml_block(md: &str) -> Option<&str> {
    let start = md.find("\n```toml\n")? + "\n```toml\n".len();
    let len = md[start..].find("\n```")?;
    Some(&md[start..start + len + 1])
}

#[test]
fn policy_doc_example_parses() -> Result<(), Box<dyn Error>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/POLICY.md");
    let md = std::fs::read_to_string(&path)?;
    let block = toml_block(&md).ok_or("docs/POLICY.md: no ```toml block")?;
    let p = Policy::parse(block.as_bytes())
        .map_err(|e| format!("docs/POLICY.md example does not parse: {e}"))?;
    assert_eq!(
        p.stages
            .iter()
            .map(|s| s.mechanism)
            .collect::<Vec<MechanismKind>>(),
        [
            MechanismKind::FirstChoiceFirst,
            MechanismKind::DeferredAcceptance,
            MechanismKind::SerialDictatorship,
            MechanismKind::Reallocation
        ],
        "docs/POLICY.md example: the four stages"
    );
    assert_eq!(p.categories.len(), 4, "docs/POLICY.md example: categories");
    assert!(p.classes.is_some(), "docs/POLICY.md example: [classes]");
    assert!(p.quota.is_some(), "docs/POLICY.md example: [quota]");
    Ok(())
}

/// The end-to-end vector's policy parses too (and is the one hashed in vectors/e2e.json).
#[test]
fn vector_policy_parses() -> Result<(), Box<dyn Error>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/e2e/policy.toml");
    Policy::parse(&std::fs::read(&path)?)
        .map_err(|e| format!("vectors/e2e/policy.toml does not parse: {e}"))?;
    Ok(())
}
