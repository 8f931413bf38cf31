//! Keyspaces: named policies the store keeps, so that the app, the `keyward` CLI and every other
//! process on a store mint keys in one format and apply one set of rules.
//!
//! An app declares its keyspace in code with
//! [`KeyManagerBuilder::declare`](crate::manager::KeyManagerBuilder::declare); tools open it from
//! the store with [`KeyManager::open`](crate::KeyManager::open). A policy changed in the store
//! reaches every manager on it before its next lifecycle operation, within a second.
//!
//! ```
//! use keyward_core::keyspace::Drift;
//! use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = Arc::new(MemoryStore::new());
//! // The app declares its rules...
//! let app = KeyManager::builder_shared(store.clone())
//!     .keyspace("adtarget")
//!     .max_active_keys(5)
//!     .declare(Drift::Refuse)
//!     .await?;
//! // ...and a tool opened on the same store applies them without repeating them.
//! let tool = KeyManager::open(store, Some("adtarget")).await?;
//! assert_eq!(tool.policy().max_active_keys, Some(5));
//! let created = tool.create(NewKey::new(TenantId::new("site_1")?)).await?;
//! assert_eq!(created.key.keyspace.as_str(), "adtarget");
//! assert!(app.verify(created.token.expose()).await.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod definition;
mod drift;
mod name;

pub use definition::{InvalidDocument, Keyspace};
pub use drift::Drift;
pub use name::{InvalidKeyspaceName, KeyspaceName};
