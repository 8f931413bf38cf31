//! The key-management API: a [`Router`] the application nests (at `/v1/keys`, say) behind
//! [`ApiKeyLayer`](keyward_tower::ApiKeyLayer), with which a tenant's keys manage the tenant's keys.
//!
//! | Route | Scope | Does |
//! |---|---|---|
//! | `GET /` | `keys:read` | lists the tenant's keys: `{"data": [key, …]}` |
//! | `POST /` | `keys:write` | creates a key: 201 `{"token": "…", "key": key}` |
//! | `GET /{id}` | `keys:read` | shows a key |
//! | `POST /{id}/revoke`, `DELETE /{id}` | `keys:write` | revokes a key at once |
//! | `POST /{id}/rotate` | `keys:write` | rotates a key: 201 `{"token": "…", "key": successor}` |
//! | `GET /usage` | `keys:read` | per key `last_used_at` and `request_count`, and `total_requests` |
//! | `GET /audit?limit=N&key=ID&since=T&until=T&path=P` | `keys:read` | the tenant's audit events, newest first, filtered by key, time (RFC 3339) and path prefix (default 50, at most 500) |
//!
//! A key is shown as `id`, `name`, `display_prefix`, `kind`, `environment`, `scopes`, `tier`,
//! `created_at`, `expires_at`, `revoked_at`, `last_used_at`, `request_count`, `status`, `lineage`,
//! `rotated_from`, `grace_until` and `credits` (`null`, or its lineage's
//! [credits](keyward_core::credits) as they stand: `{"remaining", "refill": {"amount",
//! "interval_ms"} | null, "next_refill_at"}`, also in `GET /usage`): never its secret or hash.
//! The plaintext token is in the answers of create and rotate only, with `Cache-Control:
//! no-store`.
//!
//! An audit event has a `kind`: `request` (an authenticated request), or `key.leaked` (the key was
//! reported found in public, see [`leak`](crate::leak)), whose `detail` says where.
//!
//! The create body: `name` (required), and optionally `scopes` (a list, or a space-separated
//! string), `kind` (`secret`, the default, or `publishable`), `tier`, `environment` (`live` or
//! `test`), `expires_in` (`"90d"`, `"48h"` or seconds). The rotate body, optional:
//! `{"grace": "48h" | "immediate" | "two_step"}`; without it the manager's policy applies.
//!
//! # Rules
//!
//! - Only secret keys may call the API (403 otherwise).
//! - A key acts for its own tenant only: another tenant's key id is answered as an unknown one, 404
//!   `not_found`.
//! - A key with credits cannot create keys (403 `forbidden`): they would not be counted. Its
//!   rotations share its credits.
//! - A key cannot hand out more than it has: the scopes of a key it creates or rotates must be
//!   scopes it holds itself (403 `insufficient_scope`), their tier its own or one made assignable
//!   with [`ManagementApi::assignable_tier`] (403 `forbidden`), and a test key cannot create or
//!   rotate live keys. A new key gets the caller's tier and environment unless the body says
//!   otherwise, and the manager's default scopes when `scopes` is absent.
//! - Errors use the JSON envelope: 400 `invalid_parameter` naming the field (`"param"`) for bad
//!   input and malformed JSON, 404 `not_found`, 409 `limit_reached`, `rotation_pending` or
//!   `key_not_active`, 503 `store_unavailable`.
//!
//! ```
//! use axum::{Router, body::Body};
//! use http::{Request, StatusCode};
//! use keyward_axum::management;
//! use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
//! use keyward_tower::ApiKeyLayer;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! let app = Router::new()
//!     .nest("/v1/keys", management::router(manager.clone()))
//!     .layer(ApiKeyLayer::new(manager.clone()));
//!
//! let admin = manager
//!     .create(NewKey::new(TenantId::new("site_1")?).scopes("keys:read keys:write analytics:read".parse()?))
//!     .await?;
//! let request = Request::post("/v1/keys")
//!     .header("authorization", format!("Bearer {}", admin.token.expose()))
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"name": "Production backend", "scopes": ["analytics:read"]}"#))?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::CREATED);
//! assert_eq!(response.headers()["cache-control"], "no-store");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod actions;
pub(crate) mod failure;
mod handlers;
mod input;
mod key_page;
mod view;

pub use self::key_page::{CSRF_HEADER, KeyPage, PageUser, ResolveUser, page};

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use keyward_core::{KeyManager, Tier};

use crate::guard::RequireKind;

crate::scope! {
    /// Reads keys, their usage and the audit log through the management API.
    pub KeysRead = "keys:read";
    /// Creates, revokes and rotates keys through the management API.
    pub KeysWrite = "keys:write";
}

/// The management API over `manager`, with the default rules; see the module documentation.
///
/// Generic over the application's state, so it nests into any router.
pub fn router<S>(manager: KeyManager) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    ManagementApi::new(manager).router()
}

/// Configures the management API; [`router`] takes the defaults.
#[derive(Clone)]
#[must_use]
pub struct ManagementApi {
    manager: KeyManager,
    assignable_tiers: Vec<Tier>,
}

impl fmt::Debug for ManagementApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagementApi")
            .field("manager", &self.manager)
            .field("assignable_tiers", &self.assignable_tiers)
            .finish()
    }
}

impl ManagementApi {
    /// The API over `manager`: keys may create keys of their own tier only.
    pub fn new(manager: KeyManager) -> Self {
        Self {
            manager,
            assignable_tiers: Vec::new(),
        }
    }

    /// Keys may also create keys of `tier` (a tier tenants may choose, such as a lower one).
    pub fn assignable_tier(mut self, tier: Tier) -> Self {
        if !self.assignable_tiers.contains(&tier) {
            self.assignable_tiers.push(tier);
        }
        self
    }

    /// The router, to nest behind [`ApiKeyLayer`](keyward_tower::ApiKeyLayer).
    pub fn router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        Router::new()
            .route("/", get(handlers::list).post(handlers::create))
            .route("/usage", get(handlers::usage))
            .route("/audit", get(handlers::audit))
            .route("/{id}", get(handlers::show).delete(handlers::revoke))
            .route("/{id}/revoke", post(handlers::revoke))
            .route("/{id}/rotate", post(handlers::rotate))
            .route_layer(RequireKind::secret())
            .fallback(handlers::fallback)
            .with_state(Api(Arc::new(self)))
    }
}

/// The handlers' state.
#[derive(Clone)]
struct Api(Arc<ManagementApi>);

impl std::ops::Deref for Api {
    type Target = ManagementApi;

    fn deref(&self) -> &ManagementApi {
        &self.0
    }
}
