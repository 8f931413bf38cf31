//! Toksta's authentication document (`reference/seeds/003`), statement by statement, over real
//! HTTP against the `toksta` example. Dashboard actions (create, rotate, revoke) go through the
//! example's `KeyManager`.

// The example's `main` is not used here.
mod support;
#[allow(dead_code)]
#[path = "../examples/toksta.rs"]
mod toksta;

use keyward_core::{NewKey, ScopeSet, TenantId, VerifyError};
use support::{Client, ExampleProcess, Reply, is_chars, send, sha256_hex};
use tempfile::TempDir;

use toksta::common::{self, App, Served};

struct Fixture {
    app: App,
    client: Client,
    _dir: TempDir,
}

impl Fixture {
    fn token(&self, label: &str) -> &str {
        self.app.key(label).expect("a demo key").token.expose()
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        send(self.client.get(path).bearer_auth(token)).await
    }
}

async fn start() -> Fixture {
    let Served { app, address, dir } = common::serve_fresh(|store| toksta::app(store, support::clock()))
        .await
        .expect("the app serves on a fresh store");
    Fixture {
        app,
        client: Client::new(address),
        _dir: dir,
    }
}

#[tokio::test]
async fn bearer_authentication_only() {
    let f = start().await;
    let token = f.token("unrestricted");
    // "Public API v1 uses HTTP Bearer authentication"
    let ok = f.get("/v1/account/usage", token).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // "There is no query-string, cookie, or X-Api-Key header auth."
    let refused = [
        (
            "query string",
            f.client.get(&format!("/v1/account/usage?api_key={token}")),
        ),
        (
            "query string",
            f.client.get(&format!("/v1/account/usage?key={token}")),
        ),
        (
            "cookie",
            f.client
                .get("/v1/account/usage")
                .header("cookie", format!("api_key={token}")),
        ),
        (
            "X-Api-Key",
            f.client.get("/v1/account/usage").header("X-Api-Key", token),
        ),
    ];
    for (what, request) in refused {
        let reply = send(request).await;
        assert_eq!(reply.status, 401, "{what}");
        assert_eq!(reply.code(), "UNAUTHORIZED", "{what}");
    }
}

#[tokio::test]
async fn unauthorized_causes() {
    let f = start().await;
    let token = f.token("unrestricted");
    // "401 UNAUTHORIZED — Missing Bearer prefix, wrong key, revoked key, or typo"
    let no_prefix = send(f.client.get("/v1/reports").header("authorization", token)).await;
    let wrong = f.get("/v1/reports", &format!("tk_live_{}", "0".repeat(48))).await;
    let mut typo = token.to_owned();
    let last = if typo.ends_with('a') { "b" } else { "a" };
    typo.replace_range(typo.len() - 1.., last);
    let typo = f.get("/v1/reports", &typo).await;
    for (what, reply) in [
        ("missing Bearer prefix", no_prefix),
        ("wrong key", wrong),
        ("typo", typo),
    ] {
        assert_eq!(reply.status, 401, "{what}");
        assert_eq!(reply.code(), "UNAUTHORIZED", "{what}");
        assert_eq!(reply.json["error"]["status"], 401, "{what}");
    }
}

#[tokio::test]
async fn key_format_and_stored_hash() {
    let f = start().await;
    let token = f.token("unrestricted");
    // "Keys are prefixed tk_live_ followed by 48 hex characters"
    let hex = token.strip_prefix("tk_live_").expect("tk_live_ prefix");
    assert!(is_chars(hex, 48, |c| c.is_ascii_hexdigit()), "{hex}");
    // "Toksta stores only a SHA-256 hash; the secret cannot be recovered later."
    let key = &f.app.key("unrestricted").expect("key").key;
    let stored = f
        .app
        .manager
        .get(&key.tenant, &key.id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.secret_hash.to_hex(), sha256_hex(token));
    assert!(!format!("{stored:?}").contains(hex));
}

