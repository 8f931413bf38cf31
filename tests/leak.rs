//! The leak-response endpoint (`keyward::axum::leak`) over real HTTP: alerts signed as GitHub signs
//! them, sent to an app on loopback whose API is behind `ApiKeyLayer`, on the memory store, a
//! SQLite file and PostgreSQL. A reported key is revoked (or flagged), its audit log says so, and
//! every refusal is a 4xx in keyward's envelope that never echoes a token.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyward::axum::leak::{self, GithubKeys, LeakEndpoint, LeakPolicy};
use keyward_core::audit::{AuditKind, AuditQuery};
use keyward_core::token::TokenFormat;
use keyward_core::{
    ApiKey, CreatedKey, Drift, Environment, KeyKind, KeyManager, KeyStore, NewKey, TenantId, store,
};
use keyward_tower::ApiKeyLayer;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use support::{Client, Reply, send, sha256_hex};
use tokio::net::TcpListener;

/// The identifier of the test's signing key in the key set the app is given.
const KEY_ID: &str = "keyward-test-key";
/// Where the app nests the endpoint.
const LEAK: &str = "/github/secret-scanning";
/// How long a revocation may take to reach another process on the store.
const PROPAGATION: Duration = Duration::from_secs(3);

/// The test's stand-in for GitHub's signing key, from fixed bytes (no random source needed).
fn github() -> SigningKey {
    SigningKey::from_slice(&[0x2a; 32]).expect("a valid P-256 secret scalar")
}

/// The key set document naming [`github`]'s public key, as GitHub publishes its own.
fn key_set() -> GithubKeys {
    let pem = github()
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("a PEM public key");
    let document = json!({"public_keys": [{"key_identifier": KEY_ID, "key": pem, "is_current": true}]});
    GithubKeys::from_json(&document.to_string()).expect("the key set")
}

/// Base64 of the DER signature of `body` by `key`, as `Github-Public-Key-Signature` carries it.
fn sign(key: &SigningKey, body: &[u8]) -> String {
    let signature: Signature = key.sign(body);
    STANDARD.encode(signature.to_der().as_bytes())
}

/// An alert body reporting `tokens`, each found in a commit of a public repository.
fn alert(tokens: &[&str]) -> String {
    let matches: Vec<Value> = tokens
        .iter()
        .enumerate()
        .map(|(n, token)| {
            json!({
                "token": token,
                "type": "keyward_api_key",
                "url": format!("https://github.com/octocat/hello/blob/abc/config{n}.env"),
                "source": "commit",
            })
        })
        .collect();
    Value::Array(matches).to_string()
}

/// An app on loopback: `/v1/hello` behind the layer, the endpoint nested after it.
struct App {
    client: Client,
    manager: KeyManager,
}

async fn serve(router: Router) -> Client {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("the bound address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the server runs") });
    Client::new(address)
}

/// The manager of the `leaks` keyspace on `store`.
async fn manager(store: Arc<dyn KeyStore>) -> KeyManager {
    KeyManager::builder_shared(store)
        .keyspace("leaks")
        .declare(Drift::Refuse)
        .await
        .expect("the keyspace is declared")
}

/// The app over `manager`, with the endpoint as `endpoint` configures it.
async fn app_with(manager: KeyManager, endpoint: impl FnOnce(LeakEndpoint) -> LeakEndpoint) -> App {
    let router = Router::new()
        .route("/v1/hello", get(|| async { "hello" }))
        .layer(ApiKeyLayer::new(manager.clone()))
        .nest(
            LEAK,
            endpoint(LeakEndpoint::new(manager.clone(), key_set())).router(),
        );
    App {
        client: serve(router).await,
        manager,
    }
}

async fn memory_app(endpoint: impl FnOnce(LeakEndpoint) -> LeakEndpoint) -> App {
    app_with(
        manager(store::open("memory:").await.expect("a memory store")).await,
        endpoint,
    )
    .await
}

impl App {
    /// `GET /v1/hello` with `token`.
    async fn hello(&self, token: &str) -> u16 {
        hello(&self.client, token).await
    }

    /// `body` sent to the endpoint with `identifier` and `signature` (each header only when
    /// given).
    async fn post(
        &self,
        body: impl Into<String>,
        identifier: Option<&str>,
        signature: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(LEAK)
            .header("content-type", "application/json")
            .body(body.into());
        if let Some(identifier) = identifier {
            request = request.header("github-public-key-identifier", identifier);
        }
        if let Some(signature) = signature {
            request = request.header("github-public-key-signature", signature);
        }
        send(request).await
    }

