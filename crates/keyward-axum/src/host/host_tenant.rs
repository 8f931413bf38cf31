//! [`HostTenant`]: the tenant that a request's host serves.

use std::any::type_name;

use axum::extract::FromRequestParts;
use http::request::Parts;
use keyward_tower::request_id;

use super::{HostTenants, request};
use crate::{ApiError, FromTenant};

/// The tenant served at the request's host, for routes that take no key (Tolinku's `/api/`
/// routes, resolved by the Appspace's subdomain or custom domain).
///
/// The host is the `Host` header or the URI's authority (HTTP/2's `:authority`), lowercase,
/// without port or trailing dot; [`HostTenants`], added to the router as an
/// [`Extension`](axum::Extension), says which tenant it serves. `T` is made from the tenant id by
/// [`FromTenant`] (default [`TenantId`](keyward_core::TenantId)).
///
/// Refusals are [`ApiError`]s in keyward's JSON envelope, with the request's id: 400 `bad_request`
/// when no host is named, `Host` is sent twice, is not text or not a host name, or disagrees with
/// the authority; 404 `not_found` when no tenant is served at the host; what the app's
/// [`HostLookup`](super::HostLookup) answers when it fails. Without the extension, or for a
/// tenant that `T` cannot be made from, 500 `internal_error`, logged at error level (target
/// `keyward::config`).
///
/// ```
/// use axum::{Extension, Router, body::Body, routing::get};
/// use http::{Request, StatusCode};
/// use keyward_axum::host::{HostTenant, HostTenants};
/// use tower::ServiceExt;
///
/// async fn app_info(HostTenant { tenant, .. }: HostTenant) -> String {
///     format!("app of {tenant}")
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let tenants = HostTenants::builder().base_domain("tolinku.com").build()?;
/// let app = Router::new().route("/api/app/info", get(app_info)).layer(Extension(tenants));
///
/// let request = |host: &str| Request::get("/api/app/info").header("host", host).body(Body::empty());
/// let response = app.clone().oneshot(request("your-app.tolinku.com")?).await?;
/// assert_eq!(response.status(), StatusCode::OK);
/// let body = axum::body::to_bytes(response.into_body(), 64).await?;
/// assert_eq!(body, "app of your-app");
///
/// let unknown = app.oneshot(request("elsewhere.example.com")?).await?;
/// assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HostTenant<T = keyward_core::TenantId> {
    /// The tenant served at the host.
    pub tenant: T,
}

impl<S, T> FromRequestParts<S> for HostTenant<T>
where
    S: Send + Sync,
    T: FromTenant,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        // The layer passes its request id on in the request (a minted one too), so the body's id
        // is the response's `X-Request-Id`.
        let request_id = request_id::incoming(&parts.headers)
            .cloned()
            .unwrap_or_else(request_id::mint);
        let answer = |error: ApiError| error.with_request_id(request_id.clone());
        let Some(tenants) = parts.extensions.get::<HostTenants>().cloned() else {
            tracing::error!(
                target: "keyward::config",
                path = %parts.uri.path(),
                "no HostTenants in the request: add it to the router with .layer(Extension(tenants))"
            );
            return Err(answer(ApiError::internal()));
        };
        let host = request::host(parts).map_err(answer)?;
        let tenant = match tenants.resolve(host.as_str()).await.map_err(answer)? {
            Some(tenant) => tenant,
            None => {
                tracing::debug!(target: "keyward::rejection", host = host.as_str(), "no tenant at this host");
                return Err(answer(ApiError::not_found("No tenant is served at this host")));
            }
        };
        match T::from_tenant(&tenant) {
            Ok(tenant) => Ok(Self { tenant }),
            Err(error) => {
                tracing::error!(
                    target: "keyward::config",
                    %tenant,
                    %error,
                    "the host's tenant does not convert into {}",
                    type_name::<T>()
                );
                Err(answer(ApiError::internal()))
            }
        }
    }
}
