//! The lifecycle rules a [`KeyManager`](super::KeyManager) applies.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::time::Timestamp;
use crate::{ScopeSet, Tier};

/// Key times are whole milliseconds: a shorter duration adds nothing to a timestamp.
pub(super) const MILLISECOND: Duration = Duration::from_millis(1);

/// How [`KeyManager::rotate`](super::KeyManager::rotate) treats the old key.
///
/// Stored in a keyspace as `{"mode":"grace","grace_ms":172800000}`, `{"mode":"immediate"}` or
/// `{"mode":"two_step"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Rotation {
    /// Both keys work for this long, then the old one stops (Atribu: 48 hours).
    Grace(#[serde(with = "grace_millis")] Duration),
    /// The old key is revoked at once (Toksta).
    Immediate,
    /// The successor is created and the old key stays valid until it is revoked by hand
    /// (Trcker, Adtarget): migrate first, then revoke.
    TwoStep,
}

impl std::fmt::Display for Rotation {
    /// `grace 2days`, `immediate` or `two-step`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Grace(grace) => write!(f, "grace {}", humantime::format_duration(*grace)),
            Self::Immediate => f.write_str("immediate"),
            Self::TwoStep => f.write_str("two-step"),
        }
    }
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

/// The rules of a key's life: defaults, limits, rotation. A keyspace stores it, so that every
/// process opened on the store applies the same rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KeyPolicy {
    /// Scopes given to keys created without any (unrestricted unless set).
    pub default_scopes: ScopeSet,
    /// The scopes a key may be given; `None`: any.
    pub allowed_scopes: Option<ScopeSet>,
    /// The tier given to keys created without one.
    pub default_tier: Tier,
    /// The tiers a key may be given; `None`: any.
    pub tiers: Option<Vec<Tier>>,
    /// Lifetime of keys created with [`Expiry::Default`]; `None`: they never expire.
    #[serde(with = "optional_millis", rename = "default_lifetime_ms")]
    pub default_lifetime: Option<Duration>,
    /// Most active keys a tenant may hold (a key and its pending successor count once).
    pub max_active_keys: Option<u32>,
    /// What rotation does.
    pub rotation: Rotation,
    /// Whether [`rotation`](Self::rotation) is the only rotation allowed: then
    /// [`KeyManager::rotate_with`](super::KeyManager::rotate_with) (and the CLI's and the
    /// management API's overrides) refuse any other.
    pub rotation_locked: bool,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            default_scopes: ScopeSet::unrestricted(),
            allowed_scopes: None,
            default_tier: Tier::default(),
            tiers: None,
            default_lifetime: None,
            max_active_keys: None,
            rotation: Rotation::Grace(Duration::from_secs(48 * 3600)),
            rotation_locked: false,
        }
    }
}

impl KeyPolicy {
    /// Checks that the rules can be applied.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero key limit, a grace period or default lifetime under one
    /// millisecond, default scopes outside the allowed ones, or a default tier outside the tiers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_active_keys == Some(0) {
            return Err(ConfigError::ZeroMaxActiveKeys);
        }
        if matches!(self.rotation, Rotation::Grace(grace) if grace < MILLISECOND) {
            return Err(ConfigError::ZeroGrace);
        }
        if self.default_lifetime.is_some_and(|d| d < MILLISECOND) {
            return Err(ConfigError::ZeroLifetime);
        }
        if !self.scopes_allowed(&self.default_scopes) {
            return Err(ConfigError::DefaultScopesNotAllowed);
        }
        if !self.tier_allowed(&self.default_tier) {
            return Err(ConfigError::DefaultTierNotAllowed);
        }
        Ok(())
    }

    /// Whether a key may hold `scopes`.
    pub fn scopes_allowed(&self, scopes: &ScopeSet) -> bool {
        self.allowed_scopes
            .as_ref()
            .is_none_or(|allowed| allowed.covers(scopes))
    }

    /// Whether a key may be on `tier`.
    pub fn tier_allowed(&self, tier: &Tier) -> bool {
        self.tiers.as_ref().is_none_or(|tiers| tiers.contains(tier))
    }

    /// Whether a rotation may be done as `rotation`.
    pub fn rotation_allowed(&self, rotation: Rotation) -> bool {
        !self.rotation_locked || rotation == self.rotation
    }

    /// The names of the rules in which `self` and `other` differ, in declaration order.
    pub fn differences(&self, other: &KeyPolicy) -> Vec<&'static str> {
        let rules = [
            ("default_scopes", self.default_scopes == other.default_scopes),
            ("allowed_scopes", self.allowed_scopes == other.allowed_scopes),
            ("default_tier", self.default_tier == other.default_tier),
            ("tiers", self.tiers == other.tiers),
            (
                "default_lifetime",
                self.default_lifetime == other.default_lifetime,
            ),
            ("max_active_keys", self.max_active_keys == other.max_active_keys),
            ("rotation", self.rotation == other.rotation),
            ("rotation_locked", self.rotation_locked == other.rotation_locked),
        ];
        rules
            .into_iter()
            .filter(|(_, same)| !same)
            .map(|(name, _)| name)
            .collect()
    }
}

