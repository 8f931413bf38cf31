//! Audit events and usage counts: what the request path records, off the hot path, and
//! [`AuditQuery`], how they are read back.

mod query;

use serde::Serialize;

use crate::hash::Fingerprint;
use crate::time::Timestamp;
use crate::{KeyId, TenantId};

pub use query::AuditQuery;

/// One entry of a key's audit log: an authenticated request (the delivery log), or another event
/// of the key's life that [`kind`](Self::kind) names. Never holds the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// What happened.
    pub kind: AuditKind,
    /// When the request was authenticated (or the event happened).
    pub at: Timestamp,
    /// The request id (`X-Request-Id`).
    pub request_id: String,
    /// The key that made the request.
    pub key_id: KeyId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// HTTP method.
    pub method: String,
    /// Request path, without the query.
    pub path: String,
    /// Response status code.
    pub status: u16,
    /// The client's address, when known.
    pub client_ip: Option<String>,
    /// The client's `User-Agent`, when sent.
    pub user_agent: Option<String>,
    /// What else an event of another kind than [`AuditKind::Request`] records, as a JSON object
    /// (for [`AuditKind::KeyLeaked`]: `{"reporter","type","source","url","action"}`); never a
    /// secret. Left out of the serialized event when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What an [`AuditEvent`] records, stored and serialized as [`as_str`](Self::as_str) says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum AuditKind {
    /// A request the key authenticated (`request`).
    #[default]
    #[serde(rename = "request")]
    Request,
    /// The key was reported found in public, by a secret scanner (`key.leaked`); the event
    /// records the request that reported it, and its `detail` where the key was found.
    #[serde(rename = "key.leaked")]
    KeyLeaked,
}

impl AuditKind {
    /// `"request"` or `"key.leaked"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::KeyLeaked => "key.leaked",
        }
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuditKind {
    type Err = UnknownAuditKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Request, Self::KeyLeaked]
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or(UnknownAuditKind)
    }
}

/// The text is not the name of an [`AuditKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit event kind")]
pub struct UnknownAuditKind;

/// Uses of one key since the last flush: folded into `last_used_at` and `request_count`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUsage {
    /// The key.
    pub key_id: KeyId,
    /// The latest use.
    pub last_used_at: Timestamp,
    /// How many requests.
    pub requests: u64,
}
