//! The layer's metrics (feature `metrics`), read from `metrics-util`'s debugging recorder: each
//! counter moves by what the requests sent through the layer do, and only store lookups are timed.

mod support;

use std::collections::HashMap;
use std::convert::Infallible;

use http::Request;
use keyward_core::{KeyManager, KeyspaceName};
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{ApiKeyLayer, Rejection, VerifiedKey};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::{Harness, Inbound, anonymous, bearer, send, service, unknown_token};
use tower::{ServiceBuilder, service_fn};

/// A metric by name and labels (sorted, `name=value`).
type Readings = HashMap<(String, Vec<String>), DebugValue>;

/// What moved since the last reading (the debugging recorder's snapshots take the values): each
/// counter's increase, each histogram's new samples.
fn read(snapshotter: &Snapshotter) -> Readings {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let mut labels: Vec<String> = key
                .key()
                .labels()
                .map(|label| format!("{}={}", label.key(), label.value()))
                .collect();
            labels.sort();
            ((key.key().name().to_owned(), labels), value)
        })
        .collect()
}

/// The counter `name` with `labels` (besides `keyspace=default`).
fn counter(readings: &Readings, name: &str, labels: &[&str]) -> u64 {
    let mut all: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
    all.push(format!("keyspace={}", KeyspaceName::default()));
    all.sort();
    match readings.get(&(name.to_owned(), all.clone())) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name} {all:?} is not a registered counter: {other:?}"),
    }
}

/// How many samples the store-lookup histogram holds.
fn store_lookups(readings: &Readings) -> usize {
    let key = (
        "keyward_store_lookup_seconds".to_owned(),
        vec![format!("keyspace={}", KeyspaceName::default())],
    );
    match readings.get(&key) {
        Some(DebugValue::Histogram(samples)) => samples.len(),
        other => panic!("the store-lookup histogram is not registered: {other:?}"),
    }
}

/// A layer of two requests an hour per key over `manager`, its handles registered with `recorder`.
fn layer(manager: &KeyManager, recorder: &DebuggingRecorder) -> ApiKeyLayer {
    metrics::with_local_recorder(recorder, || {
        ApiKeyLayer::builder(manager.clone())
            .rate_limits(RateLimits::new(Quota::per_hour(2)))
            .public("/health")
            .no_audit()
            .build()
    })
    .expect("a valid layer")
}

#[tokio::test]
async fn each_counter_moves_with_the_requests_through_the_layer() {
    let h = Harness::new();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let service = service(&layer(&h.manager, &recorder));
    let key = h.key("site_1").await;

    // Registered at build, all at zero. (Each reading takes what moved since the last one.)
    let start = read(&snapshotter);
    assert_eq!(counter(&start, "keyward_requests_total", &[]), 0);
    assert_eq!(
        counter(&start, "keyward_rejections_total", &["code=unauthorized"]),
        0
    );
    assert_eq!(store_lookups(&start), 0);

    // A key's first request: a miss, one store lookup, timed.
    assert_eq!(
        send(&service, bearer("/v1/a", key.token.expose())).await.status,
        200
    );
    let first = read(&snapshotter);
    assert_eq!(counter(&first, "keyward_requests_total", &[]), 1);
    assert_eq!(
        counter(&first, "keyward_cache_lookups_total", &["result=miss"]),
        1
    );
    assert_eq!(counter(&first, "keyward_cache_lookups_total", &["result=hit"]), 0);
    assert_eq!(store_lookups(&first), 1);

    // Its second: a hit, not timed. Its third: a hit, rate limited.
    assert_eq!(
        send(&service, bearer("/v1/a", key.token.expose())).await.status,
        200
    );
    assert_eq!(
        send(&service, bearer("/v1/a", key.token.expose())).await.status,
        429
    );
    let limited = read(&snapshotter);
    assert_eq!(counter(&limited, "keyward_requests_total", &[]), 2);
    assert_eq!(
        counter(&limited, "keyward_cache_lookups_total", &["result=hit"]),
        2
    );
    assert_eq!(
        counter(&limited, "keyward_cache_lookups_total", &["result=miss"]),
        0
    );
    assert_eq!(store_lookups(&limited), 0);
    assert_eq!(counter(&limited, "keyward_rate_limited_total", &[]), 1);
    assert_eq!(
        counter(
            &limited,
            "keyward_rejections_total",
            &["code=rate_limit_exceeded"]
        ),
        1
    );
    assert_eq!(
        counter(&limited, "keyward_rejections_total", &["code=unauthorized"]),
        0
    );

    // An unknown token twice (a miss, then the negative cache), no key, garbage, a public route.
    let unknown = unknown_token();
    for _ in 0..2 {
        assert_eq!(send(&service, bearer("/v1/a", &unknown)).await.status, 401);
    }
    assert_eq!(send(&service, anonymous("/v1/a")).await.status, 401);
    assert_eq!(send(&service, bearer("/v1/a", "not-a-token")).await.status, 401);
    assert_eq!(send(&service, anonymous("/health")).await.status, 200);
    let refused = read(&snapshotter);
    assert_eq!(counter(&refused, "keyward_requests_total", &[]), 5);
    assert_eq!(
        counter(&refused, "keyward_rejections_total", &["code=unauthorized"]),
        4
    );
    assert_eq!(
        counter(&refused, "keyward_rejections_total", &["code=bad_request"]),
        0
    );
    assert_eq!(
        counter(&refused, "keyward_cache_lookups_total", &["result=miss"]),
        1
    );
    assert_eq!(
        counter(&refused, "keyward_cache_lookups_total", &["result=negative_hit"]),
        1
    );
    assert_eq!(
        counter(&refused, "keyward_cache_lookups_total", &["result=hit"]),
        0
    );
    assert_eq!(store_lookups(&refused), 1);
    assert_eq!(counter(&refused, "keyward_rate_limited_total", &[]), 0);

    // Two credentials that disagree: 400.
    let mut conflicting = bearer("/v1/a", key.token.expose());
    conflicting
        .headers_mut()
        .insert("x-api-key", unknown.parse().expect("a header value"));
    assert_eq!(send(&service, conflicting).await.status, 400);
    let conflict = read(&snapshotter);
    assert_eq!(
        counter(&conflict, "keyward_rejections_total", &["code=bad_request"]),
        1
    );
    assert_eq!(
        counter(&conflict, "keyward_cache_lookups_total", &["result=hit"]),
        0
    );
}

#[tokio::test]
async fn refusals_rendered_for_a_verified_key_are_counted_too() {
    let h = Harness::new();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A handler that refuses as keyward-axum's scope guard does.
    let service = ServiceBuilder::new()
        .layer(layer(&h.manager, &recorder))
        .service(service_fn(|request: Request<Inbound>| async move {
            let key = request
                .extensions()
                .get::<VerifiedKey>()
                .expect("set by the layer");
            let missing = vec!["reports:read".to_owned()];
            Ok::<_, Infallible>(key.reject(&Rejection::InsufficientScope { missing }))
        }));
    let key = h.key("site_1").await;
    assert_eq!(
        send(&service, bearer("/v1/a", key.token.expose())).await.status,
        403
    );
    let readings = read(&snapshotter);
    assert_eq!(
        counter(
            &readings,
            "keyward_rejections_total",
            &["code=insufficient_scope"]
        ),
        1
    );
    assert_eq!(counter(&readings, "keyward_requests_total", &[]), 1);
}
