//! The Redis rate limiter against real Redis servers: the shared test server
//! (`KEYWARD_TEST_REDIS_URL`, from `scripts/test-servers`) for the budget numbers and for two
//! processes sharing one budget, and a `redis-server` of the test's own for an outage (of the
//! limiter alone, and under concurrent traffic over HTTP).

mod redis_support;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::num::NonZeroU32;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::sync::Arc;

use keyward_core::KeyId;
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{
    InProcessLimiter, Quota, RateDecision, RateKey, RateLimiter, RateLimits, RedisFallback, RedisLimiter,
};
use redis_support::{Logs, RedisServer, inspect, test_redis_url};
use support::server::serve;
use support::traffic::{DOWN, RECOVERED, RESTARTING, Traffic, assert_ok_or_unavailable};
use support::{Harness, bearer, send, service};
use tracing::Level;

const MINUTE: Duration = Duration::from_secs(60);

fn units(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("a non-zero cost")
}

async fn connect(url: &str, quota: Quota, fallback: RedisFallback) -> RedisLimiter {
    RedisLimiter::connect(url, &RateLimits::new(quota), fallback)
        .await
        .unwrap_or_else(|e| panic!("cannot connect the limiter to {url}: {e}"))
}

async fn spend(limiter: &impl RateLimiter, lineage: &KeyId, quota: Quota, cost: u32) -> RateDecision {
    limiter
        .check(RateKey::per_key(lineage), quota, units(cost))
        .decide()
        .await
        .expect("Redis decides")
}

/// Asserts that a fail-closed limiter refuses a check, answered within `bound` of `started` (no
/// timeout waited).
async fn refused_within(
    limiter: &impl RateLimiter,
    lineage: &KeyId,
    quota: Quota,
    started: Instant,
    bound: Duration,
) {
    let refused = limiter
        .check(RateKey::per_key(lineage), quota, units(1))
        .decide()
        .await;
    assert!(refused.is_err(), "fail-closed refuses: {refused:?}");
    assert!(started.elapsed() < bound, "answered in {:?}", started.elapsed());
}

/// The budget's key as the limiter names it.
fn budget_key(lineage: &KeyId, quota: Quota) -> String {
    format!(
        "keyward:rl:{lineage}:{}:{}",
        quota.limit(),
        quota.period().as_millis()
    )
}

