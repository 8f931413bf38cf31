//! What only the SQLite store promises: keys outlive the process, the limit holds across pools on
//! one file, changes reach every store on the file through its change log, URLs open it, and a
//! closed store reports an outage.

use std::sync::Arc;

use keyward_core::audit::{AuditEvent, AuditKind, AuditQuery, KeyUsage};
use keyward_core::store::SqliteStore;
use keyward_core::time::{Clock, ManualClock};
use keyward_core::{KeyManager, KeyStore, ManagerError, NewKey, StoreError, TenantId, VerifyError};

use super::credits::spend_concurrently;
use super::harness::{START, sqlite};
use super::outage::assert_outage;
use super::recorder::Recorder;

fn manager(store: Arc<dyn KeyStore>, clock: &ManualClock) -> KeyManager {
    KeyManager::builder_shared(store)
        .clock(clock.clone())
        .max_active_keys(5)
        .build()
        .expect("a valid configuration")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_the_file_loses_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = sqlite::url(&dir);
    let clock = ManualClock::new(START);
    let site = TenantId::new("site_a").expect("tenant");

    let store = Arc::new(SqliteStore::open(&url).await.expect("open"));
    let first = manager(store.clone(), &clock);
    let kept = first
        .create(NewKey::new(site.clone()).name("kept"))
        .await
        .expect("create");
    let revoked = first
        .create(NewKey::new(site.clone()).name("revoked"))
        .await
        .expect("create");
    first.revoke(&site, &revoked.key.id).await.expect("revoke");
    store
        .record_usage(&[KeyUsage {
            key_id: kept.key.id.clone(),
            last_used_at: clock.now(),
            requests: 3,
        }])
        .await
        .expect("usage");
    let event = AuditEvent {
        at: clock.now(),
        request_id: "req_1".into(),
        key_id: kept.key.id.clone(),
        tenant: site.clone(),
        fingerprint: kept.key.fingerprint(),
        method: "POST".into(),
        path: "/v1/events".into(),
        status: 201,
        client_ip: None,
        user_agent: None,
        kind: AuditKind::Request,
        detail: None,
    };
    store
        .append_audit(std::slice::from_ref(&event))
        .await
        .expect("audit");
    let before = first.list(&site).await.expect("list");
    drop(first);
    store.close().await;
    assert!(store.list(&site).await.is_err(), "the first store is closed");

    let reopened = manager(keyward_core::store::open(&url).await.expect("reopen"), &clock);
    assert_eq!(reopened.list(&site).await.expect("list"), before);
    assert_eq!(
        reopened
            .verify(kept.token.expose())
            .await
            .expect("verify")
            .request_count,
        3
    );
    assert!(matches!(
        reopened.verify(revoked.token.expose()).await,
        Err(VerifyError::Revoked)
    ));
    assert_eq!(
        reopened
            .audit_log(&AuditQuery::new(site.clone()))
            .await
            .expect("audit"),
        vec![event]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_across_two_stores_on_one_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = sqlite::url(&dir);
    let clock = ManualClock::new(START);
    let stores = [
        manager(Arc::new(SqliteStore::open(&url).await.expect("open")), &clock),
        manager(Arc::new(SqliteStore::open(&url).await.expect("open")), &clock),
    ];
    let site = TenantId::new("site_busy").expect("tenant");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let manager = stores[i % 2].clone();
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
    assert_eq!(stores[1].list(&site).await.expect("list").len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_are_shared_by_two_stores_on_one_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = sqlite::url(&dir);
    let clock = ManualClock::new(START);
    let stores: [Arc<dyn KeyStore>; 2] = [
        Arc::new(SqliteStore::open(&url).await.expect("open")),
        Arc::new(SqliteStore::open(&url).await.expect("open")),
    ];
    let created = manager(stores[0].clone(), &clock)
        .create(NewKey::new(TenantId::new("site_a").expect("tenant")).credits(30, None))
        .await
        .expect("create");
    let allowed = spend_concurrently(&stores, &created.key.lineage, 120, 1).await;
    assert_eq!(allowed, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_database_migrates_to_credits() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = sqlite::url(&dir);
    let open = async |migrations| {
        let store = SqliteStore::open_with(&url, migrations).await?;
        Ok(Arc::new(store) as Arc<dyn KeyStore>)
    };
    let execute = async |statements: &[&'static str]| {
        let pool = sqlx::SqlitePool::connect(&url).await.expect("the file opens");
        for &statement in statements {
            sqlx::query(statement).execute(&pool).await.expect(statement);
        }
        pool.close().await;
    };
    super::migration::an_existing_database_migrates_to_credits(open, execute).await;
}

#[tokio::test]
async fn urls_open_sqlite_files() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for url in [
        format!("sqlite://{}", dir.path().join("a.db").display()),
        format!("sqlite:{}", dir.path().join("b.db").display()),
        "sqlite::memory:".to_owned(),
    ] {
        let store = keyward_core::store::open(&url).await.expect("open");
        let manager = KeyManager::builder_shared(store).build().expect("manager");
        let created = manager
            .create(NewKey::new(TenantId::new("site_a").expect("tenant")))
            .await
            .expect("create");
        assert_eq!(
            manager.verify(created.token.expose()).await.expect("verify"),
            created.key
        );
    }
    assert!(dir.path().join("a.db").exists());
    assert!(dir.path().join("b.db").exists());
    assert!(matches!(
        keyward_core::store::open("sqlite://x.db?mode=sideways").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
    let missing_dir = dir.path().join("no/such/dir/keys.db");
    let refused = keyward_core::store::open(&format!("sqlite://{}", missing_dir.display())).await;
    assert!(refused.is_err_and(|e| e.is_unavailable()));
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(SqliteStore::open(&sqlite::url(&dir)).await.expect("open"));
    let clock = ManualClock::new(START);
    let manager = manager(store.clone(), &clock);
    let created = manager
        .create(NewKey::new(TenantId::new("site_a").expect("tenant")))
        .await
        .expect("create");
    store.close().await;
    assert_outage(&*store, &manager, &created).await;
}

/// Two stores on one file, as two processes have: a revocation, a rotation and a policy change
/// made through one are heard by the other within a second, through the file's change log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_another_store_on_the_file_within_a_second() {
    use std::time::Duration;

    use super::travel::{assert_a_policy_change_travels, assert_key_changes_travel};

    const WITHIN: Duration = Duration::from_secs(1);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = sqlite::url(&dir);
    let clock = ManualClock::new(START);
    let here: Arc<dyn KeyStore> = Arc::new(SqliteStore::open(&url).await.expect("open"));
    let there = Arc::new(SqliteStore::open(&url).await.expect("open again"));
    assert!(there.reads_other_processes());
    let heard_there = assert_key_changes_travel(here.clone(), &*there, &clock, WITHIN).await;
    assert_eq!(heard_there.resyncs(), 0, "no row of the change log was missed");
    assert_a_policy_change_travels(&*here, there, &clock, WITHIN).await;
}

/// The change log keeps an hour: older rows are deleted by the readers; a reader that finds rows
/// missing after the last one it saw (deleted before it read them) tells its listeners to forget
/// everything, and goes on with the rows that are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_log_is_pruned_and_a_gap_flushes_caches() {
    use std::time::{Duration, Instant};

    use keyward_core::time::Timestamp;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = sqlite::url(&dir);
    let writer = SqliteStore::open(&url).await.expect("open");
    let old = Timestamp::now().as_millis() - 2 * 3_600_000;
    let inserted = sqlx::query("INSERT INTO keyward_changes (at, change) VALUES ($1, 'keyspace old')")
        .bind(old)
        .execute(writer.pool())
        .await
        .expect("an old row");
    assert_eq!(inserted.rows_affected(), 1);
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM keyward_changes")
            .fetch_one(writer.pool())
            .await
            .expect("counted")
    };

    // Every reader prunes when it starts, and every minute after: the writer's own reader may
    // already have deleted the row (its first read races the insert), the new one does if not.
    let reader = Arc::new(SqliteStore::open(&url).await.expect("open again"));
    let heard = Recorder::on(&*reader);
    let start = Instant::now();
    while count().await != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the old row was not pruned"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Two changes, the first deleted in the same transaction: the reader sees a gap.
    let key_id = keyward_core::KeyId::generate();
    let mut tx = writer.pool().begin().await.expect("a transaction");
    for text in ["keyspace gone".to_owned(), format!("{key_id} p:abcdefgh")] {
        sqlx::query("INSERT INTO keyward_changes (at, change) VALUES ($1, $2)")
            .bind(Timestamp::now().as_millis())
            .bind(text)
            .execute(&mut *tx)
            .await
            .expect("a row");
    }
    sqlx::query("DELETE FROM keyward_changes WHERE change = 'keyspace gone'")
        .execute(&mut *tx)
        .await
        .expect("deleted");
    tx.commit().await.expect("committed");
    assert!(
        heard.wait_for(&key_id, Duration::from_secs(1)).await,
        "the row after the gap"
    );
    assert_eq!(heard.resyncs(), 1, "the gap flushed the caches once");
}
