//! The SQL stores, [`SqliteStore`] and [`PostgresStore`], and what they share: the statements, the
//! row mapping, the error mapping and the store rules ([`keys`]).

mod change_text;
mod dialect;
mod failure;
mod keys;
#[cfg(feature = "postgres")]
mod postgres;
mod queries;
mod row;
mod schema;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
