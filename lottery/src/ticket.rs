//! Tickets and lottery numbers (PROTOCOL.md §5.1).
//!
//! `ticket = H(tag "ticket", purpose key, name)` where `name` is the application id (or the family
//! id for a joint family draw). Applicants are ranked by ticket ascending, ties by application id;
//! the lottery number is the 1-based rank. A parent recomputes their ticket with `sha256sum`.

use crate::digest::Digest;
use crate::encoding::{Domain, Hasher};
use rayon::prelude::*;

/// Below this many tickets hashing stays on one thread.
const PARALLEL_MIN: usize = 1 << 14;

/// One ticket.
pub fn ticket(domain: Domain, key: &Digest, name: &str) -> Digest {
    ticket_with_tag(&domain.tag("ticket"), key, name)
}

fn ticket_with_tag(tag: &str, key: &Digest, name: &str) -> Digest {
    let mut h = Hasher::new(tag);
    h.field(key.as_bytes()).field(name.as_bytes());
    h.finish()
}

/// Tickets for many names (in parallel for large lists; the result does not depend on threads).
pub fn tickets<S: AsRef<str> + Sync>(domain: Domain, key: &Digest, names: &[S]) -> Vec<Digest> {
    let tag = domain.tag("ticket");
    if names.len() >= PARALLEL_MIN {
        names
            .par_iter()
            .map(|n| ticket_with_tag(&tag, key, n.as_ref()))
            .collect()
    } else {
        names
            .iter()
            .map(|n| ticket_with_tag(&tag, key, n.as_ref()))
            .collect()
    }
}

/// Lottery numbers (1 = best) from tickets: rank by (ticket, tie) ascending, where `tie[i]` is the
/// applicant's position in application-id order (so ties fall back to application id).
pub fn lottery_numbers(tickets: &[Digest]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..tickets.len() as u32).collect();
    let by = |&i: &u32| (tickets[i as usize], i);
    if tickets.len() >= PARALLEL_MIN {
        order.par_sort_unstable_by_key(by);
    } else {
        order.sort_unstable_by_key(by);
    }
    let mut numbers = vec![0u32; tickets.len()];
    for (rank, &i) in order.iter().enumerate() {
        numbers[i as usize] = rank as u32 + 1;
    }
    numbers
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ticket_is_sha256_of_the_encoding() {
        let key = Digest([3u8; 32]);
        let t = ticket(Domain::Real, &key, "A1");
        let bytes = crate::encoding::encode_fields("fairdraw/v1/ticket", &[&key.0, b"A1"]);
        assert_eq!(t, crate::encoding::sha256(&bytes));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn numbers_are_a_permutation(n in 0usize..500, k in any::<[u8; 32]>()) {
            let names: Vec<String> = (0..n).map(|i| format!("A{i:05}")).collect();
            let t = tickets(Domain::Real, &Digest(k), &names);
            let mut nums = lottery_numbers(&t);
            nums.sort_unstable();
            prop_assert_eq!(nums, (1..=n as u32).collect::<Vec<_>>());
        }

        #[test]
        fn different_keys_give_different_draws(k1 in any::<[u8; 32]>(), k2 in any::<[u8; 32]>()) {
            prop_assume!(k1 != k2);
            let names: Vec<String> = (0..50).map(|i| format!("A{i:05}")).collect();
            let a = lottery_numbers(&tickets(Domain::Real, &Digest(k1), &names));
            let b = lottery_numbers(&tickets(Domain::Real, &Digest(k2), &names));
            prop_assert_ne!(a, b);
        }
    }

    #[test]
    fn ties_fall_back_to_id_order() {
        let t = vec![Digest([1; 32]), Digest([0; 32]), Digest([1; 32])];
        assert_eq!(lottery_numbers(&t), vec![2, 1, 3]);
    }
}
