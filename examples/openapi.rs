//! An OpenAPI document for an app behind keyward (feature `openapi`): the app's own paths from
//! utoipa's derive, and `ApiKeySecurity` adding what the layer does to them (the security schemes,
//! the error envelope, the request-id and rate-limit headers, the 401, 403 and 429 answers), with
//! the key-management router's paths.
//!
//! ```text
//! cargo run --example openapi --features openapi     # prints the document as JSON
//! ```

use axum::extract::Query;
use keyward::axum::openapi::{ApiKeySecurity, ManagementPaths};
use keyward::axum::{ApiError, AuthedKey};
use keyward::core::{KeyManager, MemoryStore};
use keyward::tower::ApiKeyLayer;
use serde::Deserialize;
use utoipa::{Modify, OpenApi};

/// The overview's query.
#[derive(Deserialize)]
pub struct Range {
    /// How many days back, at most 366.
    pub days: Option<u32>,
}

/// The tenant's analytics overview.
#[utoipa::path(
    get,
    path = "/v1/overview",
    tag = "analytics",
    params(("days" = Option<u32>, Query, description = "How many days back, at most 366")),
    responses(
        (status = 200, description = "The overview", body = String),
        (status = 400, description = "`invalid_date_range`", body = Object),
    )
)]
pub async fn overview(key: AuthedKey, Query(range): Query<Range>) -> Result<String, ApiError> {
    match range.days {
        Some(days) if days > 366 => Err(ApiError::invalid_date_range("The date range exceeds 366 days")),
        days => Ok(format!(
            "overview of {} over {} days",
            key.tenant,
            days.unwrap_or(30)
        )),
    }
}

/// Needs no key.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "Up", body = String)))]
pub async fn health() -> &'static str {
    "ok"
}

#[derive(OpenApi)]
#[openapi(info(title = "Analytics API", version = "1"), paths(overview, health))]
struct ApiDoc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let layer = ApiKeyLayer::builder(KeyManager::new(MemoryStore::new()))
        .public("/health")
        .build()?;
    let mut doc = ApiDoc::openapi();
    // The key-management router, nested at /v1/keys.
    ManagementPaths::new("/v1/keys").modify(&mut doc);
    // The schemes follow the layer's credential sources; its public paths are left alone.
    ApiKeySecurity::for_layer(&layer).modify(&mut doc);
    println!("{}", doc.to_pretty_json()?);
    Ok(())
}
