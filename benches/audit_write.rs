//! What the usage and audit writer costs the store per audit event: one batch of 1 024 events (the
//! writer's default batch, shaped as requests make them) appended by each SQL store's
//! `append_audit` (SQLite: multi-row `INSERT`s of up to 128 rows; PostgreSQL: one
//! `COPY … FROM STDIN`), beside the two ways an application would write them by hand on the same
//! pool: one `INSERT` a row, and (PostgreSQL) multi-row `INSERT`s of 128 rows. All in one
//! transaction a batch, as the store does.
//!
//! SQLite writes to a fresh file in the target directory; PostgreSQL to a fresh schema of the
//! database at `KEYWARD_TEST_POSTGRES_URL` (skipped, with the reason printed, when that variable is
//! unset or the benchmark was built without `--features postgres`). The tables grow by a batch each
//! iteration, as an audit log does.
//!
//! Run with `cargo bench --bench audit_write --features postgres`.

#[cfg(feature = "postgres")]
#[path = "common/postgres_schema.rs"]
mod postgres_schema;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyward_core::audit::{AuditEvent, AuditKind};
use keyward_core::store::SqliteStore;
use keyward_core::time::Timestamp;
use keyward_core::{KeyManager, KeyStore, NewKey, TenantId};
use sqlx::{AssertSqlSafe, Database, Encode, Executor, IntoArguments, Pool, Type};
use tokio::runtime::Runtime;

/// Events a batch: the writer's default.
const BATCH: usize = 1_024;
/// Rows of one hand-written multi-row `INSERT` (PostgreSQL).
#[cfg(feature = "postgres")]
const ROWS_PER_INSERT: usize = 128;
/// The audit table's columns, in the order the hand-written statements bind them.
const COLUMNS: &str =
    "at, request_id, key_id, tenant, fingerprint, method, path, status, client_ip, user_agent, kind, detail";

/// A batch of events of one key, as the writer makes them from requests.
async fn batch(manager: &KeyManager) -> Vec<AuditEvent> {
    let key = manager
        .create(NewKey::new(TenantId::new("site_1").expect("a tenant")))
        .await
        .expect("create a key")
        .key;
    let at = Timestamp::now();
    (0..BATCH)
        .map(|n| AuditEvent {
            at,
            request_id: format!("req_{n:022}"),
            key_id: key.id.clone(),
            tenant: key.tenant.clone(),
            fingerprint: key.fingerprint(),
            method: "GET".into(),
            path: format!("/v1/events/{n}"),
            status: 200,
            client_ip: Some("203.0.113.7".into()),
            user_agent: Some("example-sdk/2.4.1 (linux; x86_64)".into()),
            kind: AuditKind::Request,
            detail: None,
        })
        .collect()
}

/// `INSERT INTO keyward_audit … VALUES (…), (…)` of `rows` rows, `$n` numbered as sqlx expects.
fn insert(rows: usize) -> String {
    let mut sql = format!("INSERT INTO keyward_audit ({COLUMNS}) VALUES ");
    for row in 0..rows {
        let first = row * 12;
        let placeholders: Vec<String> = (1..=12).map(|n| format!("${}", first + n)).collect();
        let separator = if row == 0 { "" } else { ", " };
        let _ = write!(sql, "{separator}({})", placeholders.join(", "));
    }
    sql
}

/// Appends `events` in one transaction, `rows` a statement, binding each column as the stores do.
async fn by_hand<DB>(pool: &Pool<DB>, events: &[AuditEvent], rows: usize)
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    i32: for<'t> Encode<'t, DB> + Type<DB>,
{
    let sql = insert(rows);
    let mut tx = pool.begin().await.expect("a transaction");
    for chunk in events.chunks(rows) {
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for event in chunk {
            query = query
                .bind(event.at.as_millis())
                .bind(event.request_id.clone())
                .bind(event.key_id.to_string())
                .bind(event.tenant.to_string())
                .bind(event.fingerprint.to_string())
                .bind(event.method.clone())
                .bind(event.path.clone())
                .bind(i32::from(event.status))
                .bind(event.client_ip.clone())
                .bind(event.user_agent.clone())
                .bind(event.kind.as_str().to_owned())
                .bind(event.detail.clone());
        }
        query.execute(&mut *tx).await.expect("the insert");
    }
    tx.commit().await.expect("the commit");
}

/// The store's own append.
async fn append(store: &Arc<dyn KeyStore>, events: &[AuditEvent]) {
    store.append_audit(events).await.expect("the store appends");
}

/// Measures `write` appending one batch, reported per event.
fn measure<F: Future<Output = ()>>(c: &mut Criterion, rt: &Runtime, name: &str, write: impl Fn() -> F) {
    let mut group = c.benchmark_group("audit_write");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(name, |b| b.iter(|| rt.block_on(write())));
    group.finish();
}

fn bench_audit_write(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit_write");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the benchmark's directory");
    let url = format!("sqlite://{}?mode=rwc", dir.join("audit.db").display());
    let store = rt.block_on(SqliteStore::open(&url)).expect("the SQLite store");
    let pool = store.pool().clone();
    let manager = KeyManager::new(store);
    let events = rt.block_on(batch(&manager));
    measure(c, &rt, "sqlite_store", || append(manager.store(), &events));
    measure(c, &rt, "sqlite_insert_a_row", || by_hand(&pool, &events, 1));

    postgres(c, &rt);
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion, rt: &Runtime) {
    use keyward_core::store::PostgresStore;

    let schema = match rt.block_on(postgres_schema::Schema::create()) {
        Ok(schema) => schema,
        Err(why) => {
            eprintln!("audit_write: PostgreSQL skipped: {why}");
            return;
        }
    };
    eprintln!("audit_write: PostgreSQL schema {}", schema.name());
    let store = rt
        .block_on(PostgresStore::connect_with(schema.options()))
        .expect("the PostgreSQL store");
    let pool = store.pool().clone();
    let manager = KeyManager::new(store);
    let events = rt.block_on(batch(&manager));
    measure(c, rt, "postgres_store", || append(manager.store(), &events));
    measure(c, rt, "postgres_insert_128_rows", || {
        by_hand(&pool, &events, ROWS_PER_INSERT)
    });
    measure(c, rt, "postgres_insert_a_row", || by_hand(&pool, &events, 1));
    rt.block_on(pool.close());
    rt.block_on(schema.drop());
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion, _: &Runtime) {
    eprintln!("audit_write: PostgreSQL skipped: built without `--features postgres`");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench_audit_write
}
criterion_main!(benches);
