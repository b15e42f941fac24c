//! The draw: a frozen round and a master seed in, every placement out (PROTOCOL.md §6).
//!
//! Order of work: the global lottery (§6.1), manual placements (§6.2), the policy's stages in
//! order (§6.3), then class assignment and the homeroom-teacher draw for every school (§6.4) and
//! the quota allocation (§6.5). Everything is a pure function of `(round, seed)`.

use crate::classes::{self, ClassPolicy, FamilyRule, Student};
use crate::digest::Digest;
use crate::mechanism::{self as mech, Instance, UNPLACED};
use crate::policy::{
    Fallback, MechanismKind, PriorityBasis, SchoolKind, SeatPool, Stage, TieBreaking,
};
use crate::round::{FrozenRound, Gender};
use crate::seed::purpose_key;
use crate::stream::Stream;
use crate::ticket;

/// Why an applicant is unplaced, or how a placement came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Manual placement (一人一案).
    Manual,
    /// An open seat in a stage.
    Open,
    /// A reserved seat for a priority group (the group's index in the school's `reserved`).
    Reserved(u32),
    /// Admitted with a sibling placed in the same stage (policy `family_overflow`).
    Family,
    /// Reallocation by further preference.
    Preference,
    /// Reallocation by distance.
    Distance,
    /// Reallocation by the bureau's order.
    BureauOrder,
    /// Unplaced: no stage admits this applicant's track.
    NoStage,
    /// Unplaced: no eligible choice in any stage it took part in, and no reallocation.
    NoChoice,
    /// Unplaced: every school it could go to was full.
    NoSeat,
}

impl From<mech::Reason> for Detail {
    /// The detail a reallocation step writes (PROTOCOL.md §6.3.6).
    fn from(r: mech::Reason) -> Detail {
        match r {
            mech::Reason::Preference => Detail::Preference,
            mech::Reason::Distance => Detail::Distance,
            mech::Reason::BureauOrder => Detail::BureauOrder,
            mech::Reason::NoCapacity => Detail::NoSeat,
        }
    }
}

impl Detail {
    /// The word written in `results.csv`.
    pub fn code(self) -> &'static str {
        match self {
            Detail::Manual => "manual",
            Detail::Open => "open",
            Detail::Reserved(_) => "reserved",
            Detail::Family => "family",
            Detail::Preference => "preference",
            Detail::Distance => "distance",
            Detail::BureauOrder => "bureau_order",
            Detail::NoStage => "no_stage",
            Detail::NoChoice => "no_choice",
            Detail::NoSeat => "no_seat",
        }
    }
}

/// Points of one applicant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Points {
    /// Total in milli-points.
    pub total: i64,
    /// Per policy indicator, in policy order.
    pub parts: Vec<i64>,
    /// Meets every threshold.
    pub eligible: bool,
}

/// A school's waitlist in one stage: applicant indices in the school's priority order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waitlist {
    /// Stage index.
    pub stage: u32,
    /// School index.
    pub school: u32,
    /// Applicants, best first.
    pub applicants: Vec<u32>,
}

/// The whole outcome, indexed like the round's applicants and schools.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The global lottery ticket of each applicant.
    pub tickets: Vec<Digest>,
    /// Lottery number (1 = best).
    pub numbers: Vec<u32>,
    /// School index or `UNPLACED`.
    pub school: Vec<u32>,
    /// Stage index that placed the applicant (`u32::MAX` manual or none).
    pub stage: Vec<u32>,
    /// Detail / reason.
    pub detail: Vec<Option<Detail>>,
    /// Category used at the placed school (0 = none).
    pub category: Vec<u32>,
    /// Points, for applicants with indicators (when the policy defines points); boxed, so that
    /// the applicants without points cost one pointer each.
    pub points: Vec<Option<Box<Points>>>,
    /// Waitlists of oversubscribed schools, stage by stage, school order.
    pub waitlists: Vec<Waitlist>,
    /// Class per applicant (u32::MAX when unplaced).
    pub class: Vec<u32>,
    /// Per school: teacher index per class.
    pub class_teachers: Vec<Vec<u32>>,
    /// Per quota high school: seats per school (aligned with `schools`).
    pub quota: Vec<Vec<u64>>,
}

/// A round that cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrawError {
    /// More manual placements than seats.
    #[error("school {school}: {manual} manual placements exceed its {capacity} seats")]
    ManualOverCapacity {
        /// School id.
        school: String,
        /// Manual placements.
        manual: u32,
        /// Seats.
        capacity: u32,
    },
    /// Points arithmetic failed for one applicant.
    #[error("applicant {applicant}: points: {reason}")]
    Points {
        /// Application id.
        applicant: String,
        /// Why.
        reason: String,
    },
    /// Class assignment impossible at a school.
    #[error("school {school}: class assignment: {reason}")]
    Classes {
        /// School id.
        school: String,
        /// Why.
        reason: String,
    },
    /// Quota allocation impossible.
    #[error("quota for {high_school}: {reason}")]
    Quota {
        /// High school id.
        high_school: String,
        /// Why.
        reason: String,
    },
    /// A mechanism refused its instance (a bug or an inconsistent round).
    #[error("stage {stage}: {reason}")]
    Mechanism {
        /// Stage name.
        stage: String,
        /// Why.
        reason: String,
    },
}

/// Purpose labels (PROTOCOL.md §4.4).
pub mod labels {
    /// The global lottery.
    pub const LOTTERY: &str = "lottery";
    /// A per-school lottery.
    pub fn school_lottery(school: &str) -> String {
        format!("lottery/school/{school}")
    }
    /// A school's reserve-group lottery.
    pub fn reserve_lottery(school: &str, group: &str) -> String {
        format!("lottery/reserve/{school}/{group}")
    }
    /// Class assignment of a school.
    pub fn classes(school: &str) -> String {
        format!("classes/{school}")
    }
    /// Teacher draw of a school.
    pub fn teachers(school: &str) -> String {
        format!("teachers/{school}")
    }
    /// Quota allocation of a high school.
    pub fn quota(high_school: &str) -> String {
        format!("quota/{high_school}")
    }
}

