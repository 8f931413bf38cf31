//! Per-route guards, added with axum's `route_layer` behind [`ApiKeyLayer`]: each reads the
//! [`VerifiedKey`] the layer put into the request.
//!
//! - [`RequireScopes`]: 403 `insufficient_scope`, naming the scopes the key lacks; all of a list,
//!   any of a list, or a [`ScopeQuery`] nesting the two;
//! - [`RequireKind`]: 403 for a publishable key on a route that needs a secret one;
//! - [`RouteCost`]: the route costs more than the 1 unit the layer charged; 429 when the key's
//!   budget cannot pay it.
//!
//! A route without the layer in front of it (or declared public on it) gets 500 `internal_error`,
//! logged at error level.
//!
//! # Public routes
//!
//! The layer runs before routing, so a `route_layer` cannot make a route public. Declare public
//! routes on the layer ([`ApiKeyLayerBuilder::public`]), or merge a router that the layer does
//! not wrap (`Router::layer` wraps only the routes added before it):
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use keyward_axum::guard::{RequireKind, RequireScopes, RouteCost};
//! use keyward_core::{KeyManager, MemoryStore};
//! use keyward_tower::ApiKeyLayer;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! let layer = ApiKeyLayer::builder(manager).public("/v1/status").build()?;
//! let app = Router::new()
//!     .route("/v1/customers", get(|| async { "customers" }))
//!     .route_layer(RequireScopes::new(["customers:read"]))
//!     .route_layer(RouteCost::new(3))
//!     .route("/v1/audiences", get(|| async { "audiences" }).route_layer(RequireKind::secret()))
//!     .route("/v1/status", get(|| async { "public on the layer" }))
//!     .layer(layer)
//!     .merge(Router::new().route("/health", get(|| async { "outside the layer" })));
//!
//! let anonymous = |path: &str| Request::get(path).body(Body::empty());
//! assert_eq!(app.clone().oneshot(anonymous("/v1/customers")?).await?.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(app.clone().oneshot(anonymous("/v1/status")?).await?.status(), StatusCode::OK);
//! assert_eq!(app.oneshot(anonymous("/health")?).await?.status(), StatusCode::OK);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! [`ApiKeyLayer`]: keyward_tower::ApiKeyLayer
//! [`ApiKeyLayerBuilder::public`]: keyward_tower::ApiKeyLayerBuilder::public
//! [`VerifiedKey`]: keyward_tower::VerifiedKey

mod cost;
mod future;
mod kind;
mod scope_query;
mod scopes;
mod shared;

pub use cost::{RouteCost, RouteCostService};
pub use future::GuardFuture;
pub use kind::{RequireKind, RequireKindService};
pub use scope_query::ScopeQuery;
pub use scopes::{RequireScopes, RequireScopesService};
