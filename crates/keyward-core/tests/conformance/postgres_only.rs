//! What only the PostgreSQL store promises: changes reach every store on the database through
//! `NOTIFY` (also after the listening connection drops), the limit holds across pools, URLs open
//! it, and an unreachable or closed database is an outage.

use std::sync::Arc;
use std::time::Duration;

use keyward_core::store::PostgresStore;
use keyward_core::time::ManualClock;
use keyward_core::{KeyManager, KeyStore, ManagerError, NewKey, Rotation, StoreError, TenantId};
use sqlx::postgres::PgPoolOptions;

use super::credits::spend_concurrently;
use super::harness::{START, pg};
use super::outage::assert_outage;
use super::recorder::Recorder;

const NOTIFY_WITHIN: Duration = Duration::from_secs(1);

fn manager(store: Arc<dyn KeyStore>, clock: &ManualClock) -> KeyManager {
    KeyManager::builder_shared(store)
        .clock(clock.clone())
        .max_active_keys(5)
        .rotation(Rotation::Immediate)
        .build()
        .expect("a valid configuration")
}

async fn store(schema: &pg::Schema, role: &str) -> Arc<PostgresStore> {
    Arc::new(
        PostgresStore::connect_with(schema.options(role))
            .await
            .expect("the PostgreSQL store connects"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_another_store_within_a_second() {
    let schema = pg::Schema::create().await;
    let clock = ManualClock::new(START);
    let (here, there) = (store(&schema, "here").await, store(&schema, "there").await);
    super::travel::assert_key_changes_travel(here.clone(), &*there, &clock, NOTIFY_WITHIN).await;
    here.close().await;
    there.close().await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_its_connection_drops() {
    let schema = pg::Schema::create().await;
    let clock = ManualClock::new(START);
    let (here, there) = (store(&schema, "here").await, store(&schema, "there").await);
    let heard_there = Recorder::on(&*there);
    let manager = manager(here.clone(), &clock);
    let site = TenantId::new("site_a").expect("tenant");

    let old_pids = listening_pids(&schema, "there").await;
    let [old_pid] = old_pids[..] else {
        panic!("one listening connection, found {old_pids:?}")
    };
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(old_pid)
        .fetch_one(schema.admin())
        .await
        .expect("terminate");
    assert!(terminated);
    assert!(
        eventually(|| async {
            listening_pids(&schema, "there")
                .await
                .iter()
                .any(|&pid| pid != old_pid)
        })
        .await,
        "the listener did not reconnect"
    );
    // Notifications sent while it was away are lost: its caches were told to forget.
    assert!(
        eventually(|| async { heard_there.resyncs() > 0 }).await,
        "no resync after the connection dropped"
    );

    let revoked = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("create")
        .key;
    manager.revoke(&site, &revoked.id).await.expect("revoke");
    assert!(
        heard_there.wait_for(&revoked.id, NOTIFY_WITHIN).await,
        "revocation not heard after reconnecting"
    );

    drop(manager);
    here.close().await;
    there.close().await;
    schema.drop().await;
}

/// The pids of the connections of a store made with `schema.options(role)` that are listening.
async fn listening_pids(schema: &pg::Schema, role: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(schema.application_name(role))
    .fetch_all(schema.admin())
    .await
    .expect("pg_stat_activity")
}

/// Polls `condition` every 50 ms for up to 10 s; whether it came true.
async fn eventually<F: Future<Output = bool>>(mut condition: impl FnMut() -> F) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_stops_its_listener() {
    let schema = pg::Schema::create().await;
    let store = store(&schema, "dropped").await;
    assert_eq!(listening_pids(&schema, "dropped").await.len(), 1);
    drop(store);
    assert!(
        eventually(|| async { listening_pids(&schema, "dropped").await.is_empty() }).await,
        "the listening connection outlived its store"
    );
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_are_shared_by_two_pools() {
    let schema = pg::Schema::create().await;
    let clock = ManualClock::new(START);
    let stores = [store(&schema, "one").await, store(&schema, "two").await];
    let shared: Vec<Arc<dyn KeyStore>> = stores.iter().map(|s| s.clone() as Arc<dyn KeyStore>).collect();
    let created = manager(stores[0].clone(), &clock)
        .create(NewKey::new(TenantId::new("site_a").expect("tenant")).credits(30, None))
        .await
        .expect("create");
    let allowed = spend_concurrently(&shared, &created.key.lineage, 120, 1).await;
    assert_eq!(allowed, 30);
    drop(shared);
    for store in stores {
        store.close().await;
    }
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_database_migrates_to_credits() {
    let schema = pg::Schema::create().await;
    let url = schema.url();
    let open = async |migrations| {
        let store = PostgresStore::open_with(&url, migrations).await?;
        Ok(Arc::new(store) as Arc<dyn KeyStore>)
    };
    let execute = async |statements: &[&'static str]| {
        let options = schema.options("downgrade");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("the schema opens");
        for &statement in statements {
            sqlx::query(statement).execute(&pool).await.expect(statement);
        }
        pool.close().await;
    };
    super::migration::an_existing_database_migrates_to_credits(open, execute).await;
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_across_two_stores() {
    let schema = pg::Schema::create().await;
    let clock = ManualClock::new(START);
    let stores = [store(&schema, "one").await, store(&schema, "two").await];
    let managers = [
        manager(stores[0].clone(), &clock),
        manager(stores[1].clone(), &clock),
    ];
    let site = TenantId::new("site_busy").expect("tenant");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let manager = managers[i % 2].clone();
            let new = NewKey::new(site.clone());
            tokio::spawn(async move { manager.create(new).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => created += 1,
            Err(ManagerError::Store(StoreError::LimitReached { limit: 5 })) => {}
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(managers[1].list(&site).await.expect("list").len(), 5);

    drop(managers);
    for store in stores {
        store.close().await;
    }
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_opens_the_store() {
    // The public schema: tenants unique to this run keep it apart from other runs.
    let store = keyward_core::store::open(&pg::url()).await.expect("open");
    let manager = KeyManager::builder_shared(store).build().expect("manager");
    let site = TenantId::new(format!("open_{:016x}", rand::random::<u64>())).expect("tenant");
    let created = manager.create(NewKey::new(site.clone())).await.expect("create");
    assert_eq!(
        manager.verify(created.token.expose()).await.expect("verify"),
        created.key
    );
    manager.revoke(&site, &created.key.id).await.expect("revoke");

    for url in [
        "postgres://keyward@127.0.0.1:notaport/keyward",
        "postgresql://[::1/db",
    ] {
        assert!(
            matches!(
                keyward_core::store::open(url).await,
                Err(StoreError::UnsupportedUrl(_))
            ),
            "{url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_an_outage() {
    // A port that nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let options = sqlx::postgres::PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("keyward")
        .database("keyward");
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy_with(options);
    let refused = PostgresStore::from_pool(pool).await;
    assert!(refused.is_err_and(|e| e.is_unavailable()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_store_is_unavailable() {
    let schema = pg::Schema::create().await;
    let clock = ManualClock::new(START);
    let store = store(&schema, "closed").await;
    let manager = manager(store.clone(), &clock);
    let created = manager
        .create(NewKey::new(TenantId::new("site_a").expect("tenant")))
        .await
        .expect("create");
    store.close().await;
    assert_outage(&*store, &manager, &created).await;
    schema.drop().await;
}

/// A policy written through one store reaches a manager declared on another within a second,
/// through `NOTIFY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_change_reaches_another_store_within_a_second() {
    let schema = pg::Schema::create().await;
    let clock = ManualClock::new(START);
    let (here, there) = (store(&schema, "here").await, store(&schema, "there").await);
    super::travel::assert_a_policy_change_travels(&*here, there.clone(), &clock, NOTIFY_WITHIN).await;
    here.close().await;
    there.close().await;
    schema.drop().await;
}
