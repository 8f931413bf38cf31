//! [`SqliteStore`] and the change log that tells every process on the file of a change.

mod change_log;
mod store;

pub use store::SqliteStore;
