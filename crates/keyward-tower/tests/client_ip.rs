//! The client's address over real loopback HTTP (hyper on `127.0.0.1:0`, reqwest as client,
//! the peer address as a `SocketAddr` extension): forwarding headers believed only from trusted
//! proxies, walked from the right, never a 500 on bad input, recorded in audit events, and
//! per-client rate-limit budgets on the in-process and the Redis limiter.

mod support;

use keyward_core::CreatedKey;
use keyward_core::audit::AuditQuery;
use keyward_tower::client_ip::{ClientIp, ForwardedHeader, TrustedProxies};
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{ApiKeyLayer, ApiKeyLayerBuilder};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use support::server::{Server, client, serve};
use support::{Harness, tenant_id};

/// Loopback peers are proxies: the test client stands for a proxy in front of the server.
fn through_loopback() -> ClientIp {
    ClientIp::socket().trusted_proxies(TrustedProxies::loopback())
}

/// Only `10.0.0.0/8` is trusted: the loopback test client is an ordinary client.
fn behind_other_proxies() -> ClientIp {
    ClientIp::socket().trusted_proxies(TrustedProxies::new(["10.0.0.0/8"]).expect("a valid range"))
}

/// Sends one request with `key` and the `headers`, tagged with `request_id`.
async fn send(server: &Server, key: &CreatedKey, request_id: &str, headers: HeaderMap) -> StatusCode {
    client()
        .get(server.url("/v1/events"))
        .bearer_auth(key.token.expose())
        .header("x-request-id", request_id)
        .headers(headers)
        .send()
        .await
        .expect("the server answers")
        .status()
}

/// Header lines `name: value`, in order (repeated names stay separate lines).
fn lines(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            *name,
            HeaderValue::from_bytes(value).expect("a sendable header value"),
        );
    }
    headers
}

/// Request id, header lines, and the client that the audit event names.
type Case<'a> = (&'a str, &'a [(&'static str, &'a [u8])], &'a str);

/// The client address of the audit event of `request_id`.
async fn audited_client(h: &Harness, layer: &ApiKeyLayer, request_id: &str) -> Option<String> {
    layer.audit().expect("recording is on").flush().await;
    let events = h
        .manager
        .audit_log(&AuditQuery::new(tenant_id("site_1")).limit(100))
        .await
        .expect("the store answers");
    events
        .into_iter()
        .find(|e| e.request_id == request_id)
        .unwrap_or_else(|| panic!("no audit event for {request_id}"))
        .client_ip
}

/// Sends each case; each gets 200 and an audit event naming its client.
async fn assert_cases(
    h: &Harness,
    layer: &ApiKeyLayer,
    server: &Server,
    key: &CreatedKey,
    cases: &[Case<'_>],
) {
    for (request_id, headers, expected) in cases {
        assert_eq!(
            send(server, key, request_id, lines(headers)).await,
            StatusCode::OK,
            "{request_id}"
        );
        assert_eq!(
            audited_client(h, layer, request_id).await.as_deref(),
            Some(*expected),
            "{request_id}"
        );
    }
}

async fn layer_with(
    h: &Harness,
    configure: impl FnOnce(ApiKeyLayerBuilder) -> ApiKeyLayerBuilder,
) -> (ApiKeyLayer, Server) {
    let layer = configure(ApiKeyLayer::builder(h.manager.clone()))
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    (layer, server)
}

#[tokio::test]
async fn an_untrusted_peer_is_audited_and_limited_by_its_socket_address_not_its_header() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let (layer, server) = layer_with(&h, |b| {
        b.client_ip(behind_other_proxies())
            .rate_limit_per_client()
            .rate_limits(RateLimits::new(Quota::per_hour(1)))
    })
    .await;

    let first = send(
        &server,
        &key,
        "spoof-1",
        lines(&[("x-forwarded-for", b"203.0.113.1")]),
    )
    .await;
    assert_eq!(first, StatusCode::OK);
    assert_eq!(
        audited_client(&h, &layer, "spoof-1").await.as_deref(),
        Some("127.0.0.1")
    );
    // A fresh address in the header does not buy a fresh budget.
    let second = send(
        &server,
        &key,
        "spoof-2",
        lines(&[("x-forwarded-for", b"203.0.113.2")]),
    )
    .await;
    assert_eq!(second, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn trusted_proxies_are_looked_through_to_the_rightmost_untrusted_entry() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let (layer, server) = layer_with(&h, |b| b.client_ip(through_loopback())).await;

    let cases: [Case<'_>; 4] = [
        ("one-proxy", &[("x-forwarded-for", b"203.0.113.7")], "203.0.113.7"),
        (
            "a-chain",
            &[("x-forwarded-for", b"6.6.6.6, 203.0.113.8, 127.0.0.2, 127.0.0.3")],
            "203.0.113.8",
        ),
        (
            "two-lines",
            &[
                ("x-forwarded-for", b"6.6.6.6, 203.0.113.9"),
                ("x-forwarded-for", b"198.51.100.4, 127.0.0.5"),
            ],
            "198.51.100.4",
        ),
        (
            "mapped-v4",
            &[("x-forwarded-for", b"::ffff:192.0.2.1")],
            "192.0.2.1",
        ),
    ];
    assert_cases(&h, &layer, &server, &key, &cases).await;
}

#[tokio::test]
async fn forwarded_with_quoted_ipv6_and_port_names_the_client() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let (layer, server) = layer_with(&h, |b| {
        b.client_ip(through_loopback().forwarded_header(ForwardedHeader::Forwarded))
    })
    .await;

    let headers = lines(&[
        (
            "forwarded",
            br#"for=6.6.6.6, for="[2001:db8::17]:4711";proto=https"#,
        ),
        ("forwarded", b"for=127.0.0.9;by=127.0.0.1"),
        // Not the configured header: ignored.
        ("x-forwarded-for", b"198.51.100.1"),
    ]);
    assert_eq!(send(&server, &key, "fwd-v6", headers).await, StatusCode::OK);
    assert_eq!(
        audited_client(&h, &layer, "fwd-v6").await.as_deref(),
        Some("2001:db8::17")
    );
}

