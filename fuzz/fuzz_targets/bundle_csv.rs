//! `schools.csv`, `teachers.csv`, `applicants.csv` (restricted CSV) → `parse_*`, with the seed
//! bundle's policy and schools. The first byte picks the file. Oracle besides "no panic": a file
//! that parses is canonical — writing the parsed records back gives the same bytes, so no two
//! different files can stand for the same round.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lottery::round;

#[path = "seeds.rs"]
mod seeds;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let Ok(policy) = lottery::policy::Policy::parse(seeds::file("policy.toml")) else {
        return;
    };
    let Ok(schools) = round::parse_schools(seeds::file("schools.csv")) else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(s) = round::parse_schools(bytes) {
                assert_eq!(
                    round::write_schools(&s).as_bytes(),
                    bytes,
                    "schools.csv is not canonical"
                );
            }
        }
        1 => {
            if let Ok(t) = round::parse_teachers(bytes, &schools) {
                assert_eq!(
                    round::write_teachers(&t).as_bytes(),
                    bytes,
                    "teachers.csv is not canonical"
                );
            }
        }
        _ => {
            if let Ok(a) = round::parse_applicants(bytes, &policy, &schools) {
                assert_eq!(
                    round::write_applicants(&a, &schools).as_bytes(),
                    bytes,
                    "applicants.csv is not canonical"
                );
            }
        }
    }
});