#[tokio::test]
async fn costs_and_header_numbers_match_the_in_process_limiter() {
    let url = test_redis_url();
    // One unit back per minute: nothing comes back while the test runs.
    let quota = Quota::per_hour(60);
    let redis = connect(&url, quota, RedisFallback::FailClosed).await;
    let local = InProcessLimiter::new(&RateLimits::new(quota));
    let lineage = KeyId::generate();

    let first = spend(&redis, &lineage, quota, 3).await;
    assert_eq!(
        first,
        RateDecision {
            allowed: true,
            limit: 60,
            remaining: 57,
            reset: 3 * MINUTE,
            retry_after: Duration::ZERO,
            window: Duration::from_secs(3600),
        }
    );
    assert_eq!(first, spend(&local, &lineage, quota, 3).await);
    for step in 2..=20 {
        let shared = spend(&redis, &lineage, quota, 3).await;
        assert_eq!(
            shared,
            spend(&local, &lineage, quota, 3).await,
            "spend #{step} of 3 units"
        );
    }

    // The budget is spent; the key expires when it would be whole again.
    let mut conn = inspect(&url).await;
    let ttl: u64 = redis::cmd("PTTL")
        .arg(budget_key(&lineage, quota))
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(
        ttl > 59 * 60_000 && ttl <= 60 * 60_000,
        "the key lives until the budget is whole: {ttl} ms"
    );

    // Refusals spend nothing; Retry-After is the time until the cost is back.
    for (cost, back_in) in [(3, 3 * MINUTE), (1, MINUTE), (3, 3 * MINUTE)] {
        let refused = spend(&redis, &lineage, quota, cost).await;
        let alone = spend(&local, &lineage, quota, cost).await;
        assert!(!refused.allowed, "cost {cost}");
        assert_eq!(
            (refused.remaining, refused.reset),
            (0, 60 * MINUTE),
            "cost {cost}"
        );
        assert_eq!((alone.remaining, alone.reset), (0, 60 * MINUTE), "cost {cost}");
        for retry_after in [refused.retry_after, alone.retry_after] {
            assert!(
                retry_after <= back_in && retry_after > back_in - Duration::from_secs(10),
                "cost {cost}: Retry-After {retry_after:?}, expected just under {back_in:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_budget_refills_one_unit_per_interval_of_redis_time() {
    let url = test_redis_url();
    let quota = Quota::per_hour(60);
    let redis = connect(&url, quota, RedisFallback::FailClosed).await;
    let lineage = KeyId::generate();

    let whole = spend(&redis, &lineage, quota, 60).await;
    assert!(whole.allowed, "the whole budget is the largest burst");
    assert_eq!((whole.remaining, whole.reset), (0, 60 * MINUTE));
    assert!(!spend(&redis, &lineage, quota, 1).await.allowed);

    // Half an hour later by Redis's clock: the stored time at which the budget is whole again is
    // moved to 30 minutes from now, as if 30 minutes had passed.
    let mut conn = inspect(&url).await;
    let (seconds, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut conn).await.expect("TIME");
    let whole_at = seconds * 1_000_000 + micros + 30 * 60 * 1_000_000;
    let () = redis::cmd("SET")
        .arg(budget_key(&lineage, quota))
        .arg(whole_at)
        .query_async(&mut conn)
        .await
        .expect("SET");

    let refilled = spend(&redis, &lineage, quota, 1).await;
    assert!(refilled.allowed);
    assert_eq!(refilled.remaining, 29, "30 units came back, one is spent");
    assert_eq!(refilled.reset, 31 * MINUTE);
}

#[tokio::test]
async fn lineages_have_their_own_budgets_and_a_cost_above_the_budget_never_passes() {
    let url = test_redis_url();
    let quota = Quota::per_hour(2);
    let redis = connect(&url, quota, RedisFallback::FailClosed).await;
    let (a, b) = (KeyId::generate(), KeyId::generate());

    assert!(spend(&redis, &a, quota, 2).await.allowed);
    assert!(!spend(&redis, &a, quota, 1).await.allowed);
    let other = spend(&redis, &b, quota, 1).await;
    assert!(other.allowed);
    assert_eq!(other.remaining, 1);

    // Refused at once, with Retry-After = the period, and the budget in Redis left alone.
    let lineage = KeyId::generate();
    let too_much = spend(&redis, &lineage, quota, 3).await;
    assert!(!too_much.allowed);
    assert_eq!(
        (too_much.remaining, too_much.retry_after),
        (0, Duration::from_secs(3600))
    );
    let mut conn = inspect(&url).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(budget_key(&lineage, quota))
        .query_async(&mut conn)
        .await
        .expect("EXISTS");
    assert!(!exists);
}

/// Redis forgets scripts on a restart or a `SCRIPT FLUSH`: the next check loads the script again
/// and is decided by Redis, from the budget as it was.
#[tokio::test]
async fn a_flushed_script_is_loaded_again() {
    let url = test_redis_url();
    let quota = Quota::per_hour(3);
    let redis = connect(&url, quota, RedisFallback::FailClosed).await;
    let lineage = KeyId::generate();
    assert_eq!(spend(&redis, &lineage, quota, 1).await.remaining, 2);

    let mut conn = inspect(&url).await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .expect("SCRIPT FLUSH");
    let after = spend(&redis, &lineage, quota, 1).await;
    assert!(after.allowed);
    assert_eq!(after.remaining, 1, "the budget Redis kept, spent once more");
    assert!(!redis.is_degraded(), "no outage: the fallback did not decide");
}

/// Checks made at once go to Redis in batches (300 checks queue before the batch task first
/// runs: more than one batch holds): each budget is spent exactly as one-by-one checks would spend
/// it, a key appearing many times in one batch spending in turn, and interleaved keys apart.
#[tokio::test]
async fn checks_made_at_once_spend_each_budget_exactly() {
    let url = test_redis_url();
    let quota = Quota::per_hour(100);
    let redis = connect(&url, quota, RedisFallback::FailClosed).await;
    let (ones, threes) = (KeyId::generate(), KeyId::generate());

    let checks: Vec<_> = (0..300)
        .map(|n| {
            let (lineage, cost) = if n % 2 == 0 { (&ones, 1) } else { (&threes, 3) };
            (
                cost,
                redis
                    .check(RateKey::per_key(lineage), quota, units(cost))
                    .decide(),
            )
        })
        .collect();
    let (costs, checks): (Vec<u32>, Vec<_>) = checks.into_iter().unzip();
    let decisions = futures_util::future::join_all(checks).await;

    let mut by_cost = [(1, Vec::new()), (3, Vec::new())];
    for (cost, decision) in costs.iter().zip(decisions) {
        let decision = decision.expect("Redis decides");
        let (_, list) = by_cost.iter_mut().find(|(c, _)| c == cost).expect("a cost");
        list.push(decision);
    }
    let [(_, ones), (_, threes)] = by_cost;
    // 150 checks of one unit: the first 100 leave 99, 98, … 0 in turn, the rest are refused.
    assert_eq!(remaining_of_allowed(&ones), (0..100).rev().collect::<Vec<_>>());
    // 150 checks of three units: 33 pass (97, 94, … 1), then a unit is left, too few.
    assert_eq!(
        remaining_of_allowed(&threes),
        (0..33).map(|n| 97 - 3 * n).collect::<Vec<_>>()
    );
    for refused in ones[100..].iter().chain(&threes[33..]) {
        assert!(!refused.allowed);
        assert!(refused.retry_after > Duration::ZERO, "{refused:?}");
    }
}

/// Checks of different quotas queued together (one batch names each quota once): each spends
/// its own budget under its own quota, in the order made, and the refused ones wait the time
/// their own quota gives.
#[tokio::test]
async fn checks_of_different_quotas_in_one_batch_spend_their_own_budgets() {
    let url = test_redis_url();
    let (hourly, minutely, secondly) = (Quota::per_hour(10), Quota::per_minute(4), Quota::per_second(2));
    let redis = connect(&url, hourly, RedisFallback::FailClosed).await;
    let lineages = [KeyId::generate(), KeyId::generate(), KeyId::generate()];
    let plan = [(0, hourly, 3), (1, minutely, 1), (2, secondly, 1)];

    let checks: Vec<_> = (0..24)
        .map(|n| {
            let (lineage, quota, cost) = plan[n % 3];
            redis
                .check(RateKey::per_key(&lineages[lineage]), quota, units(cost))
                .decide()
        })
        .collect();
    let decisions: Vec<RateDecision> = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .map(|decision| decision.expect("Redis decides"))
        .collect();
    let of = |lineage: usize| -> Vec<&RateDecision> { decisions.iter().skip(lineage).step_by(3).collect() };

    // Ten units an hour, three a check: 7, 4, 1 left, then refused until two more come back
    // (a unit every six minutes).
    let hours = of(0);
    assert_eq!(
        hours.iter().map(|d| d.remaining).take(3).collect::<Vec<_>>(),
        [7, 4, 1]
    );
    for refused in &hours[3..] {
        assert!(!refused.allowed);
        assert_eq!(refused.limit, 10);
        let wait = refused.retry_after;
        assert!(
            wait > Duration::from_secs(11 * 60) && wait <= Duration::from_secs(12 * 60),
            "{wait:?}"
        );
    }
    // Four a minute: 3, 2, 1, 0, then a unit in at most 15 s.
    let minutes = of(1);
    assert_eq!(
        minutes.iter().map(|d| d.remaining).take(4).collect::<Vec<_>>(),
        [3, 2, 1, 0]
    );
    for refused in &minutes[4..] {
        assert!(!refused.allowed);
        assert_eq!(refused.limit, 4);
        assert!(refused.retry_after <= Duration::from_secs(15), "{refused:?}");
        assert!(refused.retry_after > Duration::from_secs(14), "{refused:?}");
    }
    // Two a second: 1, 0, then a unit in at most half a second.
    let seconds = of(2);
    assert_eq!(
        seconds.iter().map(|d| d.remaining).take(2).collect::<Vec<_>>(),
        [1, 0]
    );
    for refused in &seconds[2..] {
        assert!(!refused.allowed);
        assert_eq!(refused.limit, 2);
        assert!(refused.retry_after <= Duration::from_millis(500), "{refused:?}");
    }
}

/// A limiter whose runtime (where `connect` started its connection and batching task) has shut
/// down answers from its fallback, at once, in the runtime that uses it: fail-open counts in
/// process, fail-closed refuses.
#[test]
fn a_limiter_outliving_its_runtime_answers_from_its_fallback() {
    let url = test_redis_url();
    let quota = Quota::per_hour(10);
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    };
    let first = runtime();
    let (open, closed) = first.block_on(async {
        (
            connect(&url, quota, RedisFallback::FailOpen).await,
            connect(&url, quota, RedisFallback::FailClosed).await,
        )
    });
    drop(first);

    let lineage = KeyId::generate();
    runtime().block_on(async {
        let started = Instant::now();
        let decision = spend(&open, &lineage, quota, 1).await;
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 9, "counted by the in-process fallback");
        assert!(open.is_degraded());
        refused_within(&closed, &lineage, quota, started, Duration::from_millis(200)).await;
    });
}

/// The second process of `two_processes_share_one_budget` reads its lineage from here.
const CHILD_LINEAGE: &str = "KEYWARD_RL_CHILD_LINEAGE";
/// Prefix of the second process's output lines.
const CHILD_SAYS: &str = "keyward-child:";
const BUDGET: u32 = 40;
const SPENDS_EACH: u32 = 30;

/// The time at which `lineage`'s budget under `quota` is whole again, as Redis stores it.
async fn stored_whole_at(
    conn: &mut redis::aio::MultiplexedConnection,
    lineage: &KeyId,
    quota: Quota,
) -> Option<u64> {
    redis::cmd("GET")
        .arg(budget_key(lineage, quota))
        .query_async(conn)
        .await
        .expect("GET")
}

#[tokio::test]
async fn a_lease_hands_out_a_busy_budget_without_asking_redis() {
    let url = test_redis_url();
    // A unit comes back every 3.6 s: none while the test runs. Leases of 1%: ten units.
    let quota = Quota::per_hour(1000);
    let limiter = connect(&url, quota, RedisFallback::FailClosed)
        .await
        .with_leases(1);
    let lineage = KeyId::generate();
    let mut conn = inspect(&url).await;

    let first = spend(&limiter, &lineage, quota, 1).await;
    assert_eq!(first.remaining, 999, "the lease's ten units count as left");
    let spent_with_lease = stored_whole_at(&mut conn, &lineage, quota).await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let decision = spend(&limiter, &lineage, quota, 1).await;
        assert!(decision.allowed);
        remaining.push(decision.remaining);
    }
    assert_eq!(remaining, [998, 997, 996, 995, 994]);
    assert_eq!(
        stored_whole_at(&mut conn, &lineage, quota).await,
        spent_with_lease,
        "the lease's units were handed out without spending in Redis"
    );
    // This one would leave under half a lease: it asks for the next, spending eleven in Redis.
    let next = spend(&limiter, &lineage, quota, 1).await;
    assert_eq!(next.remaining, 993, "978 in Redis, fifteen here");
    assert!(stored_whole_at(&mut conn, &lineage, quota).await > spent_with_lease);

    // A quota whose 1% is under a unit has no leases: each check spends in Redis.
    let small = Quota::per_hour(60);
    let exact = KeyId::generate();
    let mut stored = Vec::new();
    for _ in 0..3 {
        spend(&limiter, &exact, small, 1).await;
        stored.push(stored_whole_at(&mut conn, &exact, small).await);
    }
    assert!(stored[0] < stored[1] && stored[1] < stored[2], "{stored:?}");
}

