//! Credits: an optional usage budget of a key's lineage (a number of requests, or of units when
//! routes cost more than one), spent atomically by the store on every request, with an optional
//! periodic [`Refill`].
//!
//! A refill happens at each interval boundary counted from the last refill (the first boundary is
//! one interval after the credits were set): it raises the remaining count to the refill amount.
//! Unused credits do not accumulate past the amount, and a refill never lowers a count that a
//! top-up took above it. Boundaries missed while no request came are applied at the next spend
//! or read, as one refill.
//!
//! Credits belong to a key's lineage, as its rate-limit budget does: a successor made by rotation
//! spends from the same count as the key it replaces.
//!
//! ```
//! use std::time::Duration;
//! use keyward_core::credits::{Credits, Refill, Spend};
//! use keyward_core::time::Timestamp;
//!
//! let start = Timestamp::from_millis(0);
//! let daily = Refill::new(100, Duration::from_secs(86_400))?;
//! let credits = Credits::new(2, Some(daily), start);
//!
//! let (credits, spent) = credits.spend(2, start);
//! assert!(matches!(spent, Spend::Allowed { remaining: 0, .. }));
//! let (credits, spent) = credits.spend(1, start);
//! assert!(matches!(spent, Spend::Refused { remaining: 0, .. }));
//! // A day later the count is back at the refill amount.
//! let next_day = start.plus(Duration::from_secs(86_400));
//! assert_eq!(credits.next_refill(), Some(next_day));
//! assert_eq!(credits.at(next_day).remaining, 100);
//! # Ok::<(), keyward_core::credits::InvalidRefill>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::time::Timestamp;

/// The most credits a lineage can hold: what a signed 64-bit column keeps.
pub const MAX_CREDITS: u64 = i64::MAX as u64;

/// The longest refill interval: 100 years.
pub const MAX_REFILL_INTERVAL: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A periodic refill: every `interval`, the remaining count is raised to `amount`.
///
/// Written `<amount>/<interval>` (`1000/1day`, `50/12h`, `10000/30days`), the interval in
/// [humantime](https://docs.rs/humantime)'s notation; intervals are fixed durations, not calendar
/// months.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Refill {
    amount: u64,
    #[serde(rename = "interval_ms", serialize_with = "as_millis")]
    interval: Duration,
}

fn as_millis<S: serde::Serializer>(interval: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX))
}

/// The refill is not one keyward can keep.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRefill {
    /// The amount is zero or over [`MAX_CREDITS`].
    #[error("the refill amount must be between 1 and {MAX_CREDITS}")]
    Amount,
    /// The interval is shorter than a millisecond or longer than [`MAX_REFILL_INTERVAL`].
    #[error("the refill interval must be between 1ms and 100 years")]
    Interval,
    /// The text is not `<amount>/<interval>`.
    #[error("expected <amount>/<interval>, such as 1000/1day")]
    Syntax,
}

impl Refill {
    /// Every `interval`, raise the remaining count to `amount`.
    ///
    /// # Errors
    ///
    /// [`InvalidRefill`] for a zero amount or one over [`MAX_CREDITS`], or an interval under a
    /// millisecond or over [`MAX_REFILL_INTERVAL`]. Intervals are kept in whole milliseconds.
    pub fn new(amount: u64, interval: Duration) -> Result<Self, InvalidRefill> {
        if amount == 0 || amount > MAX_CREDITS {
            return Err(InvalidRefill::Amount);
        }
        if interval < Duration::from_millis(1) || interval > MAX_REFILL_INTERVAL {
            return Err(InvalidRefill::Interval);
        }
        let interval = Duration::from_millis(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX));
        Ok(Self { amount, interval })
    }

    /// What the count is raised to at each refill.
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// The time between refills.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The interval in milliseconds, as stores keep it.
    pub fn interval_millis(&self) -> i64 {
        i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for Refill {
    /// `1000/1day`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.amount, humantime::format_duration(self.interval))
    }
}

impl FromStr for Refill {
    type Err = InvalidRefill;

    /// `<amount>/<interval>`: `1000/1d`, `50/12h`, `100/30days`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (amount, interval) = s.split_once('/').ok_or(InvalidRefill::Syntax)?;
        let amount: u64 = amount.trim().parse().map_err(|_| InvalidRefill::Syntax)?;
        let interval = humantime::parse_duration(interval.trim()).map_err(|_| InvalidRefill::Syntax)?;
        Self::new(amount, interval)
    }
}

/// A lineage's credits: the remaining count, the refill if any, and when it was last refilled
/// (from which the next boundary is counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Credits {
    /// Credits left, as of `refilled_at` plus the spends since.
    pub remaining: u64,
    /// The periodic refill; `None`: the credits are spent once.
    pub refill: Option<Refill>,
    /// The last refill boundary (or when the credits were set).
    pub refilled_at: Timestamp,
}

impl Credits {
    /// `remaining` credits (at most [`MAX_CREDITS`]) set at `now`, refilled as `refill` says.
    pub fn new(remaining: u64, refill: Option<Refill>, now: Timestamp) -> Self {
        Self {
            remaining: remaining.min(MAX_CREDITS),
            refill,
            refilled_at: now,
        }
    }

    /// These credits as they stand at `now`: with the refill applied when a boundary has passed.
    #[must_use]
    pub fn at(self, now: Timestamp) -> Self {
        let Some(refill) = self.refill else {
            return self;
        };
        let every = refill.interval_millis();
        let elapsed = now.as_millis().saturating_sub(self.refilled_at.as_millis());
        if elapsed < every {
            return self;
        }
        Self {
            remaining: self.remaining.max(refill.amount),
            refill: self.refill,
            refilled_at: Timestamp::from_millis(self.refilled_at.as_millis() + elapsed / every * every),
        }
    }

