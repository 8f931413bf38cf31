//! [`ErrorEnvelope`]: keyward's JSON error envelope,
//! `{"error":{"code":"…","message":"…","status":N,"request_id":"req_…","param":"…"}}` (`param`
//! only when the error names one), for the application's own errors.
//!
//! The layer's rejections are written in the same shape by [`JsonEnvelope`](crate::JsonEnvelope).
//! An envelope that the application answers with is written by [`into_response`](ErrorEnvelope::into_response)
//! with whatever request id the application knows, and it rides along in the response's
//! extensions: when the response goes back through [`ApiKeyLayer`](crate::ApiKeyLayer) with
//! another id in its `X-Request-Id`, the layer writes the body again with the request's own id, so
//! that a handler's error names the request without the handler being handed its id. The layer
//! looks for it on 4xx and 5xx responses only: a successful response pays one comparison of its
//! status.
//!
//! ```
//! use bytes::Bytes;
//! use http::{HeaderValue, Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use keyward_core::{KeyManager, MemoryStore};
//! use keyward_tower::{ApiKeyLayer, ErrorEnvelope};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! let service = ServiceBuilder::new()
//!     .layer(ApiKeyLayer::builder(manager).public("/health").build()?)
//!     .service(service_fn(|_: Request<Full<Bytes>>| async {
//!         // The handler knows no request id: it writes one of its own.
//!         let error = ErrorEnvelope::new(StatusCode::SERVICE_UNAVAILABLE, "maintenance", "Back soon");
//!         Ok::<_, std::convert::Infallible>(error.into_response(HeaderValue::from_static("req_local")))
//!     }));
//! let request = Request::get("/health").header("x-request-id", "req_client_7").body(Full::default())?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
//! assert_eq!(response.headers()["x-request-id"], "req_client_7");
//! let body = response.into_body().collect().await?.to_bytes();
//! let json: serde_json::Value = serde_json::from_slice(&body)?;
//! assert_eq!(json["error"]["request_id"], "req_client_7");
//! assert_eq!(json["error"]["code"], "maintenance");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::borrow::Cow;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::bodies::MapResponseBody;
use crate::headers;
use crate::request_id::X_REQUEST_ID;

/// An error in keyward's JSON envelope: a status, a stable code, a message and, for an error
/// about one parameter, its name. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorEnvelope {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    param: Option<Cow<'static, str>>,
}

impl ErrorEnvelope {
    /// An error with this status, stable code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            param: None,
        }
    }

    /// The same error naming the parameter it is about (`"param"` in the body).
    #[must_use]
    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for humans.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The parameter the error is about, if any.
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }

    /// The JSON body for the request `request_id`.
    pub fn to_json(&self, request_id: &str) -> Bytes {
        json(
            &self.code,
            &self.message,
            self.status,
            request_id,
            self.param.as_deref(),
        )
    }

    /// The response: the status, the JSON body, `Content-Type: application/json`,
    /// `Cache-Control: no-store` and `X-Request-Id: request_id`. The envelope goes into the
    /// response's extensions, so that a layer around the handler can write the body again with the
    /// request's own id (see the [module docs](self)).
    pub fn into_response(self, request_id: HeaderValue) -> Response<Full<Bytes>> {
        let body = self.to_json(request_id.to_str().unwrap_or_default());
        let mut response = json_response(self.status, body, request_id).map(Full::new);
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
    status: u16,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    param: Option<&'a str>,
}

/// The envelope's JSON: every error body of keyward's is written here.
pub(crate) fn json(
    code: &str,
    message: &str,
    status: StatusCode,
    request_id: &str,
    param: Option<&str>,
) -> Bytes {
    let envelope = Envelope {
        error: Detail {
            code,
            message,
            status: status.as_u16(),
            request_id,
            param,
        },
    };
    // One allocation: the fixed text and a request id fit (messages are a sentence).
    let mut body = Vec::with_capacity(96 + code.len() + message.len() + request_id.len());
    match serde_json::to_writer(&mut body, &envelope) {
        Ok(()) => Bytes::from(body),
        Err(_) => Bytes::new(),
    }
}

/// A JSON error response with its status, `Content-Type`, `Cache-Control: no-store` and
/// `X-Request-Id`.
pub(crate) fn json_response(status: StatusCode, body: Bytes, request_id: HeaderValue) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    // These three, the rate-limit headers and `Retry-After` or `WWW-Authenticate`: one table.
    headers.reserve(8);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers::request_id(headers, request_id);
    response
}

/// An inner response in the layer's body type; an error in the envelope that names another id
/// than the request's is written again with `request_id` (the caller then sets the header).
#[inline]
pub(crate) fn complete<M: MapResponseBody<B>, B>(
    response: Response<B>,
    request_id: &HeaderValue,
) -> Response<M::Body> {
    if response.status().as_u16() < 400 {
        return response.map(M::forward_response);
    }
    let rewrite = response
        .extensions()
        .get::<ErrorEnvelope>()
        .filter(|_| response.headers().get(&X_REQUEST_ID) != Some(request_id))
        .map(|envelope| envelope.to_json(request_id.to_str().unwrap_or_default()));
    match rewrite {
        None => response.map(M::forward_response),
        Some(body) => {
            let (mut parts, _) = response.into_parts();
            parts.headers.remove(CONTENT_LENGTH);
            Response::from_parts(parts, M::rejection(body))
        }
    }
}
