//! The layer's shared state and the steps of the request path, used by the fast (synchronous)
//! path of the service and by its asynchronous slow path alike.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use keyward_core::time::Timestamp;
use keyward_core::{KeyId, Presented, VerifyError};

use crate::audit::AuditHandle;
use crate::audit_record::{Details, Record};
use crate::bodies::MapResponseBody;
use crate::client_ip::ClientIp;
use crate::metrics::Metrics;
use crate::policy::{RouteClass, RouteRules, TenantGate};
use crate::rate_limit::{Check, RateDecision, RateKey, RateLimitError, RateLimiter};
use crate::render::{RenderRejection, rejection_response};
use crate::verify::{CachedKey, Verifier};
use crate::{CredentialSources, KillSwitch, Rejection, VerifiedKey, headers};
use crate::{envelope, extensions};

/// A predicate that makes a request public (no key needed).
pub(crate) type PublicWhen = dyn Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync;

pub(crate) struct Shared {
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) credentials: CredentialSources,
    pub(crate) routes: RouteRules,
    pub(crate) public_when: Option<Box<PublicWhen>>,
    pub(crate) limiter: Option<Arc<dyn RateLimiter>>,
    pub(crate) kill_switch: Option<KillSwitch>,
    pub(crate) renderer: Box<dyn RenderRejection>,
    pub(crate) gate: Option<Box<dyn TenantGate>>,
    pub(crate) audit: Option<AuditHandle>,
    pub(crate) client_ip: Option<ClientIp>,
    /// Budgets per key lineage and client network, rather than per lineage.
    pub(crate) per_client: bool,
    pub(crate) ietf_headers: bool,
    /// The `Link` to the rotation documentation sent with a key in its grace period.
    pub(crate) rotation_docs: Option<HeaderValue>,
    /// The request and rejection counters (nothing without the `metrics` feature).
    pub(crate) metrics: Metrics,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayer")
            .field("verifier", &self.verifier)
            .field("credentials", &self.credentials)
            .field("routes", &self.routes)
            .field("limiter", &self.limiter)
            .field("kill_switch", &self.kill_switch)
            .field("tenant_gate", &self.gate.is_some())
            .field("audit", &self.audit.is_some())
            .field("client_ip", &self.client_ip)
            .field("per_client", &self.per_client)
            .field("rotation_docs", &self.rotation_docs)
            .finish_non_exhaustive()
    }
}

/// What the response path needs to finish an authenticated request.
pub(crate) struct Post {
    pub(crate) request_id: HeaderValue,
    pub(crate) decision: Option<RateDecision>,
    pub(crate) ietf: bool,
    pub(crate) audit: Option<(Arc<Shared>, Record)>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last layer and service are gone: let the writer write what is pending and stop.
        if let Some(audit) = &self.audit {
            audit.wake();
        }
    }
}

impl Shared {
    pub(crate) fn is_public<B>(&self, request: &Request<B>, route: &RouteClass) -> bool {
        route.public
            || self
                .public_when
                .as_ref()
                .is_some_and(|p| p(request.method(), request.uri(), request.headers()))
    }

    /// Whether an incoming, well-formed request id may be kept: not when it is a token of the
    /// keyspace's format (a client that put its key in `X-Request-Id` must not have it echoed on
    /// the response, nor written to the audit log as a request id).
    #[inline]
    pub(crate) fn keeps_request_id(&self, id: &HeaderValue) -> bool {
        id.to_str()
            .is_ok_and(|id| self.verifier.manager().format().parse(id).is_err())
    }

    /// Parses and hashes a token. Malformed tokens are refused here, before any lookup.
    #[inline]
    pub(crate) fn present(&self, token: &str) -> Result<Presented, Rejection> {
        self.verifier.manager().present(token).map_err(|error| {
            tracing::debug!(target: "keyward::rejection", reason = "malformed", %error, "API key refused");
            Rejection::InvalidToken
        })
    }

    /// Checks the key against the presented hash and its status, then the route's kind rule.
    #[inline]
    pub(crate) fn admit(
        &self,
        cached: &CachedKey,
        presented: &Presented,
        route: &RouteClass,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        if let Err(error) = cached.key.check(&presented.hash, now) {
            return Err(refusal(&error, Some(cached)));
        }
        if !cached.key.kind.is_secret() && !route.publishable {
            tracing::debug!(target: "keyward::rejection", reason = "publishable_key", fingerprint = %cached.fingerprint, "API key refused on a secret-only route");
            return Err(Rejection::SecretKeyRequired);
        }
        Ok(())
    }

    /// The tenant gate, when one is configured.
    pub(crate) async fn gate(&self, cached: &CachedKey) -> Result<(), Rejection> {
        match &self.gate {
            Some(gate) => gate.check(&cached.key).await,
            None => Ok(()),
        }
    }

    /// The client's address, when the layer is told how to find it.
    #[inline]
    pub(crate) fn client_ip<B>(&self, request: &Request<B>) -> Option<IpAddr> {
        self.client_ip
            .as_ref()
            .and_then(|resolver| resolver.resolve(request.extensions(), request.headers()))
    }

