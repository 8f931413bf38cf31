//! [`InProcessLimiter`]: per-lineage GCRA budgets in this process, on governor.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use keyward_core::KeyId;

use super::{Check, Quota, RateDecision, RateLimiter, RateLimits};

/// Budgets by lineage. Lineages are ids this process's store handed out, not client input, so
/// the map uses foldhash's fast hasher (randomly seeded) rather than SipHash.
type Keyed = governor::RateLimiter<
    KeyId,
    DefaultKeyedStateStore<KeyId, foldhash::fast::RandomState>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// The default [`RateLimiter`]: one governor keyed limiter per quota, keyed by lineage. A check is
/// a few atomic operations; nothing is allocated after a lineage's first request.
///
/// ```
/// use std::num::NonZeroU32;
/// use keyward_core::KeyId;
/// use keyward_tower::rate_limit::{Check, InProcessLimiter, Quota, RateLimiter, RateLimits};
///
/// let quota = Quota::per_minute(2);
/// let limiter = InProcessLimiter::new(&RateLimits::new(quota));
/// let lineage = KeyId::generate();
/// let spend = |limiter: &InProcessLimiter| match limiter.check(&lineage, quota, NonZeroU32::MIN) {
///     Check::Ready(Ok(decision)) => decision.allowed,
///     _ => unreachable!("in-process checks are ready at once"),
/// };
/// assert!(spend(&limiter));
/// assert!(spend(&limiter));
/// assert!(!spend(&limiter));
/// ```
pub struct InProcessLimiter {
    limiters: Vec<(Quota, Keyed)>,
    others: Mutex<Vec<(Quota, std::sync::Arc<Keyed>)>>,
}

impl fmt::Debug for InProcessLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quotas: Vec<Quota> = self.limiters.iter().map(|(q, _)| *q).collect();
        f.debug_struct("InProcessLimiter")
            .field("quotas", &quotas)
            .finish()
    }
}

fn keyed(quota: Quota) -> Keyed {
    let limit = NonZeroU32::new(quota.limit()).unwrap_or(NonZeroU32::MIN);
    let governor_quota = governor::Quota::with_period(quota.interval().max(Duration::from_nanos(1)))
        .expect("the interval is non-zero")
        .allow_burst(limit);
    governor::RateLimiter::dashmap_with_hasher(governor_quota, foldhash::fast::RandomState::default())
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
            limiters: quotas.into_iter().map(|q| (q, keyed(q))).collect(),
            others: Mutex::new(Vec::new()),
        }
    }

    /// Forgets lineages whose budgets are whole again, to bound memory; call it now and then.
    pub fn retain_recent(&self) {
        for (_, limiter) in &self.limiters {
            limiter.retain_recent();
        }
        for (_, limiter) in self.others.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            limiter.retain_recent();
        }
    }

    /// Lineages tracked now.
    pub fn len(&self) -> usize {
        self.limiters.iter().map(|(_, l)| l.len()).sum()
    }

    /// Whether no lineage is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn decide(limiter: &Keyed, lineage: &KeyId, quota: Quota, cost: NonZeroU32) -> RateDecision {
    let interval = quota.interval();
    let limit = quota.limit();
    match limiter.check_key_n(lineage, cost) {
        Ok(Ok(snapshot)) => {
            let remaining = snapshot.remaining_burst_capacity();
            RateDecision {
                allowed: true,
                limit,
                remaining,
                reset: interval * (limit - remaining.min(limit)),
                retry_after: Duration::ZERO,
                window: quota.period(),
            }
        }
        Ok(Err(not_until)) => {
            let wait = not_until.wait_time_from(limiter.clock().now());
            RateDecision {
                allowed: false,
                limit,
                remaining: 0,
                reset: interval * limit,
                retry_after: wait,
                window: quota.period(),
            }
        }
        // The cost is larger than the whole budget: it can never pass.
        Err(_) => RateDecision {
            allowed: false,
            limit,
            remaining: 0,
            reset: interval * limit,
            retry_after: quota.period(),
            window: quota.period(),
        },
    }
}

impl RateLimiter for InProcessLimiter {
    #[inline]
    fn check(&self, lineage: &KeyId, quota: Quota, cost: NonZeroU32) -> Check {
        if let Some((_, limiter)) = self.limiters.iter().find(|(q, _)| *q == quota) {
            return Check::Ready(Ok(decide(limiter, lineage, quota, cost)));
        }
        let limiter = {
            let mut others = self.others.lock().unwrap_or_else(PoisonError::into_inner);
            match others.iter().find(|(q, _)| *q == quota) {
                Some((_, limiter)) => limiter.clone(),
                None => {
                    let limiter = std::sync::Arc::new(keyed(quota));
                    others.push((quota, limiter.clone()));
                    limiter
                }
            }
        };
        Check::Ready(Ok(decide(&limiter, lineage, quota, cost)))
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
        let first = ready(limiter.check(&lineage, quota, three));
        assert!(first.allowed);
        assert_eq!(first.limit, 60);
        assert_eq!(first.remaining, 57);
        assert_eq!(first.reset, Duration::from_secs(3));
        for _ in 0..19 {
            assert!(ready(limiter.check(&lineage, quota, three)).allowed);
        }
        let refused = ready(limiter.check(&lineage, quota, three));
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(3));
    }

    #[test]
    fn lineages_have_separate_budgets_and_unknown_quotas_work() {
        let quota = Quota::per_minute(1);
        let limiter = InProcessLimiter::new(&RateLimits::default());
        let (a, b) = (KeyId::generate(), KeyId::generate());
        assert!(ready(limiter.check(&a, quota, NonZeroU32::MIN)).allowed);
        assert!(!ready(limiter.check(&a, quota, NonZeroU32::MIN)).allowed);
        assert!(ready(limiter.check(&b, quota, NonZeroU32::MIN)).allowed);
    }

    #[test]
    fn a_cost_over_the_whole_budget_is_refused() {
        let quota = Quota::per_minute(2);
        let limiter = InProcessLimiter::new(&RateLimits::new(quota));
        let decision = ready(limiter.check(&KeyId::generate(), quota, NonZeroU32::new(5).unwrap()));
        assert!(!decision.allowed);
        assert_eq!(decision.retry_after, Duration::from_secs(60));
    }
}
