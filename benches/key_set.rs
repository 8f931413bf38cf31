//! Key-set benchmarks: what verifying a request costs with a thousand and with a million keys in
//! the store, on SQLite and on PostgreSQL, for a cache hit and for a cache miss (every request
//! asks the store: one query on the `lookup` column's unique index, checked with the query plan
//! before the run).
//!
//! Each store holds 1 000 keys made with `KeyManager::create`, whose tokens the requests carry in
//! a fixed shuffled order; the million-key stores also hold 999 000 more rows, copies of the first
//! key's row with their own id, tenant (10 000 of them) and random lookup of the same shape,
//! inserted by the database itself (`INSERT … SELECT` in batches of 100 000, in one transaction)
//! through the store's own schema. The populated SQLite files are kept in the target directory
//! (`target/tmp/key_set/`) with their tokens beside them, so that reruns do not rebuild them
//! (delete the directory to start over); PostgreSQL stores are made in a fresh schema of the
//! database at `KEYWARD_TEST_POSTGRES_URL` and dropped afterwards, or skipped with the reason
//! printed when that variable is unset or the benchmark was built without `--features postgres`.
//!
//! The layer runs with recording off, so that no request writes to the store (which would also
//! change the kept SQLite files). Every variant drives the same router as `request_path`, with
//! `oneshot` on a current-thread runtime.
//!
//! Run with `cargo bench --bench key_set --features postgres` (the first run builds the
//! million-key SQLite file: about a minute more).

mod common;
#[cfg(feature = "postgres")]
#[path = "common/postgres_schema.rs"]
mod postgres_schema;

use std::cell::Cell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keyward_core::store::SqliteStore;
use keyward_core::{KeyManager, NewKey, TenantId};
use keyward_tower::CacheConfig;
use sqlx::{AssertSqlSafe, Database, Encode, Executor, IntoArguments, Pool, Type};
use tokio::runtime::Runtime;
use tower::ServiceExt;

use common::{app, background_runtime, bearer, keyward_layer, request, request_runtime};

/// Keys made through the key manager, whose tokens the requests carry.
const REAL_KEYS: usize = 1_000;
/// Store sizes measured.
const SIZES: [u64; 2] = [1_000, 1_000_000];
/// Rows inserted by one statement of the fill.
const FILL_BATCH: u64 = 100_000;
/// Step through the real keys (coprime with [`REAL_KEYS`]): consecutive requests carry keys far
/// apart in creation order.
const STRIDE: usize = 617;

/// The columns of `keyward_keys`, in the order the fill writes them.
const COLUMNS: &str = "id, tenant, lookup, secret_hash, display_prefix, kind, environment, scopes, \
     tier, name, created_at, expires_at, revoked_at, last_used_at, request_count, lineage, \
     rotated_from, grace_until, keyspace";

/// The fill's lookups: `p:` and eight characters, as the default format's public prefixes, made
/// of the row number `n` as `(n × SPREAD) mod 16⁷` in seven hex digits (distinct for every `n`
/// under 16⁷, since `SPREAD` is odd, and spread over the index rather than in creation order),
/// then `-`, which no real prefix holds.
const SPREAD: u64 = 2_654_435_761;

/// The fill's copies of the template row `?3`, numbered `?1` to `?2`, on SQLite.
fn sqlite_fill() -> String {
    format!(
        "INSERT INTO keyward_keys ({COLUMNS}) \
         WITH RECURSIVE seq(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?2) \
         SELECT 'fill_' || n, 'fill_' || (n % 10000), \
         'p:' || printf('%07x', (n * {SPREAD}) % 268435456) || '-', \
         t.secret_hash, t.display_prefix, t.kind, t.environment, t.scopes, t.tier, t.name, \
         t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.request_count, 'fill_' || n, \
         t.rotated_from, t.grace_until, t.keyspace \
         FROM seq, keyward_keys AS t WHERE t.id = ?3"
    )
}

/// The requests of one store: its router and the real keys' credentials.
struct Store {
    manager: KeyManager,
    credentials: Vec<HeaderValue>,
}

impl Store {
    /// keyward over the application on this store, recording off, with `cache`.
    fn router(&self, background: &Runtime, cache: CacheConfig) -> Router {
        let layer = keyward_layer(&self.manager, background, |layer| layer.no_audit().cache(cache));
        app().layer(layer).with_state(())
    }
}

