//! Key kinds: publishable keys for client-side code, secret keys for servers.
//!
//! ```
//! use keyward_core::KeyKind;
//!
//! assert_eq!("publishable".parse::<KeyKind>().unwrap(), KeyKind::Publishable);
//! assert!(KeyKind::Secret.is_secret());
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Whether a key may be exposed to browsers and apps (publishable) or must stay on servers (secret).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// A server-side key with access to every route that its scopes allow.
    #[default]
    Secret,
    /// A client-side key, safe to expose, limited to the routes that allow publishable keys.
    Publishable,
}

impl KeyKind {
    /// `"secret"` or `"publishable"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Publishable => "publishable",
        }
    }

    /// True for [`KeyKind::Secret`].
    pub const fn is_secret(self) -> bool {
        matches!(self, Self::Secret)
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was neither `secret` nor `publishable`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown key kind: expected `secret` or `publishable`")]
pub struct UnknownKind;

impl FromStr for KeyKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "secret" => Ok(Self::Secret),
            "publishable" => Ok(Self::Publishable),
            _ => Err(UnknownKind),
        }
    }
}
