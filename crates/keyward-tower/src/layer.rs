//! [`ApiKeyLayer`] and its builder.

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, Uri};
use keyward_core::KeyManager;
use keyward_core::store::KeyListener;
use tower::Layer;

use crate::audit::{AuditConfig, AuditHandle};
use crate::bodies::{Plain, Wrapped};
use crate::client_ip::ClientIp;
use crate::metrics::Metrics;
use crate::policy::{RouteRules, TenantGate};
use crate::rate_limit::{InProcessLimiter, RateLimiter, RateLimits};
use crate::render::{JsonEnvelope, RenderRejection};
use crate::service::ApiKeyService;
use crate::shared::Shared;
use crate::verify::{CacheConfig, Verifier};
use crate::{CredentialSources, KillSwitch};

/// Authenticates API keys in front of a service: request ids, kill switch, public routes,
/// credentials, verification through a cache, key-kind rules, per-key rate limits, headers and
/// JSON errors. See the crate documentation for the request path.
///
/// Bodies are handed on as they are ([`Plain`], for axum's `Body`, `Full<Bytes>` and other bodies
/// built from `Bytes`); [`wrap_bodies`](Self::wrap_bodies) takes bodies of any type (see
/// [`bodies`](crate::bodies)).
///
/// Cheap to clone: one `Arc` of configuration.
pub struct ApiKeyLayer<M = Plain> {
    shared: Arc<Shared>,
    bodies: PhantomData<fn() -> M>,
}

impl<M> Clone for ApiKeyLayer<M> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            bodies: PhantomData,
        }
    }
}

impl<M> fmt::Debug for ApiKeyLayer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shared, f)
    }
}

impl<S, M> Layer<S> for ApiKeyLayer<M> {
    type Service = ApiKeyService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyService::new(inner, self.shared.clone())
    }
}

/// Why an [`ApiKeyLayer`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Usage and audit recording runs a background task: build the layer inside a tokio runtime,
    /// or switch recording off with [`ApiKeyLayerBuilder::no_audit`].
    #[error("build the ApiKeyLayer inside a tokio runtime (it starts a background task), or call no_audit()")]
    NoRuntime,
    /// A route cost of zero.
    #[error("a route cost must be at least 1 (route `{0}`)")]
    ZeroCost(String),
    /// A rotation documentation address that cannot be sent in a `Link` header.
    #[error("the rotation documentation `{0}` is not a URI reference that a Link header can carry")]
    RotationDocs(String),
    /// Budgets per client need to know the client: configure
    /// [`ApiKeyLayerBuilder::client_ip`] too.
    #[error(
        "rate_limit_per_client() needs client_ip(..): the layer must know how to find the client's address"
    )]
    PerClientWithoutClientIp,
}

impl ApiKeyLayer {
    /// A layer over `manager` (or a store: `ApiKeyLayer::new(store)`) with the defaults: Bearer
    /// and `X-API-Key`, 60 requests a minute per key in process, the JSON envelope, usage and audit
    /// recording.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (see [`ConfigError::NoRuntime`]); use [`builder`](Self::builder)
    /// to handle that as an error.
    pub fn new(manager: impl Into<KeyManager>) -> Self {
        Self::builder(manager)
            .build()
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Starts configuring a layer.
    pub fn builder(manager: impl Into<KeyManager>) -> ApiKeyLayerBuilder {
        ApiKeyLayerBuilder {
            manager: manager.into(),
            credentials: CredentialSources::default(),
            routes: RouteRules::default(),
            costs: Vec::new(),
            public_when: None,
            limits: RateLimits::default(),
            limiter: Limiter::InProcess,
            kill_switch: None,
            renderer: Box::new(JsonEnvelope::default()),
            gate: None,
            audit: Some(AuditConfig::default()),
            cache: CacheConfig::default(),
            client_ip: None,
            per_client: false,
            ietf_headers: false,
            rotation_docs: None,
        }
    }
}

impl<M> ApiKeyLayer<M> {
    /// The same layer for bodies of any type, such as hyper's `Incoming` request body: the inner
    /// service receives `Either<ReqBody, Full<Bytes>>` and responses are
    /// [`ResponseBody<ResBody>`](crate::ResponseBody).
    pub fn wrap_bodies(self) -> ApiKeyLayer<Wrapped> {
        ApiKeyLayer {
            shared: self.shared,
            bodies: PhantomData,
        }
    }

