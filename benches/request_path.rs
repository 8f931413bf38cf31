//! Request-path benchmarks: what [`ApiKeyLayer`] adds to an axum request, next to bare axum, to
//! tower-http's `ValidateRequestHeaderLayer::bearer` with one fixed token (the least any
//! authentication costs), to the stack people write by hand today (`tower_governor` keyed by the API key, plus a bearer
//! check in `axum::middleware::from_fn_with_state` that looks a SHA-256 up in a `HashMap`), and
//! to a floor: the side effects keyward's behaviour requires on a cache hit and nothing else
//! (see [`Floor`]).
//!
//! Every variant drives the same kind of axum `Router` (one route, a handler returning a static
//! string) in process with `oneshot` on a current-thread tokio runtime, and builds its request the
//! same way inside the measured closure, so request construction cancels out of the differences.
//! Middleware sits in one of two places: over each route (`Router::layer`, where axum boxes the
//! wrapped route's service clone and future on every request) or around the whole router
//! (`ServiceBuilder`, or `Layer::layer` on the router, where it boxes nothing); variants named
//! `…_around_router` use the second.
//!
//! Four groups: `request_path` (each variant's time per request), `added_over_bare_axum` (what a
//! variant adds, measured in alternating blocks against bare axum, which holds still on a machine
//! whose speed drifts), `keyward_vs_handwritten` (keyward's added cost, the hand-written stack's
//! and the floor's, measured in the same alternating blocks, and keyward's ratio to the other two)
//! and `steps` (the parts of the path on their own).
//!
//! Run with `cargo bench --bench request_path`; a whole run takes about three minutes once built.

mod common;
#[path = "common/handwritten.rs"]
mod handwritten;

use std::collections::HashMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use criterion::{Criterion, criterion_group, criterion_main};
use governor::middleware::StateInformationMiddleware;
use keyward_core::store::SqliteStore;
use keyward_core::token::TokenFormat;
use keyward_core::{KeyId, KeyManager, LookupKey, MemoryStore, NewKey, TenantId};
use keyward_tower::ApiKeyLayer;
use keyward_tower::CacheConfig;
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::verify::CachedKey;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::runtime::Runtime;
use tower::{Layer, ServiceExt};

use common::{BURST, app, background_runtime, bearer, high_quota, request, request_runtime};
use handwritten::{Tenant, bearer_check, handwritten_parts, presented_token};

// ---------------------------------------------------------------------------------------------
// The hand-written stack.

/// A layer that does nothing but pass the request on: the floor any `Router::layer` middleware
/// pays (axum boxes the wrapped route's service and future), measured so that what the others do
/// on top of it can be told apart.
#[derive(Clone)]
struct PassThrough;

impl<S> tower::Layer<S> for PassThrough {
    type Service = PassThroughService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PassThroughService(inner)
    }
}

#[derive(Clone)]
struct PassThroughService<S>(S);

impl<S, R> tower::Service<R> for PassThroughService<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.0.call(request)
    }
}

/// Authentication outside (it runs first), the per-key limiter inside it, with the same
/// `X-RateLimit-*` headers keyward sends; each route wrapped with `Router::layer`.
fn handwritten_stack(token: &str) -> Router {
    let (keys, governor) = handwritten_parts(&[token], BURST);
    app()
        .layer(governor)
        .layer(middleware::from_fn_with_state(keys, bearer_check))
}

/// The hand-written stack around the whole router, as `ServiceBuilder` puts it.
fn handwritten_around(token: &str) -> impl Variant {
    let (keys, governor) = handwritten_parts(&[token], BURST);
    tower::ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(keys, bearer_check))
        .layer(governor)
        .service(app().with_state(()))
}

/// tower-http's fixed-token check over each route: one `Authorization` value compared with the
/// one it was built with, nothing hashed, looked up, limited or added to the response. The least
/// any authentication costs: a reference, not an alternative (tower-http deprecates it as too
/// basic for real applications).
#[expect(deprecated, reason = "the fixed-token layer is the reference being measured")]
fn fixed_bearer(token: &str) -> Router {
    use tower_http::auth::require_authorization::Bearer;
    use tower_http::validate_request::ValidateRequestHeaderLayer;
    app().layer(ValidateRequestHeaderLayer::<Bearer<Body>>::bearer(token))
}

