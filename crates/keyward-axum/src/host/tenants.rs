//! [`HostTenants`]: which tenant each host serves, and the [`HostLookup`] an app may add.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use keyward_core::TenantId;

use super::name::{self, HostName};
use crate::ApiError;

/// An app's own lookup of the hosts that [`HostTenants`] does not know (custom domains kept in
/// its database, say).
///
/// ```
/// use futures_util::future::BoxFuture;
/// use keyward_axum::ApiError;
/// use keyward_axum::host::HostLookup;
/// use keyward_core::TenantId;
///
/// /// Custom domains as the app's database would answer them.
/// struct Domains;
///
/// impl HostLookup for Domains {
///     fn tenant<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Option<TenantId>, ApiError>> {
///         Box::pin(async move {
///             Ok(match host {
///                 "links.acme.com" => TenantId::new("acme").ok(),
///                 _ => None,
///             })
///         })
///     }
/// }
/// ```
pub trait HostLookup: Send + Sync + 'static {
    /// The tenant served at `host` (lowercase, without port or trailing dot), `None` when no
    /// tenant is.
    ///
    /// # Errors
    ///
    /// The error to answer with when the lookup fails (a database outage, say: a 503 rather
    /// than a 500).
    fn tenant<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Option<TenantId>, ApiError>>;
}

/// Which tenant a request's host serves, for [`HostTenant`](super::HostTenant): a subdomain of a
/// base domain (`acme.example.com` serves tenant `acme`), a listed custom domain, or what the
/// app's [`HostLookup`] answers, tried in this order: listed domains, subdomains, the lookup.
///
/// Cheap to clone. Hosts are compared lowercase, without port or trailing dot. A subdomain is one
/// label (`a.b.example.com` is not a subdomain of `example.com` here) that is a valid tenant id.
///
/// ```
/// use keyward_axum::host::HostTenants;
/// use keyward_core::TenantId;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let tenants = HostTenants::builder()
///     .base_domain("tolinku.com")
///     .domain("links.acme.com", TenantId::new("acme")?)
///     .build()?;
/// assert_eq!(tenants.resolve("your-app.tolinku.com").await?, Some(TenantId::new("your-app")?));
/// assert_eq!(tenants.resolve("links.acme.com").await?, Some(TenantId::new("acme")?));
/// assert_eq!(tenants.resolve("tolinku.com").await?, None);
/// assert_eq!(tenants.resolve("a.b.tolinku.com").await?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct HostTenants {
    inner: Arc<Inner>,
}

struct Inner {
    base_domains: Vec<String>,
    domains: HashMap<String, TenantId>,
    lookup: Option<Box<dyn HostLookup>>,
}

/// Configures [`HostTenants`]; see [`HostTenants::builder`].
#[must_use]
#[derive(Default)]
pub struct HostTenantsBuilder {
    base_domains: Vec<String>,
    domains: Vec<(String, TenantId)>,
    lookup: Option<Box<dyn HostLookup>>,
}

/// Why [`HostTenants`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostConfigError {
    /// A base or custom domain that is not a host name (letters, digits, `-` and `.`, at most 253
    /// characters).
    #[error("`{0}` is not a host name")]
    InvalidDomain(String),
    /// A custom domain listed twice.
    #[error("the custom domain `{0}` is listed twice")]
    DuplicateDomain(String),
    /// No base domain, custom domain or lookup: no host would ever resolve.
    #[error("HostTenants needs a base domain, a custom domain or a lookup")]
    Empty,
}

impl HostTenants {
    /// Starts configuring.
    pub fn builder() -> HostTenantsBuilder {
        HostTenantsBuilder::default()
    }

    /// The tenant served at `host` (lowercase, without port or trailing dot, as
    /// [`HostTenant`](super::HostTenant) hands it over), `None` when none is.
    ///
    /// # Errors
    ///
    /// What the [`HostLookup`] answered, when it failed.
    pub async fn resolve(&self, host: &str) -> Result<Option<TenantId>, ApiError> {
        let inner = &*self.inner;
        if let Some(tenant) = inner.domains.get(host) {
            return Ok(Some(tenant.clone()));
        }
        if let Some(tenant) = inner.base_domains.iter().find_map(|base| subdomain(host, base)) {
            return Ok(Some(tenant));
        }
        match &inner.lookup {
            Some(lookup) => lookup.tenant(host).await,
            None => Ok(None),
        }
    }
}

/// The tenant of `host` when it is one label under `base` and that label is a tenant id.
fn subdomain(host: &str, base: &str) -> Option<TenantId> {
    let label = host.strip_suffix(base)?.strip_suffix('.')?;
    if label.is_empty() || label.contains('.') {
        return None;
    }
    TenantId::new(label).ok()
}

