//! [`ApiKeyService`]: the middleware service. The fast path (a cached key, an in-process limiter)
//! runs synchronously in `call` and allocates nothing of its own per request (request ids and
//! audit text go into per-thread buffers, one allocation per many requests); every other path
//! continues in one boxed async step.

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use keyward_core::{Presented, VerifyError};
use tower::{BoxError, Service};

use crate::bodies::{MapRequestBody, MapResponseBody, Plain};
use crate::future::ResponseFuture;
use crate::policy::RouteClass;
use crate::rate_limit::{Check, RateDecision};
use crate::shared::{Post, Shared, refusal};
use crate::verify::{Cached, CachedKey};
use crate::{Rejection, credential, credits, request_id};

/// The service made by [`ApiKeyLayer`](crate::ApiKeyLayer); `M` says how bodies are typed (see
/// [`bodies`](crate::bodies)).
pub struct ApiKeyService<S, M = Plain> {
    inner: S,
    shared: Arc<Shared>,
    bodies: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for ApiKeyService<S, M> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), self.shared.clone())
    }
}

impl<S: fmt::Debug, M> fmt::Debug for ApiKeyService<S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyService")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, M> ApiKeyService<S, M> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            shared,
            bodies: PhantomData,
        }
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
    /// The key was in a header and the caches did not know it.
    Presented(Presented),
    /// The cached key was admitted; what is left is the tenant gate and the rate limit.
    Admitted(Admitted),
}

/// An admitted key on its way to the slow path: the key, the rate-limit check already started (a
/// remote limiter's, from the fast path; else it is made after the tenant gate), and the client's
/// address.
struct Admitted {
    cached: Arc<CachedKey>,
    check: Option<Check>,
    client: Option<IpAddr>,
}

/// The request body the inner service receives.
type Inbound<M, B> = <M as MapRequestBody<B>>::Body;
/// The response body the layer answers with.
type Outbound<M, B> = <M as MapResponseBody<B>>::Body;

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for ApiKeyService<S, M>
where
    M: MapRequestBody<ReqBody> + MapResponseBody<ResBody>,
    Inbound<M, ReqBody>: Send + 'static,
    Outbound<M, ResBody>: Send + 'static,
    S: Service<Request<Inbound<M, ReqBody>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<BoxError>,
    ResBody: Send + 'static,
{
    type Response = Response<Outbound<M, ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, M, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        shared.metrics.request();
        let route = shared.routes.classify(request.uri().path());
        let public = shared.is_public(&request, &route);
        // Public routes too: a client may send its key everywhere, and what is behind the layer may
        // print headers.
        let scanned = shared.credentials.scan(request.headers_mut());
        let (request_id, minted) = match scanned.request_id {
            Some(incoming) if shared.keeps_request_id(incoming) => (incoming.clone(), false),
            _ => (request_id::mint(), true),
        };
        let reject = |rejection: &Rejection, decision: Option<&RateDecision>| {
            ResponseFuture::reject(shared.reject::<M, ResBody>(rejection, &request_id, decision))
        };
        if shared.kill_switch.as_ref().is_some_and(|s| !s.is_enabled()) {
            return reject(&Rejection::ApiDisabled, None);
        }
        if public {
            pass_on_request_id(&mut request, &request_id, minted);
            let post = Post::bare(request_id);
            return ResponseFuture::forward(self.inner.call(request.map(M::forward_request)), post);
        }
        let token = match scanned.credential {
            Ok(token) => token,
            Err(rejection) => return reject(&rejection, None),
        };
        let start = if let Some(token) = token {
            match shared.present(token) {
                Ok(presented) => Start::Presented(presented),
                Err(rejection) => return reject(&rejection, None),
            }
        } else if shared.credentials.body().is_some() && credential::is_json(request.headers()) {
            Start::Body
        } else {
            return reject(&Rejection::MissingCredential, None);
        };
        pass_on_request_id(&mut request, &request_id, minted);
        let Start::Presented(presented) = &start else {
            return self.slow(request, request_id, route, start);
        };
        // One clock read serves the front cache, the key's status and the audit record.
        let now = shared.verifier.manager().now();
        let cached = match shared.verifier.cached(&presented.lookup, now) {
            Cached::Known(cached) => cached,
            Cached::Unknown => return reject(&refusal(&VerifyError::Unknown, None), None),
            Cached::Miss => return self.slow(request, request_id, route, start),
        };
        if let Err(rejection) = shared.admit(&cached, presented, &route, now) {
            return reject(&rejection, None);
        }
        let client = shared.client_ip(&request);
        // A tenant gate waits; a key in its grace period gets its notice on the response; a key
        // with credits spends them in the store: all on the slow path, so that other keys pay
        // these tests only.
        if shared.gate.is_some() || cached.grace.is_some() || cached.key.credits.is_some() {
            let start = Start::Admitted(Admitted {
                cached,
                check: None,
                client,
            });
            return self.slow(request, request_id, route, start);
        }
        let decision = match shared.rate_check(&cached, &route, client) {
            None => None,
            Some(Check::Ready(outcome)) => match shared.rate_outcome(&cached, outcome) {
                Ok(decision) => Some(decision),
                Err((rejection, decision)) => return reject(&rejection, decision.as_ref()),
            },
            // A remote limiter: wait for it on the slow path.
            Some(check) => {
                let start = Start::Admitted(Admitted {
                    cached,
                    check: Some(check),
                    client,
                });
                return self.slow(request, request_id, route, start);
            }
        };
        let post = shared.authenticated(&mut request, request_id, cached, decision, client, now);
        ResponseFuture::forward(self.inner.call(request.map(M::forward_request)), post)
    }
}