#[tokio::test]
async fn malformed_oversized_and_non_utf8_forwarding_headers_fall_back_to_the_last_hop_read() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let (layer, server) = layer_with(&h, |b| b.client_ip(through_loopback())).await;
    let oversized = format!("{}203.0.113.50", "garbage-entry, ".repeat(400));
    let huge_garbage = "x".repeat(6000);

    let cases: [Case<'_>; 7] = [
        (
            "malformed",
            &[("x-forwarded-for", b"not-an-address")],
            "127.0.0.1",
        ),
        (
            "unknown",
            &[("x-forwarded-for", b"203.0.113.1, unknown")],
            "127.0.0.1",
        ),
        ("empty", &[("x-forwarded-for", b"")], "127.0.0.1"),
        (
            "non-utf8",
            &[("x-forwarded-for", b"203.0.113.1, \xff\xfe")],
            "127.0.0.1",
        ),
        (
            "garbage-after-a-proxy",
            &[("x-forwarded-for", b"bogus, 203.0.113.60, 127.0.0.4")],
            "203.0.113.60",
        ),
        (
            "oversized-list",
            &[("x-forwarded-for", oversized.as_bytes())],
            "203.0.113.50",
        ),
        (
            "oversized-entry",
            &[("x-forwarded-for", huge_garbage.as_bytes())],
            "127.0.0.1",
        ),
    ];
    assert_cases(&h, &layer, &server, &key, &cases).await;

    let forwarded = ClientIp::socket()
        .trusted_proxies(TrustedProxies::loopback())
        .forwarded_header(ForwardedHeader::Forwarded);
    let (layer, server) = layer_with(&h, |b| b.client_ip(forwarded)).await;
    let cases: [(&str, &[u8], &str); 4] = [
        ("fwd-unquoted-v6", b"for=[2001:db8::1", "127.0.0.1"),
        ("fwd-obfuscated", b"for=_hidden", "127.0.0.1"),
        ("fwd-no-for", b"proto=https;by=203.0.113.1", "127.0.0.1"),
        ("fwd-non-utf8", b"for=\"\xff\"", "127.0.0.1"),
    ];
    for (request_id, value, expected) in cases {
        assert_eq!(
            send(&server, &key, request_id, lines(&[("forwarded", value)])).await,
            StatusCode::OK,
            "{request_id}"
        );
        assert_eq!(
            audited_client(&h, &layer, request_id).await.as_deref(),
            Some(expected),
            "{request_id}"
        );
    }
}

/// Same key, clients told apart by a trusted proxy's `X-Forwarded-For`: each address has a
/// budget of its own, and IPv6 addresses of one /64 share one.
async fn assert_budgets_are_per_client(server: &Server, key: &CreatedKey) {
    let from = |address: &'static str| lines(&[("x-forwarded-for", address.as_bytes())]);
    assert_eq!(
        send(server, key, "a-1", from("203.0.113.1")).await,
        StatusCode::OK
    );
    assert_eq!(
        send(server, key, "a-2", from("203.0.113.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        send(server, key, "b-1", from("203.0.113.2")).await,
        StatusCode::OK
    );
    assert_eq!(
        send(server, key, "v6-1", from("2001:db8:0:7::1")).await,
        StatusCode::OK
    );
    assert_eq!(
        send(server, key, "v6-2", from("2001:db8:0:7:ffff::2")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "one /64, one budget"
    );
    assert_eq!(
        send(server, key, "v6-3", from("2001:db8:0:8::1")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn per_client_budgets_on_the_in_process_limiter() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let (_layer, server) = layer_with(&h, |b| {
        b.client_ip(through_loopback())
            .rate_limit_per_client()
            .rate_limits(RateLimits::new(Quota::per_hour(1)))
    })
    .await;
    assert_budgets_are_per_client(&server, &key).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn per_client_budgets_on_the_redis_limiter() {
    use std::sync::Arc;

    use keyward_tower::rate_limit::{RedisFallback, RedisLimiter};

    let Ok(url) = std::env::var("KEYWARD_TEST_REDIS_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "KEYWARD_TEST_REDIS_URL must be set in CI"
        );
        eprintln!("skipped: KEYWARD_TEST_REDIS_URL is not set");
        return;
    };
    let limits = RateLimits::new(Quota::per_hour(1));
    let limiter = RedisLimiter::connect(&url, &limits, RedisFallback::FailClosed)
        .await
        .unwrap_or_else(|e| panic!("cannot connect the limiter to {url}: {e}"));
    let h = Harness::new();
    let key = h.key("site_1").await;
    let (_layer, server) = layer_with(&h, |b| {
        b.client_ip(through_loopback())
            .rate_limit_per_client()
            .rate_limiter(Arc::new(limiter), limits)
    })
    .await;
    assert_budgets_are_per_client(&server, &key).await;
}
