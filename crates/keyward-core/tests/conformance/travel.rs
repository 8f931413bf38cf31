//! What stores on one database promise each other, as two processes have them: a revocation, a
//! rotation and a policy change made through one reach the other within a bound.

use std::sync::Arc;
use std::time::Duration;

use keyward_core::store::KeyspaceWrite;
use keyward_core::time::{Clock, ManualClock};
use keyward_core::{Drift, KeyManager, KeyStore, KeyspaceName, NewKey, Rotation, TenantId};

use super::recorder::Recorder;

/// A revocation and a rotation made through `here` are heard by `there` within `within`, with
/// the rotated-out key's lookup; the successor is not reported. Returns what `there` heard.
pub async fn assert_key_changes_travel(
    here: Arc<dyn KeyStore>,
    there: &dyn KeyStore,
    clock: &ManualClock,
    within: Duration,
) -> Arc<Recorder> {
    let heard_there = Recorder::on(there);
    let manager = KeyManager::builder_shared(here)
        .clock(clock.clone())
        .rotation(Rotation::Immediate)
        .build()
        .expect("a valid configuration");
    let site = TenantId::new("site_a").expect("tenant");

    let revoked = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("create")
        .key;
    manager.revoke(&site, &revoked.id).await.expect("revoke");
    assert!(
        heard_there.wait_for(&revoked.id, within).await,
        "revocation not heard"
    );

    let rotated = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("create")
        .key;
    let successor = manager.rotate(&site, &rotated.id).await.expect("rotate").key;
    assert!(
        heard_there.wait_for(&rotated.id, within).await,
        "rotation not heard"
    );
    let change = heard_there
        .heard()
        .into_iter()
        .find(|c| c.key_id == rotated.id)
        .expect("heard");
    assert_eq!(change.lookup, rotated.lookup);
    assert_eq!(
        heard_there.count(&successor.id),
        0,
        "the successor did not change"
    );
    heard_there
}

/// A policy written through `here` reaches a manager declared on `there`, another store on the
/// same database (as another process has), within `within`.
pub async fn assert_a_policy_change_travels(
    here: &dyn KeyStore,
    there: Arc<dyn KeyStore>,
    clock: &ManualClock,
    within: Duration,
) {
    let follower = KeyManager::builder_shared(there)
        .clock(clock.clone())
        .keyspace("travels")
        .max_active_keys(1)
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    let mut keyspace = here
        .keyspace(&KeyspaceName::new("travels").expect("valid"))
        .await
        .expect("read")
        .expect("stored");
    keyspace.policy.max_active_keys = Some(4);
    here.save_keyspace(&keyspace, KeyspaceWrite::Replace, clock.now())
        .await
        .expect("written");
    let start = std::time::Instant::now();
    while follower.current_policy().await.expect("read").max_active_keys != Some(4) {
        assert!(start.elapsed() < within, "the policy change did not arrive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
