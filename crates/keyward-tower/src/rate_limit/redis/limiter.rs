//! [`RedisLimiter`]: per-lineage GCRA budgets kept in Redis, shared by every process.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::RedisFallback;
use super::batch::Batches;
use super::fallback::Fallback;
use super::gcra::{self, Gcra, Spend};
use super::health::Health;
use super::lease::{Asked, Leases, Moment, Take};
use super::unavailable::Unavailable;
use crate::rate_limit::{Check, Quota, RateKey, RateLimitError, RateLimiter, RateLimits};

/// How long a check waits for Redis before the fallback decides, unless set otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);
/// How often a check tries Redis again during an outage, unless set otherwise.
const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// A [`RateLimiter`] whose budgets live in Redis, so that every process serving the API spends
/// from the same budget per key lineage (or per lineage and client, see [`RateKey`]).
///
/// Checks are decided by an atomic GCRA script (EVALSHA) that reads Redis's own clock (`TIME`),
/// so processes agree whatever their clocks say. A check is at most one round trip: the checks
/// that arrive while one batch is out go together in the next, one EVALSHA deciding them in
/// order, so a busy process sends far fewer round trips than requests and a quiet one sends each
/// check at once. It gives the same numbers as
/// [`InProcessLimiter`](crate::rate_limit::InProcessLimiter): a whole budget is `limit` units,
/// one unit comes back every `period / limit`, a refused check spends nothing, and a cost above
/// the whole budget is refused with `retry_after` = the period (without asking Redis).
///
/// A budget is stored at `keyward:rl:{lineage}:{limit}:{period_ms}` (a client's at
/// `keyward:rl:{lineage}/{client}:{limit}:{period_ms}`) and expires when it is whole again, so
/// idle keys cost Redis nothing.
///
/// The connection is multiplexed and reconnects by itself; the limiter is cheap to clone, and its
/// clones share one connection and one batching task, which [`connect`](Self::connect) starts on
/// the current tokio runtime (checks made after that runtime has shut down go to the fallback).
/// When Redis does not answer within the timeout (250 ms unless [set](Self::with_timeout)) or fails,
/// the [`RedisFallback`] decides, and a warning is logged (target `keyward::rate_limit`) once
/// per outage. During an outage one check per [retry interval](Self::with_retry_interval) tries
/// Redis again while the others go straight to the fallback; the first answer ends the outage
/// (logged too).
///
/// ```no_run
/// use std::num::NonZeroU32;
/// use std::time::Duration;
///
/// use keyward_core::KeyId;
/// use keyward_tower::rate_limit::{Quota, RateKey, RateLimiter, RateLimits, RedisFallback, RedisLimiter};
///
/// # async fn example() -> Result<(), keyward_tower::rate_limit::RateLimitError> {
/// let limits = RateLimits::new(Quota::per_minute(60)).tier("pro", Quota::per_minute(600));
/// let limiter = RedisLimiter::connect("redis://127.0.0.1:6379/", &limits, RedisFallback::FailOpen)
///     .await?
///     .with_timeout(Duration::from_millis(100));
///
/// let lineage = KeyId::generate();
/// let decision = limiter
///     .check(RateKey::per_key(&lineage), limits.default_quota(), NonZeroU32::MIN)
///     .decide()
///     .await?;
/// assert!(decision.allowed);
/// assert_eq!(decision.remaining, 59);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisLimiter {
    shared: Arc<Shared>,
    timeout: Duration,
    retry_interval: Duration,
    /// A lease's share of a quota's limit, in percent (0: no leases).
    lease_percent: u8,
}

struct Shared {
    batches: Batches,
    fallback: Fallback,
    health: Health,
    leases: Leases,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection is left out: its address may carry a password.
        f.debug_struct("RedisLimiter")
            .field("fallback", &self.fallback())
            .field("timeout", &self.timeout)
            .field("retry_interval", &self.retry_interval)
            .field("lease_percent", &self.lease_percent)
            .field("degraded", &self.is_degraded())
            .finish_non_exhaustive()
    }
}

/// Reconnection: a few quick attempts, so that a failed reconnection is noticed (and a new one
/// started) within a check or two; each check bounds its own wait.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(3)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(None)
}

impl RedisLimiter {
    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`, `rediss://` needs
    /// a TLS feature of the `redis` crate) and loads the script. `limits` builds the in-process
    /// limiter of [`RedisFallback::FailOpen`]; any quota can be checked.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, or Redis cannot be reached or refuses the script (after a few
    /// quick attempts), whatever the fallback: a limiter starts from a working Redis.
    pub async fn connect(
        url: &str,
        limits: &RateLimits,
        fallback: RedisFallback,
    ) -> Result<Self, RateLimitError> {
        let client = redis::Client::open(url).map_err(|e| RateLimitError(Box::new(e)))?;
        let mut conn = ConnectionManager::new_with_config(client, manager_config())
            .await
            .map_err(|e| RateLimitError(Box::new(e)))?;
        let gcra = Gcra::new();
        gcra.load(&mut conn)
            .await
            .map_err(|e| RateLimitError(Box::new(e)))?;
        Ok(Self {
            shared: Arc::new(Shared {
                batches: Batches::spawn(conn, gcra),
                fallback: Fallback::new(fallback, limits),
                health: Health::new(),
                leases: Leases::default(),
            }),
            timeout: DEFAULT_TIMEOUT,
            retry_interval: DEFAULT_RETRY_INTERVAL,
            lease_percent: 0,
        })
    }

