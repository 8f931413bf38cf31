//! Per-key rate limits: [`Quota`]s per tier, the [`RateLimiter`] trait and the [`RateKey`] it
//! counts by, the in-process limiter (governor) and, with the `redis` feature, a limiter shared by many processes through Redis.

mod in_process;
mod key;
mod limiter;
mod quota;
#[cfg(feature = "redis")]
mod redis;

pub use in_process::InProcessLimiter;
pub use key::RateKey;
pub use limiter::{Check, RateDecision, RateLimitError, RateLimiter};
pub use quota::{Quota, RateLimits};
#[cfg(feature = "redis")]
pub use redis::{RedisFallback, RedisLimiter};
