//! Atribu's public API, reproduced by configuration: Bearer keys scoped to one profile, six scopes
//! (four by default, two for personal data), 60 requests a minute per key with the personal-data
//! endpoints costing 3, `X-RateLimit-*` and `X-Request-Id` headers, a rotate endpoint after which
//! both keys work for 48 hours, and the JSON error envelope with lowercase codes.
//!
//! ```text
//! cargo run --example atribu                   # listens on 127.0.0.1:3002
//! curl -i -H "Authorization: Bearer <key default>" http://127.0.0.1:3002/v1/analytics/overview
//! curl -i -H "Authorization: Bearer <key default>" http://127.0.0.1:3002/v1/customers   # 403
//! curl -i -X POST -H "Authorization: Bearer <key full>" http://127.0.0.1:3002/v1/keys/<id>/rotate
//! ```

pub mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use keyward_core::store::StoreError;
use keyward_core::time::{Clock, SystemClock};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{KeyId, KeyManager, KeyStore, ManagerError, NewKey, Rotation, ScopeSet, TenantId};
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{ApiKeyLayer, CredentialSources, VerifiedKey};
use serde_json::{Value, json};

use common::{App, BoxError, Refusal, require_scope};

/// The profile the demo keys belong to.
pub const PROFILE: &str = "profile_1";

/// How long both keys work after a rotation.
pub const GRACE: Duration = Duration::from_secs(48 * 3600);

/// The scopes a key gets when none are asked for.
pub const DEFAULT_SCOPES: [&str; 4] = [
    "analytics:read",
    "campaigns:read",
    "conversions:read",
    "realtime:read",
];

/// Every scope, the personal-data ones included.
pub const ALL_SCOPES: [&str; 6] = [
    "analytics:read",
    "campaigns:read",
    "conversions:read",
    "customers:read",
    "visitors:read",
    "realtime:read",
];

