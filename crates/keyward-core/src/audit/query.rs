//! [`AuditQuery`]: which of a tenant's audit events to read, and how many.

use crate::audit::AuditEvent;
use crate::time::Timestamp;
use crate::{KeyId, TenantId};

/// Which audit events [`KeyStore::audit_log`](crate::KeyStore::audit_log) returns: a tenant's
/// events, optionally only those of one key, in a time window and under a path prefix, newest
/// first and at most [`get_limit`](Self::get_limit) of them.
///
/// Events are ordered by time, latest first; events of the same time in the order they were
/// appended, latest first.
///
/// ```
/// use keyward_core::audit::AuditQuery;
/// use keyward_core::time::Timestamp;
/// use keyward_core::TenantId;
///
/// let since: Timestamp = "2026-12-01T00:00:00Z".parse()?;
/// let query = AuditQuery::new(TenantId::new("brand_7")?)
///     .since(since)
///     .path_prefix("/api/")
///     .limit(20);
/// assert_eq!(query.get_tenant().as_str(), "brand_7");
/// assert_eq!(query.get_since(), Some(since));
/// assert_eq!(query.get_until(), None);
/// assert_eq!(query.get_path_prefix(), Some("/api/"));
/// assert_eq!(query.get_limit(), 20);
///
/// // No more than `MAX_LIMIT` events are read at once.
/// let query = query.limit(usize::MAX);
/// assert_eq!(query.get_limit(), AuditQuery::MAX_LIMIT);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    tenant: TenantId,
    key: Option<KeyId>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    path_prefix: Option<String>,
    limit: usize,
}

impl AuditQuery {
    /// Events returned when no [`limit`](Self::limit) is set.
    pub const DEFAULT_LIMIT: usize = 100;
    /// The most events one query returns.
    pub const MAX_LIMIT: usize = 10_000;

    /// The latest [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) events of `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            key: None,
            since: None,
            until: None,
            path_prefix: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// Only the events of the key `id`.
    #[must_use]
    pub fn key(mut self, id: KeyId) -> Self {
        self.key = Some(id);
        self
    }

    /// Only the events at `at` or later.
    #[must_use]
    pub fn since(mut self, at: Timestamp) -> Self {
        self.since = Some(at);
        self
    }

    /// Only the events before `at` (not at `at` itself).
    #[must_use]
    pub fn until(mut self, at: Timestamp) -> Self {
        self.until = Some(at);
        self
    }

    /// Only the events whose path starts with `prefix`, taken literally: `%`, `_` and `\` are
    /// characters like any other, and case matters.
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// At most `limit` events, capped at [`MAX_LIMIT`](Self::MAX_LIMIT); zero asks for none.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.min(Self::MAX_LIMIT);
        self
    }

    /// The tenant whose events are read.
    pub fn get_tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The key whose events are read, if only one key's.
    pub fn get_key(&self) -> Option<&KeyId> {
        self.key.as_ref()
    }

    /// The earliest time read (inclusive), if any.
    pub fn get_since(&self) -> Option<Timestamp> {
        self.since
    }

    /// The time before which events are read (exclusive), if any.
    pub fn get_until(&self) -> Option<Timestamp> {
        self.until
    }

    /// The prefix every path read starts with, if any.
    pub fn get_path_prefix(&self) -> Option<&str> {
        self.path_prefix.as_deref()
    }

    /// The most events read.
    pub fn get_limit(&self) -> usize {
        self.limit
    }

    /// Whether `event` passes every filter (the limit aside).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        event.tenant == self.tenant
            && self.key.as_ref().is_none_or(|key| &event.key_id == key)
            && self.since.is_none_or(|since| event.at >= since)
            && self.until.is_none_or(|until| event.at < until)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|prefix| event.path.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditKind;
    use crate::hash::Hasher;

    fn event(tenant: &str, key: &KeyId, at: i64, path: &str) -> AuditEvent {
        AuditEvent {
            at: Timestamp::from_millis(at),
            request_id: "req_1".into(),
            key_id: key.clone(),
            tenant: TenantId::new(tenant).expect("a valid tenant"),
            fingerprint: Hasher::sha256().hash("k").fingerprint(),
            method: "GET".into(),
            path: path.into(),
            status: 200,
            client_ip: None,
            user_agent: None,
            kind: AuditKind::Request,
            detail: None,
        }
    }

    #[test]
    fn every_filter_applies() {
        let (key, other) = (KeyId::generate(), KeyId::generate());
        let query = AuditQuery::new(TenantId::new("site_1").expect("a valid tenant"))
            .key(key.clone())
            .since(Timestamp::from_millis(10))
            .until(Timestamp::from_millis(20))
            .path_prefix("/api/100%_");
        assert!(query.matches(&event("site_1", &key, 10, "/api/100%_/x")));
        assert!(query.matches(&event("site_1", &key, 19, "/api/100%_")));
        let misses = [
            ("another tenant", event("site_2", &key, 15, "/api/100%_")),
            ("another key", event("site_1", &other, 15, "/api/100%_")),
            ("before since", event("site_1", &key, 9, "/api/100%_")),
            ("at until", event("site_1", &key, 20, "/api/100%_")),
            ("`%` is literal", event("site_1", &key, 15, "/api/1000_")),
            ("`_` is literal", event("site_1", &key, 15, "/api/100%x")),
            ("case matters", event("site_1", &key, 15, "/API/100%_")),
        ];
        for (what, event) in misses {
            assert!(!query.matches(&event), "{what}");
        }
    }

    #[test]
    fn no_filter_but_the_tenant() {
        let query = AuditQuery::new(TenantId::new("site_1").expect("a valid tenant"));
        assert_eq!(query.get_limit(), AuditQuery::DEFAULT_LIMIT);
        assert_eq!(query.get_key(), None);
        assert!(query.matches(&event("site_1", &KeyId::generate(), 0, "/")));
        assert_eq!(query.limit(0).get_limit(), 0);
    }
}
