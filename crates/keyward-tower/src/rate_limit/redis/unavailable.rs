//! Why a check could not be decided by Redis.

use std::time::Duration;

/// Redis could not decide a check; the [`RedisFallback`](super::RedisFallback) takes over.
#[derive(Debug, thiserror::Error)]
pub(super) enum Unavailable {
    /// No answer within the limiter's timeout.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis answered with an error, or the connection failed.
    #[error("Redis failed")]
    Redis(#[from] redis::RedisError),
    /// The task that sends checks to Redis is gone: its tokio runtime was shut down.
    #[error("the limiter's connection task has stopped")]
    Stopped,
    /// A recent attempt failed and the next one is not due yet.
    #[error("Redis is unreachable (the last attempt failed)")]
    Down,
}
