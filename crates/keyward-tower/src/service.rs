//! [`ApiKeyService`]: the middleware service. The fast path (a cached key, an in-process limiter)
//! runs synchronously in `call` and allocates nothing of its own; every other path continues in
//! one boxed async step.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use keyward_core::Presented;
use tower::{BoxError, Service};

use crate::future::{ResponseBody, ResponseFuture};
use crate::policy::RouteClass;
use crate::rate_limit::Check;
use crate::shared::{Shared, refusal};
use crate::verify::Cached;
use crate::{Rejection, VerifiedKey, credential, request_id};

/// The service made by [`ApiKeyLayer`](crate::ApiKeyLayer).
#[derive(Clone, Debug)]
pub struct ApiKeyService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> ApiKeyService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming the middleware.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Where the slow path starts.
enum Start {
    /// The key may be in the JSON body.
    Body,
    /// The key was in a header.
    Presented(Presented),
}

type Inbound<B> = Either<B, Full<Bytes>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ApiKeyService<S>
where
    S: Service<Request<Inbound<ReqBody>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let request_id = request_id::resolve(request.headers_mut());
        if shared.kill_switch.as_ref().is_some_and(|s| !s.is_enabled()) {
            return ResponseFuture::reject(shared.reject(&Rejection::ApiDisabled, &request_id, None));
        }
        let route = shared.routes.classify(request.uri().path());
        if shared.is_public(&request, &route) {
            let post = crate::shared::Post {
                request_id,
                decision: None,
                ietf: false,
                audit: None,
            };
            return ResponseFuture::forward(self.inner.call(request.map(Either::Left)), post);
        }
        shared.credentials.mark_sensitive(request.headers_mut());
        let start = match shared.credentials.find_in_headers(request.headers()) {
            Err(rejection) => return ResponseFuture::reject(shared.reject(&rejection, &request_id, None)),
            Ok(Some(token)) => match shared.present(token) {
                Ok(presented) => Start::Presented(presented),
                Err(rejection) => {
                    return ResponseFuture::reject(shared.reject(&rejection, &request_id, None));
                }
            },
            Ok(None) if shared.credentials.body().is_some() && credential::is_json(request.headers()) => {
                Start::Body
            }
            Ok(None) => {
                return ResponseFuture::reject(shared.reject(
                    &Rejection::MissingCredential,
                    &request_id,
                    None,
                ));
            }
        };
        if let Start::Presented(presented) = &start {
            // One clock read serves the front cache and the key's status.
            let now = shared.verifier.manager().now();
            match shared.verifier.cached(&presented.lookup, now) {
                Cached::Known(cached) if shared.gate.is_none() => {
                    if let Err(rejection) = shared.admit(&cached, presented, &route, now) {
                        return ResponseFuture::reject(shared.reject(&rejection, &request_id, None));
                    }
                    let decision = match shared.rate_check(&cached, &route) {
                        None => None,
                        Some(Check::Ready(outcome)) => match shared.rate_outcome(&cached, outcome) {
                            Ok(decision) => Some(decision),
                            Err((rejection, decision)) => {
                                return ResponseFuture::reject(shared.reject(
                                    &rejection,
                                    &request_id,
                                    decision.as_ref(),
                                ));
                            }
                        },
                        // A remote limiter: continue on the slow path (its check is lazy, so
                        // dropping this one spends nothing).
                        Some(Check::Pending(_)) => return self.slow(request, request_id, route, start),
                    };
                    let post = shared.post(&request, request_id.clone(), cached.clone(), decision);
                    request.extensions_mut().insert(VerifiedKey {
                        cached,
                        decision,
                        request_id,
                        shared: shared.clone(),
                    });
                    return ResponseFuture::forward(self.inner.call(request.map(Either::Left)), post);
                }
                Cached::Unknown => {
                    tracing::debug!(target: "keyward::rejection", reason = "unknown", "API key refused (negative cache)");
                    return ResponseFuture::reject(shared.reject(
                        &Rejection::InvalidToken,
                        &request_id,
                        None,
                    ));
                }
                Cached::Known(_) | Cached::Miss => {}
            }
        }
        self.slow(request, request_id, route, start)
    }
}

impl<S> ApiKeyService<S> {
    fn slow<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
        request_id: HeaderValue,
        route: RouteClass,
        start: Start,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<Inbound<ReqBody>>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
        ReqBody::Error: Into<BoxError>,
        ResBody: Send + 'static,
    {
        // The inner service was driven to readiness by `poll_ready`: take that one and leave a
        // clone in its place, so the ready instance is the one called.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        ResponseFuture::slow(Box::pin(finish(shared, inner, request, request_id, route, start)))
    }
}

async fn finish<S, ReqBody, ResBody>(
    shared: Arc<Shared>,
    mut inner: S,
    request: Request<ReqBody>,
    request_id: HeaderValue,
    route: RouteClass,
    start: Start,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: Service<Request<Inbound<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes>,
    ReqBody::Error: Into<BoxError>,
{
    let reject = |rejection: &Rejection| Ok(shared.reject(rejection, &request_id, None));
    let (mut request, presented) = match start {
        Start::Presented(presented) => (request.map(Either::Left), presented),
        Start::Body => {
            let Some(field) = shared.credentials.body() else {
                return reject(&Rejection::MissingCredential);
            };
            let (parts, body) = request.into_parts();
            let bytes = match Limited::new(body, field.max_bytes).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                    return reject(&Rejection::PayloadTooLarge);
                }
                Err(_) => {
                    return reject(&Rejection::BadRequest(
                        "The request body could not be read".into(),
                    ));
                }
            };
            let token = match credential::from_body(&bytes, &field.name) {
                Ok(Some(token)) => token,
                Ok(None) => return reject(&Rejection::MissingCredential),
                Err(rejection) => return reject(&rejection),
            };
            let presented = match shared.present(&token) {
                Ok(presented) => presented,
                Err(rejection) => return reject(&rejection),
            };
            (
                Request::from_parts(parts, Either::Right(Full::new(bytes))),
                presented,
            )
        }
    };
    let cached = match shared
        .verifier
        .cached(&presented.lookup, shared.verifier.manager().now())
    {
        Cached::Known(cached) => cached,
        Cached::Unknown => return reject(&refusal(&keyward_core::VerifyError::Unknown, None)),
        Cached::Miss => match shared.verifier.load(presented.lookup).await {
            Ok(Some(cached)) => cached,
            Ok(None) => return reject(&refusal(&keyward_core::VerifyError::Unknown, None)),
            Err(error) => return reject(&refusal(&error, None)),
        },
    };
    if let Err(rejection) = shared.admit(&cached, &presented, &route, shared.verifier.manager().now()) {
        return reject(&rejection);
    }
    if let Err(rejection) = shared.gate(&cached).await {
        tracing::debug!(target: "keyward::rejection", reason = "tenant_gate", fingerprint = %cached.fingerprint, "request refused");
        return reject(&rejection);
    }
    let decision = match shared.rate_check(&cached, &route) {
        None => None,
        Some(check) => match shared.rate_outcome(&cached, check.decide().await) {
            Ok(decision) => Some(decision),
            Err((rejection, decision)) => {
                return Ok(shared.reject(&rejection, &request_id, decision.as_ref()));
            }
        },
    };
    let post = shared.post(&request, request_id.clone(), cached.clone(), decision);
    request.extensions_mut().insert(VerifiedKey {
        cached,
        decision,
        request_id,
        shared: shared.clone(),
    });
    let response = inner.call(request).await?;
    Ok(post.finish(response))
}
