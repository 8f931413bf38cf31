//! [`KeyManager`]: the key lifecycle (create and show once, verify, revoke, rotate with grace,
//! expiry, per-tenant limits) and its [`KeyPolicy`].

mod error;
mod key_manager;
mod new_key;
mod policy;
mod policy_watch;

pub use error::{ConfigError, ManagerError};
pub use key_manager::{KeyManager, KeyManagerBuilder};
pub use new_key::{CreatedKey, NewKey};
pub use policy::{Expiry, KeyPolicy, Rotation};
