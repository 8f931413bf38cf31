//! keyward-tower: [`ApiKeyLayer`], a tower layer that authenticates API keys, caches them,
//! rate-limits per key, and answers with the headers and JSON errors API clients expect.
//!
//! The request path, in order:
//! 1. request id: a well-formed incoming `X-Request-Id` is kept, else `req_<random>` is minted; it
//!    is on every response and in every error body;
//! 2. kill switch: 503 `api_disabled` while the API is off;
//! 3. the headers that may carry a key are marked sensitive (so that `Debug` and tracing layers
//!    behind this one print `Sensitive`); public routes pass through;
//! 4. the credential: `Authorization: Bearer`, `X-API-Key`, or (opt-in) a JSON body field;
//!    duplicated, conflicting, oversized or non-UTF-8 credentials get 400;
//! 5. the token is parsed and checksummed (garbage never reaches the store), then verified through
//!    a cache in front of the store, in constant time; 401 for unknown, revoked or expired keys;
//!    503 `store_unavailable` when the store cannot be asked;
//! 6. publishable keys only on the routes that allow them (403), then the tenant gate;
//! 7. the rate limit of the key's lineage (or, with
//!    [`rate_limit_per_client`](ApiKeyLayerBuilder::rate_limit_per_client), of the lineage and the
//!    client's address, found by [`client_ip`]), at the route's cost: 429 with `Retry-After`;
//!    then, for a key with [credits](keyward_core::credits), the route's cost spent at the store:
//!    429 `usage_exceeded` once they are spent, 503 `store_unavailable` when the store cannot be
//!    asked (see [`credits`]);
//! 8. the [`VerifiedKey`] goes into request extensions;
//! 9. `X-RateLimit-Limit`, `-Remaining`, `-Reset` on the way out, `X-Credits-Remaining` and
//!    `-Reset` for a key with credits (given back when the service answered 400 or above), and
//!    for a key in its rotation grace period `Deprecation` and `Sunset` (and a `Link` to the
//!    rotation documentation, when configured; see [`grace`]); an application error in keyward's
//!    envelope ([`ErrorEnvelope`]) names the request's id in its body too; usage and audit records
//!    go to a background writer.
//!
//! Bodies are handed on as they are, and the layer's own bodies (a rejection's JSON, a JSON body
//! read for its key) are built from `Bytes`, so the request and response body types must be
//! buildable from `Bytes`, as axum's `Body` and `Full<Bytes>` are. For other bodies, such as
//! hyper's `Incoming`, [`ApiKeyLayer::wrap_bodies`] wraps them (see [`bodies`]).
//!
//! ```
//! use axum_like::*;
//! # mod axum_like {
//! #     pub use http::{Request, StatusCode};
//! #     pub use http_body_util::Full;
//! #     pub use bytes::Bytes;
//! #     pub use tower::{ServiceBuilder, ServiceExt, service_fn};
//! # }
//! use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
//! use keyward_tower::{ApiKeyLayer, VerifiedKey};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! let created = manager.create(NewKey::new(TenantId::new("site_1")?)).await?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(ApiKeyLayer::new(manager))
//!     .service(service_fn(|request: Request<_>| async move {
//!         let key = request.extensions().get::<VerifiedKey>().expect("set by the layer");
//!         let tenant = key.key().tenant.to_string();
//!         Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::from(tenant)))
//!     }));
//!
//! let request = Request::get("/v1/events")
//!     .header("authorization", format!("Bearer {}", created.token.expose()))
//!     .body(Full::<Bytes>::default())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.headers()["x-ratelimit-limit"], "60");
//!
//! let anonymous = Request::get("/v1/events").body(Full::<Bytes>::default())?;
//! assert_eq!(service.oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod audit;
mod audit_record;
mod audit_retention;
pub mod bodies;
pub mod client_ip;
pub mod credential;
pub mod credits;
pub mod envelope;
mod error;
mod extensions;
mod future;
pub mod grace;
pub mod headers;
mod kill_switch;
mod layer;
pub mod metrics;
mod near_cache;
pub mod policy;
pub mod rate_limit;
mod render;
pub mod request_id;
mod service;
mod shared;
mod verified;
pub mod verify;

pub use audit::{AuditConfig, AuditHandle};
pub use credential::CredentialSources;
pub use envelope::ErrorEnvelope;
pub use error::Rejection;
pub use future::{ResponseBody, ResponseFuture};
pub use kill_switch::KillSwitch;
pub use layer::{ApiKeyLayer, ApiKeyLayerBuilder, ConfigError};
pub use policy::TenantGate;
pub use render::{FlatError, JsonEnvelope, RenderRejection, render};
pub use service::ApiKeyService;
pub use verified::VerifiedKey;
pub use verify::CacheConfig;
