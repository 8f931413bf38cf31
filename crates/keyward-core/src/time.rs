//! Timestamps and the [`Clock`] that tells the lifecycle rules what time it is.
//!
//! ```
//! use std::time::Duration;
//! use keyward_core::time::{Clock, ManualClock, Timestamp};
//!
//! let clock = ManualClock::new(Timestamp::from_millis(1_000));
//! clock.advance(Duration::from_secs(2));
//! assert_eq!(clock.now(), Timestamp::from_millis(3_000));
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, in whole milliseconds since the Unix epoch (UTC).
///
/// Serialized as an RFC 3339 string (`2026-11-23T16:48:42.000Z`); stored as an integer. Values
/// are kept between the Unix epoch and the end of year 9999, the range RFC 3339 can write.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest timestamp: the Unix epoch.
    pub const MIN: Timestamp = Timestamp(0);
    /// The latest timestamp: `9999-12-31T23:59:59.999Z`.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// The timestamp `millis` milliseconds after the Unix epoch, clamped to [`MIN`](Self::MIN) ..=
    /// [`MAX`](Self::MAX).
    pub const fn from_millis(millis: i64) -> Self {
        if millis < Self::MIN.0 {
            Self::MIN
        } else if millis > Self::MAX.0 {
            Self::MAX
        } else {
            Self(millis)
        }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// The current wall-clock time.
    ///
    /// On Linux this reads `CLOCK_REALTIME_COARSE`: the time of the last clock tick (a few
    /// milliseconds of resolution), a few nanoseconds to read where the full clock costs tens on
    /// virtual machines. The request path reads it on every request, and nothing keyward does
    /// with a time (expiry, grace periods, cache lifetimes, last-used times) needs a finer one.
    pub fn now() -> Self {
        #[cfg(target_os = "linux")]
        {
            let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
            Self::from_millis(
                now.tv_sec
                    .saturating_mul(1000)
                    .saturating_add(now.tv_nsec / 1_000_000),
            )
        }
        #[cfg(not(target_os = "linux"))]
        {
            let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
                i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
            });
            Self::from_millis(millis)
        }
    }

    /// This timestamp moved `duration` later, saturating at [`MAX`](Self::MAX).
    pub fn plus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self::from_millis(self.0.saturating_add(millis))
    }

    /// This timestamp moved `duration` earlier, saturating at [`MIN`](Self::MIN).
    pub fn minus(self, duration: Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Self::from_millis(self.0.saturating_sub(millis))
    }

    /// The time from `earlier` to `self`, zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.unsigned_abs())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&humantime::format_rfc3339_millis(self.to_system_time()), f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = humantime::TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let time = humantime::parse_rfc3339_weak(s)?;
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Ok(Self::from_millis(millis))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where the lifecycle rules read the time from.
///
/// [`SystemClock`] in production; [`ManualClock`] in tests, so that grace periods and expiry are
/// tested without sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to; clones share one time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.as_millis())))
    }

    /// Moves the clock `by` later.
    pub fn advance(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.as_millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_follows_the_system_clock() {
        let system = || {
            let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
            i64::try_from(elapsed.as_millis()).expect("before 2262")
        };
        let before = system();
        let now = Timestamp::now().as_millis();
        let after = system();
        // The coarse clock lags by at most one tick (10 ms at the slowest kernel tick rate).
        assert!(before - 20 <= now && now <= after, "{before} <= {now} <= {after}");
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_millis(1_795_452_522_123);
        let text = t.to_string();
        assert_eq!(text, "2026-11-23T16:48:42.123Z");
        assert_eq!(text.parse::<Timestamp>().unwrap(), t);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-11-23T16:48:42.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_millis(10);
        assert_eq!(t.plus(Duration::from_millis(5)), Timestamp::from_millis(15));
        assert_eq!(t.minus(Duration::from_millis(4)), Timestamp::from_millis(6));
        assert_eq!(t.minus(Duration::MAX), Timestamp::MIN);
        assert_eq!(
            Timestamp::from_millis(i64::MAX - 1).plus(Duration::MAX),
            Timestamp::MAX
        );
        assert_eq!(Timestamp::from_millis(-5), Timestamp::MIN);
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::MIN.to_string(), "1970-01-01T00:00:00.000Z");
        let far = Timestamp::now().plus(Duration::from_secs(u64::MAX / 4));
        assert_eq!(far.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(t.since(Timestamp::from_millis(20)), Duration::ZERO);
        assert_eq!(t.since(Timestamp::from_millis(4)), Duration::from_millis(6));
    }

    #[test]
    fn manual_clock_is_shared_by_clones() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let other = clock.clone();
        clock.advance(Duration::from_secs(1));
        assert_eq!(other.now(), Timestamp::from_millis(1_000));
        other.set(Timestamp::from_millis(5));
        assert_eq!(clock.now(), Timestamp::from_millis(5));
    }
}
