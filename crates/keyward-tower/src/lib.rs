//! keyward-tower: the `ApiKeyLayer`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(unreachable_pub)]

pub mod rate_limit;
