//! [`RouteCost`]: a route that costs more than one unit of the key's rate-limit budget.

use std::num::NonZeroU32;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use keyward_tower::rate_limit::{Check, RateDecision, RateLimitError};
use keyward_tower::{Rejection, VerifiedKey};
use tower::{Layer, Service};

use super::GuardFuture;
use super::shared::{inner_accessors, missing_layer, refused};

/// The route costs `cost` units of the key's budget (Atribu's heavy endpoints cost 3).
///
/// The layer charged every request 1 unit; this guard spends the other `cost - 1` through
/// [`VerifiedKey::charge`]. When the budget cannot pay them the request is refused with 429
/// `rate_limit_exceeded`, `Retry-After` and the `X-RateLimit-*` headers of the refusal (the unit
/// the layer charged stays spent); otherwise the response's `X-RateLimit-*` headers show the
/// budget after the charge. (The guard hands its [`RateDecision`] to the layer in the response's
/// extensions; the layer writes the headers, the IETF fields too when they are on.) A cost of 0 or 1 adds nothing. With rate limiting off it does nothing.
///
/// Charge a route either here or with the layer's
/// [`route_cost`](keyward_tower::ApiKeyLayerBuilder::route_cost), not both: both would charge.
///
/// ```
/// use axum::{Router, routing::get};
/// use keyward_axum::guard::RouteCost;
///
/// let app: Router = Router::new()
///     .route("/v1/customers", get(|| async { "customers" }))
///     .route_layer(RouteCost::new(3));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RouteCost {
    extra: Option<NonZeroU32>,
}

impl RouteCost {
    /// The route costs `cost` units.
    pub fn new(cost: u32) -> Self {
        Self {
            extra: NonZeroU32::new(cost.saturating_sub(1)),
        }
    }

    /// What the route costs in all.
    pub fn cost(&self) -> u32 {
        self.extra.map_or(1, |extra| extra.get().saturating_add(1))
    }
}

impl<S> Layer<S> for RouteCost {
    type Service = RouteCostService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteCostService {
            inner,
            extra: self.extra,
        }
    }
}

/// The service made by [`RouteCost`].
#[derive(Clone, Debug)]
pub struct RouteCostService<S> {
    inner: S,
    extra: Option<NonZeroU32>,
}

inner_accessors!(RouteCostService);

impl<S, B> Service<Request<B>> for RouteCostService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
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
        let Some(extra) = self.extra else {
            return GuardFuture::forward(self.inner.call(request), None);
        };
        match key.charge(extra) {
            None => GuardFuture::forward(self.inner.call(request), None),
            Some(Check::Ready(Ok(decision))) if decision.allowed => {
                GuardFuture::forward(self.inner.call(request), Some(decision))
            }
            Some(Check::Ready(outcome)) => GuardFuture::ready(refusal(key, outcome)),
            Some(Check::Pending(check)) => {
                let key = key.clone();
                // `poll_ready` readied `self.inner`: take that instance for this request and leave
                // a clone in its place, since the call happens later, inside the future.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                GuardFuture::charging(Box::pin(async move {
                    match check.await {
                        Ok(decision) if decision.allowed => {
                            let mut response = inner.call(request).await?.into_response();
                            response.extensions_mut().insert(decision);
                            Ok(response)
                        }
                        outcome => Ok(refusal(&key, outcome)),
                    }
                }))
            }
        }
    }
}

/// The answer when the extra charge was refused, or could not be made.
fn refusal(key: &VerifiedKey, outcome: Result<RateDecision, RateLimitError>) -> Response {
    match outcome {
        Ok(decision) => {
            tracing::debug!(target: "keyward::rejection", reason = "rate_limited", fingerprint = %key.fingerprint(), "request refused: the route's cost exceeds the key's budget");
            let mut response = refused(
                key,
                Rejection::RateLimited {
                    retry_after: decision.retry_after,
                },
            );
            response.extensions_mut().insert(decision);
            response
        }
        Err(error) => {
            tracing::warn!(target: "keyward::rejection", %error, "rate limiter unavailable");
            refused(key, Rejection::RateLimiterUnavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs() {
        for (cost, extra, total) in [(0, None, 1), (1, None, 1), (2, Some(1), 2), (3, Some(2), 3)] {
            let route = RouteCost::new(cost);
            assert_eq!(
                route.extra.map(NonZeroU32::get),
                extra,
                "extra units for cost {cost}"
            );
            assert_eq!(route.cost(), total, "total cost for cost {cost}");
        }
    }
}
