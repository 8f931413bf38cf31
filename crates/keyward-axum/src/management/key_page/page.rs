//! [`KeyPage`]: the key page's configuration and its router.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::HeaderValue;
use keyward_core::{KeyManager, Tier};

use super::assets::content_security_policy;
use super::csrf::CsrfKey;
use super::handlers;
use super::user::ResolveUser;
use crate::management::ManagementApi;

/// The key page over `manager`, for the users `resolver` finds, with the defaults; see
/// [`KeyPage`].
pub fn page<S>(manager: KeyManager, resolver: impl ResolveUser) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    KeyPage::new(manager, resolver).router()
}

/// The self-serve key page: a dashboard page where a signed-in user creates a named key (shown
/// once, in a dialog with a copy button), sees each key's prefix, scopes, status and
/// `lastUsedAt`, rotates and revokes keys, and reads the delivery log.
///
/// The page is HTML rendered by the server with a little inline JavaScript (no build step, no
/// external resource). It is not for API keys: the host app mounts it behind its own session
/// authentication, away from [`ApiKeyLayer`](keyward_tower::ApiKeyLayer) (or declares its path
/// public on the layer), and a [`ResolveUser`] says which tenant the signed-in user manages. It
/// acts through the same code as the [JSON management API](super::super::ManagementApi), with
/// the same rules and answers.
///
/// | Route (under where it is nested) | Does |
/// |---|---|
/// | `GET /` | the page; `?key=ID&path=P&since=T&until=T&limit=N` filter its delivery log as [`GET /audit`](super::super) does |
/// | `POST /keys` | creates a key: 201 `{"token", "key"}`, the body of the JSON API's `POST /` |
/// | `POST /keys/{id}/rotate` | rotates a key: 201 `{"token", "key"}` |
/// | `POST /keys/{id}/revoke` | revokes a key at once: 200 `key` |
///
/// # Security
///
/// - **Sign-in.** With no user, `GET /` answers 401 with a short HTML page, or 303 to
///   [`login_redirect`](Self::login_redirect); the changes answer 401 `unauthorized` in the
///   JSON envelope.
/// - **CSRF.** Every change must carry the session's token in `X-CSRF-Token`
///   ([`CSRF_HEADER`](super::CSRF_HEADER)): an HMAC-SHA256, under the page's secret, of the
///   tenant and the session [`PageUser::new`](super::PageUser::new) names, compared in constant
///   time. `Sec-Fetch-Site`, when sent, must be `same-origin`, and `Origin`, when sent, the
///   page's own (the scheme and `Host`, or one of [`allowed_origin`](Self::allowed_origin)).
///   Any of these missing or wrong answers 403 `csrf_failed` in the JSON envelope, before the
///   body is read. The host's session cookie should be `SameSite=Lax` (or `Strict`) and
///   `HttpOnly` too.
/// - **The secret once.** The token is in the answer to create or rotate only (with
///   `Cache-Control: no-store`), shown in the dialog and dropped when it closes; the page, which
///   is `no-store` too, is rendered from the store, which never holds it, and it is never in a
///   URL or a log.
/// - **Escaping and CSP.** Everything user-given is HTML-escaped: key names, scopes, and the
///   delivery log's paths and user agents, which API clients choose. The page is sent with a
///   `Content-Security-Policy` that allows its own inline script and style by their SHA-256
///   hashes and nothing else, `fetch` and forms to its own origin only, and no framing
///   (`frame-ancestors 'none'`, `X-Frame-Options: DENY`).
/// - **Bounds.** A user hands out what [`PageUser`](super::PageUser) allows: its tier (or the
///   keyspace's default) and its grantable scopes (every scope unless restricted), within the
///   keyspace's policy. Another tenant's key id is answered as an unknown one, 404 `not_found`.
///
/// # Example
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode, request::Parts};
/// use keyward_axum::management::{KeyPage, PageUser};
/// use keyward_core::{KeyManager, MemoryStore, TenantId};
/// use keyward_tower::ApiKeyLayer;
/// use tower::ServiceExt;
///
/// /// What the app's own session middleware leaves in the request.
/// #[derive(Clone)]
/// struct Session { id: String, site: TenantId }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = KeyManager::new(MemoryStore::new());
/// let page = KeyPage::new(manager.clone(), |parts: &Parts| {
///     let session = parts.extensions.get::<Session>()?;
///     Some(PageUser::new(session.site.clone(), session.id.clone()))
/// })
/// .csrf_secret([7; 32]) // shared by every instance, from the app's secrets
/// .router();
/// let app = Router::new()
///     .route("/v1/hello", get(|| async { "hi" }).layer(ApiKeyLayer::new(manager.clone())))
///     .nest("/settings/api-keys", page); // behind the app's session layer
///
/// let session = Session { id: "s_1".into(), site: TenantId::new("site_1")? };
/// let request = Request::get("/settings/api-keys").extension(session).body(Body::empty())?;
/// let response = app.clone().oneshot(request).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["cache-control"], "no-store");
///
/// // Nobody signed in.
/// let response = app.oneshot(Request::get("/settings/api-keys").body(Body::empty())?).await?;
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use]
pub struct KeyPage {
    api: ManagementApi,
    resolver: Arc<dyn ResolveUser>,
    csrf: CsrfKey,
    origins: Vec<HeaderValue>,
    login: Option<HeaderValue>,
}

