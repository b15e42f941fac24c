//! Check V11 and the applicant lookup on the seed bundle with its supplement `s1`: one supplement
//! file's bytes replaced by the fuzzer's (the first byte picks the file, or adds a stray `s2-`
//! file), then `lottery::verify::verify` and `verify::applicant_view` for a late arrival, a
//! refilled and a declined applicant. Oracle besides "no panic": a bundle with any supplement
//! byte changed, or a stray supplement file added, never verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery::verify;

#[path = "seeds.rs"]
mod seeds;

const EXTRA: [&str; 2] = ["s2-manifest.json", "s2-declines.csv"];

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let k = usize::from(which) % (seeds::SUPPLEMENT.len() + EXTRA.len());
    let mut files = seeds::files();
    for (n, b) in seeds::SUPPLEMENT {
        files.insert(n.to_string(), b.to_vec());
    }
    let (name, original): (&str, Option<&[u8]>) = match seeds::SUPPLEMENT.get(k) {
        Some((n, b)) => (n, Some(b)),
        None => (EXTRA[k - seeds::SUPPLEMENT.len()], None),
    };
    files.insert(name.to_string(), bytes.to_vec());
    if let Ok(r) = verify::verify(&files)
        && original != Some(bytes)
    {
        assert!(
            !r.ok(),
            "{name}: a changed supplement verified: {:?}",
            r.checks
        );
    }
    for id in ["L2026-0000001", "A2026-0000003", "A2026-0000001"] {
        let _ = verify::applicant_view(&files, id);
    }
});
