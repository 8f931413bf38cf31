//! [`SqliteStore`]: keys in a SQLite database.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Pool, Sqlite, Transaction};

use super::super::dialect::Dialect;
use super::super::failure::store_error;
use super::super::keys::{SqlKeys, delegate_key_store};
use super::super::row::AuditRow;
use super::super::{queries, schema};
use super::change_log::{self, ChangeLogReader};
use crate::audit::AuditEvent;
use crate::store::{ChangeFeed, Migrations, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another to finish before the store reports an outage.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections of a file database's pool (readers run in parallel in WAL mode).
const MAX_CONNECTIONS: u32 = 8;

/// A [`KeyStore`](crate::KeyStore) in a SQLite database, for single-process deployments.
///
/// [`open`](Self::open) creates the file on first use, puts it in WAL mode with a busy timeout,
/// and runs the embedded migrations. Every write is a `BEGIN IMMEDIATE` transaction, so writers
/// take turns and the per-tenant limit of active keys holds under concurrency.
///
/// Revocations, rotations and keyspace changes are published on
/// [`changes`](crate::KeyStore::changes) at once in this process, and reach every other process
/// with the file open within 200 ms: each is also a row of the file's change log, which every
/// store on a file reads five times a second (one indexed query, off the request path). A
/// `sqlite::memory:` database has no other process, and no reader.
///
/// ```
/// use std::sync::Arc;
/// use keyward_core::store::SqliteStore;
/// use keyward_core::{KeyManager, NewKey, TenantId};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let dir = tempfile::tempdir()?;
/// let url = format!("sqlite://{}", dir.path().join("keys.db").display());
///
/// let store = Arc::new(SqliteStore::open(&url).await?);
/// let manager = KeyManager::builder_shared(store.clone()).build()?;
/// let created = manager.create(NewKey::new(TenantId::new("site_1")?)).await?;
/// store.close().await;
///
/// // The key outlives the process that made it.
/// let manager = KeyManager::new(SqliteStore::open(&url).await?);
/// let key = manager.verify(created.token.expose()).await?;
/// assert_eq!(key.id, created.key.id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    keys: SqlKeys<Sqlite>,
    reader: Option<ChangeLogReader>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url`: `sqlite://path`, `sqlite:path`, or
    /// `sqlite::memory:` for a database that lives as long as the store.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] when `url` is not a SQLite URL; [`StoreError::Unavailable`]
    /// when the file cannot be opened or migrated.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, Migrations::Apply).await
    }

    /// As [`open`](Self::open), treating the schema as `migrations` says.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), and [`StoreError::SchemaOutdated`] for an older schema when the
    /// current one is required.
    pub async fn open_with(url: &str, migrations: Migrations) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| StoreError::UnsupportedUrl(format!("invalid SQLite URL: {error}")))?
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = is_in_memory(url);
        let pool = if in_memory {
            // One connection that is never recycled: the database goes when it closes.
            SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .connect_with(options)
                .await
        }
        .map_err(store_error)?;
        Self::over(pool, !in_memory, migrations).await
    }

    /// A store over a pool configured by the caller; runs the embedded migrations and reads the
    /// change log.
    ///
    /// Configure the pool with a busy timeout: writers wait for each other.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the migrations fail.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the change log's reader is spawned on it).
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        Self::over(pool, true, Migrations::Apply).await
    }

    /// A store over `pool`, reading the change log when other processes may `share` the file.
    async fn over(pool: SqlitePool, shared: bool, migrations: Migrations) -> Result<Self, StoreError> {
        if schema::should_migrate(&pool, &MIGRATOR, migrations).await? {
            MIGRATOR.run(&pool).await.map_err(StoreError::unavailable)?;
        }
        let changes = Arc::new(ChangeFeed::new());
        let reader = match shared {
            true => Some(ChangeLogReader::start(pool.clone(), Arc::downgrade(&changes)).await?),
            false => None,
        };
        tracing::debug!(target: "keyward::store", change_log = shared, "SQLite key store ready");
        Ok(Self {
            keys: SqlKeys::new(pool, changes),
            reader,
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        self.keys.pool()
    }

    /// Closes the pool, waiting for connections in use to come back; later operations fail with
    /// [`StoreError::Unavailable`]. The change log's reader stops with it.
    pub async fn close(&self) {
        self.keys.pool().close().await;
    }

    /// Whether changes made by other processes on the file are read (not for in-memory databases).
    pub fn reads_other_processes(&self) -> bool {
        self.reader.is_some()
    }
}

delegate_key_store!(SqliteStore, keys);

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

impl Dialect for Sqlite {
    const MIGRATIONS_TABLE_COUNT: &'static str =
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'";

    /// `BEGIN IMMEDIATE`: takes the database's write lock at once (waiting up to the busy timeout),
    /// so no two writers ever count and insert at the same time.
    fn begin_write<'a>(
        pool: &'a Pool<Self>,
        _tenant: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Transaction<'static, Self>, sqlx::Error>> {
        Box::pin(pool.begin_with("BEGIN IMMEDIATE"))
    }

    /// A row of the change log, which every other store on the file reads.
    const ANNOUNCE: &'static str = change_log::APPEND;

    /// Many rows to an `INSERT`: the largest power of two that fits, up to
    /// [`AUDIT_ROWS_PER_INSERT`](queries::AUDIT_ROWS_PER_INSERT), so a batch of any size takes
    /// a few statements from eight texts.
    fn append_audit<'a>(
        tx: &'a mut Transaction<'static, Self>,
        events: &'a [AuditEvent],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let mut rest = events;
            while !rest.is_empty() {
                let rows = queries::AUDIT_ROWS_PER_INSERT.min(1 << rest.len().ilog2());
                let (chunk, after) = rest.split_at(rows);
                let mut query = sqlx::query(queries::insert_audit(rows));
                for event in chunk {
                    query = AuditRow::from(event).bind(query);
                }
                query.execute(&mut **tx).await?;
                rest = after;
            }
            Ok(())
        })
    }

    /// `seq` is the rowid: the `IN` looks each up by it.
    const PRUNE_AUDIT: &'static str = "DELETE FROM keyward_audit WHERE seq IN \
         (SELECT seq FROM keyward_audit WHERE at < $1 LIMIT $2)";

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(!is_in_memory("sqlite://keys.db"));
    }
}
