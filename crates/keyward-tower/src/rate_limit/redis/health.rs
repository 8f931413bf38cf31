//! Whether Redis answers: logs each outage once (and its end), and paces the attempts made
//! during one so that requests do not each wait for the timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::RedisFallback;
use super::unavailable::Unavailable;

/// The `tracing` target of the outage logs.
const TARGET: &str = "keyward::rate_limit";

/// Redis's health as this limiter sees it.
pub(super) struct Health {
    /// Set while Redis is down; read without the lock on every check.
    down: AtomicBool,
    outage: Mutex<Outage>,
}

struct Outage {
    since: Instant,
    next_attempt: Instant,
}

impl Health {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            down: AtomicBool::new(false),
            outage: Mutex::new(Outage {
                since: now,
                next_attempt: now,
            }),
        }
    }

    /// Whether Redis is down (the last attempt failed).
    pub(super) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Whether this check should ask Redis: always while it is up; while it is down, one check
    /// per `retry_interval`, the others going straight to the fallback.
    pub(super) fn should_try(&self, retry_interval: Duration) -> bool {
        if !self.is_down() {
            return true;
        }
        let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now < outage.next_attempt {
            return false;
        }
        outage.next_attempt = now + retry_interval;
        true
    }

    /// Redis answered. Returns whether that ends an outage (and logs so).
    pub(super) fn answered(&self) -> bool {
        if !self.down.swap(false, Ordering::AcqRel) {
            return false;
        }
        let since = self.outage.lock().unwrap_or_else(PoisonError::into_inner).since;
        tracing::info!(
            target: TARGET,
            outage = ?since.elapsed(),
            "Redis answers again: rate limits are shared again"
        );
        true
    }

    /// Redis could not decide a check. Logs when that starts an outage.
    pub(super) fn failed(&self, cause: &Unavailable, retry_interval: Duration, fallback: RedisFallback) {
        let now = Instant::now();
        {
            let mut outage = self.outage.lock().unwrap_or_else(PoisonError::into_inner);
            outage.next_attempt = now + retry_interval;
            if self.is_down() {
                return;
            }
            outage.since = now;
            self.down.store(true, Ordering::Release);
        }
        let error = error_chain(cause);
        match fallback {
            RedisFallback::FailOpen => tracing::warn!(
                target: TARGET,
                %error,
                ?retry_interval,
                "Redis unreachable: rate limits are decided in this process until it answers again"
            ),
            RedisFallback::FailClosed => tracing::warn!(
                target: TARGET,
                %error,
                ?retry_interval,
                "Redis unreachable: rate-limited requests are refused until it answers again"
            ),
        }
    }
}

/// `cause: its source: …`, the whole chain on one line.
fn error_chain(cause: &Unavailable) -> String {
    let mut text = cause.to_string();
    let mut source = std::error::Error::source(cause);
    while let Some(error) = source {
        text.push_str(": ");
        text.push_str(&error.to_string());
        source = error.source();
    }
    text
}