/// The name an applicant's ticket is drawn under: the family (`family:ID`) for a joint family
/// draw, else the application id.
pub fn ticket_name(round: &FrozenRound, i: usize) -> String {
    ticket_name_of(round, round.applicants.get(i))
}

/// [`ticket_name`] of an applicant under the round's policy, whether in the round or a late
/// arrival of a supplement (PROTOCOL.md §11).
pub fn ticket_name_of(round: &FrozenRound, a: crate::round::ApplicantRef<'_>) -> String {
    match (a.family, round.policy.families) {
        (Some(f), crate::policy::Families::Joint) => format!("family:{f}"),
        _ => a.id.to_string(),
    }
}

/// Every applicant's ticket name ([`ticket_name`]) without a string per applicant: the
/// application id, read from the round, except the joint-family names `family:ID`, built once.
struct Names<'a> {
    round: &'a FrozenRound,
    /// Per applicant, its index in `joint`, or `u32::MAX`; empty when nobody draws as a family.
    slot: Vec<u32>,
    joint: Vec<String>,
}

impl<'a> Names<'a> {
    fn new(round: &'a FrozenRound) -> Self {
        let (mut slot, mut joint) = (Vec::new(), Vec::new());
        if round.policy.families == crate::policy::Families::Joint
            && (0..round.applicants.len()).any(|i| round.applicants.family(i).is_some())
        {
            slot = (0..round.applicants.len())
                .map(|i| match round.applicants.family(i) {
                    Some(_) => {
                        joint.push(ticket_name(round, i));
                        joint.len() as u32 - 1
                    }
                    None => u32::MAX,
                })
                .collect();
        }
        Names { round, slot, joint }
    }

    fn get(&self, i: usize) -> &str {
        match self.slot.get(i) {
            Some(&k) if k != u32::MAX => &self.joint[k as usize],
            _ => self.round.applicants.id(i),
        }
    }
}

fn rank_within(tickets: &[Digest], ids: &[u32]) -> Vec<u32> {
    // ids: applicant indices (ascending = id order); rank by (ticket, id).
    let order = ticket::rank_order(tickets, |k| ids[k]);
    let mut rank = vec![0u32; ids.len()];
    for (r, &k) in order.iter().enumerate() {
        rank[k as usize] = r as u32 + 1;
    }
    rank
}

/// Ranks (1 = best) in one lottery among the applicants of `list` ((applicant, entry) pairs, in
/// applicant order): by ticket under `key`, ties by application-id order.
fn lottery_ranks(
    domain: crate::Domain,
    key: &Digest,
    cx: &Compact<'_>,
    list: &[(u32, u32)],
) -> Vec<u32> {
    let t = ticket::tickets_by(domain, key, list.len(), |k| {
        cx.names.get(list[k].0 as usize)
    });
    let ids: Vec<u32> = list.iter().map(|&(i, _)| i).collect();
    rank_within(&t, &ids)
}

/// The round in index form, computed once per draw: the engine works on indices, not strings.
/// Choices and categories are read from the round (they are school indices already), unless an
/// applicant has one out of range (never in a parsed or engine-built round, but
/// `FrozenRound`'s fields are public): then they are copied with those dropped.
struct Compact<'a> {
    round: &'a FrozenRound,
    /// Ticket name of each applicant.
    names: Names<'a>,
    /// The copy with out-of-range indices dropped, when one is needed.
    filtered: Option<Filtered>,
    /// Index of the applicant's track in the policy's list (`u32::MAX` if absent).
    track: Vec<u32>,
}

/// Choices and categories without out-of-range school indices, CSR by applicant.
struct Filtered {
    choice_start: Vec<u32>,
    choice_school: Vec<u32>,
    cat_start: Vec<u32>,
    cat: Vec<(u32, u32)>,
}

impl<'a> Compact<'a> {
    fn new(round: &'a FrozenRound) -> Self {
        use rayon::prelude::*;
        let m = round.schools.len() as u32;
        let apps = &round.applicants;
        let track: Vec<u32> = (0..apps.len())
            .into_par_iter()
            .map(|i| {
                let a = apps.track(i);
                round
                    .policy
                    .tracks
                    .iter()
                    .position(|t| t == a)
                    .map_or(u32::MAX, |t| t as u32)
            })
            .collect();
        let in_range = (0..apps.len()).into_par_iter().all(|i| {
            apps.choices(i).iter().all(|&c| c < m) && apps.categories(i).iter().all(|&(s, _)| s < m)
        });
        Compact {
            round,
            names: Names::new(round),
            filtered: (!in_range).then(|| Filtered::new(round)),
            track,
        }
    }

    fn choices(&self, i: usize) -> &[u32] {
        match &self.filtered {
            Some(f) => &f.choice_school[f.choice_start[i] as usize..f.choice_start[i + 1] as usize],
            None => self.round.applicants.choices(i),
        }
    }

    /// Category of applicant `i` at school `s` (as [`crate::round::ApplicantRef::category_at`]).
    fn category_at(&self, i: usize, s: u32) -> Option<u32> {
        let cats = match &self.filtered {
            Some(f) => &f.cat[f.cat_start[i] as usize..f.cat_start[i + 1] as usize],
            None => self.round.applicants.categories(i),
        };
        cats.iter().find(|(cs, _)| *cs == s).map(|(_, c)| *c)
    }
}

