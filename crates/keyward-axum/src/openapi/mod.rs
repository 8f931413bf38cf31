//! OpenAPI (feature `openapi`): [`ApiKeySecurity`], a [`utoipa::Modify`] that declares what
//! [`ApiKeyLayer`] does to the routes behind it in an application's OpenAPI document.
//!
//! It adds to the document's components:
//! - the security schemes the layer reads: [`BEARER_SCHEME`] (HTTP `bearer`) and [`API_KEY_SCHEME`]
//!   (an `apiKey` in the layer's API-key header, `X-API-Key` by default);
//! - the error envelope schema [`ERROR_SCHEMA`],
//!   `{"error":{"code","message","status","request_id","param"?}}`;
//! - the headers `X-Request-Id`, `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`
//!   and `Retry-After`;
//! - the responses [`UNAUTHORIZED`] (401, with `WWW-Authenticate`), [`FORBIDDEN`] (403) and
//!   [`TOO_MANY_REQUESTS`] (429, with `Retry-After`), in the envelope.
//!
//! To each operation it covers (every operation, or those under the given path prefixes or with
//! the given tags; for [`ApiKeySecurity::for_layer`], not those on the layer's public paths) it
//! adds the security requirement (either scheme), the 401, 403 and 429 responses where the
//! operation declares none of its own for the status, and the `X-Request-Id` and rate-limit
//! headers to each of its responses.
//!
//! A key in a JSON body field ([`CredentialSources::body_field`]) has no OpenAPI security scheme;
//! the bearer scheme's description names the field.
//!
//! ```
//! use keyward_axum::openapi::ApiKeySecurity;
//! use keyward_core::{KeyManager, MemoryStore};
//! use keyward_tower::ApiKeyLayer;
//! use utoipa::Modify;
//! use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
//! use utoipa::openapi::{InfoBuilder, OpenApiBuilder, PathsBuilder, ResponseBuilder};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let layer = ApiKeyLayer::builder(KeyManager::new(MemoryStore::new())).public("/health").build()?;
//! // The application's document, from `#[derive(OpenApi)]` or built by hand.
//! let ok = || OperationBuilder::new().response("200", ResponseBuilder::new().description("OK")).build();
//! let mut doc = OpenApiBuilder::new()
//!     .info(InfoBuilder::new().title("Analytics").version("1").build())
//!     .paths(
//!         PathsBuilder::new()
//!             .path("/v1/overview", PathItem::new(HttpMethod::Get, ok()))
//!             .path("/health", PathItem::new(HttpMethod::Get, ok())),
//!     )
//!     .build();
//! ApiKeySecurity::for_layer(&layer).modify(&mut doc);
//!
//! let json = serde_json::to_value(&doc)?;
//! let overview = &json["paths"]["/v1/overview"]["get"];
//! assert_eq!(overview["security"], serde_json::json!([{"bearer": []}, {"api_key": []}]));
//! assert_eq!(overview["responses"]["429"]["$ref"], "#/components/responses/TooManyRequests");
//! assert!(overview["responses"]["200"]["headers"]["X-RateLimit-Remaining"].is_object());
//! assert!(json["paths"]["/health"]["get"].get("security").is_none());
//! assert_eq!(json["components"]["securitySchemes"]["api_key"]["name"], "x-api-key");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! [`ManagementPaths`] adds the paths of the key-management [router](crate::management::router)
//! (apply it before `ApiKeySecurity`, which then covers them too).
//!
//! [`ApiKeyLayer`]: keyward_tower::ApiKeyLayer
//! [`CredentialSources::body_field`]: keyward_tower::CredentialSources::body_field

mod management;
mod security;

pub use management::{AUDIT_EVENT_SCHEMA, CREATED_SCHEMA, KEY_SCHEMA, ManagementPaths};
pub use security::{
    API_KEY_SCHEME, ApiKeySecurity, BEARER_SCHEME, ERROR_SCHEMA, FORBIDDEN, TOO_MANY_REQUESTS, UNAUTHORIZED,
};
