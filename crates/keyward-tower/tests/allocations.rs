//! Allocations on the request path, counted by a global allocator: how many the layer adds to a
//! request compared with the same service without it, on a cache hit (recording on and off), on a
//! 429 and on a garbage token, in front of a plain service and of one that adds extensions as a
//! router does; and the memory a cached key and a rate-limit entry hold (run with
//! `--nocapture` to see the figures).
//!
//! The counter is per thread and the requests run on a current-thread runtime, so the background
//! writer's work (on its own runtime) is not counted: only what a request pays for itself. Some
//! allocations are shared by many requests (request ids are minted in batches, audit text goes into
//! per-thread buffers): they show as a fraction, and the test bounds it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use keyward_core::{KeyId, KeyManager, MemoryStore, NewKey, TenantId};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{InProcessLimiter, Quota, RateKey, RateLimiter, RateLimits};
use tower::{Layer, Service, ServiceExt, service_fn};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Bytes allocated and not yet freed, by every thread.
static LIVE: AtomicIsize = AtomicIsize::new(0);

fn size(layout: Layout) -> isize {
    isize::try_from(layout.size()).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded to `System` unchanged; the counter is a const-initialized
// thread-local `Cell`, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        LIVE.fetch_add(size(layout), Ordering::Relaxed);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(size(layout), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        LIVE.fetch_add(
            isize::try_from(new_size).unwrap_or(isize::MAX) - size(layout),
            Ordering::Relaxed,
        );
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Requests measured per case: a multiple of every batch size on the path.
const REQUESTS: u64 = 8192;
/// Request ids are minted 64 at a time, each batch in two allocations (its text and its values).
const MINTED: u64 = 2 * REQUESTS / 64;

/// The service behind the layer: a static body, no headers.
fn app()
-> impl Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    service_fn(|_: Request<Full<Bytes>>| async { Ok(Response::new(Full::new(Bytes::from_static(b"ok")))) })
}

/// The service behind the layer as an axum router is: it puts three values of its own into the
/// request's extensions (axum's matched path, path parameters and original URI) and answers.
fn router_like_app()
-> impl Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    #[derive(Clone)]
    struct MatchedPath;
    #[derive(Clone)]
    struct PathParams;
    #[derive(Clone)]
    struct OriginalUri;
    service_fn(|mut request: Request<Full<Bytes>>| async move {
        let extensions = request.extensions_mut();
        extensions.insert(MatchedPath);
        extensions.insert(PathParams);
        extensions.insert(OriginalUri);
        Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

/// Allocations per request through `service` (after a warm-up), as a whole number and the
/// amortized rest in requests per extra allocation's share (`rest / REQUESTS`).
fn per_request<S>(service: &S, credential: &HeaderValue, expect: StatusCode) -> (u64, u64)
where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let request = || {
        let mut request = Request::new(Full::new(Bytes::new()));
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, credential.clone());
        request
    };
    // The warm-up fills the caches (and spends a small budget).
    let send = |check: bool| {
        let Ok(response) = rt.block_on(service.clone().oneshot(request()));
        assert!(!check || response.status() == expect, "{}", response.status());
        drop(response);
    };
    for _ in 0..REQUESTS {
        send(false);
    }
    let before = allocations();
    for _ in 0..REQUESTS {
        send(true);
    }
    let total = allocations() - before;
    (total / REQUESTS, total % REQUESTS)
}

struct Case {
    manager: KeyManager,
    credential: HeaderValue,
    /// The layers' background tasks.
    background: tokio::runtime::Runtime,
}

impl Case {
    fn new() -> Self {
        let background = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let manager = KeyManager::new(MemoryStore::new());
        let created = background
            .block_on(manager.create(NewKey::new(TenantId::new("site_1").expect("a tenant"))))
            .expect("a key");
        let credential =
            HeaderValue::try_from(format!("Bearer {}", created.token.expose())).expect("a header value");
        Self {
            manager,
            credential,
            background,
        }
    }

    fn layer(
        &self,
        configure: impl FnOnce(keyward_tower::ApiKeyLayerBuilder) -> keyward_tower::ApiKeyLayerBuilder,
    ) -> ApiKeyLayer {
        let _entered = self.background.enter();
        configure(ApiKeyLayer::builder(self.manager.clone()))
            .build()
            .expect("a layer")
    }

    /// What the layer made by `configure` adds per request: whole allocations, and the amortized
    /// rest over [`REQUESTS`].
    fn added(
        &self,
        configure: impl FnOnce(keyward_tower::ApiKeyLayerBuilder) -> keyward_tower::ApiKeyLayerBuilder,
        credential: &HeaderValue,
        expect: StatusCode,
    ) -> (u64, u64) {
        self.added_to(app(), configure, credential, expect)
    }

    /// As [`Case::added`], with the layer in front of `app`.
    fn added_to<S>(
        &self,
        app: S,
        configure: impl FnOnce(keyward_tower::ApiKeyLayerBuilder) -> keyward_tower::ApiKeyLayerBuilder,
        credential: &HeaderValue,
        expect: StatusCode,
    ) -> (u64, u64)
    where
        S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
            + Clone
            + Send
            + 'static,
    {
        let (bare, bare_rest) = per_request(&app, credential, StatusCode::OK);
        let layered = self.layer(configure).layer(app);
        let (with, rest) = per_request(&layered, credential, expect);
        assert_eq!(
            bare_rest, 0,
            "the bare service allocates the same on every request"
        );
        (with - bare, rest)
    }
}

/// A budget of 4 000 refilled one unit a nanosecond: never refused, and its numbers in the range
/// real quotas have (the header values of numbers under 4 096 are static).
fn high_quota(builder: keyward_tower::ApiKeyLayerBuilder) -> keyward_tower::ApiKeyLayerBuilder {
    builder.rate_limits(RateLimits::new(Quota::new(4_000, Duration::from_nanos(4_000))))
}

