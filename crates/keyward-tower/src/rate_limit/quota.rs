//! [`Quota`]s and the [`RateLimits`] that map tiers to them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use keyward_core::Tier;

/// How many units a key may spend per period: `limit` units, refilled evenly over `period`
/// (GCRA), so a full budget is also the largest burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    limit: NonZeroU32,
    period: Duration,
    /// `period / limit`, divided once here rather than on every check.
    interval: Duration,
}

impl Quota {
    /// `limit` units per `period`. A zero limit or period is raised to the smallest valid value.
    pub fn new(limit: u32, period: Duration) -> Self {
        let limit = NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN);
        let period = period.max(Duration::from_millis(1));
        Self {
            limit,
            period,
            interval: period / limit.get(),
        }
    }

    /// `limit` units per minute (Atribu: 60).
    pub fn per_minute(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(60))
    }

    /// `limit` units per second.
    pub fn per_second(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(1))
    }

    /// `limit` units per hour.
    pub fn per_hour(limit: u32) -> Self {
        Self::new(limit, Duration::from_secs(3600))
    }

    /// Units per period.
    pub fn limit(&self) -> u32 {
        self.limit.get()
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Time for one unit to come back.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

/// Which [`Quota`] each tier gets; tiers not listed get the default.
///
/// ```
/// use keyward_tower::rate_limit::{Quota, RateLimits};
///
/// let limits = RateLimits::new(Quota::per_minute(60)).tier("pro", Quota::per_minute(600));
/// assert_eq!(limits.quota_for(&"pro".parse().unwrap()).limit(), 600);
/// assert_eq!(limits.quota_for(&"free".parse().unwrap()).limit(), 60);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    default: Quota,
    tiers: HashMap<Tier, Quota>,
}

impl Default for RateLimits {
    /// 60 requests per minute per key, for every tier.
    fn default() -> Self {
        Self::new(Quota::per_minute(60))
    }
}

impl RateLimits {
    /// `default` for every tier.
    pub fn new(default: Quota) -> Self {
        Self {
            default,
            tiers: HashMap::new(),
        }
    }

    /// Gives `tier` its own quota.
    ///
    /// # Panics
    ///
    /// When `tier` is not a valid tier name (a programming error in the configuration).
    #[must_use]
    pub fn tier(mut self, tier: &str, quota: Quota) -> Self {
        let tier = Tier::new(tier).unwrap_or_else(|_| panic!("invalid tier name `{tier}`"));
        self.tiers.insert(tier, quota);
        self
    }

    /// The quota of `tier`.
    pub fn quota_for(&self, tier: &Tier) -> Quota {
        self.tiers.get(tier).copied().unwrap_or(self.default)
    }

    /// The default quota.
    pub fn default_quota(&self) -> Quota {
        self.default
    }

    /// Every tier with its own quota.
    pub fn tiers(&self) -> impl Iterator<Item = (&Tier, &Quota)> {
        self.tiers.iter()
    }
}
