//! [`Harness`]: a store under test, a manual clock, and what to clean up afterwards.
//!
//! SQLite stores live in a temporary file; PostgreSQL stores in a fresh schema of the database at
//! `KEYWARD_TEST_POSTGRES_URL`, dropped when the test passes.

use std::sync::Arc;

use keyward_core::manager::KeyManagerBuilder;
use keyward_core::time::{ManualClock, Timestamp};
use keyward_core::{KeyManager, KeyStore, MemoryStore};

/// Where every test's clock starts: 2026-11-23T16:48:42Z.
pub const START: Timestamp = Timestamp::from_millis(1_795_452_522_000);

/// A store under test and its clock.
pub struct Harness {
    store: Arc<dyn KeyStore>,
    clock: ManualClock,
    backend: Backend,
}

enum Backend {
    Memory,
    #[cfg(feature = "sqlite")]
    Sqlite {
        // Held so the file outlives the test.
        _dir: tempfile::TempDir,
    },
    #[cfg(feature = "postgres")]
    Postgres(pg::Schema),
}

impl Harness {
    fn new(store: Arc<dyn KeyStore>, backend: Backend) -> Self {
        Self {
            store,
            clock: ManualClock::new(START),
            backend,
        }
    }

    /// A [`MemoryStore`].
    pub async fn memory() -> Self {
        Self::new(Arc::new(MemoryStore::new()), Backend::Memory)
    }

    /// A `SqliteStore` in a new temporary file, opened by URL.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = keyward_core::store::open(&sqlite::url(&dir))
            .await
            .expect("the SQLite store opens");
        Self::new(store, Backend::Sqlite { _dir: dir })
    }

    /// A `PostgresStore` in a new schema.
    #[cfg(feature = "postgres")]
    pub async fn postgres() -> Self {
        let schema = pg::Schema::create().await;
        let store = keyward_core::store::PostgresStore::connect_with(schema.options("main"))
            .await
            .expect("the PostgreSQL store connects");
        Self::new(Arc::new(store), Backend::Postgres(schema))
    }

    /// The store.
    pub fn store(&self) -> &dyn KeyStore {
        &*self.store
    }

    /// The store, shared.
    pub fn shared(&self) -> Arc<dyn KeyStore> {
        self.store.clone()
    }

    /// The clock every manager of this harness reads.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// A manager over the store and clock, configured by `configure`.
    pub fn manager(&self, configure: impl FnOnce(KeyManagerBuilder) -> KeyManagerBuilder) -> KeyManager {
        configure(KeyManager::builder_shared(self.store.clone()).clock(self.clock.clone()))
            .build()
            .expect("a valid manager configuration")
    }

    /// Whether the store also hears its own changes from the database (PostgreSQL's `NOTIFY`, the
    /// SQLite file's change log, read every 200 ms), so that a change can be heard more than once
    /// (on PostgreSQL, changes of other tests' keys too).
    pub fn hears_the_database(&self) -> bool {
        match self.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => true,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => true,
            _ => false,
        }
    }

    /// Cleans up after a passing test.
    pub async fn finish(self) {
        drop(self.store);
        match self.backend {
            Backend::Memory => {}
            #[cfg(feature = "sqlite")]
            Backend::Sqlite { .. } => {}
            #[cfg(feature = "postgres")]
            Backend::Postgres(schema) => schema.drop().await,
        }
    }
}

/// SQLite test databases.
#[cfg(feature = "sqlite")]
pub mod sqlite {
    /// A `sqlite://` URL for a database file in `dir`.
    pub fn url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}", dir.path().join("keys.db").display())
    }
}

/// PostgreSQL test schemas.
#[cfg(feature = "postgres")]
pub mod pg {
    use std::str::FromStr;
    use std::time::{SystemTime, UNIX_EPOCH};

    use sqlx::AssertSqlSafe;
    use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

    /// The test server's URL, or a failure that says how to start it.
    pub fn url() -> String {
        std::env::var("KEYWARD_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "KEYWARD_TEST_POSTGRES_URL is not set: run `scripts/test-servers start` and \
                 `eval \"$(scripts/test-servers env)\"` first"
            )
        })
    }

    /// A fresh schema, so that tests running at the same time do not see each other's keys.
    ///
    /// Its name holds its creation time: schemas left behind by failed runs are dropped by later
    /// runs once they are an hour old.
    pub struct Schema {
        admin: PgPool,
        name: String,
    }

    const PREFIX: &str = "kw_test_";
    const STALE_AFTER_SECS: u64 = 3600;

    impl Schema {
        /// Creates `kw_test_<unix seconds>_<random>`.
        pub async fn create() -> Self {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url())
                .await
                .expect("the PostgreSQL test server is up (`scripts/test-servers start`)");
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_secs();
            drop_stale(&admin, now).await;
            let name = format!("{PREFIX}{now}_{:016x}", rand::random::<u64>());
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                .execute(&admin)
                .await
                .expect("CREATE SCHEMA");
            Self { admin, name }
        }

        /// Options for a store in this schema; `role` names its connections
        /// (`application_name` = `<schema>_<role>`).
        pub fn options(&self, role: &str) -> PgConnectOptions {
            PgConnectOptions::from_str(&url())
                .expect("a valid KEYWARD_TEST_POSTGRES_URL")
                .options([("search_path", self.name.as_str())])
                .application_name(&self.application_name(role))
        }

        /// A store URL in this schema, for what takes a URL.
        pub fn url(&self) -> String {
            let base = url();
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}options=-c%20search_path%3D{}", self.name)
        }

        /// The `application_name` of a store made with [`options`](Self::options)`(role)`.
        pub fn application_name(&self, role: &str) -> String {
            format!("{}_{role}", self.name)
        }

        /// A connection outside the schema, for inspecting the server.
        pub fn admin(&self) -> &PgPool {
            &self.admin
        }

        /// Drops the schema and everything in it.
        pub async fn drop(self) {
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
                .execute(&self.admin)
                .await
                .expect("DROP SCHEMA");
            self.admin.close().await;
        }
    }

    /// Drops the test schemas made over an hour before `now` (by runs that failed).
    async fn drop_stale(admin: &PgPool, now: u64) {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
                .bind(PREFIX)
                .fetch_all(admin)
                .await
                .expect("list schemas");
        for name in names {
            let created = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split_once('_'))
                .and_then(|(secs, _)| secs.parse::<u64>().ok());
            if created.is_some_and(|secs| secs + STALE_AFTER_SECS < now) {
                // Another run may be dropping it too.
                let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
                    .execute(admin)
                    .await;
            }
        }
    }
}
