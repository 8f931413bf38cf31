//! Atribu's authentication document (`reference/seeds/001`), statement by statement, over real
//! HTTP against the `atribu` example. Dashboard actions (create, revoke) go through the example's
//! `KeyManager`; rotation goes through the example's rotate endpoint.

// The example's `main` is not used here.
#[allow(dead_code)]
#[path = "../examples/atribu.rs"]
mod atribu;
mod support;

use std::time::Duration;

use keyward_core::time::ManualClock;
use keyward_core::{NewKey, ScopeSet, TenantId};
use support::{Client, ExampleProcess, Reply, send};
use tempfile::TempDir;

use atribu::common::{self, App, Served};

struct Fixture {
    app: App,
    client: Client,
    clock: ManualClock,
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
    let clock = support::clock();
    let Served { app, address, dir } = common::serve_fresh(|store| atribu::app(store, clock.clone()))
        .await
        .expect("the app serves on a fresh store");
    Fixture {
        app,
        client: Client::new(address),
        clock,
        _dir: dir,
    }
}

/// The routes and the scope each needs.
const ROUTES: [(&str, &str); 6] = [
    ("/v1/analytics/overview", "analytics:read"),
    ("/v1/campaigns", "campaigns:read"),
    ("/v1/conversions", "conversions:read"),
    ("/v1/customers", "customers:read"),
    ("/v1/visitors", "visitors:read"),
    ("/v1/realtime", "realtime:read"),
];

