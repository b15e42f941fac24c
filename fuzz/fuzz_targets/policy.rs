//! `policy.toml` → `Policy::parse`; a policy that parses is then used to draw the seed round, so
//! every rule the parser lets through is exercised by the engine too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery::round::FrozenRound;

#[path = "seeds.rs"]
mod seeds;

fuzz_target!(|data: &[u8]| {
    let Ok(policy) = lottery::policy::Policy::parse(data) else {
        return;
    };
    let _ = (policy.domain(), policy.class_cap());
    if let Ok(round) = FrozenRound::parse(
        data,
        seeds::file("schools.csv"),
        seeds::file("teachers.csv"),
        seeds::file("applicants.csv"),
    ) {
        if let Ok(outcome) = lottery::draw::draw(&round, &seeds::SEED) {
            let _ = lottery::results::render(&round, &outcome);
        }
    }
});
