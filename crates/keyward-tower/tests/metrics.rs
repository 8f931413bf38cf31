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

const REQUESTS: &str = "keyward_requests_total";
const REJECTIONS: &str = "keyward_rejections_total";
const RATE_LIMITED: &str = "keyward_rate_limited_total";
const LOOKUPS: &str = "keyward_cache_lookups_total";

/// Asserts what moved since the last reading: each `(metric, label, increase)` (an empty label
/// for none besides the keyspace), and how many store lookups were timed.
#[track_caller]
fn assert_moved(snapshotter: &Snapshotter, step: &str, counters: &[(&str, &str, u64)], timed: usize) {
    let readings = read(snapshotter);
    for (name, label, expected) in counters {
        let labels: &[&str] = if label.is_empty() { &[] } else { &[label] };
        assert_eq!(
            counter(&readings, name, labels),
            *expected,
            "{step}: {name} {label}"
        );
    }
    assert_eq!(store_lookups(&readings), timed, "{step}: store lookups timed");
}

#[tokio::test]
async fn each_counter_moves_with_the_requests_through_the_layer() {
    let h = Harness::new();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let service = service(&layer(&h.manager, &recorder));
    let key = h.key("site_1").await;
    let token = key.token.expose();

    // Registered at build, all at zero. (Each reading takes what moved since the last one.)
    let registered = [
        (REQUESTS, "", 0),
        (REJECTIONS, "code=unauthorized", 0),
        (LOOKUPS, "result=miss", 0),
    ];
    assert_moved(&snapshotter, "built", &registered, 0);

    // A key's first request: a miss, one store lookup, timed.
    assert_eq!(send(&service, bearer("/v1/a", token)).await.status, 200);
    let first = [
        (REQUESTS, "", 1),
        (LOOKUPS, "result=miss", 1),
        (LOOKUPS, "result=hit", 0),
    ];
    assert_moved(&snapshotter, "first request", &first, 1);

    // Its second: a hit, not timed. Its third: a hit, rate limited.
    for status in [200, 429] {
        assert_eq!(send(&service, bearer("/v1/a", token)).await.status, status);
    }
    let limited = [
        (REQUESTS, "", 2),
        (LOOKUPS, "result=hit", 2),
        (LOOKUPS, "result=miss", 0),
        (RATE_LIMITED, "", 1),
        (REJECTIONS, "code=rate_limit_exceeded", 1),
        (REJECTIONS, "code=unauthorized", 0),
    ];
    assert_moved(&snapshotter, "cached and limited", &limited, 0);

    // An unknown token twice (a miss, then the negative cache), no key, garbage, a public route.
    let unknown = unknown_token();
    for request in [
        bearer("/v1/a", &unknown),
        bearer("/v1/a", &unknown),
        anonymous("/v1/a"),
        bearer("/v1/a", "not-a-token"),
    ] {
        assert_eq!(send(&service, request).await.status, 401);
    }
    assert_eq!(send(&service, anonymous("/health")).await.status, 200);
    let refused = [
        (REQUESTS, "", 5),
        (REJECTIONS, "code=unauthorized", 4),
        (REJECTIONS, "code=bad_request", 0),
        (LOOKUPS, "result=miss", 1),
        (LOOKUPS, "result=negative_hit", 1),
        (LOOKUPS, "result=hit", 0),
        (RATE_LIMITED, "", 0),
    ];
    assert_moved(&snapshotter, "refused", &refused, 1);

    // Two credentials that disagree: 400, before any lookup.
    let mut conflicting = bearer("/v1/a", token);
    conflicting
        .headers_mut()
        .insert("x-api-key", unknown.parse().expect("a header value"));
    assert_eq!(send(&service, conflicting).await.status, 400);
    let conflict = [(REJECTIONS, "code=bad_request", 1), (LOOKUPS, "result=hit", 0)];
    assert_moved(&snapshotter, "conflicting", &conflict, 0);
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
    let refused = [(REJECTIONS, "code=insufficient_scope", 1), (REQUESTS, "", 1)];
    assert_moved(&snapshotter, "refused by the handler", &refused, 1);
}
