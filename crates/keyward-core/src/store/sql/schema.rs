//! How [`Migrations::RequireCurrent`](crate::store::Migrations::RequireCurrent) reads a database's
//! schema: the versions sqlx recorded as applied, against the ones this build embeds.

use sqlx::migrate::Migrator;
use sqlx::{Executor, FromRow, IntoArguments, Pool};

use super::dialect::Dialect;
use super::failure::store_error;
use crate::store::{Migrations, StoreError};

/// The versions applied successfully, oldest first.
const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version";

/// Whether the store should run `migrator` as `migrations` says: always to apply them; to require
/// the current schema, only on a database that holds none of it yet.
///
/// # Errors
///
/// [`StoreError::SchemaOutdated`] when the current schema is required and some embedded
/// migration is not applied, or an outage.
pub(crate) async fn should_migrate<DB>(
    pool: &Pool<DB>,
    migrator: &Migrator,
    migrations: Migrations,
) -> Result<bool, StoreError>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    if migrations == Migrations::Apply {
        return Ok(true);
    }
    let tables: i64 = sqlx::query_scalar(DB::MIGRATIONS_TABLE_COUNT)
        .fetch_one(pool)
        .await
        .map_err(store_error)?;
    if tables == 0 {
        return Ok(true);
    }
    let applied: Vec<i64> = sqlx::query_scalar(APPLIED)
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    let required = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let missing = migrator.iter().any(|m| !applied.contains(&m.version));
    if missing {
        return Err(StoreError::SchemaOutdated {
            applied: applied.last().copied().unwrap_or(0),
            required,
        });
    }
    Ok(false)
}