#[tokio::test]
async fn processes_with_leases_admit_exactly_the_shared_budget() {
    let url = test_redis_url();
    let quota = Quota::per_hour(1000);
    // Two limiters on connections of their own, each with its own leases: two processes.
    let (one, two) = (
        connect(&url, quota, RedisFallback::FailClosed)
            .await
            .with_leases(2),
        connect(&url, quota, RedisFallback::FailClosed)
            .await
            .with_leases(2),
    );
    let lineage = KeyId::generate();
    let (mut admitted, mut refused_in_a_row) = ([0u32; 2], 0);
    // Spend from both, several checks at once each, until both refuse: their leases are used
    // up, and Redis's budget too.
    while refused_in_a_row < 2 {
        let mut refused = 0;
        for (limiter, count) in [&one, &two].into_iter().zip(admitted.iter_mut()) {
            let decisions =
                futures_util::future::join_all((0..4).map(|_| spend(limiter, &lineage, quota, 1))).await;
            let allowed = decisions.iter().filter(|d| d.allowed).count() as u32;
            *count += allowed;
            refused += u32::from(allowed == 0);
        }
        refused_in_a_row = if refused == 2 { refused_in_a_row + 1 } else { 0 };
        assert!(
            admitted.iter().sum::<u32>() <= 1000,
            "never more than the budget: {admitted:?}"
        );
    }
    assert_eq!(
        admitted.iter().sum::<u32>(),
        1000,
        "every unit admitted once: {admitted:?}"
    );
    assert!(admitted.iter().all(|&n| n > 0), "{admitted:?}");
}