#[tokio::test]
async fn bearer_token_required_and_error_envelope() {
    let f = start().await;
    // "All API requests require a Bearer token in the Authorization header."
    assert_eq!(f.get("/v1/realtime", f.token("default")).await.status, 200);
    let missing = send(f.client.get("/v1/realtime")).await;
    assert_eq!(missing.status, 401);
    // "unauthorized 401 Missing or invalid API key"
    assert_eq!(missing.code(), "unauthorized");
    // Not in the document: a Bearer API also says so in an RFC 6750 challenge, as clients expect.
    assert_eq!(missing.header("www-authenticate"), "Bearer");

    let invalid = f.get("/v1/realtime", "atb_live_your_key_here").await;
    // The error response example, field by field.
    assert_eq!(invalid.status, 401);
    assert_eq!(invalid.json["error"]["code"], "unauthorized");
    assert_eq!(invalid.json["error"]["message"], "Invalid or expired API key");
    assert_eq!(invalid.json["error"]["status"], 401);
    let request_id = invalid.json["error"]["request_id"].as_str().expect("request_id");
    assert!(request_id.starts_with("req_"), "{request_id}");
    // "X-Request-Id Unique request ID for debugging": the same id as in the body.
    assert_eq!(invalid.header("x-request-id"), request_id);
    assert_eq!(invalid.json.as_object().map(|o| o.len()), Some(1));
    assert!(
        invalid
            .header("www-authenticate")
            .contains(r#"error="invalid_token""#)
    );
    assert_eq!(invalid.json["error"].as_object().map(|o| o.len()), Some(4));
}

#[tokio::test]
async fn each_key_is_scoped_to_a_single_profile() {
    let f = start().await;
    let other = f
        .app
        .manager
        .create(NewKey::new(TenantId::new("profile_2").expect("profile")))
        .await
        .expect("a key for another profile");
    // "Each key is scoped to a single profile."
    let mine = f.get("/v1/realtime", f.token("default")).await;
    assert_eq!(mine.json["profile"], atribu::PROFILE);
    let theirs = f.get("/v1/realtime", other.token.expose()).await;
    assert_eq!(theirs.json["profile"], "profile_2");
}

#[tokio::test]
async fn default_scopes_are_the_four_documented() {
    let f = start().await;
    // "Default scopes when creating a key: analytics:read, campaigns:read, conversions:read,
    // realtime:read."
    let default = &f.app.key("default").expect("default key").key;
    assert_eq!(
        default.scopes,
        ScopeSet::parse_all(atribu::DEFAULT_SCOPES).expect("scopes")
    );
    for (path, scope) in ROUTES {
        let reply = f.get(path, f.token("default")).await;
        if atribu::DEFAULT_SCOPES.contains(&scope) {
            assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        } else {
            // "customers:read and visitors:read expose personal data … Only grant these when
            // your integration specifically needs" them: not granted by default.
            // "insufficient_scope 403 Key doesn't have the required scope"
            assert_eq!(reply.status, 403, "{path}");
            assert_eq!(reply.code(), "insufficient_scope", "{path}");
            assert_eq!(reply.json["error"]["status"], 403);
            let message = reply.json["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(scope), "{message}");
            let challenge = reply.header("www-authenticate");
            assert!(challenge.contains(r#"error="insufficient_scope""#), "{challenge}");
        }
    }
}

#[tokio::test]
async fn each_scope_controls_its_endpoints() {
    let f = start().await;
    // "Each API key has granular scopes that control what data it can access."
    for (path, _) in ROUTES {
        let reply = f.get(path, f.token("full")).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }
    // A key with exactly one scope reaches exactly that scope's endpoint.
    for (granted, scope) in ROUTES {
        let key = f
            .app
            .manager
            .create(
                NewKey::new(TenantId::new(atribu::PROFILE).expect("profile"))
                    .scopes(scope.parse().expect("a scope")),
            )
            .await
            .expect("a one-scope key");
        for (path, _) in ROUTES {
            let expected = if path == granted { 200 } else { 403 };
            let reply = f.get(path, key.token.expose()).await;
            assert_eq!(reply.status, expected, "key with {scope} on {path}");
        }
    }
}

#[tokio::test]
async fn rate_limit_headers_and_cost() {
    let f = start().await;
    let token = f.token("full");
    let first = f.get("/v1/realtime", token).await;
    // "Default: 60 requests per minute per key." / "X-RateLimit-Limit Your total limit per minute"
    assert_eq!(first.header("x-ratelimit-limit"), "60");
    // "X-RateLimit-Remaining Remaining requests in current window"
    let after_one = first.number("x-ratelimit-remaining");
    assert_eq!(after_one, 59);
    // "Heavy endpoints (customers, visitors, journey detail) cost 3x — meaning they consume 3 units
    // of your rate limit per call." (The budget refills one unit a second, so the comparison is
    // between two requests a few milliseconds apart.)
    let heavy = f.get("/v1/customers", token).await;
    assert_eq!(after_one - heavy.number("x-ratelimit-remaining"), 3);
    let before = heavy.number("x-ratelimit-remaining");
    let visitors = f.get("/v1/visitors", token).await;
    assert_eq!(before - visitors.number("x-ratelimit-remaining"), 3);
    // Journey detail sits below the customers endpoint and is heavy too (no such route here: the
    // 404 still spent the budget, as any authenticated request does).
    let before = visitors.number("x-ratelimit-remaining");
    let journey = f.get("/v1/customers/c_1/journey", token).await;
    assert_eq!(before - journey.number("x-ratelimit-remaining"), 3);

    // "per key": another key's budget is untouched.
    let other = f.get("/v1/realtime", f.token("default")).await;
    assert_eq!(other.number("x-ratelimit-remaining"), 59);
}

#[tokio::test]
async fn rate_limited_requests_get_429_with_retry_after() {
    let f = start().await;
    let token = f.token("full");
    // 60 units at 3 a call: the 21st heavy call is over budget (22nd if a unit refilled meanwhile).
    let mut allowed = 0;
    let limited = loop {
        let reply = f.get("/v1/customers", token).await;
        if reply.status != 200 {
            break reply;
        }
        allowed += 1;
        assert!(allowed <= 22, "never rate limited");
    };
    assert!((20..=21).contains(&allowed), "{allowed} heavy calls allowed");
    // "When rate limited, you'll get a 429 response with a Retry-After header (seconds)."
    assert_eq!(limited.status, 429);
    let retry_after = limited.number("retry-after");
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    // "rate_limit_exceeded 429 Too many requests"
    assert_eq!(limited.code(), "rate_limit_exceeded");
    assert_eq!(limited.header("x-ratelimit-limit"), "60");
    assert!(limited.number("x-ratelimit-remaining") < 3);
    assert!(limited.header("x-request-id").starts_with("req_"));
}

#[tokio::test]
async fn request_ids_are_unique() {
    let f = start().await;
    // "X-Request-Id Unique request ID for debugging"
    let a = f.get("/v1/realtime", f.token("default")).await;
    let b = f.get("/v1/realtime", f.token("default")).await;
    assert!(a.header("x-request-id").starts_with("req_"));
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[tokio::test]
async fn rotation_keeps_both_keys_for_48_hours() {
    let f = start().await;
    let old = f.app.key("default").expect("default key");
    let old_token = old.token.expose();
    let used = f
        .get("/v1/realtime", old_token)
        .await
        .number("x-ratelimit-remaining");

    // "Call the Rotate endpoint — creates a new key"
    let path = format!("/v1/keys/{}/rotate", old.key.id);
    let rotated = send(f.client.post(&path).bearer_auth(old_token)).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let new_token = rotated.json["data"]["key"]
        .as_str()
        .expect("the new token, shown once");
    assert!(new_token.starts_with("atb_live_"));
    assert_ne!(new_token, old_token);
    // The successor keeps the old key's scopes.
    assert_eq!(f.get("/v1/customers", new_token).await.status, 403);

    // "Both old and new keys work for 48 hours"
    assert_eq!(f.get("/v1/realtime", old_token).await.status, 200);
    let fresh = f.get("/v1/realtime", new_token).await;
    assert_eq!(fresh.status, 200);
    // A careful user expects rotation not to reset the rate-limit budget: both keys share one.
    assert!(fresh.number("x-ratelimit-remaining") < used);
    f.clock.advance(atribu::GRACE - Duration::from_secs(1));
    assert_eq!(f.get("/v1/realtime", old_token).await.status, 200);

    // "The old key automatically expires after the grace period"
    f.clock.advance(Duration::from_secs(2));
    let expired = f.get("/v1/realtime", old_token).await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.json["error"]["message"], "Invalid or expired API key");
    assert_eq!(f.get("/v1/realtime", new_token).await.status, 200);
}

#[tokio::test]
async fn rotate_endpoint_refusals() {
    let f = start().await;
    let token = f.token("full");
    // Another profile's key is not found from this profile.
    let other = f
        .app
        .manager
        .create(NewKey::new(TenantId::new("profile_2").expect("profile")))
        .await
        .expect("a key for another profile");
    let foreign = send(
        f.client
            .post(&format!("/v1/keys/{}/rotate", other.key.id))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(foreign.status, 404);
    assert_eq!(foreign.code(), "not_found");
    assert!(f.app.manager.verify(other.token.expose()).await.is_ok());
    let nonsense = send(f.client.post("/v1/keys/nonsense/rotate").bearer_auth(token)).await;
    assert_eq!(nonsense.status, 404);

    // A key already rotated is not rotated again during its grace period.
    let id = &f.app.key("default").expect("default key").key.id;
    let path = format!("/v1/keys/{id}/rotate");
    assert_eq!(send(f.client.post(&path).bearer_auth(token)).await.status, 201);
    let again = send(f.client.post(&path).bearer_auth(token)).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.code(), "rotation_pending");
    assert_eq!(again.json["error"]["status"], 409);
    // Without a key, the endpoint is closed like every other.
    assert_eq!(send(f.client.post(&path)).await.status, 401);
}

#[tokio::test]
async fn revocation_is_instant() {
    let f = start().await;
    let key = f.app.key("default").expect("default key");
    assert_eq!(f.get("/v1/realtime", f.token("default")).await.status, 200);
    // "Revoke compromised keys immediately — revocation is instant"
    f.app
        .manager
        .revoke(&key.key.tenant, &key.key.id)
        .await
        .expect("revoke");
    let revoked = f.get("/v1/realtime", f.token("default")).await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.code(), "unauthorized");
}

#[tokio::test]
async fn example_binary_prints_its_keys_and_serves() {
    let example = ExampleProcess::start("atribu", &[]);
    assert_eq!(example.labels(), ["default", "full"]);
    let client = Client::new(example.address);
    let path = "/v1/customers";
    let full = send(client.get(path).bearer_auth(example.key("full"))).await;
    assert_eq!(full.status, 200, "{}", full.text);
    let default = send(client.get(path).bearer_auth(example.key("default"))).await;
    assert_eq!(default.status, 403);
}

#[tokio::test]
async fn bad_query_parameters_and_date_ranges() {
    let f = start().await;
    let token = f.token("default");
    let ok = f
        .get(
            "/v1/analytics/overview?date_from=2026-01-01&date_to=2026-12-31",
            token,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json["data"]["date_from"], "2026-01-01");

    // "invalid_parameter 400 Bad query parameter" (the document names no parameters; the
    // overview takes `date_from` and `date_to`, and refuses any other).
    let unknown = f.get("/v1/analytics/overview?colour=blue", token).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.code(), "invalid_parameter");
    assert_eq!(unknown.json["error"]["status"], 400);
    assert_eq!(
        unknown.json["error"]["request_id"].as_str(),
        Some(unknown.header("x-request-id"))
    );

    // "invalid_date_range 400 Date range exceeds 366 days or dates are invalid"
    for query in [
        "date_from=2025-01-01&date_to=2026-01-03",
        "date_from=2026-02-30",
        "date_to=yesterday",
        "date_from=2026-03-01&date_to=2026-02-01",
    ] {
        let reply = f.get(&format!("/v1/analytics/overview?{query}"), token).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.code(), "invalid_date_range", "{query}");
        assert_eq!(
            reply.json["error"]["request_id"].as_str(),
            Some(reply.header("x-request-id")),
            "{query}"
        );
    }
    // 366 days is still allowed.
    let leap = f
        .get(
            "/v1/analytics/overview?date_from=2024-01-01&date_to=2025-01-01",
            token,
        )
        .await;
    assert_eq!(leap.status, 200);
}
