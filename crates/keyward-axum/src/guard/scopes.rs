//! [`RequireScopes`]: a route needs these scopes.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::{IntoResponse, Response};
use http::Request;
use keyward_core::Scope;
use keyward_core::scope::InvalidScope;
use keyward_tower::VerifiedKey;
use tower::{Layer, Service};

use super::GuardFuture;
use super::shared::{inner_accessors, missing_layer, refused};
use crate::rejection::insufficient_scope;

/// Refuses keys that lack any of these scopes: 403 `insufficient_scope`, naming the missing ones.
///
/// The typed alternative is [`AuthedKey<Tenant, (ScopeA, ScopeB)>`](crate::AuthedKey).
///
/// ```
/// use axum::{Router, routing::get};
/// use keyward_axum::guard::RequireScopes;
///
/// let app: Router = Router::new()
///     .route("/v1/customers", get(|| async { "customers" }))
///     .route_layer(RequireScopes::new(["customers:read"]));
/// ```
#[derive(Clone)]
pub struct RequireScopes {
    scopes: Arc<[Scope]>,
}

impl RequireScopes {
    /// Requires every scope of `scopes`.
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
        Self::try_new(scopes).unwrap_or_else(|error| panic!("RequireScopes: {error}"))
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
        let scopes = scopes
            .into_iter()
            .map(|s| Scope::new(s.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            scopes: scopes.into(),
        })
    }

    /// The required scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().map(Scope::as_str)
    }
}

impl fmt::Debug for RequireScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequireScopes").field(&self.scopes).finish()
    }
}

impl<S> Layer<S> for RequireScopes {
    type Service = RequireScopesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopesService {
            inner,
            scopes: self.scopes.clone(),
        }
    }
}

/// The service made by [`RequireScopes`].
#[derive(Clone)]
pub struct RequireScopesService<S> {
    inner: S,
    scopes: Arc<[Scope]>,
}

inner_accessors!(RequireScopesService);

impl<S> RequireScopesService<S> {
    /// The required scopes that `key` lacks, in order.
    fn missing(&self, key: &VerifiedKey) -> Vec<String> {
        let granted = &key.key().scopes;
        self.scopes
            .iter()
            .map(Scope::as_str)
            .filter(|scope| !granted.allows(scope))
            .map(str::to_owned)
            .collect()
    }
}

impl<S: fmt::Debug> fmt::Debug for RequireScopesService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopesService")
            .field("inner", &self.inner)
            .field("scopes", &self.scopes)
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
        let missing = self.missing(key);
        if missing.is_empty() {
            return GuardFuture::forward(self.inner.call(request), None);
        }
        GuardFuture::ready(refused(key, insufficient_scope(key, missing)))
    }
}
