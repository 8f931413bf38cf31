//! The layer behind a real HTTP/1 server (hyper) on `127.0.0.1:0`, and a real client (reqwest).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use keyward_tower::ApiKeyLayer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::{ServiceBuilder, service_fn};

use super::{echo_body, echo_debug, echo_tenant};

/// What the handler behind the layer receives from hyper: hyper's body is not built from bytes,
/// so the layer wraps bodies (`ApiKeyLayer::wrap_bodies`).
type Inbound = Either<Incoming, Full<Bytes>>;

/// A server task; stopped when dropped.
pub struct Server {
    base: String,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Serves `layer` in front of the tenant-echoing handler ([`echo_body`] on `/v1/track`,
/// [`echo_debug`] on `/v1/debug`) on a free port of 127.0.0.1. Each request carries its peer
/// address as a `SocketAddr` extension.
pub async fn serve(layer: &ApiKeyLayer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free local port");
    let address = listener.local_addr().expect("the bound address");
    let service = ServiceBuilder::new()
        .layer(layer.clone().wrap_bodies())
        .service(service_fn(|request: Request<Inbound>| async move {
            match request.uri().path() {
                "/v1/track" => echo_body(request).await,
                "/v1/debug" => echo_debug(request).await,
                _ => echo_tenant(request).await,
            }
        }));
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    eprintln!("accept failed: {error}");
                    continue;
                }
            };
            let service = ServiceBuilder::new()
                .map_request(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert::<SocketAddr>(peer);
                    request
                })
                .service(service.clone());
            tokio::spawn(async move {
                let connection = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                if let Err(error) = connection.await {
                    eprintln!("connection failed: {error}");
                }
            });
        }
    });
    Server {
        base: format!("http://{address}"),
        task,
    }
}

/// A client whose every request is answered within 10 s or fails.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("keyward-loopback/1.0")
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// The header `name` of `response`, as text.
///
/// # Panics
///
/// When it is absent or not visible ASCII: the test fails there.
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("a visible-ASCII header")
}
