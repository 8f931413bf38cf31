//! Key stores: the [`KeyStore`] trait, change notifications, and the stores.
//!
//! [`MemoryStore`] is always available; `SqliteStore` (feature `sqlite`) and `PostgresStore`
//! (feature `postgres`) keep keys in a database through sqlx. [`open`] picks one by URL.

mod change;
mod error;
mod key_store;
mod memory;
mod migrations;
mod open;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

pub use change::{Change, ChangeFeed, KeyChange, KeyListener};
pub use error::StoreError;
pub use key_store::{KeyStore, KeyspaceWrite, OldKey};
pub use memory::MemoryStore;
pub use migrations::Migrations;
pub use open::{open, open_with};
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;
