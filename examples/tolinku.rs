//! Tolinku's API, reproduced by configuration: publishable (`tolk_pub_…`) and secret (`tolk_sec_…`)
//! keys scoped to one Appspace, sent in `X-API-Key` or `Authorization: Bearer` — or, for
//! `navigator.sendBeacon`, in the JSON body's `apiKey` field; publishable keys only on the tracking,
//! banner, message and referral endpoints (elsewhere 403 with Tolinku's flat error); the `/api/`
//! endpoints need no key.
//!
//! ```text
//! cargo run --example tolinku                  # listens on 127.0.0.1:3003
//! curl -H "X-API-Key: <key secret>" http://127.0.0.1:3003/v1/api/analytics/overview
//! curl -H "X-API-Key: <key publishable>" http://127.0.0.1:3003/v1/api/analytics/overview   # 403
//! curl -d '{"apiKey":"<key publishable>","event_type":"custom.page_view"}' \
//!      -H 'Content-Type: text/plain' http://127.0.0.1:3003/v1/api/analytics/track
//! curl http://127.0.0.1:3003/api/app/info
//! ```

pub mod common;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use keyward_axum::AuthedKey;
use keyward_core::time::{Clock, SystemClock};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{Drift, KeyKind, KeyManager, KeyStore, NewKey, TenantId};
use keyward_tower::{ApiKeyLayer, CredentialSources, FlatError};
use serde_json::{Value, json};

use common::{App, BoxError};

/// The Appspace the demo keys belong to.
pub const APPSPACE: &str = "appspace_1";

/// Largest JSON body searched for the `apiKey` field (sendBeacon payloads are small).
pub const BEACON_MAX_BYTES: usize = 64 * 1024;

/// The endpoints publishable keys may call (and everything below each).
pub const PUBLISHABLE: [&str; 5] = [
    "/v1/api/analytics/track",
    "/v1/api/analytics/batch",
    "/v1/api/banners",
    "/v1/api/messages",
    "/v1/api/referral",
];

/// Tolinku's lifecycle: `tolk_pub_` / `tolk_sec_` tokens; any number of keys of each kind; revoked
/// keys stop at once.
/// Declared as the store's `tolinku` keyspace, so that the `keyward` CLI applies the same rules.
///
/// # Errors
///
/// A rule the manager refuses.
pub async fn manager(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<KeyManager, BoxError> {
    let format = TokenFormat::builder("tolk")
        .kind_segment("pub", "sec")
        .secret(32, Alphabet::Base62)
        .build()?;
    Ok(KeyManager::builder_shared(store)
        .keyspace("tolinku")
        .format(format)
        .clock(clock)
        .declare(Drift::Refuse)
        .await?)
}

/// The app, with two demo keys for [`APPSPACE`]: `publishable` and `secret`.
///
/// # Errors
///
/// The manager, the layer or the keys cannot be made.
pub async fn app(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<App, BoxError> {
    let manager = manager(store, clock).await?;
    let mut layer = ApiKeyLayer::builder(manager.clone())
        // X-API-Key (recommended), Bearer, and the beacon body field.
        .credentials(CredentialSources::default().body_field("apiKey", BEACON_MAX_BYTES))
        // "These endpoints use the /api/ path prefix (no /v1)" and need no key.
        .public("/api/")
        .render_with(FlatError)
        .client_ip(keyward_axum::client_ip());
    for pattern in PUBLISHABLE {
        layer = layer.allow_publishable(pattern);
    }
    let layer = layer.build()?;
    let audit = layer.audit().into_iter().cloned().collect();
    let appspace = TenantId::new(APPSPACE)?;
    let publishable = manager
        .create(
            NewKey::new(appspace.clone())
                .name("Mobile App")
                .kind(KeyKind::Publishable),
        )
        .await?;
    let secret = manager
        .create(NewKey::new(appspace).name("Production Server"))
        .await?;
    let router = Router::new()
        .route("/v1/api/analytics/track", post(track))
        .route("/v1/api/banners", get(banners))
        .route("/v1/api/analytics/overview", get(overview))
        .route("/api/app/info", get(app_info))
        .merge(other_routes())
        .layer(layer);
    Ok(App {
        router,
        manager,
        keys: vec![("publishable", publishable), ("secret", secret)],
        audit,
    })
}

/// Tracks a custom event. The body arrives intact (the layer may have read `apiKey` from it); a
/// beacon sends it as `text/plain`, so it is parsed here whatever its content type.
async fn track(key: AuthedKey, body: Bytes) -> (StatusCode, Json<Value>) {
    match serde_json::from_slice::<Value>(&body) {
        Ok(event) => {
            let event_type = event.get("event_type").cloned().unwrap_or(Value::Null);
            let reply = json!({ "appspace": key.tenant, "tracked": event_type });
            (StatusCode::ACCEPTED, Json(reply))
        }
        Err(_) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "The request body must be a JSON object." })),
        ),
    }
}

async fn banners(key: AuthedKey) -> Json<Value> {
    Json(json!({ "appspace": key.tenant, "banners": [] }))
}

async fn overview(key: AuthedKey) -> Json<Value> {
    Json(json!({ "appspace": key.tenant, "clicks": 0, "installs": 0, "opens": 0 }))
}

/// The document's other endpoints, each answering with a dummy body: the publishable ones, the
/// secret-only ones, and the keyless `/api/` ones.
fn other_routes() -> Router {
    Router::new()
        .route("/v1/api/analytics/batch", post(resource))
        .route("/v1/api/messages", get(resource))
        .route("/v1/api/messages/{id}/render-token", post(resource))
        .route("/v1/api/messages/{id}/render", get(resource))
        .route("/v1/api/referral/{*rest}", get(resource).post(resource))
        .route("/v1/api/analytics/funnel", get(resource))
        .route("/v1/api/analytics/timeseries", get(resource))
        .route("/v1/api/analytics/campaigns", get(resource))
        .route("/v1/api/analytics/geo", get(resource))
        .route("/v1/api/analytics/events", get(resource))
        .route("/v1/api/analytics/export", get(resource))
        .route("/v1/api/audiences/{*rest}", get(resource).post(resource))
        .route("/api/deferred/claim", get(keyless))
        .route("/api/deferred/signals", post(keyless))
        .route("/api/deferred/claim-by-signals", post(keyless))
        .route("/api/path", post(keyless))
        .route("/api/banner/config", get(keyless))
}

async fn resource(key: AuthedKey, uri: Uri) -> Json<Value> {
    Json(json!({ "appspace": key.tenant, "endpoint": uri.path() }))
}

async fn keyless(uri: Uri) -> Json<Value> {
    Json(json!({ "appspace": APPSPACE, "endpoint": uri.path() }))
}

/// "Some endpoints do not require an API key at all. These are resolved by the hostname of the
/// request": here, one Appspace answers for every host.
async fn app_info() -> Json<Value> {
    Json(json!({ "appspace": APPSPACE, "name": "Example App" }))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::run(3003, |store| app(store, SystemClock)).await
}