impl fmt::Debug for KeyPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPage")
            .field("api", &self.api)
            .field("csrf", &self.csrf)
            .field("origins", &self.origins)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl KeyPage {
    /// The page over `manager` for the users `resolver` finds, with a CSRF secret drawn at
    /// random (tokens then last as long as the process: set [`csrf_secret`](Self::csrf_secret)
    /// when several instances serve the page).
    ///
    /// # Panics
    ///
    /// When the OS random number generator fails, as key minting would.
    pub fn new(manager: KeyManager, resolver: impl ResolveUser) -> Self {
        Self {
            api: ManagementApi::new(manager),
            resolver: Arc::new(resolver),
            csrf: CsrfKey::random(),
            origins: Vec::new(),
            login: None,
        }
    }

    /// The secret the CSRF tokens are signed with: the same on every instance behind one
    /// origin, kept with the app's other secrets.
    pub fn csrf_secret(mut self, secret: [u8; 32]) -> Self {
        self.csrf = CsrfKey::new(secret);
        self
    }

    /// An origin (`https://app.example.com`) changes may come from. When none is given, a
    /// change's `Origin` must be its own `Host` over `http` or `https`; give the public origin
    /// when a proxy rewrites `Host`.
    pub fn allowed_origin(mut self, origin: HeaderValue) -> Self {
        self.origins.push(origin);
        self
    }

    /// Where `GET /` sends a visitor nobody has signed in (303 See Other), rather than a 401.
    pub fn login_redirect(mut self, location: HeaderValue) -> Self {
        self.login = Some(location);
        self
    }

    /// Users may also create and rotate keys of `tier`, beside their own.
    pub fn assignable_tier(mut self, tier: Tier) -> Self {
        self.api = self.api.assignable_tier(tier);
        self
    }

    /// The router, to nest where the page lives, behind the app's session authentication.
    pub fn router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let shared = Shared {
            api: self.api,
            resolver: self.resolver,
            csrf: self.csrf,
            origins: self.origins,
            login: self.login,
            csp: content_security_policy(),
        };
        Router::new()
            .route("/", get(handlers::show))
            .route("/keys", post(handlers::create))
            .route("/keys/{id}/rotate", post(handlers::rotate))
            .route("/keys/{id}/revoke", post(handlers::revoke))
            .fallback(handlers::fallback)
            .with_state(PageState(Arc::new(shared)))
    }
}

/// What the handlers share.
pub(super) struct Shared {
    pub(super) api: ManagementApi,
    pub(super) resolver: Arc<dyn ResolveUser>,
    pub(super) csrf: CsrfKey,
    pub(super) origins: Vec<HeaderValue>,
    pub(super) login: Option<HeaderValue>,
    pub(super) csp: HeaderValue,
}

/// The handlers' state.
#[derive(Clone)]
pub(super) struct PageState(pub(super) Arc<Shared>);