/// Creates the real keys; returns their tokens and the id of the first (the fill's template).
///
/// # Panics
///
/// When the keys are not looked up by a public prefix of eight characters (see [`SPREAD`]).
async fn real_keys(manager: &KeyManager) -> (Vec<String>, String) {
    let mut tokens = Vec::with_capacity(REAL_KEYS);
    let mut template = None;
    for i in 0..REAL_KEYS {
        let tenant = TenantId::new(format!("tenant_{i}")).expect("a valid tenant id");
        let created = manager
            .create(NewKey::new(tenant))
            .await
            .expect("a key is created");
        let lookup = created.key.lookup.to_string();
        assert!(
            lookup.starts_with("p:") && lookup.len() == 10,
            "the fill writes lookups of the default format"
        );
        template.get_or_insert_with(|| created.key.id.to_string());
        tokens.push(created.token.expose().to_owned());
    }
    (tokens, template.expect("at least one key"))
}

/// The batches `(first, last)` of row numbers filling a store of `size` keys.
fn fill_batches(size: u64) -> impl Iterator<Item = (i64, i64)> {
    let rows = size.saturating_sub(REAL_KEYS as u64);
    (0..rows.div_ceil(FILL_BATCH)).map(move |b| {
        let first = b * FILL_BATCH + 1;
        let last = (first + FILL_BATCH - 1).min(rows);
        (
            i64::try_from(first).expect("small"),
            i64::try_from(last).expect("small"),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// SQLite.

/// The SQLite store of `size` keys, from `target/tmp/key_set/` or built there.
async fn sqlite_store(size: u64) -> Store {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("key_set");
    std::fs::create_dir_all(&dir).expect("the key-set directory");
    let db = dir.join(format!("sqlite_{size}.db"));
    let tokens_file = dir.join(format!("sqlite_{size}.tokens"));
    // The tokens are written last: a file without them is an interrupted build.
    let tokens = match std::fs::read_to_string(&tokens_file) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(_) => build_sqlite(size, &db, &tokens_file).await,
    };
    let store = SqliteStore::open(&format!("sqlite://{}", db.display()))
        .await
        .expect("the SQLite store opens");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keyward_keys")
        .fetch_one(store.pool())
        .await
        .expect("count the keys");
    assert_eq!(u64::try_from(count).ok(), Some(size), "{}", db.display());
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("EXPLAIN QUERY PLAN SELECT id FROM keyward_keys WHERE lookup = ?1")
            .bind("h:0")
            .fetch_all(store.pool())
            .await
            .expect("the query plan");
    assert!(
        plan.iter().any(|(.., detail)| detail.contains("USING INDEX")),
        "the lookup is not indexed: {plan:?}"
    );
    Store {
        manager: KeyManager::new(store),
        credentials: tokens.iter().map(|t: &String| bearer(t)).collect(),
    }
}

/// Makes the real keys through `manager`, then `size` rows in all with the fill statement `sql`
/// (`$1`..`$2` the row numbers, `$3` the template key's id), in one transaction; the tokens.
async fn fill<DB>(pool: &Pool<DB>, manager: &KeyManager, sql: &str, size: u64) -> Vec<String>
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    let (tokens, template) = real_keys(manager).await;
    let mut tx = pool.begin().await.expect("a transaction");
    for (first, last) in fill_batches(size) {
        sqlx::query(AssertSqlSafe(sql))
            .bind(first)
            .bind(last)
            .bind(template.clone())
            .execute(&mut *tx)
            .await
            .expect("the fill");
    }
    tx.commit().await.expect("the fill commits");
    tokens
}

async fn build_sqlite(size: u64, db: &Path, tokens_file: &Path) -> Vec<String> {
    for stale in [db.to_path_buf(), with_suffix(db, "-wal"), with_suffix(db, "-shm")] {
        let _ = std::fs::remove_file(stale);
    }
    let started = Instant::now();
    let store = SqliteStore::open(&format!("sqlite://{}", db.display()))
        .await
        .expect("the SQLite store opens");
    let pool = store.pool().clone();
    let tokens = fill(&pool, &KeyManager::new(store), &sqlite_fill(), size).await;
    sqlx::query("ANALYZE").execute(&pool).await.expect("ANALYZE");
    pool.close().await;
    let partial = with_suffix(tokens_file, ".partial");
    std::fs::write(&partial, tokens.join("\n")).expect("the tokens file");
    std::fs::rename(&partial, tokens_file).expect("the tokens file");
    eprintln!(
        "key_set: built {} ({size} keys) in {:.1} s",
        db.display(),
        started.elapsed().as_secs_f64()
    );
    tokens
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL.

#[cfg(feature = "postgres")]
mod pg {
    use std::time::Instant;

    use keyward_core::KeyManager;
    use keyward_core::store::PostgresStore;

    pub(super) use super::postgres_schema::Schema;
    use super::{COLUMNS, SPREAD, Store, bearer};

    /// The fill's copies of the template row `$3`, numbered `$1` to `$2`, on PostgreSQL.
    fn fill() -> String {
        format!(
            "INSERT INTO keyward_keys ({COLUMNS}) \
             SELECT 'fill_' || n, 'fill_' || (n % 10000), \
             'p:' || lpad(to_hex((n * {SPREAD}) % 268435456), 7, '0') || '-', \
             t.secret_hash, t.display_prefix, t.kind, t.environment, t.scopes, t.tier, t.name, \
             t.created_at, t.expires_at, t.revoked_at, t.last_used_at, t.request_count, \
             'fill_' || n, t.rotated_from, t.grace_until, t.keyspace \
             FROM generate_series($1::bigint, $2::bigint) AS n, keyward_keys AS t WHERE t.id = $3"
        )
    }

    /// A store of `size` keys in `schema`.
    pub(super) async fn store(schema: &Schema, size: u64) -> Store {
        let started = Instant::now();
        let store = PostgresStore::connect_with(schema.options())
            .await
            .expect("the PostgreSQL store opens");
        sqlx::query("TRUNCATE keyward_keys")
            .execute(store.pool())
            .await
            .expect("TRUNCATE");
        let pool = store.pool().clone();
        let manager = KeyManager::new(store);
        let tokens = super::fill(&pool, &manager, &fill(), size).await;
        sqlx::query("ANALYZE keyward_keys")
            .execute(&pool)
            .await
            .expect("ANALYZE");
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keyward_keys")
            .fetch_one(&pool)
            .await
            .expect("count the keys");
        assert_eq!(u64::try_from(count).ok(), Some(size));
        let plan: Vec<String> =
            sqlx::query_scalar("EXPLAIN SELECT id FROM keyward_keys WHERE lookup = 'h:0'")
                .fetch_all(&pool)
                .await
                .expect("the query plan");
        assert!(
            plan.iter().any(|line| line.contains("Index")),
            "the lookup is not indexed: {plan:?}"
        );
        eprintln!(
            "key_set: PostgreSQL schema {} with {size} keys in {:.1} s",
            schema.name(),
            started.elapsed().as_secs_f64()
        );
        Store {
            manager,
            credentials: tokens.iter().map(|t| bearer(t)).collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The measurement.

/// Measures a cache hit and a cache miss on `store`, as `backend/size/{cache_hit,cache_miss}`.
fn measure(c: &mut Criterion, rt: &Runtime, background: &Runtime, backend: &str, size: u64, store: &Store) {
    let mut group = c.benchmark_group("key_set");
    let no_cache = CacheConfig {
        capacity: 0,
        ..CacheConfig::default()
    };
    for (case, cache) in [("cache_hit", CacheConfig::default()), ("cache_miss", no_cache)] {
        let router = store.router(background, cache);
        let send = |i: usize| {
            let credential = &store.credentials[(i * STRIDE) % store.credentials.len()];
            let Ok(response) = rt.block_on(router.clone().oneshot(request(credential)));
            response
        };
        // Every key once: the checks, and the caches warm for the hits.
        for i in 0..store.credentials.len() {
            assert_eq!(send(i).status(), StatusCode::OK, "{backend}/{size}/{case}");
        }
        let next = Cell::new(0);
        group.bench_function(BenchmarkId::new(format!("{backend}/{size}"), case), |b| {
            b.iter(|| {
                let i = next.get();
                next.set(i + 1);
                black_box(send(i))
            });
        });
        assert_eq!(
            send(0).status(),
            StatusCode::OK,
            "{backend}/{size}/{case} after the run"
        );
    }
    group.finish();
}

fn bench_key_set(c: &mut Criterion) {
    let rt = request_runtime();
    let background = background_runtime();
    for size in SIZES {
        let store = background.block_on(sqlite_store(size));
        measure(c, &rt, &background, "sqlite", size, &store);
    }
    postgres(c, &rt, &background);
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion, rt: &Runtime, background: &Runtime) {
    let schema = match background.block_on(pg::Schema::create()) {
        Ok(schema) => schema,
        Err(reason) => {
            eprintln!("key_set: PostgreSQL skipped: {reason}");
            return;
        }
    };
    for size in SIZES {
        let store = background.block_on(pg::store(&schema, size));
        measure(c, rt, background, "postgres", size, &store);
    }
    background.block_on(schema.drop());
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion, _: &Runtime, _: &Runtime) {
    eprintln!("key_set: PostgreSQL skipped: built without `--features postgres`");
}

criterion_group! {
    name = benches;
    config = common::criterion(40);
    targets = bench_key_set
}
criterion_main!(benches);
