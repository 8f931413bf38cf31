//! [`Failure`]: why a management call failed, and how each core error is answered.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use keyward_core::{ManagerError, StoreError};
use keyward_tower::{Rejection, VerifiedKey};

use crate::ApiError;

/// A management call's error: a refusal the layer knows how to render, or an [`ApiError`].
#[derive(Debug)]
pub(crate) enum Failure {
    Refused(Rejection),
    Api(ApiError),
}

impl Failure {
    /// The answer for the request of `key`, with its request id.
    pub(crate) fn respond(self, key: &VerifiedKey) -> Response {
        match self {
            Self::Refused(rejection) => key.reject(&rejection).into_response(),
            Self::Api(error) => error
                .with_request_id(key.request_id_value().clone())
                .into_response(),
        }
    }
}

impl Failure {
    /// The error in keyward's envelope, for answers made without the layer (a request no verified
    /// key made, the key page's).
    pub(crate) fn into_api_error(self) -> ApiError {
        match self {
            Self::Refused(rejection) => {
                ApiError::new(rejection.status(), rejection.code(), rejection.message())
            }
            Self::Api(error) => error,
        }
    }
}

/// The answer for an unknown id, another tenant's id, or a malformed id alike.
pub(crate) fn not_found() -> Failure {
    ApiError::not_found("No API key with this id").into()
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<ManagerError> for Failure {
    fn from(error: ManagerError) -> Self {
        match error {
            ManagerError::InvalidName => ApiError::invalid_parameter(
                "name",
                "`name` must be at most 100 characters without control characters",
            )
            .into(),
            ManagerError::InvalidExpiry => {
                ApiError::invalid_parameter("expires_in", "`expires_in` must be in the future").into()
            }
            ManagerError::ScopesNotAllowed { keyspace, scopes } => ApiError::invalid_parameter(
                "scopes",
                format!("The keyspace `{keyspace}` does not allow the scopes `{scopes}`"),
            )
            .into(),
            ManagerError::TierNotAllowed { keyspace, tier } => ApiError::invalid_parameter(
                "tier",
                format!("The keyspace `{keyspace}` does not allow the tier `{tier}`"),
            )
            .into(),
            ManagerError::RotationNotAllowed {
                keyspace, allowed, ..
            } => ApiError::invalid_parameter(
                "rotation",
                format!("The keyspace `{keyspace}` rotates keys only by {allowed}"),
            )
            .into(),
            ManagerError::Store(error) => error.into(),
            other => {
                tracing::error!(target: "keyward::management", error = %other, "key management failed");
                ApiError::internal().into()
            }
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        let conflict = |code: &'static str, message: String| {
            Self::Api(ApiError::new(StatusCode::CONFLICT, code, message))
        };
        match error {
            StoreError::NotFound => not_found(),
            StoreError::LimitReached { limit } => conflict(
                "limit_reached",
                format!("The tenant already has its maximum of {limit} active keys; revoke one first"),
            ),
            StoreError::NotActive => conflict(
                "key_not_active",
                "The key is revoked, expired or past its grace period".to_owned(),
            ),
            StoreError::RotationPending => conflict(
                "rotation_pending",
                "A rotation of this key is already pending: revoke the old or the new key first".to_owned(),
            ),
            StoreError::Unavailable(source) => {
                tracing::warn!(target: "keyward::management", error = %source, "key store unavailable");
                Self::Refused(Rejection::StoreUnavailable)
            }
            outdated @ StoreError::SchemaOutdated { .. } => {
                tracing::error!(target: "keyward::management", error = %outdated, "key store schema outdated");
                Self::Refused(Rejection::StoreUnavailable)
            }
            other => {
                tracing::error!(target: "keyward::management", error = %other, "key store failed");
                ApiError::internal().into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use keyward_core::{KeyspaceName, Rotation, Tier};

    use super::*;

    #[test]
    fn core_errors_become_stable_answers() {
        let cases: Vec<(ManagerError, StatusCode, &str)> = vec![
            (
                ManagerError::InvalidName,
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
            ),
            (
                ManagerError::InvalidExpiry,
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
            ),
            (
                ManagerError::ScopesNotAllowed {
                    keyspace: KeyspaceName::default(),
                    scopes: "admin:*".to_owned(),
                },
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
            ),
            (
                ManagerError::TierNotAllowed {
                    keyspace: KeyspaceName::default(),
                    tier: Tier::default(),
                },
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
            ),
            (
                ManagerError::RotationNotAllowed {
                    keyspace: KeyspaceName::default(),
                    allowed: Rotation::TwoStep,
                    asked: Rotation::Immediate,
                },
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
            ),
            (
                StoreError::SchemaOutdated {
                    applied: 1,
                    required: 3,
                }
                .into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
            ),
            (StoreError::NotFound.into(), StatusCode::NOT_FOUND, "not_found"),
            (
                StoreError::LimitReached { limit: 5 }.into(),
                StatusCode::CONFLICT,
                "limit_reached",
            ),
            (
                StoreError::NotActive.into(),
                StatusCode::CONFLICT,
                "key_not_active",
            ),
            (
                StoreError::RotationPending.into(),
                StatusCode::CONFLICT,
                "rotation_pending",
            ),
            (
                StoreError::Duplicate.into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
            ),
            (
                StoreError::unavailable("connection refused").into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
            ),
        ];
        for (error, status, code) in cases {
            let described = format!("{error:?}");
            let (got_status, got_code) = match Failure::from(error) {
                Failure::Api(error) => (error.status(), error.code().to_owned()),
                Failure::Refused(rejection) => (rejection.status(), rejection.code().to_owned()),
            };
            assert_eq!((got_status, got_code.as_str()), (status, code), "{described}");
        }
    }
}
