//! [`AuthedKey`]: the key that [`ApiKeyLayer`](keyward_tower::ApiKeyLayer) verified, as the
//! application's types, with the route's scopes checked.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use http::request::Parts;
use keyward_core::{ApiKey, KeyId, TenantId};
use keyward_tower::{Rejection, VerifiedKey};

use super::{FromTenant, FromTier};
use crate::rejection::{KeyRejection, insufficient_scope, verified_key};
use crate::scope::ScopeList;

/// The key that [`ApiKeyLayer`](keyward_tower::ApiKeyLayer) verified for this request, its tenant
/// and tier converted into the application's types, the scopes of `Scopes` checked.
///
/// - `Tenant`: made from the key's tenant id by [`FromTenant`] (any `FromStr` type: `SiteId`);
///   default [`TenantId`].
/// - `Scopes`: a [`ScopeList`]: `()` (default: any valid key), one scope type, or a tuple of up
///   to eight. A key without all of them is refused with 403 `insufficient_scope`, naming the
///   missing scopes. [`AnyOf`](crate::AnyOf) a tuple needs one of them (and names them all when
///   none is granted).
/// - `Tier`: made from the key's tier name by [`FromTier`] (a `Plan` enum); default
///   [`keyward_core::Tier`].
///
/// A tenant or tier that does not convert is a server configuration problem: 500
/// `internal_error`, logged at error level. So is a route that is not behind the layer (or is
/// declared public on it): the extractor never panics, it answers 500 and logs why.
///
/// ```
/// use axum::{Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use keyward_axum::{AuthedKey, scope};
/// use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
/// use keyward_tower::ApiKeyLayer;
/// use tower::ServiceExt;
///
/// scope!(pub AnalyticsRead = "analytics:read");
/// scope!(pub CustomersRead = "customers:read");
///
/// async fn overview(key: AuthedKey<TenantId, AnalyticsRead>) -> String {
///     format!("overview of {}", key.tenant)
/// }
///
/// async fn customers(key: AuthedKey<TenantId, (AnalyticsRead, CustomersRead)>) -> String {
///     format!("customers of {}", key.tenant)
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = KeyManager::new(MemoryStore::new());
/// let app = Router::new()
///     .route("/v1/overview", get(overview))
///     .route("/v1/customers", get(customers))
///     .layer(ApiKeyLayer::new(manager.clone()));
///
/// let created = manager
///     .create(NewKey::new(TenantId::new("site_1")?).scopes("analytics:read".parse()?))
///     .await?;
/// let get = |path: &str| {
///     Request::get(path)
///         .header("authorization", format!("Bearer {}", created.token.expose()))
///         .body(Body::empty())
/// };
/// assert_eq!(app.clone().oneshot(get("/v1/overview")?).await?.status(), StatusCode::OK);
/// assert_eq!(app.oneshot(get("/v1/customers")?).await?.status(), StatusCode::FORBIDDEN);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct AuthedKey<Tenant = TenantId, Scopes = (), Tier = keyward_core::Tier> {
    /// The key's tenant.
    pub tenant: Tenant,
    /// The key's tier.
    pub tier: Tier,
    key: VerifiedKey,
    scopes: PhantomData<fn() -> Scopes>,
}

impl<Tenant, Scopes, Tier> AuthedKey<Tenant, Scopes, Tier> {
    /// The key's record (never its secret).
    pub fn key(&self) -> &ApiKey {
        self.key.key()
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.key.key().id
    }

    /// What the layer put into the request: the key, its rate-limit state, the request id.
    pub fn verified(&self) -> &VerifiedKey {
        &self.key
    }

    /// The request's id (`X-Request-Id`).
    pub fn request_id(&self) -> &str {
        self.key.request_id()
    }

    /// A refusal of this request, rendered as the layer renders its own (return it from a
    /// handler: it is a response).
    pub fn reject(&self, rejection: Rejection) -> KeyRejection {
        KeyRejection::refused(self.key.clone(), rejection)
    }

    /// The verified key, dropping the conversions.
    pub fn into_verified(self) -> VerifiedKey {
        self.key
    }
}

impl<Tenant, Scopes, Tier> AuthedKey<Tenant, Scopes, Tier>
where
    Tenant: FromTenant,
    Scopes: ScopeList,
    Tier: FromTier,
{
    /// Checks the scopes and converts the tenant and tier of a verified key.
    ///
    /// # Errors
    ///
    /// A [`KeyRejection`]: 403 `insufficient_scope` naming the missing scopes, or 500
    /// `internal_error` when the tenant or tier does not convert (logged at error level).
    pub fn from_verified(key: VerifiedKey) -> Result<Self, KeyRejection> {
        let record = key.key();
        let missing = Scopes::missing(&record.scopes);
        if !missing.is_empty() {
            let rejection = insufficient_scope(&key, missing.into_iter().map(str::to_owned).collect());
            return Err(KeyRejection::refused(key, rejection));
        }
        let tenant = match Tenant::from_tenant(&record.tenant) {
            Ok(tenant) => tenant,
            Err(error) => {
                tracing::error!(
                    target: "keyward::config",
                    key_id = %record.id,
                    tenant = %record.tenant,
                    into = type_name::<Tenant>(),
                    %error,
                    "the API key's tenant does not convert into the application's tenant type"
                );
                return Err(KeyRejection::conversion(key));
            }
        };
        let tier = match Tier::from_tier(&record.tier) {
            Ok(tier) => tier,
            Err(error) => {
                tracing::error!(
                    target: "keyward::config",
                    key_id = %record.id,
                    tier = %record.tier,
                    into = type_name::<Tier>(),
                    %error,
                    "the API key's tier does not convert into the application's tier type"
                );
                return Err(KeyRejection::conversion(key));
            }
        };
        Ok(Self {
            tenant,
            tier,
            key,
            scopes: PhantomData,
        })
    }
}

impl<S, Tenant, Scopes, Tier> FromRequestParts<S> for AuthedKey<Tenant, Scopes, Tier>
where
    S: Send + Sync,
    Tenant: FromTenant + Send,
    Scopes: ScopeList,
    Tier: FromTier + Send,
{
    type Rejection = KeyRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let key = verified_key(&parts.extensions, &parts.uri, &parts.headers)?;
        Self::from_verified(key)
    }
}

impl<Tenant: Clone, Scopes, Tier: Clone> Clone for AuthedKey<Tenant, Scopes, Tier> {
    fn clone(&self) -> Self {
        Self {
            tenant: self.tenant.clone(),
            tier: self.tier.clone(),
            key: self.key.clone(),
            scopes: PhantomData,
        }
    }
}

impl<Tenant: fmt::Debug, Scopes, Tier: fmt::Debug> fmt::Debug for AuthedKey<Tenant, Scopes, Tier> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthedKey")
            .field("tenant", &self.tenant)
            .field("tier", &self.tier)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
