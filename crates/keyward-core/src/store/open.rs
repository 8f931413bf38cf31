//! [`open`]: a store from a URL, for configuration files and the command line.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let store = keyward_core::store::open("memory:").await?;
//! assert!(store.list(&keyward_core::TenantId::new("site_1")?).await?.is_empty());
//!
//! let refused = keyward_core::store::open("mysql://localhost/keys").await;
//! assert!(matches!(refused, Err(keyward_core::StoreError::UnsupportedUrl(_))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use super::{KeyStore, MemoryStore, Migrations, StoreError};

/// The backends a URL can name, by scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Memory,
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Result<Self, StoreError> {
        let (scheme, rest) = url.split_once(':').unwrap_or_default();
        match scheme.to_ascii_lowercase().as_str() {
            "memory" if rest.is_empty() || rest == "//" => Ok(Self::Memory),
            "memory" => Err(StoreError::UnsupportedUrl(
                "a memory store takes no path or options: use `memory:`".into(),
            )),
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedUrl(
                "expected `memory:`, `sqlite://<path>`, `sqlite::memory:` or `postgres://…`".into(),
            )),
        }
    }
}

/// Opens the store a URL names:
///
/// - `memory:` — a [`MemoryStore`];
/// - `sqlite://<path>`, `sqlite:<path>` or `sqlite::memory:` — a `SqliteStore` (feature `sqlite`),
///   the file created on first use;
/// - `postgres://…` or `postgresql://…` — a `PostgresStore` (feature `postgres`).
///
/// The SQL stores run their migrations before this returns.
///
/// # Errors
///
/// [`StoreError::UnsupportedUrl`] for an unknown scheme or a backend whose feature is off (the
/// message never repeats the URL, which can hold a password); [`StoreError::Unavailable`] when the
/// database cannot be opened.
///
/// # Panics
///
/// For a PostgreSQL URL, when called outside a Tokio runtime (the store spawns its listener).
pub async fn open(url: &str) -> Result<Arc<dyn KeyStore>, StoreError> {
    open_with(url, Migrations::Apply).await
}

/// As [`open`], treating a SQL store's schema as `migrations` says.
///
/// # Errors
///
/// As [`open`], and [`StoreError::SchemaOutdated`] for an older schema when the current one is
/// required.
///
/// # Panics
///
/// As [`open`].
pub async fn open_with(url: &str, migrations: Migrations) -> Result<Arc<dyn KeyStore>, StoreError> {
    let backend = Backend::of(url)?;
    let store: Arc<dyn KeyStore> = match backend {
        Backend::Memory => Arc::new(MemoryStore::new()),
        Backend::Sqlite => open_sqlite(url, migrations).await?,
        Backend::Postgres => open_postgres(url, migrations).await?,
    };
    tracing::info!(target: "keyward::store", ?backend, "key store opened");
    Ok(store)
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(url: &str, migrations: Migrations) -> Result<Arc<dyn KeyStore>, StoreError> {
    Ok(Arc::new(super::SqliteStore::open_with(url, migrations).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(_url: &str, _migrations: Migrations) -> Result<Arc<dyn KeyStore>, StoreError> {
    Err(StoreError::UnsupportedUrl(
        "SQLite URLs need keyward-core's `sqlite` feature".into(),
    ))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str, migrations: Migrations) -> Result<Arc<dyn KeyStore>, StoreError> {
    Ok(Arc::new(super::PostgresStore::open_with(url, migrations).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str, _migrations: Migrations) -> Result<Arc<dyn KeyStore>, StoreError> {
    Err(StoreError::UnsupportedUrl(
        "PostgreSQL URLs need keyward-core's `postgres` feature".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_pick_the_backend() {
        let cases = [
            ("memory:", Some(Backend::Memory)),
            ("memory://", Some(Backend::Memory)),
            ("MEMORY:", Some(Backend::Memory)),
            ("memory:x", None),
            ("memory://x", None),
            ("sqlite://keys.db", Some(Backend::Sqlite)),
            ("sqlite:keys.db", Some(Backend::Sqlite)),
            ("sqlite::memory:", Some(Backend::Sqlite)),
            ("postgres://u@h/db", Some(Backend::Postgres)),
            ("postgresql://u@h/db", Some(Backend::Postgres)),
            ("mysql://u@h/db", None),
            ("keys.db", None),
            ("", None),
        ];
        for (url, expected) in cases {
            assert_eq!(Backend::of(url).ok(), expected, "{url:?}");
        }
    }

    #[test]
    fn refusals_do_not_repeat_the_url() {
        let Err(StoreError::UnsupportedUrl(reason)) = Backend::of("mysql://user:hunter2@db/keys") else {
            panic!("mysql is not a backend");
        };
        assert!(!reason.contains("hunter2"), "{reason}");
    }
}
