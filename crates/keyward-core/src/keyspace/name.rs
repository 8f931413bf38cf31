//! [`KeyspaceName`]: the name a keyspace is stored under.

use std::sync::Arc;

/// The name of a keyspace: 1 to 64 lowercase ASCII letters, digits, `_` or `-`.
///
/// ```
/// use keyward_core::KeyspaceName;
///
/// assert_eq!(KeyspaceName::default().as_str(), "default");
/// assert!("adtarget".parse::<KeyspaceName>().is_ok());
/// assert!("Ad Target".parse::<KeyspaceName>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyspaceName(Arc<str>);

/// The text is not a valid keyspace name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid keyspace name: expected 1 to 64 lowercase letters, digits, `_` or `-`")]
pub struct InvalidKeyspaceName;

impl KeyspaceName {
    /// The keyspace of keys created without naming one, and of keys stored before keyspaces.
    pub const DEFAULT: &'static str = "default";

    /// Validates a keyspace name.
    ///
    /// # Errors
    ///
    /// [`InvalidKeyspaceName`] when the name is empty, too long or has other characters.
    pub fn new(name: &str) -> Result<Self, InvalidKeyspaceName> {
        if crate::text_name::is_name(name, 64) {
            Ok(Self(name.into()))
        } else {
            Err(InvalidKeyspaceName)
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for KeyspaceName {
    /// `default`.
    fn default() -> Self {
        Self(Self::DEFAULT.into())
    }
}

crate::text_name::text_name!(KeyspaceName, InvalidKeyspaceName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for good in ["default", "adtarget", "a", "toksta-v2", "x_1", &"a".repeat(64)] {
            assert!(KeyspaceName::new(good).is_ok(), "{good:?}");
        }
        for bad in ["", "Default", "a b", "a.b", "ä", &"a".repeat(65)] {
            assert_eq!(KeyspaceName::new(bad), Err(InvalidKeyspaceName), "{bad:?}");
        }
    }
}