#[tokio::test]
async fn held_lease_units_are_handed_out_through_an_outage_and_then_the_fallback_decides() {
    let mut server = RedisServer::start().await;
    let url = server.url();
    let quota = Quota::per_hour(1000);
    let limiter = connect(&url, quota, RedisFallback::FailClosed)
        .await
        .with_leases(1)
        .with_retry_interval(Duration::from_secs(60));
    let lineage = KeyId::generate();
    assert_eq!(
        spend(&limiter, &lineage, quota, 1).await.remaining,
        999,
        "a lease of ten"
    );

    server.kill();

    // The units held were spent in Redis before it went away: all ten are handed out, the
    // check that asks for the next lease (and finds Redis gone) included; then the fallback
    // (fail closed: the layer's 503) decides.
    for _ in 0..10 {
        assert!(spend(&limiter, &lineage, quota, 1).await.allowed);
    }
    assert!(limiter.is_degraded(), "the ask found Redis gone");
    for _ in 0..3 {
        refused_within(&limiter, &lineage, quota, Instant::now(), Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn through_the_layer_a_leased_budget_counts_down_by_one_then_answers_429() {
    let url = test_redis_url();
    // A unit comes back every 18 s: none while the test runs. Leases of 5%: ten units.
    let quota = Quota::per_hour(200);
    let limiter = Arc::new(
        connect(&url, quota, RedisFallback::FailClosed)
            .await
            .with_leases(5),
    );
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limiter(limiter, RateLimits::new(quota))
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    let mut remaining = Vec::new();
    let refused = loop {
        let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
        if reply.status.as_u16() == 429 {
            break reply;
        }
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
        remaining.push(reply.number("x-ratelimit-remaining"));
        assert!(remaining.len() <= 200, "the budget never ran out");
    };
    // Handed out from leases or spent in Redis, each request left one unit fewer, and the
    // budget ran out exactly at its limit.
    assert_eq!(remaining, (0..200).rev().collect::<Vec<u64>>());
    assert_eq!(refused.number("x-ratelimit-remaining"), 0);
    assert!(refused.number("retry-after") >= 1);
}

/// Every unit of a shared budget is spent once: the `remaining` of the allowed decisions.
fn remaining_of_allowed(decisions: &[RateDecision]) -> Vec<u32> {
    decisions
        .iter()
        .filter(|d| d.allowed)
        .map(|d| d.remaining)
        .collect()
}

#[tokio::test]
async fn two_processes_share_one_budget() {
    let url = test_redis_url();
    let quota = Quota::per_hour(BUDGET);
    let limiter = connect(&url, quota, RedisFallback::FailClosed).await;
    let lineage = KeyId::generate();

    let exe = std::env::current_exe().expect("the test binary's path");
    let child = Command::new(exe)
        .args([
            "--exact",
            "second_process_spends",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_LINEAGE, lineage.as_str())
        .env("KEYWARD_TEST_REDIS_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the test binary runs again as a second process");
    let mut child = KillOnDrop(child);
    let child_ref = &mut child.0;
    let mut stdin = child_ref.stdin.take().expect("piped stdin");
    let stdout = BufReader::new(child_ref.stdout.take().expect("piped stdout"));
    // The second process's lines (libtest may print before them on the same line), read on a
    // thread so that a stuck process fails the test instead of hanging it.
    let (lines, said) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(at) = line.find(CHILD_SAYS)
                && lines
                    .send(line[at + CHILD_SAYS.len()..].trim().to_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let next = || said.recv_timeout(Duration::from_secs(10));

    // Both connected: start together, so the two processes spend at the same time.
    let ready = next();
    assert_eq!(ready.as_deref(), Ok("ready"), "the second process is ready");
    writeln!(stdin, "go").expect("the second process reads its stdin");
    let mut mine = Vec::new();
    for _ in 0..SPENDS_EACH {
        mine.push(spend(&limiter, &lineage, quota, 1).await);
    }

    let mut theirs = Vec::new();
    for spend in 1..=SPENDS_EACH {
        match next()
            .unwrap_or_else(|e| panic!("spend #{spend} of the second process: {e}"))
            .as_str()
        {
            "refused" => theirs.push(None),
            remaining => theirs.push(Some(remaining.parse::<u32>().expect("a remaining count"))),
        }
    }
    let status = child.0.wait().expect("the second process ends");
    assert!(status.success(), "the second process failed: {status}");

    // Together the two processes spent the budget exactly once: each unit, named by the
    // `remaining` it left, went to one request of one process.
    let mut spent: Vec<u32> = remaining_of_allowed(&mine);
    spent.extend(theirs.iter().flatten());
    spent.sort_unstable();
    assert_eq!(
        spent,
        (0..BUDGET).collect::<Vec<_>>(),
        "mine: {mine:?}, theirs: {theirs:?}"
    );
    assert!(!spend(&limiter, &lineage, quota, 1).await.allowed);
}

/// Run by `two_processes_share_one_budget` in a second process: spends from the lineage it is
/// given and prints each outcome.
#[tokio::test]
#[ignore = "the second process of two_processes_share_one_budget"]
async fn second_process_spends() {
    let lineage: KeyId = std::env::var(CHILD_LINEAGE)
        .unwrap_or_else(|_| panic!("{CHILD_LINEAGE} is unset: run two_processes_share_one_budget instead"))
        .parse()
        .expect("a key id");
    let quota = Quota::per_hour(BUDGET);
    let limiter = connect(&test_redis_url(), quota, RedisFallback::FailClosed).await;

    println!("{CHILD_SAYS} ready");
    let mut go = String::new();
    std::io::stdin()
        .read_line(&mut go)
        .expect("the first process says go");
    let mut decisions = Vec::new();
    for _ in 0..SPENDS_EACH {
        decisions.push(spend(&limiter, &lineage, quota, 1).await);
    }
    for decision in &decisions {
        if decision.allowed {
            println!("{CHILD_SAYS} {}", decision.remaining);
        } else {
            println!("{CHILD_SAYS} refused");
        }
    }
    assert_eq!(decisions.len(), SPENDS_EACH as usize);
}

/// Checks until `decide` gives `Some`, trying for at most 5 s.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut decide: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = decide().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within 5 s");
        // Waiting for a reconnection, not for an expiry.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_outage_falls_back_then_redis_takes_over_again() {
    let (logs, _capture) = Logs::capture();
    let mut server = RedisServer::start().await;
    let url = server.url();
    let quota = Quota::per_hour(3);
    let retry = Duration::from_millis(100);
    let open = connect(&url, quota, RedisFallback::FailOpen)
        .await
        .with_retry_interval(retry);
    let closed = connect(&url, quota, RedisFallback::FailClosed)
        .await
        .with_retry_interval(retry);
    let lineage = KeyId::generate();

    // Redis decides: both limiters spend from the one budget.
    assert_eq!(spend(&open, &lineage, quota, 1).await.remaining, 2);
    assert_eq!(spend(&closed, &lineage, quota, 1).await.remaining, 1);
    assert_eq!(spend(&open, &lineage, quota, 1).await.remaining, 0);
    assert!(!spend(&closed, &lineage, quota, 1).await.allowed);

    server.kill();

    // Fail open: the in-process fallback decides at once, from a budget of its own.
    let started = Instant::now();
    let fallback = spend(&open, &lineage, quota, 1).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(open.is_degraded());
    assert!(fallback.allowed, "Redis's budget is spent, the fallback's is not");
    assert_eq!(fallback.remaining, 2);
    assert_eq!(spend(&open, &lineage, quota, 1).await.remaining, 1);
    assert_eq!(spend(&open, &lineage, quota, 1).await.remaining, 0);
    assert!(!spend(&open, &lineage, quota, 1).await.allowed);

    // Fail closed: an error (the layer's 503), quickly.
    for _ in 1..=3 {
        refused_within(&closed, &lineage, quota, Instant::now(), Duration::from_secs(1)).await;
    }
    assert!(closed.is_degraded());
    assert_eq!(
        logs.count(Level::WARN, "Redis unreachable"),
        2,
        "once per outage and limiter"
    );

    server.restart().await;

    // Redis decides again: its budget starts whole (the new server kept nothing), while the
    // fallback's is spent, so an allowed request was decided by Redis.
    let (open, closed, lineage) = (&open, &closed, &lineage);
    let back = eventually("fail-open recovery", || async move {
        Some(spend(open, lineage, quota, 1).await).filter(|d| d.allowed)
    })
    .await;
    assert_eq!(back.remaining, 2);
    assert!(!open.is_degraded());
    let back = eventually("fail-closed recovery", || async move {
        closed
            .check(RateKey::per_key(lineage), quota, units(1))
            .decide()
            .await
            .ok()
    })
    .await;
    assert!(back.allowed);
    assert_eq!(back.remaining, 1, "both limiters spend from Redis's budget again");
    assert!(!closed.is_degraded());

    let mut conn = inspect(&url).await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(budget_key(lineage, quota))
        .query_async(&mut conn)
        .await
        .expect("EXISTS");
    assert!(exists, "the restarted Redis holds the budget");
    assert_eq!(logs.count(Level::INFO, "Redis answers again"), 2);
    assert_eq!(logs.count(Level::WARN, "Redis unreachable"), 2);
}

#[tokio::test]
async fn a_hung_redis_costs_each_request_at_most_the_timeout() {
    let (logs, _capture) = Logs::capture();
    let server = RedisServer::start().await;
    let url = server.url();
    let quota = Quota::per_hour(10);
    let (timeout, retry) = (Duration::from_millis(100), Duration::from_millis(300));
    let open = connect(&url, quota, RedisFallback::FailOpen)
        .await
        .with_timeout(timeout)
        .with_retry_interval(retry);
    let closed = connect(&url, quota, RedisFallback::FailClosed)
        .await
        .with_timeout(timeout)
        .with_retry_interval(retry);
    let lineage = KeyId::generate();
    assert!(spend(&open, &lineage, quota, 1).await.allowed);
    assert!(
        closed
            .check(RateKey::per_key(&lineage), quota, units(1))
            .decide()
            .await
            .is_ok()
    );

    server.freeze();

    // The first check waits for the timeout, then the fallback decides.
    for limiter in [&open, &closed] {
        let started = Instant::now();
        let decision = limiter
            .check(RateKey::per_key(&lineage), quota, units(1))
            .decide()
            .await;
        let waited = started.elapsed();
        assert!(
            waited >= timeout && waited < timeout * 5,
            "{:?} waited {waited:?}",
            limiter.fallback()
        );
        match limiter.fallback() {
            RedisFallback::FailOpen => assert_eq!(decision.ok().map(|d| d.remaining), Some(9)),
            _ => assert!(decision.is_err()),
        }
        assert!(limiter.is_degraded());
    }
    // Until the next attempt is due, checks do not wait for Redis at all.
    for limiter in [&open, &closed] {
        let started = Instant::now();
        let decision = limiter
            .check(RateKey::per_key(&lineage), quota, units(1))
            .decide()
            .await;
        assert!(started.elapsed() < timeout, "{:?} waited", limiter.fallback());
        assert_eq!(decision.is_ok(), limiter.fallback() == RedisFallback::FailOpen);
    }
    assert_eq!(logs.count(Level::WARN, "Redis unreachable"), 2);

    server.thaw();

    let (open, lineage) = (&open, &lineage);
    eventually("recovery from a hung Redis", || async move {
        let decision = spend(open, lineage, quota, 1).await;
        Some(()).filter(|()| !open.is_degraded() && decision.allowed)
    })
    .await;
    assert_eq!(logs.count(Level::INFO, "Redis answers again"), 1);
}

/// Redis killed while several tasks send requests over HTTP to two servers, one whose limiter fails
/// open and one whose limiter fails closed, then started again: no 5xx but fail-closed's 503
/// `rate_limiter_unavailable`, and both decide with Redis again after the restart, without
/// restarting the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_http_traffic_through_a_redis_outage() {
    let mut server = RedisServer::start().await;
    let url = server.url();
    // Not the limit under this traffic: what is tested is who decides, not refusals.
    let quota = Quota::per_minute(100_000);
    let retry = Duration::from_millis(100);
    let h = Harness::new();
    let mut limiters = Vec::new();
    let mut servers = Vec::new();
    let mut keys = Vec::new();
    for fallback in [RedisFallback::FailOpen, RedisFallback::FailClosed] {
        let limiter = Arc::new(connect(&url, quota, fallback).await.with_retry_interval(retry));
        let layer = ApiKeyLayer::builder(h.manager.clone())
            .rate_limiter(limiter.clone(), RateLimits::new(quota))
            .build()
            .expect("a valid layer");
        servers.push(serve(&layer).await);
        limiters.push(limiter);
        keys.push(h.key(&format!("site_{}", servers.len())).await);
    }
    let labels = ["fail open", "fail closed"];
    let mut traffic = Traffic::new();
    for ((label, server), key) in labels.iter().zip(&servers).zip(&keys) {
        traffic.send(server, label, key.token.expose(), 3);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    server.kill();
    traffic.enter(DOWN);
    tokio::time::sleep(Duration::from_secs(2)).await;
    traffic.enter(RESTARTING);
    server.restart().await;
    traffic.enter(RECOVERED);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answers = traffic.finish().await;

    let open = &answers["fail open"];
    let closed = &answers["fail closed"];
    for (label, answers) in [("fail open", open), ("fail closed", closed)] {
        assert_ok_or_unavailable(label, answers, "rate_limiter_unavailable");
        let within = answers.iter().filter(|a| a.within(DOWN)).count();
        assert!(within >= 30, "{label}: {within} requests while Redis was down");
        assert!(
            answers.iter().any(|a| a.within(RECOVERED) && a.status == 200),
            "{label}: no 200 after the restart"
        );
        assert_eq!(
            answers.last().map(|a| a.status),
            Some(200),
            "{label}: the last answer"
        );
    }
    assert!(
        open.iter().all(|a| a.status == 200),
        "fail open answers 200 throughout"
    );
    assert!(
        closed.iter().filter(|a| a.within(DOWN)).all(|a| a.status == 503),
        "fail closed refuses every request while Redis is down"
    );
    // Both limiters decide with Redis again (a limiter is degraded until Redis answers it).
    for limiter in &limiters {
        assert!(!limiter.is_degraded(), "{:?} recovered", limiter.fallback());
    }
}

/// Kills the second process if the test fails before it ends, so that nothing is left running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
