//! [`Leases`]: units of busy budgets spent in Redis ahead of their requests, then handed out here
//! without a round trip.
//!
//! A lease is `percent` of the quota's limit (a quota whose share is under one unit gets none). A
//! budget's first check, and the check that would leave under half a lease, ask Redis for their
//! cost and a lease together, which comes on top of what is left; meanwhile the others are handed
//! out what is left, or go to Redis one by one as without leases when nothing is. A check whose
//! ask Redis refuses, or does not answer, is handed out what is held if there is enough. Units
//! are handed out until [`LIFETIME`] after the last lease was asked for; what is left then is
//! not.
//!
//! Every unit handed out was spent in Redis first, so the processes sharing a budget never admit
//! more than it allows, but for this: units spent in Redis early come back early, so over a burst
//! after an idle spell each process may admit up to what it holds, one and a half leases at
//! most, more than the budget alone would.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use keyward_core::KeyId;
use tokio::time::Instant;

use crate::rate_limit::{Quota, RateDecision, RateKey};

/// How long a lease's units are handed out: at most this long after the check that took them
/// asked for them.
pub(super) const LIFETIME: Duration = Duration::from_secs(1);
/// Asks for a lease answered (granted or not) between two sweeps of the leases past their
/// lifetime.
const SWEEP_EVERY: u32 = 1024;

/// The leases of one process (shared by a limiter's clones), by lineage, then client and quota.
#[derive(Default)]
pub(super) struct Leases {
    /// Lineages are ids this process's store handed out, not client input (foldhash's fast
    /// hasher); client addresses are chosen by clients (its quality hasher).
    held: DashMap<KeyId, Budgets, foldhash::fast::RandomState>,
    /// Asks answered, which time the sweeps.
    answers: AtomicU32,
}

type Budgets = HashMap<(Option<IpAddr>, Quota), Held, foldhash::quality::RandomState>;

/// One budget's lease.
struct Held {
    /// Units spent in Redis and not handed out yet.
    left: u32,
    /// When the check that took the last lease asked (before Redis spent it); units are handed
    /// out until [`LIFETIME`] after.
    taken: Instant,
    /// When the budget in Redis is whole again, as Redis answered, counted from `taken`.
    whole_at: Instant,
    /// While a check asks Redis for the next lease: its deadline (another may ask after that).
    asking_until: Option<Instant>,
}

/// When a check is made: the time, how long one that asks for a lease holds the asking (its
/// deadline), and whether it may ask (not while Redis is known to be down, when what is held is
/// handed out until it runs out).
#[derive(Clone, Copy, Debug)]
pub(super) struct Moment {
    pub(super) now: Instant,
    pub(super) deadline: Instant,
    pub(super) reachable: bool,
}

/// What Redis answered a check that asked for a lease.
#[derive(Clone, Copy, Debug)]
pub(super) enum Asked<'a> {
    /// It spent the cost and a lease of this many units.
    Leased(u32, &'a RateDecision),
    /// It spent the cost alone: the budget did not have the lease too.
    Allowed(&'a RateDecision),
    /// It refused the cost, or did not answer.
    Refused,
}

/// What a check does about the leases.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Take {
    /// Its cost was handed out from the lease: the decision, made here.
    Spent(RateDecision),
    /// It asks Redis for a lease of this many units with its cost.
    Ask(u32),
    /// It goes to Redis alone.
    Alone,
}

impl Leases {
    /// What a check of `cost` under `quota` does, `percent` being the lease's share of the limit,
    /// at `moment`.
    pub(super) fn take(
        &self,
        percent: u8,
        key: RateKey<'_>,
        quota: Quota,
        cost: NonZeroU32,
        moment: Moment,
    ) -> Take {
        let units = lease_units(percent, quota, cost);
        if units == 0 {
            return Take::Alone;
        }
        let budget = (key.client(), quota);
        if let Some(mut budgets) = self.held.get_mut(key.lineage()) {
            if let Some(held) = budgets.get_mut(&budget) {
                return held.take(units, quota, cost, moment);
            }
            if !moment.reachable {
                return Take::Alone;
            }
            budgets.insert(budget, Held::asking(moment));
            return Take::Ask(units);
        }
        if !moment.reachable {
            return Take::Alone;
        }
        self.held
            .entry(key.lineage().clone())
            .or_default()
            .insert(budget, Held::asking(moment));
        Take::Ask(units)
    }

