//! [`ApiError`]: an error in keyward's JSON envelope, for the statuses the layer's
//! [`Rejection`](keyward_tower::Rejection) does not cover (`invalid_parameter`,
//! `invalid_date_range`, `not_found`, `internal_error`, conflicts).

use std::borrow::Cow;
use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use keyward_tower::ErrorEnvelope;
use keyward_tower::request_id;

/// An error answered as `{"error":{"code":"…","message":"…","status":N,"request_id":"req_…"}}`,
/// with `"param"` naming the offending field of an `invalid_parameter` error.
///
/// Behind [`ApiKeyLayer`](keyward_tower::ApiKeyLayer) the body's `request_id` and the
/// `X-Request-Id` header are the request's own: the layer writes them on the way out, so a handler
/// returns the error as it is (`?` works) without being handed the id. Without the layer, the id
/// given with [`with_request_id`](Self::with_request_id) is used, else a new one is minted.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use http_body_util::BodyExt;
/// use keyward_axum::ApiError;
/// use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
/// use keyward_tower::ApiKeyLayer;
/// use tower::ServiceExt;
///
/// async fn report() -> Result<String, ApiError> {
///     Err(ApiError::invalid_date_range("The date range exceeds 366 days"))
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = KeyManager::new(MemoryStore::new());
/// let created = manager.create(NewKey::new(TenantId::new("site_1")?)).await?;
/// let app = Router::new().route("/v1/report", get(report)).layer(ApiKeyLayer::new(manager));
/// let request = Request::get("/v1/report")
///     .header("authorization", format!("Bearer {}", created.token.expose()))
///     .header("x-request-id", "req_from_client")
///     .body(Body::empty())?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(response.headers()["x-request-id"], "req_from_client");
/// let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
/// assert_eq!(body["error"]["code"], "invalid_date_range");
/// assert_eq!(body["error"]["request_id"], "req_from_client");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    envelope: ErrorEnvelope,
    request_id: Option<HeaderValue>,
}

impl ApiError {
    /// An error with this status, stable lowercase code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            envelope: ErrorEnvelope::new(status, code, message),
            request_id: None,
        }
    }

    /// 500 `internal_error`. Log the cause before answering with it: clients see only this.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error; include the request_id when reporting it",
        )
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400 `invalid_parameter`, naming the parameter (`"param"` in the body).
    pub fn invalid_parameter(
        param: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", message).with_param(param)
    }

    /// 400 `invalid_date_range`: a date that does not parse, an end before the start, or a range
    /// longer than allowed.
    pub fn invalid_date_range(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_date_range", message)
    }

    /// The same error naming the parameter it is about.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.envelope = self.envelope.with_param(param);
        self
    }

    /// The same error for the request `request_id` (in the body and `X-Request-Id`), for a
    /// response that does not go back through the layer.
    #[must_use]
    pub fn with_request_id(mut self, request_id: HeaderValue) -> Self {
        self.request_id = Some(request_id);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.envelope.status()
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        self.envelope.code()
    }

    /// The message for humans.
    pub fn message(&self) -> &str {
        self.envelope.message()
    }

    /// The parameter the error is about, if any.
    pub fn param(&self) -> Option<&str> {
        self.envelope.param()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code(),
            self.status().as_u16(),
            self.message()
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = self.request_id.unwrap_or_else(request_id::mint);
        self.envelope.into_response(request_id).into_response()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use keyward_tower::request_id::X_REQUEST_ID;

    use super::*;

    async fn body(error: ApiError) -> (StatusCode, serde_json::Value, Option<HeaderValue>) {
        let response = error.into_response();
        let status = response.status();
        let id = response.headers().get(&X_REQUEST_ID).cloned();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("an in-memory body")
            .to_bytes();
        (status, serde_json::from_slice(&bytes).expect("JSON"), id)
    }

    #[tokio::test]
    async fn envelope_with_the_given_request_id() {
        let error = ApiError::invalid_parameter("name", "`name` must not be empty")
            .with_request_id(HeaderValue::from_static("req_given"));
        let (status, json, id) = body(error).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            json,
            serde_json::json!({"error": {
                "code": "invalid_parameter",
                "message": "`name` must not be empty",
                "status": 400,
                "request_id": "req_given",
                "param": "name",
            }})
        );
        assert_eq!(id.as_ref().map(|v| v.as_bytes()), Some(&b"req_given"[..]));
    }

    #[tokio::test]
    async fn a_new_request_id_is_minted_when_none_is_given() {
        let (status, json, id) = body(ApiError::internal()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["error"]["code"], "internal_error");
        assert!(json["error"].get("param").is_none());
        let id = id.expect("X-Request-Id is set");
        assert!(id.to_str().is_ok_and(|id| id.starts_with("req_")));
        assert_eq!(json["error"]["request_id"], id.to_str().unwrap_or_default());
    }
}