impl Filtered {
    /// Built only for a hand-built round, so simply, one applicant after another.
    fn new(round: &FrozenRound) -> Self {
        let m = round.schools.len() as u32;
        let mut f = Filtered {
            choice_start: vec![0],
            choice_school: Vec::new(),
            cat_start: vec![0],
            cat: Vec::new(),
        };
        for a in round.applicants.iter() {
            f.choice_school
                .extend(a.choices.iter().copied().filter(|&c| c < m));
            f.choice_start.push(f.choice_school.len() as u32);
            f.cat
                .extend(a.categories.iter().copied().filter(|&(s, _)| s < m));
            f.cat_start.push(f.cat.len() as u32);
        }
        f
    }
}

/// Runs the draw.
pub fn draw(round: &FrozenRound, seed: &Digest) -> Result<Outcome, DrawError> {
    draw_observed(round, seed, &mut |_| {})
}

/// Runs the draw, calling `done(phase)` as each phase finishes (`"index"`, `"tickets"`, `"numbers"`,
/// `"points"`, `"manual"`, `"stage:NAME"` per stage, `"classes"`, `"quota"`). Benchmarks use it to
/// time the phases; the outcome is exactly [`draw`]'s.
pub fn draw_observed(
    round: &FrozenRound,
    seed: &Digest,
    done: &mut dyn FnMut(&str),
) -> Result<Outcome, DrawError> {
    let domain = round.domain();
    let policy = &round.policy;
    let n = round.applicants.len();
    let m = round.schools.len();
    let cx = Compact::new(round);
    done("index");
    let lottery_key = purpose_key(domain, seed, labels::LOTTERY);
    let tickets = ticket::tickets_by(domain, &lottery_key, n, |i| cx.names.get(i));
    done("tickets");
    let numbers = ticket::lottery_numbers(&tickets);
    done("numbers");
    let mut out = Outcome {
        tickets,
        numbers,
        school: vec![UNPLACED; n],
        stage: vec![u32::MAX; n],
        detail: vec![None; n],
        category: vec![0; n],
        // Filled below: computed when the policy has points.
        points: Vec::new(),
        ..Outcome::default()
    };

    // Points (§6.3.3): computed for every applicant with indicators when the policy has points.
    if !policy.points.is_empty() {
        let rules: Vec<mech::PointsRule> = policy
            .points
            .iter()
            .map(|p| mech::PointsRule {
                name: p.name.clone(),
                weight: p.weight,
                cap: p.cap,
                threshold: p.threshold,
            })
            .collect();
        // Every applicant's points on their own (in parallel), written in place; the first error
        // in id order (the lowest index of those that fail, whatever order they ran in).
        use rayon::prelude::*;
        let first_error: std::sync::Mutex<Option<(usize, DrawError)>> = std::sync::Mutex::new(None);
        let mut points: Vec<Option<Box<Points>>> = Vec::new();
        let apps = &round.applicants;
        (0..apps.len())
            .into_par_iter()
            .map(|i| {
                let indicators = apps.indicators(i);
                if indicators.is_empty() {
                    return None;
                }
                let values: Vec<i64> = policy
                    .points
                    .iter()
                    .map(|p| {
                        indicators
                            .iter()
                            .find(|(n, _)| *n == p.name)
                            .map_or(0, |(_, v)| *v)
                    })
                    .collect();
                match mech::score(&values, &rules) {
                    Ok(s) => Some(Box::new(Points {
                        total: s.total_milli,
                        parts: s.parts,
                        eligible: s.eligible,
                    })),
                    Err(e) => {
                        if let Ok(mut g) = first_error.lock()
                            && g.as_ref().is_none_or(|(j, _)| i < *j)
                        {
                            *g = Some((
                                i,
                                DrawError::Points {
                                    applicant: apps.id(i).to_string(),
                                    reason: e.to_string(),
                                },
                            ));
                        }
                        None
                    }
                }
            })
            .collect_into_vec(&mut points);
        if let Some((_, e)) = first_error.into_inner().unwrap_or_default() {
            return Err(e);
        }
        out.points = points;
    } else {
        out.points = vec![None; n];
    }

    done("points");

    // Seat pools (§6.2): general = capacity − points seats; manual placements consume general
    // seats first, then points seats.
    let mut general: Vec<u32> = round
        .schools
        .iter()
        .map(|s| s.capacity - s.points_seats)
        .collect();
    let mut points_pool: Vec<u32> = round.schools.iter().map(|s| s.points_seats).collect();
    for i in 0..round.applicants.len() {
        if let Some((sid, _)) = round.applicants.manual(i) {
            let Some(s) = crate::round::school_index(&round.schools, sid) else {
                continue;
            };
            if general[s] > 0 {
                general[s] -= 1;
            } else if points_pool[s] > 0 {
                points_pool[s] -= 1;
            } else {
                let manual = round
                    .applicants
                    .iter()
                    .filter(|b| b.manual.is_some_and(|(x, _)| x == sid))
                    .count();
                return Err(DrawError::ManualOverCapacity {
                    school: sid.to_string(),
                    manual: manual as u32,
                    capacity: round.schools[s].capacity,
                });
            }
            out.school[i] = s as u32;
            out.detail[i] = Some(Detail::Manual);
        }
    }

    done("manual");

    let mut took_part = vec![false; n];
    let mut had_choice = vec![false; n];
    for (k, stage) in policy.stages.iter().enumerate() {
        // Which schools the stage places at, by school index.
        let in_stage: Vec<bool> = round
            .schools
            .iter()
            .map(|s| match stage.schools {
                SchoolKind::Any => true,
                SchoolKind::Private => s.private,
                SchoolKind::Public => !s.private,
            })
            .collect();
        let track_in: Vec<bool> = policy
            .tracks
            .iter()
            .map(|t| stage.tracks.contains(t))
            .collect();
        // In parallel; rayon's collect keeps index order.
        use rayon::prelude::*;
        let participants: Vec<u32> = (0..n as u32)
            .into_par_iter()
            .filter(|&i| {
                out.school[i as usize] == UNPLACED
                    && track_in
                        .get(cx.track[i as usize] as usize)
                        .copied()
                        .unwrap_or(false)
                    && (stage.priority != PriorityBasis::Points
                        || out.points[i as usize].as_ref().is_some_and(|p| p.eligible))
            })
            .collect();
        for &i in &participants {
            took_part[i as usize] = true;
        }
        // Seats this stage may use.
        let mut cap = vec![0u32; m];
        for s in 0..m {
            if in_stage[s] {
                cap[s] = match stage.seats {
                    SeatPool::General => general[s],
                    SeatPool::Points => points_pool[s],
                    SeatPool::All => general[s] + points_pool[s],
                };
            }
        }
        let assigned: Vec<(u32, Detail)> = if stage.mechanism == MechanismKind::Reallocation {
            run_reallocation(round, &out, stage, &participants, &cx, &cap, &in_stage).map_err(
                |reason| DrawError::Mechanism {
                    stage: stage.name.clone(),
                    reason,
                },
            )?
        } else {
            run_stage(
                round,
                seed,
                &mut out,
                k as u32,
                stage,
                &participants,
                &cx,
                &cap,
                &in_stage,
                &mut had_choice,
            )
            .map_err(|reason| DrawError::Mechanism {
                stage: stage.name.clone(),
                reason,
            })?
        };
        for (p, &i) in participants.iter().enumerate() {
            let (s, d) = assigned[p];
            if s == UNPLACED {
                if d == Detail::NoSeat && stage.mechanism == MechanismKind::Reallocation {
                    out.detail[i as usize] = Some(Detail::NoSeat);
                }
                continue;
            }
            let su = s as usize;
            // Consume: the stage's pool first; `All` takes general seats before points seats.
            match stage.seats {
                SeatPool::General => general[su] -= 1,
                SeatPool::Points => points_pool[su] -= 1,
                SeatPool::All => {
                    if general[su] > 0 {
                        general[su] -= 1
                    } else {
                        points_pool[su] -= 1
                    }
                }
            }
            out.school[i as usize] = s;
            out.stage[i as usize] = k as u32;
            out.detail[i as usize] = Some(d);
            out.category[i as usize] = cx.category_at(i as usize, s).unwrap_or(0);
        }
        if policy.family_overflow && stage.mechanism != MechanismKind::Reallocation {
            admit_siblings(
                round,
                &mut out,
                k as u32,
                &participants,
                &cx,
                &mut general,
                &mut points_pool,
            );
        }
        done(&format!("stage:{}", stage.name));
    }
    for i in 0..n {
        if out.school[i] == UNPLACED && out.detail[i].is_none() {
            out.detail[i] = Some(if !took_part[i] {
                Detail::NoStage
            } else if !had_choice[i] {
                Detail::NoChoice
            } else {
                Detail::NoSeat
            });
        }
    }

    assign_classes(round, seed, &mut out)?;
    done("classes");
    allocate_quota(round, seed, &mut out)?;
    done("quota");
    Ok(out)
}

