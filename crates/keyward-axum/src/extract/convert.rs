//! [`FromTenant`] and [`FromTier`]: how [`AuthedKey`](crate::AuthedKey) turns a key's tenant id
//! and tier name into the application's types.
//!
//! Every type that implements [`FromStr`] (with a displayable error) converts through it; implement
//! the traits directly for a type that has no `FromStr`.
//!
//! ```
//! use std::str::FromStr;
//! use keyward_axum::{FromTenant, FromTier};
//! use keyward_core::{TenantId, Tier};
//!
//! /// A site id: `site_` and a number.
//! #[derive(Debug, PartialEq)]
//! struct SiteId(u64);
//!
//! impl FromStr for SiteId {
//!     type Err = String;
//!     fn from_str(s: &str) -> Result<Self, String> {
//!         let n = s.strip_prefix("site_").ok_or("no site_ prefix")?;
//!         n.parse().map(SiteId).map_err(|e| format!("{e}"))
//!     }
//! }
//!
//! /// A plan without `FromStr`.
//! #[derive(Debug, PartialEq)]
//! enum Plan { Free, Pro }
//!
//! impl FromTier for Plan {
//!     type Error = &'static str;
//!     fn from_tier(tier: &Tier) -> Result<Self, Self::Error> {
//!         match tier.as_str() {
//!             "default" | "free" => Ok(Plan::Free),
//!             "pro" => Ok(Plan::Pro),
//!             _ => Err("unknown plan"),
//!         }
//!     }
//! }
//!
//! assert_eq!(SiteId::from_tenant(&TenantId::new("site_42")?), Ok(SiteId(42)));
//! assert!(SiteId::from_tenant(&TenantId::new("profile_1")?).is_err());
//! assert_eq!(Plan::from_tier(&"pro".parse()?), Ok(Plan::Pro));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use keyward_core::{TenantId, Tier};

/// A type made from a key's [`TenantId`] (`SiteId`, `ProfileId`, a UUID newtype).
///
/// Implemented for every [`FromStr`] type whose error is [`Display`](fmt::Display), including
/// `TenantId` itself and `String`.
pub trait FromTenant: Sized {
    /// Why the tenant id does not convert; logged, never shown to clients.
    type Error: fmt::Display;

    /// Converts the key's tenant id.
    ///
    /// # Errors
    ///
    /// When the id is not one of this type: a configuration problem (the keys were minted for
    /// other tenants than the application expects), answered with 500 `internal_error`.
    fn from_tenant(tenant: &TenantId) -> Result<Self, Self::Error>;
}

impl<T> FromTenant for T
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Error = T::Err;

    fn from_tenant(tenant: &TenantId) -> Result<Self, Self::Error> {
        tenant.as_str().parse()
    }
}

/// A type made from a key's [`Tier`] name (an application's `Plan` enum).
///
/// Implemented for every [`FromStr`] type whose error is [`Display`](fmt::Display), including
/// keyward-core's `Tier` itself and `String`.
pub trait FromTier: Sized {
    /// Why the tier does not convert; logged, never shown to clients.
    type Error: fmt::Display;

    /// Converts the key's tier.
    ///
    /// # Errors
    ///
    /// When the tier is not one of this type: a configuration problem, answered with 500
    /// `internal_error`.
    fn from_tier(tier: &Tier) -> Result<Self, Self::Error>;
}

impl<T> FromTier for T
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Error = T::Err;

    fn from_tier(tier: &Tier) -> Result<Self, Self::Error> {
        tier.as_str().parse()
    }
}
