//! Migrations of a database an earlier keyward set up: what the SQL stores must do with it.

use std::sync::Arc;

use keyward_core::credits::Spend;
use keyward_core::store::Migrations;
use keyward_core::time::ManualClock;
use keyward_core::{KeyManager, KeyStore, NewKey, StoreError, TenantId};

use super::harness::START;

/// What takes a database of the current schema back to the one before credits (0004).
const BEFORE_CREDITS: [&str; 2] = [
    "DROP TABLE keyward_credits",
    "DELETE FROM _sqlx_migrations WHERE version >= 5",
];

/// A database set up before credits (the migrations up to 0004, with a key in it; `execute` runs
/// statements on it): a tool that requires the current schema refuses it, a store that applies
/// migrations brings it up to date, and the key keeps working and can be given credits.
pub async fn an_existing_database_migrates_to_credits(
    open: impl AsyncFn(Migrations) -> Result<Arc<dyn KeyStore>, StoreError>,
    execute: impl AsyncFn(&[&'static str]),
) {
    let clock = ManualClock::new(START);
    let site = TenantId::new("site_migrated").expect("a valid tenant id");
    let manager = |store| {
        KeyManager::builder_shared(store)
            .clock(clock.clone())
            .build()
            .expect("a valid manager")
    };
    let fresh = open(Migrations::Apply).await.expect("a new database is set up");
    let created = manager(fresh)
        .create(NewKey::new(site.clone()))
        .await
        .expect("create");
    execute(&BEFORE_CREDITS).await;

    match open(Migrations::RequireCurrent).await {
        Err(StoreError::SchemaOutdated { applied: 4, required }) => assert!(required >= 5),
        other => panic!("a database without credits is outdated: {other:?}"),
    }
    let store = open(Migrations::Apply).await.expect("the database migrates");
    let manager = manager(store.clone());
    let verified = manager
        .verify(created.token.expose())
        .await
        .expect("the key works after the migration");
    assert_eq!(verified.credits, None, "and is not counted");
    manager
        .set_credits(&site, &created.key.id, 2, None)
        .await
        .expect("credits on the migrated database");
    assert_eq!(
        store.spend(&created.key.lineage, 2, START).await.expect("spend"),
        Spend::Allowed {
            remaining: 0,
            next_refill: None
        }
    );
    assert!(
        open(Migrations::RequireCurrent).await.is_ok(),
        "the schema is current"
    );
}