/// Siblings follow (PROTOCOL.md §6.3.8, policy `family_overflow`): after a choice stage, every
/// member of a linked family who took part in the stage, is still unplaced and listed the
/// school where another member was admitted in this stage, is admitted there too — from the
/// school's remaining seats when there are any (general, then points seats), else above
/// capacity (多胞胎一人录取、同胞随同录取). Members are handled in application-id order.
fn admit_siblings(
    round: &FrozenRound,
    out: &mut Outcome,
    stage: u32,
    participants: &[u32],
    cx: &Compact<'_>,
    general: &mut [u32],
    points_pool: &mut [u32],
) {
    // (family id, applicant) for the stage's participants who belong to a family.
    let mut fam: Vec<(&str, u32)> = participants
        .iter()
        .filter_map(|&i| round.applicants.family(i as usize).map(|f| (f, i)))
        .collect();
    if fam.is_empty() {
        return;
    }
    fam.sort_unstable();
    let mut admitted: Vec<(u32, u32)> = Vec::new();
    for group in fam.chunk_by(|a, b| a.0 == b.0) {
        for &(_, i) in group {
            let i = i as usize;
            if out.stage[i] != stage || out.detail[i] == Some(Detail::Family) {
                continue;
            }
            let s = out.school[i];
            for &(_, j) in group {
                let j = j as usize;
                if out.school[j] != UNPLACED || !cx.choices(j).contains(&s) {
                    continue;
                }
                let su = s as usize;
                if general[su] > 0 {
                    general[su] -= 1;
                } else if points_pool[su] > 0 {
                    points_pool[su] -= 1;
                }
                out.school[j] = s;
                out.stage[j] = stage;
                out.detail[j] = Some(Detail::Family);
                out.category[j] = round.applicants.category_at(j, s).unwrap_or(0);
                admitted.push((j as u32, s));
            }
        }
    }
    // A sibling admitted this way leaves the stage's waitlists of that school and of every
    // school it ranked below it (it would not move there).
    admitted.sort_unstable();
    let rank = |j: u32, s: u32| cx.choices(j as usize).iter().position(|&c| c == s);
    for w in out.waitlists.iter_mut().filter(|w| w.stage == stage) {
        w.applicants
            .retain(|&j| match admitted.binary_search_by_key(&j, |x| x.0) {
                Ok(k) => rank(j, w.school) < rank(j, admitted[k].1),
                Err(_) => true,
            });
    }
    out.waitlists.retain(|w| !w.applicants.is_empty());
}

