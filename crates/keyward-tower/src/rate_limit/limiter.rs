//! The [`RateLimiter`] trait and what it answers.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use super::{Quota, RateKey};
use futures_util::future::BoxFuture;

/// The outcome of one rate-limit check, with what the `X-RateLimit-*` headers report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Units per period (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Units left now (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Time until the budget is whole again (`X-RateLimit-Reset`, in seconds).
    pub reset: Duration,
    /// When refused: time until the request's cost is available (`Retry-After`).
    pub retry_after: Duration,
    /// The quota's period (`RateLimit-Policy`'s window).
    pub window: Duration,
}

impl RateDecision {
    /// An allowed check's decision under `quota`, `remaining` units left (at most the limit): the
    /// budget is whole again once the units missing from it come back.
    #[inline]
    pub(crate) fn allowed(quota: Quota, remaining: u32) -> Self {
        let limit = quota.limit();
        let remaining = remaining.min(limit);
        Self {
            allowed: true,
            limit,
            remaining,
            reset: quota.interval() * (limit - remaining),
            retry_after: Duration::ZERO,
            window: quota.period(),
        }
    }

    /// A refused check's decision under `quota`: nothing left, the cost available again after
    /// `retry_after`.
    #[inline]
    pub(crate) fn refused(quota: Quota, retry_after: Duration) -> Self {
        Self {
            allowed: false,
            limit: quota.limit(),
            remaining: 0,
            reset: quota.interval() * quota.limit(),
            retry_after,
            window: quota.period(),
        }
    }
}

/// The limiter could not decide (a shared backend is down).
#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable")]
pub struct RateLimitError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// A check's answer: at once (in-process limiters, no allocation), or later (a network round trip).
pub enum Check {
    /// Decided without waiting.
    Ready(Result<RateDecision, RateLimitError>),
    /// Decided once the future completes.
    Pending(BoxFuture<'static, Result<RateDecision, RateLimitError>>),
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready(result) => f.debug_tuple("Ready").field(result).finish(),
            Self::Pending(_) => f.write_str("Pending(..)"),
        }
    }
}

impl Check {
    /// Waits for the decision.
    ///
    /// # Errors
    ///
    /// When the limiter could not decide.
    pub async fn decide(self) -> Result<RateDecision, RateLimitError> {
        match self {
            Self::Ready(result) => result,
            Self::Pending(future) => future.await,
        }
    }
}

/// Counts what each key lineage spends, or each lineage per client network (see [`RateKey`]). A
/// key and its rotated successors share one lineage, so rotating does not reset the budget.
pub trait RateLimiter: Send + Sync + fmt::Debug + 'static {
    /// Spends `cost` units of `key`'s budget under `quota`, or refuses without spending. Budgets
    /// per key and per client are apart: [`RateKey::per_key`] and [`RateKey::per_client`] of one
    /// lineage never share one.
    fn check(&self, key: RateKey<'_>, quota: Quota, cost: NonZeroU32) -> Check;
}
