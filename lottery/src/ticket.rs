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
    tickets_by(domain, key, names.len(), |i| names[i].as_ref())
}

/// Tickets for the names `name(0), …, name(n − 1)`, as [`tickets`] (for names not held in one
/// slice).
pub fn tickets_by<'a>(
    domain: Domain,
    key: &Digest,
    n: usize,
    name: impl Fn(usize) -> &'a str + Sync,
) -> Vec<Digest> {
    let lottery = Lottery::new(domain, key);
    let one = |i: usize| lottery.ticket(name(i));
    if n >= PARALLEL_MIN {
        (0..n).into_par_iter().map(one).collect()
    } else {
        (0..n).map(one).collect()
    }
}

/// One lottery's tickets: the tag and key fields are the same for every name, so they are
/// hashed once and the state cloned per name (the bytes hashed are exactly [`ticket`]'s).
#[derive(Clone)]
pub struct Lottery(Hasher);

impl Lottery {
    /// The lottery of a purpose key.
    pub fn new(domain: Domain, key: &Digest) -> Self {
        let mut h = Hasher::new(&domain.tag("ticket"));
        h.field(key.as_bytes());
        Lottery(h)
    }

    /// The ticket of a name: [`ticket`]`(domain, key, name)`.
    pub fn ticket(&self, name: &str) -> Digest {
        let mut h = self.0.clone();
        h.field_buffered(name.as_bytes());
        h.finish()
    }
}

/// A ticket's first 8 bytes as an integer (big-endian, so integers order as tickets do).
pub fn prefix(d: &Digest) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&d.0[..8]);
    u64::from_be_bytes(w)
}

/// Lottery numbers (1 = best) from tickets: rank by (ticket, tie) ascending, where `tie[i]` is the
/// applicant's position in application-id order (so ties fall back to application id).
pub fn lottery_numbers(tickets: &[Digest]) -> Vec<u32> {
    let order = rank_order(tickets, |i| i as u32);
    let mut numbers = vec![0u32; tickets.len()];
    for (rank, &i) in order.iter().enumerate() {
        numbers[i as usize] = rank as u32 + 1;
    }
    numbers
}

/// The positions `0..tickets.len()` sorted by `(ticket, tie(position))` ascending — the order
/// every lottery ranks by. Sorted on the tickets' first 8 bytes (one integer comparison), then
/// runs of equal prefixes are re-sorted on the full key, so the result is exactly the order of
/// the full `(ticket, tie)` comparison and does not depend on the thread count.
pub fn rank_order(tickets: &[Digest], tie: impl Fn(usize) -> u32 + Sync) -> Vec<u32> {
    let mut keyed: Vec<(u64, u32, u32)> = tickets
        .iter()
        .enumerate()
        .map(|(i, d)| (prefix(d), tie(i), i as u32))
        .collect();
    sort_keyed(&mut keyed, |&(_, _, i)| tickets[i as usize]);
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

/// Sorts one lottery's entries `(prefix(ticket), tie, position)` into rank order, as
/// [`rank_order`] does: by the 8-byte prefix, the tie, the position (one integer comparison
/// each); then each run of equal prefixes (rare) by the full ticket (`ticket(entry)`) and the
/// tie. Positions must ascend with the entries' places in the lottery's list.
pub fn sort_keyed(keyed: &mut [(u64, u32, u32)], ticket: impl Fn(&(u64, u32, u32)) -> Digest) {
    if keyed.len() >= PARALLEL_MIN {
        keyed.par_sort_unstable();
    } else {
        keyed.sort_unstable();
    }
    let mut a = 0;
    while a < keyed.len() {
        let mut b = a + 1;
        while b < keyed.len() && keyed[b].0 == keyed[a].0 {
            b += 1;
        }
        if b - a > 1 {
            keyed[a..b].sort_unstable_by_key(|k| (ticket(k), k.1));
        }
        a = b;
    }
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
    fn rank_order_matches_the_full_comparison() {
        // Tickets sharing 8-byte prefixes, and full duplicates, in a scrambled order.
        let mut t = Vec::new();
        for k in 0..200u32 {
            let mut d = [0u8; 32];
            d[0] = (k % 3) as u8;
            d[9] = (k.wrapping_mul(37) % 11) as u8;
            d[31] = (k % 2) as u8;
            t.push(Digest(d));
        }
        let tie = |i: usize| (i as u32).wrapping_mul(2_654_435_761) >> 8;
        let mut expect: Vec<u32> = (0..t.len() as u32).collect();
        expect.sort_by_key(|&i| (t[i as usize], tie(i as usize)));
        assert_eq!(rank_order(&t, tie), expect);
    }

    #[test]
    fn ties_fall_back_to_id_order() {
        let t = vec![Digest([1; 32]), Digest([0; 32]), Digest([1; 32])];
        assert_eq!(lottery_numbers(&t), vec![2, 1, 3]);
    }
}
