//! The layer's metrics, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): requests, rejections by code, rate-limited requests, cache lookups, and the time
//! store lookups take. Each is labelled with the layer's keyspace.
//!
//! | Metric | Kind | Labels | Counts |
//! |---|---|---|---|
//! | `keyward_requests_total` | counter | `keyspace` | every request the layer receives, public ones included |
//! | `keyward_rejections_total` | counter | `keyspace`, `code` | every refusal, by its [`Rejection::code`] (the layer's and the keyward-axum guards'; a renderer's renamed codes are not used) |
//! | `keyward_rate_limited_total` | counter | `keyspace` | requests refused for their key's rate limit (429), by the layer or a route's extra cost |
//! | `keyward_cache_lookups_total` | counter | `keyspace`, `result` | key lookups: `hit` (a verified key in the cache), `negative_hit` (a token known to be unknown), `miss` (the store is asked) |
//! | `keyward_store_lookup_seconds` | histogram | `keyspace` | how long each store lookup of a cache miss took (one per key however many requests wait for it); cache hits are not timed |
//!
//! The handles are registered once, when the layer is built, with the recorder installed then:
//! install the recorder (a Prometheus exporter, say) before building the layer. A request then
//! pays one increment per counter it moves, and allocates nothing for it. Without the feature the
//! layer holds no handles and the calls compile to nothing.
//!
//! ```
//! # #[cfg(feature = "metrics")]
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use bytes::Bytes;
//! use http::Request;
//! use http_body_util::Full;
//! use keyward_core::{KeyManager, MemoryStore};
//! use keyward_tower::ApiKeyLayer;
//! use metrics_util::debugging::{DebugValue, DebuggingRecorder};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let recorder = DebuggingRecorder::new();
//! let snapshotter = recorder.snapshotter();
//! let manager = KeyManager::new(MemoryStore::new());
//! // An application installs its recorder globally before this (`metrics::set_global_recorder`).
//! let layer = metrics::with_local_recorder(&recorder, || ApiKeyLayer::builder(manager).build())?;
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(|_: Request<Full<Bytes>>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::default()))
//! }));
//! service.oneshot(Request::get("/v1/events").body(Full::default())?).await?;
//!
//! let counted = snapshotter.snapshot().into_vec().into_iter().find(|(key, ..)| {
//!     key.key().name() == "keyward_rejections_total"
//!         && key.key().labels().any(|label| label.value() == "unauthorized")
//! });
//! assert!(matches!(counted, Some((.., DebugValue::Counter(1)))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::future::Future;

use keyward_core::KeyspaceName;

use crate::Rejection;

/// Every code of [`Rejection::code`], in the order of [`code_index`].
#[cfg(feature = "metrics")]
const CODES: [&str; 10] = [
    "unauthorized",
    "bad_request",
    "payload_too_large",
    "forbidden",
    "insufficient_scope",
    "rate_limit_exceeded",
    "usage_exceeded",
    "api_disabled",
    "store_unavailable",
    "rate_limiter_unavailable",
];

/// Where `rejection`'s code is in [`CODES`].
#[cfg(feature = "metrics")]
fn code_index(rejection: &Rejection) -> usize {
    match rejection {
        Rejection::MissingCredential | Rejection::InvalidToken => 0,
        Rejection::BadRequest(_) => 1,
        Rejection::PayloadTooLarge => 2,
        Rejection::SecretKeyRequired | Rejection::Forbidden(_) => 3,
        Rejection::InsufficientScope { .. } => 4,
        Rejection::RateLimited { .. } => 5,
        Rejection::UsageExceeded { .. } => 6,
        Rejection::ApiDisabled => 7,
        Rejection::StoreUnavailable => 8,
        Rejection::RateLimiterUnavailable => 9,
    }
}

/// The request and rejection counters of one layer.
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct Metrics {
    requests: ::metrics::Counter,
    rejections: [::metrics::Counter; CODES.len()],
    rate_limited: ::metrics::Counter,
}

/// Without the `metrics` feature: nothing.
#[cfg(not(feature = "metrics"))]
#[derive(Debug)]
pub(crate) struct Metrics;

