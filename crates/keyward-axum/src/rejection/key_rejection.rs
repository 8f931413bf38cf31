//! [`KeyRejection`]: why [`AuthedKey`](crate::AuthedKey) or a guard refused a request.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{Extensions, HeaderMap, HeaderValue, StatusCode, Uri};
use keyward_tower::request_id;
use keyward_tower::{Rejection, VerifiedKey};

use super::ApiError;

/// Why [`AuthedKey`](crate::AuthedKey) or a guard refused a request.
///
/// As a response: a refusal of the verified key ([`rejection`](Self::rejection): insufficient
/// scope, secret key required, rate limited) is rendered by [`VerifiedKey::reject`], as the layer
/// renders its own; a server-side problem is a 500 `internal_error` in the JSON envelope, logged at
/// error level (target `keyward::config`):
///
/// - no [`VerifiedKey`] in the request: the route is not behind
///   [`ApiKeyLayer`](keyward_tower::ApiKeyLayer), or is declared public on it;
/// - the key's tenant or tier does not convert into the application's type.
pub struct KeyRejection {
    // Boxed: rejections are the cold path, and `Result<_, KeyRejection>` stays small.
    reason: Box<Reason>,
}

enum Reason {
    MissingLayer { request_id: HeaderValue },
    Refused { rejection: Rejection, key: VerifiedKey },
    Conversion { key: VerifiedKey },
}

impl KeyRejection {
    /// The verified key is refused for `rejection`.
    pub(crate) fn refused(key: VerifiedKey, rejection: Rejection) -> Self {
        Self {
            reason: Box::new(Reason::Refused { rejection, key }),
        }
    }

    /// The key's tenant or tier did not convert (logged by the caller).
    pub(crate) fn conversion(key: VerifiedKey) -> Self {
        Self {
            reason: Box::new(Reason::Conversion { key }),
        }
    }

    /// No [`VerifiedKey`] in the request; logs the misconfiguration.
    pub(crate) fn missing_layer(uri: &Uri, headers: &HeaderMap) -> Self {
        tracing::error!(
            target: "keyward::config",
            path = %uri.path(),
            "no VerifiedKey in the request: the route is not behind ApiKeyLayer, or it is declared public \
             on the layer. Add the layer with Router::layer after the routes that use AuthedKey or \
             keyward-axum guards, and do not declare those routes public"
        );
        let request_id = request_id::incoming(headers)
            .cloned()
            .unwrap_or_else(request_id::mint);
        Self {
            reason: Box::new(Reason::MissingLayer { request_id }),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match &*self.reason {
            Reason::Refused { rejection, .. } => rejection.status(),
            Reason::MissingLayer { .. } | Reason::Conversion { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code: the rejection's, or `internal_error`.
    pub fn code(&self) -> &'static str {
        match &*self.reason {
            Reason::Refused { rejection, .. } => rejection.code(),
            Reason::MissingLayer { .. } | Reason::Conversion { .. } => "internal_error",
        }
    }

    /// The refusal, when the key was refused (rather than the server being misconfigured).
    pub fn rejection(&self) -> Option<&Rejection> {
        match &*self.reason {
            Reason::Refused { rejection, .. } => Some(rejection),
            Reason::MissingLayer { .. } | Reason::Conversion { .. } => None,
        }
    }

    /// Whether the request carried no [`VerifiedKey`] (the layer is missing).
    pub fn is_missing_layer(&self) -> bool {
        matches!(*self.reason, Reason::MissingLayer { .. })
    }
}

/// The refusal of `key` for lacking the `missing` scopes, logged the same way for the extractor and
/// the guard.
pub(crate) fn insufficient_scope(key: &VerifiedKey, missing: Vec<String>) -> Rejection {
    tracing::debug!(target: "keyward::rejection", reason = "insufficient_scope", fingerprint = %key.fingerprint(), ?missing, "API key refused");
    Rejection::InsufficientScope { missing }
}

/// The verified key of a request, or the missing-layer rejection.
pub(crate) fn verified_key(
    extensions: &Extensions,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<VerifiedKey, KeyRejection> {
    extensions
        .get::<VerifiedKey>()
        .cloned()
        .ok_or_else(|| KeyRejection::missing_layer(uri, headers))
}

impl IntoResponse for KeyRejection {
    fn into_response(self) -> Response {
        match *self.reason {
            Reason::Refused { rejection, key } => key.reject(&rejection).into_response(),
            Reason::Conversion { key } => ApiError::internal()
                .with_request_id(key.request_id_value().clone())
                .into_response(),
            Reason::MissingLayer { request_id } => {
                ApiError::internal().with_request_id(request_id).into_response()
            }
        }
    }
}

impl fmt::Display for KeyRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.reason {
            Reason::Refused { rejection, .. } => f.write_str(&rejection.message()),
            Reason::MissingLayer { .. } => {
                f.write_str("no verified API key: the route is not behind ApiKeyLayer")
            }
            Reason::Conversion { .. } => {
                f.write_str("the API key's tenant or tier does not convert into the application's type")
            }
        }
    }
}

impl fmt::Debug for KeyRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.reason {
            Reason::Refused { rejection, key } => f
                .debug_struct("KeyRejection")
                .field("rejection", rejection)
                .field("key", key)
                .finish(),
            Reason::MissingLayer { request_id } => f
                .debug_struct("KeyRejection")
                .field("missing_layer", &true)
                .field("request_id", request_id)
                .finish(),
            Reason::Conversion { key } => f
                .debug_struct("KeyRejection")
                .field("conversion", &true)
                .field("key", key)
                .finish(),
        }
    }
}

impl std::error::Error for KeyRejection {}
