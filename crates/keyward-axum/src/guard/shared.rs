//! What the guards' services share: the inner-service accessors, the 500 when the layer is
//! missing, and the refusal response.

use axum::response::{IntoResponse, Response};
use http::Request;
use keyward_tower::{Rejection, VerifiedKey};

use super::GuardFuture;
use crate::KeyRejection;

/// The answer of a guard whose request carries no [`VerifiedKey`] (no layer in front of the
/// route, or a route the layer leaves public): 500 `internal_error`, logged at error level.
pub(super) fn missing_layer<B, F, E>(request: &Request<B>) -> GuardFuture<F, E> {
    GuardFuture::ready(KeyRejection::missing_layer(request.uri(), request.headers()).into_response())
}

/// The response refusing `key` for `rejection`.
pub(super) fn refused(key: &VerifiedKey, rejection: Rejection) -> Response {
    key.reject(&rejection).into_response()
}

/// `get_ref`, `get_mut` and `into_inner` for a guard service whose field `inner` is the wrapped
/// service.
macro_rules! inner_accessors {
    ($service:ident) => {
        impl<S> $service<S> {
            /// The inner service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// The inner service, mutably.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// The inner service, consuming the guard.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }
    };
}

pub(super) use inner_accessors;
