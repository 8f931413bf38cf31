//! Credits over real HTTP: an axum app behind `ApiKeyLayer` on `127.0.0.1:0`, on the memory store,
//! a SQLite file and PostgreSQL (a schema of its own on `KEYWARD_TEST_POSTGRES_URL`). What a
//! client sees: `X-Credits-Remaining` / `X-Credits-Reset`, 429 `usage_exceeded` with
//! `Retry-After` until the refill, route costs, refunds of failed requests, rotation, concurrent
//! spends, a store outage, and credits changed by the `keyward` CLI, another process, enforced
//! by the running layer within a second.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use keyward_core::time::{Clock, ManualClock};
use keyward_core::{CreatedKey, KeyManager, KeyStore, NewKey, Refill, TenantId, store};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{Quota, RateLimits};
use serde_json::Value;
use support::{Client, Reply, keyward, send};
use tokio::net::TcpListener;

const HOUR: Duration = Duration::from_secs(3600);

fn tenant() -> TenantId {
    TenantId::new("site_1").expect("a valid tenant")
}

/// An app on `store`: `/v1/events` (cost 1), `/v1/heavy` (cost 2), `/v1/fail` (a 500), keys of
/// tier `slow` limited to one request an hour.
struct App {
    client: Client,
    manager: KeyManager,
    clock: ManualClock,
}

impl App {
    async fn on(store: Arc<dyn KeyStore>) -> Self {
        let clock = support::clock();
        let manager = KeyManager::builder_shared(store)
            .clock(clock.clone())
            .build()
            .expect("a valid manager");
        let layer = ApiKeyLayer::builder(manager.clone())
            .rate_limits(RateLimits::new(Quota::per_minute(600)).tier("slow", Quota::per_hour(1)))
            .route_cost("/v1/heavy", 2)
            .build()
            .expect("a valid layer");
        let router = Router::new()
            .route("/v1/events", get(|| async { "events" }))
            .route("/v1/heavy", get(|| async { "heavy" }))
            .route("/v1/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .layer(layer);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
        let client = Client::new(listener.local_addr().expect("the bound address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            client,
            manager,
            clock,
        }
    }

    async fn get(&self, path: &str, key: &CreatedKey) -> Reply {
        self.get_with(path, key.token.expose()).await
    }

    async fn get_with(&self, path: &str, token: &str) -> Reply {
        send(self.client.get(path).bearer_auth(token)).await
    }

    async fn remaining(&self, key: &CreatedKey) -> u64 {
        let stored = self
            .manager
            .get(&tenant(), &key.key.id)
            .await
            .expect("the store answers")
            .expect("the key");
        stored.credits.expect("credits").at(self.clock.now()).remaining
    }
}

/// Everything a client sees of credits, on one store.
async fn credits_over_http(store: Arc<dyn KeyStore>) {
    let app = App::on(store).await;
    let hourly = Refill::new(3, HOUR).expect("a valid refill");
    let key = app
        .manager
        .create(NewKey::new(tenant()).credits(3, Some(hourly)))
        .await
        .expect("create");

    let reply = app.get("/v1/events", &key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-credits-remaining"), "2");
    assert_eq!(reply.header("x-credits-reset"), "3600");
    assert_eq!(
        reply.header("x-ratelimit-remaining"),
        "599",
        "the rate limit still applies"
    );

    let reply = app.get("/v1/heavy", &key).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("x-credits-remaining"),
        "0",
        "the route cost is spent"
    );

    let reply = app.get("/v1/events", &key).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.code(), "usage_exceeded");
    assert_eq!(reply.json["error"]["status"], 429);
    assert!(
        reply.json["error"]["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("req_"))
    );
    assert_eq!(reply.header("retry-after"), "3600");
    assert_eq!(reply.header("x-credits-remaining"), "0");
    assert_eq!(reply.header("x-credits-reset"), "3600");
    assert!(
        !reply.header("x-ratelimit-limit").is_empty(),
        "the rate-limit headers too"
    );

    // The refill comes at the hour, to the amount.
    app.clock.advance(HOUR);
    let reply = app.get("/v1/events", &key).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-credits-remaining"), "2");
    assert_eq!(reply.header("x-credits-reset"), "3600");

    // A failed request gives its credits back.
    let reply = app.get("/v1/fail", &key).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("x-credits-remaining"), "2");
    assert_eq!(app.remaining(&key).await, 2);

    // A successor by rotation spends from the same credits; a top-up shows at once.
    let successor = app.manager.rotate(&tenant(), &key.key.id).await.expect("rotate");
    let reply = app.get("/v1/heavy", &successor).await;
    assert_eq!(reply.header("x-credits-remaining"), "0");
    assert_eq!(app.get("/v1/events", &key).await.code(), "usage_exceeded");
    app.manager
        .add_credits(&tenant(), &key.key.id, 5)
        .await
        .expect("add");
    assert_eq!(
        app.get("/v1/events", &key).await.header("x-credits-remaining"),
        "4"
    );

    // A key without credits is not counted, and says nothing of credits.
    let plain = app.manager.create(NewKey::new(tenant())).await.expect("create");
    let reply = app.get("/v1/events", &plain).await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.get("x-credits-remaining").is_none());
    // Credits set on a key that is cached already count from its next request; removed, they
    // stop counting.
    app.manager
        .set_credits(&tenant(), &plain.key.id, 1, None)
        .await
        .expect("set");
    let reply = app.get("/v1/events", &plain).await;
    assert_eq!(reply.header("x-credits-remaining"), "0");
    assert!(
        reply.headers.get("x-credits-reset").is_none(),
        "no refill, no reset"
    );
    let reply = app.get("/v1/events", &plain).await;
    assert_eq!(reply.code(), "usage_exceeded");
    assert!(
        reply.headers.get("retry-after").is_none(),
        "no refill to wait for"
    );
    app.manager
        .remove_credits(&tenant(), &plain.key.id)
        .await
        .expect("remove");
    assert_eq!(app.get("/v1/events", &plain).await.status, 200);