/// Priority key of applicant `i` at school `s` (§6.3.1): lower is better.
fn priority_key(
    round: &FrozenRound,
    cx: &Compact<'_>,
    out: &Outcome,
    basis: PriorityBasis,
    i: usize,
    s: usize,
    rank: u32,
) -> u64 {
    let rank = u64::from(rank);
    match basis {
        PriorityBasis::Lottery => rank,
        PriorityBasis::Category => {
            let worst = round.policy.categories.len() as u64 + 1;
            let c = cx.category_at(i, s as u32).map_or(worst, u64::from);
            (c << 32) | rank
        }
        PriorityBasis::Points => {
            let total = out.points[i]
                .as_ref()
                .map_or(0, |p| p.total)
                .clamp(0, i64::from(u32::MAX)) as u64;
            ((u64::from(u32::MAX) - total) << 32) | rank
        }
    }
}

/// The participants' preference lists restricted to the stage's schools, in CSR form:
/// (`pref_start`, `pref_school`). Counted, then filled, in parallel blocks of participants.
fn stage_preferences(
    participants: &[u32],
    cx: &Compact<'_>,
    in_stage: &[bool],
) -> (Vec<u32>, Vec<u32>) {
    use rayon::prelude::*;
    let staged = |i: u32| {
        cx.choices(i as usize)
            .iter()
            .copied()
            .filter(|&s| in_stage.get(s as usize).copied().unwrap_or(false))
    };
    // pref_start[p + 1] = the count of participant p, then summed in place.
    let mut pref_start = vec![0u32; participants.len() + 1];
    pref_start[1..]
        .par_chunks_mut(ENTRY_BLOCK)
        .zip(participants.par_chunks(ENTRY_BLOCK))
        .for_each(|(n, ps)| {
            for (n, &i) in n.iter_mut().zip(ps) {
                *n = staged(i).count() as u32;
            }
        });
    for p in 1..pref_start.len() {
        pref_start[p] += pref_start[p - 1];
    }
    let mut pref_school = vec![0u32; pref_start[participants.len()] as usize];
    let blocks = entry_blocks(&pref_start, &mut pref_school);
    blocks.into_par_iter().for_each(|(ps, block)| {
        let mut at = 0;
        for &i in &participants[ps] {
            for s in staged(i) {
                block[at] = s;
                at += 1;
            }
        }
    });
    (pref_start, pref_school)
}

#[allow(clippy::too_many_arguments)]
fn run_stage(
    round: &FrozenRound,
    seed: &Digest,
    out: &mut Outcome,
    k: u32,
    stage: &Stage,
    participants: &[u32],
    cx: &Compact<'_>,
    cap: &[u32],
    in_stage: &[bool],
    had_choice: &mut [bool],
) -> Result<Vec<(u32, Detail)>, String> {
    let (pref_start, pref_school) = stage_preferences(participants, cx, in_stage);
    for (p, &i) in participants.iter().enumerate() {
        if pref_start[p + 1] > pref_start[p] {
            had_choice[i as usize] = true;
        }
    }
    // Participants who list none of the stage's schools stay unplaced whatever the mechanism
    // (every mechanism leaves an empty list unplaced, and their absence changes no one else's
    // order): the instance holds the others only — in the private stage of a city, most
    // applicants list no private school.
    let listed: Vec<usize> = (0..participants.len())
        .filter(|&p| pref_start[p + 1] > pref_start[p])
        .collect();
    let everyone = listed.len() == participants.len();
    let (some, start): (std::borrow::Cow<'_, [u32]>, _) = if everyone {
        (participants.into(), pref_start)
    } else {
        let mut start = Vec::with_capacity(listed.len() + 1);
        start.push(0);
        start.extend(listed.iter().map(|&p| pref_start[p + 1]));
        (
            listed
                .iter()
                .map(|&p| participants[p])
                .collect::<Vec<_>>()
                .into(),
            start,
        )
    };
    let stage_in = (stage, cx, cap, in_stage);
    let placed = run_instance(round, seed, out, k, stage_in, &some, start, pref_school)?;
    if everyone {
        return Ok(placed);
    }
    let mut all = vec![(UNPLACED, Detail::Open); participants.len()];
    for (&p, r) in listed.iter().zip(placed) {
        all[p] = r;
    }
    Ok(all)
}