    /// The budget a request of `lineage` from `client` spends: the client's when budgets are per
    /// client and the client is known, else the lineage's.
    #[inline]
    pub(crate) fn rate_key<'a>(&self, lineage: &'a KeyId, client: Option<IpAddr>) -> RateKey<'a> {
        match client {
            Some(client) if self.per_client => RateKey::per_client(lineage, client),
            _ => RateKey::per_key(lineage),
        }
    }

    #[inline]
    pub(crate) fn rate_check(
        &self,
        cached: &CachedKey,
        route: &RouteClass,
        client: Option<IpAddr>,
    ) -> Option<Check> {
        self.limiter.as_ref().map(|limiter| {
            limiter.check(
                self.rate_key(&cached.key.lineage, client),
                cached.quota,
                route.cost,
            )
        })
    }

    /// Turns a limiter's answer into a decision to go on, or a rejection (with the decision, for
    /// its headers).
    #[inline]
    pub(crate) fn rate_outcome(
        &self,
        cached: &CachedKey,
        outcome: Result<RateDecision, RateLimitError>,
    ) -> Result<RateDecision, (Rejection, Option<RateDecision>)> {
        match outcome {
            Ok(decision) if decision.allowed => Ok(decision),
            Ok(decision) => {
                tracing::debug!(target: "keyward::rejection", reason = "rate_limited", fingerprint = %cached.fingerprint, "request refused");
                Err((
                    Rejection::RateLimited {
                        retry_after: decision.retry_after,
                    },
                    Some(decision),
                ))
            }
            Err(error) => {
                tracing::warn!(target: "keyward::rejection", %error, "rate limiter unavailable");
                Err((Rejection::RateLimiterUnavailable, None))
            }
        }
    }

    /// Hands an authenticated request on: puts its [`VerifiedKey`] into the request's extensions
    /// and returns what the response path needs (the audit record only when audit is on).
    pub(crate) fn authenticated<B>(
        self: &Arc<Self>,
        request: &mut Request<B>,
        request_id: HeaderValue,
        cached: Arc<CachedKey>,
        decision: Option<RateDecision>,
        client_ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Post {
        let audit = self.audit.as_ref().map(|audit| {
            let details = audit.wants_details().then(|| Details {
                method: request.method(),
                uri: request.uri(),
                headers: request.headers(),
                client_ip,
            });
            let record = Record::new(cached.clone(), now, &request_id, details);
            (self.clone(), record)
        });
        extensions::insert_with_room(
            request.extensions_mut(),
            VerifiedKey {
                cached,
                decision,
                client_ip,
                request_id: request_id.clone(),
                shared: self.clone(),
            },
        );
        Post {
            request_id,
            decision,
            ietf: self.ietf_headers,
            audit,
        }
    }

    /// The response for a rejection, in the body type `M` makes of responses with body `B`.
    pub(crate) fn reject<M: MapResponseBody<B>, B>(
        &self,
        rejection: &Rejection,
        request_id: &HeaderValue,
        decision: Option<&RateDecision>,
    ) -> Response<M::Body> {
        self.metrics.rejection(rejection);
        rejection_response(
            &*self.renderer,
            rejection,
            request_id,
            decision,
            self.ietf_headers,
        )
        .map(M::rejection)
    }
}

impl Post {
    /// For a request that needs no key: the request id only.
    pub(crate) fn bare(request_id: HeaderValue) -> Self {
        Self {
            request_id,
            decision: None,
            ietf: false,
            audit: None,
        }
    }

    /// Adds the headers to an inner response (an application error in keyward's envelope names
    /// the request's id, see [`envelope`](crate::envelope)) and hands the audit record over.
    pub(crate) fn finish<M: MapResponseBody<B>, B>(self, response: Response<B>) -> Response<M::Body> {
        let mut response = envelope::complete::<M, B>(response, &self.request_id);
        // A route guard that spent more of the budget (a route cost) hands over the newer figures.
        let decision = response
            .extensions()
            .get::<RateDecision>()
            .copied()
            .or(self.decision);
        let headers = response.headers_mut();
        headers.reserve(4);
        headers::request_id(headers, self.request_id);
        if let Some(decision) = &decision {
            headers::rate_limit(headers, decision, self.ietf);
        }
        if let Some((shared, mut record)) = self.audit
            && let Some(audit) = &shared.audit
        {
            record.status = response.status().as_u16();
            audit.record(record);
        }
        response
    }
}

/// The one log line and the one client answer for every failed verification.
pub(crate) fn refusal(error: &VerifyError, cached: Option<&CachedKey>) -> Rejection {
    match error {
        VerifyError::Unavailable(source) => {
            tracing::warn!(target: "keyward::rejection", reason = error.reason(), error = %source, "key store unavailable");
            Rejection::StoreUnavailable
        }
        _ => {
            match cached {
                Some(cached) => {
                    tracing::debug!(target: "keyward::rejection", reason = error.reason(), fingerprint = %cached.fingerprint, "API key refused")
                }
                None => {
                    tracing::debug!(target: "keyward::rejection", reason = error.reason(), "API key refused")
                }
            }
            Rejection::InvalidToken
        }
    }
}
