//! Trcker's brand API keys, reproduced by configuration: one key per brand, shaped `tk_` and 40
//! random characters and found by its hash; `Authorization: Bearer` everywhere, and `x-api-key` as
//! well on the click-capture endpoint; two-step rotation (a replacement is created next to the
//! current key, which works until it is revoked); every request logged with the key's fingerprint,
//! the client's address and user agent.
//!
//! ```text
//! cargo run --example trcker                   # listens on 127.0.0.1:3005
//! curl http://127.0.0.1:3005/api/public/conversions -H "Authorization: Bearer <key brand>"
//! curl -X POST http://127.0.0.1:3005/api/clicks/capture -H "x-api-key: <key brand>"
//! curl -X POST http://127.0.0.1:3005/api/mcp -H "Authorization: Bearer <key brand>"
//! ```

pub mod common;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Json, Router};
use keyward_axum::AuthedKey;
use keyward_core::time::{Clock, SystemClock};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{Drift, KeyManager, KeyStore, NewKey, Rotation, TenantId};
use keyward_tower::{ApiKeyLayer, CredentialSources};
use serde_json::{Value, json};

use common::{App, BoxError};

/// The brand the demo key belongs to.
pub const BRAND: &str = "brand_1";

/// Trcker's lifecycle: `tk_<40 base62>` tokens, one active key per brand (its pending replacement
/// counts with it), two-step rotation, no expiry.
/// Declared as the store's `trcker` keyspace, so that the `keyward` CLI applies the same rules.
///
/// # Errors
///
/// A rule the manager refuses.
pub async fn manager(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<KeyManager, BoxError> {
    let format = TokenFormat::builder("tk").secret(40, Alphabet::Base62).build()?;
    Ok(KeyManager::builder_shared(store)
        .keyspace("trcker")
        .format(format)
        .clock(clock)
        .max_active_keys(1)
        .rotation(Rotation::TwoStep)
        .lock_rotation()
        .declare(Drift::Refuse)
        .await?)
}

/// The app, with one demo key (`brand`) for [`BRAND`].
///
/// The click-capture endpoint reads the key from `Authorization: Bearer` or `x-api-key`, the others
/// from Bearer only: the layer's credential sources are per layer, so the two groups of routes are
/// two routers, each behind its own layer over the same manager.
///
/// # Errors
///
/// The manager, the layers or the key cannot be made.
pub async fn app(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<App, BoxError> {
    let manager = manager(store, clock).await?;
    let bearer = layer(&manager, CredentialSources::bearer_only())?;
    let capture = layer(&manager, CredentialSources::default())?;
    let audit = [&bearer, &capture]
        .into_iter()
        .filter_map(|layer| layer.audit().cloned())
        .collect();
    let brand = manager
        .create(NewKey::new(TenantId::new(BRAND)?).name("Brand API key"))
        .await?;
    let api = Router::new()
        .route("/api/public/conversions", get(conversions))
        .route("/api/mcp", post(mcp))
        .layer(bearer);
    let clicks = Router::new()
        .route("/api/clicks/capture", post(capture_click))
        .layer(capture);
    Ok(App {
        router: api.merge(clicks),
        manager,
        keys: vec![("brand", brand)],
        audit,
    })
}

fn layer(manager: &KeyManager, credentials: CredentialSources) -> Result<ApiKeyLayer, BoxError> {
    Ok(ApiKeyLayer::builder(manager.clone())
        .credentials(credentials)
        .client_ip(keyward_axum::client_ip())
        .build()?)
}

/// The brand's own conversions: a key never crosses its brand's boundary.
async fn conversions(key: AuthedKey) -> Json<Value> {
    Json(json!({ "brand": key.tenant, "conversions": [] }))
}

/// A stand-in for the MCP server: it answers with the brand the key acts for.
async fn mcp(key: AuthedKey) -> Json<Value> {
    Json(json!({ "jsonrpc": "2.0", "result": { "brand": key.tenant } }))
}

async fn capture_click(key: AuthedKey) -> Json<Value> {
    Json(json!({ "brand": key.tenant, "captured": true }))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::run(3005, |store| app(store, SystemClock)).await
}
