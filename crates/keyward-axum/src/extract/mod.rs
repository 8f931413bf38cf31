//! The [`AuthedKey`] extractor and the conversions of a key's tenant and tier into the
//! application's own types ([`FromTenant`], [`FromTier`]).

mod authed_key;
mod convert;

pub use authed_key::AuthedKey;
pub use convert::{FromTenant, FromTier};
