//! `keyward::testing` as an app's tests use it: keys on a test clock, a router driven in process.
#![cfg(feature = "testing")]

use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use keyward::axum::guard::RequireScopes;
use keyward::axum::{AuthedKey, scope};
use keyward::core::{NewKey, Rotation, TenantId};
use keyward::testing::{TestClient, TestKeys};
use serde_json::{Value, json};

scope!(EventsWrite = "events:write");

async fn write(key: AuthedKey<TenantId, (EventsWrite,)>, Json(body): Json<Value>) -> Json<Value> {
    Json(json!({ "tenant": key.tenant, "got": body }))
}

fn app(keys: &TestKeys) -> TestClient<Router> {
    let router = Router::new()
        .route("/v1/events", post(write))
        .route(
            "/v1/report",
            get(|| async { "report" }).route_layer(RequireScopes::new(["reports:read"])),
        )
        .layer(keys.layer());
    TestClient::new(router)
}

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).expect("a valid tenant")
}

#[tokio::test]
async fn scopes_are_tested_without_a_server() {
    let keys = TestKeys::new();
    let client = app(&keys);
    let writer = keys
        .mint_with(NewKey::new(tenant("site_1")).scopes("events:write".parse().expect("valid")))
        .await;
    let token = writer.token.expose();

    let written = client
        .post("/v1/events")
        .bearer(token)
        .json(&json!({"name": "signup"}))
        .send()
        .await;
    assert_eq!(written.status(), 200, "{}", written.text());
    assert_eq!(
        written.json(),
        json!({"tenant": "site_1", "got": {"name": "signup"}})
    );
    assert!(written.header("x-ratelimit-remaining").is_some());

    let refused = client.get("/v1/report").bearer(token).send().await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.error_code().as_deref(), Some("insufficient_scope"));
    assert_eq!(
        refused.request_id(),
        refused.json()["error"]["request_id"].as_str()
    );
}

#[tokio::test]
async fn rotation_grace_runs_on_the_test_clock() {
    let keys = TestKeys::with(|builder| builder.rotation(Rotation::Grace(Duration::from_secs(3600))));
    let client = app(&keys);
    let reader = keys
        .mint_with(NewKey::new(tenant("site_1")).scopes("reports:read".parse().expect("valid")))
        .await;
    let rotated = keys
        .manager()
        .rotate(&tenant("site_1"), &reader.key.id)
        .await
        .expect("rotated");
    let (old, new) = (reader.token.expose(), rotated.token.expose());
    for token in [old, new] {
        assert_eq!(client.get("/v1/report").bearer(token).send().await.status(), 200);
    }
    keys.clock().advance(Duration::from_secs(3601));
    // The layer's cache holds the old key: its status is read at the test clock's time.
    assert_eq!(client.get("/v1/report").bearer(old).send().await.status(), 401);
    assert_eq!(client.get("/v1/report").bearer(new).send().await.status(), 200);
}
