//! The store conformance suite: one set of cases run against every store, and the tests of what
//! only the SQL stores promise.

pub mod cases;
pub mod credits;
pub mod harness;
pub mod keyspaces;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migration;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod outage;
#[cfg(feature = "postgres")]
mod postgres_only;
pub mod recorder;
#[cfg(feature = "sqlite")]
mod sqlite_only;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod travel;
