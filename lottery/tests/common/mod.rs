//! Random small rounds shared by the whole-round tests.
#![allow(dead_code)]

use lottery::CompactString;
use lottery::digest::Digest as D;
use lottery::policy::Policy;
use lottery::round::{Applicant, FrozenRound, Gender, School, Teacher};
use proptest::prelude::*;

pub const POLICY: &str = r#"
protocol = "fairdraw/v1"
tracks = ["local", "migrant"]
groups = ["migrant"]
manual_reasons = ["disability"]
families = "joint"
family_overflow = true

[round]
id = "prop-round"
title = "property test"
grade = "primary"
mode = "real"
draw_date = "2026-07-01"
max_choices = 4

[[categories]]
code = "hukou_and_home"
label = "a"
[[categories]]
code = "hukou_only"
label = "b"

[[points]]
name = "months"
weight = 1000
cap = 60000
threshold = 6

[[stages]]
name = "private"
mechanism = "first_choice_first"
schools = "private"
tracks = ["local", "migrant"]
tie_breaking = "per_school"

[[stages]]
name = "catchment"
mechanism = "deferred_acceptance"
schools = "public"
tracks = ["local"]
priority = "category"

[[stages]]
name = "points"
mechanism = "serial_dictatorship"
schools = "public"
tracks = ["migrant"]
priority = "points"
seats = "points"

[[stages]]
name = "reallocation"
mechanism = "reallocation"
schools = "public"
tracks = ["local", "migrant"]
seats = "all"
fallback = "distance"

[classes]
balance = ["gender", "migrant"]
families = "ignore"
teachers = true
"#;

/// A random applicant before ids and indices are fixed.
#[derive(Debug, Clone)]
pub struct Spec {
    pub migrant: bool,
    pub female: bool,
    pub choices: Vec<usize>,
    pub category: u32,
    pub months: i64,
    pub twin_with_next: bool,
    pub manual: bool,
    pub staff: bool,
    pub xy: (i64, i64),
}

pub fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(0usize..6, 0..5),
        1u32..=2,
        0i64..40,
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.04),
        prop::bool::weighted(0.1),
        (-3000i64..3000, -3000i64..3000),
    )
        .prop_map(
            |(migrant, female, choices, category, months, twin_with_next, manual, staff, xy)| {
                Spec {
                    migrant,
                    female,
                    choices,
                    category,
                    months,
                    twin_with_next,
                    manual,
                    staff,
                    xy,
                }
            },
        )
}

pub fn build(caps: &[(u32, u32)], specs: &[Spec]) -> Option<FrozenRound> {
    let policy = Policy::parse(POLICY.as_bytes()).ok()?;
    // Schools S0..S3 public, P4..P5 private.
    let mut schools = Vec::new();
    let mut teachers = Vec::new();
    for (k, &(cap, pts)) in caps.iter().enumerate() {
        let private = k >= 4;
        let id = if private {
            format!("P{k}")
        } else {
            format!("S{k}")
        };
        for t in 0..4 {
            teachers.push(Teacher {
                id: format!("T-{id}-{t}"),
                school: id.clone(),
            });
        }
        schools.push(School {
            id,
            name: format!("school {k}"),
            private,
            capacity: cap,
            reserved: if private && cap >= 2 {
                vec![("staff".into(), 1)]
            } else {
                Vec::new()
            },
            points_seats: if private { 0 } else { pts.min(cap) },
            classes: 0,
            xy: Some((k as i64 * 1000, 0)),
            graduates: 10 + k as u64,
        });
    }
    schools.sort_by(|a, b| a.id.cmp(&b.id));
    teachers.sort_by(|a, b| a.id.cmp(&b.id));
    let mut applicants: Vec<Applicant> = Vec::new();
    let mut family: Option<String> = None;
    let mut first_twin: Option<Spec> = None;
    for (i, s) in specs.iter().enumerate() {
        // Twins apply together: the second twin has the track, choices and family indicators of
        // the first (a pair is started by an applicant with `twin_with_next`).
        let s = &match &first_twin {
            Some(prev) => Spec {
                migrant: prev.migrant,
                choices: prev.choices.clone(),
                category: prev.category,
                months: prev.months,
                ..s.clone()
            },
            None => s.clone(),
        };
        let fam = match first_twin.take() {
            Some(_) => family.take(),
            None if s.twin_with_next => {
                first_twin = Some(s.clone());
                let f = format!("F{i:03}");
                family = Some(f.clone());
                Some(f)
            }
            None => None,
        };
        // School indices (the schools are sorted by id).
        let mut choices: Vec<u32> = Vec::new();
        for &c in &s.choices {
            if !choices.contains(&(c as u32)) {
                choices.push(c as u32);
            }
        }
        let categories: Vec<(u32, u32)> = if s.migrant {
            Vec::new()
        } else {
            (0..schools.len() as u32)
                .filter(|&k| !schools[k as usize].private)
                .map(|k| (k, s.category))
                .collect()
        };
        let priority = choices
            .iter()
            .map(|&c| &schools[c as usize])
            .find(|x| x.id.starts_with('P'))
            .filter(|x| s.staff && !x.reserved.is_empty())
            .map(|x| vec![(CompactString::new(&x.id), "staff".into())])
            .unwrap_or_default();
        applicants.push(Applicant {
            id: format!("A{i:04}").into(),
            track: if s.migrant { "migrant" } else { "local" }.into(),
            gender: if s.female { Gender::F } else { Gender::M },
            groups: if s.migrant {
                vec!["migrant".into()]
            } else {
                Vec::new()
            }
            .into(),
            choices: choices.into(),
            categories: categories.into(),
            indicators: if s.migrant {
                vec![("months".into(), s.months)]
            } else {
                Vec::new()
            }
            .into(),
            family: fam.map(Into::into),
            priority: priority.into(),
            manual: s
                .manual
                .then(|| Box::new(("S0".into(), "disability".into()))),
            xy: Some(s.xy),
            private_hash: D([i as u8; 32]),
        });
    }
    Some(FrozenRound {
        policy_bytes: POLICY.as_bytes().to_vec(),
        policy,
        schools,
        teachers,
        applicants: lottery::round::Applicants::from_applicants(&applicants).ok()?,
    })
}
