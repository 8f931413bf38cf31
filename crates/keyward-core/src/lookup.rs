//! [`LookupKey`]: how a store finds the record for a token.
//!
//! Tokens with a public prefix are found by that prefix and their hash is then compared in constant
//! time; tokens without one (Toksta's, Trcker's) are found by the hash of the whole token.
//!
//! ```
//! use keyward_core::LookupKey;
//!
//! let key: LookupKey = "p:a1b2c3d4".parse().unwrap();
//! assert_eq!(key.to_string(), "p:a1b2c3d4");
//! ```

use std::fmt;
use std::str::FromStr;

use crate::hash::SecretHash;

/// The longest public prefix, in bytes; token formats refuse a longer one when built, so every
/// well-formed token's prefix fits a [`PublicPrefix`].
pub(crate) const MAX_PREFIX: usize = 32;

/// A token's public prefix, held inline (at most 32 bytes), so building a lookup key allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicPrefix {
    len: u8,
    bytes: [u8; MAX_PREFIX],
}

impl PublicPrefix {
    /// The prefix, or `None` when it is empty, over 32 bytes, or not ASCII alphanumeric.
    pub fn new(prefix: &str) -> Option<Self> {
        if prefix.is_empty()
            || prefix.len() > MAX_PREFIX
            || !prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let mut bytes = [0u8; MAX_PREFIX];
        bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
        Some(Self {
            len: prefix.len() as u8,
            bytes,
        })
    }

    /// The prefix text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("checked ASCII in new")
    }
}

impl std::hash::Hash for PublicPrefix {
    /// Hashes the prefix's characters only, not the unused rest of the buffer.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.bytes[..usize::from(self.len)]);
    }
}

impl fmt::Debug for PublicPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a store indexes a key by: its public prefix, or the hash of the whole token.
///
/// The text form (`p:<prefix>` or `h:<64 hex>`) is what SQL stores keep in their unique `lookup`
/// column and what change notifications carry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LookupKey {
    /// By public prefix.
    Prefix(PublicPrefix),
    /// By hash of the whole token.
    Hash(SecretHash),
}

impl fmt::Display for LookupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Prefix(prefix) => write!(f, "p:{}", prefix.as_str()),
            Self::Hash(hash) => write!(f, "h:{}", hash.to_hex()),
        }
    }
}

/// The text is not a lookup key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a lookup key: expected `p:<prefix>` or `h:<64 hex>`")]
pub struct InvalidLookupKey;

impl FromStr for LookupKey {
    type Err = InvalidLookupKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(prefix) = s.strip_prefix("p:") {
            PublicPrefix::new(prefix)
                .map(Self::Prefix)
                .ok_or(InvalidLookupKey)
        } else if let Some(hex) = s.strip_prefix("h:") {
            SecretHash::from_hex(hex)
                .map(Self::Hash)
                .map_err(|_| InvalidLookupKey)
        } else {
            Err(InvalidLookupKey)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hasher;

    #[test]
    fn text_round_trip() {
        let by_hash = LookupKey::Hash(Hasher::sha256().hash("x"));
        assert_eq!(by_hash.to_string().parse::<LookupKey>().unwrap(), by_hash);
        for bad in [
            "",
            "p:",
            "x:abc",
            "h:00",
            "p:has space",
            &format!("p:{}", "a".repeat(33)),
        ] {
            assert!(bad.parse::<LookupKey>().is_err(), "{bad}");
        }
    }
}
