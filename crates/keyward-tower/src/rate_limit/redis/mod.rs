//! [`RedisLimiter`]: GCRA budgets shared by many processes through one atomic Redis script, and
//! the [`RedisFallback`] it follows while Redis cannot be reached.

mod batch;
mod fallback;
mod gcra;
mod health;
mod lease;
mod limiter;
mod unavailable;

pub use fallback::RedisFallback;
pub use limiter::RedisLimiter;