// ---------------------------------------------------------------------------------------------
// The floor.

/// The governor limiter the floor checks, built as keyward's in-process limiter builds it.
type KeyedLimiter = governor::RateLimiter<
    KeyId,
    governor::state::keyed::DefaultKeyedStateStore<KeyId, foldhash::fast::RandomState>,
    governor::clock::DefaultClock,
    StateInformationMiddleware,
>;

/// The least any middleware with keyward's behaviour on a cache hit must do, with the same crates
/// and nothing decided: hash the presented token and compare it in constant time with the one key
/// it knows, read the clock, take one governor check keyed by the key's lineage, write the request
/// id into the request and the key into its extensions, and add the request id and the three
/// rate-limit headers to the response. Nothing is minted (the request id and the header values
/// are static text), parsed, looked up, cached, counted or recorded, and no error path exists: a
/// lower bound, not a usable layer. With [`Steps`], it also takes three steps the issue requires
/// that the floor leaves out.
#[derive(Clone)]
struct Floor {
    expected: [u8; 32],
    limiter: Arc<KeyedLimiter>,
    lineage: KeyId,
    key: Arc<Tenant>,
    steps: Option<Arc<Steps>>,
}

/// The token parsed with its checksum (garbage is refused before any lookup), a random request id
/// minted as keyward mints it, and the key found by its hash in a map.
struct Steps {
    format: TokenFormat,
    keys: HashMap<[u8; 32], Arc<Tenant>, foldhash::fast::RandomState>,
}

impl<S> tower::Layer<S> for Floor {
    type Service = FloorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FloorService {
            inner,
            floor: self.clone(),
        }
    }
}

#[derive(Clone)]
struct FloorService<S> {
    inner: S,
    floor: Floor,
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
const REQUEST_ID: HeaderValue = HeaderValue::from_static("req_0123456789abcdefghijkl");
const NUMBER: HeaderValue = HeaderValue::from_static("3999");

impl<S, B> tower::Service<Request<B>> for FloorService<S>
where
    S: tower::Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let token = presented_token(request.headers()).unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let known = bool::from(digest.ct_eq(&self.floor.expected));
        let request_id = match &self.floor.steps {
            None => REQUEST_ID,
            Some(steps) => {
                black_box(steps.format.parse(token).is_ok());
                black_box(steps.keys.contains_key(&digest));
                keyward_tower::request_id::mint()
            }
        };
        let now = keyward_core::time::Timestamp::now();
        let allowed = self.floor.limiter.check_key(&self.floor.lineage).is_ok();
        black_box((known, now, allowed));
        request.headers_mut().insert(X_REQUEST_ID, request_id.clone());
        request.extensions_mut().insert(self.floor.key.clone());
        FloorFuture {
            inner: self.inner.call(request),
            request_id: Some(request_id),
        }
    }
}

pin_project_lite::pin_project! {
    struct FloorFuture<F> {
        #[pin]
        inner: F,
        request_id: Option<HeaderValue>,
    }
}

impl<F, E> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        let request_id = this.request_id.take().expect("polled after completion");
        let headers = response.headers_mut();
        headers.insert(X_REQUEST_ID, request_id);
        headers.insert(X_RATELIMIT_LIMIT, NUMBER);
        headers.insert(X_RATELIMIT_REMAINING, NUMBER);
        headers.insert(X_RATELIMIT_RESET, NUMBER);
        std::task::Poll::Ready(Ok(response))
    }
}

