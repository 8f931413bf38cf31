//! The server `scripts/compare` drives with `wrk`: one route, `GET /v1/events` answering a static
//! body, served bare or behind one of the stacks compared, chosen by the first argument:
//!
//! - `bare`: axum alone;
//! - `keyward`: `ApiKeyLayer` with its defaults (usage and audit recording on) on a memory store;
//! - `keyward-no-audit`: the same with recording off (`no_audit`);
//! - `keyward-pg-redis`: `ApiKeyLayer` on the PostgreSQL store at `KEYWARD_BENCH_POSTGRES_URL`
//!   with the Redis limiter at `KEYWARD_BENCH_REDIS_URL` (a scratch database: keys are added);
//! - `keyward-pg`, `keyward-redis`: each of those two alone (PostgreSQL with the in-process limiter,
//!   the memory store with Redis), to tell which costs what;
//! - `keyward-redis-leases`, `keyward-pg-redis-leases`: those with Redis, the limiter taking
//!   leases of 1% of the budget (`RedisLimiter::with_leases`);
//! - `handwritten`: `tower_governor` keyed by the token in front of a `from_fn` bearer check
//!   (SHA-256, `HashMap`), as `benches/request_path.rs` measures it.
//!
//! Every variant but `bare` mints eight keys and writes their tokens to the file named by the
//! second argument, one a line, on a budget no load reaches (4 000 a burst, refilled one a
//! microsecond: the rate-limit numbers stay in the range real quotas have). The runtime has
//! `KEYWARD_COMPARE_WORKERS` worker threads (default 1). Serves on `127.0.0.1:$PORT` (default
//! 3200) until Ctrl-C, then writes the pending audit records and prints how many were dropped
//! (the writer's queue full).
//!
//! ```text
//! cargo run --release --features postgres,redis --example compare_server -- keyward target/compare/tokens.txt
//! ```

pub mod common;
#[path = "../benches/common/handwritten.rs"]
mod handwritten;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{Quota, RateLimits, RedisFallback, RedisLimiter};
use tokio::net::TcpListener;

use common::BoxError;

/// Keys minted, the tokens `scripts/compare.lua` takes turns with.
const KEYS: usize = 8;
/// The burst of every stack's budget.
const BURST: u32 = 4_000;

fn main() -> Result<(), BoxError> {
    let workers = match std::env::var("KEYWARD_COMPARE_WORKERS") {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("KEYWARD_COMPARE_WORKERS: {text:?}"))?,
        Err(_) => 1,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), BoxError> {
    common::init_tracing("warn");
    let mut args = std::env::args().skip(1);
    let usage = "usage: compare_server bare|keyward|keyward-no-audit|keyward-pg-redis|keyward-pg|keyward-redis|keyward-redis-leases|keyward-pg-redis-leases|handwritten [tokens file]";
    let variant = args.next().ok_or(usage)?;
    let tokens_file = args.next();
    let app = Router::new().route("/v1/events", get(|| async { "ok" }));
    let limits = RateLimits::new(Quota::new(BURST, Duration::from_micros(u64::from(BURST))));
    let (router, tokens, layer) = match variant.as_str() {
        "bare" => (app, Vec::new(), None),
        "keyward" | "keyward-no-audit" => {
            let manager = KeyManager::new(MemoryStore::new());
            let tokens = mint(&manager).await?;
            let builder = ApiKeyLayer::builder(manager).rate_limits(limits);
            let builder = if variant == "keyward" {
                builder
            } else {
                builder.no_audit()
            };
            let layer = builder.build()?;
            (app.layer(layer.clone()), tokens, Some(layer))
        }
        "keyward-pg-redis"
        | "keyward-pg"
        | "keyward-redis"
        | "keyward-redis-leases"
        | "keyward-pg-redis-leases" => {
            let manager = if variant.starts_with("keyward-redis") {
                KeyManager::new(MemoryStore::new())
            } else {
                let postgres = std::env::var("KEYWARD_BENCH_POSTGRES_URL")
                    .map_err(|_| format!("{variant} needs KEYWARD_BENCH_POSTGRES_URL"))?;
                KeyManager::builder_shared(keyward_core::store::open(&postgres).await?).build()?
            };
            let tokens = mint(&manager).await?;
            let builder = ApiKeyLayer::builder(manager);
            let builder = if variant == "keyward-pg" {
                builder.rate_limits(limits)
            } else {
                let redis = std::env::var("KEYWARD_BENCH_REDIS_URL")
                    .map_err(|_| format!("{variant} needs KEYWARD_BENCH_REDIS_URL"))?;
                let limiter = RedisLimiter::connect(&redis, &limits, RedisFallback::FailClosed).await?;
                let limiter = if variant.ends_with("-leases") {
                    limiter.with_leases(1)
                } else {
                    limiter
                };
                builder.rate_limiter(Arc::new(limiter), limits)
            };
            let layer = builder.build()?;
            (app.layer(layer.clone()), tokens, Some(layer))
        }
        "handwritten" => {
            let manager = KeyManager::new(MemoryStore::new());
            let tokens = mint(&manager).await?;
            let borrowed: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let (keys, governor) = handwritten::handwritten_parts(&borrowed, BURST);
            let router = app
                .layer(governor)
                .layer(middleware::from_fn_with_state(keys, handwritten::bearer_check));
            (router, tokens, None)
        }
        other => return Err(format!("unknown variant {other:?}; {usage}").into()),
    };
    if let Some(path) = tokens_file {
        std::fs::write(path, tokens.join("\n") + "\n")?;
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, common::port(3200)?)).await?;
    println!(
        "{variant} listening on http://127.0.0.1:{}",
        listener.local_addr()?.port()
    );
    common::serve(listener, router, common::shutdown_signal()).await?;
    if let Some(audit) = layer.as_ref().and_then(ApiKeyLayer::audit) {
        audit.flush().await;
        // Records the writer could not keep up with: a run that drops some did less work.
        println!("audit records dropped: {}", audit.dropped());
    }
    Ok(())
}

/// Mints [`KEYS`] keys of one tenant and returns their tokens.
async fn mint(manager: &KeyManager) -> Result<Vec<String>, BoxError> {
    let tenant = TenantId::new("site_1")?;
    let mut tokens = Vec::with_capacity(KEYS);
    for _ in 0..KEYS {
        let created = manager
            .create(NewKey::new(tenant.clone()).name("compare"))
            .await?;
        tokens.push(created.token.expose().to_owned());
    }
    Ok(tokens)
}