#[tokio::test]
async fn keys_may_be_restricted_to_endpoint_families() {
    let f = start().await;
    // "optionally restrict endpoint scopes": unrestricted unless asked.
    let unrestricted = &f.app.key("unrestricted").expect("key").key;
    assert!(unrestricted.scopes.is_unrestricted());
    assert_eq!(f.get("/v1/reports", f.token("unrestricted")).await.status, 200);
    assert_eq!(
        f.get("/v1/account/usage", f.token("unrestricted")).await.status,
        200
    );

    // A key restricted to reports reaches reports.
    assert_eq!(f.get("/v1/reports", f.token("restricted")).await.status, 200);
    // "A scoped key that hits a disallowed route returns 403 FORBIDDEN."
    let refused = f.get("/v1/account/usage", f.token("restricted")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.code(), "FORBIDDEN");
    assert_eq!(refused.json["error"]["status"], 403);

    // And the other way round.
    let account_only = f
        .app
        .manager
        .create(
            NewKey::new(TenantId::new(toksta::ACCOUNT).expect("account"))
                .scopes(ScopeSet::parse_all(["account:read"]).expect("scope")),
        )
        .await
        .expect("an account-only key");
    let token = account_only.token.expose();
    assert_eq!(f.get("/v1/account/usage", token).await.status, 200);
    assert_eq!(f.get("/v1/reports", token).await.code(), "FORBIDDEN");
}

#[tokio::test]
async fn free_plan_is_forbidden() {
    let f = start().await;
    // "403 FORBIDDEN — Free plan, past-due billing, API access disabled"
    for path in ["/v1/reports", "/v1/account/usage"] {
        let reply = f.get(path, f.token("free-plan")).await;
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(reply.code(), "FORBIDDEN", "{path}");
    }
}

#[tokio::test]
async fn rotation_revokes_the_old_key_and_shows_the_new_once() {
    let f = start().await;
    let old = f.app.key("restricted").expect("key");
    assert_eq!(f.get("/v1/reports", f.token("restricted")).await.status, 200);
    // "Rotation creates a new secret, marks the old key as revoked, and shows the new secret once"
    let new = f
        .app
        .manager
        .rotate(&old.key.tenant, &old.key.id)
        .await
        .expect("rotate");
    assert!(new.token.expose().starts_with("tk_live_"));
    let stale = f.get("/v1/reports", f.token("restricted")).await;
    assert_eq!(stale.status, 401);
    assert_eq!(stale.code(), "UNAUTHORIZED");
    assert!(matches!(
        f.app.manager.verify(f.token("restricted")).await,
        Err(VerifyError::Revoked)
    ));
    // "same rules as creation": the successor keeps the restriction.
    assert_eq!(f.get("/v1/reports", new.token.expose()).await.status, 200);
    assert_eq!(f.get("/v1/account/usage", new.token.expose()).await.status, 403);
}

#[tokio::test]
async fn revoked_keys_return_401_immediately() {
    let f = start().await;
    let key = &f.app.key("unrestricted").expect("key").key;
    assert_eq!(f.get("/v1/reports", f.token("unrestricted")).await.status, 200);
    f.app.manager.revoke(&key.tenant, &key.id).await.expect("revoke");
    // "Revoked keys immediately return 401 UNAUTHORIZED."
    let reply = f.get("/v1/reports", f.token("unrestricted")).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn usage_endpoint_reports_the_keys_usage() {
    let f = start().await;
    let token = f.token("unrestricted");
    let fresh = f.get("/v1/account/usage", token).await;
    assert_eq!(fresh.json["request_count"], 0);
    assert!(fresh.json["last_used_at"].is_null());

    for _ in 0..3 {
        assert_eq!(f.get("/v1/reports", token).await.status, 200);
    }
    // Usage is written in batches off the request path; flush the batch as a second would.
    f.app.flush().await;
    // "Monitor usage via GET /v1/account/usage": the first usage call and the three reports.
    let used = f.get("/v1/account/usage", token).await;
    assert_eq!(used.status, 200);
    assert_eq!(used.json["request_count"], 4);
    let last_used = used.json["last_used_at"].as_str().expect("a last-used time");
    assert!(last_used.ends_with('Z'), "{last_used}");
    // Per key: the other key of the account has its own count.
    let other = f.app.key("restricted").expect("key");
    let stored = f
        .app
        .manager
        .get(&other.key.tenant, &other.key.id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.request_count, 0);
}

#[tokio::test]
async fn example_binary_prints_its_keys_and_serves() {
    let example = ExampleProcess::start("toksta", &[]);
    assert_eq!(example.labels(), ["unrestricted", "restricted", "free-plan"]);
    let client = Client::new(example.address);
    let path = "/v1/account/usage";
    for (label, status) in [("unrestricted", 200), ("restricted", 403), ("free-plan", 403)] {
        let reply = send(client.get(path).bearer_auth(example.key(label))).await;
        assert_eq!(reply.status, status, "{label}: {}", reply.text);
    }
}
