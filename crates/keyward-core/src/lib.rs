//! The core of keyward: API-key tokens, hashing, scopes, the key model and lifecycle, keyspaces,
//! and key stores. It knows no HTTP framework; `keyward-tower` and `keyward-axum` build on it.
//!
//! A [`KeyManager`] applies one [`keyspace`]'s policy. Declared with
//! [`KeyManagerBuilder::declare`](manager::KeyManagerBuilder::declare), the policy is kept by the
//! store, so that the `keyward` CLI and every other process on it apply the same rules; changes
//! made anywhere (revocations, rotations, policy changes) reach every process within a second.
//!
//! A key may have [`credits`]: a usage budget of its lineage, with an optional periodic
//! [`Refill`], that the store spends atomically ([`KeyStore::spend`]) and that
//! [`KeyManager::set_credits`], [`add_credits`](KeyManager::add_credits) and
//! [`remove_credits`](KeyManager::remove_credits) change.
//!
//! ```
//! use keyward_core::{KeyManager, MemoryStore, NewKey, ScopeSet, TenantId};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::builder(MemoryStore::new())
//!     .default_scopes("analytics:read".parse()?)
//!     .build()?;
//! let created = manager.create(NewKey::new(TenantId::new("profile_42")?)).await?;
//! // The plaintext token exists only here: show it once.
//! let token = created.token.expose().to_owned();
//!
//! let key = manager.verify(&token).await?;
//! assert!(key.scopes.allows("analytics:read"));
//! assert!(!key.scopes.allows("customers:read"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod audit;
pub mod credits;
pub mod environment;
pub mod hash;
pub mod key;
pub mod keyspace;
pub mod kind;
pub mod lookup;
pub mod manager;
pub mod scope;
pub mod store;
mod text_name;
pub mod tier;
pub mod time;
pub mod token;
pub mod verify;

pub use credits::{Credits, Refill, Spend};
pub use environment::Environment;
pub use key::{ApiKey, KeyId, KeyStatus, TenantId};
pub use keyspace::{Drift, Keyspace, KeyspaceName};
pub use kind::KeyKind;
pub use lookup::LookupKey;
pub use manager::{CreatedKey, Expiry, KeyManager, KeyPolicy, ManagerError, NewKey, Rotation};
pub use scope::{Scope, ScopeSet};
pub use store::{KeyStore, MemoryStore, StoreError};
pub use tier::Tier;
pub use verify::{Presented, VerifyError};
