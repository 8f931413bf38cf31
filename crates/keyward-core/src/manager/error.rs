//! [`ManagerError`]: why a lifecycle operation was refused.

use crate::keyspace::KeyspaceName;
use crate::store::StoreError;
use crate::{Rotation, Tier};

/// Why create, revoke or rotate did not happen, or a keyspace could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The name is over 100 characters or has control characters.
    #[error("the key name must be at most 100 characters without control characters")]
    InvalidName,
    /// The expiry is not in the future.
    #[error("the expiry must be in the future")]
    InvalidExpiry,
    /// The keyspace's policy does not allow these scopes.
    #[error("the keyspace `{keyspace}` does not allow the scopes `{scopes}`")]
    ScopesNotAllowed {
        /// The keyspace.
        keyspace: KeyspaceName,
        /// The scopes asked for, space-separated.
        scopes: String,
    },
    /// The keyspace's policy does not allow this tier.
    #[error("the keyspace `{keyspace}` does not allow the tier `{tier}`")]
    TierNotAllowed {
        /// The keyspace.
        keyspace: KeyspaceName,
        /// The tier asked for.
        tier: Tier,
    },
    /// The keyspace's policy allows only its own rotation.
    #[error("the keyspace `{keyspace}` rotates keys only by {allowed}, not {asked}")]
    RotationNotAllowed {
        /// The keyspace.
        keyspace: KeyspaceName,
        /// The policy's rotation.
        allowed: Rotation,
        /// The rotation asked for.
        asked: Rotation,
    },
    /// No keyspace of that name is stored.
    #[error("no keyspace `{0}` in the store")]
    UnknownKeyspace(KeyspaceName),
    /// The store holds several keyspaces and none was named.
    #[error("the store holds several keyspaces ({}): name one", .0.join(", "))]
    KeyspaceNotNamed(Vec<String>),
    /// The policy declared in code differs from the one the store keeps.
    #[error(
        "the keyspace `{keyspace}` is stored with a different {}; declare the stored policy, or \
         declare with `Drift::Overwrite` to replace it",
        .differences.join(", ")
    )]
    PolicyMismatch {
        /// The keyspace.
        keyspace: KeyspaceName,
        /// The rules that differ (`max_active_keys`, `rotation`, …; `format` for the token format).
        differences: Vec<&'static str>,
    },
    /// The token format declared in code differs from the stored one: tokens already issued would
    /// stop parsing, so a format is never replaced.
    #[error(
        "the keyspace `{0}` is stored with another token format; a format is never replaced: use a new keyspace"
    )]
    FormatMismatch(KeyspaceName),
    /// The key's lineage has no credits to add to.
    #[error("the key has no credits: set them first")]
    NoCredits,
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a [`KeyManager`](super::KeyManager) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_active_keys` was zero: no key could ever be created.
    #[error("max_active_keys must be at least 1")]
    ZeroMaxActiveKeys,
    /// A grace period under one millisecond (the resolution of key times): use `Rotation::Immediate`.
    #[error("a grace period must be at least one millisecond; use Rotation::Immediate")]
    ZeroGrace,
    /// A default key lifetime under one millisecond: every key would be created expired.
    #[error("a default key lifetime must be at least one millisecond")]
    ZeroLifetime,
    /// The default scopes are not all among the allowed scopes.
    #[error("the default scopes must be among the allowed scopes")]
    DefaultScopesNotAllowed,
    /// The default tier is not among the allowed tiers.
    #[error("the default tier must be among the allowed tiers")]
    DefaultTierNotAllowed,
    /// The keyspace name is not valid.
    #[error(transparent)]
    KeyspaceName(#[from] crate::keyspace::InvalidKeyspaceName),
}
