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
}

struct Shared {
    batches: Batches,
    fallback: Fallback,
    health: Health,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection is left out: its address may carry a password.
        f.debug_struct("RedisLimiter")
            .field("fallback", &self.fallback())
            .field("timeout", &self.timeout)
            .field("retry_interval", &self.retry_interval)
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
            }),
            timeout: DEFAULT_TIMEOUT,
            retry_interval: DEFAULT_RETRY_INTERVAL,
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
        if !shared.health.should_try(self.retry_interval) {
            return shared.fallback.check(key, quota, cost, Unavailable::Down);
        }
        let (timeout, retry_interval) = (self.timeout, self.retry_interval);
        let deadline = tokio::time::Instant::now() + timeout;
        let answer = shared
            .batches
            .queue(Spend::new(key, quota, cost), deadline, timeout);
        let (lineage, client) = (key.lineage().clone(), key.client());
        let shared = Arc::clone(shared);
        Check::Pending(Box::pin(async move {
            let cause = match tokio::time::timeout_at(deadline, answer).await {
                Ok(Ok(Ok(decision))) => {
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
            let key = match client {
                None => RateKey::per_key(&lineage),
                Some(client) => RateKey::per_client(&lineage, client),
            };
            shared.fallback.check(key, quota, cost, cause).decide().await
        }))
    }
}