    /// The key manager.
    pub fn manager(&self) -> &KeyManager {
        self.shared.verifier.manager()
    }

    /// The kill switch, when one is configured.
    pub fn kill_switch(&self) -> Option<&KillSwitch> {
        self.shared.kill_switch.as_ref()
    }

    /// Where the layer reads keys from.
    pub fn credentials(&self) -> &CredentialSources {
        &self.shared.credentials
    }

    /// Whether requests are rate-limited (and answered with `X-RateLimit-*` headers).
    pub fn is_rate_limited(&self) -> bool {
        self.shared.limiter.is_some()
    }

    /// Whether `path` is declared public with [`ApiKeyLayerBuilder::public`] (requests for which
    /// a [`public_when`](ApiKeyLayerBuilder::public_when) predicate holds are not known here).
    pub fn is_public(&self, path: &str) -> bool {
        self.shared.routes.classify(path).public
    }

    /// The usage and audit recorder, when recording is on: flush it on shutdown.
    pub fn audit(&self) -> Option<&AuditHandle> {
        self.shared.audit.as_ref()
    }
}

enum Limiter {
    InProcess,
    Custom(Arc<dyn RateLimiter>),
    Off,
}

/// Configures an [`ApiKeyLayer`]; see [`ApiKeyLayer::builder`].
#[must_use]
pub struct ApiKeyLayerBuilder {
    manager: KeyManager,
    credentials: CredentialSources,
    routes: RouteRules,
    costs: Vec<(String, u32)>,
    public_when: Option<Box<crate::shared::PublicWhen>>,
    limits: RateLimits,
    limiter: Limiter,
    kill_switch: Option<KillSwitch>,
    renderer: Box<dyn RenderRejection>,
    gate: Option<Box<dyn TenantGate>>,
    audit: Option<AuditConfig>,
    cache: CacheConfig,
    client_ip: Option<ClientIp>,
    per_client: bool,
    ietf_headers: bool,
    rotation_docs: Option<String>,
}

impl fmt::Debug for ApiKeyLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayerBuilder")
            .field("credentials", &self.credentials)
            .field("routes", &self.routes)
            .field("limits", &self.limits)
            .field("client_ip", &self.client_ip)
            .field("per_client", &self.per_client)
            .finish_non_exhaustive()
    }
}

impl ApiKeyLayerBuilder {
    /// Where keys are read from.
    pub fn credentials(mut self, sources: CredentialSources) -> Self {
        self.credentials = sources;
        self
    }

    /// Paths matching `pattern` need no key (`/api/` and everything below; `{id}` or `*` match
    /// one segment).
    pub fn public(mut self, pattern: &str) -> Self {
        self.routes.public(pattern);
        self
    }

    /// Requests for which `predicate` is true need no key.
    pub fn public_when(
        mut self,
        predicate: impl Fn(&Method, &Uri, &HeaderMap) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.public_when = Some(Box::new(predicate));
        self
    }

    /// Requests to paths matching `pattern` cost `cost` units (the highest matching cost wins;
    /// others cost 1).
    pub fn route_cost(mut self, pattern: &str, cost: u32) -> Self {
        self.costs.push((pattern.to_owned(), cost));
        self
    }

    /// Publishable keys may call paths matching `pattern`; elsewhere they get 403.
    pub fn allow_publishable(mut self, pattern: &str) -> Self {
        self.routes.allow_publishable(pattern);
        self
    }