/// Writes a minted request id into the request (replacing malformed or repeated ones), so that
/// handlers and later layers see it.
#[inline]
fn pass_on_request_id<B>(request: &mut Request<B>, request_id: &HeaderValue, minted: bool) {
    if minted {
        request
            .headers_mut()
            .insert(request_id::X_REQUEST_ID, request_id.clone());
    }
}

impl<S, M> ApiKeyService<S, M> {
    fn slow<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
        request_id: HeaderValue,
        route: RouteClass,
        start: Start,
    ) -> ResponseFuture<S::Future, M, ResBody, S::Error>
    where
        M: MapRequestBody<ReqBody> + MapResponseBody<ResBody>,
        Inbound<M, ReqBody>: Send + 'static,
        Outbound<M, ResBody>: Send + 'static,
        S: Service<Request<Inbound<M, ReqBody>>, Response = Response<ResBody>> + Clone + Send + 'static,
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
        ResponseFuture::slow(Box::pin(finish::<S, M, ReqBody, ResBody>(
            shared, inner, request, request_id, route, start,
        )))
    }
}

async fn finish<S, M, ReqBody, ResBody>(
    shared: Arc<Shared>,
    inner: S,
    request: Request<ReqBody>,
    request_id: HeaderValue,
    route: RouteClass,
    start: Start,
) -> Result<Response<Outbound<M, ResBody>>, S::Error>
where
    M: MapRequestBody<ReqBody> + MapResponseBody<ResBody>,
    S: Service<Request<Inbound<M, ReqBody>>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes>,
    ReqBody::Error: Into<BoxError>,
{
    let reject = |rejection: &Rejection| Ok(shared.reject::<M, ResBody>(rejection, &request_id, None));
    let (presented, request) = match start {
        Start::Admitted(admitted) => {
            let request = request.map(M::forward_request);
            return authorized::<S, M, ReqBody, ResBody>(
                &shared, inner, request, request_id, &route, admitted,
            )
            .await;
        }
        Start::Presented(presented) => (presented, request.map(M::forward_request)),
        Start::Body => {
            let Some(field) = shared.credentials.body() else {
                return reject(&Rejection::MissingCredential);
            };
            let (parts, body) = request.into_parts();
            // A body declared larger than allowed (`Content-Length`) is refused before any of it
            // is read: a client that declares one and sends nothing more must not hold the request.
            if body.size_hint().lower() > u64::try_from(field.max_bytes).unwrap_or(u64::MAX) {
                return reject(&Rejection::PayloadTooLarge);
            }
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
                presented,
                Request::from_parts(parts, <M as MapRequestBody<ReqBody>>::from_bytes(bytes)),
            )
        }
    };
    let now = shared.verifier.manager().now();
    let cached = match shared.verifier.cached(&presented.lookup, now) {
        Cached::Known(cached) => cached,
        Cached::Unknown => return reject(&refusal(&VerifyError::Unknown, None)),
        Cached::Miss => match shared.verifier.load(presented.lookup).await {
            Ok(Some(cached)) => cached,
            Ok(None) => return reject(&refusal(&VerifyError::Unknown, None)),
            Err(error) => return reject(&refusal(&error, None)),
        },
    };
    if let Err(rejection) = shared.admit(&cached, &presented, &route, now) {
        return reject(&rejection);
    }
    let client = shared.client_ip(&request);
    let admitted = Admitted {
        cached,
        check: None,
        client,
    };
    authorized::<S, M, ReqBody, ResBody>(&shared, inner, request, request_id, &route, admitted).await
}

