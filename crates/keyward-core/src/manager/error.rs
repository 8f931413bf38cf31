//! [`ManagerError`]: why a lifecycle operation was refused.

use crate::store::StoreError;

/// Why create, revoke or rotate did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// The name is over 100 characters or has control characters.
    #[error("the key name must be at most 100 characters without control characters")]
    InvalidName,
    /// The expiry is not in the future.
    #[error("the expiry must be in the future")]
    InvalidExpiry,
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
    /// A default lifetime under one millisecond: every key would be created expired.
    #[error("a default key lifetime must be at least one millisecond")]
    ZeroLifetime,
}