/// [`run_stage`] on the participants' preference lists restricted to the stage's schools (CSR).
#[allow(clippy::too_many_arguments)]
fn run_instance(
    round: &FrozenRound,
    seed: &Digest,
    out: &mut Outcome,
    k: u32,
    (stage, cx, cap, in_stage): (&Stage, &Compact<'_>, &[u32], &[bool]),
    participants: &[u32],
    pref_start: Vec<u32>,
    pref_school: Vec<u32>,
) -> Result<Vec<(u32, Detail)>, String> {
    let domain = round.domain();
    let m = round.schools.len();
    // Ranks: the global lottery number, or a per-school draw among the stage's applicants there.
    // A per-school rank is put where the entry's key goes, and the key made from it in place.
    let mut pref_key = vec![0u64; pref_school.len()];
    let per_school = stage.tie_breaking == TieBreaking::PerSchool;
    if per_school {
        // Each school's lottery (PROTOCOL.md §5.1): every entry's ticket is hashed in
        // participant order, so the ticket names are read front to back, and its first 8 bytes
        // put in the entry's key slot; then each school's entries are ranked, the schools in
        // parallel, exactly as `rank_order` ranks a list of them.
        use rayon::prelude::*;
        let lotteries: Vec<ticket::Lottery> = round
            .schools
            .par_iter()
            .map(|school| {
                let label = labels::school_lottery(&school.id);
                ticket::Lottery::new(domain, &purpose_key(domain, seed, &label))
            })
            .collect();
        let name = |i: u32| cx.names.get(i as usize);
        each_entry(participants, &pref_start, &mut pref_key, |i, e, key| {
            let s = pref_school[e] as usize;
            *key = ticket::prefix(&lotteries[s].ticket(name(i)));
        });
        // (ticket prefix, applicant, entry) by school, in participant order.
        let mut by_school: Vec<Vec<(u64, u32, u32)>> = vec![Vec::new(); m];
        for (p, &i) in participants.iter().enumerate() {
            for e in pref_start[p]..pref_start[p + 1] {
                by_school[pref_school[e as usize] as usize].push((pref_key[e as usize], i, e));
            }
        }
        by_school.par_iter_mut().enumerate().for_each(|(s, list)| {
            ticket::sort_keyed(list, |&(_, i, _)| lotteries[s].ticket(name(i)));
        });
        for list in &by_school {
            for (r, &(_, _, e)) in (1..).zip(list) {
                pref_key[e as usize] = r;
            }
        }
    }
    // Keys filled in place.
    {
        let out = &*out;
        each_entry(participants, &pref_start, &mut pref_key, |i, e, key| {
            // A per-school rank is below 2^32 (it counts the school's entries).
            let rank = if per_school {
                *key as u32
            } else {
                out.numbers[i as usize]
            };
            *key = priority_key(
                round,
                cx,
                out,
                stage.priority,
                i as usize,
                pref_school[e] as usize,
                rank,
            );
        });
    }
    let inst = Instance {
        capacity: cap.to_vec(),
        pref_start,
        pref_school,
        pref_key,
    };
    let valid = inst.validate_ranked().map_err(|e| e.to_string())?;

    let mut detail = vec![Detail::Open; participants.len()];
    let assignment: Vec<u32> = match stage.mechanism {
        MechanismKind::SerialDictatorship => {
            // Order: priority key of the applicant's first entry basis, school-independent for
            // lottery and points priority; for category priority the best category they hold.
            // Each key computed once; (key, p) pairs are distinct, so a parallel sort gives the
            // serial order.
            use rayon::prelude::*;
            let mut keyed: Vec<(u64, u32)> = (0..participants.len() as u32)
                .into_par_iter()
                .map(|p| {
                    let i = participants[p as usize] as usize;
                    let k = priority_key(round, cx, out, stage.priority, i, 0, out.numbers[i]);
                    (k, p)
                })
                .collect();
            keyed.par_sort_unstable();
            let order: Vec<u32> = keyed.into_iter().map(|(_, p)| p).collect();
            mech::serial_dictatorship(valid, &order).map_err(|e| e.to_string())?
        }
        kind => {
            let has_reserves = (0..m).any(|s| in_stage[s] && !round.schools[s].reserved.is_empty())
                && stage.seats != SeatPool::Points;
            if has_reserves {
                let (a, reserved) = run_with_reserves(
                    round,
                    cx,
                    seed,
                    stage,
                    kind,
                    participants,
                    valid,
                    cap,
                    in_stage,
                )?;
                for (p, g) in reserved.iter().enumerate() {
                    if let Some(g) = g {
                        detail[p] = Detail::Reserved(*g);
                    }
                }
                a
            } else {
                match kind {
                    MechanismKind::DeferredAcceptance => mech::deferred_acceptance(valid),
                    _ => mech::first_choice_first(valid, None, stage.choice_rounds)
                        .map_err(|e| e.to_string())?,
                }
            }
        }
    };
    // Waitlists (§6.3.5) for every school of the stage with somebody on it.
    let wl = mech::waitlists(valid, &assignment).map_err(|e| e.to_string())?;
    for s in 0..m {
        let range = wl.of(s);
        if !range.is_empty() {
            out.waitlists.push(Waitlist {
                stage: k,
                school: s as u32,
                applicants: wl.applicants()[range]
                    .iter()
                    .map(|&p| participants[p as usize])
                    .collect(),
            });
        }
    }
    Ok(assignment.into_iter().zip(detail).collect())
}

/// Participants per block of the parallel passes over a stage's entries.
const ENTRY_BLOCK: usize = 1 << 12;

/// A stage's per-entry array cut by blocks of [`ENTRY_BLOCK`] participants: (the block's
/// participants, its entries' slots), each block's entries one contiguous range
/// (`pref_start[p]..pref_start[p + 1]` are participant `p`'s).
fn entry_blocks<'a, T>(
    pref_start: &[u32],
    entries: &'a mut [T],
) -> Vec<(std::ops::Range<usize>, &'a mut [T])> {
    let n = pref_start.len().saturating_sub(1);
    let mut blocks = Vec::with_capacity(n.div_ceil(ENTRY_BLOCK));
    let mut rest = entries;
    for p0 in (0..n).step_by(ENTRY_BLOCK) {
        let p1 = (p0 + ENTRY_BLOCK).min(n);
        let len = (pref_start[p1] - pref_start[p0]) as usize;
        let (block, tail) = rest.split_at_mut(len);
        blocks.push((p0..p1, block));
        rest = tail;
    }
    blocks
}

/// Calls `f(applicant, entry, &mut keys[entry])` for every entry of every participant `p`
/// (entries `pref_start[p]..pref_start[p + 1]`), in parallel over blocks of participants.
fn each_entry(
    participants: &[u32],
    pref_start: &[u32],
    keys: &mut [u64],
    f: impl Fn(u32, usize, &mut u64) + Sync,
) {
    use rayon::prelude::*;
    let blocks = entry_blocks(pref_start, keys);
    blocks.into_par_iter().for_each(|(ps, block)| {
        let base = pref_start[ps.start] as usize;
        for p in ps {
            for e in pref_start[p] as usize..pref_start[p + 1] as usize {
                f(participants[p], e, &mut block[e - base]);
            }
        }
    });
}