#[cfg(feature = "metrics")]
impl Metrics {
    /// Registers the counters of the layer for `keyspace`.
    pub(crate) fn new(keyspace: &KeyspaceName) -> Self {
        let keyspace = keyspace.to_string();
        ::metrics::describe_counter!("keyward_requests_total", "Requests received by the API-key layer");
        ::metrics::describe_counter!("keyward_rejections_total", "Requests refused, by error code");
        ::metrics::describe_counter!(
            "keyward_rate_limited_total",
            "Requests refused for their key's rate limit"
        );
        Self {
            requests: ::metrics::counter!("keyward_requests_total", "keyspace" => keyspace.clone()),
            rejections: CODES.map(|code| {
                ::metrics::counter!("keyward_rejections_total", "keyspace" => keyspace.clone(), "code" => code)
            }),
            rate_limited: ::metrics::counter!("keyward_rate_limited_total", "keyspace" => keyspace),
        }
    }

    /// A request arrived.
    #[inline]
    pub(crate) fn request(&self) {
        self.requests.increment(1);
    }

    /// A request was refused for `rejection`.
    pub(crate) fn rejection(&self, rejection: &Rejection) {
        self.rejections[code_index(rejection)].increment(1);
        if let Rejection::RateLimited { .. } = rejection {
            self.rate_limited.increment(1);
        }
    }
}

#[cfg(not(feature = "metrics"))]
impl Metrics {
    pub(crate) fn new(_keyspace: &KeyspaceName) -> Self {
        Self
    }

    #[inline(always)]
    pub(crate) fn request(&self) {}

    #[inline(always)]
    pub(crate) fn rejection(&self, _rejection: &Rejection) {}
}

/// The cache and store counters of one layer's verifier.
#[cfg(feature = "metrics")]
#[derive(Debug)]
pub(crate) struct CacheMetrics {
    hit: ::metrics::Counter,
    negative_hit: ::metrics::Counter,
    miss: ::metrics::Counter,
    store_lookup: ::metrics::Histogram,
}

/// Without the `metrics` feature: nothing.
#[cfg(not(feature = "metrics"))]
#[derive(Debug)]
pub(crate) struct CacheMetrics;

#[cfg(feature = "metrics")]
impl CacheMetrics {
    /// Registers the cache counters and the store histogram for `keyspace`.
    pub(crate) fn new(keyspace: &KeyspaceName) -> Self {
        let keyspace = keyspace.to_string();
        ::metrics::describe_counter!("keyward_cache_lookups_total", "Key lookups, by cache result");
        ::metrics::describe_histogram!(
            "keyward_store_lookup_seconds",
            ::metrics::Unit::Seconds,
            "Time a key store lookup took on a cache miss"
        );
        let lookups = |result: &'static str| ::metrics::counter!("keyward_cache_lookups_total", "keyspace" => keyspace.clone(), "result" => result);
        Self {
            hit: lookups("hit"),
            negative_hit: lookups("negative_hit"),
            miss: lookups("miss"),
            store_lookup: ::metrics::histogram!("keyward_store_lookup_seconds", "keyspace" => keyspace.clone()),
        }
    }

    /// A verified key was in the cache.
    #[inline]
    pub(crate) fn hit(&self) {
        self.hit.increment(1);
    }

    /// The lookup is known to find nothing.
    #[inline]
    pub(crate) fn negative_hit(&self) {
        self.negative_hit.increment(1);
    }

    /// The caches did not know the lookup: the store is asked (or a lookup already asking it is
    /// waited for).
    pub(crate) fn miss(&self) {
        self.miss.increment(1);
    }

    /// `lookup`, timed.
    pub(crate) async fn store_lookup<T>(&self, lookup: impl Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let found = lookup.await;
        self.store_lookup.record(started.elapsed());
        found
    }
}

#[cfg(not(feature = "metrics"))]
impl CacheMetrics {
    pub(crate) fn new(_keyspace: &KeyspaceName) -> Self {
        Self
    }

    #[inline(always)]
    pub(crate) fn hit(&self) {}

    #[inline(always)]
    pub(crate) fn negative_hit(&self) {}

    #[inline(always)]
    pub(crate) fn miss(&self) {}

    #[inline(always)]
    pub(crate) fn store_lookup<F: Future>(&self, lookup: F) -> F {
        lookup
    }
}
