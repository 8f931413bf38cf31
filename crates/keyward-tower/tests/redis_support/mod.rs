//! Helpers of the Redis limiter tests: the shared test server's URL, a throwaway `redis-server`
//! of the test's own, and captured logs.

mod logs;
mod server;

pub use logs::Logs;
pub use server::RedisServer;

/// The shared test Redis (`KEYWARD_TEST_REDIS_URL`).
///
/// # Panics
///
/// When the variable is unset: these tests need a real Redis.
pub fn test_redis_url() -> String {
    std::env::var("KEYWARD_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "KEYWARD_TEST_REDIS_URL is not set: run `scripts/test-servers start` and \
             `eval \"$(scripts/test-servers env)\"` before the Redis tests"
        )
    })
}

/// A plain connection to look at (or set) what the limiter stores.
pub async fn inspect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("a valid Redis URL")
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test Redis: {e}"))
}
