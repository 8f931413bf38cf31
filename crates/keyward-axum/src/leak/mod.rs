//! The leak-response endpoint for [GitHub secret scanning's partner program]: GitHub reports the
//! tokens of your format it finds in public (repositories, gists, issues, npm packages), and keyward
//! revokes the keys at once, records it in their audit log and answers GitHub which tokens were
//! real.
//!
//! [`router`] is a [`Router`] the application nests at the URL it registered with GitHub. It is
//! not behind [`ApiKeyLayer`](keyward_tower::ApiKeyLayer) (GitHub holds no key): nest it after the
//! layer was added, or declare its path public on the layer.
//!
//! - **Request**: `POST` with the JSON body `[{"token","type","url","source"}, …]` and the headers
//!   `Github-Public-Key-Identifier` (which key of [`GithubKeys`] signed it) and
//!   `Github-Public-Key-Signature` (base64 of the ASN.1 DER ECDSA P-256 / SHA-256 signature of the
//!   raw body). The signature is checked over the bytes as they came, before the body is read as
//!   JSON.
//! - **Each token** is parsed by the manager's token format and looked up by its hash, compared in
//!   constant time. Garbage, another format or no such key: `false_positive`. A key of the
//!   keyspace: `true_positive`, and by the [`LeakPolicy`] it is revoked at once (the default:
//!   every process on the store drops it within a second, through the store's change feed) or
//!   left working ([`LeakPolicy::Flag`]). A key revoked before is not revoked again.
//! - **Recorded**: an audit event of kind `key.leaked`
//!   ([`AuditKind::KeyLeaked`](keyward_core::audit::AuditKind::KeyLeaked)) for each reported key,
//!   whose `detail` is `{"reporter":"github","type","source","url","action"}` (`action`:
//!   `revoked`, `already_revoked` or `flagged`), and a warning on target `keyward::leak` naming the
//!   key by id and fingerprint. Never the token.
//! - **Answer**: 200 `[{"token_hash","token_type","label"}, …]`, GitHub's feedback format, the
//!   token named by its SHA-256 only.
//! - **Refusals**, in keyward's JSON envelope: 401 `missing_signature` (a header missing or
//!   repeated), 401 `unknown_signing_key`, 400 `malformed_signature` (not base64 of a DER
//!   signature), 401 `invalid_signature`, 413 `payload_too_large` (over
//!   [`max_body`](LeakEndpoint::max_body), 1 MiB by default), 400 `invalid_parameter` (not a JSON
//!   list of matches), 413 `too_many_tokens` (over [`max_tokens`](LeakEndpoint::max_tokens), 1 000
//!   by default), 405 and 404 for other methods and paths, 503 `store_unavailable` (GitHub sends
//!   the alert again).
//!
//! The regular expressions to register with GitHub, one per stored token format, are what
//! `keyward patterns` prints; the key set is GitHub's document at
//! `https://api.github.com/meta/public_keys/secret_scanning`, which the application gives
//! ([`GithubKeys::from_json`]) and refreshes by building the router again.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use keyward_axum::leak::{self, GithubKeys};
//! use keyward_core::{KeyManager, MemoryStore};
//! use keyward_tower::ApiKeyLayer;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! // In production: the document fetched from GitHub, kept in a file the app reads.
//! let keys = GithubKeys::from_json(r#"{"public_keys":[{
//!     "key_identifier": "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
//!     "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n",
//!     "is_current": true
//! }]}"#)?;
//! let app = Router::new()
//!     .route("/v1/overview", get(|| async { "overview" }))
//!     .layer(ApiKeyLayer::new(manager.clone()))
//!     // Nested after the layer: GitHub's alerts carry no API key.
//!     .nest("/github/secret-scanning", leak::router(manager, keys));
//!
//! // GitHub's documented sample alert, signed with its key.
//! let request = Request::post("/github/secret-scanning")
//!     .header("content-type", "application/json")
//!     .header("github-public-key-identifier", "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c")
//!     .header("github-public-key-signature", "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==")
//!     .body(Body::from(r#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#))?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK); // some_token is no key: a false positive
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! [GitHub secret scanning's partner program]: https://docs.github.com/en/code-security/secret-scanning/secret-scanning-partnership-program/secret-scanning-partner-program

mod alert;
mod handler;
mod keys;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use keyward_core::KeyManager;

pub use self::keys::{GithubKeys, KeySetError};
use crate::ApiError;

/// The endpoint over `manager`, verifying alerts with `keys`, revoking the keys reported; see the
/// module documentation.
///
/// Generic over the application's state, so it nests into any router.
pub fn router<S>(manager: KeyManager, keys: GithubKeys) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    LeakEndpoint::new(manager, keys).router()
}

/// What is done with a key reported leaked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeakPolicy {
    /// Revoked at once: every process on the store refuses it within a second.
    #[default]
    Revoke,
    /// Left working: the event and the warning are recorded, and the owner acts (rotates it).
    Flag,
}

/// Configures the leak-response endpoint; [`router`] takes the defaults.
#[derive(Clone)]
#[must_use]
pub struct LeakEndpoint {
    manager: KeyManager,
    keys: GithubKeys,
    policy: LeakPolicy,
    max_body: usize,
    max_tokens: usize,
}

impl fmt::Debug for LeakEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeakEndpoint")
            .field("manager", &self.manager)
            .field("keys", &self.keys)
            .field("policy", &self.policy)
            .field("max_body", &self.max_body)
            .field("max_tokens", &self.max_tokens)
            .finish()
    }
}

impl LeakEndpoint {
    /// The endpoint over `manager` with GitHub's `keys`: [`LeakPolicy::Revoke`], bodies up to 1 MiB,
    /// up to 1 000 tokens an alert.
    pub fn new(manager: KeyManager, keys: GithubKeys) -> Self {
        Self {
            manager,
            keys,
            policy: LeakPolicy::default(),
            max_body: 1024 * 1024,
            max_tokens: 1000,
        }
    }

    /// What is done with a reported key.
    pub fn policy(mut self, policy: LeakPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The largest alert body read, in bytes (413 past it).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The most tokens one alert may report (413 past it).
    pub fn max_tokens(mut self, tokens: usize) -> Self {
        self.max_tokens = tokens;
        self
    }

    /// The router: `POST /`, and keyward's envelope for other methods and paths.
    pub fn router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        Router::new()
            .route("/", post(handler::alert))
            .method_not_allowed_fallback(|| async {
                ApiError::new(
                    http::StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "Alerts are sent with POST",
                )
            })
            .fallback(|| async { ApiError::not_found("No such endpoint") })
            .with_state(Endpoint(Arc::new(self)))
    }
}

/// The handler's state.
#[derive(Clone)]
struct Endpoint(Arc<LeakEndpoint>);

impl std::ops::Deref for Endpoint {
    type Target = LeakEndpoint;

    fn deref(&self) -> &LeakEndpoint {
        &self.0
    }
}
