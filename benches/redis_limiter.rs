//! The Redis limiter against Redis itself: what one check costs over a loopback round trip, and
//! how many checks 64 concurrent tasks get through compared with the bare script.
//!
//! Needs a Redis server: `KEYWARD_BENCH_REDIS_URL` (or `KEYWARD_TEST_REDIS_URL`, as the tests use),
//! for instance `scripts/test-servers start` and
//! `KEYWARD_BENCH_REDIS_URL=redis://127.0.0.1:56379/ cargo bench --features redis --bench redis_limiter`.
//! Without one it says so and measures nothing.
//!
//! Groups:
//! - `redis_round_trip` (time per call, one task): `PING` (the loopback round trip, the least any
//!   remote limiter pays), `EVALSHA` of the limiter's own script sent by hand on the same kind of
//!   multiplexed connection, and `RedisLimiter::check` (the script, the budget's key, the reply
//!   read as a decision, the timeout and health bookkeeping). The limiter's added cost is its
//!   median minus `PING`'s.
//! - `redis_64_tasks` (throughput, 64 tasks on a two-worker runtime, as a server's requests are):
//!   the hand-sent `EVALSHA` and `RedisLimiter::check`, each task on its own budget key, and the
//!   check of a limiter taking leases (`with_leases(1)`: 10 000 units of this budget, so a task's
//!   first check asks Redis and the rest are handed out in process), also with all 64 tasks on one
//!   budget (one lease, whose lock every check takes). `redis-benchmark -c 64 …
//!   EVALSHA` is the server's own figure to hold these against (see the README).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyward_core::KeyId;
use keyward_tower::rate_limit::{
    Check, Quota, RateKey, RateLimiter, RateLimits, RedisFallback, RedisLimiter,
};
use redis::Script;
use redis::aio::MultiplexedConnection;
use tokio::runtime::Runtime;

/// The limiter's script, as the limiter loads it.
const GCRA: &str = include_str!("../crates/keyward-tower/src/rate_limit/redis/gcra.lua");
/// Concurrent tasks in the throughput group, as many as the loopback comparison's connections.
const TASKS: u64 = 64;
/// Checks per task in one measured round of the throughput group.
const PER_TASK: u64 = 64;