#[allow(clippy::too_many_arguments)]
fn run_with_reserves(
    round: &FrozenRound,
    cx: &Compact<'_>,
    seed: &Digest,
    stage: &Stage,
    kind: MechanismKind,
    participants: &[u32],
    valid: mech::ValidInstance<'_>,
    cap: &[u32],
    in_stage: &[bool],
) -> Result<(Vec<u32>, Vec<Option<u32>>), String> {
    let domain = round.domain();
    let m = round.schools.len();
    let inst = valid.get();
    // Reserved seats per school (never more than the seats the stage has there), school by
    // school; school `s`'s are `reserves[reserve_start[s]..reserve_start[s + 1]]`, so that an
    // entry looks at its own school's, not at every school's (with a reserve at each of 14,000
    // private schools, the scan over all of them was most of the private stage at 17M
    // applicants).
    let mut reserves: Vec<mech::ReservedSeats> = Vec::new();
    let mut reserve_start = Vec::with_capacity(m + 1);
    #[allow(clippy::needless_range_loop)]
    for s in 0..m {
        reserve_start.push(reserves.len());
        if !in_stage[s] {
            continue;
        }
        let mut left = cap[s];
        for (g, (_, n)) in round.schools[s].reserved.iter().enumerate() {
            let r = (*n).min(left);
            left -= r;
            if r > 0 {
                reserves.push(mech::ReservedSeats {
                    school: s as u32,
                    group: g as u32,
                    seats: r,
                });
            }
        }
    }
    reserve_start.push(reserves.len());
    // Per entry: the group the applicant qualifies under at that school (the first of the
    // school's groups it belongs to), and its rank in that group's own lottery.
    let mut entry_group = vec![mech::NO_GROUP; inst.pref_school.len()];
    let mut members: Vec<Vec<(u32, u32)>> = vec![Vec::new(); reserves.len()];
    for (p, &i) in participants.iter().enumerate() {
        let priority = round.applicants.priority(i as usize);
        if priority.is_empty() {
            continue;
        }
        for e in inst.entries(p) {
            let s = inst.pref_school[e] as usize;
            let school = &round.schools[s];
            let first = reserve_start[s];
            if let Some(k) = reserves[first..reserve_start[s + 1]].iter().position(|r| {
                priority
                    .iter()
                    .any(|(ps, pg)| *ps == school.id && *pg == school.reserved[r.group as usize].0)
            }) {
                let r = first + k;
                entry_group[e] = reserves[r].group;
                members[r].push((i, e as u32));
            }
        }
    }
    let mut reserve_key: Vec<u64> = inst.pref_key.clone();
    // Each reserve group's lottery is independent: drawn in parallel, applied in order.
    use rayon::prelude::*;
    let ranks: Vec<Vec<u32>> = reserves
        .par_iter()
        .zip(&members)
        .map(|(r, list)| {
            if list.is_empty() {
                return Vec::new();
            }
            let school = &round.schools[r.school as usize];
            let label = labels::reserve_lottery(&school.id, &school.reserved[r.group as usize].0);
            lottery_ranks(domain, &purpose_key(domain, seed, &label), cx, list)
        })
        .collect();
    for (list, r) in members.iter().zip(&ranks) {
        for (rank, &(_, e)) in r.iter().zip(list) {
            reserve_key[e as usize] = u64::from(*rank);
        }
    }
    let order = match stage.reserve_order {
        crate::policy::ReserveOrder::ReservedFirst => mech::ReserveOrder::ReservedFirst,
        crate::policy::ReserveOrder::OpenFirst => mech::ReserveOrder::OpenFirst,
    };
    let mechanism = match kind {
        MechanismKind::DeferredAcceptance => mech::Mechanism::DeferredAcceptance,
        _ => mech::Mechanism::FirstChoiceFirst {
            batch: None,
            max_rounds: stage.choice_rounds,
        },
    };
    let spec = mech::ReserveSpec {
        reserves: &reserves,
        entry_group: &entry_group,
        reserve_key: Some(&reserve_key),
        order,
    };
    let outcome = mech::with_reserves(valid, &spec, mechanism).map_err(|e| e.to_string())?;
    let groups = (0..participants.len())
        .map(|p| {
            if !outcome.reserved[p] {
                return None;
            }
            let s = outcome.school[p];
            inst.entries(p)
                .find(|&e| inst.pref_school[e] == s)
                .map(|e| entry_group[e])
        })
        .collect();
    Ok((outcome.school, groups))
}

fn run_reallocation(
    round: &FrozenRound,
    out: &Outcome,
    stage: &Stage,
    participants: &[u32],
    cx: &Compact<'_>,
    cap: &[u32],
    in_stage: &[bool],
) -> Result<Vec<(u32, Detail)>, String> {
    let m = round.schools.len();
    let (pref_start, pref_school) = stage_preferences(participants, cx, in_stage);
    // Keys are unused by reallocation but must be distinct per school: the lottery number.
    let pref_key: Vec<u64> = (0..participants.len())
        .flat_map(|p| (pref_start[p]..pref_start[p + 1]).map(move |_| p))
        .map(|p| u64::from(out.numbers[participants[p] as usize]))
        .collect();
    let inst = Instance {
        capacity: cap.to_vec(),
        pref_start,
        pref_school,
        pref_key,
    };
    let valid = inst.validate_ranked().map_err(|e| e.to_string())?;
    let mut order: Vec<u32> = (0..participants.len() as u32).collect();
    order.sort_unstable_by_key(|&p| out.numbers[participants[p as usize] as usize]);
    let coords =
        if stage.fallback == Fallback::Distance && (0..m).all(|s| round.schools[s].xy.is_some()) {
            let schools: Vec<mech::Point> = round
                .schools
                .iter()
                .map(|s| {
                    s.xy.map_or(mech::Point { x: 0, y: 0 }, |(x, y)| mech::Point { x, y })
                })
                .collect();
            let applicants: Vec<Option<mech::Point>> = participants
                .iter()
                .map(|&i| {
                    round
                        .applicants
                        .xy(i as usize)
                        .map(|(x, y)| mech::Point { x, y })
                })
                .collect();
            Some((schools, applicants))
        } else {
            None
        };
    let bureau: Vec<u32> = if stage.fallback == Fallback::None {
        Vec::new()
    } else {
        (0..m as u32).filter(|&s| in_stage[s as usize]).collect()
    };
    let coords_ref = coords.as_ref().map(|(s, a)| mech::Coordinates {
        applicant: a,
        school: s,
    });
    let placed =
        mech::reallocate(valid, cap, &order, coords_ref, &bureau).map_err(|e| e.to_string())?;
    let mut result = vec![(UNPLACED, Detail::NoSeat); participants.len()];
    for p in placed {
        result[p.applicant as usize] = (p.school, Detail::from(p.reason));
    }
    Ok(result)
}

