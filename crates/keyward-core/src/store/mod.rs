//! Key stores: the [`KeyStore`] trait, change notifications, and the stores.
//!
//! [`MemoryStore`] is always available; `SqliteStore` (feature `sqlite`) and `PostgresStore`
//! (feature `postgres`) keep keys in a database through sqlx.

mod change;
mod error;
mod key_store;
mod memory;

pub use change::{ChangeFeed, KeyChange, KeyListener};
pub use error::StoreError;
pub use key_store::{KeyStore, OldKey};
pub use memory::MemoryStore;
