//! Tiers: the name of a key's rate-limit plan (`default`, `pro`, …), mapped to a quota by the layer.
//!
//! ```
//! use keyward_core::Tier;
//!
//! assert_eq!(Tier::default().as_str(), "default");
//! assert!("pro".parse::<Tier>().is_ok());
//! assert!("Not A Tier".parse::<Tier>().is_err());
//! ```

use std::sync::Arc;

/// A tier name: 1 to 32 lowercase ASCII letters, digits, `_` or `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tier(Arc<str>);

/// The text is not a valid tier name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tier: expected 1 to 32 lowercase letters, digits, `_` or `-`")]
pub struct InvalidTier;

impl Tier {
    /// Validates a tier name.
    ///
    /// # Errors
    ///
    /// [`InvalidTier`] when the name is empty, too long or has other characters.
    pub fn new(name: &str) -> Result<Self, InvalidTier> {
        if crate::text_name::is_name(name, 32) {
            Ok(Self(name.into()))
        } else {
            Err(InvalidTier)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Tier {
    /// `default`.
    fn default() -> Self {
        Self("default".into())
    }
}

crate::text_name::text_name!(Tier, InvalidTier);
