//! `ApiKeyLayer` behind a real HTTP/1 server (hyper) on `127.0.0.1:0`, spoken to by a real
//! client (reqwest): what a client sees on the wire (the server is in `support::server`).

mod support;

use std::time::Duration;

use keyward_core::Rotation;
use keyward_core::audit::AuditQuery;
use keyward_tower::client_ip::ClientIp;
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{ApiKeyLayer, CredentialSources};
use reqwest::StatusCode;
use support::server::{client, header, serve};
use support::{Harness, deprecation_seconds, http_date_seconds, tenant_id, unix_seconds};

#[tokio::test]
async fn success_carries_the_request_id_and_rate_limit_headers_and_is_audited() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .client_ip(ClientIp::socket())
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    let client = client();

    let response = client
        .get(server.url("/v1/events?page=1"))
        .bearer_auth(key.token.expose())
        .header("x-request-id", "loop-1")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-request-id"), "loop-1");
    assert_eq!(header(&response, "x-ratelimit-limit"), "60");
    assert_eq!(header(&response, "x-ratelimit-remaining"), "59");
    assert_eq!(header(&response, "x-ratelimit-reset"), "1");
    assert_eq!(response.text().await.expect("a body"), "site_1");

    let response = client
        .get(server.url("/v1/events"))
        .header("x-api-key", key.token.expose())
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    let minted = header(&response, "x-request-id").to_owned();
    assert!(minted.starts_with("req_"), "{minted}");
    assert_eq!(header(&response, "x-ratelimit-remaining"), "58");

    layer.audit().expect("recording is on").flush().await;
    let events = h
        .manager
        .audit_log(&AuditQuery::new(tenant_id("site_1")).limit(10))
        .await
        .expect("the store answers");
    assert_eq!(events.len(), 2);
    let first = events
        .iter()
        .find(|e| e.request_id == "loop-1")
        .expect("the first request's event");
    assert_eq!(first.path, "/v1/events");
    assert_eq!(first.status, 200);
    assert_eq!(first.client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(first.user_agent.as_deref(), Some("keyward-loopback/1.0"));
    assert!(events.iter().any(|e| e.request_id == minted));
}

#[tokio::test]
async fn a_json_body_key_over_the_wire_reaches_the_handler_intact() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .credentials(CredentialSources::default().body_field("apiKey", 1024))
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    let body = format!(r#"{{"apiKey":"{}","event":"open"}}"#, key.token.expose());
    let response = client()
        .post(server.url("/v1/track"))
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.clone())
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.expect("a body"), body);

    let response = client()
        .post(server.url("/v1/track"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"pad":"{}"}}"#, "p".repeat(2048)))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn no_key_gets_401_with_a_challenge_and_the_json_envelope() {
    let h = Harness::new();
    let layer = ApiKeyLayer::new(h.manager.clone());
    let server = serve(&layer).await;
    let client = client();
    // (what it checks, Authorization header, WWW-Authenticate)
    let cases = [
        ("no key", None, "Bearer"),
        (
            "a garbage key",
            Some("Bearer garbage"),
            "Bearer error=\"invalid_token\", error_description=\"Invalid or expired API key\"",
        ),
    ];
    for (what, authorization, challenge) in cases {
        let mut request = client.get(server.url("/v1/events"));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(header(&response, "www-authenticate"), challenge, "{what}");
        assert_eq!(header(&response, "content-type"), "application/json", "{what}");
        let id = header(&response, "x-request-id").to_owned();
        let json: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(json["error"]["code"], "unauthorized", "{what}");
        assert_eq!(json["error"]["status"], 401, "{what}");
        assert_eq!(json["error"]["request_id"], id, "{what}");
    }
}

#[tokio::test]
async fn a_spent_budget_gets_429_with_retry_after() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_minute(2)))
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    let client = client();
    let get = || {
        client
            .get(server.url("/v1/events"))
            .bearer_auth(key.token.expose())
            .send()
    };
    for remaining in ["1", "0"] {
        let response = get().await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-remaining"), remaining);
    }
    let response = get().await.expect("the server answers");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&response, "retry-after").parse().expect("whole seconds");
    assert!(
        (1..=30).contains(&retry_after),
        "a unit comes back every 30 s: {retry_after}"
    );
    assert_eq!(header(&response, "x-ratelimit-limit"), "2");
    assert_eq!(header(&response, "x-ratelimit-remaining"), "0");
    let json: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(json["error"]["code"], "rate_limit_exceeded");
    assert_eq!(json["error"]["status"], 429);
}

#[tokio::test]
async fn a_key_in_grace_gets_deprecation_sunset_and_link_over_the_wire() {
    let grace = Duration::from_secs(3600);
    let h = Harness::with(|builder| builder.rotation(Rotation::Grace(grace)));
    let old = h.key("site_1").await;
    h.clock.advance(Duration::from_secs(90));
    let new = h
        .manager
        .rotate(&tenant_id("site_1"), &old.key.id)
        .await
        .expect("rotated");
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rotation_docs("https://docs.example.com/keys#rotation")
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    let client = client();
    let get = |token: &str| client.get(server.url("/v1/events")).bearer_auth(token).send();

    let response = get(old.token.expose()).await.expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        deprecation_seconds(header(&response, "deprecation")),
        unix_seconds(new.key.created_at)
    );
    assert_eq!(
        http_date_seconds(header(&response, "sunset")),
        unix_seconds(new.key.created_at.plus(grace))
    );
    assert_eq!(
        header(&response, "link"),
        "<https://docs.example.com/keys#rotation>; rel=\"sunset\""
    );

    let response = get(new.token.expose()).await.expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    for name in ["deprecation", "sunset", "link"] {
        assert!(response.headers().get(name).is_none(), "the successor: no {name}");
    }

    h.clock.advance(grace);
    let response = get(old.token.expose()).await.expect("the server answers");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the grace is over");
    for name in ["deprecation", "sunset", "link"] {
        assert!(
            response.headers().get(name).is_none(),
            "after the grace: no {name}"
        );
    }
}
