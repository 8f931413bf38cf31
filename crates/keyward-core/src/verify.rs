//! [`VerifyError`]: why a presented token was refused, and [`Presented`]: a token reduced to what
//! a lookup needs.

use crate::hash::SecretHash;
use crate::store::StoreError;
use crate::token::TokenError;
use crate::{KeyKind, LookupKey};

/// A well-formed token, hashed: what a cache or a store is asked about. Holds no secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presented {
    /// How the key is indexed.
    pub lookup: LookupKey,
    /// The hash of the whole token, to compare with the record's in constant time.
    pub hash: SecretHash,
    /// The key kind written in the token, for formats with a kind segment.
    pub kind: Option<KeyKind>,
}

/// Why a token did not authenticate.
///
/// Clients should see one answer for all of the refusals (an unknown key and a revoked one look
/// alike from outside); [`reason`](Self::reason) tells the server log which it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a token of the configured format; no store was asked.
    #[error("malformed token: {0}")]
    Malformed(#[from] TokenError),
    /// No such key, or the secret does not match.
    #[error("unknown key")]
    Unknown,
    /// The key was revoked.
    #[error("key revoked")]
    Revoked,
    /// The key expired.
    #[error("key expired")]
    Expired,
    /// The key was rotated and its grace period is over.
    #[error("key rotated and its grace period is over")]
    GraceOver,
    /// The store could not be asked.
    #[error("key store unavailable")]
    Unavailable(#[source] StoreError),
}

impl VerifyError {
    /// A stable one-word reason for logs: `malformed`, `unknown`, `revoked`, `expired`,
    /// `grace_over` or `store_unavailable`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Unknown => "unknown",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::GraceOver => "grace_over",
            Self::Unavailable(_) => "store_unavailable",
        }
    }
}
