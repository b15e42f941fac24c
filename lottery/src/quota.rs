//! Quota allocation (指标到校): a demonstration high school's quota seats shared among the junior
//! high schools in proportion to their graduating cohorts (PROTOCOL.md, quota allocation).
//!
//! The largest-remainder (Hamilton) method in exact integer arithmetic: each school first gets
//! the integer part of its exact share, and the seats left over go one each to the largest
//! fractional parts. Equal fractional parts are ordered by one stream permutation of the
//! schools, so a tie is decided by the lottery and by nothing else (not input order, not names).

use crate::stream::Stream;
use std::cmp::Reverse;

/// Why quota seats cannot be allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// The list of junior high schools is empty.
    #[error("no junior high schools to allocate quota seats to")]
    NoSchools,
    /// Every cohort is zero: there are no shares to be proportional to.
    #[error("the junior high schools' cohorts sum to zero, so there are no shares to allocate by")]
    ZeroCohorts,
    /// More schools than a stream permutation can order (2^32 − 1).
    #[error("{schools} junior high schools are too many for one quota allocation")]
    TooManySchools {
        /// Schools given.
        schools: u64,
    },
}

/// Allocates `seats` quota seats of one high school among junior high schools with graduating
/// cohorts `cohorts` (in the caller's canonical order, e.g. ascending school code); `stream` is
/// the stream of this high school's quota purpose key. Returns the seats of each junior high, in
/// input order. Steps (PROTOCOL.md, quota allocation):
///
/// 1. `n = cohorts.len()`; `n = 0` → [`QuotaError::NoSchools`]. `C = Σ c_i` (exact, at least
///    128-bit); `C = 0` → [`QuotaError::ZeroCohorts`]. No stream words are consumed on error.
/// 2. `P = stream.permutation(n)` — always drawn, ties or not. School `i`'s *draw position*
///    `d_i` is the index `j` with `P[j] = i`.
/// 3. For each `i`: `base_i = floor(S·c_i / C)`, `r_i = S·c_i mod C` (`S` = `seats`; `S·c_i`
///    exact in 128 bits). `L = S − Σ base_i` seats are left (`0 ≤ L < n`).
/// 4. Order the schools by (`r_i` descending, `d_i` ascending); the first `L` get
///    `base_i + 1`, all others `base_i`.
///
/// Guarantees (property-tested): the result sums to exactly `seats`; each school gets
/// `floor` or `ceil` of its exact share `S·c_i/C`, so `|alloc_i − S·c_i/C| < 1`; schools with
/// equal cohorts get equal seats up to one; the stream decides only among equal remainders.
pub fn allocate(seats: u64, cohorts: &[u64], stream: &mut Stream) -> Result<Vec<u64>, QuotaError> {
    let n = cohorts.len();
    if n == 0 {
        return Err(QuotaError::NoSchools);
    }
    if u32::try_from(n).is_err() {
        return Err(QuotaError::TooManySchools { schools: n as u64 });
    }
    let total: u128 = cohorts.iter().map(|&c| u128::from(c)).sum();
    if total == 0 {
        return Err(QuotaError::ZeroCohorts);
    }

    let permutation = stream.permutation(n);
    let mut draw = vec![0u32; n];
    for (j, &i) in permutation.iter().enumerate() {
        draw[i as usize] = j as u32;
    }

    let s = u128::from(seats);
    let mut alloc = Vec::with_capacity(n);
    let mut remainder = Vec::with_capacity(n);
    for &c in cohorts {
        let share = s * u128::from(c); // < 2^128: both factors < 2^64
        // base ≤ seats because c ≤ total, so it fits in u64.
        alloc.push(u64::try_from(share / total).unwrap_or(u64::MAX));
        remainder.push(share % total);
    }
    let given: u128 = alloc.iter().map(|&a| u128::from(a)).sum();
    let left = usize::try_from(s - given).unwrap_or(usize::MAX); // < n

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by_key(|&i| (Reverse(remainder[i]), draw[i]));
    for &i in order.iter().take(left) {
        alloc[i] += 1;
    }
    Ok(alloc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use proptest::prelude::*;

    fn stream(seed: u64) -> Stream {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&seed.to_le_bytes());
        k[31] = 0x9a;
        Stream::new(&Digest(k))
    }

    /// Cohorts with frequent ties: small values, many repeats, sometimes zeros or huge values.
    fn cohorts() -> impl Strategy<Value = Vec<u64>> {
        prop_oneof![
            prop::collection::vec(0u64..6, 1..40),
            prop::collection::vec(
                prop_oneof![Just(120u64), Just(240), Just(360), 0u64..800],
                1..60
            ),
            prop::collection::vec(any::<u64>(), 1..20),
        ]
    }

    fn seats() -> impl Strategy<Value = u64> {
        prop_oneof![0u64..40, 0u64..5000, any::<u64>()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn sums_exactly_and_stays_within_one_seat_of_the_exact_share(
            seats in seats(), cohorts in cohorts(), seed in any::<u64>()
        ) {
            let total: u128 = cohorts.iter().map(|&c| u128::from(c)).sum();
            let got = allocate(seats, &cohorts, &mut stream(seed));
            if total == 0 {
                prop_assert_eq!(got, Err(QuotaError::ZeroCohorts));
                return Ok(());
            }
            let a = got.unwrap_or_default();
            prop_assert_eq!(a.len(), cohorts.len());
            prop_assert_eq!(a.iter().map(|&x| u128::from(x)).sum::<u128>(), u128::from(seats));
            for (&x, &c) in a.iter().zip(&cohorts) {
                // |x − S·c/C| < 1  ⇔  |x·C − S·c| < C, and x is floor or ceil of S·c/C.
                let exact = u128::from(seats) * u128::from(c);
                let scaled = u128::from(x) * total;
                prop_assert!(scaled.abs_diff(exact) < total);
                prop_assert!(u128::from(x) == exact / total || u128::from(x) == exact / total + 1);
                if c == 0 {
                    prop_assert_eq!(x, 0);
                }
            }
            // Equal cohorts, equal seats up to one.
            for i in 0..cohorts.len() {
                for j in 0..cohorts.len() {
                    if cohorts[i] == cohorts[j] {
                        prop_assert!(a[i].abs_diff(a[j]) <= 1);
                    }
                }
            }
            prop_assert_eq!(allocate(seats, &cohorts, &mut stream(seed)), Ok(a));
        }

        /// Two different keys may only disagree on schools whose remainder equals the cut-off
        /// remainder (the smallest remainder that still won a seat); every school above the
        /// cut-off gets its extra seat under both keys, every school below under neither.
        #[test]
        fn the_stream_decides_only_among_tied_remainders(
            seats in seats(), cohorts in cohorts(), k1 in any::<u64>(), k2 in any::<u64>()
        ) {
            let total: u128 = cohorts.iter().map(|&c| u128::from(c)).sum();
            prop_assume!(total > 0);
            let a1 = allocate(seats, &cohorts, &mut stream(k1)).unwrap_or_default();
            let a2 = allocate(seats, &cohorts, &mut stream(k2)).unwrap_or_default();
            let s = u128::from(seats);
            let rem: Vec<u128> = cohorts.iter().map(|&c| s * u128::from(c) % total).collect();
            let won: Vec<bool> = a1
                .iter()
                .zip(&cohorts)
                .map(|(&x, &c)| u128::from(x) > s * u128::from(c) / total)
                .collect();
            if let Some(cut) = rem.iter().zip(&won).filter(|&(_, &w)| w).map(|(&r, _)| r).min() {
                for i in 0..cohorts.len() {
                    if rem[i] > cut {
                        prop_assert!(won[i]);
                    }
                    if rem[i] != cut {
                        prop_assert_eq!(a1[i], a2[i], "school {} untied but changed", i);
                    }
                }
            } else {
                prop_assert_eq!(a1, a2);
            }
        }

        /// A second, direct reading of the specification (walking the permutation instead of
        /// inverting it) gives the same seats.
        #[test]
        fn matches_a_direct_reference(seats in 0u64..100, cohorts in prop::collection::vec(0u64..10, 1..30), seed in any::<u64>()) {
            let total: u64 = cohorts.iter().sum();
            prop_assume!(total > 0);
            let p = stream(seed).permutation(cohorts.len());
            // Hand out seats one at a time: the exact-share integer parts first, then in the
            // order (fractional part desc, earlier in P first).
            let mut reference = vec![0u64; cohorts.len()];
            let mut left = seats;
            for (r, &c) in reference.iter_mut().zip(&cohorts) {
                *r = seats * c / total;
                left -= *r;
            }
            let mut ranked: Vec<(u64, usize)> = p
                .iter()
                .enumerate()
                .map(|(j, &i)| (seats * cohorts[i as usize] % total, j))
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, j) in ranked.iter().take(left as usize) {
                reference[p[j] as usize] += 1;
            }
            prop_assert_eq!(allocate(seats, &cohorts, &mut stream(seed)), Ok(reference));
        }
    }

    #[test]
    fn errors() {
        assert_eq!(allocate(5, &[], &mut stream(0)), Err(QuotaError::NoSchools));
        assert_eq!(
            allocate(5, &[0, 0], &mut stream(0)),
            Err(QuotaError::ZeroCohorts)
        );
        assert_eq!(
            QuotaError::ZeroCohorts.to_string(),
            "the junior high schools' cohorts sum to zero, so there are no shares to allocate by"
        );
        assert_eq!(allocate(0, &[3, 0], &mut stream(0)), Ok(vec![0, 0]));
        assert_eq!(
            allocate(u64::MAX, &[u64::MAX, u64::MAX, 1], &mut stream(0))
                .map(|a| a.iter().map(|&x| u128::from(x)).sum::<u128>()),
            Ok(u128::from(u64::MAX))
        );
    }

    /// The worked example of PROTOCOL.md (quota allocation).
    #[test]
    fn worked_example_in_protocol() {
        let key = Digest([7u8; 32]);
        assert_eq!(Stream::new(&key).permutation(4), [2, 3, 1, 0]);
        assert_eq!(
            allocate(10, &[400, 300, 300, 200], &mut Stream::new(&key)),
            Ok(vec![3, 2, 3, 2])
        );
    }

    /// Fixed keys, so never flaky: three equal cohorts and one seat: each school wins it about
    /// a third of the time.
    #[test]
    fn ties_are_a_fair_lottery() {
        let mut wins = [0u32; 3];
        for seed in 0..3000 {
            let a = allocate(1, &[200, 200, 200], &mut stream(seed)).unwrap_or_default();
            for (w, x) in wins.iter_mut().zip(a) {
                *w += x as u32;
            }
        }
        for w in wins {
            assert!((900..=1100).contains(&w), "{wins:?}");
        }
    }
}
