//! The seed bundle every target starts from: a 40-applicant, 5-school round written by
//! `fairdraw simulate --applicants 40 --schools 5 --seed-text fuzz` (see `fuzz/README.md`).
#![allow(dead_code)]

/// (file name, bytes) of the seed bundle, in manifest order, manifest last.
pub const BUNDLE: [(&str, &[u8]); 14] = [
    ("policy.toml", include_bytes!("../seeds/bundle/policy.toml")),
    ("schools.csv", include_bytes!("../seeds/bundle/schools.csv")),
    (
        "teachers.csv",
        include_bytes!("../seeds/bundle/teachers.csv"),
    ),
    (
        "applicants.csv",
        include_bytes!("../seeds/bundle/applicants.csv"),
    ),
    (
        "checkpoint.json",
        include_bytes!("../seeds/bundle/checkpoint.json"),
    ),
    (
        "commitments.json",
        include_bytes!("../seeds/bundle/commitments.json"),
    ),
    (
        "reveals.json",
        include_bytes!("../seeds/bundle/reveals.json"),
    ),
    ("beacon.json", include_bytes!("../seeds/bundle/beacon.json")),
    ("results.csv", include_bytes!("../seeds/bundle/results.csv")),
    (
        "waitlists.csv",
        include_bytes!("../seeds/bundle/waitlists.csv"),
    ),
    ("classes.csv", include_bytes!("../seeds/bundle/classes.csv")),
    (
        "class_teachers.csv",
        include_bytes!("../seeds/bundle/class_teachers.csv"),
    ),
    ("quota.csv", include_bytes!("../seeds/bundle/quota.csv")),
    (
        "manifest.json",
        include_bytes!("../seeds/bundle/manifest.json"),
    ),
];

/// The seed bundle's supplement `s1` (3 declined seats, 3 late arrivals; `fairdraw simulate
/// --applicants 40 --schools 5 --seed-text fuzz --declines 3 --late 3` writes the bundle above
/// and these), in its manifest's order, manifest last.
pub const SUPPLEMENT: [(&str, &[u8]); 8] = [
    (
        "s1-declines.csv",
        include_bytes!("../seeds/supplement/s1-declines.csv"),
    ),
    (
        "s1-late_applicants.csv",
        include_bytes!("../seeds/supplement/s1-late_applicants.csv"),
    ),
    (
        "s1-commitments.json",
        include_bytes!("../seeds/supplement/s1-commitments.json"),
    ),
    (
        "s1-reveals.json",
        include_bytes!("../seeds/supplement/s1-reveals.json"),
    ),
    (
        "s1-beacon.json",
        include_bytes!("../seeds/supplement/s1-beacon.json"),
    ),
    (
        "s1-refills.csv",
        include_bytes!("../seeds/supplement/s1-refills.csv"),
    ),
    (
        "s1-late_results.csv",
        include_bytes!("../seeds/supplement/s1-late_results.csv"),
    ),
    (
        "s1-manifest.json",
        include_bytes!("../seeds/supplement/s1-manifest.json"),
    ),
];

/// The seed bundle's bytes of one file.
pub fn file(name: &str) -> &'static [u8] {
    BUNDLE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .unwrap_or(&[])
}

/// The seed bundle as `lottery::verify::Files`.
pub fn files() -> lottery::verify::Files {
    BUNDLE
        .iter()
        .map(|(n, b)| (n.to_string(), b.to_vec()))
        .collect()
}

/// A fixed master seed for draws run by the targets.
pub const SEED: lottery::Digest = lottery::Digest([7; 32]);
