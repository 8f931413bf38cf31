//! [`client_ip`]: the layer's [`ClientIp`] for an axum server, reading axum's
//! [`ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo).

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::Extensions;
use keyward_tower::client_ip::ClientIp;

/// A [`ClientIp`] that takes the peer address from axum's `ConnectInfo<SocketAddr>` (serve the
/// app with `into_make_service_with_connect_info::<SocketAddr>()`), or else from a `SocketAddr`
/// extension. Add [`trusted_proxies`](ClientIp::trusted_proxies) to look through the proxies in
/// front of the app.
///
/// ```
/// use std::net::SocketAddr;
/// use axum::{Router, body::Body, extract::ConnectInfo, routing::get};
/// use http::{Request, StatusCode};
/// use keyward_axum::AuthedKey;
/// use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
/// use keyward_tower::ApiKeyLayer;
/// use keyward_tower::client_ip::TrustedProxies;
/// use tower::ServiceExt;
///
/// async fn whoami(key: AuthedKey) -> String {
///     key.verified().client_ip().map(|ip| ip.to_string()).unwrap_or_default()
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = KeyManager::new(MemoryStore::new());
/// let created = manager.create(NewKey::new(TenantId::new("site_1")?)).await?;
/// let resolver = keyward_axum::client_ip().trusted_proxies(TrustedProxies::loopback());
/// let app = Router::new()
///     .route("/v1/whoami", get(whoami))
///     .layer(ApiKeyLayer::builder(manager).client_ip(resolver).build()?);
///
/// let mut request = Request::get("/v1/whoami")
///     .header("authorization", format!("Bearer {}", created.token.expose()))
///     .header("x-forwarded-for", "203.0.113.7")
///     .body(Body::empty())?;
/// // What `into_make_service_with_connect_info::<SocketAddr>()` adds to every request.
/// request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50_000))));
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// let body = axum::body::to_bytes(response.into_body(), 64).await?;
/// assert_eq!(body, "203.0.113.7");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub fn client_ip() -> ClientIp {
    ClientIp::peer_from(connect_info)
}

/// The peer address of axum's `ConnectInfo<SocketAddr>`, else of a `SocketAddr` extension.
fn connect_info(extensions: &Extensions) -> Option<SocketAddr> {
    match extensions.get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(address)) => Some(*address),
        None => extensions.get::<SocketAddr>().copied(),
    }
}