    /// Quotas per tier for the in-process limiter (default: 60 a minute for every tier).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// A limiter of your own (Redis, say) with the quotas it applies.
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>, limits: RateLimits) -> Self {
        self.limiter = Limiter::Custom(limiter);
        self.limits = limits;
        self
    }

    /// No rate limiting, and no rate-limit headers.
    pub fn no_rate_limit(mut self) -> Self {
        self.limiter = Limiter::Off;
        self
    }

    /// Also send the IETF `RateLimit` and `RateLimit-Policy` fields.
    pub fn ietf_headers(mut self, on: bool) -> Self {
        self.ietf_headers = on;
        self
    }

    /// A kill switch: while off, every request gets 503 `api_disabled`.
    pub fn kill_switch(mut self, switch: KillSwitch) -> Self {
        self.kill_switch = Some(switch);
        self
    }

    /// How rejections are rendered (default: [`JsonEnvelope`]).
    pub fn render_with(mut self, renderer: impl RenderRejection) -> Self {
        self.renderer = Box::new(renderer);
        self
    }

    /// An async check of each authenticated key's tenant.
    pub fn tenant_gate(mut self, gate: impl TenantGate) -> Self {
        self.gate = Some(Box::new(gate));
        self
    }

    /// How usage and audit records are batched.
    pub fn audit(mut self, config: AuditConfig) -> Self {
        self.audit = Some(config);
        self
    }

    /// No usage or audit recording.
    pub fn no_audit(mut self) -> Self {
        self.audit = None;
        self
    }

    /// Cache sizes and lifetimes.
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache = config;
        self
    }

    /// How to find the client's address: the socket's peer, looked through trusted proxies (see
    /// [`ClientIp`]). It goes into audit records and [`VerifiedKey::client_ip`](crate::VerifiedKey::client_ip),
    /// and [`rate_limit_per_client`](Self::rate_limit_per_client) counts by it. Without it, no
    /// address is known. Resolving it is one extension lookup, and with trusted proxies a walk
    /// over the forwarding header's text: no allocation.
    pub fn client_ip(mut self, resolver: ClientIp) -> Self {
        self.client_ip = Some(resolver);
        self
    }

    /// Rate limits per key lineage and client, rather than per key lineage: each client address
    /// (an IPv4 address, or an IPv6 address's /64 network; see
    /// [`RateKey`](crate::rate_limit::RateKey)) of a key spends from a budget of its own, of the
    /// key's tier's quota, in the in-process limiter and in Redis alike. Route costs and the
    /// `X-RateLimit-*` headers work as they do per key, and report the client's budget. A request
    /// whose address is unknown (no peer address in the request) spends from the key's own
    /// budget.
    ///
    /// Needs [`client_ip`](Self::client_ip): [`build`](Self::build) refuses it alone with
    /// [`ConfigError::PerClientWithoutClientIp`].
    ///
    /// ```
    /// use keyward_core::{KeyManager, MemoryStore};
    /// use keyward_tower::client_ip::ClientIp;
    /// use keyward_tower::{ApiKeyLayer, ConfigError};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = KeyManager::new(MemoryStore::new());
    /// let layer = ApiKeyLayer::builder(manager.clone())
    ///     .client_ip(ClientIp::socket())
    ///     .rate_limit_per_client()
    ///     .build();
    /// assert!(layer.is_ok());
    /// let alone = ApiKeyLayer::builder(manager).rate_limit_per_client().build();
    /// assert_eq!(alone.err(), Some(ConfigError::PerClientWithoutClientIp));
    /// # });
    /// ```
    pub fn rate_limit_per_client(mut self) -> Self {
        self.per_client = true;
        self
    }

    /// Where clients read about key rotation: responses to a key in its rotation grace period
    /// then carry `Link: <uri>; rel="sunset"` (RFC 8594) beside their `Deprecation` and `Sunset`
    /// headers (see [`grace`](crate::grace)). Without it, they carry those two alone.
    ///
    /// ```
    /// use keyward_core::{KeyManager, MemoryStore};
    /// use keyward_tower::{ApiKeyLayer, ConfigError};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = KeyManager::new(MemoryStore::new());
    /// let layer = ApiKeyLayer::builder(manager.clone())
    ///     .rotation_docs("https://docs.example.com/keys#rotation")
    ///     .build();
    /// assert!(layer.is_ok());
    /// let spaced = ApiKeyLayer::builder(manager).rotation_docs("https://docs.example.com/key rotation").build();
    /// assert!(matches!(spaced, Err(ConfigError::RotationDocs(_))));
    /// # });
    /// ```
    pub fn rotation_docs(mut self, uri: impl Into<String>) -> Self {
        self.rotation_docs = Some(uri.into());
        self
    }

    /// Builds the layer, subscribes its cache to the store's changes, and starts the background
    /// tasks (usage/audit writer, limiter housekeeping).
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoRuntime`] when recording is on and no tokio runtime is running;
    /// [`ConfigError::ZeroCost`] for a route cost of zero; [`ConfigError::RotationDocs`] for a
    /// rotation documentation address with a space, a control or non-ASCII character, `<`, `>` or
    /// `"`; [`ConfigError::PerClientWithoutClientIp`] for per-client budgets without a way to
    /// find the client.
    pub fn build(mut self) -> Result<ApiKeyLayer, ConfigError> {
        if self.per_client && self.client_ip.is_none() {
            return Err(ConfigError::PerClientWithoutClientIp);
        }
        let rotation_docs = match self.rotation_docs {
            None => None,
            Some(uri) => Some(crate::grace::docs_link(&uri).ok_or(ConfigError::RotationDocs(uri))?),
        };
        for (pattern, cost) in &self.costs {
            let cost = NonZeroU32::new(*cost).ok_or_else(|| ConfigError::ZeroCost(pattern.clone()))?;
            self.routes.cost(pattern, cost);
        }
        let runtime = tokio::runtime::Handle::try_current().ok();
        let limiter: Option<Arc<dyn RateLimiter>> = match self.limiter {
            Limiter::Off => None,
            Limiter::Custom(limiter) => Some(limiter),
            Limiter::InProcess => {
                let limiter = Arc::new(InProcessLimiter::new(&self.limits));
                if let Some(runtime) = &runtime {
                    runtime.spawn(housekeeping(Arc::downgrade(&limiter)));
                }
                Some(limiter)
            }
        };
        let audit = match self.audit {
            None => None,
            Some(config) => {
                if runtime.is_none() {
                    return Err(ConfigError::NoRuntime);
                }
                Some(AuditHandle::spawn(self.manager.clone(), config))
            }
        };
        let metrics = Metrics::new(self.manager.keyspace());
        let verifier = Arc::new(Verifier::new(self.manager, self.limits, self.cache));
        let listener: Arc<dyn KeyListener> = verifier.clone();
        verifier.manager().store().changes().subscribe(&listener);
        Ok(ApiKeyLayer {
            bodies: PhantomData,
            shared: Arc::new(Shared {
                verifier,
                credentials: self.credentials,
                routes: self.routes,
                public_when: self.public_when,
                limiter,
                kill_switch: self.kill_switch,
                renderer: self.renderer,
                gate: self.gate,
                audit,
                client_ip: self.client_ip,
                per_client: self.per_client,
                ietf_headers: self.ietf_headers,
                rotation_docs,
                metrics,
            }),
        })
    }
}

/// Forgets spent-and-refilled budgets every minute while the limiter lives.
async fn housekeeping(limiter: std::sync::Weak<InProcessLimiter>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    loop {
        tick.tick().await;
        match limiter.upgrade() {
            Some(limiter) => limiter.retain_recent(),
            None => return,
        }
    }
}