    /// `body` sent signed by [`github`].
    async fn report(&self, body: &str) -> Reply {
        self.post(body, Some(KEY_ID), Some(&sign(&github(), body.as_bytes())))
            .await
    }

    async fn key(&self, created: &CreatedKey) -> ApiKey {
        self.manager
            .get(&created.key.tenant, &created.key.id)
            .await
            .expect("the store answers")
            .expect("the key exists")
    }

    /// The `key.leaked` events of `key`, newest first, with their detail as JSON.
    async fn leaks(&self, key: &CreatedKey) -> Vec<Value> {
        let query = AuditQuery::new(key.key.tenant.clone()).key(key.key.id.clone());
        self.manager
            .audit_log(&query)
            .await
            .expect("the audit log")
            .into_iter()
            .filter(|event| event.kind == AuditKind::KeyLeaked)
            .map(|event| {
                assert_eq!(event.fingerprint, key.key.fingerprint());
                assert_eq!(
                    (event.method.as_str(), event.path.as_str(), event.status),
                    ("POST", LEAK, 200)
                );
                serde_json::from_str(event.detail.as_deref().expect("a detail")).expect("JSON detail")
            })
            .collect()
    }
}

async fn hello(client: &Client, token: &str) -> u16 {
    send(client.get("/v1/hello").bearer_auth(token)).await.status
}

async fn mint(manager: &KeyManager, tenant: &str) -> CreatedKey {
    manager
        .create(NewKey::new(TenantId::new(tenant).expect("a valid tenant")))
        .await
        .expect("a key")
}

