//! Toksta's public API v1, reproduced by configuration: `Authorization: Bearer` only (no query
//! string, cookie or `X-Api-Key`), keys shaped `tk_live_` and 48 hex characters, optional
//! restriction to endpoint families (403 `FORBIDDEN`), accounts on a free plan refused (403
//! `FORBIDDEN`), rotation that revokes the old key at once, upper-case error codes, and a usage
//! endpoint reading the key's last-used time and request count.
//!
//! ```text
//! cargo run --example toksta                   # listens on 127.0.0.1:3004
//! curl -sS http://127.0.0.1:3004/v1/account/usage -H "Authorization: Bearer <key unrestricted>"
//! curl -sS http://127.0.0.1:3004/v1/account/usage -H "Authorization: Bearer <key restricted>"  # 403
//! curl -sS http://127.0.0.1:3004/v1/reports -H "Authorization: Bearer <key free-plan>"         # 403
//! ```

pub mod common;

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::future::BoxFuture;
use keyward_axum::guard::RequireScopes;
use keyward_axum::{AuthedKey, KeyRejection};
use keyward_core::time::{Clock, SystemClock};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{ApiKey, Drift, KeyManager, KeyStore, NewKey, Rotation, ScopeSet, TenantId, Tier};
use keyward_tower::{ApiKeyLayer, CredentialSources, JsonEnvelope, Rejection};
use serde_json::{Value, json};

use common::{App, BoxError};

/// The account of the `unrestricted` and `restricted` demo keys (on a paid plan).
pub const ACCOUNT: &str = "account_1";

/// The account of the `free-plan` demo key.
pub const FREE_ACCOUNT: &str = "account_free";

/// The tier of keys whose account is on the free plan.
pub const FREE_TIER: &str = "free";

/// Toksta's lifecycle: `tk_live_<48 hex>` tokens, unrestricted unless asked, rotation revokes the
/// old key at once.
/// Declared as the store's `toksta` keyspace, so that the `keyward` CLI applies the same rules.
///
/// # Errors
///
/// A rule the manager refuses.
pub async fn manager(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<KeyManager, BoxError> {
    let format = TokenFormat::builder("tk")
        .environment()
        .secret(48, Alphabet::LowerHex)
        .build()?;
    Ok(KeyManager::builder_shared(store)
        .keyspace("toksta")
        .format(format)
        .clock(clock)
        .rotation(Rotation::Immediate)
        .lock_rotation()
        .declare(Drift::Refuse)
        .await?)
}

/// The app, with three demo keys: `unrestricted` and `restricted` (reports only) for [`ACCOUNT`],
/// and `free-plan` for [`FREE_ACCOUNT`].
///
/// # Errors
///
/// The manager, the layer or the keys cannot be made.
pub async fn app(store: Arc<dyn KeyStore>, clock: impl Clock) -> Result<App, BoxError> {
    let manager = manager(store, clock).await?;
    let layer = ApiKeyLayer::builder(manager.clone())
        // "There is no query-string, cookie, or X-Api-Key header auth."
        .credentials(CredentialSources::bearer_only())
        // "A scoped key that hits a disallowed route returns 403 FORBIDDEN."
        .render_with(JsonEnvelope::uppercase().rename("insufficient_scope", "forbidden"))
        .tenant_gate(plan_gate)
        .client_ip(keyward_axum::client_ip())
        .build()?;
    let audit = layer.audit().into_iter().cloned().collect();
    let account = TenantId::new(ACCOUNT)?;
    let unrestricted = manager
        .create(NewKey::new(account.clone()).name("Data pipeline"))
        .await?;
    let restricted = manager
        .create(
            NewKey::new(account)
                .name("Reporting dashboard")
                .scopes(ScopeSet::parse_all(["reports:read"])?),
        )
        .await?;
    let free = manager
        .create(
            NewKey::new(TenantId::new(FREE_ACCOUNT)?)
                .name("Trial")
                .tier(Tier::new(FREE_TIER)?),
        )
        .await?;
    let router = Router::new()
        .route(
            "/v1/account/usage",
            get(usage).route_layer(RequireScopes::new(["account:read"])),
        )
        .route(
            "/v1/reports",
            get(reports).route_layer(RequireScopes::new(["reports:read"])),
        )
        .with_state(manager.clone())
        .layer(layer);
    Ok(App {
        router,
        manager,
        keys: vec![
            ("unrestricted", unrestricted),
            ("restricted", restricted),
            ("free-plan", free),
        ],
        audit,
    })
}

/// "403 FORBIDDEN — Free plan, past-due billing, API access disabled": the key's tier carries its
/// account's plan, so the gate needs no lookup.
fn plan_gate(key: &ApiKey) -> BoxFuture<'_, Result<(), Rejection>> {
    let free = key.tier.as_str() == FREE_TIER;
    Box::pin(async move {
        if free {
            Err(Rejection::forbidden(
                "API access requires an active dedicated API or SaaS plan",
            ))
        } else {
            Ok(())
        }
    })
}

/// The key's own usage, from the store: last use and request count (recorded in batches, so up to
/// a second behind).
async fn usage(State(manager): State<KeyManager>, key: AuthedKey) -> Result<Json<Value>, KeyRejection> {
    let record = key.key();
    let stored = match manager.get(&record.tenant, &record.id).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::error!(%error, "usage lookup failed");
            return Err(key.reject(Rejection::StoreUnavailable));
        }
    };
    let stored = stored.unwrap_or_else(|| record.clone());
    Ok(Json(json!({
        "key_id": stored.id,
        "name": stored.name,
        "created_at": stored.created_at,
        "last_used_at": stored.last_used_at,
        "request_count": stored.request_count,
    })))
}

async fn reports(key: AuthedKey) -> Json<Value> {
    Json(json!({ "account": key.tenant, "reports": [] }))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::run(3004, |store| app(store, SystemClock)).await
}
