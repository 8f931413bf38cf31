//! What the seed examples share: the key store they open, how they print their demo keys, and how
//! they serve.
//!
//! Each example uses the part it needs, and the conformance tests include the examples as modules,
//! so some items go unused in any one crate.
#![allow(dead_code)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use keyward_core::{CreatedKey, KeyManager, KeyStore, ManagerError, StoreError};
use keyward_tower::AuditHandle;
use tempfile::TempDir;
use tokio::net::TcpListener;

/// Any error an example can meet while starting.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An example's server with what a caller (its `main`, or a conformance test) needs around it.
pub struct App {
    /// The routes, behind their `ApiKeyLayer`s.
    pub router: Router,
    /// The lifecycle of its keys: the dashboard's side (create, revoke, rotate, list).
    pub manager: KeyManager,
    /// The keys minted at start, by label; their tokens exist only here.
    pub keys: Vec<(&'static str, CreatedKey)>,
    /// The usage and audit recorders of its layers.
    pub audit: Vec<AuditHandle>,
}

impl App {
    /// The key minted under `label`.
    pub fn key(&self, label: &str) -> Option<&CreatedKey> {
        self.keys.iter().find(|(l, _)| *l == label).map(|(_, key)| key)
    }

    /// Writes the pending last-used times, request counts and audit events to the store.
    pub async fn flush(&self) {
        for audit in &self.audit {
            audit.flush().await;
        }
    }
}

/// The store named by `KEYWARD_STORE`, else a fresh SQLite file in a temporary directory (kept
/// alive by the returned guard).
///
/// # Errors
///
/// The store cannot be opened or the directory created.
pub async fn open_store() -> Result<(Arc<dyn KeyStore>, Option<TempDir>), BoxError> {
    match std::env::var("KEYWARD_STORE") {
        Ok(url) => Ok((keyward_core::store::open(&url).await?, None)),
        Err(_) => {
            let (store, dir) = temp_sqlite_store().await?;
            Ok((store, Some(dir)))
        }
    }
}

/// A fresh SQLite store at `sqlite://<tempdir>/keyward.db`; the file goes with the directory.
///
/// # Errors
///
/// The directory cannot be created or the database opened.
pub async fn temp_sqlite_store() -> Result<(Arc<dyn KeyStore>, TempDir), BoxError> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    let store = keyward_core::store::open(&url).await?;
    Ok((store, dir))
}

/// Runs an example: opens the store, builds the app, prints its keys (`key <label>: <token>`),
/// listens on `127.0.0.1:$PORT` (or `default_port`), and serves until Ctrl-C.
///
/// # Errors
///
/// Any step of the start, or the server failing.
pub async fn run<F, Fut>(default_port: u16, build: F) -> Result<(), BoxError>
where
    F: FnOnce(Arc<dyn KeyStore>) -> Fut,
    Fut: Future<Output = Result<App, BoxError>>,
{
    init_tracing("info");
    let (store, dir) = open_store().await?;
    let app = build(store)
        .await
        .map_err(|error| start_error(error, dir.is_none()))?;
    print_keys(&app);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port(default_port)?)).await?;
    println!("listening on http://127.0.0.1:{}", listener.local_addr()?.port());
    serve(listener, app.router.clone(), shutdown_signal()).await?;
    app.flush().await;
    Ok(())
}

/// Logs to stderr, filtered by `RUST_LOG`, else at `default` (`info`, `warn`).
pub fn init_tracing(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Explains a refusal to mint the demo keys in a store that outlives the example.
fn start_error(error: BoxError, persistent: bool) -> BoxError {
    let limit = matches!(
        error.downcast_ref::<ManagerError>(),
        Some(ManagerError::Store(StoreError::LimitReached { .. }))
    );
    if limit && persistent {
        format!(
            "{error}: the store named by KEYWARD_STORE already holds this example's demo keys from \
             earlier runs; revoke them (`keyward` CLI) or unset KEYWARD_STORE for a fresh store"
        )
        .into()
    } else {
        error
    }
}

/// Prints each minted key as `key <label>: <token>`, one a line. This is the one time they are shown.
pub fn print_keys(app: &App) {
    for (label, created) in &app.keys {
        println!("key {label}: {}", created.token.expose());
    }
}

/// `$PORT`, else `default`.
///
/// # Errors
///
/// `PORT` is set but is not a port number.
pub fn port(default: u16) -> Result<u16, BoxError> {
    match std::env::var("PORT") {
        Ok(text) => Ok(text
            .trim()
            .parse()
            .map_err(|_| format!("PORT must be a port number, not {text:?}"))?),
        Err(_) => Ok(default),
    }
}

/// Serves `router` on `listener` (with the client's address available to the layers for audit
/// records) until `shutdown` completes.
///
/// # Errors
///
/// The server failing.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves `router` on a free loopback port in the background and returns its address (for tests).
///
/// # Errors
///
/// No port can be bound.
pub async fn spawn(router: Router) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let address = listener.local_addr()?;
    tokio::spawn(serve(listener, router, std::future::pending()));
    Ok(address)
}

/// An app on a fresh SQLite store, served on a free loopback port: what a conformance test starts.
pub struct Served {
    /// The app.
    pub app: App,
    /// Where it listens.
    pub address: SocketAddr,
    /// The directory of the store's file; removed when dropped.
    pub dir: TempDir,
}

/// Builds an app with `build` on a fresh SQLite store ([`temp_sqlite_store`]) and serves it in the
/// background on a free loopback port ([`spawn`]), for tests.
///
/// # Errors
///
/// The store cannot be opened, the app not built, or no port bound.
pub async fn serve_fresh<F, Fut>(build: F) -> Result<Served, BoxError>
where
    F: FnOnce(Arc<dyn KeyStore>) -> Fut,
    Fut: Future<Output = Result<App, BoxError>>,
{
    let (store, dir) = temp_sqlite_store().await?;
    let app = build(store).await?;
    let address = spawn(app.router.clone()).await?;
    Ok(Served { app, address, dir })
}

/// Completes on Ctrl-C.
pub async fn shutdown_signal() {
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::warn!(%error, "cannot listen for Ctrl-C; serving until killed");
        std::future::pending::<()>().await;
    }
}