#[test]
fn a_cache_hit_allocates_the_verified_key_and_the_response_headers_only() {
    let case = Case::new();
    // Recording off. Five allocations, each needed:
    // - the request's extension map (the service's request had none) and its table, and the box
    //   of the `VerifiedKey` in it: `http::Extensions` boxes every value, and has no way to
    //   reserve;
    // - the response's header table (its index and its entries): the service answered with no
    //   headers, and the request id and three rate-limit headers go in with one reservation.
    // Request ids are minted in batches: one allocation shared by many requests.
    let (whole, rest) = case.added(|b| high_quota(b).no_audit(), &case.credential, StatusCode::OK);
    assert_eq!(whole, 5, "allocations per request, recording off");
    assert_eq!(rest, MINTED, "allocations shared by many requests");

    // Recording on: the record goes into a preallocated queue, its text into a per-thread buffer
    // that a new one replaces when the writer has taken it (how often depends on when the writer
    // runs: far less than once in 64 requests).
    let (whole, rest) = case.added(high_quota, &case.credential, StatusCode::OK);
    assert_eq!(whole, 5, "allocations per request, recording on");
    assert!(
        (MINTED..MINTED + REQUESTS / 64).contains(&rest),
        "allocations shared by many requests: {rest}"
    );
}

#[test]
fn around_a_router_the_extensions_map_does_not_grow() {
    let case = Case::new();
    // The router's three values come after the layer's, and the map the layer made has room for
    // them: on top of what the router allocates for its own values without the layer (their
    // boxes, the map and its table), the layer adds the box of its `VerifiedKey` and the
    // response's header table (index and entries). A map made on the first insert would have
    // grown on the fourth: one more allocation.
    let (whole, rest) = case.added_to(
        router_like_app(),
        |b| high_quota(b).no_audit(),
        &case.credential,
        StatusCode::OK,
    );
    assert_eq!(whole, 3, "allocations per request");
    assert_eq!(rest, MINTED, "allocations shared by many requests");
}

#[test]
fn a_rate_limited_request_allocates_its_error_body_and_headers_only() {
    let case = Case::new();
    let limited = |b: keyward_tower::ApiKeyLayerBuilder| b.rate_limits(RateLimits::new(Quota::per_hour(1)));
    // The budget of one request an hour is spent in the warm-up. Three allocations: the JSON
    // body, written once in a per-thread buffer and copied out at its size, and the response's
    // header table (index and entries) for the request id, `Retry-After` and the rate-limit headers.
    let (whole, rest) = case.added(limited, &case.credential, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(whole, 3, "allocations per request");
    assert_eq!(rest, MINTED, "allocations shared by many requests");
}

#[test]
fn a_garbage_token_allocates_its_error_body_and_headers_only() {
    let case = Case::new();
    let garbage = HeaderValue::from_static("Bearer kw_live_notakey_0000");
    // Refused by its checksum before any lookup: the body and the header table, as above.
    let (whole, rest) = case.added(high_quota, &garbage, StatusCode::UNAUTHORIZED);
    assert_eq!(whole, 3, "allocations per request");
    assert_eq!(rest, MINTED, "allocations shared by many requests");
}

/// Bytes held per entry after `fill` has made `entries` of them.
fn bytes_per_entry(entries: usize, fill: impl FnOnce()) -> isize {
    let before = LIVE.load(Ordering::SeqCst);
    fill();
    (LIVE.load(Ordering::SeqCst) - before) / isize::try_from(entries).expect("a small count")
}

#[test]
fn memory_per_cached_key_and_per_rate_limit_entry() {
    for keys in [10_000, 100_000] {
        let case = Case::new();
        let tokens: Vec<HeaderValue> = case.background.block_on(async {
            let tenant = TenantId::new("site_1").expect("a tenant");
            let mut tokens = Vec::with_capacity(keys);
            for _ in 0..keys {
                let created = case
                    .manager
                    .create(NewKey::new(tenant.clone()))
                    .await
                    .expect("a key");
                tokens.push(
                    HeaderValue::try_from(format!("Bearer {}", created.token.expose()))
                        .expect("a header value"),
                );
            }
            tokens
        });
        // The verifier's cache (moka, and this thread's front cache, which keeps at most 4 096
        // keys) and the limiter's state, filled by one request per key. Recording is off so that
        // no usage or audit record is held.
        let service = case.layer(|b| high_quota(b).no_audit()).layer(app());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let per_key = bytes_per_entry(keys, || {
            for token in &tokens {
                let mut request = Request::new(Full::new(Bytes::new()));
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, token.clone());
                let Ok(response) = rt.block_on(service.clone().oneshot(request));
                assert_eq!(response.status(), StatusCode::OK);
            }
        });
        println!("{keys} keys: {per_key} bytes per cached key, with its rate-limit entry");
        assert!((200..4_096).contains(&per_key), "{per_key} bytes per cached key");
        drop(service);
    }

    for lineages in [10_000, 100_000] {
        let limiter = InProcessLimiter::new(&RateLimits::new(Quota::per_minute(60)));
        let ids: Vec<KeyId> = (0..lineages).map(|_| KeyId::generate()).collect();
        let per_entry = bytes_per_entry(lineages, || {
            for id in &ids {
                drop(limiter.check(RateKey::per_key(id), Quota::per_minute(60), NonZeroU32::MIN));
            }
        });
        assert_eq!(limiter.len(), lineages);
        println!("{lineages} lineages: {per_entry} bytes per rate-limit entry");
        assert!(
            (16..512).contains(&per_entry),
            "{per_entry} bytes per rate-limit entry"
        );
    }
}
