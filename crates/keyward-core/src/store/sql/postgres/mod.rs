//! [`PostgresStore`] and the `LISTEN`/`NOTIFY` channel that tells every process of a change.

mod audit_copy;
mod notify;
mod store;

pub use store::PostgresStore;
