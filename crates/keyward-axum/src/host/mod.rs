//! Tenants by host, for routes that take no key: [`HostTenant`] reads the request's host and
//! [`HostTenants`] says which tenant it serves (a subdomain of a base domain, a custom domain,
//! or the app's own [`HostLookup`]).
//!
//! ```
//! use axum::{Extension, Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use keyward_axum::host::{HostTenant, HostTenants};
//! use keyward_core::{KeyManager, MemoryStore, TenantId};
//! use keyward_tower::ApiKeyLayer;
//! use tower::ServiceExt;
//!
//! async fn banner_config(host: HostTenant) -> String {
//!     format!("banner of {}", host.tenant)
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let tenants = HostTenants::builder()
//!     .base_domain("tolinku.com")
//!     .domain("links.acme.com", TenantId::new("acme")?)
//!     .build()?;
//! let manager = KeyManager::new(MemoryStore::new());
//! let app = Router::new()
//!     .route("/api/banner/config", get(banner_config))
//!     .layer(Extension(tenants))
//!     .layer(ApiKeyLayer::builder(manager).public("/api/").build()?);
//!
//! let request = Request::get("/api/banner/config").header("host", "links.acme.com").body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod host_tenant;
mod name;
mod request;
mod tenants;

pub use host_tenant::HostTenant;
pub use tenants::{HostConfigError, HostLookup, HostTenants, HostTenantsBuilder};
