//! [`Dialect`]: what differs between the SQL databases, beyond the shared statements.

use futures_util::future::BoxFuture;
use sqlx::{Database, Pool, Transaction};

use crate::audit::AuditEvent;

/// The parts of a SQL store that depend on the database: how writers take turns, how other
/// processes hear of a change, how audit events are appended in bulk and pruned, and how a
/// statement's result is read.
pub(crate) trait Dialect: Database {
    /// Counts the tables named `_sqlx_migrations` where the store's tables live (0 or 1).
    const MIGRATIONS_TABLE_COUNT: &'static str;

    /// Begins a write transaction. Two transactions begun with the same `tenant` never overlap,
    /// so that counting a tenant's active keys and inserting one is atomic.
    fn begin_write<'a>(
        pool: &'a Pool<Self>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Transaction<'static, Self>, sqlx::Error>>;

    /// Run inside the transaction that made a change, with the change's
    /// [text](super::change_text) as `$1`: tells every other process on the database, once (and
    /// only if) the transaction commits.
    const ANNOUNCE: &'static str;

    /// Appends `events` (at least one) in `tx`, in their order, the fastest way the database has.
    fn append_audit<'a>(
        tx: &'a mut Transaction<'static, Self>,
        events: &'a [AuditEvent],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// `$1`: before, `$2`: batch size. Deletes up to a batch of the events from before `$1`, in no
    /// set order (all of them go, a batch at a time), so that the lookup by `at` stops at a batch:
    /// PostgreSQL's index on `at` is a BRIN, which gives no order, and an order would sort every
    /// event before `$1` for each batch. The events are deleted by `seq` through its primary key.
    const PRUNE_AUDIT: &'static str;

    /// The rows a statement changed (sqlx has no trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;
}
