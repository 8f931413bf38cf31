//! The server `scripts/load` drives with `wrk`: one route behind an `ApiKeyLayer` on a fresh
//! SQLite store, with real keys minted at start. Eight keys on a quota no load reaches, one key of
//! the tier `limited` (10 requests a second), and well-formed tokens that no store holds (for the
//! negative cache) are written to the file named by the first argument, one `<kind> <token>` a
//! line. Serves on `127.0.0.1:$PORT` (default 3100) until Ctrl-C (SIGINT), then writes the
//! pending usage and audit records and prints how many were dropped.
//!
//! ```text
//! cargo run --release --example load_server -- target/load/tokens.txt
//! ```

pub mod common;

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use axum::Router;
use axum::routing::get;
use keyward_core::token::TokenFormat;
use keyward_core::{Environment, KeyKind, KeyManager, NewKey, TenantId, Tier};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{Quota, RateLimits};
use tokio::net::TcpListener;

use common::BoxError;

/// Keys of the default tier: their quota is never the limit under load.
const VALID_KEYS: usize = 8;
/// Well-formed tokens of the keyspace's format that are no key: twice the negative cache's
/// default capacity, so that a long run fills it to its bound.
const UNKNOWN_TOKENS: usize = 200_000;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::init_tracing("warn");
    let tokens_file = std::env::args()
        .nth(1)
        .ok_or("usage: load_server <file to write the tokens to>")?;
    let (store, dir) = common::temp_sqlite_store().await?;
    let manager = KeyManager::builder_shared(store).build()?;
    let limits = RateLimits::new(Quota::per_second(1_000_000)).tier("limited", Quota::per_second(10));
    let layer = ApiKeyLayer::builder(manager.clone())
        .rate_limits(limits)
        .client_ip(keyward_axum::client_ip())
        .build()?;

    let mut tokens = String::new();
    for i in 0..VALID_KEYS {
        let tenant = TenantId::new(format!("load_{i}"))?;
        let created = manager.create(NewKey::new(tenant).name("load")).await?;
        writeln!(tokens, "valid {}", created.token.expose())?;
    }
    let limited = NewKey::new(TenantId::new("load_limited")?)
        .name("limited")
        .tier(Tier::new("limited")?);
    writeln!(
        tokens,
        "limited {}",
        manager.create(limited).await?.token.expose()
    )?;
    let format = TokenFormat::default();
    for _ in 0..UNKNOWN_TOKENS {
        writeln!(
            tokens,
            "unknown {}",
            format.mint(Environment::Live, KeyKind::Secret).expose()
        )?;
    }
    std::fs::write(&tokens_file, tokens)?;

    let router = Router::new()
        .route("/v1/ping", get(|| async { "ok" }))
        .layer(layer.clone());
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, common::port(3100)?)).await?;
    println!("store: sqlite://{}", dir.path().join("keyward.db").display());
    println!("listening on http://127.0.0.1:{}", listener.local_addr()?.port());
    common::serve(listener, router, common::shutdown_signal()).await?;
    if let Some(audit) = layer.audit() {
        audit.flush().await;
        println!("audit records dropped: {}", audit.dropped());
    }
    Ok(())
}
