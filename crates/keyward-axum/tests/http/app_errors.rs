//! The application's own errors (`ApiError`) behind the layer: handlers return them without
//! knowing the request id, and the answer names the layer's id in its `X-Request-Id` and in the
//! body alike, over each route, around the whole router, and on public routes.

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use keyward_axum::{ApiError, AuthedKey};
use keyward_core::{KeyManager, MemoryStore};
use keyward_tower::ApiKeyLayer;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tower::Layer;

use crate::support::{Answer, Server, key, serve, serve_service};

#[derive(serde::Deserialize)]
struct Range {
    limit: Option<String>,
}

/// Atribu's table of errors, each returned by a handler that is not given the request id.
fn routes() -> Router {
    Router::new()
        .route(
            "/v1/events",
            get(|_: AuthedKey, Query(range): Query<Range>| async move {
                match range.limit.as_deref() {
                    None => Ok("events"),
                    Some(limit) => Err(ApiError::invalid_parameter(
                        "limit",
                        format!("`limit` must be a number, not {limit}"),
                    )),
                }
            }),
        )
        .route(
            "/v1/overview",
            get(|| async { Err::<(), _>(ApiError::invalid_date_range("The date range exceeds 366 days")) }),
        )
        .route("/v1/broken", get(|| async { Err::<(), _>(ApiError::internal()) }))
        .route(
            "/v1/missing",
            get(|| async { Err::<(), _>(ApiError::not_found("No such report")) }),
        )
        .route(
            "/health",
            get(|| async {
                Err::<(), _>(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "maintenance",
                    "Back soon",
                ))
            }),
        )
}

fn layer(manager: &KeyManager) -> ApiKeyLayer {
    ApiKeyLayer::builder(manager.clone())
        .public("/health")
        .no_audit()
        .build()
        .expect("a valid layer")
}

/// What each request must answer: path, status, code, `param`.
const CASES: [(&str, StatusCode, &str, Option<&str>); 4] = [
    (
        "/v1/events?limit=ten",
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        Some("limit"),
    ),
    (
        "/v1/overview",
        StatusCode::BAD_REQUEST,
        "invalid_date_range",
        None,
    ),
    (
        "/v1/broken",
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        None,
    ),
    ("/v1/missing", StatusCode::NOT_FOUND, "not_found", None),
];

/// Sends each case with and without an incoming `X-Request-Id`: the answer's id is the one the
/// layer kept or minted, in the header and the body alike.
async fn check(server: &Server, token: &str) {
    for (path, status, code, param) in CASES {
        let minted = Answer::of(server.request(Method::GET, path, Some(token))).await;
        let error = minted.assert_error(status, code);
        assert_eq!(error.get("param").and_then(Value::as_str), param, "{path}");
        assert_eq!(
            error["request_id"].as_str().map(|id| id.starts_with("req_")),
            Some(true),
            "{path}"
        );

        let kept = Answer::of(
            server
                .request(Method::GET, path, Some(token))
                .header("x-request-id", "client-req-42"),
        )
        .await;
        let error = kept.assert_error(status, code);
        assert_eq!(
            error["request_id"], "client-req-42",
            "{path}: the incoming id is kept"
        );
        assert_eq!(kept.header("x-request-id"), Some("client-req-42"));
        assert_eq!(
            kept.header("content-length").map(str::parse::<usize>),
            Some(Ok(kept.text.len())),
            "{path}: the length is the rewritten body's"
        );
    }
    // A public route: the layer's id too.
    let public = Answer::of(
        server
            .request(Method::GET, "/health", None)
            .header("x-request-id", "probe-1"),
    )
    .await;
    assert_eq!(
        public.assert_error(StatusCode::SERVICE_UNAVAILABLE, "maintenance")["request_id"],
        "probe-1"
    );
    // A success is handed on as it is.
    let ok = server.get("/v1/events", token).await;
    assert_eq!((ok.status, ok.text.as_str()), (StatusCode::OK, "events"));
}

#[tokio::test]
async fn handler_errors_carry_the_layers_request_id_over_each_route() {
    let manager = KeyManager::new(MemoryStore::new());
    let server = serve(routes().layer(layer(&manager))).await;
    check(&server, &key(&manager, "site_1", "*").await).await;
}

#[tokio::test]
async fn handler_errors_carry_the_layers_request_id_around_the_router() {
    let manager = KeyManager::new(MemoryStore::new());
    let server = serve_service(layer(&manager).layer(routes())).await;
    check(&server, &key(&manager, "site_1", "*").await).await;
}

#[tokio::test]
async fn an_id_given_by_the_handler_gives_way_to_the_layers() {
    let manager = KeyManager::new(MemoryStore::new());
    let app = Router::new()
        .route(
            "/v1/stale",
            get(|| async {
                Err::<(), _>(
                    ApiError::internal().with_request_id(http::HeaderValue::from_static("req_other")),
                )
            }),
        )
        .layer(layer(&manager));
    let server = serve(app).await;
    let token = key(&manager, "site_1", "*").await;
    let answer = server.get("/v1/stale", &token).await;
    let error = answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert_ne!(error["request_id"], "req_other");
}