/// A grace period as whole milliseconds (`grace_ms`), a map next to the rotation's `mode` tag.
mod grace_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Grace {
        grace_ms: u64,
    }

    pub(super) fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let grace_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Grace { grace_ms }.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Grace::deserialize(deserializer).map(|grace| Duration::from_millis(grace.grace_ms))
    }
}

/// An optional duration as whole milliseconds.
mod optional_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => {
                serializer.serialize_some(&u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
            }
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_through_json() {
        let policies = [
            KeyPolicy::default(),
            KeyPolicy {
                default_scopes: "analytics:read".parse().expect("valid"),
                allowed_scopes: Some("analytics:* customers:read".parse().expect("valid")),
                tiers: Some(vec![Tier::default(), "pro".parse().expect("valid")]),
                default_lifetime: Some(Duration::from_secs(90 * 86_400)),
                max_active_keys: Some(5),
                rotation: Rotation::Immediate,
                rotation_locked: true,
                ..KeyPolicy::default()
            },
            KeyPolicy {
                rotation: Rotation::TwoStep,
                ..KeyPolicy::default()
            },
        ];
        for policy in policies {
            let json = serde_json::to_string(&policy).expect("serializable");
            let back: KeyPolicy = serde_json::from_str(&json).expect("parses back");
            assert_eq!(back, policy, "{json}");
        }
        let json = serde_json::to_string(&KeyPolicy::default()).expect("serializable");
        assert!(
            json.contains(r#""rotation":{"mode":"grace","grace_ms":172800000}"#),
            "{json}"
        );
    }

    #[test]
    fn rotations_read_as_the_cli_writes_them() {
        assert_eq!(
            Rotation::Grace(Duration::from_secs(48 * 3600)).to_string(),
            "grace 2days"
        );
        assert_eq!(Rotation::Immediate.to_string(), "immediate");
        assert_eq!(Rotation::TwoStep.to_string(), "two-step");
    }

    #[test]
    fn differences_name_the_rules() {
        let base = KeyPolicy::default();
        assert!(base.differences(&base).is_empty());
        let other = KeyPolicy {
            max_active_keys: Some(5),
            rotation: Rotation::TwoStep,
            ..KeyPolicy::default()
        };
        assert_eq!(base.differences(&other), ["max_active_keys", "rotation"]);
    }

    #[test]
    fn validation_checks_defaults_against_the_allowed() {
        let narrow = KeyPolicy {
            allowed_scopes: Some("analytics:read".parse().expect("valid")),
            ..KeyPolicy::default()
        };
        assert_eq!(narrow.validate(), Err(ConfigError::DefaultScopesNotAllowed));
        let no_default_tier = KeyPolicy {
            tiers: Some(vec!["pro".parse().expect("valid")]),
            ..KeyPolicy::default()
        };
        assert_eq!(
            no_default_tier.validate(),
            Err(ConfigError::DefaultTierNotAllowed)
        );
        let locked = KeyPolicy {
            rotation: Rotation::Immediate,
            rotation_locked: true,
            ..KeyPolicy::default()
        };
        assert!(locked.rotation_allowed(Rotation::Immediate));
        assert!(!locked.rotation_allowed(Rotation::TwoStep));
        assert!(KeyPolicy::default().rotation_allowed(Rotation::TwoStep));
    }
}
