//! Tolinku's authentication document (`reference/seeds/002`), statement by statement, over real
//! HTTP against the `tolinku` example. Dashboard actions (create, revoke) go through the example's
//! `KeyManager`.

// The example's `main` is not used here.
mod support;
#[allow(dead_code)]
#[path = "../examples/tolinku.rs"]
mod tolinku;

use keyward_core::{KeyKind, NewKey, TenantId};
use serde_json::json;
use support::{Client, ExampleProcess, Reply, send};
use tempfile::TempDir;

use tolinku::common::{self, App, Served};

const SECRET_ONLY: &str =
    "This endpoint requires a secret API key. Publishable keys cannot access this resource.";

struct Fixture {
    app: App,
    client: Client,
    _dir: TempDir,
}

impl Fixture {
    fn token(&self, label: &str) -> &str {
        self.app.key(label).expect("a demo key").token.expose()
    }

    /// `GET path` with `token` in `X-API-Key`.
    async fn get(&self, path: &str, token: &str) -> Reply {
        send(self.client.get(path).header("x-api-key", token)).await
    }
}

async fn start() -> Fixture {
    let Served { app, address, dir } = common::serve_fresh(|store| tolinku::app(store, support::clock()))
        .await
        .expect("the app serves on a fresh store");
    Fixture {
        app,
        client: Client::new(address),
        _dir: dir,
    }
}

#[tokio::test]
async fn key_types_and_prefixes() {
    let f = start().await;
    // "Publishable tolk_pub_ … Secret tolk_sec_"
    assert!(f.token("publishable").starts_with("tolk_pub_"));
    assert!(f.token("secret").starts_with("tolk_sec_"));
    let publishable = &f.app.key("publishable").expect("publishable key").key;
    assert_eq!(publishable.kind, KeyKind::Publishable);
    assert_eq!(f.app.key("secret").expect("secret key").key.kind, KeyKind::Secret);
    // "Every API request must include a valid API key."
    let missing = send(f.client.get("/v1/api/banners")).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json, json!({ "error": "Missing API key" }));
    let invalid = f.get("/v1/api/banners", "tolk_sec_nope").await;
    assert_eq!(invalid.status, 401);
    assert_eq!(invalid.json, json!({ "error": "Invalid or expired API key" }));
    // A publishable-looking token whose kind segment was edited is not a secret key.
    let forged = f.token("publishable").replacen("tolk_pub_", "tolk_sec_", 1);
    let forged = f.get("/v1/api/analytics/overview", &forged).await;
    assert_eq!(forged.status, 401);
}

#[tokio::test]
async fn x_api_key_header_and_bearer() {
    let f = start().await;
    // "Include the key in the X-API-Key header (recommended)"
    let header = send(
        f.client
            .get("/v1/api/analytics/overview")
            .header("X-API-Key", f.token("secret")),
    )
    .await;
    assert_eq!(header.status, 200, "{}", header.text);
    // "You can also use the Authorization header with a Bearer prefix"
    let bearer = send(
        f.client
            .get("/v1/api/analytics/overview")
            .bearer_auth(f.token("secret")),
    )
    .await;
    assert_eq!(bearer.status, 200);
    // "Keys are scoped to a single Appspace"
    assert_eq!(bearer.json["appspace"], tolinku::APPSPACE);
}

#[tokio::test]
async fn publishable_keys_reach_tracking_and_banners_only() {
    let f = start().await;
    let token = f.token("publishable");
    // "Publishable keys can access: POST /v1/api/analytics/track"
    let track = send(
        f.client
            .post("/v1/api/analytics/track")
            .header("x-api-key", token)
            .json(&json!({ "event_type": "custom.signup" })),
    )
    .await;
    assert_eq!(track.status, 202, "{}", track.text);
    assert_eq!(track.json["tracked"], "custom.signup");
    // "GET /v1/api/banners (fetch smart banners)"
    let banners = f.get("/v1/api/banners", token).await;
    assert_eq!(banners.status, 200);

    // "If a publishable key attempts to access a secret-only endpoint, the API returns: HTTP 403"
    // with exactly Tolinku's body.
    let overview = f.get("/v1/api/analytics/overview", token).await;
    assert_eq!(overview.status, 403);
    assert_eq!(overview.json, json!({ "error": SECRET_ONLY }));
    let bearer = send(f.client.get("/v1/api/analytics/overview").bearer_auth(token)).await;
    assert_eq!(bearer.status, 403);
}