/// A governor limiter as the in-process limiter builds it (keyed by lineage in a map with
/// foldhash's hasher, with the state middleware that feeds the rate-limit headers), with the
/// benchmarks' quota.
fn keyed_limiter() -> KeyedLimiter {
    let quota = governor::Quota::with_period(Duration::from_nanos(1))
        .expect("a non-zero period")
        .allow_burst(std::num::NonZeroU32::new(BURST).expect("non-zero"));
    governor::RateLimiter::dashmap_with_hasher(quota, foldhash::fast::RandomState::default())
        .with_middleware::<StateInformationMiddleware>()
}

/// The floor over each route of the application (`Router::layer`).
fn floor(token: &str, lineage: KeyId, steps: bool) -> Router {
    app().layer(floor_layer(token, lineage, steps))
}

/// The floor, knowing `token`'s key; with `steps`, taking the [`Steps`].
fn floor_layer(token: &str, lineage: KeyId, steps: bool) -> Floor {
    let expected: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let key = Arc::new(Tenant {
        id: Arc::from("site_1"),
    });
    let steps = steps.then(|| {
        let mut keys = HashMap::default();
        keys.insert(expected, key.clone());
        Arc::new(Steps {
            format: TokenFormat::default(),
            keys,
        })
    });
    Floor {
        expected,
        limiter: Arc::new(keyed_limiter()),
        lineage,
        key,
        steps,
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

struct Fixture {
    rt: Runtime,
    /// Runs the layers' background tasks.
    background: Runtime,
    manager: KeyManager,
    token: String,
    /// The key's lineage, which the limiters are keyed by.
    lineage: KeyId,
    credential: HeaderValue,
}

impl Fixture {
    fn new() -> Self {
        let rt = request_runtime();
        let background = background_runtime();
        let manager = KeyManager::new(MemoryStore::new());
        let created = rt
            .block_on(manager.create(NewKey::new(TenantId::new("site_1").expect("a valid tenant id"))))
            .expect("a key is created");
        let token = created.token.expose().to_owned();
        let credential = bearer(&token);
        Self {
            rt,
            background,
            manager,
            token,
            lineage: created.key.lineage,
            credential,
        }
    }

    /// Builds a keyward layer with its background tasks on the background runtime, and the router
    /// it wraps.
    fn keyward(
        &self,
        configure: impl FnOnce(keyward_tower::ApiKeyLayerBuilder) -> keyward_tower::ApiKeyLayerBuilder,
    ) -> (Router, ApiKeyLayer) {
        let layer = common::keyward_layer(&self.manager, &self.background, configure);
        (app().layer(layer.clone()), layer)
    }

    /// Sends one request outside the measurement and returns its status.
    fn status<S, B>(&self, service: &S, credential: &HeaderValue) -> StatusCode
    where
        S: tower::Service<Request<Body>, Response = axum::http::Response<B>, Error = Infallible> + Clone,
    {
        let Ok(response) = self.rt.block_on(service.clone().oneshot(request(credential)));
        response.status()
    }
}

/// A key in a SQLite file of its own (a temporary directory under the target directory).
struct SqliteFixture {
    manager: KeyManager,
    credential: HeaderValue,
    _dir: tempfile::TempDir,
}

impl SqliteFixture {
    fn new(fx: &Fixture) -> Self {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
        // The pool's housekeeping and the change-log reader run on the background runtime.
        let store = fx
            .background
            .block_on(SqliteStore::open(&url))
            .expect("the SQLite store opens");
        let manager = KeyManager::new(store);
        let created = fx
            .background
            .block_on(manager.create(NewKey::new(TenantId::new("site_1").expect("a valid tenant id"))))
            .expect("a key is created");
        Self {
            manager,
            credential: bearer(created.token.expose()),
            _dir: dir,
        }
    }

    /// keyward over each route of the application, on this store, with `cache` and no recording
    /// (which would add the store's writes to what is measured).
    fn router(&self, fx: &Fixture, cache: CacheConfig) -> Router {
        app().layer(common::keyward_layer(&self.manager, &fx.background, |layer| {
            layer.cache(cache).no_audit()
        }))
    }
}

/// A token of the right shape whose checksum is wrong: refused before any lookup.
fn garbage(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let last = bytes.last_mut().expect("tokens are not empty");
    *last = if *last == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII stays UTF-8")
}

fn bench_request_path(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("request_path");

    // `with_state(())` turns each route's handler (and the layers over it) into a ready service
    // once, as `axum::serve` does through `into_make_service`; a `Router` called without it
    // rebuilds them on every request, a cost no server pays.
    let mut measure = |name: &str, router: Router, credential: &HeaderValue, expect: StatusCode| {
        measure_service(&mut group, &fx, name, router.with_state(()), credential, expect);
    };

    measure("bare_axum", app(), &fx.credential, StatusCode::OK);
    measure(
        "pass_through_layer",
        app().layer(PassThrough),
        &fx.credential,
        StatusCode::OK,
    );

    // The default layer records usage and audit events: each request hands a record to the
    // writer's channel (the writer drains it on its own schedule, so no request wakes it).
    let (keyward, layer) = fx.keyward(|layer| layer);
    measure(
        "keyward_cache_hit",
        keyward.clone(),
        &fx.credential,
        StatusCode::OK,
    );
    if let Some(audit) = layer.audit() {
        // Records the writer could not keep up with; they cost the request path less than
        // delivered ones, so a large count would flatter the measurement.
        eprintln!("keyward_cache_hit: {} audit records dropped", audit.dropped());
    }
    measure(
        "keyward_cache_hit_no_audit",
        fx.keyward(keyward_tower::ApiKeyLayerBuilder::no_audit).0,
        &fx.credential,
        StatusCode::OK,
    );

    // The same, with the per-thread front cache off: every hit is a moka `get`.
    let moka_only = CacheConfig {
        per_thread_front: false,
        ..CacheConfig::default()
    };
    measure(
        "keyward_cache_hit_no_audit_moka_only",
        fx.keyward(|layer| layer.no_audit().cache(moka_only)).0,
        &fx.credential,
        StatusCode::OK,
    );

    measure(
        "handwritten_stack",
        handwritten_stack(&fx.token),
        &fx.credential,
        StatusCode::OK,
    );
    measure(
        "tower_http_fixed_bearer",
        fixed_bearer(&fx.token),
        &fx.credential,
        StatusCode::OK,
    );
    measure(
        "floor",
        floor(&fx.token, fx.lineage.clone(), false),
        &fx.credential,
        StatusCode::OK,
    );
    measure(
        "floor_with_steps",
        floor(&fx.token, fx.lineage.clone(), true),
        &fx.credential,
        StatusCode::OK,
    );

    // A cache that holds nothing: moka with `max_capacity(0)` disables its map (inserts are
    // dropped, reads return `None` without looking), so every request takes the miss path in
    // full: the negative-cache probe, the single-flight registration, the boxed slow future, the
    // store's `find` (a mutex and a clone of the record), the `CachedKey` built for it. A pool of
    // keys or a short TTL would instead mix hits into the samples, and revoking or rotating keys
    // would measure the store's writes too.
    let no_cache = CacheConfig {
        capacity: 0,
        ..CacheConfig::default()
    };
    measure(
        "keyward_cache_miss",
        fx.keyward(|layer| layer.cache(no_cache)).0,
        &fx.credential,
        StatusCode::OK,
    );
    measure(
        "keyward_cache_miss_no_audit",
        fx.keyward(|layer| layer.no_audit().cache(no_cache)).0,
        &fx.credential,
        StatusCode::OK,
    );
    // The same on a SQLite file (recording off, as above, so that the writer's inserts do not
    // compete with the reads): the store's `find` is an indexed query on a pooled connection
    // (its own thread), answered through a channel.
    let sqlite = SqliteFixture::new(&fx);
    measure(
        "keyward_cache_miss_sqlite",
        sqlite.router(&fx, no_cache),
        &sqlite.credential,
        StatusCode::OK,
    );

    // A key over its budget: the 429 path (the refusal in the envelope, `Retry-After` and the
    // rate-limit headers), which must cost no more than the allow path. The budget of one request
    // an hour is spent outside the measurement.
    let (limited, _) = fx.keyward(|layer| layer.rate_limits(RateLimits::new(Quota::per_hour(1))));
    let spend = limited.clone().with_state(());
    assert_eq!(fx.status(&spend, &fx.credential), StatusCode::OK);
    measure(
        "keyward_rate_limited",
        limited,
        &fx.credential,
        StatusCode::TOO_MANY_REQUESTS,
    );

    measure(
        "keyward_garbage_token",
        keyward,
        &bearer(&garbage(&fx.token)),
        StatusCode::UNAUTHORIZED,
    );

    // Around the whole router (`ServiceBuilder`, or `Layer::layer` on the router), instead of
    // `Router::layer`, which wraps every route and boxes each route's service clone and future.
    let ok = StatusCode::OK;
    let pass_through = PassThrough.layer(app().with_state(()));
    measure_service(
        &mut group,
        &fx,
        "pass_through_around_router",
        pass_through,
        &fx.credential,
        ok,
    );
    let keyward = fx.keyward(|layer| layer).1.layer(app().with_state(()));
    measure_service(
        &mut group,
        &fx,
        "keyward_cache_hit_around_router",
        keyward,
        &fx.credential,
        ok,
    );
    let handwritten = handwritten_around(&fx.token);
    measure_service(
        &mut group,
        &fx,
        "handwritten_stack_around_router",
        handwritten,
        &fx.credential,
        ok,
    );

    group.finish();
}

/// Measures one variant. Warms caches and limiter state, and checks the variant does what it
/// claims, before and after the measurement (after: the limiter never refused).
fn measure_service<S, B>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    fx: &Fixture,
    name: &str,
    service: S,
    credential: &HeaderValue,
    expect: StatusCode,
) where
    S: tower::Service<Request<Body>, Response = axum::http::Response<B>, Error = Infallible> + Clone,
{
    assert_eq!(fx.status(&service, credential), expect, "{name} before the run");
    group.bench_function(name, |b| {
        b.iter(|| {
            let response = fx.rt.block_on(service.clone().oneshot(request(credential)));
            black_box(response)
        });
    });
    assert_eq!(fx.status(&service, credential), expect, "{name} after the run");
}

// ---------------------------------------------------------------------------------------------
// Added cost, measured in pairs.

/// Requests sent to one service before switching to the other.
const BLOCK: u64 = 32;

/// What each variant adds to bare axum, measured in pairs: blocks of requests through the variant
/// alternate with blocks through bare axum, and the measurement is the variant's time minus bare
/// axum's. On a shared machine whose speed drifts over seconds, both halves of a pair see the same
/// machine, so the difference holds still where two separate medians taken a minute apart do not.
fn bench_added_cost(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("added_over_bare_axum");
    let bare = app().with_state(());
    let mut measure = |name: &str, variant: &dyn Fn(u64) -> Duration| {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let [with, without] = interleaved([variant, &runner(&fx, &bare)], iters);
                with.saturating_sub(without)
            });
        });
    };
    // Each route wrapped with `Router::layer`.
    let per_route = |router: Router| checked(&fx, router.with_state(()));
    let empty_from_fn = app().layer(middleware::from_fn(|request: Request<Body>, next: Next| {
        next.run(request)
    }));
    let (keyward, _layer) = fx.keyward(|layer| layer);
    let variants = [
        ("pass_through_layer", per_route(app().layer(PassThrough))),
        ("empty_from_fn", per_route(empty_from_fn)),
        ("keyward_cache_hit", per_route(keyward)),
        (
            "keyward_cache_hit_no_audit",
            per_route(fx.keyward(keyward_tower::ApiKeyLayerBuilder::no_audit).0),
        ),
        ("handwritten_stack", per_route(handwritten_stack(&fx.token))),
        ("tower_http_fixed_bearer", per_route(fixed_bearer(&fx.token))),
        // What keyward's behaviour costs at the least, with the same crates (see `Floor`).
        ("floor", per_route(floor(&fx.token, fx.lineage.clone(), false))),
        (
            "floor_with_steps",
            per_route(floor(&fx.token, fx.lineage.clone(), true)),
        ),
        // Authentication alone: what recording and rate limiting (with its three headers) add
        // shows against the two above.
        (
            "keyward_cache_hit_auth_only",
            per_route(fx.keyward(|layer| layer.no_audit().no_rate_limit()).0),
        ),
    ];
    for (name, variant) in &variants {
        measure(name, &runner(&fx, variant));
    }
    // The same middleware around the whole router (`ServiceBuilder`), where axum boxes nothing
    // for it (a pass-through layer there adds too little to measure in pairs: see `request_path`).
    let keyward = around(&fx, &fx.keyward(|layer| layer).1);
    measure("keyward_cache_hit_around_router", &runner(&fx, &keyward));
    let handwritten = checked(&fx, handwritten_around(&fx.token));
    measure("handwritten_stack_around_router", &runner(&fx, &handwritten));
    let floor = around(&fx, &floor_layer(&fx.token, fx.lineage.clone(), false));
    measure("floor_around_router", &runner(&fx, &floor));
    group.finish();
}

