//! Trcker's brand API key document (`reference/seeds/004`), statement by statement, over real
//! HTTP against the `trcker` example. Settings-page actions (generate, replace, revoke) go through
//! the example's `KeyManager`.

// The example's `main` is not used here.
mod support;
#[allow(dead_code)]
#[path = "../examples/trcker.rs"]
mod trcker;

use keyward_core::audit::AuditQuery;
use keyward_core::{ManagerError, NewKey, StoreError, TenantId};
use support::{Client, ExampleProcess, Reply, is_chars, send, sha256_hex};
use tempfile::TempDir;

use trcker::common::{self, App, Served};

struct Fixture {
    app: App,
    client: Client,
    _dir: TempDir,
}

impl Fixture {
    fn token(&self) -> &str {
        self.app.key("brand").expect("the brand key").token.expose()
    }

    async fn conversions(&self, token: &str) -> Reply {
        send(self.client.get("/api/public/conversions").bearer_auth(token)).await
    }
}

async fn start() -> Fixture {
    let Served { app, address, dir } = common::serve_fresh(|store| trcker::app(store, support::clock()))
        .await
        .expect("the app serves on a fresh store");
    Fixture {
        app,
        client: Client::new(address),
        _dir: dir,
    }
}

fn brand() -> TenantId {
    TenantId::new(trcker::BRAND).expect("brand id")
}

#[tokio::test]
async fn format_and_one_way_hash() {
    let f = start().await;
    // "The format is a 40-character random string prefixed with tk_."
    let random = f.token().strip_prefix("tk_").expect("tk_ prefix");
    assert!(is_chars(random, 40, |c| c.is_ascii_alphanumeric()), "{random}");
    // "We store a one-way hash on our side"
    let stored = f.app.manager.list(&brand()).await.expect("list");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].secret_hash.to_hex(), sha256_hex(f.token()));
    assert!(!format!("{:?}", stored[0]).contains(random));
}

#[tokio::test]
async fn bearer_on_every_endpoint() {
    let f = start().await;
    // "Pass the key in the Authorization header as a bearer token" — public API:
    let public = f.conversions(f.token()).await;
    assert_eq!(public.status, 200, "{}", public.text);
    assert_eq!(public.json["brand"], trcker::BRAND);
    // "The MCP server accepts the same key via the standard Authorization: Bearer header"
    let mcp = send(f.client.post("/api/mcp").bearer_auth(f.token())).await;
    assert_eq!(mcp.status, 200);
    assert_eq!(mcp.json["result"]["brand"], trcker::BRAND);
    // The click-capture script with Bearer:
    let capture = send(f.client.post("/api/clicks/capture").bearer_auth(f.token())).await;
    assert_eq!(capture.status, 200);

    for (what, reply) in [
        ("public API", send(f.client.get("/api/public/conversions")).await),
        ("MCP", send(f.client.post("/api/mcp")).await),
        ("capture", send(f.client.post("/api/clicks/capture")).await),
    ] {
        assert_eq!(reply.status, 401, "{what} without a key");
    }
}

#[tokio::test]
async fn x_api_key_only_on_click_capture() {
    let f = start().await;
    // "The click-capture script can also accept the key via an x-api-key header … Either header
    // works."
    let capture = send(
        f.client
            .post("/api/clicks/capture")
            .header("x-api-key", f.token()),
    )
    .await;
    assert_eq!(capture.status, 200, "{}", capture.text);
    assert_eq!(capture.json["captured"], true);
    // The document offers x-api-key to the capture script only: elsewhere it is not a credential.
    let public = send(
        f.client
            .get("/api/public/conversions")
            .header("x-api-key", f.token()),
    )
    .await;
    assert_eq!(public.status, 401);
    let mcp = send(f.client.post("/api/mcp").header("x-api-key", f.token())).await;
    assert_eq!(mcp.status, 401);
}

#[tokio::test]
async fn each_brand_gets_one_key() {
    let f = start().await;
    // "Each brand gets one key."
    let second = f.app.manager.create(NewKey::new(brand())).await;
    assert!(
        matches!(
            second,
            Err(ManagerError::Store(StoreError::LimitReached { limit: 1 }))
        ),
        "{second:?}"
    );
    // "Different keys for different brands; the same key never crosses brand boundaries."
    let other = f
        .app
        .manager
        .create(NewKey::new(TenantId::new("brand_2").expect("brand")))
        .await
        .expect("another brand's key");
    assert_eq!(f.conversions(other.token.expose()).await.json["brand"], "brand_2");
    assert_eq!(f.conversions(f.token()).await.json["brand"], trcker::BRAND);
}

