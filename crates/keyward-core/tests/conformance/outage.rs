//! [`assert_outage`]: what a store that cannot reach its database must do.

use std::time::Duration;

use keyward_core::audit::{AuditQuery, KeyUsage};
use keyward_core::store::OldKey;
use keyward_core::{CreatedKey, KeyId, KeyManager, KeyStore, StoreError, VerifyError};

use super::harness::START;

/// Every operation of a store that cannot reach its database fails as an outage, and the manager
/// reports it as such.
pub async fn assert_outage(store: &dyn KeyStore, manager: &KeyManager, created: &CreatedKey) {
    let key = &created.key;
    let now = START;
    let results = [
        ("insert", store.insert(key, None, now).await.err()),
        ("find", store.find(&key.lookup).await.err()),
        ("get", store.get(&key.tenant, &key.id).await.err()),
        ("list", store.list(&key.tenant).await.err()),
        ("revoke", store.revoke(&key.tenant, &key.id, now).await.err()),
        (
            "rotate",
            store
                .rotate(&key.tenant, &key.id, key, OldKey::Keep, now)
                .await
                .err(),
        ),
        (
            "record_usage",
            store
                .record_usage(&[KeyUsage {
                    key_id: KeyId::generate(),
                    last_used_at: now,
                    requests: 1,
                }])
                .await
                .err(),
        ),
        (
            "audit_log",
            store.audit_log(&AuditQuery::new(key.tenant.clone())).await.err(),
        ),
        ("prune_audit", store.prune_audit(now).await.err()),
    ];
    for (operation, error) in results {
        assert!(
            error.as_ref().is_some_and(StoreError::is_unavailable),
            "{operation}: {error:?}"
        );
    }
    let verify = tokio::time::timeout(Duration::from_secs(10), manager.verify(created.token.expose()))
        .await
        .expect("an outage is reported, not waited out");
    assert!(matches!(verify, Err(VerifyError::Unavailable(_))), "{verify:?}");
}