/// Atribu's lifecycle: the four default scopes, rotation with a 48-hour grace.
///
/// # Errors
///
/// A rule the manager refuses.
pub fn manager(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<KeyManager, BoxError> {
    // The document shows only `atb_live_…`; the rest of the shape is keyward's usual one.
    let format = TokenFormat::builder("atb")
        .environment()
        .public_prefix(8)
        .secret(32, Alphabet::Base62)
        .build()?;
    Ok(KeyManager::builder_shared(store)
        .format(format)
        .clock(clock)
        .default_scopes(ScopeSet::parse_all(DEFAULT_SCOPES)?)
        .rotation(Rotation::Grace(GRACE))
        .build()?)
}

/// The app, with two demo keys for [`PROFILE`]: `default` (the default scopes) and `full` (all six).
///
/// # Errors
///
/// The manager, the layer or the keys cannot be made.
pub async fn app(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<App, BoxError> {
    let manager = manager(store, clock)?;
    let layer = ApiKeyLayer::builder(manager.clone())
        // "All API requests require a Bearer token in the Authorization header."
        .credentials(CredentialSources::bearer_only())
        .rate_limits(RateLimits::new(Quota::per_minute(60)))
        // "Heavy endpoints (customers, visitors, journey detail) cost 3x"; journeys live under
        // `/v1/customers/{id}/journey`.
        .route_cost("/v1/customers", 3)
        .route_cost("/v1/visitors", 3)
        .client_ip(common::client_ip)
        .build()?;
    let audit = layer.audit().into_iter().cloned().collect();
    let profile = TenantId::new(PROFILE)?;
    let default = manager
        .create(NewKey::new(profile.clone()).name("Reporting"))
        .await?;
    let full = manager
        .create(
            NewKey::new(profile)
                .name("CRM sync")
                .scopes(ScopeSet::parse_all(ALL_SCOPES)?),
        )
        .await?;
    let router = Router::new()
        .route("/v1/analytics/overview", get(overview))
        .route("/v1/campaigns", get(campaigns))
        .route("/v1/conversions", get(conversions))
        .route("/v1/customers", get(customers))
        .route("/v1/visitors", get(visitors))
        .route("/v1/realtime", get(realtime))
        .route("/v1/keys/{id}/rotate", post(rotate))
        .with_state(manager.clone())
        .layer(layer);
    Ok(App {
        router,
        manager,
        keys: vec![("default", default), ("full", full)],
        audit,
    })
}

/// A dummy payload for a read endpoint, after its scope check.
fn read(key: &VerifiedKey, scope: &str, data: Value) -> Result<Json<Value>, Refusal> {
    require_scope(key, scope)?;
    Ok(Json(json!({ "profile": key.key().tenant, "data": data })))
}

/// The overview, over an optional `date_from`/`date_to` range (`YYYY-MM-DD`, at most 366 days).
async fn overview(
    Extension(key): Extension<VerifiedKey>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Refusal> {
    require_scope(&key, "analytics:read")?;
    let (from, to) = date_range(query.as_deref().unwrap_or_default())
        .map_err(|(code, message)| Refusal::from(envelope(&key, StatusCode::BAD_REQUEST, code, &message)))?;
    let data = json!({ "date_from": from, "date_to": to, "visitors": 0, "pageviews": 0 });
    Ok(Json(json!({ "profile": key.key().tenant, "data": data })))
}

/// A refused query: Atribu's error code and a message.
type BadQuery = (&'static str, String);

/// The longest date range a query may span.
pub const MAX_RANGE_DAYS: u64 = 366;

/// The `date_from` and `date_to` of a query string, checked: `invalid_parameter` for any other
/// parameter, `invalid_date_range` for a date that is not `YYYY-MM-DD`, an end before the start, or
/// a range over [`MAX_RANGE_DAYS`].
fn date_range(query: &str) -> Result<(Option<&str>, Option<&str>), BadQuery> {
    let (mut from, mut to) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "date_from" => from = Some(value),
            "date_to" => to = Some(value),
            _ => {
                let name: String = name.chars().filter(char::is_ascii_graphic).take(64).collect();
                return Err(("invalid_parameter", format!("Unknown query parameter: {name}")));
            }
        }
    }
    let day = |text: &str| {
        let valid = text.len() == 10 && text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        valid
            .then(|| humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok())
            .flatten()
            .ok_or_else(|| {
                (
                    "invalid_date_range",
                    "Invalid date: expected YYYY-MM-DD".to_owned(),
                )
            })
    };
    if let (Some(start), Some(end)) = (from, to) {
        let span = day(end)?
            .duration_since(day(start)?)
            .map_err(|_| ("invalid_date_range", "date_to is before date_from".to_owned()))?;
        if span > Duration::from_secs(MAX_RANGE_DAYS * 86_400) {
            let message = format!("The date range exceeds {MAX_RANGE_DAYS} days");
            return Err(("invalid_date_range", message));
        }
    } else {
        for date in [from, to].into_iter().flatten() {
            day(date)?;
        }
    }
    Ok((from, to))
}

async fn campaigns(Extension(key): Extension<VerifiedKey>) -> Result<Json<Value>, Refusal> {
    read(&key, "campaigns:read", json!([]))
}

async fn conversions(Extension(key): Extension<VerifiedKey>) -> Result<Json<Value>, Refusal> {
    read(&key, "conversions:read", json!({ "count": 0, "revenue": 0 }))
}

async fn customers(Extension(key): Extension<VerifiedKey>) -> Result<Json<Value>, Refusal> {
    read(&key, "customers:read", json!([]))
}

async fn visitors(Extension(key): Extension<VerifiedKey>) -> Result<Json<Value>, Refusal> {
    read(&key, "visitors:read", json!([]))
}

async fn realtime(Extension(key): Extension<VerifiedKey>) -> Result<Json<Value>, Refusal> {
    read(&key, "realtime:read", json!({ "live_visitors": 0 }))
}

/// "Call the Rotate endpoint — creates a new key". The document does not say which key may call
/// it; here any key of the profile may rotate any key of the same profile (another profile's key
/// is not found), and the new token is in the response, once.
async fn rotate(
    State(manager): State<KeyManager>,
    Extension(key): Extension<VerifiedKey>,
    Path(id): Path<String>,
) -> Response {
    let tenant = &key.key().tenant;
    let Ok(id) = id.parse::<KeyId>() else {
        return envelope(&key, StatusCode::NOT_FOUND, "not_found", "No such API key");
    };
    match manager.rotate(tenant, &id).await {
        Ok(created) => {
            // The old key as the rotation left it: its end is the grace period's.
            let old_expires_at = match manager.get(tenant, &id).await {
                Ok(old) => old.and_then(|old| old.grace_until),
                Err(_) => Some(created.key.created_at.plus(GRACE)),
            };
            let body = json!({
                "data": {
                    "id": created.key.id,
                    "key": created.token.expose(),
                    "scopes": created.key.scopes,
                    "rotated_from": id,
                    "old_key_expires_at": old_expires_at,
                }
            });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(ManagerError::Store(StoreError::NotFound)) => {
            envelope(&key, StatusCode::NOT_FOUND, "not_found", "No such API key")
        }
        Err(ManagerError::Store(StoreError::NotActive | StoreError::RotationPending)) => envelope(
            &key,
            StatusCode::CONFLICT,
            "conflict",
            "This API key is not active or was rotated already",
        ),
        Err(error) => {
            tracing::error!(%error, "rotation failed");
            envelope(
                &key,
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Server error — include the request_id when reporting",
            )
        }
    }
}

/// An error in Atribu's envelope, for the refusals that are the handler's, not the layer's.
fn envelope(key: &VerifiedKey, status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "status": status.as_u16(),
            "request_id": key.request_id(),
        }
    });
    (status, Json(body)).into_response()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::run(3002, |store| app(store, SystemClock)).await
}
