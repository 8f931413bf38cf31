//! What the benchmarks share: the application every variant wraps, the request they send, the
//! quota that never refuses, and the runtimes they run on.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Request, Uri};
use axum::routing::get;
use keyward_core::KeyManager;
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{ApiKeyLayer, ApiKeyLayerBuilder};
use tokio::runtime::Runtime;

/// The one route.
pub const PATH: &str = "/v1/events";

/// A budget of 4 000 units refilled one a nanosecond: a request takes far longer than that, so
/// the limiters run their full check on every request and never refuse. A small burst keeps the
/// `X-RateLimit-*` numbers in the range real quotas have; a budget in the billions would make both
/// stacks format two long numbers into fresh header values on every response, which no real
/// deployment does (keyward serves numbers under 4 096 from a table).
pub const BURST: u32 = 4_000;

/// A quota of [`BURST`] units that no benchmark reaches.
pub fn high_quota() -> RateLimits {
    RateLimits::new(Quota::new(BURST, Duration::from_nanos(u64::from(BURST))))
}

/// The application every variant wraps: one route, a static body.
pub fn app() -> Router {
    Router::new().route(PATH, get(|| async { "ok" }))
}

/// The request every variant sends, built inside the measured closure. The URI is static (no
/// parse, no allocation) and the credential a clone of a prepared header value (a reference
/// count), so what is measured is the middleware, not the request builder.
pub fn request(credential: &HeaderValue) -> Request<Body> {
    let mut request = Request::new(Body::empty());
    *request.uri_mut() = Uri::from_static(PATH);
    request.headers_mut().insert(AUTHORIZATION, credential.clone());
    request
}

/// `Bearer <token>` as a header value.
pub fn bearer(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!("Bearer {token}")).expect("a token is a valid header value")
}

/// The current-thread runtime the requests are driven on.
pub fn request_runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// Where the layers' background tasks (the usage/audit writer, limiter housekeeping) run.
///
/// `block_on` on a current-thread runtime polls its own future first and returns as soon as that
/// future is ready, which a `oneshot` through these services is on its first poll; tasks spawned on
/// that runtime would never run, the audit queue would fill after 65 536 requests, and the
/// audited variant would measure a refused `try_send` instead of a delivered record. Building the
/// layers inside a one-worker multi-thread runtime keeps the writer alive on its own thread, as it
/// is in a server.
pub fn background_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a multi-thread runtime")
}

/// A keyward layer over `manager` with [`high_quota`], configured by `configure`, its background
/// tasks on `background`.
pub fn keyward_layer(
    manager: &KeyManager,
    background: &Runtime,
    configure: impl FnOnce(ApiKeyLayerBuilder) -> ApiKeyLayerBuilder,
) -> ApiKeyLayer {
    let _entered = background.enter();
    configure(ApiKeyLayer::builder(manager.clone()).rate_limits(high_quota()))
        .build()
        .expect("the layer builds inside a runtime")
}

/// Criterion as every benchmark here runs it: 1 s of warm-up, 3 s measured, `samples` samples.
pub fn criterion(samples: usize) -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(samples)
}