/// `layer` around the whole application, once it has answered a request with 200.
fn around<L>(fx: &Fixture, layer: &L) -> L::Service
where
    L: Layer<Router>,
    L::Service: Variant,
{
    checked(fx, layer.layer(app().with_state(())))
}

/// `service`, once it has answered a request with 200.
fn checked<S: Variant>(fx: &Fixture, service: S) -> S {
    assert_eq!(fx.status(&service, &fx.credential), StatusCode::OK);
    service
}

/// A service the benchmarks send requests through: a router, or layers around one.
trait Variant: tower::Service<Request<Body>, Response = Response, Error = Infallible> + Clone {}

impl<S> Variant for S where S: tower::Service<Request<Body>, Response = Response, Error = Infallible> + Clone {}

/// Sends requests through one service: `run(n)` is the time `n` requests take, one after another.
fn runner<'a>(fx: &'a Fixture, service: &'a impl Variant) -> impl Fn(u64) -> Duration + 'a {
    move |n| {
        let start = Instant::now();
        for _ in 0..n {
            let Ok(response) = fx.rt.block_on(service.clone().oneshot(request(&fx.credential)));
            black_box(response);
        }
        start.elapsed()
    }
}

/// The time `iters` requests take through each of `runs`' services, sent in blocks that take
/// turns (which service goes first moves on each round).
fn interleaved<const N: usize>(runs: [&dyn Fn(u64) -> Duration; N], iters: u64) -> [Duration; N] {
    let mut times = [Duration::ZERO; N];
    let mut left = iters;
    let mut first = 0;
    while left > 0 {
        let n = left.min(BLOCK);
        left -= n;
        for turn in 0..N {
            let at = (first + turn) % N;
            times[at] += runs[at](n);
        }
        first = (first + 1) % N;
    }
    times
}