#[tokio::test]
async fn secret_keys_reach_everything() {
    let f = start().await;
    let token = f.token("secret");
    // "Secret keys can access all of the above, plus: GET /v1/api/analytics/overview"
    let track = send(
        f.client
            .post("/v1/api/analytics/track")
            .header("x-api-key", token)
            .json(&json!({ "event_type": "custom.purchase" })),
    )
    .await;
    assert_eq!(track.status, 202);
    let banners = f.get("/v1/api/banners", token).await;
    assert_eq!(banners.status, 200);
    let overview = f.get("/v1/api/analytics/overview", token).await;
    assert_eq!(overview.status, 200);
}

#[tokio::test]
async fn send_beacon_key_in_the_json_body() {
    let f = start().await;
    // "the key can be included in the JSON request body as an apiKey field": sendBeacon with a
    // string sends `text/plain;charset=UTF-8`.
    let beacon = json!({ "apiKey": f.token("publishable"), "event_type": "custom.page_view" });
    let reply = send(
        f.client
            .post("/v1/api/analytics/track")
            .header("content-type", "text/plain;charset=UTF-8")
            .body(beacon.to_string()),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    // The handler still reads the whole event.
    assert_eq!(reply.json["tracked"], "custom.page_view");
    assert_eq!(reply.json["appspace"], tolinku::APPSPACE);

    // As application/json too.
    let json_body = send(f.client.post("/v1/api/analytics/track").json(&beacon)).await;
    assert_eq!(json_body.status, 202);

    // A body without the field, and no header: no key.
    let anonymous = send(
        f.client
            .post("/v1/api/analytics/track")
            .json(&json!({ "event_type": "custom.page_view" })),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json, json!({ "error": "Missing API key" }));

    // A body key that is not a valid key is refused like a header one.
    let wrong = send(
        f.client
            .post("/v1/api/analytics/track")
            .json(&json!({ "apiKey": "tolk_pub_wrong", "event_type": "x" })),
    )
    .await;
    assert_eq!(wrong.status, 401);
}

#[tokio::test]
async fn api_prefix_endpoints_need_no_key() {
    let f = start().await;
    // "Some endpoints do not require an API key at all … GET /api/app/info (basic app info)"
    let info = send(f.client.get("/api/app/info")).await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(info.json["appspace"], tolinku::APPSPACE);
    // "These endpoints use the /api/ path prefix (no /v1)": the /v1/api/ ones still need a key.
    assert_eq!(send(f.client.get("/v1/api/banners")).await.status, 401);
}

#[tokio::test]
async fn multiple_keys_of_each_type_and_instant_revocation() {
    let f = start().await;
    let appspace = TenantId::new(tolinku::APPSPACE).expect("appspace");
    // "Create multiple keys of each type" / "Give each key a descriptive name"
    let mut keys = Vec::new();
    for kind in [KeyKind::Publishable, KeyKind::Secret] {
        for name in ["Production Server", "Mobile App", "Staging"] {
            let new = NewKey::new(appspace.clone()).name(name).kind(kind);
            keys.push(f.app.manager.create(new).await.expect("another key"));
        }
    }
    for key in &keys {
        let reply = f.get("/v1/api/banners", key.token.expose()).await;
        assert_eq!(reply.status, 200);
    }

    // "Revoke keys instantly (revoked keys stop working immediately)"
    let secret = f.app.key("secret").expect("secret key");
    let path = "/v1/api/analytics/overview";
    assert_eq!(f.get(path, f.token("secret")).await.status, 200);
    f.app
        .manager
        .revoke(&appspace, &secret.key.id)
        .await
        .expect("revoke");
    let revoked = f.get(path, f.token("secret")).await;
    assert_eq!(revoked.status, 401);
    // "Rotate keys periodically. Create a new key, update your integration, then revoke the old
    // key": the other keys are unaffected.
    let other = keys.last().expect("a secret key").token.expose();
    assert_eq!(f.get(path, other).await.status, 200);
}

#[tokio::test]
async fn example_binary_prints_its_keys_and_serves() {
    let example = ExampleProcess::start("tolinku", &[]);
    assert_eq!(example.labels(), ["publishable", "secret"]);
    let client = Client::new(example.address);
    let path = "/v1/api/analytics/overview";
    let secret = send(client.get(path).header("x-api-key", example.key("secret"))).await;
    assert_eq!(secret.status, 200, "{}", secret.text);
    let publishable = send(client.get(path).header("x-api-key", example.key("publishable"))).await;
    assert_eq!(publishable.json, json!({ "error": SECRET_ONLY }));
}

#[tokio::test]
async fn every_documented_endpoint_by_key_type() {
    let f = start().await;
    // (method, path, whether publishable keys may call it), from the two lists of the document.
    let endpoints = [
        // "Publishable keys can access:"
        ("POST", "/v1/api/analytics/track", true),
        ("POST", "/v1/api/analytics/batch", true),
        ("GET", "/v1/api/banners", true),
        ("GET", "/v1/api/messages", true),
        ("POST", "/v1/api/messages/msg_1/render-token", true),
        ("GET", "/v1/api/messages/msg_1/render", true),
        // "All referral endpoints (/v1/api/referral/*)"
        ("GET", "/v1/api/referral/code", true),
        ("POST", "/v1/api/referral/invite/accept", true),
        // "Secret keys can access all of the above, plus:"
        ("GET", "/v1/api/analytics/overview", false),
        ("GET", "/v1/api/analytics/funnel", false),
        ("GET", "/v1/api/analytics/timeseries", false),
        ("GET", "/v1/api/analytics/campaigns", false),
        ("GET", "/v1/api/analytics/geo", false),
        ("GET", "/v1/api/analytics/events", false),
        ("GET", "/v1/api/analytics/export", false),
        // "All audience endpoints (/v1/api/audiences/*)"
        ("GET", "/v1/api/audiences/aud_1", false),
        ("POST", "/v1/api/audiences/query", false),
    ];
    for (method, path, publishable) in endpoints {
        let request = |token: &str| {
            let builder = if method == "POST" {
                f.client.post(path)
            } else {
                f.client.get(path)
            };
            builder
                .header("x-api-key", token)
                .json(&json!({ "event_type": "x" }))
        };
        let secret = send(request(f.token("secret"))).await;
        assert!(
            secret.status < 300,
            "secret key on {method} {path}: {}",
            secret.status
        );
        let reply = send(request(f.token("publishable"))).await;
        if publishable {
            assert!(
                reply.status < 300,
                "publishable key on {method} {path}: {}",
                reply.status
            );
        } else {
            assert_eq!(reply.status, 403, "publishable key on {method} {path}");
            assert_eq!(reply.json, json!({ "error": SECRET_ONLY }), "{method} {path}");
        }
    }

    // "Some endpoints do not require an API key at all" — the /api/ list.
    for (method, path) in [
        ("GET", "/api/deferred/claim"),
        ("POST", "/api/deferred/signals"),
        ("POST", "/api/deferred/claim-by-signals"),
        ("POST", "/api/path"),
        ("GET", "/api/banner/config"),
        ("GET", "/api/app/info"),
    ] {
        let builder = if method == "POST" {
            f.client.post(path)
        } else {
            f.client.get(path)
        };
        let reply = send(builder).await;
        assert_eq!(reply.status, 200, "{method} {path} without a key");
    }
}
