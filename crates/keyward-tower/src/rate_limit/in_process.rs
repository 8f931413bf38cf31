//! [`InProcessLimiter`]: per-lineage GCRA budgets in this process, on governor.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use keyward_core::KeyId;

use super::{Check, Quota, RateDecision, RateKey, RateLimiter, RateLimits};

/// Budgets by `K` under one quota.
type Keyed<K, H> =
    governor::RateLimiter<K, DefaultKeyedStateStore<K, H>, DefaultClock, StateInformationMiddleware>;

/// Budgets by lineage. Lineages are ids this process's store handed out, not client input, so
/// the map uses foldhash's fast hasher (randomly seeded) rather than SipHash.
type ByLineage = Budgets<KeyId, foldhash::fast::RandomState>;
/// Budgets by lineage and client network. Client addresses are chosen by clients (an IPv6 client
/// has a whole /64 to choose from), so this map uses foldhash's quality hasher.
type ByClient = Budgets<(KeyId, IpAddr), foldhash::quality::RandomState>;

/// The default [`RateLimiter`]: one governor keyed limiter per quota, keyed by lineage (and, for
/// per-client budgets, by lineage and client network, in maps of their own made on first use). A
/// check by lineage is a few atomic operations; nothing is allocated after a lineage's first
/// request. A check per client also clones the lineage's id (a reference count).
///
/// ```
/// use std::num::NonZeroU32;
/// use keyward_core::KeyId;
/// use keyward_tower::rate_limit::{Check, InProcessLimiter, Quota, RateKey, RateLimiter, RateLimits};
///
/// let quota = Quota::per_minute(2);
/// let limiter = InProcessLimiter::new(&RateLimits::new(quota));
/// let lineage = KeyId::generate();
/// let spend = |key: RateKey<'_>| match limiter.check(key, quota, NonZeroU32::MIN) {
///     Check::Ready(Ok(decision)) => decision.allowed,
///     _ => unreachable!("in-process checks are ready at once"),
/// };
/// assert!(spend(RateKey::per_key(&lineage)));
/// assert!(spend(RateKey::per_key(&lineage)));
/// assert!(!spend(RateKey::per_key(&lineage)));
/// // A client of the same key has a budget of its own.
/// assert!(spend(RateKey::per_client(&lineage, "192.0.2.1".parse()?)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct InProcessLimiter {
    lineages: ByLineage,
    clients: OnceLock<ByClient>,
    quotas: Vec<Quota>,
}

impl fmt::Debug for InProcessLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessLimiter")
            .field("quotas", &self.quotas)
            .field("per_client", &self.clients.get().is_some())
            .finish()
    }
}

/// A keyed limiter made on its first check, with its quota.
type Made<K, H> = (Quota, Arc<Keyed<K, H>>);

/// One keyed limiter per quota: those known when built, and others made on their first check.
struct Budgets<K: Hash + Eq + Clone, H: BuildHasher + Clone> {
    limiters: Vec<(Quota, Keyed<K, H>)>,
    others: Mutex<Vec<Made<K, H>>>,
}

impl<K, H> Budgets<K, H>
where
    K: Hash + Eq + Clone,
    H: BuildHasher + Clone + Default,
{
    fn new(quotas: &[Quota]) -> Self {
        Self {
            limiters: quotas.iter().map(|q| (*q, keyed(*q))).collect(),
            others: Mutex::new(Vec::new()),
        }
    }

    #[inline]
    fn check(&self, key: &K, quota: Quota, cost: NonZeroU32) -> RateDecision {
        if let Some((_, limiter)) = self.limiters.iter().find(|(q, _)| *q == quota) {
            return decide(limiter, key, quota, cost);
        }
        let limiter = {
            let mut others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
            match others.iter().find(|(q, _)| *q == quota) {
                Some((_, limiter)) => limiter.clone(),
                None => {
                    let limiter = Arc::new(keyed(quota));
                    others.push((quota, limiter.clone()));
                    limiter
                }
            }
        };
        decide(&limiter, key, quota, cost)
    }

    fn retain_recent(&self) {
        for (_, limiter) in &self.limiters {
            limiter.retain_recent();
        }
        for (_, limiter) in self.others.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            limiter.retain_recent();
        }
    }

    fn len(&self) -> usize {
        self.limiters.iter().map(|(_, l)| l.len()).sum()
    }
}

fn keyed<K, H>(quota: Quota) -> Keyed<K, H>
where
    K: Hash + Eq + Clone,
    H: BuildHasher + Clone + Default,
{
    let limit = NonZeroU32::new(quota.limit()).unwrap_or(NonZeroU32::MIN);
    let governor_quota = governor::Quota::with_period(quota.interval().max(Duration::from_nanos(1)))
        .expect("the interval is non-zero")
        .allow_burst(limit);
    governor::RateLimiter::dashmap_with_hasher(governor_quota, H::default())
        .with_middleware::<StateInformationMiddleware>()
}

