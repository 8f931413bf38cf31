//! Response headers: `X-RateLimit-*`, the IETF `RateLimit`/`RateLimit-Policy` fields,
//! `Retry-After`, `X-Request-Id`, `X-Credits-Remaining` / `X-Credits-Reset` for keys with
//! [credits](keyward_core::credits), and `Deprecation` / `Sunset` for keys in their rotation grace
//! period (see [`grace`](crate::grace)).

use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, RETRY_AFTER};
use http::{HeaderMap, HeaderValue};

use crate::rate_limit::RateDecision;
use crate::request_id::X_REQUEST_ID;

/// `x-ratelimit-limit`.
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `x-ratelimit-remaining`.
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `x-ratelimit-reset`: seconds until the budget is whole again.
pub const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
/// `ratelimit` (IETF draft).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `ratelimit-policy` (IETF draft).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `x-credits-remaining`: the key's [credits](keyward_core::credits) left after the request.
pub const X_CREDITS_REMAINING: HeaderName = HeaderName::from_static("x-credits-remaining");
/// `x-credits-reset`: seconds until the key's credits are next refilled (only when they have a
/// refill).
pub const X_CREDITS_RESET: HeaderName = HeaderName::from_static("x-credits-reset");
/// `deprecation` (RFC 9745): sent with a key in its rotation grace period.
pub const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
/// `sunset` (RFC 8594): when a key in its rotation grace period stops working.
pub const SUNSET: HeaderName = HeaderName::from_static("sunset");

const CACHED_NUMBERS: u64 = 4096;

/// A header value for a number. Numbers under 4 096 are slices of one static text, made into a
/// value without a reference count or a call through `Bytes`' vtable; larger ones take one
/// allocation of their digits.
pub(crate) fn number(n: u64) -> HeaderValue {
    static DIGITS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let text: &'static str = (0..CACHED_NUMBERS)
            .map(|n| n.to_string())
            .collect::<String>()
            .leak();
        let mut start = 0;
        (0..CACHED_NUMBERS)
            .map(|n| {
                let end = start + n.checked_ilog10().map_or(1, |digits| digits as usize + 1);
                let digits = &text[start..end];
                start = end;
                digits
            })
            .collect()
    });
    if let Some(digits) = DIGITS.get(n as usize) {
        return HeaderValue::from_static(digits);
    }
    // `HeaderValue::from(u64)` writes into a `BytesMut` and freezes it: two allocations.
    let mut digits = itoa::Buffer::new();
    HeaderValue::from_maybe_shared(Bytes::copy_from_slice(digits.format(n).as_bytes()))
        .unwrap_or_else(|_| HeaderValue::from(n))
}

/// Whole seconds, rounded up, at least 1 when there is anything to wait for.
pub(crate) fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// Writes the rate-limit headers of `decision`.
pub(crate) fn rate_limit(headers: &mut HeaderMap, decision: &RateDecision, ietf: bool) {
    let reset = ceil_secs(decision.reset);
    headers.insert(X_RATELIMIT_LIMIT, number(u64::from(decision.limit)));
    headers.insert(X_RATELIMIT_REMAINING, number(u64::from(decision.remaining)));
    headers.insert(X_RATELIMIT_RESET, number(reset));
    if !decision.allowed {
        headers.insert(RETRY_AFTER, number(ceil_secs(decision.retry_after).max(1)));
    }
    if ietf {
        let window = ceil_secs(decision.window);
        if let Ok(policy) = HeaderValue::try_from(format!("\"default\";q={};w={window}", decision.limit)) {
            headers.insert(RATELIMIT_POLICY, policy);
        }
        if let Ok(state) = HeaderValue::try_from(format!("\"default\";r={};t={reset}", decision.remaining)) {
            headers.insert(RATELIMIT, state);
        }
    }
}

/// Writes `X-Credits-Remaining`, and `X-Credits-Reset` when a refill comes in `reset`.
pub(crate) fn credits(headers: &mut HeaderMap, remaining: u64, reset: Option<Duration>) {
    headers.insert(X_CREDITS_REMAINING, number(remaining));
    if let Some(reset) = reset {
        headers.insert(X_CREDITS_RESET, number(ceil_secs(reset)));
    }
}

/// Sets `X-Request-Id`.
pub(crate) fn request_id(headers: &mut HeaderMap, id: HeaderValue) {
    headers.insert(X_REQUEST_ID, id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_rounding() {
        for n in [0, 1, 9, 10, 99, 100, 999, 1000, 4095, 4096] {
            assert_eq!(number(n), n.to_string().as_str());
        }
        assert_eq!(number(123_456), "123456");
        assert_eq!(number(u64::MAX), u64::MAX.to_string().as_str());
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::ZERO), 0);
    }

    #[test]
    fn refused_decisions_carry_retry_after_and_ietf_fields() {
        let decision = RateDecision {
            allowed: false,
            limit: 60,
            remaining: 0,
            reset: Duration::from_secs(60),
            retry_after: Duration::from_millis(2500),
            window: Duration::from_secs(60),
        };
        let mut headers = HeaderMap::new();
        rate_limit(&mut headers, &decision, true);
        assert_eq!(headers[&X_RATELIMIT_LIMIT], "60");
        assert_eq!(headers[&X_RATELIMIT_REMAINING], "0");
        assert_eq!(headers[&X_RATELIMIT_RESET], "60");
        assert_eq!(headers[RETRY_AFTER], "3");
        assert_eq!(headers[&RATELIMIT_POLICY], "\"default\";q=60;w=60");
        assert_eq!(headers[&RATELIMIT], "\"default\";r=0;t=60");
    }
}