    // A request the rate limit refuses spends nothing.
    let slow = app
        .manager
        .create(
            NewKey::new(tenant())
                .tier("slow".parse().expect("a tier"))
                .credits(10, None),
        )
        .await
        .expect("create");
    assert_eq!(
        app.get("/v1/events", &slow).await.header("x-credits-remaining"),
        "9"
    );
    assert_eq!(app.get("/v1/events", &slow).await.code(), "rate_limit_exceeded");
    assert_eq!(app.remaining(&slow).await, 9);

    // Concurrent requests on a budget of 10 get exactly 10 answers.
    let busy = app
        .manager
        .create(NewKey::new(tenant()).credits(10, None))
        .await
        .expect("create");
    let token = busy.token.expose().to_owned();
    let requests: Vec<_> = (0..40)
        .map(|_| {
            let request = app.client.get("/v1/events").bearer_auth(&token);
            tokio::spawn(send(request))
        })
        .collect();
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.expect("the request ran").status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 30, "{statuses:?}");
    assert_eq!(app.remaining(&busy).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_on_the_memory_store() {
    credits_over_http(store::open("memory:").await.expect("a memory store")).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_on_sqlite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    credits_over_http(store::open(&url).await.expect("a SQLite store")).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_on_postgres() {
    let url = support::postgres_schema("credits").await;
    credits_over_http(store::open(&url).await.expect("a PostgreSQL store")).await;
}

/// The store goes away under a cached key with credits: 503 `store_unavailable` in the envelope,
/// nothing spent; a cached key without credits keeps working. The file, opened again, holds the
/// credits as they were.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_answers_503_and_spends_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let sqlite = Arc::new(store::SqliteStore::open(&url).await.expect("a SQLite store"));
    let app = App::on(sqlite.clone()).await;
    let credited = app
        .manager
        .create(NewKey::new(tenant()).credits(5, None))
        .await
        .expect("create");
    let plain = app.manager.create(NewKey::new(tenant())).await.expect("create");
    assert_eq!(
        app.get("/v1/events", &credited)
            .await
            .header("x-credits-remaining"),
        "4"
    );
    assert_eq!(app.get("/v1/events", &plain).await.status, 200);

    sqlite.close().await;
    for _ in 0..3 {
        let reply = app.get("/v1/events", &credited).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.code(), "store_unavailable");
        assert_eq!(reply.json["error"]["status"], 503);
        assert!(reply.headers.get("x-credits-remaining").is_none());
    }
    assert_eq!(
        app.get("/v1/events", &plain).await.status,
        200,
        "cached, and not counted"
    );

    let reopened = KeyManager::new(store::SqliteStore::open(&url).await.expect("reopen"));
    let stored = reopened
        .get(&tenant(), &credited.key.id)
        .await
        .expect("the store answers")
        .expect("the key");
    assert_eq!(
        stored.credits.map(|c| c.remaining),
        Some(4),
        "nothing was spent or lost"
    );
}

