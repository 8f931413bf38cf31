//! Serving an app on `127.0.0.1:0` and reading its answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use axum::{Router, ServiceExt};
use keyward_core::{KeyManager, NewKey, ScopeSet, TenantId};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tower::Service;

/// How long a test waits for any one answer: a server that hangs fails the test instead.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// An app listening on loopback.
pub struct Server {
    address: SocketAddr,
    base: String,
    client: reqwest::Client,
}

/// Serves `app` on a free loopback port until the test's runtime ends.
pub async fn serve(app: Router) -> Server {
    serve_service(app).await
}

/// Serves any service of axum requests (a router, or layers around one) on a free loopback port
/// until the test's runtime ends.
pub async fn serve_service<S>(service: S) -> Server
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("the bound address");
    let service = ServiceExt::<Request>::into_make_service(service);
    tokio::spawn(async move { axum::serve(listener, service).await.expect("the server runs") });
    Server {
        address,
        base: format!("http://{address}"),
        client: reqwest::Client::builder()
            .timeout(ANSWER_TIMEOUT)
            .build()
            .expect("a client"),
    }
}

impl Server {
    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A request to `path`, with `token` as a Bearer credential when given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET path` with `token`.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        Answer::of(self.request(Method::GET, path, Some(token))).await
    }

    /// `POST path` with `token` and a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        Answer::of(self.request(Method::POST, path, Some(token)).json(&body)).await
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// Sends `request` and reads the response.
    pub async fn of(request: RequestBuilder) -> Self {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        Self {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }

    /// A header as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts an error envelope with this status and code, whose request id is the response's
    /// `X-Request-Id`; returns the error object.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "status of {}", self.text);
        let json = self.json();
        let error = &json["error"];
        assert_eq!(error["code"], code, "code of {}", self.text);
        assert_eq!(error["status"], status.as_u16(), "status in {}", self.text);
        let request_id = self
            .header("x-request-id")
            .expect("X-Request-Id on every response");
        assert_eq!(
            error["request_id"], request_id,
            "the body's request id is the header's"
        );
        error.clone()
    }
}

/// Creates a key for `tenant` with `scopes`; returns its token.
pub async fn key(manager: &KeyManager, tenant: &str, scopes: &str) -> String {
    key_with(
        manager,
        NewKey::new(TenantId::new(tenant).expect("a valid tenant")).scopes(scopes_of(scopes)),
    )
    .await
}

/// Creates the key `new`; returns its token.
pub async fn key_with(manager: &KeyManager, new: NewKey) -> String {
    let created = manager.create(new).await.expect("the key is created");
    created.token.expose().to_owned()
}

/// Parses a scope list.
pub fn scopes_of(scopes: &str) -> ScopeSet {
    scopes.parse().expect("valid scopes")
}