    /// Redis answered `asked` to the check of `cost` that asked for `key`'s lease under `quota`
    /// at `now`. The check's decision as its client sees it, the units held counting as left; or
    /// `None` when Redis refused (or did not answer) and not enough is held, so that Redis's
    /// refusal (or the fallback) decides. A refused check is handed out what is held, if enough.
    pub(super) fn answered(
        &self,
        key: RateKey<'_>,
        quota: Quota,
        cost: NonZeroU32,
        asked: Asked<'_>,
        now: Instant,
    ) -> Option<RateDecision> {
        let mut decided = None;
        if let Some(mut budgets) = self.held.get_mut(key.lineage())
            && let Some(held) = budgets.get_mut(&(key.client(), quota))
        {
            held.asking_until = None;
            if now >= held.taken + LIFETIME {
                held.left = 0;
            }
            decided = match asked {
                Asked::Leased(units, decision) => {
                    held.left = held.left.saturating_add(units);
                    held.taken = now;
                    held.whole_at = now + decision.reset;
                    Some(lent(quota, held.left, held.whole_at, now))
                }
                Asked::Allowed(decision) => {
                    held.whole_at = now + decision.reset;
                    Some(lent(quota, held.left, held.whole_at, now))
                }
                Asked::Refused => held.left.checked_sub(cost.get()).map(|after| {
                    held.left = after;
                    lent(quota, after, held.whole_at, now)
                }),
            };
        }
        if self.answers.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now);
        }
        decided
    }

    /// Drops the leases past their lifetime that no check is asking to renew.
    fn sweep(&self, now: Instant) {
        self.held.retain(|_, budgets| {
            budgets.retain(|_, held| {
                now < held.taken + LIFETIME || held.asking_until.is_some_and(|until| now < until)
            });
            !budgets.is_empty()
        });
    }

    /// Budgets with a lease (or one being asked for).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.iter().map(|budgets| budgets.len()).sum()
    }
}

impl Held {
    /// What a check of `cost` does with this lease of `units` a time: it is handed out units
    /// while there are, and the one that leaves fewer than half a lease asks for the next one
    /// (which comes on top of what is left), unless one is asking already or Redis is down.
    fn take(&mut self, units: u32, quota: Quota, cost: NonZeroU32, moment: Moment) -> Take {
        let Moment {
            now,
            deadline,
            reachable,
        } = moment;
        if now >= self.taken + LIFETIME {
            self.left = 0;
        }
        let wait = !reachable || self.asking_until.is_some_and(|until| now < until);
        let after = self.left.checked_sub(cost.get());
        match after {
            Some(after) if wait || after >= units / 2 => {
                self.left = after;
                Take::Spent(lent(quota, after, self.whole_at, now))
            }
            None if wait => Take::Alone,
            _ => {
                self.asking_until = Some(deadline);
                Take::Ask(units)
            }
        }
    }

    /// No units yet; the check made at `moment` is asking.
    fn asking(moment: Moment) -> Self {
        Self {
            left: 0,
            taken: moment.now,
            whole_at: moment.now,
            asking_until: Some(moment.deadline),
        }
    }
}

/// The units of a lease under `quota` for checks of `cost`: `percent` of the limit, none when
/// that is under one unit, under the cost, or more than the budget holds beside the cost.
pub(super) fn lease_units(percent: u8, quota: Quota, cost: NonZeroU32) -> u32 {
    let limit = u64::from(quota.limit());
    let units = limit * u64::from(percent.min(100)) / 100;
    let cost = u64::from(cost.get());
    if units < cost || units + cost > limit {
        return 0;
    }
    u32::try_from(units).unwrap_or(0)
}

