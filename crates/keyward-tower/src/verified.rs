//! [`VerifiedKey`]: what the layer puts into request extensions for handlers and extractors.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Response};
use http_body_util::Full;
use keyward_core::ApiKey;
use keyward_core::hash::Fingerprint;

use crate::Rejection;
use crate::rate_limit::{Check, RateDecision};
use crate::render::render;
use crate::shared::Shared;
use crate::verify::CachedKey;

/// The key that authenticated this request, with its rate-limit state and request id.
///
/// Read it with `request.extensions().get::<VerifiedKey>()` (or keyward-axum's `AuthedKey`).
/// Cloning is cheap. `Debug` shows the key id, tenant and fingerprint only.
#[derive(Clone)]
pub struct VerifiedKey {
    pub(crate) cached: Arc<CachedKey>,
    pub(crate) decision: Option<RateDecision>,
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) request_id: HeaderValue,
    pub(crate) shared: Arc<Shared>,
}

impl VerifiedKey {
    /// The key's record (never its secret).
    pub fn key(&self) -> &ApiKey {
        &self.cached.key
    }

    /// The key's fingerprint, for logs.
    pub fn fingerprint(&self) -> Fingerprint {
        self.cached.fingerprint
    }

    /// The rate-limit decision of this request, when rate limiting is on.
    pub fn rate_limit(&self) -> Option<&RateDecision> {
        self.decision.as_ref()
    }

    /// The client's address, as the layer's [`ClientIp`](crate::client_ip::ClientIp) found it
    /// (`None` when none is configured, or the peer address is unknown).
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }

    /// The request id as the header value the layer sends in `X-Request-Id`.
    pub fn request_id_value(&self) -> &HeaderValue {
        &self.request_id
    }

    /// A response for `rejection`, rendered as the layer renders its own.
    pub fn reject(&self, rejection: &Rejection) -> Response<Full<Bytes>> {
        self.shared.metrics.rejection(rejection);
        render(
            &*self.shared.renderer,
            rejection,
            &self.request_id,
            self.decision.as_ref(),
            self.shared.ietf_headers,
        )
    }

    /// Spends `extra` more units of the budget this request spent from (a route that costs more
    /// than the layer charged); `None` when rate limiting is off.
    pub fn charge(&self, extra: NonZeroU32) -> Option<Check> {
        let limiter = self.shared.limiter.as_ref()?;
        let key = self.shared.rate_key(&self.cached.key.lineage, self.client_ip);
        Some(limiter.check(key, self.cached.quota, extra))
    }
}

impl fmt::Debug for VerifiedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedKey")
            .field("key_id", &self.cached.key.id)
            .field("tenant", &self.cached.key.tenant)
            .field("fingerprint", &self.cached.fingerprint)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}
