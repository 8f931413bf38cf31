//! Graceful shutdown keeps every request's usage and audit record: an app served as the examples
//! serve (`axum::serve` with graceful shutdown, on a SQLite store), with requests still in flight
//! when shutdown begins, loses none of them.

#[path = "../examples/common/mod.rs"]
mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use keyward_core::audit::AuditQuery;
use keyward_core::{CreatedKey, KeyManager, KeyStore, NewKey, TenantId};
use keyward_tower::{ApiKeyLayer, AuditConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Requests still being answered when shutdown begins.
const IN_FLIGHT: usize = 16;
/// Requests answered before it.
const BEFORE: usize = 40;
/// How long the slow route takes to answer.
const SLOW: Duration = Duration::from_millis(500);

struct App {
    router: Router,
    layer: ApiKeyLayer,
    manager: KeyManager,
    store: std::sync::Arc<dyn KeyStore>,
    keys: Vec<CreatedKey>,
    _dir: tempfile::TempDir,
}

/// Two keys of two tenants on a fresh SQLite store, a fast and a slow route, and a writer that
/// would not write on its own during the test (its interval is a minute, its queue far from
/// half full): what reaches the store is what shutdown wrote.
async fn app() -> App {
    let (store, dir) = common::temp_sqlite_store().await.expect("a SQLite store");
    let manager = KeyManager::builder_shared(store.clone())
        .build()
        .expect("a valid manager");
    let layer = ApiKeyLayer::builder(manager.clone())
        .no_rate_limit()
        .audit(AuditConfig {
            interval: Duration::from_secs(60),
            ..AuditConfig::default()
        })
        .client_ip(keyward_axum::client_ip())
        .build()
        .expect("a valid layer");
    let mut keys = Vec::new();
    for tenant in ["site_a", "site_b"] {
        let tenant = TenantId::new(tenant).expect("a tenant");
        keys.push(manager.create(NewKey::new(tenant)).await.expect("a key"));
    }
    let router = Router::new()
        .route("/v1/fast", get(|| async { "fast" }))
        .route(
            "/v1/slow",
            get(|| async {
                tokio::time::sleep(SLOW).await;
                "slow"
            }),
        )
        .layer(layer.clone());
    App {
        router,
        layer,
        manager,
        store,
        keys,
        _dir: dir,
    }
}

/// Serves `app` as the examples do until told to stop; sends [`BEFORE`] fast requests, starts
/// [`IN_FLIGHT`] slow ones, begins shutdown while they are being answered, and waits for the
/// server to end. Every request was answered 200; how many each key made.
async fn serve_then_shut_down(app: &App) -> Vec<u64> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(common::serve(listener, app.router.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let mut made = vec![0u64; app.keys.len()];
    for i in 0..BEFORE {
        let k = i % app.keys.len();
        let response = client
            .get(format!("{base}/v1/fast"))
            .bearer_auth(app.keys[k].token.expose())
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200);
        made[k] += 1;
    }
    let slow: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let k = i % app.keys.len();
            made[k] += 1;
            // A client of its own per request: a connection each, all open when shutdown begins.
            let request = reqwest::Client::new()
                .get(format!("{base}/v1/slow"))
                .bearer_auth(app.keys[k].token.expose())
                .timeout(Duration::from_secs(10));
            tokio::spawn(async move { request.send().await.map(|r| r.status()) })
        })
        .collect();
    // The slow requests are in the handler (they take SLOW): shut down now.
    tokio::time::sleep(SLOW / 4).await;
    stop.send(()).expect("the server is still running");
    for task in slow {
        let status = task
            .await
            .expect("the request task ran")
            .expect("a request in flight at shutdown is answered");
        assert_eq!(status, 200);
    }
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("graceful shutdown ends once the requests are answered")
        .expect("the server task ran")
        .expect("the server ran without error");
    made
}

/// The store holds one audit event per request and each key's request count, read through the
/// store (a SQLite file).
async fn assert_everything_stored(store: &dyn KeyStore, keys: &[CreatedKey], made: &[u64]) {
    for (key, &requests) in keys.iter().zip(made) {
        let tenant = &key.key.tenant;
        let stored = store
            .get(tenant, &key.key.id)
            .await
            .expect("the store answers")
            .expect("the key is stored");
        assert_eq!(stored.request_count, requests, "{tenant}: usage");
        assert!(stored.last_used_at.is_some(), "{tenant}: last used");
        let events = events_of(store, key).await;
        assert_eq!(events.len() as u64, requests, "{tenant}: audit events");
        let slow = events.iter().filter(|e| e.path == "/v1/slow").count();
        assert_eq!(
            slow,
            IN_FLIGHT / keys.len(),
            "{tenant}: events of the requests in flight"
        );
        assert!(events.iter().all(|e| e.status == 200), "{tenant}: {events:?}");
    }
}

async fn events_of(store: &dyn KeyStore, key: &CreatedKey) -> Vec<keyward_core::audit::AuditEvent> {
    store
        .audit_log(&AuditQuery::new(key.key.tenant.clone()).limit(1_000))
        .await
        .expect("the audit log")
}

/// How many usage counts and audit events the store holds, over every key.
async fn written(store: &dyn KeyStore, keys: &[CreatedKey]) -> (u64, u64) {
    let (mut usage, mut events) = (0, 0);
    for key in keys {
        let stored = store.get(&key.key.tenant, &key.key.id).await;
        usage += stored.expect("the store answers").expect("the key").request_count;
        events += events_of(store, key).await.len() as u64;
    }
    (usage, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flush_after_graceful_shutdown_writes_every_request() {
    let app = app().await;
    let made = serve_then_shut_down(&app).await;
    let total = made.iter().sum::<u64>();
    assert_eq!(total, (BEFORE + IN_FLIGHT) as u64);
    assert_eq!(
        written(&*app.store, &app.keys).await,
        (0, 0),
        "the writer waited for its interval"
    );

    // What the examples do once `serve` returns.
    let audit = app.layer.audit().expect("recording is on");
    tokio::time::timeout(Duration::from_secs(10), audit.flush())
        .await
        .expect("the flush ends");
    assert_eq!(audit.dropped(), 0);
    assert_everything_stored(&*app.store, &app.keys, &made).await;
    drop(app.manager);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_layer_after_graceful_shutdown_writes_every_request() {
    let app = app().await;
    let made = serve_then_shut_down(&app).await;
    let total = made.iter().sum::<u64>();
    assert_eq!(
        written(&*app.store, &app.keys).await,
        (0, 0),
        "the writer waited for its interval"
    );

    // No flush: the server is gone, and with the app's layer and router the last handle on the
    // writer. It writes what is pending and stops, as long as the runtime runs.
    let App {
        router,
        layer,
        store,
        keys,
        _dir,
        ..
    } = app;
    drop((router, layer));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while written(&*store, &keys).await != (total, total) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not everything written within 10 s of the last layer going: {:?} of {total}",
            written(&*store, &keys).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_everything_stored(&*store, &keys, &made).await;
}