/// The decision for a cost handed out from a lease that has `left` units after it: the budget in
/// Redis as it was answered (`whole_at`), with the units come back since, and the lease's.
fn lent(quota: Quota, left: u32, whole_at: Instant, now: Instant) -> RateDecision {
    let limit = quota.limit();
    let interval = quota.interval().max(Duration::from_nanos(1));
    let missing = whole_at
        .saturating_duration_since(now)
        .as_nanos()
        .div_ceil(interval.as_nanos());
    let in_redis = u64::from(limit).saturating_sub(u64::try_from(missing).unwrap_or(u64::MAX));
    RateDecision::allowed(quota, u32::try_from(in_redis + u64::from(left)).unwrap_or(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: NonZeroU32 = NonZeroU32::MIN;

    /// No leases yet, a quota of 1 000 a second (leases of ten at 1%), a lineage, and the time.
    fn setup() -> (Leases, Quota, KeyId, Instant) {
        (
            Leases::default(),
            Quota::per_second(1000),
            KeyId::generate(),
            Instant::now(),
        )
    }

    /// A check made at `now` that may ask Redis, holding the asking until `deadline`.
    fn at(now: Instant, deadline: Instant) -> Moment {
        Moment {
            now,
            deadline,
            reachable: true,
        }
    }

    /// Redis's answer to a check's ask at `now`: its cost and a lease of ten spent, `left` units
    /// left there.
    fn lend(
        leases: &Leases,
        key: RateKey<'_>,
        quota: Quota,
        left: u32,
        now: Instant,
    ) -> Option<RateDecision> {
        let decision = RateDecision::allowed(quota, left);
        leases.answered(key, quota, ONE, Asked::Leased(10, &decision), now)
    }

    #[test]
    fn a_lease_is_a_share_of_the_limit_that_fits_beside_the_cost() {
        let quota = Quota::per_second(1000);
        assert_eq!(lease_units(1, quota, ONE), 10);
        assert_eq!(lease_units(0, quota, ONE), 0, "off");
        assert_eq!(lease_units(1, Quota::per_minute(60), ONE), 0, "under one unit");
        assert_eq!(
            lease_units(1, quota, NonZeroU32::new(11).unwrap()),
            0,
            "a cost above the lease"
        );
        assert_eq!(lease_units(100, quota, ONE), 0, "no room for the cost beside it");
        assert_eq!(lease_units(200, quota, ONE), 0, "capped at the whole limit");
        assert_eq!(lease_units(50, quota, ONE), 500);
    }

    #[tokio::test(start_paused = true)]
    async fn one_check_asks_while_the_others_go_alone_then_the_lease_is_handed_out() {
        let (leases, quota, lineage, now) = setup();
        let key = RateKey::per_key(&lineage);
        let deadline = now + Duration::from_millis(250);
        let take = || leases.take(1, key, quota, ONE, at(now, deadline));
        let handed_out = |take: Take| match take {
            Take::Spent(decision) => decision.remaining,
            other => panic!("handed out from the lease: {other:?}"),
        };

        assert_eq!(take(), Take::Ask(10));
        assert_eq!(take(), Take::Alone, "one asks at a time");
        // Redis spent the cost and ten units more: 989 left there, and ten here.
        let lent = lend(&leases, key, quota, 989, now);
        assert_eq!(lent.map(|decision| decision.remaining), Some(999));
        let first: Vec<u32> = (0..5).map(|_| handed_out(take())).collect();
        assert_eq!(
            first,
            [998, 997, 996, 995, 994],
            "Redis's units and the lease's left"
        );
        // This one would leave four, under half a lease: it asks for the next one, and the others
        // are handed out the rest meanwhile.
        assert_eq!(take(), Take::Ask(10));
        let rest: Vec<u32> = (0..5).map(|_| handed_out(take())).collect();
        assert_eq!(rest, [993, 992, 991, 990, 989]);
        assert_eq!(
            take(),
            Take::Alone,
            "nothing left while the next lease is asked for"
        );
        // The next lease: Redis spent eleven more (978 left there), ten more units here.
        let lent = lend(&leases, key, quota, 978, now);
        assert_eq!(lent.map(|decision| decision.remaining), Some(988));
        assert_eq!(handed_out(take()), 987);

        // A client of the same lineage has a lease of its own.
        let client = RateKey::per_client(&lineage, "192.0.2.1".parse().unwrap());
        assert_eq!(
            leases.take(1, client, quota, ONE, at(now, deadline)),
            Take::Ask(10)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_is_not_handed_out_past_its_lifetime() {
        let (leases, quota, lineage, now) = setup();
        let key = RateKey::per_key(&lineage);
        let deadline = now + Duration::from_millis(250);
        assert_eq!(leases.take(1, key, quota, ONE, at(now, deadline)), Take::Ask(10));
        lend(&leases, key, quota, 989, now);
        let later = now + LIFETIME;
        assert_eq!(
            leases.take(1, key, quota, ONE, at(later, later + Duration::from_millis(250))),
            Take::Ask(10)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_ask_lets_another_check_ask_after_its_deadline() {
        let (leases, quota, lineage, now) = setup();
        let key = RateKey::per_key(&lineage);
        let deadline = now + Duration::from_millis(250);
        assert_eq!(leases.take(1, key, quota, ONE, at(now, deadline)), Take::Ask(10));
        // The asking check's request went away: nobody answers.
        assert_eq!(
            leases.take(
                1,
                key,
                quota,
                ONE,
                at(deadline - Duration::from_millis(1), deadline)
            ),
            Take::Alone
        );
        assert_eq!(
            leases.take(
                1,
                key,
                quota,
                ONE,
                at(deadline, deadline + Duration::from_millis(250))
            ),
            Take::Ask(10)
        );
        // Redis refused, or had the cost but not the lease: the next check asks again.
        assert_eq!(leases.answered(key, quota, ONE, Asked::Refused, deadline), None);
        assert_eq!(
            leases.take(1, key, quota, ONE, at(deadline, deadline)),
            Take::Ask(10)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn while_redis_is_down_what_is_held_is_handed_out_and_nobody_asks() {
        let (leases, quota, lineage, now) = setup();
        let key = RateKey::per_key(&lineage);
        let down = Moment {
            reachable: false,
            ..at(now, now + Duration::from_millis(250))
        };
        assert_eq!(leases.take(1, key, quota, ONE, down), Take::Alone, "nothing held");
        assert_eq!(leases.len(), 0, "and nothing asked for");
        assert_eq!(leases.take(1, key, quota, ONE, at(now, now)), Take::Ask(10));
        lend(&leases, key, quota, 989, now);
        let handed_out = (0..10)
            .filter(|_| matches!(leases.take(1, key, quota, ONE, down), Take::Spent(_)))
            .count();
        assert_eq!(handed_out, 10, "below half a lease too: no check asks");
        assert_eq!(leases.take(1, key, quota, ONE, down), Take::Alone);
    }

    #[tokio::test(start_paused = true)]
    async fn an_ask_answered_without_a_lease_counts_and_hands_out_what_is_held() {
        let (leases, quota, lineage, now) = setup();
        let key = RateKey::per_key(&lineage);
        let take = || leases.take(1, key, quota, ONE, at(now, now + Duration::from_millis(250)));
        assert_eq!(take(), Take::Ask(10));
        lend(&leases, key, quota, 989, now);
        for _ in 0..5 {
            assert!(matches!(take(), Take::Spent(_)));
        }
        // Five held. Redis had the cost but not another lease: 3 left there, and the five here.
        assert_eq!(take(), Take::Ask(10));
        let allowed = leases.answered(
            key,
            quota,
            ONE,
            Asked::Allowed(&RateDecision::allowed(quota, 3)),
            now,
        );
        assert_eq!(allowed.map(|d| d.remaining), Some(8));
        // Redis refused the next ask (its budget spent elsewhere): the check is handed out one
        // of the five held instead.
        assert_eq!(take(), Take::Ask(10));
        let refused = leases.answered(key, quota, ONE, Asked::Refused, now);
        assert_eq!(refused.map(|d| (d.allowed, d.remaining)), Some((true, 7)));
        for _ in 0..4 {
            assert_eq!(take(), Take::Ask(10));
            assert!(leases.answered(key, quota, ONE, Asked::Refused, now).is_some());
        }
        assert_eq!(take(), Take::Ask(10));
        assert_eq!(
            leases.answered(key, quota, ONE, Asked::Refused, now),
            None,
            "nothing held"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn leases_past_their_lifetime_are_swept() {
        let leases = Leases::default();
        let quota = Quota::per_second(1000);
        let now = Instant::now();
        let lineages: Vec<KeyId> = (0..SWEEP_EVERY).map(|_| KeyId::generate()).collect();
        for (n, lineage) in lineages[..SWEEP_EVERY as usize - 1].iter().enumerate() {
            let key = RateKey::per_key(lineage);
            assert_eq!(leases.take(1, key, quota, ONE, at(now, now)), Take::Ask(10));
            // Refused asks count towards the next sweep too.
            let decision = RateDecision::allowed(quota, 989);
            let asked = if n % 2 == 0 {
                Asked::Leased(10, &decision)
            } else {
                Asked::Refused
            };
            leases.answered(key, quota, ONE, asked, now);
        }
        assert_eq!(leases.len(), SWEEP_EVERY as usize - 1);
        let later = now + LIFETIME;
        let last = RateKey::per_key(&lineages[SWEEP_EVERY as usize - 1]);
        assert_eq!(leases.take(1, last, quota, ONE, at(later, later)), Take::Ask(10));
        lend(&leases, last, quota, 989, later);
        assert_eq!(
            leases.len(),
            1,
            "only the lease granted last is kept, refused asks are gone too"
        );
    }
}