#[tokio::test]
async fn two_step_rotation() {
    let f = start().await;
    let current = f.app.key("brand").expect("brand key");
    // "Generate a new key from Settings (the page lets you create a replacement without
    // invalidating the current one yet)."
    let replacement = f
        .app
        .manager
        .rotate(&brand(), &current.key.id)
        .await
        .expect("a replacement");
    assert_eq!(replacement.key.rotated_from.as_ref(), Some(&current.key.id));
    // "Update every consumer … to use the new key": both work meanwhile.
    assert_eq!(f.conversions(f.token()).await.status, 200);
    assert_eq!(f.conversions(replacement.token.expose()).await.status, 200);
    // "one key per brand … plus one replacement": no third key, no second replacement.
    let third = f.app.manager.create(NewKey::new(brand())).await;
    assert!(
        matches!(third, Err(ManagerError::Store(StoreError::LimitReached { .. }))),
        "{third:?}"
    );
    let again = f.app.manager.rotate(&brand(), &current.key.id).await;
    assert!(
        matches!(again, Err(ManagerError::Store(StoreError::RotationPending))),
        "{again:?}"
    );

    // "Once you're sure nothing is using the old key, click Revoke on it."
    f.app
        .manager
        .revoke(&brand(), &current.key.id)
        .await
        .expect("revoke");
    assert_eq!(f.conversions(f.token()).await.status, 401);
    assert_eq!(f.conversions(replacement.token.expose()).await.status, 200);
    let capture = send(
        f.client
            .post("/api/clicks/capture")
            .header("x-api-key", replacement.token.expose()),
    )
    .await;
    assert_eq!(capture.status, 200);
    // The replacement is now the brand's one key, and can itself be replaced.
    f.app
        .manager
        .rotate(&brand(), &replacement.key.id)
        .await
        .expect("the next rotation");
}

#[tokio::test]
async fn revoke_on_leak() {
    let f = start().await;
    let current = &f.app.key("brand").expect("brand key").key;
    assert_eq!(f.conversions(f.token()).await.status, 200);
    // "If you think a key has leaked, revoke it immediately from Settings and generate a new one."
    f.app.manager.revoke(&brand(), &current.id).await.expect("revoke");
    assert_eq!(f.conversions(f.token()).await.status, 401);
    let capture = send(
        f.client
            .post("/api/clicks/capture")
            .header("x-api-key", f.token()),
    )
    .await;
    assert_eq!(capture.status, 401);
    let new = f
        .app
        .manager
        .create(NewKey::new(brand()))
        .await
        .expect("a new key once the old one is revoked");
    assert_eq!(f.conversions(new.token.expose()).await.status, 200);
}

#[tokio::test]
async fn every_request_is_logged_with_the_key_fingerprint() {
    let f = start().await;
    let key = &f.app.key("brand").expect("brand key").key;
    let sent = [
        send(
            f.client
                .get("/api/public/conversions")
                .bearer_auth(f.token())
                .header("user-agent", "reporting-job/2.1"),
        )
        .await,
        send(
            f.client
                .post("/api/clicks/capture")
                .header("x-api-key", f.token())
                .header("user-agent", "trcker-capture.js"),
        )
        .await,
    ];
    assert!(sent.iter().all(|reply| reply.status == 200));
    f.app.flush().await;

    // "Trcker logs every API request with the (hashed) key fingerprint"
    let log = f
        .app
        .manager
        .audit_log(&AuditQuery::new(brand()).limit(10))
        .await
        .expect("audit log");
    assert_eq!(log.len(), 2, "{log:?}");
    for event in &log {
        assert_eq!(event.fingerprint, key.fingerprint());
        assert_eq!(event.key_id, key.id);
        // "Sample logs include source IP and user-agent"
        assert_eq!(event.client_ip.as_deref(), Some("127.0.0.1"));
        assert!(event.user_agent.is_some());
        assert_eq!(event.status, 200);
        // The log never holds the key itself.
        let text = serde_json::to_string(event).expect("an event serializes");
        assert!(!text.contains(f.token()));
    }
    let paths: Vec<&str> = log.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"/api/public/conversions"), "{paths:?}");
    assert!(paths.contains(&"/api/clicks/capture"), "{paths:?}");
    let agents: Vec<_> = log.iter().filter_map(|e| e.user_agent.as_deref()).collect();
    assert!(agents.contains(&"trcker-capture.js"), "{agents:?}");
}

#[tokio::test]
async fn example_binary_prints_its_key_and_serves() {
    let example = ExampleProcess::start("trcker", &[]);
    assert_eq!(example.labels(), ["brand"]);
    let client = Client::new(example.address);
    let capture = send(
        client
            .post("/api/clicks/capture")
            .header("x-api-key", example.key("brand")),
    )
    .await;
    assert_eq!(capture.status, 200, "{}", capture.text);
    let mcp = send(client.post("/api/mcp").bearer_auth(example.key("brand"))).await;
    assert_eq!(mcp.status, 200);
}
