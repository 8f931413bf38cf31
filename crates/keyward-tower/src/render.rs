//! Rendering rejections: the response with its status and headers ([`render`]), the default JSON
//! envelope, and the shapes other APIs use.

use bytes::Bytes;
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response};
use http_body_util::Full;

use crate::envelope::{self, json_response};
use crate::rate_limit::RateDecision;
use crate::{Rejection, headers};

/// Turns a [`Rejection`] into a JSON body. Status, `Content-Type`, `WWW-Authenticate`,
/// `Retry-After` and `X-Request-Id` are set by the layer.
///
/// Closures `Fn(&Rejection, &str) -> Bytes` implement it.
pub trait RenderRejection: Send + Sync + 'static {
    /// The body for `rejection` on the request `request_id`.
    fn render(&self, rejection: &Rejection, request_id: &str) -> Bytes;
}

impl<F> RenderRejection for F
where
    F: Fn(&Rejection, &str) -> Bytes + Send + Sync + 'static,
{
    fn render(&self, rejection: &Rejection, request_id: &str) -> Bytes {
        self(rejection, request_id)
    }
}

/// Renders a rejection with its status and headers.
pub fn render(
    renderer: &dyn RenderRejection,
    rejection: &Rejection,
    request_id: &HeaderValue,
    decision: Option<&RateDecision>,
    ietf_headers: bool,
) -> Response<Full<Bytes>> {
    rejection_response(renderer, rejection, request_id, decision, ietf_headers).map(Full::new)
}

/// [`render`], with the JSON as it is.
pub(crate) fn rejection_response(
    renderer: &dyn RenderRejection,
    rejection: &Rejection,
    request_id: &HeaderValue,
    decision: Option<&RateDecision>,
    ietf_headers: bool,
) -> Response<Bytes> {
    let body = renderer.render(rejection, request_id.to_str().unwrap_or_default());
    let mut response = json_response(rejection.status(), body, request_id.clone());
    let headers = response.headers_mut();
    if let Some(challenge) = rejection.www_authenticate() {
        headers.insert(WWW_AUTHENTICATE, challenge);
    }
    if let Some(decision) = decision {
        headers::rate_limit(headers, decision, ietf_headers);
    }
    match (rejection, decision) {
        (Rejection::RateLimited { retry_after }, None) => {
            headers.insert(
                RETRY_AFTER,
                headers::number(headers::ceil_secs(*retry_after).max(1)),
            );
        }
        (
            Rejection::UsageExceeded {
                remaining,
                retry_after,
            },
            _,
        ) => {
            headers::credits(headers, *remaining, *retry_after);
            if let Some(retry_after) = retry_after {
                headers.insert(
                    RETRY_AFTER,
                    headers::number(headers::ceil_secs(*retry_after).max(1)),
                );
            }
        }
        _ => {}
    }
    response
}

/// `{"error":{"code":"…","message":"…","status":N,"request_id":"req_…"}}`: the default.
///
/// [`uppercase`](Self::uppercase) gives `UNAUTHORIZED`, `FORBIDDEN`, `API_DISABLED` codes instead.
///
/// ```
/// use keyward_tower::{JsonEnvelope, Rejection, RenderRejection};
///
/// let body = JsonEnvelope::default().render(&Rejection::InvalidToken, "req_1");
/// assert_eq!(
///     body,
///     r#"{"error":{"code":"unauthorized","message":"Invalid or expired API key","status":401,"request_id":"req_1"}}"#,
/// );
/// let body = JsonEnvelope::uppercase().render(&Rejection::ApiDisabled, "req_2");
/// assert!(std::str::from_utf8(&body).unwrap().contains(r#""code":"API_DISABLED""#));
///
/// // Toksta answers a key outside its endpoint families with 403 FORBIDDEN.
/// let toksta = JsonEnvelope::uppercase().rename("insufficient_scope", "forbidden");
/// let missing = Rejection::InsufficientScope { missing: vec!["reports:read".into()] };
/// assert!(std::str::from_utf8(&toksta.render(&missing, "req_3")).unwrap().contains(r#""code":"FORBIDDEN""#));
/// ```
#[derive(Clone, Debug, Default)]
pub struct JsonEnvelope {
    uppercase: bool,
    renames: Vec<(&'static str, &'static str)>,
}

impl JsonEnvelope {
    /// The envelope with upper-case codes (`UNAUTHORIZED`).
    pub fn uppercase() -> Self {
        Self {
            uppercase: true,
            renames: Vec::new(),
        }
    }

    /// Writes the code `from` (one of [`Rejection::code`]'s) as `to` (upper-cased too when the
    /// envelope is).
    #[must_use]
    pub fn rename(mut self, from: &'static str, to: &'static str) -> Self {
        self.renames.push((from, to));
        self
    }
}

impl RenderRejection for JsonEnvelope {
    fn render(&self, rejection: &Rejection, request_id: &str) -> Bytes {
        let code = rejection.code();
        let code = self
            .renames
            .iter()
            .find(|(from, _)| *from == code)
            .map_or(code, |(_, to)| to);
        let upper;
        let code = if self.uppercase {
            upper = code.to_ascii_uppercase();
            upper.as_str()
        } else {
            code
        };
        envelope::json(code, &rejection.message(), rejection.status(), request_id, None)
    }
}

/// `{"error":"<message>"}`: a flat message (Tolinku's shape).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlatError;

impl RenderRejection for FlatError {
    fn render(&self, rejection: &Rejection, _request_id: &str) -> Bytes {
        serde_json::to_vec(&serde_json::json!({ "error": rejection.message() }))
            .map(Bytes::from)
            .unwrap_or_default()
    }
}
