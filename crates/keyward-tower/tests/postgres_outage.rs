//! PostgreSQL stopped under traffic: the layer over loopback HTTP in front of a `PostgresStore` on
//! a cluster of the test's own, which is stopped (`pg_ctl stop -m fast`) while several tasks keep
//! sending requests, then started again. Needs the PostgreSQL server binaries
//! (`/usr/lib/postgresql/*/bin`), not the shared test server.

mod postgres_support;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyward_core::audit::AuditQuery;
use keyward_core::store::{KeyChange, KeyListener, PostgresStore};
use keyward_core::{CreatedKey, KeyManager, KeyStore, NewKey, TenantId};
use keyward_tower::{ApiKeyLayer, AuditConfig, CacheConfig};
use postgres_support::PostgresCluster;
use support::server::{client, serve};
use support::tenant_id;
use support::traffic::{Answer, DOWN, RECOVERED, RESTARTING, Traffic, assert_ok_or_unavailable};

/// How long PostgreSQL stays down.
const OUTAGE: Duration = Duration::from_secs(8);

/// Counts the store's "changes may have been missed" signals.
#[derive(Default)]
struct Resyncs(AtomicUsize);

impl KeyListener for Resyncs {
    fn key_changed(&self, _change: &KeyChange) {}

    fn resync(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn create(manager: &KeyManager, tenant: &TenantId, name: &str) -> CreatedKey {
    manager
        .create(NewKey::new(tenant.clone()).name(name))
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"))
}

async fn status_of(url: String, token: &str) -> u16 {
    client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_traffic_then_started_again() {
    let mut cluster = PostgresCluster::start();
    let store = Arc::new(
        PostgresStore::connect(&cluster.url())
            .await
            .expect("the store connects"),
    );
    let resyncs = Arc::new(Resyncs::default());
    let listener: Arc<dyn KeyListener> = resyncs.clone();
    store.changes().subscribe(&listener);
    let manager = KeyManager::builder_shared(store.clone())
        .build()
        .expect("a valid manager");
    let layer = ApiKeyLayer::builder(manager.clone())
        .no_rate_limit()
        // Cached keys outlive the outage; the writer tries every 100 ms.
        .cache(CacheConfig {
            ttl: Duration::from_secs(120),
            ..CacheConfig::default()
        })
        .audit(AuditConfig {
            interval: Duration::from_millis(100),
            ..AuditConfig::default()
        })
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    let audit = layer.audit().expect("recording is on").clone();

    // Before the outage: keys, a revocation and audit events, all written.
    let tenant = tenant_id("site_traffic");
    let warm = create(&manager, &tenant, "warm").await;
    let cold = create(&manager, &tenant, "cold").await;
    let spare = create(&manager, &tenant, "spare").await;
    let late = create(&manager, &tenant, "revoked after recovery").await;
    let early = create(&manager, &tenant, "revoked before the outage").await;
    manager
        .revoke(&tenant, &early.key.id)
        .await
        .expect("revoke before the outage");
    for key in [&warm, &late] {
        assert_eq!(status_of(server.url("/v1/events"), key.token.expose()).await, 200);
    }
    assert_eq!(
        status_of(server.url("/v1/events"), early.token.expose()).await,
        401
    );
    tokio::time::timeout(Duration::from_secs(30), audit.flush())
        .await
        .expect("the flush ends");
    let events_before = store
        .audit_log(&AuditQuery::new(tenant.clone()).limit(100))
        .await
        .expect("the audit log")
        .len();
    assert_eq!(events_before, 2);

    // Traffic with the cached keys from before the outage to after it; with the uncached key from
    // the moment the store is down (else its first request would cache it).
    let mut traffic = Traffic::new();
    traffic.send(&server, "warm", warm.token.expose(), 2);
    traffic.send(&server, "late", late.token.expose(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;

    cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .expect("pg_ctl stop");
    traffic.enter(DOWN);
    traffic.send(&server, "cold", cold.token.expose(), 2);
    // Long enough for each uncached request to be refused within it (an operation waits up to
    // 5 s for a connection) and for the writer to fail a few rounds.
    tokio::time::sleep(OUTAGE).await;

    assert_eq!(
        resyncs.0.load(Ordering::SeqCst),
        0,
        "the caches are kept through the outage"
    );
    traffic.enter(RESTARTING);
    cluster = tokio::task::spawn_blocking(move || {
        cluster.start_again();
        cluster
    })
    .await
    .expect("pg_ctl start");
    traffic.enter(RECOVERED);
    // Traffic goes on for a while after recovery.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Notifications sent while the listener was away are lost: once it listens again, the caches
    // are flushed (its backoff is at most 10 s).
    let start = std::time::Instant::now();
    while resyncs.0.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the caches were not flushed after the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answers = traffic.finish().await;

    // Nothing but 200 and the documented 503 in its envelope; never a 500.
    for (label, answers) in &answers {
        assert_ok_or_unavailable(label, answers, "store_unavailable");
    }
    // Cached keys keep working throughout.
    for label in ["warm", "late"] {
        let within_outage = answers[label].iter().filter(|a| a.within(DOWN)).count();
        assert!(
            within_outage >= 20,
            "{label}: {within_outage} requests in the outage"
        );
        let refused: Vec<&Answer> = answers[label].iter().filter(|a| a.status != 200).collect();
        assert!(
            refused.is_empty(),
            "{label}: a cached key was refused: {refused:?}"
        );
    }
    // The uncached key is refused while the store is down, and works again after.
    let cold_answers = &answers["cold"];
    let refused_in_outage = cold_answers
        .iter()
        .filter(|a| a.within(DOWN) && a.status == 503)
        .count();
    assert!(refused_in_outage >= 2, "cold: {cold_answers:?}");
    assert!(
        cold_answers
            .iter()
            .filter(|a| a.within(DOWN))
            .all(|a| a.status == 503),
        "cold: only 503 while the store is down: {cold_answers:?}"
    );
    assert!(
        cold_answers
            .iter()
            .any(|a| a.within(RECOVERED) && a.status == 200),
        "cold: no 200 after recovery: {cold_answers:?}"
    );
    assert_eq!(
        cold_answers.last().map(|a| a.status),
        Some(200),
        "cold: the last answer"
    );

    // Recovered without restarting the app: another uncached key, a key made now, a revocation
    // made now, and the revocation made before the outage.
    let url = server.url("/v1/events");
    assert_eq!(status_of(url.clone(), spare.token.expose()).await, 200);
    let fresh = create(&manager, &tenant, "made after recovery").await;
    assert_eq!(status_of(url.clone(), fresh.token.expose()).await, 200);
    manager
        .revoke(&tenant, &late.key.id)
        .await
        .expect("revoke after recovery");
    assert_eq!(status_of(url.clone(), late.token.expose()).await, 401);
    assert_eq!(status_of(url.clone(), early.token.expose()).await, 401);

    // What was written before the outage, and every request's usage and audit event (those queued
    // during the outage included), is in the database: read through a store of its own.
    tokio::time::timeout(Duration::from_secs(30), audit.flush())
        .await
        .expect("the flush ends");
    let served: HashMap<&str, u64> = ["warm", "late", "cold"]
        .into_iter()
        .map(|label| {
            let ok = answers[label].iter().filter(|a| a.status == 200).count();
            (label, u64::try_from(ok).expect("a count"))
        })
        .collect();
    let reader = PostgresStore::connect(&cluster.url())
        .await
        .expect("a second store connects");
    let keys = reader.list(&tenant).await.expect("the tenant's keys");
    assert_eq!(keys.len(), 6, "every key is kept");
    let stored = |id| keys.iter().find(|k| &k.id == id).expect("the key is stored");
    assert!(
        stored(&early.key.id).revoked_at.is_some(),
        "the revocation is kept"
    );
    assert!(stored(&late.key.id).revoked_at.is_some());
    // warm and late: one request each before the traffic; spare and fresh: one each after.
    let expected = [
        ("warm", &warm, served["warm"] + 1),
        ("late", &late, served["late"] + 1),
        ("cold", &cold, served["cold"]),
        ("spare", &spare, 1),
        ("fresh", &fresh, 1),
    ];
    for (label, key, requests) in expected {
        assert_eq!(stored(&key.key.id).request_count, requests, "{label}: usage");
    }
    let events = reader
        .audit_log(&AuditQuery::new(tenant.clone()).limit(AuditQuery::MAX_LIMIT))
        .await
        .expect("the audit log");
    let total: u64 = expected.iter().map(|(_, _, requests)| requests).sum();
    assert_eq!(events.len() as u64, total, "one audit event per request served");
    assert_eq!(audit.dropped(), 0, "nothing dropped");

    drop(server);
    reader.close().await;
    store.close().await;
    drop(cluster);
}