impl InProcessLimiter {
    /// A limiter ready for every quota in `limits` (other quotas work too, on a slower path).
    pub fn new(limits: &RateLimits) -> Self {
        let mut quotas = vec![limits.default_quota()];
        quotas.extend(limits.tiers().map(|(_, q)| *q));
        quotas.sort_by_key(|q| (q.limit(), q.period()));
        quotas.dedup();
        Self {
            lineages: Budgets::new(&quotas),
            clients: OnceLock::new(),
            quotas,
        }
    }

    /// Forgets budgets that are whole again, to bound memory; call it now and then.
    pub fn retain_recent(&self) {
        self.lineages.retain_recent();
        if let Some(clients) = self.clients.get() {
            clients.retain_recent();
        }
    }

    /// Budgets tracked now (lineages, and lineages per client network).
    pub fn len(&self) -> usize {
        self.lineages.len() + self.clients.get().map_or(0, Budgets::len)
    }

    /// Whether no budget is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn decide<K, H>(limiter: &Keyed<K, H>, key: &K, quota: Quota, cost: NonZeroU32) -> RateDecision
where
    K: Hash + Eq + Clone,
    H: BuildHasher + Clone,
{
    match limiter.check_key_n(key, cost) {
        Ok(Ok(snapshot)) => RateDecision::allowed(quota, snapshot.remaining_burst_capacity()),
        Ok(Err(not_until)) => RateDecision::refused(quota, not_until.wait_time_from(limiter.clock().now())),
        // The cost is larger than the whole budget: it can never pass.
        Err(_) => RateDecision::refused(quota, quota.period()),
    }
}

impl RateLimiter for InProcessLimiter {
    #[inline]
    fn check(&self, key: RateKey<'_>, quota: Quota, cost: NonZeroU32) -> Check {
        let decision = match key.client() {
            None => self.lineages.check(key.lineage(), quota, cost),
            Some(client) => self.clients.get_or_init(|| Budgets::new(&self.quotas)).check(
                &(key.lineage().clone(), client),
                quota,
                cost,
            ),
        };
        Check::Ready(Ok(decision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(check: Check) -> RateDecision {
        match check {
            Check::Ready(Ok(decision)) => decision,
            other => panic!("expected a ready decision, got {other:?}"),
        }
    }

    #[test]
    fn cost_spends_several_units_and_headers_add_up() {
        let quota = Quota::per_minute(60);
        let limiter = InProcessLimiter::new(&RateLimits::new(quota));
        let lineage = KeyId::generate();
        let three = NonZeroU32::new(3).unwrap();
        let first = ready(limiter.check(RateKey::per_key(&lineage), quota, three));
        assert!(first.allowed);
        assert_eq!(first.limit, 60);
        assert_eq!(first.remaining, 57);
        assert_eq!(first.reset, Duration::from_secs(3));
        for _ in 0..19 {
            assert!(ready(limiter.check(RateKey::per_key(&lineage), quota, three)).allowed);
        }
        let refused = ready(limiter.check(RateKey::per_key(&lineage), quota, three));
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(3));
    }

    #[test]
    fn lineages_have_separate_budgets_and_unknown_quotas_work() {
        let quota = Quota::per_minute(1);
        let limiter = InProcessLimiter::new(&RateLimits::default());
        let (a, b) = (KeyId::generate(), KeyId::generate());
        assert!(ready(limiter.check(RateKey::per_key(&a), quota, NonZeroU32::MIN)).allowed);
        assert!(!ready(limiter.check(RateKey::per_key(&a), quota, NonZeroU32::MIN)).allowed);
        assert!(ready(limiter.check(RateKey::per_key(&b), quota, NonZeroU32::MIN)).allowed);
    }

    #[test]
    fn a_cost_over_the_whole_budget_is_refused() {
        let quota = Quota::per_minute(2);
        let limiter = InProcessLimiter::new(&RateLimits::new(quota));
        let decision = ready(limiter.check(
            RateKey::per_key(&KeyId::generate()),
            quota,
            NonZeroU32::new(5).unwrap(),
        ));
        assert!(!decision.allowed);
        assert_eq!(decision.retry_after, Duration::from_secs(60));
    }

    #[test]
    fn clients_of_one_key_have_budgets_of_their_own_and_apart_from_the_key_s() {
        let quota = Quota::per_minute(1);
        let limiter = InProcessLimiter::new(&RateLimits::new(quota));
        let lineage = KeyId::generate();
        let spend = |key: RateKey<'_>| ready(limiter.check(key, quota, NonZeroU32::MIN)).allowed;
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!(spend(RateKey::per_client(&lineage, a)));
        assert!(!spend(RateKey::per_client(&lineage, a)), "a's budget is spent");
        assert!(spend(RateKey::per_client(&lineage, b)), "b has its own");
        assert!(spend(RateKey::per_key(&lineage)), "the key's own budget is apart");
        assert!(!spend(RateKey::per_key(&lineage)));
        let v6 = |text: &str| RateKey::per_client(&lineage, text.parse().unwrap());
        assert!(spend(v6("2001:db8:0:1::1")));
        assert!(!spend(v6("2001:db8:0:1::2")), "one /64, one budget");
        assert!(spend(v6("2001:db8:0:2::1")), "another /64");
        assert_eq!(limiter.len(), 5);
        assert!(format!("{limiter:?}").contains("per_client: true"));
    }
}
