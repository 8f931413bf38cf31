//! The axum quick start: the `AuthedKey` extractor, route guards and the key-management API.
//!
//! ```text
//! cargo run --example axum_quickstart          # PORT=8080 to listen elsewhere
//! curl -H "Authorization: Bearer <key demo>" http://127.0.0.1:3000/v1/overview
//! curl -H "Authorization: Bearer <key demo>" http://127.0.0.1:3000/v1/keys
//! ```

use axum::Router;
use axum::routing::get;
use keyward::axum::guard::{RequireScopes, RouteCost};
use keyward::axum::{AuthedKey, management, scope};
use keyward::core::{KeyManager, MemoryStore, NewKey, TenantId};
use keyward::tower::ApiKeyLayer;

scope!(pub AnalyticsRead = "analytics:read");

/// Any key of the tenant with `analytics:read`.
async fn overview(key: AuthedKey<TenantId, AnalyticsRead>) -> String {
    format!("analytics overview of {} (tier {})\n", key.tenant, key.tier)
}

/// Guarded by route layers: `customers:read`, and a cost of 3 rate-limit units.
async fn customers(key: AuthedKey) -> String {
    format!("customers of {}\n", key.tenant)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let manager = KeyManager::new(MemoryStore::new());
    let layer = ApiKeyLayer::builder(manager.clone()).public("/health").build()?;
    let app = Router::new()
        .route("/v1/overview", get(overview))
        .route(
            "/v1/customers",
            get(customers)
                .route_layer(RequireScopes::new(["customers:read"]))
                .route_layer(RouteCost::new(3)),
        )
        .nest("/v1/keys", management::router(manager.clone()))
        .route("/health", get(|| async { "ok\n" }))
        .layer(layer.clone());

    let demo = NewKey::new(TenantId::new("site_demo")?)
        .name("demo")
        .scopes("analytics:read customers:read keys:read keys:write".parse()?);
    let demo = manager.create(demo).await?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("key demo: {}", demo.token.expose());
    println!("listening on http://127.0.0.1:{}", listener.local_addr()?.port());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if let Some(audit) = layer.audit() {
        audit.flush().await;
    }
    Ok(())
}
