//! The lifecycle rules a [`KeyManager`](super::KeyManager) applies.

use std::time::Duration;

use crate::time::Timestamp;
use crate::{ScopeSet, Tier};

/// How [`KeyManager::rotate`](super::KeyManager::rotate) treats the old key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Both keys work for this long, then the old one stops (Atribu: 48 hours).
    Grace(Duration),
    /// The old key is revoked at once (Toksta).
    Immediate,
    /// The successor is created and the old key stays valid until it is revoked by hand
    /// (Trcker, Adtarget): migrate first, then revoke.
    TwoStep,
}

/// When a new key expires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// The manager's default lifetime (none unless configured).
    #[default]
    Default,
    /// Never (Adtarget).
    Never,
    /// This long after creation.
    In(Duration),
    /// At this time.
    At(Timestamp),
}

/// The rules of a key's life: defaults, limits, rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyPolicy {
    /// Scopes given to keys created without any (unrestricted unless set).
    pub default_scopes: ScopeSet,
    /// The tier given to keys created without one.
    pub default_tier: Tier,
    /// Lifetime of keys created with [`Expiry::Default`]; `None`: they never expire.
    pub default_lifetime: Option<Duration>,
    /// Most active keys a tenant may hold (a key and its pending successor count once).
    pub max_active_keys: Option<u32>,
    /// What rotation does.
    pub rotation: Rotation,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            default_scopes: ScopeSet::unrestricted(),
            default_tier: Tier::default(),
            default_lifetime: None,
            max_active_keys: None,
            rotation: Rotation::Grace(Duration::from_secs(48 * 3600)),
        }
    }
}