fn assign_classes(round: &FrozenRound, seed: &Digest, out: &mut Outcome) -> Result<(), DrawError> {
    let n = round.applicants.len();
    let m = round.schools.len();
    out.class = vec![u32::MAX; n];
    out.class_teachers = vec![Vec::new(); m];
    let Some(cp) = &round.policy.classes else {
        return Ok(());
    };
    let domain = round.domain();
    let cap = round.policy.class_cap();
    let balance: Vec<&String> = cp.balance.iter().filter(|g| *g != "gender").collect();
    let family_rule = match cp.families.as_str() {
        "apart" => FamilyRule::Apart,
        "ignore" => FamilyRule::Ignore,
        _ => FamilyRule::Together,
    };
    // Teachers per school (indices in id order), grouped once.
    let mut staff_of: Vec<Vec<usize>> = vec![Vec::new(); m];
    if cp.teachers {
        let ids = crate::round::SchoolIds::new(&round.schools);
        for (j, t) in round.teachers.iter().enumerate() {
            if let Some(s) = ids.get(&t.school) {
                staff_of[s as usize].push(j);
            }
        }
    }
    // Admitted students per school, in application-id order.
    let mut admitted: Vec<Vec<u32>> = vec![Vec::new(); m];
    for i in 0..n {
        if out.school[i] != UNPLACED {
            admitted[out.school[i] as usize].push(i as u32);
        }
    }
    // Schools are independent (each has its own streams): assigned in parallel, applied in
    // school order, so the outcome and the first error reported do not depend on the threads.
    use rayon::prelude::*;
    type Placed = (Vec<u32>, Vec<u32>);
    let per_school: Vec<Result<Option<Placed>, DrawError>> = admitted
        .par_iter()
        .enumerate()
        .map(|(s, list)| {
            let school = &round.schools[s];
            // Family ids → small indices, by first appearance in id order (looked up, never
            // iterated: the indices do not depend on the map's order).
            let mut fams: std::collections::BTreeMap<&str, u32> = std::collections::BTreeMap::new();
            let students: Vec<Student> = list
                .iter()
                .map(|&i| {
                    let (apps, i) = (&round.applicants, i as usize);
                    let mut groups = 0u32;
                    for (b, g) in balance.iter().enumerate() {
                        if apps.groups(i).iter().any(|x| x == *g) {
                            groups |= 1 << b;
                        }
                    }
                    let family = apps.family(i).map(|f| {
                        let next = fams.len() as u32;
                        *fams.entry(f).or_insert(next)
                    });
                    Student {
                        gender: match apps.gender(i) {
                            Gender::F => classes::Gender::F,
                            Gender::M => classes::Gender::M,
                        },
                        groups,
                        family,
                    }
                })
                .collect();
            if students.is_empty() {
                return Ok(None);
            }
            let policy = ClassPolicy {
                classes: if school.classes == 0 {
                    None
                } else {
                    Some(school.classes)
                },
                max_size: cap,
                families: family_rule,
            };
            let mut stream = Stream::new(&purpose_key(domain, seed, &labels::classes(&school.id)));
            let assignment =
                classes::assign_classes(&students, &policy, &mut stream).map_err(|e| {
                    DrawError::Classes {
                        school: school.id.clone(),
                        reason: e.to_string(),
                    }
                })?;
            let mut teachers = Vec::new();
            if cp.teachers {
                let staff = &staff_of[s];
                let mut stream =
                    Stream::new(&purpose_key(domain, seed, &labels::teachers(&school.id)));
                let pick =
                    classes::draw_teachers(assignment.classes, staff.len() as u32, &mut stream)
                        .map_err(|e| DrawError::Classes {
                            school: school.id.clone(),
                            reason: e.to_string(),
                        })?;
                teachers = pick.iter().map(|&t| staff[t as usize] as u32).collect();
            }
            Ok(Some((assignment.class_of, teachers)))
        })
        .collect();
    for (s, r) in per_school.into_iter().enumerate() {
        let Some((class_of, teachers)) = r? else {
            continue;
        };
        for (&i, &c) in admitted[s].iter().zip(&class_of) {
            out.class[i as usize] = c;
        }
        out.class_teachers[s] = teachers;
    }
    Ok(())
}

fn allocate_quota(round: &FrozenRound, seed: &Digest, out: &mut Outcome) -> Result<(), DrawError> {
    let Some(q) = &round.policy.quota else {
        return Ok(());
    };
    let domain = round.domain();
    let cohorts: Vec<u64> = round.schools.iter().map(|s| s.graduates).collect();
    for hs in &q.high_schools {
        let mut stream = Stream::new(&purpose_key(domain, seed, &labels::quota(&hs.id)));
        let alloc = crate::quota::allocate(hs.seats, &cohorts, &mut stream).map_err(|e| {
            DrawError::Quota {
                high_school: hs.id.clone(),
                reason: e.to_string(),
            }
        })?;
        out.quota.push(alloc);
    }
    Ok(())
}
