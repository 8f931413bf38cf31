//! [`StoreError`]: why a store refused or failed an operation.

use std::error::Error;

/// Why a store operation did not happen.
///
/// Messages never hold a token or a hash.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No key with that id for that tenant.
    #[error("key not found")]
    NotFound,
    /// The tenant already has its maximum of active keys.
    #[error("the tenant already has its maximum of {limit} active keys")]
    LimitReached {
        /// The limit.
        limit: u32,
    },
    /// The key is revoked, expired, or past its grace period.
    #[error("the key is not active")]
    NotActive,
    /// Another key of the same rotation chain is still active with no end date.
    #[error("a rotation of this key is already pending: revoke the old or the new key first")]
    RotationPending,
    /// A key with the same lookup (public prefix or hash) already exists.
    #[error("a key with the same lookup already exists")]
    Duplicate,
    /// The store URL names a backend that this build does not have, or is not a valid URL for it.
    /// The text says why; it never repeats the URL, which can hold a password.
    #[error("unsupported store URL: {0}")]
    UnsupportedUrl(String),
    /// The store's schema is older than this version of keyward and was opened with
    /// [`Migrations::RequireCurrent`](super::Migrations::RequireCurrent): nothing was written.
    #[error(
        "the store's schema is at version {applied}, this keyward needs version {required}: apply the \
         migrations first (`keyward migrate`)"
    )]
    SchemaOutdated {
        /// The newest migration applied.
        applied: i64,
        /// The newest migration this version embeds.
        required: i64,
    },
    /// The store could not be reached or failed; nothing was changed.
    #[error("key store unavailable")]
    Unavailable(#[source] Box<dyn Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error as [`StoreError::Unavailable`].
    pub fn unavailable(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Unavailable(error.into())
    }

    /// Whether this is an outage rather than a refusal.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
