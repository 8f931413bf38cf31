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
use axum::routing::{get, post};
use axum::{Json, Router};
use keyward_axum::{ApiError, AuthedKey, scope};
use keyward_core::store::StoreError;
use keyward_core::time::{Clock, SystemClock};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{Drift, KeyId, KeyManager, KeyStore, ManagerError, NewKey, Rotation, ScopeSet, TenantId};
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{ApiKeyLayer, CredentialSources};
use serde_json::{Value, json};

use common::{App, BoxError};

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
/// Declared as the store's `atribu` keyspace, so that the `keyward` CLI applies the same rules.
///
/// # Errors
///
/// A rule the manager refuses.
pub async fn manager(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<KeyManager, BoxError> {
    // The document shows only `atb_live_…`; the rest of the shape is keyward's usual one.
    let format = TokenFormat::builder("atb")
        .environment()
        .public_prefix(8)
        .secret(32, Alphabet::Base62)
        .build()?;
    Ok(KeyManager::builder_shared(store)
        .keyspace("atribu")
        .format(format)
        .clock(clock)
        .default_scopes(ScopeSet::parse_all(DEFAULT_SCOPES)?)
        .rotation(Rotation::Grace(GRACE))
        .lock_rotation()
        .declare(Drift::Refuse)
        .await?)
}

/// The app, with two demo keys for [`PROFILE`]: `default` (the default scopes) and `full` (all six).
///
/// # Errors
///
/// The manager, the layer or the keys cannot be made.
pub async fn app(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<App, BoxError> {
    let manager = manager(store, clock).await?;
    let layer = ApiKeyLayer::builder(manager.clone())
        // "All API requests require a Bearer token in the Authorization header."
        .credentials(CredentialSources::bearer_only())
        .rate_limits(RateLimits::new(Quota::per_minute(60)))
        // "Heavy endpoints (customers, visitors, journey detail) cost 3x"; journeys live under
        // `/v1/customers/{id}/journey`.
        .route_cost("/v1/customers", 3)
        .route_cost("/v1/visitors", 3)
        .client_ip(keyward_axum::client_ip())
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

scope! {
    /// Overview, timeseries, breakdowns, quality, keywords.
    pub AnalyticsRead = "analytics:read";
    /// Campaign performance, ROAS, ad set and ad breakdowns, daily trends.
    pub CampaignsRead = "campaigns:read";
    /// Conversion counts, timeseries, revenue, cash collected.
    pub ConversionsRead = "conversions:read";
    /// Customer list with personal data, journey timelines.
    pub CustomersRead = "customers:read";
    /// Visitor list with personal data, session history.
    pub VisitorsRead = "visitors:read";
    /// Live visitor count.
    pub RealtimeRead = "realtime:read";
}

/// A key of a profile, holding the scopes `S`: the extractor refuses others with 403
/// `insufficient_scope` before the handler runs.
type ProfileKey<S> = AuthedKey<TenantId, S>;

/// A dummy payload for the key's profile.
fn payload<S>(key: &ProfileKey<S>, data: Value) -> Json<Value> {
    Json(json!({ "profile": key.tenant, "data": data }))
}

/// The overview, over an optional `date_from`/`date_to` range (`YYYY-MM-DD`, at most 366 days).
async fn overview(
    key: ProfileKey<AnalyticsRead>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = date_range(query.as_deref().unwrap_or_default())?;
    let data = json!({ "date_from": from, "date_to": to, "visitors": 0, "pageviews": 0 });
    Ok(payload(&key, data))
}

/// The longest date range a query may span.
pub const MAX_RANGE_DAYS: u64 = 366;

/// The `date_from` and `date_to` of a query string, checked: `invalid_parameter` for any other
/// parameter, `invalid_date_range` for a date that is not `YYYY-MM-DD`, an end before the start, or
/// a range over [`MAX_RANGE_DAYS`].
fn date_range(query: &str) -> Result<(Option<&str>, Option<&str>), ApiError> {
    let (mut from, mut to) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "date_from" => from = Some(value),
            "date_to" => to = Some(value),
            _ => {
                let name: String = name.chars().filter(char::is_ascii_graphic).take(64).collect();
                let message = format!("Unknown query parameter: {name}");
                return Err(ApiError::invalid_parameter(name, message));
            }
        }
    }
    let day = |text: &str| {
        let valid = text.len() == 10 && text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        valid
            .then(|| humantime::parse_rfc3339(&format!("{text}T00:00:00Z")).ok())
            .flatten()
            .ok_or_else(|| ApiError::invalid_date_range("Invalid date: expected YYYY-MM-DD".to_owned()))
    };
    if let (Some(start), Some(end)) = (from, to) {
        let span = day(end)?
            .duration_since(day(start)?)
            .map_err(|_| ApiError::invalid_date_range("date_to is before date_from".to_owned()))?;
        if span > Duration::from_secs(MAX_RANGE_DAYS * 86_400) {
            return Err(ApiError::invalid_date_range(format!(
                "The date range exceeds {MAX_RANGE_DAYS} days"
            )));
        }
    } else {
        for date in [from, to].into_iter().flatten() {
            day(date)?;
        }
    }
    Ok((from, to))
}

async fn campaigns(key: ProfileKey<CampaignsRead>) -> Json<Value> {
    payload(&key, json!([]))
}

async fn conversions(key: ProfileKey<ConversionsRead>) -> Json<Value> {
    payload(&key, json!({ "count": 0, "revenue": 0 }))
}

async fn customers(key: ProfileKey<CustomersRead>) -> Json<Value> {
    payload(&key, json!([]))
}

async fn visitors(key: ProfileKey<VisitorsRead>) -> Json<Value> {
    payload(&key, json!([]))
}

async fn realtime(key: ProfileKey<RealtimeRead>) -> Json<Value> {
    payload(&key, json!({ "live_visitors": 0 }))
}

/// "Call the Rotate endpoint — creates a new key". The document does not say which key may call
/// it; here any key of the profile may rotate any key of the same profile (another profile's key
/// is not found), and the new token is in the response, once.
async fn rotate(
    State(manager): State<KeyManager>,
    key: ProfileKey<()>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let not_found = || ApiError::not_found("No such API key");
    let id = id.parse::<KeyId>().map_err(|_| not_found())?;
    let created = match manager.rotate(&key.tenant, &id).await {
        Ok(created) => created,
        Err(ManagerError::Store(StoreError::NotFound)) => return Err(not_found()),
        // The codes keyward-axum's management API uses for the same refusals.
        Err(ManagerError::Store(StoreError::RotationPending)) => {
            let message = "This API key was rotated already; its successor is in its grace period";
            return Err(ApiError::new(StatusCode::CONFLICT, "rotation_pending", message));
        }
        Err(ManagerError::Store(StoreError::NotActive)) => {
            let message = "This API key is revoked or expired";
            return Err(ApiError::new(StatusCode::CONFLICT, "key_not_active", message));
        }
        Err(error) => {
            tracing::error!(%error, "rotation failed");
            return Err(ApiError::internal());
        }
    };
    // The old key as the rotation left it: its end is the grace period's.
    let old_expires_at = match manager.get(&key.tenant, &id).await {
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
    Ok((StatusCode::CREATED, Json(body)))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::run(3002, |store| app(store, SystemClock)).await
}
