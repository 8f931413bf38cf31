//! The guards as route layers behind `ApiKeyLayer`, and public routes.

use axum::Router;
use axum::middleware::map_response;
use axum::response::Response;
use axum::routing::get;
use keyward_axum::guard::{RequireKind, RequireScopes, RouteCost};
use keyward_core::{KeyKind, KeyManager, MemoryStore, NewKey, TenantId};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{Quota, RateDecision, RateLimits};
use reqwest::{Method, StatusCode};
use tracing::Level;

use crate::logs;
use crate::support::{Answer, Server, key, key_with, serve};

/// Shows the decision a guard handed to the layer (in the response's extensions) as `x-inner-*`
/// headers, to tell it apart from the layer's own.
async fn inner_headers(mut response: Response) -> Response {
    if let Some(decision) = response.extensions().get::<RateDecision>().copied() {
        let headers = response.headers_mut();
        headers.insert("x-inner-ratelimit-remaining", decision.remaining.into());
        if !decision.allowed {
            let secs = decision.retry_after.as_secs() + u64::from(decision.retry_after.subsec_nanos() > 0);
            headers.insert("x-inner-retry-after", secs.max(1).into());
        }
    }
    response
}

async fn app() -> (Server, KeyManager) {
    let manager = KeyManager::new(MemoryStore::new());
    let layer = ApiKeyLayer::builder(manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(10)))
        .allow_publishable("/v1/api")
        .public("/v1/status")
        .no_audit()
        .build()
        .expect("a valid layer");
    let ok = || async { "ok" };
    let app = Router::new()
        .route(
            "/v1/customers",
            get(ok).route_layer(RequireScopes::new(["customers:read", "analytics:read"])),
        )
        .route("/v1/heavy", get(ok).route_layer(RouteCost::new(3)))
        .route("/v1/light", get(ok))
        .route("/v1/api/banners", get(ok))
        .route("/v1/api/export", get(ok).route_layer(RequireKind::secret()))
        .route("/v1/status", get(ok))
        .layer(map_response(inner_headers))
        .layer(layer)
        .merge(
            Router::new()
                .route("/health", get(ok))
                .route(
                    "/unguarded/customers",
                    get(ok).route_layer(RequireScopes::new(["customers:read"])),
                )
                .route("/unguarded/heavy", get(ok).route_layer(RouteCost::new(3)))
                .route("/unguarded/export", get(ok).route_layer(RequireKind::secret())),
        );
    (serve(app).await, manager)
}

#[tokio::test]
async fn require_scopes_names_the_missing_ones() {
    let (server, manager) = app().await;
    let partial = key(&manager, "site_1", "analytics:read").await;
    let answer = server.get("/v1/customers", &partial).await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(
        error["message"],
        "API key is missing the required scope: customers:read"
    );
    assert_eq!(
        answer.header("www-authenticate"),
        Some("Bearer error=\"insufficient_scope\", scope=\"customers:read\"")
    );

    let both = key(&manager, "site_1", "analytics:read customers:read").await;
    assert_eq!(server.get("/v1/customers", &both).await.status, StatusCode::OK);
}

#[tokio::test]
async fn require_kind_refuses_publishable_keys_with_tolinkus_message() {
    let (server, manager) = app().await;
    let tenant = TenantId::new("appspace_1").expect("a valid tenant");
    let publishable = key_with(&manager, NewKey::new(tenant.clone()).kind(KeyKind::Publishable)).await;
    let secret = key_with(&manager, NewKey::new(tenant)).await;

    assert_eq!(
        server.get("/v1/api/banners", &publishable).await.status,
        StatusCode::OK
    );
    let answer = server.get("/v1/api/export", &publishable).await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        error["message"],
        "This endpoint requires a secret API key. Publishable keys cannot access this resource."
    );
    assert_eq!(server.get("/v1/api/export", &secret).await.status, StatusCode::OK);
}

#[tokio::test]
async fn route_cost_spends_the_extra_units_and_refuses_when_they_are_missing() {
    let (server, manager) = app().await;
    let token = key(&manager, "site_1", "").await;
    let inner = |answer: &Answer| answer.header("x-inner-ratelimit-remaining").map(str::to_owned);

    // 10 units an hour: the layer charges 1, the guard 2 more.
    let answer = server.get("/v1/heavy", &token).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        inner(&answer).as_deref(),
        Some("7"),
        "the guard reports the budget after its charge"
    );
    assert_eq!(answer.header("x-ratelimit-limit"), Some("10"));

    let answer = server.get("/v1/light", &token).await;
    assert_eq!(
        answer.header("x-ratelimit-remaining"),
        Some("6"),
        "the heavy call spent 3 units"
    );
    assert_eq!(inner(&answer), None, "light routes are not charged by a guard");

    assert_eq!(server.get("/v1/heavy", &token).await.status, StatusCode::OK);
    assert_eq!(
        server
            .get("/v1/light", &token)
            .await
            .header("x-ratelimit-remaining"),
        Some("2")
    );

    // 2 left: the layer takes 1, the guard cannot take 2.
    let answer = server.get("/v1/heavy", &token).await;
    answer.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded");
    let retry_after: u64 = answer
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    assert_eq!(
        inner(&answer).as_deref(),
        Some("0"),
        "the refusal's headers: nothing to spend now"
    );
    assert_eq!(answer.header("x-ratelimit-limit"), Some("10"));

    let answer = server.get("/v1/light", &token).await;
    assert_eq!(
        answer.header("x-ratelimit-remaining"),
        Some("0"),
        "the refused call's first unit stays spent"
    );
}

/// The layer keeps the rate-limit headers a route guard wrote after spending more of the budget.
#[tokio::test]
async fn route_cost_headers_reach_the_client() {
    let (server, manager) = app().await;
    let token = key(&manager, "site_1", "").await;
    let answer = server.get("/v1/heavy", &token).await;
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("7"));
}

#[tokio::test]
async fn public_routes_are_declared_on_the_layer_or_merged_outside_it() {
    let (server, _manager) = app().await;
    let anonymous = |path: &str| Answer::of(server.request(Method::GET, path, None));

    let answer = anonymous("/v1/status").await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "ok"),
        "public on the layer"
    );
    assert!(
        answer.header("x-request-id").is_some(),
        "the layer still answers with a request id"
    );

    let answer = anonymous("/health").await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "ok"),
        "merged outside the layer"
    );

    anonymous("/v1/light")
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn guards_without_the_layer_answer_500_and_log_why() {
    let (logs, _guard) = logs::capture();
    let (server, manager) = app().await;
    let token = key(&manager, "site_1", "customers:read").await;
    for path in ["/unguarded/customers", "/unguarded/heavy", "/unguarded/export"] {
        let answer = server.get(path, &token).await;
        answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    }
    let errors = logs.at(Level::ERROR, "keyward::config");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors.iter().all(|e| e.text.contains("ApiKeyLayer")));
}
