//! [`ApiError`]: an error in keyward's JSON envelope, for the statuses the layer's
//! [`Rejection`](keyward_tower::Rejection) does not cover (`not_found`, `invalid_parameter`,
//! `internal_error`, conflicts).

use std::borrow::Cow;
use std::fmt;

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use keyward_tower::request_id::{self, X_REQUEST_ID};
use serde::Serialize;

/// An error answered as `{"error":{"code":"…","message":"…","status":N,"request_id":"req_…"}}`,
/// with `"param"` naming the offending field of an `invalid_parameter` error.
///
/// Give it the request's id with [`with_request_id`](Self::with_request_id) (a
/// [`VerifiedKey`](keyward_tower::VerifiedKey) knows it); without one a new id is minted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: Cow<'static, str>,
    param: Option<Cow<'static, str>>,
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
            status,
            code: code.into(),
            message: message.into(),
            param: None,
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
        let mut error = Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", message);
        error.param = Some(param.into());
        error
    }

    /// The same error naming the parameter it is about.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<Cow<'static, str>>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// The same error for the request `request_id` (in the body and `X-Request-Id`).
    #[must_use]
    pub fn with_request_id(mut self, request_id: HeaderValue) -> Self {
        self.request_id = Some(request_id);
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
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = self.request_id.unwrap_or_else(request_id::mint);
        let envelope = Envelope {
            error: Detail {
                code: &self.code,
                message: &self.message,
                status: self.status.as_u16(),
                request_id: request_id.to_str().unwrap_or_default(),
                param: self.param.as_deref(),
            },
        };
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(X_REQUEST_ID.clone(), request_id);
        response
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

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
