//! keyward-axum: axum on top of [`ApiKeyLayer`](keyward_tower::ApiKeyLayer).
//!
//! - [`AuthedKey<Tenant, Scopes, Tier>`](AuthedKey): the extractor. The verified key's tenant and
//!   tier become the application's types, the route's scopes are checked;
//! - [`scope!`]: declares scope types, checked at compile time; [`AnyOf`] a tuple of them
//!   accepts a key with one;
//! - [`guard`]: per-route layers: [`RequireScopes`](guard::RequireScopes) (all of, any of, or a
//!   [`ScopeQuery`](guard::ScopeQuery)),
//!   [`RequireKind`](guard::RequireKind), [`RouteCost`](guard::RouteCost);
//! - [`management`]: the key-management router (create, list, show, revoke, rotate, usage,
//!   audit);
//! - [`leak`]: the endpoint for GitHub secret scanning's alerts, which revokes (or flags) the keys
//!   found in public and records a `key.leaked` audit event;
//! - [`KeyRejection`] and [`ApiError`]: refusals, in the layer's format;
//! - [`client_ip()`]: the layer's client address from axum's `ConnectInfo`;
//! - [`host`]: [`HostTenant`](host::HostTenant), the tenant of the request's host (subdomain or
//!   custom domain) on routes that take no key;
//! - `openapi` (feature `openapi`): the layer's security schemes, error envelope, headers and
//!   refusals declared in a utoipa OpenAPI document.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use keyward_axum::{AuthedKey, guard::RouteCost, management, scope};
//! use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
//! use keyward_tower::ApiKeyLayer;
//! use tower::ServiceExt;
//!
//! scope!(pub AnalyticsRead = "analytics:read");
//!
//! /// A site id, made from the key's tenant id by `FromStr`.
//! struct SiteId(String);
//!
//! impl std::str::FromStr for SiteId {
//!     type Err = &'static str;
//!     fn from_str(s: &str) -> Result<Self, Self::Err> {
//!         s.starts_with("site_").then(|| SiteId(s.to_owned())).ok_or("not a site")
//!     }
//! }
//!
//! async fn overview(key: AuthedKey<SiteId, AnalyticsRead>) -> String {
//!     format!("overview of {}", key.tenant.0)
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! let app = Router::new()
//!     .route("/v1/overview", get(overview).route_layer(RouteCost::new(2)))
//!     .nest("/v1/keys", management::router(manager.clone()))
//!     .layer(ApiKeyLayer::new(manager.clone()));
//!
//! let created = manager
//!     .create(NewKey::new(TenantId::new("site_1")?).scopes("analytics:read".parse()?))
//!     .await?;
//! let request = Request::get("/v1/overview")
//!     .header("authorization", format!("Bearer {}", created.token.expose()))
//!     .body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Without the layer
//!
//! The extractor and the guards read what [`ApiKeyLayer`](keyward_tower::ApiKeyLayer) put into
//! the request. On a route the layer does not wrap, or declares public, they answer 500
//! `internal_error` and log the misconfiguration at error level (target `keyward::config`); they
//! never panic.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod body;
mod client_ip;
mod extract;
pub mod guard;
pub mod host;
pub mod leak;
pub mod management;
#[cfg(feature = "openapi")]
pub mod openapi;
mod rejection;
mod scope;

pub use client_ip::client_ip;
pub use extract::{AuthedKey, FromTenant, FromTier};
pub use rejection::{ApiError, KeyRejection};
pub use scope::{AnyOf, RequiredScope, ScopeList};

#[doc(hidden)]
pub mod __private {
    pub use keyward_core::Scope;
}