/// keyward's added cost next to the hand-written stack's and the floor's, measured together: blocks
/// through bare axum, keyward, the hand-written stack and the floor take turns, so that all four
/// see the same machine. Criterion reports keyward's added time; the ratios of keyward's added
/// cost to the other two, one per sample, are printed after each variant (the target against the
/// hand-written stack is at most 0.9, against the floor at most 1.25).
fn bench_against_handwritten(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("keyward_vs_handwritten");
    let bare = app().with_state(());
    let mut measure = |name: &str, keyward: &dyn Fn(u64) -> Duration, handwritten, floor| {
        let (mut to_handwritten, mut to_floor) = (Vec::new(), Vec::new());
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let [bare, ours, theirs, least] =
                    interleaved([&runner(&fx, &bare), keyward, handwritten, floor], iters);
                let ours = ours.saturating_sub(bare);
                for (ratios, other) in [(&mut to_handwritten, theirs), (&mut to_floor, least)] {
                    let other = other.saturating_sub(bare);
                    if !other.is_zero() {
                        ratios.push(ours.as_secs_f64() / other.as_secs_f64());
                    }
                }
                ours
            });
        });
        for (ratios, other) in [
            (to_handwritten, "the hand-written stack's"),
            (to_floor, "the floor's"),
        ] {
            print_ratios(name, other, ratios);
        }
    };
    // Every middleware over each route (`Router::layer`).
    let handwritten = checked(&fx, handwritten_stack(&fx.token).with_state(()));
    let floor = checked(&fx, floor(&fx.token, fx.lineage.clone(), false).with_state(()));
    let (handwritten, floor) = (runner(&fx, &handwritten), runner(&fx, &floor));
    for (name, keyward) in [
        ("keyward_cache_hit", fx.keyward(|layer| layer).0),
        (
            "keyward_cache_hit_no_audit",
            fx.keyward(keyward_tower::ApiKeyLayerBuilder::no_audit).0,
        ),
    ] {
        let keyward = checked(&fx, keyward.with_state(()));
        measure(name, &runner(&fx, &keyward), &handwritten, &floor);
    }
    // Every middleware around the whole router (`ServiceBuilder`).
    let handwritten = checked(&fx, handwritten_around(&fx.token));
    let floor = around(&fx, &floor_layer(&fx.token, fx.lineage.clone(), false));
    let (handwritten, floor) = (runner(&fx, &handwritten), runner(&fx, &floor));
    for (name, keyward) in [
        ("keyward_cache_hit_around_router", fx.keyward(|layer| layer).1),
        (
            "keyward_cache_hit_around_router_no_audit",
            fx.keyward(keyward_tower::ApiKeyLayerBuilder::no_audit).1,
        ),
    ] {
        let keyward = around(&fx, &keyward);
        measure(name, &runner(&fx, &keyward), &handwritten, &floor);
    }
    group.finish();
}

