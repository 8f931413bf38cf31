//! [`PostgresStore`]: keys in PostgreSQL, shared by many processes.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Pool, Postgres, Transaction};

use super::super::dialect::Dialect;
use super::super::failure::store_error;
use super::super::keys::{SqlKeys, delegate_key_store};
use super::super::{queries, schema};
use super::audit_copy;
use super::notify::{self, ChangeListener};
use crate::audit::AuditEvent;
use crate::store::{ChangeFeed, Migrations, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections of the pool that [`PostgresStore::connect`] makes.
const MAX_CONNECTIONS: u32 = 10;
/// How long an operation waits for a connection before the store reports an outage.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`KeyStore`](crate::KeyStore) in PostgreSQL: the store of record when many processes serve
/// the API.
///
/// [`connect`](Self::connect) runs the embedded migrations, then listens on the
/// `keyward_key_changes` channel. Revocations, rotations and keyspace changes send a `NOTIFY` there
/// in their own transaction, and every store listening (in this process or another) publishes the change on
/// its [`changes`](crate::KeyStore::changes) feed, so caches everywhere drop the key within a
/// moment. The store that made a change also publishes it at once, so its listeners may hear it
/// twice. The listening task reconnects after a dropped connection (changes made while it was
/// away are not replayed: cache lifetimes bound how long they are missed) and stops when the store
/// is dropped or [closed](Self::close).
///
/// Writes that count a tenant's active keys take a transaction-scoped advisory lock on the tenant,
/// so the limit of active keys holds under concurrency across processes. Audit events are
/// appended with one `COPY … FROM STDIN` a batch (`cargo bench --bench audit_write --features
/// postgres` measures it against `INSERT`s).
///
/// ```no_run
/// use keyward_core::store::PostgresStore;
/// use keyward_core::{KeyManager, NewKey, TenantId};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = PostgresStore::connect("postgres://keyward@127.0.0.1:5432/keyward").await?;
/// let manager = KeyManager::builder(store).max_active_keys(10).build()?;
/// let created = manager.create(NewKey::new(TenantId::new("site_1")?)).await?;
/// // Every process with a PostgresStore on this database hears of the revocation.
/// manager.revoke(&created.key.tenant, &created.key.id).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct PostgresStore {
    keys: SqlKeys<Postgres>,
    listener: ChangeListener,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] when `url` is not a PostgreSQL URL; [`StoreError::Unavailable`]
    /// when the database cannot be reached or migrated.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, Migrations::Apply).await
    }

    /// As [`connect`](Self::connect), treating the schema as `migrations` says.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), and [`StoreError::SchemaOutdated`] for an older schema when
    /// the current one is required.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub async fn open_with(url: &str, migrations: Migrations) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|error| StoreError::UnsupportedUrl(format!("invalid PostgreSQL URL: {error}")))?;
        Self::over(Self::new_pool(options).await?, migrations).await
    }

    /// Connects with explicit options (a `search_path`, TLS, an application name).
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database cannot be reached or migrated.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        Self::over(Self::new_pool(options).await?, Migrations::Apply).await
    }

    async fn new_pool(options: PgConnectOptions) -> Result<PgPool, StoreError> {
        PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(store_error)
    }

    /// A store over a pool configured by the caller; runs the embedded migrations and starts
    /// listening, on a connection of its own made with the pool's options.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database cannot be reached or migrated.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime: the listening task is spawned on it.
    pub async fn from_pool(pool: PgPool) -> Result<Self, StoreError> {
        Self::over(pool, Migrations::Apply).await
    }

    async fn over(pool: PgPool, migrations: Migrations) -> Result<Self, StoreError> {
        if schema::should_migrate(&pool, &MIGRATOR, migrations).await? {
            MIGRATOR.run(&pool).await.map_err(StoreError::unavailable)?;
        }
        let changes = Arc::new(ChangeFeed::new());
        let options = (*pool.connect_options()).clone();
        let listener = ChangeListener::start(options, Arc::downgrade(&changes)).await?;
        tracing::debug!(target: "keyward::store", channel = notify::CHANNEL, "PostgreSQL key store ready");
        Ok(Self {
            keys: SqlKeys::new(pool, changes),
            listener,
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        self.keys.pool()
    }

    /// Stops listening and closes the pool, waiting for connections in use to come back; later
    /// operations fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.listener.stop().await;
        self.keys.pool().close().await;
    }
}

delegate_key_store!(PostgresStore, keys);

impl Dialect for Postgres {
    const MIGRATIONS_TABLE_COUNT: &'static str = "SELECT COUNT(*) FROM pg_tables \
         WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()";

    /// A transaction that first takes an advisory lock on the tenant (released at commit), so
    /// writers of one tenant take turns in every process.
    fn begin_write<'a>(
        pool: &'a Pool<Self>,
        tenant: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Transaction<'static, Self>, sqlx::Error>> {
        Box::pin(async move {
            let mut tx = pool.begin().await?;
            if let Some(tenant) = tenant {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(tx)
        })
    }

    /// `pg_notify` on the changes channel ([`notify::CHANNEL`]), delivered when (and only if)
    /// the transaction commits.
    const ANNOUNCE: &'static str = "SELECT pg_notify('keyward_key_changes', $1)";

    /// One `COPY … FROM STDIN` for the whole batch ([`audit_copy`]).
    fn append_audit<'a>(
        tx: &'a mut Transaction<'static, Self>,
        events: &'a [AuditEvent],
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let mut copy = tx.copy_in_raw(queries::COPY_AUDIT).await?;
            copy.send(audit_copy::rows(events).into_bytes()).await?;
            copy.finish().await?;
            Ok(())
        })
    }

    /// The batch's `seq`s as an array: `seq IN (subquery)` is planned as a hash join over a scan of
    /// the whole table, a pass over every event for each batch; `= ANY(ARRAY(…))` looks each up
    /// by the primary key. `at`'s index is a BRIN, which finds the oldest block ranges.
    const PRUNE_AUDIT: &'static str = "DELETE FROM keyward_audit WHERE seq = ANY(ARRAY(\
         SELECT seq FROM keyward_audit WHERE at < $1 LIMIT $2))";

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}