    /// When the next refill happens; `None` without a refill.
    pub fn next_refill(&self) -> Option<Timestamp> {
        self.refill.map(|r| self.refilled_at.plus(r.interval))
    }

    /// Spends `cost` at `now` (the refill applied first): the credits afterwards and the outcome.
    /// A refused spend takes nothing.
    pub fn spend(self, cost: u64, now: Timestamp) -> (Self, Spend) {
        let mut credits = self.at(now);
        if credits.remaining >= cost {
            credits.remaining -= cost;
            (credits, Spend::allowed(&credits))
        } else {
            (credits, Spend::refused(&credits))
        }
    }

    /// Adds `amount` at `now` (the refill applied first), up to [`MAX_CREDITS`].
    #[must_use]
    pub fn add(self, amount: u64, now: Timestamp) -> Self {
        let mut credits = self.at(now);
        credits.remaining = credits.remaining.saturating_add(amount).min(MAX_CREDITS);
        credits
    }
}

/// Credits as they stand at a time, as the management API and the `keyward` CLI show them:
/// `{"remaining": 40, "refill": {"amount": 100, "interval_ms": 86400000}, "next_refill_at": "…"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CreditsView {
    /// Credits left.
    pub remaining: u64,
    /// The periodic refill, if any.
    pub refill: Option<Refill>,
    /// When the next refill comes, if there is a refill.
    pub next_refill_at: Option<Timestamp>,
}

impl Credits {
    /// These credits as they stand at `now`, for a view.
    pub fn view(self, now: Timestamp) -> CreditsView {
        let credits = self.at(now);
        CreditsView {
            remaining: credits.remaining,
            refill: credits.refill,
            next_refill_at: credits.next_refill(),
        }
    }
}

/// What [`KeyStore::spend`](crate::KeyStore::spend) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spend {
    /// The cost was taken.
    Allowed {
        /// Credits left afterwards.
        remaining: u64,
        /// When the next refill happens, if there is a refill.
        next_refill: Option<Timestamp>,
    },
    /// Too few credits were left: nothing was taken.
    Refused {
        /// Credits left (fewer than the cost).
        remaining: u64,
        /// When the next refill happens, if there is a refill: when to retry.
        next_refill: Option<Timestamp>,
    },
    /// The lineage has no credits: its use is not counted.
    Unmetered,
}

impl Spend {
    /// An allowed spend that left `credits`.
    pub fn allowed(credits: &Credits) -> Self {
        Self::Allowed {
            remaining: credits.remaining,
            next_refill: credits.next_refill(),
        }
    }

    /// A refused spend, with `credits` as they stand.
    pub fn refused(credits: &Credits) -> Self {
        Self::Refused {
            remaining: credits.remaining,
            next_refill: credits.next_refill(),
        }
    }
}

/// A change of a lineage's credits, made by
/// [`KeyStore::update_credits`](crate::KeyStore::update_credits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreditsUpdate {
    /// These credits, whatever there were (a key with none gets them).
    Set(Credits),
    /// This many more, the refill applied first (nothing for a lineage without credits).
    Add(u64),
    /// No credits any more: the lineage's use is no longer counted.
    Remove,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn at(days: u64) -> Timestamp {
        Timestamp::from_millis(0).plus(DAY * days as u32)
    }

    #[test]
    fn refills_raise_to_the_amount_once_per_boundary_and_keep_top_ups() {
        let refill = Refill::new(10, DAY).unwrap();
        let credits = Credits::new(3, Some(refill), at(0));
        assert_eq!(credits.at(at(0)).remaining, 3, "no boundary yet");
        let later = credits.at(at(3).plus(Duration::from_secs(60)));
        assert_eq!(
            later.remaining, 10,
            "three missed boundaries refill once, no accumulation"
        );
        assert_eq!(later.refilled_at, at(3), "boundaries stay aligned");
        assert_eq!(later.next_refill(), Some(at(4)));
        let topped = Credits::new(25, Some(refill), at(0)).at(at(1));
        assert_eq!(topped.remaining, 25, "a refill never lowers a top-up");
    }

    #[test]
    fn spends_take_nothing_when_refused_and_credits_without_refill_never_come_back() {
        let credits = Credits::new(2, None, at(0));
        let (credits, spend) = credits.spend(3, at(0));
        assert_eq!(
            spend,
            Spend::Refused {
                remaining: 2,
                next_refill: None
            }
        );
        let (credits, spend) = credits.spend(2, at(0));
        assert_eq!(
            spend,
            Spend::Allowed {
                remaining: 0,
                next_refill: None
            }
        );
        assert_eq!(credits.at(at(400)).remaining, 0);
        assert_eq!(credits.add(u64::MAX, at(1)).remaining, MAX_CREDITS);
    }

    #[test]
    fn refills_parse_and_print() {
        let refill: Refill = "1000/1d".parse().unwrap();
        assert_eq!(refill.amount(), 1000);
        assert_eq!(refill.interval(), DAY);
        assert_eq!(refill.to_string(), "1000/1day");
        assert_eq!(refill.to_string().parse::<Refill>(), Ok(refill));
        for (text, error) in [
            ("1000", InvalidRefill::Syntax),
            ("x/1d", InvalidRefill::Syntax),
            ("10/soon", InvalidRefill::Syntax),
            ("-1/1d", InvalidRefill::Syntax),
            ("0/1d", InvalidRefill::Amount),
            ("10/0s", InvalidRefill::Interval),
            ("10/200years", InvalidRefill::Interval),
        ] {
            assert_eq!(text.parse::<Refill>(), Err(error), "{text}");
        }
    }
}