/// How soon a credit change made by another process must be enforced by the running layer.
const WITHIN: Duration = Duration::from_secs(1);

/// Runs `keyward keys ARGS… --tenant site_1 --json` on `store`, which must succeed; its output.
async fn cli(store: &str, args: &[&str]) -> Value {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--tenant", "site_1"]);
    let (code, json, stderr) = keyward(store, &[], &all).await;
    assert_eq!(code, 0, "keyward {all:?}: {stderr}");
    json
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

/// Sends `/v1/events` requests with `token` until one is answered with credits; the reply and
/// how long that took. Fails after [`WITHIN`] and a margin for the requests themselves.
async fn until_counted(app: &App, token: &str) -> (Reply, Duration) {
    let start = Instant::now();
    loop {
        let reply = app.get_with("/v1/events", token).await;
        if reply.headers.contains_key("x-credits-remaining") {
            return (reply, start.elapsed());
        }
        assert_eq!(reply.status, 200, "not counted yet: {}", reply.text);
        assert!(
            start.elapsed() < WITHIN + Duration::from_millis(500),
            "still not counted after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Credits given, topped up, removed and set by the `keyward` CLI, a process of its own on the
/// app's store, while the app serves: each change is enforced by the running layer (which holds
/// the keys in its cache) within a second.
async fn credits_from_the_cli(url: &str) {
    let app = App::on(store::open(url).await.expect("the app's store")).await;

    let created = cli(url, &["create", "--credits", "2", "--refill", "5/1h"]).await;
    let (token, id) = (text(&created["token"]), text(&created["id"]));
    let reply = app.get_with("/v1/events", token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("x-credits-remaining"), "1");
    let reset: u64 = reply.header("x-credits-reset").parse().expect("seconds");
    assert!(
        (3600..=3610).contains(&reset),
        "the refill an hour after creation: {reset}"
    );
    assert_eq!(
        app.get_with("/v1/events", token)
            .await
            .header("x-credits-remaining"),
        "0"
    );
    let refused = app.get_with("/v1/events", token).await;
    assert_eq!(refused.code(), "usage_exceeded");
    assert!(!refused.header("retry-after").is_empty());

    // Added credits are spent by the store itself: the next request has them.
    let added = cli(url, &["credits", "add", id, "3"]).await;
    assert_eq!(added["credits"]["remaining"], 3);
    let reply = app.get_with("/v1/events", token).await;
    assert_eq!(reply.status, 200, "at once: {}", reply.text);
    assert_eq!(reply.header("x-credits-remaining"), "2");

    // Removed: the store counts no more.
    cli(url, &["credits", "remove", id]).await;
    for _ in 0..4 {
        let reply = app.get_with("/v1/events", token).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.headers.get("x-credits-remaining").is_none(), "not counted");
    }

    // Set on a key the layer holds as not counted: counted within a second.
    let plain = cli(url, &["create"]).await;
    let (plain_token, plain_id) = (text(&plain["token"]), text(&plain["id"]));
    let reply = app.get_with("/v1/events", plain_token).await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.get("x-credits-remaining").is_none());
    cli(url, &["credits", "set", plain_id, "2", "--no-refill"]).await;
    let (reply, took) = until_counted(&app, plain_token).await;
    assert!(took < WITHIN, "credits set by the CLI took {took:?}");
    assert_eq!(reply.header("x-credits-remaining"), "1");
    assert!(reply.headers.get("x-credits-reset").is_none(), "no refill");
    assert_eq!(app.get_with("/v1/events", plain_token).await.status, 200);
    let refused = app.get_with("/v1/events", plain_token).await;
    assert_eq!(refused.code(), "usage_exceeded");
    assert!(
        refused.headers.get("retry-after").is_none(),
        "no refill to wait for"
    );
    let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
    eprintln!("{scheme}: credits set by the CLI counted by the server {took:?} after it exited");
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_from_the_cli_on_sqlite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    credits_from_the_cli(&format!("sqlite://{}", dir.path().join("keys.db").display())).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_from_the_cli_on_postgres() {
    credits_from_the_cli(&support::postgres_schema("credits_cli").await).await;
}
