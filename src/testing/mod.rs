//! A test kit for apps behind keyward (feature `testing`): keys minted in memory on a clock the
//! test moves, and a client that drives a router in process, so that handlers, scopes, rotation
//! and expiry are tested without a server, a database or a sleep.
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::{Router, routing::get};
//! use keyward::axum::AuthedKey;
//! use keyward::core::{Expiry, NewKey, TenantId};
//! use keyward::testing::{TestClient, TestKeys};
//!
//! async fn hello(key: AuthedKey) -> String {
//!     format!("hello {}", key.tenant)
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let keys = TestKeys::new();
//! let app = Router::new().route("/v1/hello", get(hello)).layer(keys.layer());
//! let client = TestClient::new(app);
//!
//! let token = keys.mint("site_1").await;
//! let ok = client.get("/v1/hello").bearer(&token).send().await;
//! assert_eq!(ok.status(), 200);
//! assert_eq!(ok.text(), "hello site_1");
//!
//! let refused = client.get("/v1/hello").send().await;
//! assert_eq!(refused.status(), 401);
//! assert_eq!(refused.error_code().as_deref(), Some("unauthorized"));
//! assert!(refused.request_id().is_some_and(|id| id.starts_with("req_")));
//!
//! // Time moves when the test says so.
//! let new = NewKey::new(TenantId::new("site_2")?).expires(Expiry::In(Duration::from_secs(60)));
//! let short = keys.mint_with(new).await.token.expose().to_owned();
//! keys.clock().advance(Duration::from_secs(61));
//! assert_eq!(client.get("/v1/hello").bearer(&short).send().await.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod client;
mod keys;

pub use client::{TestClient, TestRequest, TestResponse};
pub use keys::TestKeys;
