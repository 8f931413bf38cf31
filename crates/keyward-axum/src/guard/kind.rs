//! [`RequireKind`]: a route needs a secret key.

use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use keyward_core::KeyKind;
use keyward_tower::{Rejection, VerifiedKey};
use tower::{Layer, Service};

use super::GuardFuture;
use super::shared::{inner_accessors, missing_layer, refused};

/// Refuses publishable keys: 403 `forbidden`, "This endpoint requires a secret API key.
/// Publishable keys cannot access this resource."
///
/// Useful under a path prefix that the layer opens to publishable keys
/// ([`allow_publishable`](keyward_tower::ApiKeyLayerBuilder::allow_publishable)) when one route
/// below it is secret-only.
///
/// ```
/// use axum::{Router, routing::get};
/// use keyward_axum::guard::RequireKind;
///
/// let app: Router = Router::new()
///     .route("/v1/api/analytics/export", get(|| async { "csv" }))
///     .route_layer(RequireKind::secret());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RequireKind {
    kind: KeyKind,
}

impl RequireKind {
    /// Only secret keys.
    pub fn secret() -> Self {
        Self {
            kind: KeyKind::Secret,
        }
    }

    /// The kind required.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }
}

impl<S> Layer<S> for RequireKind {
    type Service = RequireKindService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireKindService {
            inner,
            kind: self.kind,
        }
    }
}

/// The service made by [`RequireKind`].
#[derive(Clone, Debug)]
pub struct RequireKindService<S> {
    inner: S,
    kind: KeyKind,
}

inner_accessors!(RequireKindService);

impl<S, B> Service<Request<B>> for RequireKindService<S>
where
    S: Service<Request<B>>,
    S::Response: IntoResponse,
{
    type Response = Response;
    type Error = S::Error;
    type Future = GuardFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(key) = request.extensions().get::<VerifiedKey>() else {
            return missing_layer(&request);
        };
        if key.key().kind == self.kind {
            return GuardFuture::forward(self.inner.call(request), None);
        }
        tracing::debug!(target: "keyward::rejection", reason = "publishable_key", fingerprint = %key.fingerprint(), "API key refused on a secret-only route");
        GuardFuture::ready(refused(key, Rejection::SecretKeyRequired))
    }
}
