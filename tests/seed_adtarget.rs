//! Adtarget's authentication document (`reference/seeds/000`), statement by statement, over real
//! HTTP against the `adtarget` example. Dashboard actions (create, revoke) go through the example's
//! `KeyManager`, as the dashboard would.

// The example's `main` is not used here.
#[allow(dead_code)]
#[path = "../examples/adtarget.rs"]
mod adtarget;
mod support;

use keyward_core::time::ManualClock;
use keyward_core::{Expiry, NewKey, StoreError, TenantId};
use keyward_core::{ManagerError, VerifyError};
use keyward_tower::KillSwitch;
use support::{Client, DAY, ExampleProcess, is_chars, lower_alnum, send, sha256_hex};
use tempfile::TempDir;

use adtarget::common::{self, App, Served};

struct Fixture {
    app: App,
    client: Client,
    clock: ManualClock,
    switch: KillSwitch,
    _dir: TempDir,
}

impl Fixture {
    fn token(&self) -> &str {
        self.app
            .key("site")
            .expect("the example mints `site`")
            .token
            .expose()
    }

    async fn create(&self, site: &str) -> Result<keyward_core::CreatedKey, ManagerError> {
        let tenant = TenantId::new(site).expect("a valid site id");
        self.app
            .manager
            .create(NewKey::new(tenant).expires(Expiry::Never))
            .await
    }
}

async fn start() -> Fixture {
    let clock = support::clock();
    let switch = KillSwitch::new(true);
    let Served { app, address, dir } =
        common::serve_fresh(|store| adtarget::app(store, clock.clone(), switch.clone()))
            .await
            .expect("the app serves on a fresh store");
    Fixture {
        app,
        client: Client::new(address),
        clock,
        switch,
        _dir: dir,
    }
}

#[tokio::test]
async fn bearer_token_in_the_authorization_header_is_required() {
    let f = start().await;
    // "All endpoints require a Bearer token in the Authorization header."
    let ok = send(f.client.get("/v1/events").bearer_auth(f.token())).await;
    assert_eq!(ok.status, 200, "{}", ok.text);

    let missing = send(f.client.get("/v1/events")).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.code(), "UNAUTHORIZED");

    // The document names no other place for the key, so an X-API-Key header is not accepted: a
    // careful user expects the one documented header to be the only one.
    let header = send(f.client.get("/v1/events").header("x-api-key", f.token())).await;
    assert_eq!(header.status, 401);

    // "Authorization: Bearer atk_live_<prefix>_<secret>" (the scheme is required).
    let no_scheme = send(f.client.get("/v1/events").header("authorization", f.token())).await;
    assert_eq!(no_scheme.status, 401);

    let wrong = send(
        f.client
            .get("/v1/events")
            .bearer_auth("atk_live_a1b2c3d4_xyzabc123def456ghi789jklmno00000"),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn each_token_is_scoped_to_a_single_site() {
    let f = start().await;
    let other = f.create("site_2").await.expect("a key for another site");
    // "Each token is scoped to a single site."
    let mine = send(f.client.get("/v1/events").bearer_auth(f.token())).await;
    assert_eq!(mine.json["site"], adtarget::SITE);
    // "Compromising a token only exposes that one site's events."
    let theirs = send(f.client.get("/v1/events").bearer_auth(other.token.expose())).await;
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.json["site"], "site_2");
}

#[tokio::test]
async fn token_format_prefix_and_hash() {
    let f = start().await;
    let token = f.token();
    // "atk_live_a1b2c3d4_xyzabc…": a stable namespace, an 8-char public prefix, a 32-char secret.
    let rest = token
        .strip_prefix("atk_live_")
        .expect("stable namespace atk_live_");
    let (prefix, secret) = rest
        .split_once('_')
        .expect("prefix and secret are separated by _");
    // "8-char public prefix (visible in your dashboard)"
    assert!(is_chars(prefix, 8, lower_alnum), "{prefix}");
    // "32-char secret (only shown once)"
    assert!(is_chars(secret, 32, lower_alnum), "{secret}");

    let tenant = TenantId::new(adtarget::SITE).expect("site id");
    let stored = f.app.manager.list(&tenant).await.expect("the site's keys");
    assert_eq!(stored.len(), 1);
    // "Only the prefix and a SHA-256 hash of the secret are stored on our side." keyward hashes the
    // whole token (prefix included), which binds the prefix to the secret.
    assert_eq!(stored[0].display_prefix, format!("atk_live_{prefix}_"));
    assert_eq!(stored[0].secret_hash.to_hex(), sha256_hex(token));
    // "The full token is shown exactly once": the record holds neither the token nor its secret.
    assert!(!format!("{:?}", stored[0]).contains(secret));
}

#[tokio::test]
async fn a_site_can_have_up_to_5_active_keys() {
    let f = start().await;
    let mut extra = Vec::new();
    for _ in 0..4 {
        extra.push(f.create(adtarget::SITE).await.expect("keys 2 to 5"));
    }
    // "Each site can have up to 5 active keys at any time."
    let sixth = f.create(adtarget::SITE).await;
    assert!(
        matches!(sixth, Err(ManagerError::Store(StoreError::LimitReached { .. }))),
        "{sixth:?}"
    );
    // Another site has its own five.
    f.create("site_2").await.expect("another site's first key");

    // "Revoke unused keys to free slots."
    let tenant = TenantId::new(adtarget::SITE).expect("site id");
    f.app
        .manager
        .revoke(&tenant, &extra[0].key.id)
        .await
        .expect("revoke");
    f.create(adtarget::SITE).await.expect("a freed slot");
}