impl fmt::Debug for HostTenants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut domains: Vec<_> = self.inner.domains.keys().collect();
        domains.sort();
        f.debug_struct("HostTenants")
            .field("base_domains", &self.inner.base_domains)
            .field("domains", &domains)
            .field("lookup", &self.inner.lookup.is_some())
            .finish()
    }
}

impl fmt::Debug for HostTenantsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostTenantsBuilder")
            .field("base_domains", &self.base_domains)
            .field("domains", &self.domains.len())
            .field("lookup", &self.lookup.is_some())
            .finish()
    }
}

impl HostTenantsBuilder {
    /// Each subdomain of `domain` (`{tenant}.example.com`) serves the tenant of its name.
    pub fn base_domain(mut self, domain: &str) -> Self {
        self.base_domains.push(domain.to_owned());
        self
    }

    /// `domain` serves `tenant` (a custom domain).
    pub fn domain(mut self, domain: &str, tenant: TenantId) -> Self {
        self.domains.push((domain.to_owned(), tenant));
        self
    }

    /// Hosts that neither a base domain nor a listed domain serves are asked of `lookup`.
    pub fn lookup(mut self, lookup: impl HostLookup) -> Self {
        self.lookup = Some(Box::new(lookup));
        self
    }

    /// Builds the resolver.
    ///
    /// # Errors
    ///
    /// [`HostConfigError::InvalidDomain`] for a domain that is not a host name,
    /// [`HostConfigError::DuplicateDomain`] for a custom domain listed twice,
    /// [`HostConfigError::Empty`] when nothing is configured.
    pub fn build(self) -> Result<HostTenants, HostConfigError> {
        if self.base_domains.is_empty() && self.domains.is_empty() && self.lookup.is_none() {
            return Err(HostConfigError::Empty);
        }
        let normal = |domain: &str| {
            name::normalize(domain)
                .map(|name: HostName| name.as_str().to_owned())
                .ok_or_else(|| HostConfigError::InvalidDomain(domain.to_owned()))
        };
        let base_domains = self
            .base_domains
            .iter()
            .map(|d| normal(d))
            .collect::<Result<_, _>>()?;
        let mut domains = HashMap::with_capacity(self.domains.len());
        for (domain, tenant) in self.domains {
            let host = normal(&domain)?;
            if domains.insert(host, tenant).is_some() {
                return Err(HostConfigError::DuplicateDomain(domain));
            }
        }
        Ok(HostTenants {
            inner: Arc::new(Inner {
                base_domains,
                domains,
                lookup: self.lookup,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> TenantId {
        TenantId::new(id).expect("a tenant id")
    }

    #[test]
    fn configuration_errors() {
        let cases = [
            (HostTenants::builder(), HostConfigError::Empty),
            (
                HostTenants::builder().base_domain("exa mple.com"),
                HostConfigError::InvalidDomain("exa mple.com".into()),
            ),
            (
                HostTenants::builder()
                    .domain("a.com", tenant("a"))
                    .domain("A.com.", tenant("b")),
                HostConfigError::DuplicateDomain("A.com.".into()),
            ),
        ];
        for (builder, error) in cases {
            assert_eq!(builder.build().err(), Some(error));
        }
    }

    #[tokio::test]
    async fn listed_domains_then_subdomains_then_the_lookup() {
        struct Db;
        impl HostLookup for Db {
            fn tenant<'a>(&'a self, host: &'a str) -> BoxFuture<'a, Result<Option<TenantId>, ApiError>> {
                Box::pin(async move {
                    match host {
                        "down.example.org" => Err(ApiError::new(
                            http::StatusCode::SERVICE_UNAVAILABLE,
                            "store_unavailable",
                            "try again",
                        )),
                        "db.example.org" => Ok(Some(tenant("from_db"))),
                        _ => Ok(None),
                    }
                })
            }
        }
        let tenants = HostTenants::builder()
            .base_domain("Example.COM.")
            .domain("www.example.com", tenant("marketing"))
            .lookup(Db)
            .build()
            .expect("valid");
        // (host, tenant)
        let cases = [
            ("acme.example.com", Some("acme")),
            ("www.example.com", Some("marketing")),
            ("example.com", None),
            ("a.b.example.com", None),
            ("evilexample.com", None),
            ("acme.example.com.evil.net", None),
            ("db.example.org", Some("from_db")),
            ("other.example.org", None),
        ];
        for (host, expected) in cases {
            let found = tenants.resolve(host).await.expect("no lookup failure");
            assert_eq!(found, expected.map(tenant), "{host}");
        }
        let failed = tenants
            .resolve("down.example.org")
            .await
            .expect_err("the lookup fails");
        assert_eq!(failed.code(), "store_unavailable");
        assert_eq!(
            format!("{tenants:?}"),
            r#"HostTenants { base_domains: ["example.com"], domains: ["www.example.com"], lookup: true }"#
        );
    }
}