/// A budget no benchmark exhausts: a million units a second.
fn quota() -> Quota {
    Quota::per_second(1_000_000)
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

fn redis_url() -> Option<String> {
    ["KEYWARD_BENCH_REDIS_URL", "KEYWARD_TEST_REDIS_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok())
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// What both groups measure.
struct Setup {
    limiter: RedisLimiter,
    /// The same, taking leases of 1% (10 000 units) of a busy budget.
    leasing: RedisLimiter,
    conn: MultiplexedConnection,
    script: Script,
    /// The arguments of the hand-sent call: interval in microseconds, limit, cost.
    args: (u64, u32, u32),
}

impl Setup {
    async fn connect(url: &str) -> Self {
        let limiter = RedisLimiter::connect(url, &RateLimits::new(quota()), RedisFallback::FailClosed)
            .await
            .expect("Redis answers");
        let leasing = RedisLimiter::connect(url, &RateLimits::new(quota()), RedisFallback::FailClosed)
            .await
            .expect("Redis answers")
            .with_leases(1);
        let client = redis::Client::open(url).expect("a Redis URL");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("a connection");
        let script = Script::new(GCRA);
        script
            .prepare_invoke()
            .load_async(&mut conn)
            .await
            .expect("the script loads");
        let interval = u64::try_from(quota().interval().as_micros()).expect("a small interval");
        Self {
            limiter,
            leasing,
            conn,
            script,
            args: (interval.max(1), quota().limit(), 1),
        }
    }

    /// One check through `limiter`.
    async fn check(limiter: &RedisLimiter, lineage: &KeyId) {
        Self::check_under(limiter, lineage, quota()).await;
    }

    /// One check through `limiter` under `quota`.
    async fn check_under(limiter: &RedisLimiter, lineage: &KeyId, quota: Quota) {
        let decision = match limiter.check(RateKey::per_key(lineage), quota, one()) {
            Check::Pending(pending) => pending.await,
            Check::Ready(ready) => ready,
        };
        assert!(decision.expect("Redis answers").allowed);
    }

    /// The same script, sent by hand: EVALSHA of one check (one quota with no lease, the cost
    /// packed with "no lease asked" and the quota's place 0) and one integer back, positive when
    /// allowed.
    async fn evalsha(&self, conn: &mut MultiplexedConnection, key: &str) {
        let (until_whole,): (i64,) = self
            .script
            .key(key)
            .arg(1)
            .arg(self.args.0)
            .arg(self.args.1)
            .arg(0)
            .arg(u64::from(self.args.2) * 2 * 1024)
            .invoke_async(conn)
            .await
            .expect("Redis answers");
        assert!(until_whole > 0);
    }
}

fn bench_redis(c: &mut Criterion) {
    let Some(url) = redis_url() else {
        eprintln!("redis_limiter: set KEYWARD_BENCH_REDIS_URL to a Redis server; nothing measured");
        return;
    };
    let rt = runtime();
    let setup = rt.block_on(Setup::connect(&url));
    let lineage = KeyId::generate();
    let key = format!("keyward:bench:{lineage}");

    let mut group = c.benchmark_group("redis_round_trip");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("ping", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut conn = setup.conn.clone();
                let start = Instant::now();
                for _ in 0..iters {
                    let pong: String = redis::cmd("PING").query_async(&mut conn).await.expect("PONG");
                    assert_eq!(pong, "PONG");
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("evalsha_by_hand", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut conn = setup.conn.clone();
                let start = Instant::now();
                for _ in 0..iters {
                    setup.evalsha(&mut conn, &key).await;
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("redis_limiter_check", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    Setup::check(&setup.limiter, &lineage).await;
                }
                start.elapsed()
            })
        });
    });
    group.finish();

    let setup = Arc::new(setup);
    let mut group = c.benchmark_group("redis_64_tasks");
    group.throughput(Throughput::Elements(TASKS * PER_TASK));
    group.measurement_time(Duration::from_secs(8));
    group.sample_size(30);
    group.bench_function("evalsha_by_hand", |b| {
        b.iter_custom(|rounds| {
            rt.block_on(concurrently(
                rounds,
                &setup,
                |setup: Arc<Setup>, task: u64| async move {
                    let mut conn = setup.conn.clone();
                    let key = format!("keyward:bench:{task}:{}", KeyId::generate());
                    for _ in 0..PER_TASK {
                        setup.evalsha(&mut conn, &key).await;
                    }
                },
            ))
        });
    });
    group.bench_function("redis_limiter_check", |b| {
        b.iter_custom(|rounds| {
            rt.block_on(concurrently(rounds, &setup, |setup: Arc<Setup>, _| async move {
                let lineage = KeyId::generate();
                for _ in 0..PER_TASK {
                    Setup::check(&setup.limiter, &lineage).await;
                }
            }))
        });
    });
    group.bench_function("redis_limiter_check_with_leases", |b| {
        b.iter_custom(|rounds| {
            rt.block_on(concurrently(rounds, &setup, |setup: Arc<Setup>, _| async move {
                let lineage = KeyId::generate();
                for _ in 0..PER_TASK {
                    Setup::check(&setup.leasing, &lineage).await;
                }
            }))
        });
    });
    // Every task on one budget: the lease's lock, taken by every check, on both workers. Its
    // quota (a billion a second, leases of ten million) outlasts checks handed out at millions
    // a second, which a million a second would not.
    let hot = Arc::new(KeyId::generate());
    let hot_quota = Quota::per_second(1_000_000_000);
    group.bench_function("redis_limiter_check_with_leases_one_key", |b| {
        b.iter_custom(|rounds| {
            let hot = hot.clone();
            rt.block_on(concurrently(rounds, &setup, move |setup: Arc<Setup>, _| {
                let hot = hot.clone();
                async move {
                    for _ in 0..PER_TASK {
                        Setup::check_under(&setup.leasing, &hot, hot_quota).await;
                    }
                }
            }))
        });
    });
    group.finish();
}

/// `rounds` times: [`TASKS`] tasks run `work` at once; the time of all the rounds.
async fn concurrently<F, Fut>(rounds: u64, setup: &Arc<Setup>, work: F) -> Duration
where
    F: Fn(Arc<Setup>, u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut total = Duration::ZERO;
    for _ in 0..rounds {
        let start = Instant::now();
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| tokio::spawn(work(setup.clone(), task)))
            .collect();
        for task in tasks {
            task.await.expect("the task finishes");
        }
        total += start.elapsed();
    }
    total
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = bench_redis
}
criterion_main!(benches);