#[tokio::test]
async fn tokens_never_expire_on_their_own() {
    let f = start().await;
    // "Tokens never expire on their own"
    let key = &f.app.key("site").expect("site key").key;
    assert_eq!(key.expires_at, None);
    // "they remain valid until you revoke them": ten years later, still valid.
    f.clock.advance(DAY * 3_653);
    let later = send(f.client.get("/v1/events").bearer_auth(f.token())).await;
    assert_eq!(later.status, 200);
    let verified = f.app.manager.verify(f.token()).await.expect("still valid");
    assert_eq!(verified.id, key.id);
}

#[tokio::test]
async fn rotation_is_create_then_revoke_without_grace() {
    let f = start().await;
    let tenant = TenantId::new(adtarget::SITE).expect("site id");
    let old = f.app.key("site").expect("site key");
    // Warm the cache, so that revocation must evict it.
    assert_eq!(
        send(f.client.get("/v1/events").bearer_auth(f.token()))
            .await
            .status,
        200
    );

    // "1. Create a new key."
    let new = f.create(adtarget::SITE).await.expect("a second key");
    // "3. Deploy and verify with a test request." Both keys work until the old one is revoked.
    let with_new = send(f.client.get("/v1/events").bearer_auth(new.token.expose())).await;
    assert_eq!(with_new.status, 200);
    assert_eq!(
        send(f.client.get("/v1/events").bearer_auth(f.token()))
            .await
            .status,
        200
    );

    // "4. Revoke the old key in the dashboard."
    f.app.manager.revoke(&tenant, &old.key.id).await.expect("revoke");
    // "The old key returns 401 immediately on revoke — no grace period."
    let revoked = send(f.client.get("/v1/events").bearer_auth(f.token())).await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.code(), "UNAUTHORIZED");
    assert!(matches!(
        f.app.manager.verify(f.token()).await,
        Err(VerifyError::Revoked)
    ));
    let still = send(f.client.get("/v1/events").bearer_auth(new.token.expose())).await;
    assert_eq!(still.status, 200);
}

#[tokio::test]
async fn kill_switch_answers_503_api_disabled() {
    let f = start().await;
    // "The public API is gated by the env var ADTARGET_PUBLIC_API_ENABLED": the example's `main`
    // builds the switch with `KillSwitch::from_env("ADTARGET_PUBLIC_API_ENABLED")`; here it is
    // flipped directly, as the variable would set it.
    f.switch.disable();
    // "If you receive 503 API_DISABLED, the API is paused"
    let paused = send(f.client.get("/v1/events").bearer_auth(f.token())).await;
    assert_eq!(paused.status, 503);
    assert_eq!(paused.code(), "API_DISABLED");
    assert_eq!(paused.json["error"]["status"], 503);
    // Even without a key, the pause is what the client learns.
    assert_eq!(send(f.client.get("/v1/events")).await.code(), "API_DISABLED");

    f.switch.enable();
    assert_eq!(
        send(f.client.get("/v1/events").bearer_auth(f.token()))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn last_used_at_advances_when_a_key_is_used() {
    let f = start().await;
    let tenant = TenantId::new(adtarget::SITE).expect("site id");
    let id = &f.app.key("site").expect("site key").key.id;
    let before = f
        .app
        .manager
        .get(&tenant, id)
        .await
        .expect("get")
        .expect("the key");
    assert_eq!(before.last_used_at, None);

    // "Set up an alert if lastUsedAt advances for a key you thought was unused"
    assert_eq!(
        send(f.client.get("/v1/events").bearer_auth(f.token()))
            .await
            .status,
        200
    );
    f.app.flush().await;
    let after = f
        .app
        .manager
        .get(&tenant, id)
        .await
        .expect("get")
        .expect("the key");
    assert!(after.last_used_at.is_some());
    assert_eq!(after.request_count, 1);
}

#[tokio::test]
async fn example_binary_prints_its_key_and_serves() {
    // The example itself: `key site: <token>`, then `listening on http://127.0.0.1:PORT`.
    let example = ExampleProcess::start("adtarget", &[]);
    assert_eq!(example.labels(), ["site"]);
    let client = Client::new(example.address);
    let reply = send(client.get("/v1/events").bearer_auth(example.key("site"))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["site"], adtarget::SITE);
}

#[tokio::test]
async fn example_binary_reads_the_kill_switch_variable() {
    // "The public API is gated by the env var ADTARGET_PUBLIC_API_ENABLED on our end."
    let example = ExampleProcess::start("adtarget", &[("ADTARGET_PUBLIC_API_ENABLED", "false")]);
    let client = Client::new(example.address);
    let reply = send(client.get("/v1/events").bearer_auth(example.key("site"))).await;
    // "If you receive 503 API_DISABLED, the API is paused on our deployment"
    assert_eq!(reply.status, 503);
    assert_eq!(reply.code(), "API_DISABLED");
}
