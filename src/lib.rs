#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

/// axum integration: the `AuthedKey` extractor, guards, the key-management router
/// (the `keyward-axum` crate).
pub use keyward_axum as axum;
/// Tokens, hashing, scopes, the key model and lifecycle, stores (the `keyward-core` crate).
pub use keyward_core as core;
/// `ApiKeyLayer`, rate limiting, headers and errors (the `keyward-tower` crate).
pub use keyward_tower as tower;

#[cfg(feature = "testing")]
pub mod testing;
