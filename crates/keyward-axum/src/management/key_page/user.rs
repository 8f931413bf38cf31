//! [`PageUser`]: who the host app says is signed in, and [`ResolveUser`], how it says so.

use std::fmt;

use http::request::Parts;
use keyward_core::{ScopeSet, TenantId, Tier};

/// The signed-in user of the key page, as the host app's session says: the tenant whose keys
/// the user manages, and the session the page's CSRF token is bound to.
///
/// ```
/// use keyward_axum::management::PageUser;
/// use keyward_core::{TenantId, Tier};
///
/// let user = PageUser::new(TenantId::new("site_1")?, "the session id")
///     .label("user_42")
///     .tier(Tier::new("pro")?)
///     .grantable_scopes("analytics:read campaigns:read".parse()?);
/// assert_eq!(user.tenant().as_str(), "site_1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PageUser {
    pub(super) tenant: TenantId,
    pub(super) session: String,
    pub(super) label: String,
    pub(super) tier: Option<Tier>,
    pub(super) scopes: ScopeSet,
}

impl PageUser {
    /// A user managing `tenant`'s keys in the session `session`: a value that names the
    /// signed-in session and no other (its id, or a secret it holds). The page's CSRF token is an
    /// HMAC of it and the tenant, so that one session's token is refused in another.
    /// The value is never shown, logged or sent.
    pub fn new(tenant: TenantId, session: impl Into<String>) -> Self {
        Self {
            tenant,
            session: session.into(),
            label: "page".to_owned(),
            tier: None,
            scopes: ScopeSet::unrestricted(),
        }
    }

    /// The name the page's changes are logged under (`actor`, target `keyward::management`),
    /// such as the user's id; `page` by default. Never put a secret here.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// The tier of the keys the user creates (the tenant's plan, say); by default the keyspace's
    /// default tier. Keys of other tiers cannot be created or rotated from the page unless the
    /// page makes them assignable ([`KeyPage::assignable_tier`](super::KeyPage::assignable_tier)).
    #[must_use]
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// The scopes the user may grant (every scope, `*`, by default; the keyspace's allowed scopes
    /// apply in any case). A key with other scopes is refused with 403 `insufficient_scope`, and
    /// so is rotating one.
    #[must_use]
    pub fn grantable_scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = scopes;
        self
    }

    /// The tenant whose keys the user manages.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}

impl fmt::Debug for PageUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageUser")
            .field("tenant", &self.tenant)
            .field("session", &"<redacted>")
            .field("label", &self.label)
            .field("tier", &self.tier)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Finds the signed-in user of a request to the key page, or `None` when nobody is signed in
/// (the page then answers 401, or redirects to [`KeyPage::login_redirect`](super::KeyPage::login_redirect)).
///
/// The host app's own session middleware runs first and leaves what it found in the request's
/// extensions; the resolver reads them. Closures `Fn(&Parts) -> Option<PageUser>` are resolvers.
///
/// ```
/// use http::request::Parts;
/// use keyward_axum::management::{PageUser, ResolveUser};
/// use keyward_core::TenantId;
///
/// /// What the host's session middleware inserts.
/// #[derive(Clone)]
/// struct Session { id: String, site: TenantId }
///
/// fn resolver() -> impl ResolveUser {
///     |parts: &Parts| {
///         let session = parts.extensions.get::<Session>()?;
///         Some(PageUser::new(session.site.clone(), session.id.clone()))
///     }
/// }
/// # let _ = resolver();
/// ```
pub trait ResolveUser: Send + Sync + 'static {
    /// The user signed in for this request, if any.
    fn resolve(&self, request: &Parts) -> Option<PageUser>;
}

impl<F> ResolveUser for F
where
    F: Fn(&Parts) -> Option<PageUser> + Send + Sync + 'static,
{
    fn resolve(&self, request: &Parts) -> Option<PageUser> {
        self(request)
    }
}
