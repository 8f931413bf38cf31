//! The key record: what a store keeps about a key (never its secret), its ids and its status.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rand::rngs::OsRng;
use rand::{Rng, TryRngCore};
use serde::{Deserialize, Serialize};

use crate::credits::Credits;
use crate::hash::{Fingerprint, SecretHash};
use crate::keyspace::KeyspaceName;
use crate::time::Timestamp;
use crate::token::Alphabet;
use crate::{Environment, KeyKind, LookupKey, ScopeSet, Tier, VerifyError};

/// A key's id: `key_` and 20 base62 characters. Public: it names the key in the management API.
///
/// The text is shared: cloning an id (into a usage record or an audit event) copies no text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Arc<str>);

impl KeyId {
    /// A new random id.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub fn generate() -> Self {
        let chars = Alphabet::Base62.chars();
        let mut rng = OsRng.unwrap_err();
        let mut id = String::with_capacity(24);
        id.push_str("key_");
        for _ in 0..20 {
            id.push(char::from(chars[rng.random_range(0..chars.len())]));
        }
        Self(id.into())
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|id| Self(id.into()))
    }
}

/// The text is not a key id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key id")]
pub struct InvalidKeyId;

impl FromStr for KeyId {
    type Err = InvalidKeyId;

    /// Accepts `key_` and 1 to 60 ASCII letters or digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.strip_prefix("key_").ok_or(InvalidKeyId)?;
        if (1..=60).contains(&body.len()) && body.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.into()))
        } else {
            Err(InvalidKeyId)
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The tenant that owns a key: a site, a profile, an appspace, an account, a brand.
///
/// 1 to 128 visible ASCII characters. A key only ever acts for its own tenant. The text is
/// shared: cloning an id copies no text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// Validates a tenant id.
    ///
    /// # Errors
    ///
    /// [`InvalidTenant`] when it is empty, over 128 bytes, or has spaces or non-ASCII characters.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidTenant> {
        let id = id.into();
        if (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(id.into()))
        } else {
            Err(InvalidTenant)
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text is not a tenant id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant: expected 1 to 128 visible ASCII characters")]
pub struct InvalidTenant;

impl TryFrom<String> for TenantId {
    type Error = InvalidTenant;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0.as_ref().to_owned()
    }
}

impl Serialize for TenantId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = InvalidTenant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Where a key stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Valid.
    Active,
    /// Revoked: refused at once.
    Revoked,
    /// Past its expiry time.
    Expired,
    /// Rotated, and its grace period is over.
    GraceOver,
}

/// A stored key. It holds the hash of the token, never the token.
///
/// `Debug` shows the hash as a fingerprint only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id.
    pub id: KeyId,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// The keyspace it was minted in, whose rules it lives by.
    pub keyspace: KeyspaceName,
    /// What the store finds it by: public prefix or hash of the token.
    pub lookup: LookupKey,
    /// SHA-256 (or HMAC-SHA256) of the whole token.
    pub secret_hash: SecretHash,
    /// The non-secret head of the token (`atk_live_a1b2c3d4_`), for dashboards.
    pub display_prefix: String,
    /// Publishable or secret.
    pub kind: KeyKind,
    /// Live or test.
    pub environment: Environment,
    /// What it may do.
    pub scopes: ScopeSet,
    /// Its rate-limit plan.
    pub tier: Tier,
    /// A name given by its owner.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working on its own; `None`: never.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When it was last used (updated in batches, off the request path).
    pub last_used_at: Option<Timestamp>,
    /// How many authenticated requests it has made.
    pub request_count: u64,
    /// The id of the first key of its rotation chain: a key and its successors share it, and share
    /// one rate-limit budget.
    pub lineage: KeyId,
    /// The key it replaced, if it was made by rotation.
    pub rotated_from: Option<KeyId>,
    /// When a rotated-out key stops working.
    pub grace_until: Option<Timestamp>,
    /// Its lineage's [credits](crate::credits) as read with the key, if it has any. A snapshot:
    /// the store's count changes with every request, and [`KeyStore::spend`](crate::KeyStore::spend)
    /// is what spends it.
    pub credits: Option<Credits>,
}

impl KeyStatus {
    /// `"active"`, `"revoked"`, `"expired"` or `"grace_over"`, as it is serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::GraceOver => "grace_over",
        }
    }
}

impl ApiKey {
    /// Its status at `now`.
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|t| t <= now) {
            KeyStatus::Expired
        } else if self.grace_until.is_some_and(|t| t <= now) {
            KeyStatus::GraceOver
        } else {
            KeyStatus::Active
        }
    }

    /// Whether it is valid at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.status(now) == KeyStatus::Active
    }

    /// Checks a presented token's hash against this record, in constant time, and the key's status.
    ///
    /// # Errors
    ///
    /// [`VerifyError::Unknown`] when the hash differs, else the reason the key is not active.
    pub fn check(&self, presented: &SecretHash, now: Timestamp) -> Result<(), VerifyError> {
        if !self.secret_hash.verify(presented) {
            return Err(VerifyError::Unknown);
        }
        self.check_status(now)
    }

    /// `Ok` when the key is active at `now`, else the reason it is not.
    pub(crate) fn check_status(&self, now: Timestamp) -> Result<(), VerifyError> {
        match self.status(now) {
            KeyStatus::Active => Ok(()),
            KeyStatus::Revoked => Err(VerifyError::Revoked),
            KeyStatus::Expired => Err(VerifyError::Expired),
            KeyStatus::GraceOver => Err(VerifyError::GraceOver),
        }
    }

    /// The key's fingerprint, for logs and audit.
    pub fn fingerprint(&self) -> Fingerprint {
        self.secret_hash.fingerprint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_their_serialized_form() {
        for status in [
            KeyStatus::Active,
            KeyStatus::Revoked,
            KeyStatus::Expired,
            KeyStatus::GraceOver,
        ] {
            let json = serde_json::to_string(&status).expect("serializable");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn generated_ids_parse() {
        let id = KeyId::generate();
        assert_eq!(id.as_str().len(), 24);
        assert_eq!(id.as_str().parse::<KeyId>(), Ok(id));
    }
}
