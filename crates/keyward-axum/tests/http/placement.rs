//! `ApiKeyLayer` around the whole router (`Layer::layer` on it, served through
//! `into_make_service`) instead of over each route: the layer runs before routing, so extractors,
//! guards and headers work as over each route, and a path no route knows is refused like any other
//! without a key.

use axum::Router;
use axum::routing::get;
use keyward_axum::AuthedKey;
use keyward_axum::guard::{RequireScopes, RouteCost};
use keyward_core::{KeyManager, MemoryStore};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{Quota, RateLimits};
use reqwest::{Method, StatusCode};
use tower::Layer;

use crate::support::{Answer, Server, key, serve_service};

async fn app() -> (Server, KeyManager) {
    let manager = KeyManager::new(MemoryStore::new());
    let layer = ApiKeyLayer::builder(manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(10)))
        .public("/health")
        .no_audit()
        .build()
        .expect("a valid layer");
    let router = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/v1/tenant",
            get(|key: AuthedKey| async move { key.tenant.to_string() }),
        )
        .route(
            "/v1/customers",
            get(|| async { "customers" }).route_layer(RequireScopes::new(["customers:read"])),
        )
        .route(
            "/v1/heavy",
            get(|| async { "heavy" }).route_layer(RouteCost::new(3)),
        );
    (serve_service(layer.layer(router)).await, manager)
}

#[tokio::test]
async fn extractors_guards_and_headers_work_around_the_whole_router() {
    let (server, manager) = app().await;
    let token = key(&manager, "site_1", "analytics:read").await;

    let answer = server.get("/v1/tenant", &token).await;
    assert_eq!((answer.status, answer.text.as_str()), (StatusCode::OK, "site_1"));
    assert_eq!(answer.header("x-ratelimit-limit"), Some("10"));
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("9"));
    assert!(
        answer
            .header("x-request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );

    server
        .get("/v1/customers", &token)
        .await
        .assert_error(StatusCode::FORBIDDEN, "insufficient_scope");

    let answer = server.get("/v1/heavy", &token).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.header("x-ratelimit-remaining"),
        Some("5"),
        "10, less one for each call before and three for this one (the layer's 1, the guard's 2)"
    );
}

#[tokio::test]
async fn routing_happens_after_the_key_is_checked() {
    let (server, manager) = app().await;
    let anonymous = |path: &str| Answer::of(server.request(Method::GET, path, None));

    // Without a key, a path no route knows is refused like a known one: which paths exist is not
    // told to clients that cannot call them.
    anonymous("/v1/nowhere")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    anonymous("/v1/tenant")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    // With a key, the router answers 404, and the layer's headers are on it.
    let token = key(&manager, "site_1", "").await;
    let answer = server.get("/v1/nowhere", &token).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("9"));
    assert!(answer.header("x-request-id").is_some());

    // Public paths declared on the layer still pass without a key.
    let answer = anonymous("/health").await;
    assert_eq!((answer.status, answer.text.as_str()), (StatusCode::OK, "ok"));
}
