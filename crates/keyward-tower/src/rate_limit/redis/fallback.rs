//! [`RedisFallback`]: what a [`RedisLimiter`](super::RedisLimiter) answers while Redis is down.

use std::num::NonZeroU32;

use super::unavailable::Unavailable;
use crate::rate_limit::{Check, InProcessLimiter, Quota, RateKey, RateLimitError, RateLimiter, RateLimits};

/// What a [`RedisLimiter`](super::RedisLimiter) does when Redis cannot be reached (no answer
/// within its timeout, a refused or dropped connection, an error reply).
///
/// Either way the limiter goes back to Redis by itself once Redis answers again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedisFallback {
    /// Decide in this process, with an [`InProcessLimiter`] built from the same
    /// [`RateLimits`]. Requests keep flowing, but each process counts on its own during the
    /// outage, so a key may spend up to its limit once per process.
    FailOpen,
    /// Answer `Err(`[`RateLimitError`]`)`, which the layer turns into a 503, until Redis is back.
    FailClosed,
}

/// The fallback with its state.
pub(super) enum Fallback {
    Open(InProcessLimiter),
    Closed,
}

impl Fallback {
    pub(super) fn new(kind: RedisFallback, limits: &RateLimits) -> Self {
        match kind {
            RedisFallback::FailOpen => Self::Open(InProcessLimiter::new(limits)),
            RedisFallback::FailClosed => Self::Closed,
        }
    }

    pub(super) fn kind(&self) -> RedisFallback {
        match self {
            Self::Open(_) => RedisFallback::FailOpen,
            Self::Closed => RedisFallback::FailClosed,
        }
    }

    /// Decides the check Redis could not decide, for the reason `cause`.
    pub(super) fn check(
        &self,
        key: RateKey<'_>,
        quota: Quota,
        cost: NonZeroU32,
        cause: Unavailable,
    ) -> Check {
        match self {
            Self::Open(limiter) => limiter.check(key, quota, cost),
            Self::Closed => Check::Ready(Err(RateLimitError(Box::new(cause)))),
        }
    }

    /// Drops the in-process budgets that are whole again, once Redis has taken over again.
    pub(super) fn forget_idle(&self) {
        if let Self::Open(limiter) = self {
            limiter.retain_recent();
        }
    }
}