/// Prints the median and range of one variant's ratios to `other`'s added cost.
fn print_ratios(name: &str, other: &str, mut ratios: Vec<f64>) {
    ratios.sort_by(f64::total_cmp);
    if let (Some(low), Some(high)) = (ratios.first(), ratios.last()) {
        eprintln!(
            "keyward_vs_handwritten/{name}: added cost over {other}, median {:.2} (samples \
             {low:.2}-{high:.2}, {} of them)",
            ratios[ratios.len() / 2],
            ratios.len(),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The steps on their own.

fn bench_steps(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("steps");

    let input = [0x5a_u8; 48];
    group.bench_function("sha256_48_bytes", |b| {
        b.iter(|| Sha256::digest(black_box(input)));
    });

    let format = TokenFormat::default();
    group.bench_function("token_parse", |b| {
        b.iter(|| {
            let parsed = format.parse(black_box(&fx.token)).expect("a valid token");
            black_box(parsed.prefix());
        });
    });
    group.bench_function("token_present", |b| {
        b.iter(|| fx.manager.present(black_box(&fx.token)).expect("a valid token"));
    });

    let presented = fx.manager.present(&fx.token).expect("a valid token");
    let record = fx
        .rt
        .block_on(fx.manager.store().find(&presented.lookup))
        .expect("the memory store answers")
        .expect("the key is stored");
    let limits = high_quota();
    let cached = Arc::new(CachedKey {
        fingerprint: record.fingerprint(),
        quota: limits.quota_for(&record.tier),
        grace: None,
        key: record,
    });
    // Built as the layer's verifier builds its cache.
    let cache: moka::sync::Cache<LookupKey, Arc<CachedKey>> = moka::sync::Cache::builder()
        .max_capacity(CacheConfig::default().capacity)
        .time_to_live(CacheConfig::default().ttl)
        .build();
    cache.insert(presented.lookup, cached.clone());
    group.bench_function("moka_get_hit", |b| {
        b.iter(|| cache.get(black_box(&presented.lookup)).expect("cached"));
    });

    let limiter = keyed_limiter();
    let lineage: KeyId = cached.key.lineage.clone();
    group.bench_function("governor_keyed_check", |b| {
        b.iter(|| limiter.check_key(black_box(&lineage)).expect("under the quota"));
    });

    group.bench_function("request_id_mint", |b| {
        b.iter(keyward_tower::request_id::mint);
    });

    // A request's extensions behind axum and keyward: four values of four types (axum's three
    // and the verified key). `http::Extensions` starts its map empty, so the fourth insert grows
    // it; the same map made with room for four (the change proposed in docs/http-extensions.md)
    // does not.
    group.bench_function("extensions_four_inserts", |b| {
        b.iter(|| {
            let mut extensions = axum::http::Extensions::new();
            extensions.insert(1_u8);
            extensions.insert(2_u16);
            extensions.insert(3_u32);
            extensions.insert(4_u64);
            black_box(extensions)
        });
    });
    group.bench_function("any_map_four_inserts", |b| {
        b.iter(|| black_box(any_map_four_inserts(AnyMap::default())));
    });
    group.bench_function("any_map_four_inserts_room_for_four", |b| {
        b.iter(|| {
            let map = AnyMap::with_capacity_and_hasher(4, std::hash::BuildHasherDefault::default());
            black_box(any_map_four_inserts(map))
        });
    });

    // The request path's one clock read (the coarse wall clock on Linux).
    group.bench_function("timestamp_now", |b| {
        b.iter(keyward_core::time::Timestamp::now);
    });

    // The request id and the rate-limit headers written into a response's map, with names cloned
    // from `static`s (each clone a call through `Bytes`' vtable) or made from `const`s, as
    // `http`'s standard names and tower-http's `x-request-id` are.
    static STATIC_NAMES: [HeaderName; 4] = [
        HeaderName::from_static("x-request-id"),
        HeaderName::from_static("x-ratelimit-limit"),
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderName::from_static("x-ratelimit-reset"),
    ];
    group.bench_function("four_headers_const_names", |b| {
        b.iter(|| {
            let mut headers = axum::http::HeaderMap::with_capacity(4);
            headers.insert(X_REQUEST_ID, NUMBER);
            headers.insert(X_RATELIMIT_LIMIT, NUMBER);
            headers.insert(X_RATELIMIT_REMAINING, NUMBER);
            headers.insert(X_RATELIMIT_RESET, NUMBER);
            headers
        });
    });
    group.bench_function("four_headers_static_names", |b| {
        b.iter(|| {
            let mut headers = axum::http::HeaderMap::with_capacity(4);
            headers.insert(STATIC_NAMES[0].clone(), NUMBER);
            headers.insert(STATIC_NAMES[1].clone(), NUMBER);
            headers.insert(STATIC_NAMES[2].clone(), NUMBER);
            headers.insert(STATIC_NAMES[3].clone(), NUMBER);
            headers
        });
    });

    group.finish();
}

/// The map inside `http::Extensions`: boxed values by `TypeId`, hashed by the id itself.
type AnyMap =
    HashMap<std::any::TypeId, Box<dyn std::any::Any + Send + Sync>, std::hash::BuildHasherDefault<IdHasher>>;

/// `http`'s hasher for `TypeId` keys: the id is already a hash.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, _: &[u8]) {
        unreachable!("TypeId hashes with write_u64");
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Four inserts into `map` in a box, as `Extensions::insert` makes them.
fn any_map_four_inserts(map: AnyMap) -> Box<AnyMap> {
    let mut map = Box::new(map);
    map.insert(std::any::TypeId::of::<u8>(), Box::new(1_u8));
    map.insert(std::any::TypeId::of::<u16>(), Box::new(2_u16));
    map.insert(std::any::TypeId::of::<u32>(), Box::new(3_u32));
    map.insert(std::any::TypeId::of::<u64>(), Box::new(4_u64));
    map
}

criterion_group! {
    name = benches;
    config = common::criterion(60);
    targets = bench_request_path, bench_added_cost, bench_against_handwritten, bench_steps
}
criterion_main!(benches);
