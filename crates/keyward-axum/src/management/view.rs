//! What the management API answers: keys as clients see them (never the secret or its hash), the
//! token once, usage.

use keyward_core::credits::CreditsView;
use keyward_core::time::Timestamp;
use keyward_core::{ApiKey, Environment, KeyId, KeyKind, KeyStatus, ScopeSet, Tier};
use serde::Serialize;

/// A key as the API shows it: its record without the hash or the lookup.
#[derive(Debug, Serialize)]
pub(crate) struct KeyView<'a> {
    pub(crate) id: &'a KeyId,
    pub(crate) name: &'a str,
    pub(crate) display_prefix: &'a str,
    pub(crate) kind: KeyKind,
    pub(crate) environment: Environment,
    pub(crate) scopes: &'a ScopeSet,
    pub(crate) tier: &'a Tier,
    pub(crate) created_at: Timestamp,
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) revoked_at: Option<Timestamp>,
    pub(crate) last_used_at: Option<Timestamp>,
    pub(crate) request_count: u64,
    pub(crate) status: KeyStatus,
    pub(crate) lineage: &'a KeyId,
    pub(crate) rotated_from: Option<&'a KeyId>,
    pub(crate) grace_until: Option<Timestamp>,
    pub(crate) credits: Option<CreditsView>,
}

impl<'a> KeyView<'a> {
    pub(crate) fn new(key: &'a ApiKey, now: Timestamp) -> Self {
        Self {
            id: &key.id,
            name: &key.name,
            display_prefix: &key.display_prefix,
            kind: key.kind,
            environment: key.environment,
            scopes: &key.scopes,
            tier: &key.tier,
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
            request_count: key.request_count,
            status: key.status(now),
            lineage: &key.lineage,
            rotated_from: key.rotated_from.as_ref(),
            grace_until: key.grace_until,
            credits: key.credits.map(|c| c.view(now)),
        }
    }
}

/// A list: `{"data": [...]}`.
#[derive(Debug, Serialize)]
pub(crate) struct List<T> {
    pub(crate) data: Vec<T>,
}

/// A created or rotated-in key: the token, shown this once, and the key.
#[derive(Debug, Serialize)]
pub(crate) struct Created<'a> {
    pub(crate) token: &'a str,
    pub(crate) key: KeyView<'a>,
}

/// One key's use.
#[derive(Debug, Serialize)]
pub(crate) struct KeyUsageView<'a> {
    id: &'a KeyId,
    name: &'a str,
    display_prefix: &'a str,
    status: KeyStatus,
    last_used_at: Option<Timestamp>,
    request_count: u64,
    credits: Option<CreditsView>,
}

impl<'a> KeyUsageView<'a> {
    pub(crate) fn new(key: &'a ApiKey, now: Timestamp) -> Self {
        Self {
            id: &key.id,
            name: &key.name,
            display_prefix: &key.display_prefix,
            status: key.status(now),
            last_used_at: key.last_used_at,
            request_count: key.request_count,
            credits: key.credits.map(|c| c.view(now)),
        }
    }
}

/// The tenant's use: per key, and in all.
#[derive(Debug, Serialize)]
pub(crate) struct Usage<'a> {
    pub(crate) data: Vec<KeyUsageView<'a>>,
    pub(crate) total_requests: u64,
}
