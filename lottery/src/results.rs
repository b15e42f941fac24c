//! Result files and the results root (PROTOCOL.md §7).
//!
//! The draw's outcome is written as five restricted-CSV files; every data line of each, in file
//! order, is a leaf `enc(tag "leaf/result", file name, line)` of the results tree.

use crate::digest::Digest;
use crate::draw::{Detail, Outcome};
use crate::encoding::{Domain, encode_fields};
use crate::mechanism::UNPLACED;
use crate::merkle;
use crate::round::FrozenRound;

/// Result files, in results-tree order.
pub const RESULT_FILES: [&str; 5] = [
    "results.csv",
    "waitlists.csv",
    "classes.csv",
    "class_teachers.csv",
    "quota.csv",
];
/// Header of `results.csv`.
pub const RESULTS_HEADER: &str = "application_id,school_id,lottery_number,ticket,stage,detail,category,points,points_parts,class";
/// Header of `waitlists.csv`.
pub const WAITLISTS_HEADER: &str = "stage,school_id,position,application_id";
/// Header of `classes.csv`.
pub const CLASSES_HEADER: &str = "school_id,class,application_id";
/// Header of `class_teachers.csv`.
pub const CLASS_TEACHERS_HEADER: &str = "school_id,class,teacher_id";
/// Header of `quota.csv`.
pub const QUOTA_HEADER: &str = "high_school_id,school_id,graduates,seats";

/// Milli-points as a decimal with three places: `12345` → `12.345`.
pub fn fmt_milli(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// Class labels are 1-based in files.
fn class_label(c: u32) -> String {
    (u64::from(c) + 1).to_string()
}

/// Renders the five result files.
pub fn render(round: &FrozenRound, out: &Outcome) -> Vec<(&'static str, String)> {
    let schools = &round.schools;
    let stages = &round.policy.stages;
    let mut results = String::with_capacity(64 + round.applicants.len() * 130);
    results.push_str(RESULTS_HEADER);
    results.push('\n');
    for (i, a) in round.applicants.iter().enumerate() {
        let s = out.school[i];
        let school = if s == UNPLACED {
            ""
        } else {
            schools[s as usize].id.as_str()
        };
        let stage = match out.detail[i] {
            Some(Detail::Manual) => "manual",
            _ if out.stage[i] != u32::MAX => stages[out.stage[i] as usize].name.as_str(),
            _ => "",
        };
        let detail = match out.detail[i] {
            Some(Detail::Reserved(g)) => {
                format!(
                    "reserved:{}",
                    schools[s as usize]
                        .reserved
                        .get(g as usize)
                        .map_or("", |r| r.0.as_str())
                )
            }
            Some(Detail::Manual) => {
                format!("manual:{}", a.manual.as_ref().map_or("", |m| m.1.as_str()))
            }
            Some(d) => d.code().to_string(),
            None => String::new(),
        };
        let category = if out.category[i] == 0 {
            String::new()
        } else {
            out.category[i].to_string()
        };
        let (points, parts) = match &out.points[i] {
            Some(p) => (
                fmt_milli(p.total),
                round
                    .policy
                    .points
                    .iter()
                    .zip(&p.parts)
                    .map(|(r, v)| format!("{}={}", r.name, fmt_milli(*v)))
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            None => (String::new(), String::new()),
        };
        let class = if out.class.get(i).is_some_and(|c| *c != u32::MAX) {
            class_label(out.class[i])
        } else {
            String::new()
        };
        results.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            a.id,
            school,
            out.numbers[i],
            out.tickets[i].to_hex(),
            stage,
            detail,
            category,
            points,
            parts,
            class
        ));
    }

    let mut waitlists = format!("{WAITLISTS_HEADER}\n");
    for w in &out.waitlists {
        for (pos, &i) in w.applicants.iter().enumerate() {
            waitlists.push_str(&format!(
                "{},{},{},{}\n",
                stages[w.stage as usize].name,
                schools[w.school as usize].id,
                pos + 1,
                round.applicants[i as usize].id
            ));
        }
    }

    // classes.csv: by school, class, application id.
    let mut per_school: Vec<Vec<(u32, u32)>> = vec![Vec::new(); schools.len()];
    for i in 0..round.applicants.len() {
        if out.school[i] != UNPLACED && out.class.get(i).is_some_and(|c| *c != u32::MAX) {
            per_school[out.school[i] as usize].push((out.class[i], i as u32));
        }
    }
    let mut classes = format!("{CLASSES_HEADER}\n");
    for (s, list) in per_school.iter_mut().enumerate() {
        list.sort_unstable();
        for &(c, i) in list.iter() {
            classes.push_str(&format!(
                "{},{},{}\n",
                schools[s].id,
                class_label(c),
                round.applicants[i as usize].id
            ));
        }
    }

    let mut teachers = format!("{CLASS_TEACHERS_HEADER}\n");
    for (s, list) in out.class_teachers.iter().enumerate() {
        for (c, &t) in list.iter().enumerate() {
            teachers.push_str(&format!(
                "{},{},{}\n",
                schools[s].id,
                c + 1,
                round.teachers[t as usize].id
            ));
        }
    }

    let mut quota = format!("{QUOTA_HEADER}\n");
    if let Some(q) = &round.policy.quota {
        for (h, alloc) in q.high_schools.iter().zip(&out.quota) {
            for (s, seats) in alloc.iter().enumerate() {
                if schools[s].graduates > 0 {
                    quota.push_str(&format!(
                        "{},{},{},{}\n",
                        h.id, schools[s].id, schools[s].graduates, seats
                    ));
                }
            }
        }
    }
    vec![
        (RESULT_FILES[0], results),
        (RESULT_FILES[1], waitlists),
        (RESULT_FILES[2], classes),
        (RESULT_FILES[3], teachers),
        (RESULT_FILES[4], quota),
    ]
}

/// Leaf hashes of the results tree: each data line (header excluded, without its `\n`) of each
/// result file, in [`RESULT_FILES`] order.
pub fn result_leaves(domain: Domain, files: &[(&str, &str)]) -> Vec<Digest> {
    let tag = domain.tag("leaf/result");
    let mut leaves = Vec::new();
    for (name, text) in files {
        for line in text.lines().skip(1) {
            leaves.push(merkle::leaf_hash(&encode_fields(
                &tag,
                &[name.as_bytes(), line.as_bytes()],
            )));
        }
    }
    leaves
}

/// (results root, number of leaves).
pub fn results_root(domain: Domain, files: &[(&str, &str)]) -> (Digest, u64) {
    let leaves = result_leaves(domain, files);
    (merkle::root_from_leaf_hashes(&leaves), leaves.len() as u64)
}
