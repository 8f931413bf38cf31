//! The stack users build today: `tower_governor` keyed by the presented token in front of a
//! bearer check written with `from_fn` (SHA-256 of the token, looked up in a `HashMap`). Shared by
//! the benchmarks and `examples/compare_server.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::middleware::StateInformationMiddleware;
use sha2::{Digest, Sha256};
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

/// What the hand-written check puts into request extensions.
#[derive(Clone, Debug)]
#[expect(
    dead_code,
    reason = "handlers would read it; the benchmarks' handler does not"
)]
pub struct Tenant {
    /// The tenant's id, which handlers would read.
    pub id: Arc<str>,
}

/// The bearer check's keys: SHA-256 of the token to its tenant.
pub type KeyTable = Arc<HashMap<[u8; 32], Tenant>>;

/// The token from `Authorization: Bearer …`, else from `X-API-Key`.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|value| value.to_str().ok()))
}

/// The bearer check as it is usually written with `from_fn`: hash the token, look the hash up.
pub async fn bearer_check(State(keys): State<KeyTable>, mut request: Request<Body>, next: Next) -> Response {
    let Some(token) = presented_token(request.headers()) else {
        return (StatusCode::UNAUTHORIZED, "missing API key").into_response();
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let Some(tenant) = keys.get(&digest).cloned() else {
        return (StatusCode::UNAUTHORIZED, "invalid API key").into_response();
    };
    request.extensions_mut().insert(tenant);
    next.run(request).await
}

/// `tower_governor` keyed by the presented token.
#[derive(Clone, Copy, Debug)]
pub struct ApiKeyExtractor;

impl KeyExtractor for ApiKeyExtractor {
    type Key = String;

    fn extract<T>(&self, request: &Request<T>) -> Result<String, GovernorError> {
        presented_token(request.headers())
            .map(str::to_owned)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

/// The governor layer of the hand-written stack.
pub type HandwrittenGovernor =
    tower_governor::GovernorLayer<ApiKeyExtractor, StateInformationMiddleware, Body>;

/// The key table for `tokens` (all of tenant `site_1`) and a per-key governor layer with a burst
/// of `burst` refilled one a nanosecond (never refusing), with its `x-ratelimit-*` headers.
pub fn handwritten_parts(tokens: &[&str], burst: u32) -> (KeyTable, HandwrittenGovernor) {
    let tenant = Tenant {
        id: Arc::from("site_1"),
    };
    let keys: KeyTable = Arc::new(
        tokens
            .iter()
            .map(|token| (Sha256::digest(token.as_bytes()).into(), tenant.clone()))
            .collect(),
    );
    let governor = GovernorConfigBuilder::default()
        .key_extractor(ApiKeyExtractor)
        .per_nanosecond(1)
        .burst_size(burst)
        .use_headers()
        .finish()
        .expect("a non-zero period and burst");
    (keys, tower_governor::GovernorLayer::new(governor))
}