    /// How long a check waits for Redis before the fallback decides (250 ms by default). This
    /// is the most a check adds to a request while Redis hangs.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// During an outage, how often a check tries Redis again (1 s by default); the checks in
    /// between go straight to the fallback. Recovery is noticed within about this long.
    #[must_use]
    pub fn with_retry_interval(mut self, retry_interval: Duration) -> Self {
        self.retry_interval = retry_interval;
        self
    }

    /// Lets this process spend `percent` of a quota's limit (at most 100) from Redis ahead of its
    /// requests, a lease, and hand it out to the budget's next checks without a round trip; by
    /// default 0, no leases, every check asks Redis.
    ///
    /// A busy budget then costs a round trip per lease instead of per batch of checks, and most
    /// of its checks are decided at once, in process: the check that leaves under half a lease
    /// asks for the next one while the others are handed out the rest. The budget's limit still
    /// holds across processes: every unit handed out was spent in Redis first. What leases
    /// change:
    ///
    /// - units leased and not handed out within a second of the last lease are lost to the
    ///   budget until they come back (a process holds one and a half leases at most);
    /// - after an idle spell, a process may admit up to what it holds more than the budget alone
    ///   would, since its leased units were spent in Redis early and come back early;
    /// - `X-RateLimit-Remaining` counts the lease's units as left, and units other processes
    ///   spent since the lease was taken as not yet spent;
    /// - while Redis is down, the units held are handed out until they run out (they were spent
    ///   in Redis before it went), and only then does the fallback decide.
    ///
    /// A quota whose share is under one unit (1% of 60 a minute), and a check that costs more than
    /// the lease, go to Redis as without leases. Leases are held by the process: clones of this
    /// limiter share them.
    ///
    /// ```no_run
    /// use keyward_tower::rate_limit::{Quota, RateLimits, RedisFallback, RedisLimiter};
    ///
    /// # async fn example() -> Result<(), keyward_tower::rate_limit::RateLimitError> {
    /// let limits = RateLimits::new(Quota::per_second(10_000));
    /// // Leases of 100 units: one round trip per 100 requests of a busy key.
    /// let limiter = RedisLimiter::connect("redis://127.0.0.1:6379/", &limits, RedisFallback::FailOpen)
    ///     .await?
    ///     .with_leases(1);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_leases(mut self, percent: u8) -> Self {
        self.lease_percent = percent.min(100);
        self
    }

    /// What the limiter does while Redis cannot be reached.
    pub fn fallback(&self) -> RedisFallback {
        self.shared.fallback.kind()
    }

    /// Whether the last attempt to reach Redis failed, so checks go to the fallback (until one
    /// reaches Redis again). Shared by the clones of this limiter.
    pub fn is_degraded(&self) -> bool {
        self.shared.health.is_down()
    }
}

impl RateLimiter for RedisLimiter {
    fn check(&self, key: RateKey<'_>, quota: Quota, cost: NonZeroU32) -> Check {
        if cost.get() > quota.limit() {
            return Check::Ready(Ok(gcra::over_budget(quota)));
        }
        let shared = &self.shared;
        let now = tokio::time::Instant::now();
        let deadline = now + self.timeout;
        // Units leased were spent in Redis already: they are handed out during an outage too,
        // where no check asks for more.
        let moment = Moment {
            now,
            deadline,
            reachable: !shared.health.is_down(),
        };
        let lease = match shared.leases.take(self.lease_percent, key, quota, cost, moment) {
            Take::Spent(decision) => return Check::Ready(Ok(decision)),
            Take::Ask(units) => units,
            Take::Alone => 0,
        };
        if !shared.health.should_try(self.retry_interval) {
            if lease > 0
                && let Some(decision) = shared.leases.answered(key, quota, cost, Asked::Refused, now)
            {
                return Check::Ready(Ok(decision));
            }
            return shared.fallback.check(key, quota, cost, Unavailable::Down);
        }
        let (timeout, retry_interval) = (self.timeout, self.retry_interval);
        let answer = shared
            .batches
            .queue(Spend::new(key, quota, cost, lease), deadline, timeout);
        let (lineage, client) = (key.lineage().clone(), key.client());
        let shared = Arc::clone(shared);
        Check::Pending(Box::pin(async move {
            let key = match client {
                None => RateKey::per_key(&lineage),
                Some(client) => RateKey::per_client(&lineage, client),
            };
            let cause = match tokio::time::timeout_at(deadline, answer).await {
                Ok(Ok(Ok(decided))) => {
                    let mut decision = decided.decision;
                    if lease > 0 {
                        let asked = match (decided.leased, decision.allowed) {
                            (0, true) => Asked::Allowed(&decided.decision),
                            (0, false) => Asked::Refused,
                            (units, _) => Asked::Leased(units, &decided.decision),
                        };
                        if let Some(seen) = shared.leases.answered(key, quota, cost, asked, now) {
                            decision = seen;
                        }
                    }
                    if shared.health.answered() {
                        shared.fallback.forget_idle();
                    }
                    return Ok(decision);
                }
                Ok(Ok(Err(cause))) => cause,
                Ok(Err(_gone)) => Unavailable::Stopped,
                Err(_elapsed) => Unavailable::Timeout(timeout),
            };
            shared
                .health
                .failed(&cause, retry_interval, shared.fallback.kind());
            if lease > 0
                && let Some(decision) = shared.leases.answered(key, quota, cost, Asked::Refused, now)
            {
                return Ok(decision);
            }
            shared.fallback.check(key, quota, cost, cause).decide().await
        }))
    }
}
