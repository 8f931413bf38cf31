//! Credits: what every store must do with a lineage's usage budget. Spends are atomic (with the
//! refill applied in the same step), refusals take nothing, rotation shares the budget, and
//! setting or removing credits tells caches.

use std::sync::Arc;
use std::time::Duration;

use keyward_core::credits::{Credits, CreditsUpdate, Refill, Spend};
use keyward_core::time::Clock;
use keyward_core::{KeyId, KeyStore, ManagerError, NewKey, StoreError, TenantId};

use super::harness::{Harness, START};
use super::recorder::Recorder;

const HOUR: Duration = Duration::from_secs(3600);

fn site() -> TenantId {
    TenantId::new("site_credits").expect("a valid tenant id")
}

/// Sends `spends` spends of `cost` to `stores` (in turn) at once; how many were allowed. Every
/// refusal must report fewer credits than the cost.
pub async fn spend_concurrently(
    stores: &[Arc<dyn KeyStore>],
    lineage: &KeyId,
    spends: usize,
    cost: u64,
) -> usize {
    let now = START;
    let tasks: Vec<_> = (0..spends)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let lineage = lineage.clone();
            tokio::spawn(async move { store.spend(&lineage, cost, now).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        match task.await.expect("the task ran").expect("the store answers") {
            Spend::Allowed { .. } => allowed += 1,
            Spend::Refused { remaining, .. } => assert!(remaining < cost, "refused with {remaining} left"),
            Spend::Unmetered => panic!("the lineage has credits"),
        }
    }
    allowed
}

/// Spends take the cost while it is covered and nothing once it is not; the count survives the
/// store; a key without credits is not counted.
pub async fn credits_spend_and_refuse(h: &Harness) {
    let manager = h.manager(|b| b);
    let created = manager
        .create(NewKey::new(site()).credits(5, None))
        .await
        .expect("create");
    let lineage = &created.key.lineage;
    assert_eq!(created.key.credits, Some(Credits::new(5, None, START)));
    let store = h.store();
    let spend = |cost| store.spend(lineage, cost, h.clock().now());
    assert_eq!(
        spend(2).await.expect("spend"),
        Spend::Allowed {
            remaining: 3,
            next_refill: None
        }
    );
    assert_eq!(
        spend(4).await.expect("spend"),
        Spend::Refused {
            remaining: 3,
            next_refill: None
        },
        "a refusal takes nothing"
    );
    assert_eq!(
        spend(3).await.expect("spend"),
        Spend::Allowed {
            remaining: 0,
            next_refill: None
        }
    );
    h.clock().advance(1000 * HOUR);
    assert!(matches!(
        spend(1).await.expect("spend"),
        Spend::Refused { remaining: 0, .. }
    ));
    let stored = manager
        .get(&site(), &created.key.id)
        .await
        .expect("get")
        .expect("the key");
    assert_eq!(stored.credits.map(|c| c.remaining), Some(0), "read with the key");
    let found = store
        .find(&created.key.lookup)
        .await
        .expect("find")
        .expect("the key");
    assert_eq!(found.credits, stored.credits);
    assert_eq!(
        manager.list(&site()).await.expect("list")[0].credits,
        stored.credits
    );

    let plain = manager.create(NewKey::new(site())).await.expect("create");
    assert_eq!(plain.key.credits, None);
    assert_eq!(spend_on(store, &plain.key.lineage, h).await, Spend::Unmetered);
    let revoked = manager.revoke(&site(), &created.key.id).await.expect("revoke");
    assert_eq!(
        revoked.credits, stored.credits,
        "a revoked key is read with its credits too"
    );
}

async fn spend_on(store: &dyn KeyStore, lineage: &KeyId, h: &Harness) -> Spend {
    store.spend(lineage, 1, h.clock().now()).await.expect("spend")
}

/// A refill raises the count to its amount at each boundary counted from the last refill (missed
/// boundaries refill once), in the same step as the spend.
pub async fn credits_refill(h: &Harness) {
    let manager = h.manager(|b| b);
    let hourly = Refill::new(5, HOUR).expect("a valid refill");
    let created = manager
        .create(NewKey::new(site()).credits(2, Some(hourly)))
        .await
        .expect("create");
    let lineage = &created.key.lineage;
    let store = h.store();
    let spend = |cost| store.spend(lineage, cost, h.clock().now());
    assert!(matches!(
        spend(2).await.expect("spend"),
        Spend::Allowed { remaining: 0, .. }
    ));
    assert_eq!(
        spend(1).await.expect("spend"),
        Spend::Refused {
            remaining: 0,
            next_refill: Some(START.plus(HOUR))
        }
    );
    h.clock().advance(HOUR - Duration::from_millis(1));
    assert!(
        matches!(spend(1).await.expect("spend"), Spend::Refused { .. }),
        "not yet"
    );
    h.clock().advance(Duration::from_millis(1));
    assert_eq!(
        spend(1).await.expect("spend"),
        Spend::Allowed {
            remaining: 4,
            next_refill: Some(START.plus(2 * HOUR))
        },
        "refilled at the boundary"
    );
    h.clock().advance(3 * HOUR + Duration::from_secs(60));
    assert_eq!(
        spend(5).await.expect("spend"),
        Spend::Allowed {
            remaining: 0,
            next_refill: Some(START.plus(5 * HOUR))
        },
        "three missed boundaries refill once, to the amount, and stay aligned"
    );
    // A top-up above the amount survives the next refill.
    let topped = manager
        .add_credits(&site(), &created.key.id, 20)
        .await
        .expect("add");
    assert_eq!(topped.remaining, 20);
    h.clock().advance(HOUR);
    assert!(matches!(
        spend(1).await.expect("spend"),
        Spend::Allowed { remaining: 19, .. }
    ));
}

/// Set, add and remove; rotation shares the budget; other tenants' keys are not found; setting
/// and removing publish a change of every key of the lineage.
pub async fn credits_updates(h: &Harness) {
    let manager = h.manager(|b| b);
    let created = manager.create(NewKey::new(site())).await.expect("create");
    let id = &created.key.id;
    assert!(matches!(
        manager.add_credits(&site(), id, 5).await,
        Err(ManagerError::NoCredits)
    ));
    let successor = manager.rotate(&site(), id).await.expect("rotate");
    let recorder = Recorder::on(h.store());
    let credits = manager.set_credits(&site(), id, 3, None).await.expect("set");
    assert_eq!(credits, Credits::new(3, None, h.clock().now()));
    assert!(
        recorder.wait_for(id, Duration::from_secs(1)).await
            && recorder.wait_for(&successor.key.id, Duration::from_secs(1)).await,
        "both keys of the lineage are announced"
    );

    // The successor spends from the lineage's credits.
    let store = h.store();
    assert!(matches!(
        store
            .spend(&successor.key.lineage, 2, h.clock().now())
            .await
            .expect("spend"),
        Spend::Allowed { remaining: 1, .. }
    ));
    let old = manager.get(&site(), id).await.expect("get").expect("the key");
    assert_eq!(old.credits.map(|c| c.remaining), Some(1));
    let added = manager
        .add_credits(&site(), &successor.key.id, 10)
        .await
        .expect("add");
    assert_eq!(added.remaining, 11);

    let other = TenantId::new("site_other").expect("tenant");
    assert!(matches!(
        manager.set_credits(&other, id, 100, None).await,
        Err(ManagerError::Store(StoreError::NotFound))
    ));
    assert!(matches!(
        manager.add_credits(&other, id, 100).await,
        Err(ManagerError::Store(StoreError::NotFound))
    ));

    let before = recorder.count(&successor.key.id);
    manager.remove_credits(&site(), id).await.expect("remove");
    assert_eq!(
        store
            .spend(&created.key.lineage, 1, h.clock().now())
            .await
            .expect("spend"),
        Spend::Unmetered
    );
    assert!(
        recorder.count(&successor.key.id) > before,
        "removing credits is announced"
    );
    assert_eq!(
        store
            .update_credits(&created.key.lineage, CreditsUpdate::Add(1), h.clock().now())
            .await
            .expect("add"),
        None
    );
    let gone = manager
        .get(&site(), &successor.key.id)
        .await
        .expect("get")
        .expect("the key");
    assert_eq!(gone.credits, None);
}

/// 200 concurrent spends on a budget of 40 allow exactly 40.
pub async fn credits_under_concurrency(h: &Harness) {
    const BUDGET: u64 = 40;
    let manager = h.manager(|b| b);
    let created = manager
        .create(NewKey::new(site()).credits(BUDGET, Some(Refill::new(BUDGET, HOUR).expect("refill"))))
        .await
        .expect("create");
    let allowed = spend_concurrently(&[h.shared()], &created.key.lineage, 200, 1).await;
    assert_eq!(allowed as u64, BUDGET);
    let key = manager
        .get(&site(), &created.key.id)
        .await
        .expect("get")
        .expect("the key");
    assert_eq!(key.credits.map(|c| c.remaining), Some(0));
}
