//! Contention benchmarks: keyward's cache-hit path driven from several threads at once, reported
//! as throughput (requests a second, all drivers together), so that a lock or a shared atomic every
//! request writes would show as throughput that stops growing, or falls, with more drivers.
//!
//! Three drivers: one OS thread (the reference), two OS threads (one per core of a 2-core machine)
//! and 64 tokio tasks on a multi-thread runtime with 2 workers (as `axum::serve` runs connections).
//! Each driver sends requests one after another through its clone of the same router (the default
//! layer: usage and audit recording on) with `oneshot`. Two key sets: every request with one hot
//! key, and requests spread over 10 000 keys (each driver starting at a different key). Bare axum
//! through the same drivers gives the ceiling.
//!
//! One hot key shares what its budget must share: its rate-limit state (one governor cell, updated
//! with a compare-and-swap by every request of that key). The verified key itself is read from each
//! thread's front cache, without a lock or a shared write; the 10 000 keys outgrow the front caches
//! (4 096 entries a thread) and are read from moka.
//!
//! Run with `cargo bench --bench contention` (about a minute once built).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
use keyward_tower::rate_limit::{Quota, RateLimits};
use tokio::runtime::Runtime;
use tower::ServiceExt;

use common::{BURST, app, background_runtime, bearer, keyward_layer, request, request_runtime};

/// Keys of the spread key set.
const SPREAD_KEYS: usize = 10_000;
/// Tasks of the tokio driver.
const TASKS: u64 = 64;
/// Workers of the tokio driver's runtime.
const WORKERS: usize = 2;

/// A router and the credentials its requests carry, in turn.
struct Target {
    router: Router,
    credentials: Arc<[HeaderValue]>,
    /// Requests the limiter refused (see [`quota`]).
    refused: AtomicU64,
}

impl Target {
    /// The credential of a driver's `i`-th request, drivers starting `offset` keys apart.
    fn credential(&self, offset: usize, i: u64) -> &HeaderValue {
        let n = self.credentials.len();
        // `i % n` is below `n`, which is a `usize`.
        let i = usize::try_from(i % n as u64).unwrap_or_default();
        &self.credentials[(offset + i) % n]
    }
}

/// 4 000 units refilled one a microsecond: a million requests a second per key, above what two
/// cores serve, with 4 ms of tolerance. The request path's benchmarks refill one unit a nanosecond
/// (a tolerance of 4 µs), which is enough for one thread; with two, a thread that reads the clock
/// and is then preempted for longer than the tolerance has its request judged at the time it read,
/// behind the other thread's, and refused. Refusals are counted and printed after each run: they
/// take the rejection path, so a run with many measured something else.
fn quota() -> RateLimits {
    RateLimits::new(Quota::new(BURST, Duration::from_millis(4)))
}

/// Sends `n` requests, one after another, and checks each was answered 200.
async fn drive(router: &Router, target: &Target, offset: usize, n: u64) {
    for i in 0..n {
        let response = router
            .clone()
            .oneshot(request(target.credential(offset, i)))
            .await
            .unwrap_or_else(|never| match never {});
        match response.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                target.refused.fetch_add(1, Ordering::Relaxed);
            }
            status => panic!("answered {status}"),
        }
        black_box(response);
    }
}

/// `iters` requests split over `threads` OS threads, each on its own current-thread runtime;
/// the wall time from the first request to the last.
fn on_threads(target: &Target, threads: u64, iters: u64) -> Duration {
    let runtimes: Vec<Runtime> = (0..threads).map(|_| request_runtime()).collect();
    let barrier = std::sync::Barrier::new(runtimes.len() + 1);
    std::thread::scope(|scope| {
        for (t, rt) in (0..threads).zip(&runtimes) {
            let (router, barrier) = (target.router.clone(), &barrier);
            let n = share(iters, threads, t);
            scope.spawn(move || {
                barrier.wait();
                rt.block_on(drive(&router, target, offset(t, threads, target), n));
            });
        }
        barrier.wait();
        let start = Instant::now();
        // Leaving the scope joins the threads.
        start
    })
    .elapsed()
}

/// `iters` requests split over [`TASKS`] tasks on `rt`; the wall time until the last is answered.
fn on_tasks(rt: &Runtime, target: &Arc<Target>, iters: u64) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let target = target.clone();
                let n = share(iters, TASKS, t);
                tokio::spawn(async move {
                    let router = target.router.clone();
                    drive(&router, &target, offset(t, TASKS, &target), n).await;
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a driver task finishes");
        }
        start.elapsed()
    })
}

/// Driver `t`'s share of `iters` requests over `of` drivers.
fn share(iters: u64, of: u64, t: u64) -> u64 {
    iters / of + u64::from(t < iters % of)
}

/// Where driver `t` of `of` starts in the key set: evenly apart.
fn offset(t: u64, of: u64, target: &Target) -> usize {
    let keys = target.credentials.len() as u64;
    usize::try_from(t * keys / of).unwrap_or_default()
}

/// `count` keys in a memory store, each of its own tenant.
fn keys(background: &Runtime, manager: &KeyManager, count: usize) -> Arc<[HeaderValue]> {
    background.block_on(async {
        let mut credentials = Vec::with_capacity(count);
        for i in 0..count {
            let tenant = TenantId::new(format!("tenant_{i}")).expect("a valid tenant id");
            let created = manager
                .create(NewKey::new(tenant))
                .await
                .expect("a key is created");
            credentials.push(bearer(created.token.expose()));
        }
        credentials.into()
    })
}

fn bench_contention(c: &mut Criterion) {
    let background = background_runtime();
    let manager = KeyManager::new(MemoryStore::new());
    let spread = keys(&background, &manager, SPREAD_KEYS);
    let hot: Arc<[HeaderValue]> = Arc::from(&spread[..1]);
    let keyward = || {
        let layer = keyward_layer(&manager, &background, |layer| layer.rate_limits(quota()));
        app().layer(layer).with_state(())
    };
    let targets = [
        ("bare_axum", app().with_state(()), hot.clone()),
        ("keyward_hot_key", keyward(), hot),
        ("keyward_10000_keys", keyward(), spread),
    ]
    .map(|(name, router, credentials)| {
        let refused = AtomicU64::new(0);
        (
            name,
            Arc::new(Target {
                router,
                credentials,
                refused,
            }),
        )
    });
    let tasks_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a multi-thread runtime");

    let mut group = c.benchmark_group("contention");
    group.throughput(Throughput::Elements(1));
    for (name, target) in &targets {
        // Warm every key into the caches and the limiter from each driver's threads.
        let warm = target.credentials.len() as u64 * 2;
        on_threads(target, 2, warm);
        on_tasks(&tasks_rt, target, warm);
        target.refused.store(0, Ordering::Relaxed);
        group.bench_function(BenchmarkId::new(*name, "1_thread"), |b| {
            b.iter_custom(|iters| on_threads(target, 1, iters));
        });
        group.bench_function(BenchmarkId::new(*name, "2_threads"), |b| {
            b.iter_custom(|iters| on_threads(target, 2, iters));
        });
        group.bench_function(BenchmarkId::new(*name, "64_tasks_2_workers"), |b| {
            b.iter_custom(|iters| on_tasks(&tasks_rt, target, iters));
        });
        eprintln!(
            "contention/{name}: {} requests refused by the limiter",
            target.refused.swap(0, Ordering::Relaxed)
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_contention
}
criterion_main!(benches);