/// The rest of the path for an admitted key: the tenant gate, the rate limit (the check already
/// started, if any), then the inner service. Every response of a key in its grace period carries
/// its notice.
async fn authorized<S, M, ReqBody, ResBody>(
    shared: &Arc<Shared>,
    inner: S,
    request: Request<Inbound<M, ReqBody>>,
    request_id: HeaderValue,
    route: &RouteClass,
    admitted: Admitted,
) -> Result<Response<Outbound<M, ResBody>>, S::Error>
where
    M: MapRequestBody<ReqBody> + MapResponseBody<ResBody>,
    S: Service<Request<Inbound<M, ReqBody>>, Response = Response<ResBody>>,
{
    let grace = admitted.cached.grace.clone();
    let mut response =
        gated::<S, M, ReqBody, ResBody>(shared, inner, request, request_id, route, admitted).await?;
    if let Some(grace) = grace {
        grace.write(response.headers_mut(), shared.rotation_docs.as_ref());
    }
    Ok(response)
}

/// The tenant gate, the rate limit, the inner service.
async fn gated<S, M, ReqBody, ResBody>(
    shared: &Arc<Shared>,
    mut inner: S,
    mut request: Request<Inbound<M, ReqBody>>,
    request_id: HeaderValue,
    route: &RouteClass,
    Admitted {
        cached,
        check,
        client,
    }: Admitted,
) -> Result<Response<Outbound<M, ResBody>>, S::Error>
where
    M: MapRequestBody<ReqBody> + MapResponseBody<ResBody>,
    S: Service<Request<Inbound<M, ReqBody>>, Response = Response<ResBody>>,
{
    if let Err(rejection) = shared.gate(&cached).await {
        tracing::debug!(target: "keyward::rejection", reason = "tenant_gate", fingerprint = %cached.fingerprint, "request refused");
        return Ok(shared.reject::<M, ResBody>(&rejection, &request_id, None));
    }
    let decision = match check.or_else(|| shared.rate_check(&cached, route, client)) {
        None => None,
        Some(check) => match shared.rate_outcome(&cached, check.decide().await) {
            Ok(decision) => Some(decision),
            Err((rejection, decision)) => {
                return Ok(shared.reject::<M, ResBody>(&rejection, &request_id, decision.as_ref()));
            }
        },
    };
    let now = shared.verifier.manager().now();
    let store = &**shared.verifier.manager().store();
    let cost = u64::from(route.cost.get());
    let credits = match cached.key.credits {
        None => None,
        Some(_) => match credits::spend(&cached, store, cost, now).await {
            Ok(left) => left,
            Err(rejection) => {
                return Ok(shared.reject::<M, ResBody>(&rejection, &request_id, decision.as_ref()));
            }
        },
    };
    let credited = credits.is_some().then(|| cached.clone());
    let post = shared.authenticated(&mut request, request_id, cached, decision, client, now);
    let response = inner.call(request).await?;
    let mut response = post.finish::<M, ResBody>(response);
    if let (Some(mut left), Some(cached)) = (credits, credited) {
        // Only answers below 400 are charged.
        if response.status().as_u16() >= 400 {
            left = credits::refund(&cached, store, cost, left, now).await;
        }
        left.write(response.headers_mut(), now);
    }
    Ok(response)
}
