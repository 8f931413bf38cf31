//! [`NewKey`]: what to create, and [`CreatedKey`]: the result, shown once.

use crate::credits::Refill;
use crate::token::PlaintextToken;
use crate::{ApiKey, Environment, Expiry, KeyKind, ScopeSet, TenantId, Tier};

/// The request to create a key. Unset fields take the manager's defaults.
///
/// ```
/// use std::time::Duration;
/// use keyward_core::{Expiry, KeyKind, NewKey, TenantId};
///
/// let new = NewKey::new(TenantId::new("appspace_9")?)
///     .name("Mobile App")
///     .kind(KeyKind::Publishable)
///     .expires(Expiry::In(Duration::from_secs(90 * 86_400)));
/// # Ok::<(), keyward_core::key::InvalidTenant>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct NewKey {
    pub(crate) tenant: TenantId,
    pub(crate) name: String,
    pub(crate) scopes: Option<ScopeSet>,
    pub(crate) kind: KeyKind,
    pub(crate) environment: Environment,
    pub(crate) tier: Option<Tier>,
    pub(crate) expiry: Expiry,
    pub(crate) credits: Option<(u64, Option<Refill>)>,
}

impl NewKey {
    /// A secret live key for `tenant`, with the manager's default scopes, tier and lifetime.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            name: String::new(),
            scopes: None,
            kind: KeyKind::Secret,
            environment: Environment::Live,
            tier: None,
            expiry: Expiry::Default,
            credits: None,
        }
    }

    /// A name for its owner (at most 100 characters).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Its scopes, instead of the defaults.
    pub fn scopes(mut self, scopes: ScopeSet) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Publishable or secret.
    pub fn kind(mut self, kind: KeyKind) -> Self {
        self.kind = kind;
        self
    }

    /// Live or test.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Its tier, instead of the default.
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// When it expires.
    pub fn expires(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }

    /// A usage budget: `remaining` [credits](crate::credits) from its creation (at most
    /// [`MAX_CREDITS`](crate::credits::MAX_CREDITS)), refilled as `refill` says. Without it, the
    /// key's requests are not counted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keyward_core::{NewKey, Refill, TenantId};
    ///
    /// let daily = Refill::new(1_000, Duration::from_secs(86_400))?;
    /// let new = NewKey::new(TenantId::new("site_1")?).credits(1_000, Some(daily));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credits(mut self, remaining: u64, refill: Option<Refill>) -> Self {
        self.credits = Some((remaining, refill));
        self
    }
}

/// A created (or rotated-in) key: its record and the plaintext token, which exists only here.
#[derive(Debug)]
pub struct CreatedKey {
    /// The token: show it once, then drop it.
    pub token: PlaintextToken,
    /// The stored record.
    pub key: ApiKey,
}
