//! Rejections: [`KeyRejection`] (from [`AuthedKey`](crate::AuthedKey) and the guards) and
//! [`ApiError`] (keyward's JSON envelope for errors the layer has no [`Rejection`] for).
//!
//! Both answer in the layer's format: a refusal for a verified key goes through
//! [`VerifiedKey::reject`], so the layer's renderer and the request's id are used; other errors are
//! written in the JSON envelope `{"error":{"code","message","status","request_id"}}`, whose
//! `request_id` the layer fills in with the request's own on the way out.
//!
//! ```
//! use axum::response::IntoResponse;
//! use http::StatusCode;
//! use keyward_axum::ApiError;
//!
//! let response = ApiError::invalid_parameter("limit", "`limit` must be between 1 and 500").into_response();
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! assert!(response.headers().contains_key("x-request-id"));
//! ```
//!
//! [`Rejection`]: keyward_tower::Rejection
//! [`VerifiedKey::reject`]: keyward_tower::VerifiedKey::reject

mod api_error;
mod key_rejection;

pub use api_error::ApiError;
pub use key_rejection::KeyRejection;
pub(crate) use key_rejection::{insufficient_scope, verified_key};