/// The labels of a 200 answer, in order, each checked to name its token by SHA-256 only.
#[track_caller]
fn labels(reply: &Reply, tokens: &[&str]) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), "no-store");
    let items = reply.json.as_array().expect("a JSON array");
    assert_eq!(items.len(), tokens.len(), "{}", reply.text);
    for (item, token) in items.iter().zip(tokens) {
        assert_eq!(item["token_hash"], sha256_hex(token), "{}", reply.text);
        assert_eq!(item["token_type"], "keyward_api_key");
        assert!(
            item.get("token_raw").is_none() && !reply.text.contains(token),
            "{}",
            reply.text
        );
    }
    items
        .iter()
        .map(|item| item["label"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The revoke flow on one store: the reported key is revoked at once (here and, through the
/// store, in `other`, an app of its own on the same store), its audit log records the leak, and a
/// second report of it is a true positive that revokes nothing again.
async fn revokes_on(app: App, other: Option<Client>) {
    let leaked = mint(&app.manager, "site_1").await;
    let kept = mint(&app.manager, "site_1").await;
    let token = leaked.token.expose();
    // Both apps have verified (and cached) the key before the alert.
    assert_eq!(app.hello(token).await, 200);
    if let Some(other) = &other {
        assert_eq!(hello(other, token).await, 200);
    }
    let unknown = app
        .manager
        .format()
        .mint(Environment::Live, KeyKind::Secret)
        .expose()
        .to_owned();
    let tokens = [token, "garbage", unknown.as_str(), "tk_live_0123456789abcdef"];
    let reply = app.report(&alert(&tokens)).await;
    assert_eq!(
        labels(&reply, &tokens),
        [
            "true_positive",
            "false_positive",
            "false_positive",
            "false_positive"
        ]
    );

    assert_eq!(app.hello(token).await, 401, "revoked at once in this process");
    assert_eq!(app.hello(kept.token.expose()).await, 200, "only the reported key");
    if let Some(other) = &other {
        let start = Instant::now();
        while hello(other, token).await != 401 {
            assert!(
                start.elapsed() < PROPAGATION,
                "the other process still accepts the key"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let revoked_at = app.key(&leaked).await.revoked_at.expect("revoked");
    assert_eq!(
        app.leaks(&leaked).await,
        [json!({
            "reporter": "github",
            "type": "keyward_api_key",
            "source": "commit",
            "url": "https://github.com/octocat/hello/blob/abc/config0.env",
            "action": "revoked",
        })]
    );

    // Reported again: still a true positive, revoked once.
    let reply = app.report(&alert(&[token])).await;
    assert_eq!(labels(&reply, &[token]), ["true_positive"]);
    assert_eq!(app.key(&leaked).await.revoked_at, Some(revoked_at));
    let leaks = app.leaks(&leaked).await;
    assert_eq!(leaks.len(), 2);
    assert_eq!(leaks[0]["action"], "already_revoked");
}

#[tokio::test]
async fn a_reported_key_is_revoked_on_the_memory_store() {
    revokes_on(memory_app(|e| e).await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_key_is_revoked_on_sqlite_in_every_process() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let app = app_with(manager(store::open(&url).await.expect("SQLite")).await, |e| e).await;
    let other = app_with(manager(store::open(&url).await.expect("SQLite")).await, |e| e).await;
    revokes_on(app, Some(other.client)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_key_is_revoked_on_postgres_in_every_process() {
    let url = support::postgres_schema("leak").await;
    let app = app_with(manager(store::open(&url).await.expect("PostgreSQL")).await, |e| e).await;
    let other = app_with(manager(store::open(&url).await.expect("PostgreSQL")).await, |e| e).await;
    revokes_on(app, Some(other.client)).await;
}

#[tokio::test]
async fn flag_keeps_the_key_working_and_records_the_leak() {
    let app = memory_app(|e| e.policy(LeakPolicy::Flag)).await;
    let leaked = mint(&app.manager, "site_1").await;
    let token = leaked.token.expose();
    let reply = app.report(&alert(&[token])).await;
    assert_eq!(labels(&reply, &[token]), ["true_positive"]);
    assert_eq!(app.hello(token).await, 200, "flagged, not revoked");
    assert_eq!(app.key(&leaked).await.revoked_at, None);
    let leaks = app.leaks(&leaked).await;
    assert_eq!(leaks.len(), 1);
    assert_eq!(leaks[0]["action"], "flagged");
    assert_eq!(leaks[0]["source"], "commit");
}

/// A key of another keyspace on the same store is not this endpoint's: a false positive, left
/// alone.
#[tokio::test]
async fn another_keyspaces_key_is_a_false_positive() {
    let store = store::open("memory:").await.expect("a memory store");
    let app = app_with(manager(store.clone()).await, |e| e).await;
    let others = KeyManager::builder_shared(store)
        .keyspace("others")
        .declare(Drift::Refuse)
        .await
        .expect("another keyspace");
    let theirs = mint(&others, "site_1").await;
    let token = theirs.token.expose();
    assert_eq!(
        labels(&app.report(&alert(&[token])).await, &[token]),
        ["false_positive"]
    );
    assert!(others.verify(token).await.is_ok(), "left working");
}

/// GitHub's documented sample alert, with GitHub's published key set: the signature verifies, and
/// `some_token` is no key.
#[tokio::test]
async fn githubs_documented_sample_is_accepted() {
    let published = r#"{"public_keys":[{"key_identifier":"bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c","key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n","is_current":true}]}"#;
    let manager = KeyManager::new(keyward_core::MemoryStore::new());
    let keys = GithubKeys::from_json(published).expect("GitHub's key set");
    let client = serve(Router::new().nest(LEAK, leak::router(manager.clone(), keys))).await;
    let app = App { client, manager };
    let body = r#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#;
    let reply = app
        .post(
            body,
            Some("bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"),
            Some("MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg=="),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json,
        json!([{"token_hash": sha256_hex("some_token"), "token_type": "some_type", "label": "false_positive"}])
    );
}

/// An alert as sent: its body and the two headers, when present.
struct Sent {
    body: String,
    identifier: Option<&'static str>,
    signature: Option<String>,
}

/// Every refusal: its status and code, the envelope's request id the response's, and neither the
/// token nor a revocation. Each case says what it checks.
#[tokio::test]
async fn refusals_are_4xx_in_the_envelope() {
    let app = memory_app(|e| e.max_body(4096).max_tokens(2)).await;
    let leaked = mint(&app.manager, "site_1").await;
    let token = leaked.token.expose();
    let body = alert(&[token]);
    let signed = sign(&github(), body.as_bytes());
    let impostor = SigningKey::from_slice(&[0x17; 32]).expect("another key");
    let big = format!(
        "[{}]",
        vec![format!(r#"{{"token":"{token}","type":"t"}}"#); 100].join(",")
    );
    let not_json = format!("token={token}");
    let object = format!(r#"{{"token":"{token}","type":"t"}}"#);
    let three = alert(&[token, token, token]);
    let sent = |body: &str, identifier: Option<&'static str>, signature: Option<String>| Sent {
        body: body.to_owned(),
        identifier,
        signature,
    };
    let by_github = |body: &str| sent(body, Some(KEY_ID), Some(sign(&github(), body.as_bytes())));
    let cases = [
        (
            "no identifier",
            sent(&body, None, Some(signed.clone())),
            401,
            "missing_signature",
        ),
        (
            "no signature",
            sent(&body, Some(KEY_ID), None),
            401,
            "missing_signature",
        ),
        (
            "unknown identifier",
            sent(&body, Some("another-key"), Some(signed.clone())),
            401,
            "unknown_signing_key",
        ),
        (
            "empty identifier",
            sent(&body, Some(""), Some(signed.clone())),
            401,
            "unknown_signing_key",
        ),
        (
            "signature not base64",
            sent(&body, Some(KEY_ID), Some("not base64!".into())),
            400,
            "malformed_signature",
        ),
        (
            "base64 of no DER signature",
            sent(&body, Some(KEY_ID), Some(STANDARD.encode(b"hello"))),
            400,
            "malformed_signature",
        ),
        (
            "signed by another key",
            sent(&body, Some(KEY_ID), Some(sign(&impostor, body.as_bytes()))),
            401,
            "invalid_signature",
        ),
        (
            "signature of another body",
            sent(&body, Some(KEY_ID), Some(sign(&github(), b"[]"))),
            401,
            "invalid_signature",
        ),
        (
            "body changed after signing",
            sent(
                &body.replace("commit", "content"),
                Some(KEY_ID),
                Some(signed.clone()),
            ),
            401,
            "invalid_signature",
        ),
        ("over the body limit", by_github(&big), 413, "payload_too_large"),
        ("signed, not JSON", by_github(&not_json), 400, "invalid_parameter"),
        ("signed, an object", by_github(&object), 400, "invalid_parameter"),
        ("over the token limit", by_github(&three), 413, "too_many_tokens"),
    ];
    for (what, sent, status, code) in cases {
        let reply = app
            .post(sent.body, sent.identifier, sent.signature.as_deref())
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{what}: {}",
            reply.text
        );
        assert_eq!(reply.json["error"]["status"], status, "{what}");
        assert_eq!(
            reply.json["error"]["request_id"],
            reply.header("x-request-id"),
            "{what}"
        );
        assert!(
            !reply.text.contains(token),
            "{what}: the token is echoed: {}",
            reply.text
        );
    }
    // A repeated signature header is refused too.
    let repeated = app
        .client
        .post(LEAK)
        .header("github-public-key-identifier", KEY_ID)
        .header("github-public-key-signature", signed.as_str())
        .header("github-public-key-signature", signed.as_str())
        .body(body.clone());
    assert_eq!(send(repeated).await.code(), "missing_signature");
    // Other methods and paths.
    let get = send(app.client.get(LEAK)).await;
    assert_eq!((get.status, get.code()), (405, "method_not_allowed"));
    let elsewhere = send(app.client.post(&format!("{LEAK}/other")).body(body.clone())).await;
    assert_eq!((elsewhere.status, elsewhere.code()), (404, "not_found"));

    assert_eq!(app.hello(token).await, 200, "no refused alert revoked the key");
    assert!(app.leaks(&leaked).await.is_empty(), "nor recorded a leak");
    // And the same alert, signed right, is taken.
    assert_eq!(labels(&app.report(&body).await, &[token]), ["true_positive"]);
}

/// The format the manager parses with is what `keyward patterns` describes: a token of it that
/// no key has is a false positive, not a refusal.
#[tokio::test]
async fn a_well_formed_unknown_token_is_a_false_positive() {
    let app = memory_app(|e| e).await;
    let unknown = TokenFormat::default()
        .mint(Environment::Live, KeyKind::Secret)
        .expose()
        .to_owned();
    let reply = app.report(&alert(&[&unknown])).await;
    assert_eq!(labels(&reply, &[&unknown]), ["false_positive"]);
}

/// The warning names the key by id and fingerprint, with where it was found; no event of any
/// level, of keyward or of the crates under it, holds the token.
#[tokio::test]
async fn the_warning_names_the_key_never_the_token() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("log");
    let file = std::fs::File::create(&path).expect("a log file");
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    // Every thread's: the other tests' events are written too, and told apart by key id.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
    let app = memory_app(|e| e).await;
    let leaked = mint(&app.manager, "site_1").await;
    let token = leaked.token.expose();
    assert_eq!(
        labels(
            &app.report(&alert(&[token, "garbage"])).await,
            &[token, "garbage"]
        )[0],
        "true_positive"
    );
    let text = std::fs::read_to_string(&path).expect("the log");
    let warning = text
        .lines()
        .find(|line| line.contains("WARN keyward::leak") && line.contains(leaked.key.id.as_str()))
        .unwrap_or_else(|| panic!("no warning on keyward::leak in:\n{text}"));
    assert!(
        warning.contains(&leaked.key.fingerprint().to_string()),
        "{warning}"
    );
    assert!(
        warning.contains("source=commit") && warning.contains("config0.env"),
        "{warning}"
    );
    assert!(!text.contains(token), "the token is in the log:\n{text}");
}
