//! Criterion benchmarks of the engine's parts: tickets, lottery numbers (the sort), each
//! mechanism, the Merkle root and class assignment. Run: `cargo bench -p lottery`
//! (one group: `cargo bench -p lottery -- mechanisms`). End-to-end figures: `fairdraw bench`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lottery::classes::{self, ClassPolicy, FamilyRule, Student};
use lottery::digest::Digest;
use lottery::encoding::Domain;
use lottery::mechanism::{self as mech, Instance};
use lottery::stream::Stream;
use std::hint::black_box;

fn stream(label: u8) -> Stream {
    Stream::new(&Digest([label; 32]))
}

/// A random instance: `n` applicants, `m` schools with seats for ~90% of them, `k` distinct
/// choices each, keys = a random permutation (distinct per school).
fn instance(n: usize, m: usize, k: usize) -> Instance {
    let mut g = stream(7);
    let seats = (n * 9 / 10) as u32;
    let capacity: Vec<u32> = (0..m as u32)
        .map(|s| seats / m as u32 + u32::from(s < seats % m as u32))
        .collect();
    let keys = g.permutation(n);
    let mut pref_start = vec![0u32];
    let mut pref_school = Vec::with_capacity(n * k);
    let mut pref_key = Vec::with_capacity(n * k);
    for key in keys.iter().take(n) {
        let start = pref_school.len();
        while pref_school.len() - start < k.min(m) {
            let s = g.below(m as u64) as u32;
            if !pref_school[start..].contains(&s) {
                pref_school.push(s);
                pref_key.push(u64::from(*key));
            }
        }
        pref_start.push(pref_school.len() as u32);
    }
    Instance {
        capacity,
        pref_start,
        pref_school,
        pref_key,
    }
}

fn tickets(c: &mut Criterion) {
    let mut grp = c.benchmark_group("tickets");
    for n in [10_000usize, 100_000, 1_000_000] {
        let names: Vec<String> = (0..n).map(|i| format!("A2026-{:07}", i + 1)).collect();
        let key = Digest([9; 32]);
        grp.throughput(Throughput::Elements(n as u64));
        grp.bench_with_input(BenchmarkId::new("hash", n), &names, |b, names| {
            b.iter(|| lottery::ticket::tickets(Domain::Real, black_box(&key), names))
        });
        let t = lottery::ticket::tickets(Domain::Real, &key, &names);
        grp.bench_with_input(BenchmarkId::new("lottery_numbers", n), &t, |b, t| {
            b.iter(|| lottery::ticket::lottery_numbers(black_box(t)))
        });
    }
    grp.finish();
}

fn merkle(c: &mut Criterion) {
    let mut grp = c.benchmark_group("merkle");
    grp.sample_size(10);
    for n in [100_000usize, 1_000_000] {
        let leaves: Vec<Digest> = (0..n as u32)
            .map(|i| lottery::merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        grp.throughput(Throughput::Elements(n as u64));
        grp.bench_with_input(BenchmarkId::new("root", n), &leaves, |b, l| {
            b.iter(|| lottery::merkle::root_from_leaf_hashes(black_box(l)))
        });
    }
    grp.finish();
}

fn mechanisms(c: &mut Criterion) {
    let mut grp = c.benchmark_group("mechanisms");
    grp.sample_size(10);
    for (n, m) in [(100_000usize, 500usize), (1_000_000, 5_000)] {
        let inst = instance(n, m, 10);
        let Ok(v) = inst.validate() else {
            panic!("bench instance invalid")
        };
        grp.throughput(Throughput::Elements(n as u64));
        grp.bench_function(BenchmarkId::new("validate", n), |b| {
            b.iter(|| black_box(&inst).validate().is_ok())
        });
        grp.bench_function(BenchmarkId::new("deferred_acceptance", n), |b| {
            b.iter(|| mech::deferred_acceptance(v))
        });
        grp.bench_function(BenchmarkId::new("first_choice_first", n), |b| {
            b.iter(|| mech::first_choice_first(v, None, None))
        });
        let order: Vec<u32> = stream(3).permutation(n);
        grp.bench_function(BenchmarkId::new("serial_dictatorship", n), |b| {
            b.iter(|| mech::serial_dictatorship(v, &order))
        });
        // One reserve per school for group 0, 5% of the seats; 4% of the entries qualify.
        let reserves: Vec<mech::ReservedSeats> = (0..m as u32)
            .map(|s| mech::ReservedSeats {
                school: s,
                group: 0,
                seats: inst.capacity[s as usize] / 20,
            })
            .collect();
        let entry_group: Vec<u32> = (0..inst.pref_school.len())
            .map(|e| if e % 25 == 0 { 0 } else { mech::NO_GROUP })
            .collect();
        let spec = mech::ReserveSpec {
            reserves: &reserves,
            entry_group: &entry_group,
            reserve_key: None,
            order: mech::ReserveOrder::ReservedFirst,
        };
        grp.bench_function(BenchmarkId::new("reserves_da", n), |b| {
            b.iter(|| mech::with_reserves(v, &spec, mech::Mechanism::DeferredAcceptance))
        });
        let a = mech::deferred_acceptance(v);
        grp.bench_function(BenchmarkId::new("waitlists", n), |b| {
            b.iter(|| mech::waitlists(v, &a))
        });
        // Reallocation of everyone DA left out into the seats DA left free.
        let spare = mech::remaining_capacity(v, &a);
        if let Ok(spare) = spare {
            let left: Vec<u32> = (0..n as u32)
                .filter(|&i| a[i as usize] == mech::UNPLACED)
                .collect();
            grp.bench_function(BenchmarkId::new("reallocation", n), |b| {
                b.iter(|| mech::reallocate(v, &spare, &left, None, &[]))
            });
        }
    }
    grp.finish();
}

fn class_assignment(c: &mut Criterion) {
    let mut grp = c.benchmark_group("classes");
    for n in [200usize, 1_000] {
        let mut g = stream(5);
        let students: Vec<Student> = (0..n)
            .map(|i| Student {
                gender: if g.below(2) == 0 {
                    classes::Gender::F
                } else {
                    classes::Gender::M
                },
                groups: (g.below(10) == 0) as u32 | (((g.below(30) == 0) as u32) << 1),
                family: (i % 60 == 0).then_some(i as u32 / 120),
            })
            .collect();
        let policy = ClassPolicy {
            classes: None,
            max_size: 50,
            families: FamilyRule::Together,
        };
        grp.throughput(Throughput::Elements(n as u64));
        grp.bench_with_input(BenchmarkId::new("assign", n), &students, |b, s| {
            b.iter(|| classes::assign_classes(s, &policy, &mut stream(6)))
        });
    }
    grp.finish();
}

criterion_group!(benches, tickets, merkle, mechanisms, class_assignment);
criterion_main!(benches);
