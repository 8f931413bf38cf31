//! [`KillSwitch`]: turn the whole API off at run time (503 `api_disabled`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A shared on/off switch. While off, every request (public routes included) gets 503
/// `api_disabled`. Clones share the switch.
///
/// ```
/// use keyward_tower::KillSwitch;
///
/// let switch = KillSwitch::new(true);
/// switch.disable();
/// assert!(!switch.is_enabled());
/// ```
#[derive(Clone, Debug)]
pub struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    /// A switch, on or off.
    pub fn new(enabled: bool) -> Self {
        Self(Arc::new(AtomicBool::new(enabled)))
    }

    /// A switch set from the environment variable `var` once, now: off when it is `false`, `0`,
    /// `off` or `no` (any case), on otherwise or when unset (Adtarget's
    /// `ADTARGET_PUBLIC_API_ENABLED`).
    pub fn from_env(var: &str) -> Self {
        let off = std::env::var(var)
            .map(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "false" | "0" | "off" | "no"
                )
            })
            .unwrap_or(false);
        Self::new(!off)
    }

    /// Whether the API is on.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Turns the API on.
    pub fn enable(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Turns the API off.
    pub fn disable(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}
