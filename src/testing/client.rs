//! [`TestClient`]: requests sent to a router or any service in process, answers read in full.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::{Service, ServiceExt};

/// Sends requests to `S` (an axum `Router`, or a router behind `ApiKeyLayer::layer`) with
/// `oneshot`, as a server would, without a socket.
#[derive(Clone, Debug)]
pub struct TestClient<S> {
    service: S,
}

impl<S> TestClient<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    /// A client of `service`.
    pub fn new(service: S) -> Self {
        Self { service }
    }

    /// A `GET` of `path` (with its query, if any).
    pub fn get(&self, path: &str) -> TestRequest<S> {
        self.request(Method::GET, path)
    }

    /// A `POST` to `path`.
    pub fn post(&self, path: &str) -> TestRequest<S> {
        self.request(Method::POST, path)
    }

    /// A `DELETE` of `path`.
    pub fn delete(&self, path: &str) -> TestRequest<S> {
        self.request(Method::DELETE, path)
    }

    /// A request of any method.
    ///
    /// # Panics
    ///
    /// When `path` is not a valid URI path.
    pub fn request(&self, method: Method, path: &str) -> TestRequest<S> {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = method;
        *request.uri_mut() = path.parse().expect("a valid request path");
        TestRequest {
            service: self.service.clone(),
            request,
        }
    }
}

/// A request being built; [`send`](Self::send) answers it.
#[derive(Debug)]
pub struct TestRequest<S> {
    service: S,
    request: Request,
}

impl<S> TestRequest<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send,
{
    /// Adds `Authorization: Bearer <token>`.
    ///
    /// # Panics
    ///
    /// When the token holds bytes a header cannot.
    pub fn bearer(self, token: &str) -> Self {
        self.header(AUTHORIZATION, &format!("Bearer {token}"))
    }

    /// Adds a header (appended: a name given twice is sent twice).
    ///
    /// # Panics
    ///
    /// When the value holds bytes a header cannot.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        let value = HeaderValue::from_str(value).expect("a valid header value");
        self.request.headers_mut().append(name, value);
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(mut self, body: &Value) -> Self {
        self.request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *self.request.body_mut() = Body::from(body.to_string());
        self
    }

    /// Sends the request and reads the whole answer.
    ///
    /// # Panics
    ///
    /// When the response body cannot be read.
    pub async fn send(self) -> TestResponse {
        let response = match self.service.oneshot(self.request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("a readable body").to_bytes();
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }
}

/// An answer, read in full.
#[derive(Clone, Debug)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value as text, when present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The error envelope's code (`unauthorized`, `insufficient_scope`, `rate_limited`, …), when
    /// the body is keyward's `{"error":{"code":…}}`.
    pub fn error_code(&self) -> Option<String> {
        self.json()["error"]["code"].as_str().map(str::to_owned)
    }

    /// The `X-Request-Id` the layer answered with.
    pub fn request_id(&self) -> Option<&str> {
        self.header("x-request-id")
    }
}
