//! `lottery::verify::verify` on the seed bundle with one file's bytes replaced by the fuzzer's
//! (the first byte picks the file, or adds `log.jsonl`, a co-signature or an unlisted file), and
//! the JSON documents' parsers on their own: beacon, signature entries, canonical JSON, the log
//! chain, and the applicant lookup. Oracle besides "no panic": a bundle with any byte changed
//! never verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery::encoding::Domain;
use lottery::verify;

#[path = "seeds.rs"]
mod seeds;

const EXTRA: [&str; 3] = ["log.jsonl", "cosign-fuzz.json", "extra.csv"];

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let n = seeds::BUNDLE.len() + EXTRA.len() + 1;
    let k = usize::from(which) % n;
    if k == n - 1 {
        // The documents' parsers on their own.
        let _ = lottery::log::verify_chain(Domain::Real, bytes);
        let _ = lottery::log::verify_chain(Domain::Rehearsal, bytes);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            let _ = lottery::bundle::Beacon::from_json(&v);
            let _ = lottery::manifest::SignatureEntry::from_json(&v);
            let _ = lottery::manifest::jcs(&v);
        }
        return;
    }
    let mut files = seeds::files();
    let (name, original): (&str, Option<&[u8]>) = if k < seeds::BUNDLE.len() {
        (seeds::BUNDLE[k].0, Some(seeds::BUNDLE[k].1))
    } else {
        (EXTRA[k - seeds::BUNDLE.len()], None)
    };
    files.insert(name.to_string(), bytes.to_vec());
    let report = verify::verify(&files);
    if let Ok(r) = &report {
        let changed = original != Some(bytes);
        // A co-signature may legitimately be added by anyone holding a key; any other change
        // must make the bundle fail.
        if changed && !name.starts_with("cosign-") {
            assert!(!r.ok(), "{name}: a changed bundle verified: {:?}", r.checks);
        }
    }
    let _ = verify::applicant_view(&files, "A2026-0000001");
});
