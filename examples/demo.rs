//! keyward in one screen: a server on a SQLite file in a temporary directory, one key minted for
//! it, and `curl` lines to paste that show a success, a 401, a 403 and a 429 with its headers.
//!
//! ```text
//! cargo run --example demo                     # listens on 127.0.0.1:3000 (or $PORT)
//! ```

pub mod common;

use std::net::Ipv4Addr;

use axum::routing::get;
use axum::{Extension, Json, Router};
use keyward_core::{KeyManager, NewKey, ScopeSet, TenantId};
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{ApiKeyLayer, VerifiedKey};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use common::{BoxError, Refusal, require_scope};

/// Requests a minute per key: small, so that the 429 is a few requests away.
const PER_MINUTE: u32 = 5;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let (store, dir) = common::temp_sqlite_store().await?;
    let manager = KeyManager::builder_shared(store).build()?;
    let layer = ApiKeyLayer::builder(manager.clone())
        .rate_limits(RateLimits::new(Quota::per_minute(PER_MINUTE)))
        .client_ip(common::client_ip)
        .build()?;
    let created = manager
        .create(
            NewKey::new(TenantId::new("demo_tenant")?)
                .name("demo")
                .scopes(ScopeSet::parse_all(["hello:read"])?),
        )
        .await?;
    let router = Router::new()
        .route("/v1/hello", get(hello))
        .route("/v1/admin", get(admin))
        .layer(layer.clone());

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, common::port(3000)?)).await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let token = created.token.expose();
    println!("store: sqlite://{}", dir.path().join("keyward.db").display());
    println!("listening on {base}");
    println!("key demo: {token}  (scopes: hello:read; {PER_MINUTE} requests a minute)");
    println!();
    println!("# 200: the key works");
    println!("curl -i -H 'Authorization: Bearer {token}' {base}/v1/hello");
    println!("curl -i -H 'X-API-Key: {token}' {base}/v1/hello");
    println!("# 401: no key, or a key that is not one");
    println!("curl -i {base}/v1/hello");
    println!("curl -i -H 'Authorization: Bearer kw_live_notakey_0000' {base}/v1/hello");
    println!("# 403: the key lacks the admin:write scope");
    println!("curl -i -H 'Authorization: Bearer {token}' {base}/v1/admin");
    println!("# 429: past {PER_MINUTE} requests a minute, with Retry-After and X-RateLimit-*");
    println!(
        "for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -D - -H 'Authorization: Bearer {token}' \
         {base}/v1/hello | grep -iE '^(HTTP|retry-after|x-ratelimit)'; echo; done"
    );
    println!();
    println!("Ctrl-C stops the server; the key store goes with the temporary directory.");

    common::serve(listener, router, common::shutdown_signal()).await?;
    if let Some(audit) = layer.audit() {
        audit.flush().await;
    }
    Ok(())
}

async fn hello(Extension(key): Extension<VerifiedKey>) -> Result<Json<Value>, Refusal> {
    require_scope(&key, "hello:read")?;
    Ok(Json(json!({ "hello": key.key().tenant, "key_id": key.key().id })))
}

async fn admin(Extension(key): Extension<VerifiedKey>) -> Result<Json<Value>, Refusal> {
    require_scope(&key, "admin:write")?;
    Ok(Json(json!({ "admin": true })))
}
