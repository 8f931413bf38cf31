//! [`PostgresStore`] and the `LISTEN`/`NOTIFY` channel that tells every process of a change.

mod notify;
mod store;

pub use store::PostgresStore;
