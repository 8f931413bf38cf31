//! The client's address: [`ClientIp`] takes the socket's peer address and, when that peer is one
//! of the [`TrustedProxies`], walks its forwarding header (`X-Forwarded-For` or RFC 7239
//! `Forwarded`) from the right to the first address that is not a trusted proxy's.
//!
//! ```
//! use std::net::SocketAddr;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
//! use keyward_tower::client_ip::{ClientIp, TrustedProxies};
//! use keyward_tower::{ApiKeyLayer, VerifiedKey};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! let created = manager.create(NewKey::new(TenantId::new("site_1")?)).await?;
//! let layer = ApiKeyLayer::builder(manager)
//!     .client_ip(ClientIp::socket().trusted_proxies(TrustedProxies::new(["10.0.0.0/8"])?))
//!     .build()?;
//! let service = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|request: Request<Full<Bytes>>| async move {
//!         let key = request.extensions().get::<VerifiedKey>().expect("set by the layer");
//!         let client = key.client_ip().map(|ip| ip.to_string()).unwrap_or_default();
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::from(client)))
//!     }));
//!
//! let mut request = Request::get("/v1/events")
//!     .header("authorization", format!("Bearer {}", created.token.expose()))
//!     .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
//!     .body(Full::<Bytes>::default())?;
//! request.extensions_mut().insert(SocketAddr::from(([10, 0, 0, 1], 51_000)));
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let body = response.into_body().collect().await?.to_bytes();
//! assert_eq!(body, "203.0.113.7");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod chain;
mod resolver;
mod trusted;

pub use resolver::{ClientIp, ForwardedHeader};
pub use trusted::{InvalidProxy, TrustedProxies};
