//! Audit events and usage counts: what the request path records, off the hot path, and
//! [`AuditQuery`], how they are read back.

mod query;

use serde::Serialize;

use crate::hash::Fingerprint;
use crate::time::Timestamp;
use crate::{KeyId, TenantId};

pub use query::AuditQuery;

/// One authenticated request, as the delivery log shows it. Never holds the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// When the request was authenticated.
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
}

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
