//! [`Rejection`]: every way the layer (or a guard) refuses a request, with its status, stable code
//! and `WWW-Authenticate` challenge.

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderValue, StatusCode};

/// Why a request was refused. Clients see [`code`](Self::code) and [`message`](Self::message);
/// unknown, revoked, expired and garbled keys all give the same [`Rejection::InvalidToken`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No credential was sent (401, `unauthorized`).
    MissingCredential,
    /// The credential is not a valid key, or the key is unknown, revoked or expired (401,
    /// `unauthorized`).
    InvalidToken,
    /// The request itself is malformed: duplicated or conflicting credentials, bad characters, an
    /// oversized credential (400, `bad_request`).
    BadRequest(Cow<'static, str>),
    /// The JSON body that may carry the key is larger than allowed (413, `payload_too_large`).
    PayloadTooLarge,
    /// A publishable key on a route that needs a secret key (403, `forbidden`).
    SecretKeyRequired,
    /// The key lacks scopes the route requires (403, `insufficient_scope`).
    InsufficientScope {
        /// The scopes that were missing.
        missing: Vec<String>,
    },
    /// The tenant may not use the API: plan, billing, access switched off (403, `forbidden`).
    Forbidden(Cow<'static, str>),
    /// The key's budget is spent (429, `rate_limit_exceeded`).
    RateLimited {
        /// When the request's cost is available again.
        retry_after: Duration,
    },
    /// The key's [credits](keyward_core::credits) do not cover the request's cost (429,
    /// `usage_exceeded`).
    UsageExceeded {
        /// Credits left (fewer than the cost).
        remaining: u64,
        /// When the next refill comes; `None`: the credits have no refill, and only a top-up
        /// helps.
        retry_after: Option<Duration>,
    },
    /// The API is switched off (503, `api_disabled`).
    ApiDisabled,
    /// The key store could not be asked (503, `store_unavailable`).
    StoreUnavailable,
    /// The shared rate limiter could not be asked and the layer fails closed (503,
    /// `rate_limiter_unavailable`).
    RateLimiterUnavailable,
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingCredential | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SecretKeyRequired | Self::InsufficientScope { .. } | Self::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            Self::RateLimited { .. } | Self::UsageExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ApiDisabled | Self::StoreUnavailable | Self::RateLimiterUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// The stable, lowercase code of the JSON envelope.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCredential | Self::InvalidToken => "unauthorized",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::SecretKeyRequired | Self::Forbidden(_) => "forbidden",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::UsageExceeded { .. } => "usage_exceeded",
            Self::ApiDisabled => "api_disabled",
            Self::StoreUnavailable => "store_unavailable",
            Self::RateLimiterUnavailable => "rate_limiter_unavailable",
        }
    }

    /// A sentence for humans. Never names the presented token.
    pub fn message(&self) -> Cow<'static, str> {
        match self {
            Self::MissingCredential => "Missing API key".into(),
            Self::InvalidToken => "Invalid or expired API key".into(),
            Self::BadRequest(message) | Self::Forbidden(message) => message.clone(),
            Self::PayloadTooLarge => "Request body is too large".into(),
            Self::SecretKeyRequired => {
                "This endpoint requires a secret API key. Publishable keys cannot access this resource."
                    .into()
            }
            Self::InsufficientScope { missing } => {
                format!("API key is missing the required scope: {}", missing.join(", ")).into()
            }
            Self::RateLimited { .. } => "Too many requests".into(),
            Self::UsageExceeded {
                retry_after: Some(_), ..
            } => "The API key's usage credits are spent until the next refill".into(),
            Self::UsageExceeded {
                retry_after: None, ..
            } => "The API key's usage credits are spent".into(),
            Self::ApiDisabled => "The API is disabled".into(),
            Self::StoreUnavailable => "API keys cannot be checked right now; retry shortly".into(),
            Self::RateLimiterUnavailable => "Rate limits cannot be checked right now; retry shortly".into(),
        }
    }

    /// The RFC 6750 `WWW-Authenticate` challenge: on 401s, on `bad_request`, and on insufficient scope.
    /// No `error` attribute when no credential was sent.
    pub fn www_authenticate(&self) -> Option<HeaderValue> {
        let value = match self {
            Self::MissingCredential => HeaderValue::from_static("Bearer"),
            Self::InvalidToken => HeaderValue::from_static(
                "Bearer error=\"invalid_token\", error_description=\"Invalid or expired API key\"",
            ),
            Self::BadRequest(_) => HeaderValue::from_static("Bearer error=\"invalid_request\""),
            Self::InsufficientScope { missing } => HeaderValue::try_from(format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                missing.join(" ")
            ))
            .ok()?,
            _ => return None,
        };
        Some(value)
    }
}
