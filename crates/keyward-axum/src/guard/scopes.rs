//! [`RequireScopes`]: a route needs these scopes, all of them, any of them, or a [`ScopeQuery`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use keyward_core::scope::InvalidScope;
use keyward_tower::VerifiedKey;
use tower::{Layer, Service};

use super::shared::{inner_accessors, missing_layer, refused};
use super::{GuardFuture, ScopeQuery};
use crate::rejection::insufficient_scope;

/// Refuses keys whose scopes do not satisfy a [`ScopeQuery`]: 403 `insufficient_scope`, naming
/// what would satisfy it (in the message and in the `WWW-Authenticate` challenge's `scope`; for
/// [`any_of`](Self::any_of), every alternative: see [`ScopeQuery`]).
///
/// [`new`](Self::new) and [`all_of`](Self::all_of) require every scope listed,
/// [`any_of`](Self::any_of) one of them, [`query`](Self::query) any nesting of the two.
/// The typed alternatives are [`AuthedKey<Tenant, (ScopeA, ScopeB)>`](crate::AuthedKey) and
/// [`AuthedKey<Tenant, AnyOf<(ScopeA, ScopeB)>>`](crate::AnyOf).
///
/// ```
/// use axum::{Router, routing::get};
/// use keyward_axum::guard::{RequireScopes, ScopeQuery};
///
/// let app: Router = Router::new()
///     .route("/v1/customers", get(|| async { "customers" }))
///     .route_layer(RequireScopes::new(["customers:read"]))
///     .route("/v1/reports", get(|| async { "reports" }))
///     .route_layer(RequireScopes::any_of(["reports:read", "analytics:read"]))
///     .route("/v1/exports", get(|| async { "exports" }))
///     .route_layer(RequireScopes::query(ScopeQuery::All(vec![
///         ScopeQuery::scope("exports:write").unwrap(),
///         ScopeQuery::any_of(["reports:read", "analytics:read"]).unwrap(),
///     ])));
/// ```
#[derive(Clone)]
pub struct RequireScopes {
    query: Arc<ScopeQuery>,
}

impl RequireScopes {
    /// Requires every scope of `scopes` (as [`all_of`](Self::all_of)).
    ///
    /// # Panics
    ///
    /// When a scope is not valid (a programming error); [`try_new`](Self::try_new) returns the
    /// error instead.
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::all_of(scopes)
    }

    /// Requires every scope of `scopes`.
    ///
    /// # Errors
    ///
    /// The first [`InvalidScope`].
    pub fn try_new<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ScopeQuery::all_of(scopes).map(Self::query)
    }

    /// Requires every scope of `scopes`.
    ///
    /// ```
    /// use keyward_axum::guard::RequireScopes;
    ///
    /// let guard = RequireScopes::all_of(["customers:read", "customers:write"]);
    /// assert_eq!(guard.scopes().collect::<Vec<_>>(), ["customers:read", "customers:write"]);
    /// ```
    ///
    /// # Panics
    ///
    /// When a scope is not valid (a programming error); [`try_new`](Self::try_new) returns the
    /// error instead.
    pub fn all_of<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::try_new(scopes).unwrap_or_else(|error| panic!("RequireScopes: {error}"))
    }

    /// Requires at least one scope of `scopes`.
    ///
    /// ```
    /// use keyward_axum::guard::{RequireScopes, ScopeQuery};
    ///
    /// let guard = RequireScopes::any_of(["reports:read", "analytics:read"]);
    /// assert_eq!(guard.scope_query(), &ScopeQuery::any_of(["reports:read", "analytics:read"]).unwrap());
    /// ```
    ///
    /// # Panics
    ///
    /// When a scope is not valid (a programming error); [`try_any_of`](Self::try_any_of) returns
    /// the error instead.
    pub fn any_of<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::try_any_of(scopes).unwrap_or_else(|error| panic!("RequireScopes: {error}"))
    }

    /// Requires at least one scope of `scopes`.
    ///
    /// ```
    /// use keyward_axum::guard::RequireScopes;
    ///
    /// assert!(RequireScopes::try_any_of(["reports:read", "analytics:read"]).is_ok());
    /// assert!(RequireScopes::try_any_of(["reports:read", "not a scope"]).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// The first [`InvalidScope`].
    pub fn try_any_of<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ScopeQuery::any_of(scopes).map(Self::query)
    }

    /// Requires what `query` says.
    ///
    /// ```
    /// use keyward_axum::guard::{RequireScopes, ScopeQuery};
    ///
    /// // campaigns:write, or both campaigns:read and drafts:write.
    /// let guard = RequireScopes::query(ScopeQuery::Any(vec![
    ///     ScopeQuery::scope("campaigns:write")?,
    ///     ScopeQuery::all_of(["campaigns:read", "drafts:write"])?,
    /// ]));
    /// assert_eq!(guard.scopes().count(), 3);
    /// # Ok::<(), keyward_core::scope::InvalidScope>(())
    /// ```
    pub fn query(query: ScopeQuery) -> Self {
        Self {
            query: Arc::new(query),
        }
    }

    /// What the guard requires.
    ///
    /// ```
    /// use keyward_axum::guard::{RequireScopes, ScopeQuery};
    ///
    /// let guard = RequireScopes::new(["customers:read"]);
    /// assert_eq!(guard.scope_query(), &ScopeQuery::all_of(["customers:read"]).unwrap());
    /// ```
    pub fn scope_query(&self) -> &ScopeQuery {
        &self.query
    }

    /// Every scope the guard names, in order (for [`new`](Self::new), the required scopes).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.query.scopes()
    }
}

impl fmt::Debug for RequireScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequireScopes").field(&self.query).finish()
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService {
            inner,
            query: self.query.clone(),
        }
    }
}

/// The service made by [`RequireScopes`].
#[derive(Clone)]
pub struct RequireScopesService<S> {
    inner: S,
    query: Arc<ScopeQuery>,
}

inner_accessors!(RequireScopesService);

impl<S: fmt::Debug> fmt::Debug for RequireScopesService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopesService")
            .field("inner", &self.inner)
            .field("query", &self.query)
            .finish()
    }
}

impl<S, B> Service<Request<B>> for RequireScopesService<S>
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
        let granted = &key.key().scopes;
        if self.query.is_satisfied_by(granted) {
            return GuardFuture::forward(self.inner.call(request), None);
        }
        let missing = self
            .query
            .missing(granted)
            .into_iter()
            .map(str::to_owned)
            .collect();
        GuardFuture::ready(refused(key, insufficient_scope(key, missing)))
    }
}
