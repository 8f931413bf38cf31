//! Adtarget's public API, reproduced by configuration: one Bearer token per site, shaped
//! `atk_live_<8-char prefix>_<32-char secret>`, looked up by its prefix and checked against a
//! SHA-256 hash; at most 5 active keys per site; keys never expire; rotation is create-then-revoke
//! with no grace; a kill switch (`ADTARGET_PUBLIC_API_ENABLED=false`) answers 503 `API_DISABLED`;
//! errors carry upper-case codes; last-used times are recorded.
//!
//! ```text
//! cargo run --example adtarget                 # listens on 127.0.0.1:3001
//! curl -H "Authorization: Bearer <key site>" http://127.0.0.1:3001/v1/events
//! ADTARGET_PUBLIC_API_ENABLED=false cargo run --example adtarget   # every request: 503 API_DISABLED
//! ```

pub mod common;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use keyward_axum::AuthedKey;
use keyward_core::time::{Clock, SystemClock};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{Drift, Expiry, KeyManager, KeyStore, NewKey, Rotation, TenantId};
use keyward_tower::{ApiKeyLayer, CredentialSources, JsonEnvelope, KillSwitch};
use serde_json::{Value, json};

use common::{App, BoxError};

/// The site the demo key belongs to.
pub const SITE: &str = "site_1";

/// Adtarget's token shape: `atk_live_a1b2c3d4_<32 lowercase letters and digits>`.
///
/// # Errors
///
/// Never for these constants; the builder checks its input.
pub fn token_format() -> Result<TokenFormat, BoxError> {
    Ok(TokenFormat::builder("atk")
        .environment()
        .public_prefix(8)
        .secret(32, Alphabet::LowerAlphanumeric)
        .build()?)
}

/// Adtarget's lifecycle: 5 active keys per site, no expiry, create-then-revoke rotation.
/// Declared as the store's `adtarget` keyspace, so that the `keyward` CLI applies the same rules.
///
/// # Errors
///
/// A rule the manager refuses.
pub async fn manager(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<KeyManager, BoxError> {
    Ok(KeyManager::builder_shared(store)
        .keyspace("adtarget")
        .format(token_format()?)
        .clock(clock)
        .max_active_keys(5)
        .rotation(Rotation::TwoStep)
        .lock_rotation()
        .declare(Drift::Refuse)
        .await?)
}

/// The app: `GET /v1/events` behind a Bearer-only layer with the kill switch and upper-case codes,
/// and one demo key (`site`) for [`SITE`].
///
/// # Errors
///
/// The manager, the layer or the first key cannot be made.
pub async fn app(
    store: Arc<dyn KeyStore>,
    clock: impl Clock,
    kill_switch: KillSwitch,
) -> Result<App, BoxError> {
    let manager = manager(store, clock).await?;
    let layer = ApiKeyLayer::builder(manager.clone())
        .credentials(CredentialSources::bearer_only())
        .kill_switch(kill_switch)
        .render_with(JsonEnvelope::uppercase())
        .client_ip(keyward_axum::client_ip())
        .build()?;
    let audit = layer.audit().into_iter().cloned().collect();
    let site = manager
        .create(
            NewKey::new(TenantId::new(SITE)?)
                .name("Production backend")
                .expires(Expiry::Never),
        )
        .await?;
    let router = Router::new().route("/v1/events", get(events)).layer(layer);
    Ok(App {
        router,
        manager,
        keys: vec![("site", site)],
        audit,
    })
}

/// The site's events: only the key's own site is ever visible.
async fn events(key: AuthedKey) -> Json<Value> {
    Json(json!({ "site": key.tenant, "events": [] }))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::run(3001, |store| {
        app(
            store,
            SystemClock,
            KillSwitch::from_env("ADTARGET_PUBLIC_API_ENABLED"),
        )
    })
    .await
}
