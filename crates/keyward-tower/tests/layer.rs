//! `ApiKeyLayer` through the real tower service (`oneshot`), one test per step of the request path
//! and per error path. Every rejection is checked by `assert_rejected`, which also checks that the
//! request id is in the `X-Request-Id` header and in the body.

mod support;

use std::collections::HashSet;
use std::convert::Infallible;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::{BoxFuture, join_all};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, RETRY_AFTER, USER_AGENT, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use keyward_core::audit::{AuditEvent, AuditKind, AuditQuery};
use keyward_core::store::KeyspaceWrite;
use keyward_core::time::Clock;
use keyward_core::token::TokenFormat;
use keyward_core::{
    ApiKey, CreatedKey, Expiry, KeyKind, KeyManager, KeyPolicy, Keyspace, KeyspaceName, NewKey, Rotation,
    Tier,
};
use keyward_tower::client_ip::ClientIp;
use keyward_tower::credential::X_API_KEY;
use keyward_tower::rate_limit::{Check, Quota, RateLimits};
use keyward_tower::{
    ApiKeyLayer, AuditConfig, ConfigError, CredentialSources, FlatError, JsonEnvelope, KillSwitch, Rejection,
    TenantGate, VerifiedKey,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use support::{
    Body, Harness, Inbound, Reply, accepted, anonymous, assert_ok, assert_rejected, bearer,
    deprecation_seconds, echo_body, http_date_seconds, secret_of, send, service, tenant_id, unix_seconds,
    unknown_token,
};
use tower::{ServiceBuilder, service_fn};

const TOLINKU_MESSAGE: &str =
    "This endpoint requires a secret API key. Publishable keys cannot access this resource.";
const INVALID_TOKEN_CHALLENGE: &str =
    "Bearer error=\"invalid_token\", error_description=\"Invalid or expired API key\"";
const INVALID_REQUEST_CHALLENGE: &str = "Bearer error=\"invalid_request\"";

/// The default layer over the harness's manager.
fn layer(h: &Harness) -> ApiKeyLayer {
    ApiKeyLayer::new(h.manager.clone())
}

/// A `GET` of `path` with extra headers (appended, so a name given twice is sent twice).
fn get_with(path: &str, headers: &[(&HeaderName, HeaderValue)]) -> Request<Body> {
    let mut request = anonymous(path);
    for (name, value) in headers {
        request.headers_mut().append((*name).clone(), value.clone());
    }
    request
}

fn text(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("a valid header value")
}

fn bytes(value: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(value).expect("a valid header value")
}

/// A `POST` of `body` with this content type and no credential header.
fn post_json(path: &str, content_type: &str, body: impl Into<Bytes>) -> Request<Body> {
    Request::post(path)
        .header(CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("a valid request")
}

/// Whether `id` looks like a minted id: `req_` and 20 base62 characters.
fn is_minted(id: &str) -> bool {
    id.strip_prefix("req_")
        .is_some_and(|rest| rest.len() == 20 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

// ───────────────────────────── 1. request ids ─────────────────────────────

#[tokio::test]
async fn request_ids_are_kept_when_well_formed_minted_otherwise_and_on_every_response() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let token = key.token.expose().to_owned();
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .public("/health")
        .build()
        .expect("a valid layer");
    let svc = service(&layer);

    let longest = "b".repeat(128);
    let too_long = "a".repeat(129);
    // (what it checks, incoming X-Request-Id values, the id kept; None: a new one is minted)
    let ids: Vec<(&str, Vec<&str>, Option<&str>)> = vec![
        (
            "a well-formed id is kept",
            vec!["abc-123_x.y:Z"],
            Some("abc-123_x.y:Z"),
        ),
        (
            "128 characters is the longest id kept",
            vec![longest.as_str()],
            Some(longest.as_str()),
        ),
        ("no id: one is minted", vec![], None),
        ("an empty id is replaced", vec![""], None),
        ("an id with a space is replaced", vec!["has space"], None),
        ("an id with a slash is replaced", vec!["a/b"], None),
        (
            "an id of 129 characters is replaced",
            vec![too_long.as_str()],
            None,
        ),
        ("two ids are replaced", vec!["one", "two"], None),
        (
            "a token sent as the id is replaced, never echoed",
            vec![token.as_str()],
            None,
        ),
    ];
    // (what it checks, the request without its id, the expected status, the expected error code)
    type Build = Box<dyn Fn() -> Request<Body>>;
    let t = token.clone();
    let routes: Vec<(&str, Build, u16, Option<&str>)> = vec![
        ("success", Box::new(move || bearer("/v1/events", &t)), 200, None),
        ("public route", Box::new(|| anonymous("/health")), 200, None),
        (
            "missing key",
            Box::new(|| anonymous("/v1/events")),
            401,
            Some("unauthorized"),
        ),
        (
            "garbage key",
            Box::new(|| bearer("/v1/events", "garbage")),
            401,
            Some("unauthorized"),
        ),
        (
            "conflicting keys",
            Box::new(|| {
                get_with(
                    "/v1/events",
                    &[(&AUTHORIZATION, text("Bearer a")), (&X_API_KEY, text("b"))],
                )
            }),
            400,
            Some("bad_request"),
        ),
    ];

    let mut minted = HashSet::new();
    for (id_case, values, kept) in &ids {
        for (route_case, build, status, code) in &routes {
            let what = format!("{id_case}, {route_case}");
            let mut request = build();
            for value in values {
                request.headers_mut().append("x-request-id", text(value));
            }
            let reply = send(&svc, request).await;
            match code {
                Some(code) => assert_rejected(&reply, *status, code, &what),
                None => assert_eq!(reply.status.as_u16(), *status, "{what}"),
            }
            assert_eq!(
                reply.headers.get_all("x-request-id").iter().count(),
                1,
                "{what}: one X-Request-Id"
            );
            let id = reply.request_id().to_owned();
            match kept {
                Some(kept) => assert_eq!(&id, kept, "{what}: the incoming id is kept"),
                None => {
                    assert!(is_minted(&id), "{what}: a minted id, got {id:?}");
                    assert!(minted.insert(id), "{what}: minted ids differ");
                }
            }
        }
    }
}

#[tokio::test]
async fn the_handler_sees_the_request_id_the_client_gets() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let svc =
        ServiceBuilder::new()
            .layer(layer(&h))
            .service(service_fn(|request: Request<Inbound>| async move {
                let seen = request
                    .headers()
                    .get("x-request-id")
                    .cloned()
                    .unwrap_or_else(|| HeaderValue::from_static("none"));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::copy_from_slice(seen.as_bytes()))))
            }));
    let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(is_minted(reply.request_id()));
    assert_eq!(
        reply.text(),
        reply.request_id(),
        "the minted id is written into the request"
    );
}

// ───────────────────────────── 2. kill switch ─────────────────────────────

#[tokio::test]
async fn kill_switch_answers_503_api_disabled_and_toggles_at_run_time() {
    let h = Harness::new();
    let warm = h.key("site_1").await;
    let cold = h.key("site_2").await;
    let switch = KillSwitch::new(true);
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .public("/health")
        .kill_switch(switch.clone())
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    accepted(&svc, &warm, "switch on").await;
    let finds = h.probe.finds();

    layer.kill_switch().expect("the layer's switch").disable();
    assert!(!switch.is_enabled(), "clones share the switch");
    // (what it checks, request)
    let cases = [
        ("a cached key", bearer("/v1/events", warm.token.expose())),
        ("a cold key", bearer("/v1/events", cold.token.expose())),
        ("no key: 503 comes before 401", anonymous("/v1/events")),
        ("garbage: 503 comes before 401", bearer("/v1/events", "garbage")),
        ("a public route", anonymous("/health")),
    ];
    for (what, request) in cases {
        let reply = send(&svc, request).await;
        assert_rejected(&reply, 503, "api_disabled", what);
        assert!(
            reply.headers.get(WWW_AUTHENTICATE).is_none(),
            "{what}: no challenge"
        );
    }
    assert_eq!(
        h.probe.finds(),
        finds,
        "the store is not asked while the API is off"
    );

    switch.enable();
    accepted(&svc, &cold, "switched back on").await;
    assert_eq!(send(&svc, anonymous("/health")).await.status, StatusCode::OK);
}

const KILL_SWITCH_VAR: &str = "KEYWARD_TOWER_TEST_KILL_SWITCH";
const KILL_SWITCH_EXPECT: &str = "KEYWARD_TOWER_TEST_KILL_SWITCH_EXPECT";

/// Runs `kill_switch_from_env_child` in a child process of this test binary for each value, so
/// the variable is set for the child alone (setting it here would race with other tests).
#[test]
fn kill_switch_from_env_reads_the_variable() {
    // (what it checks, value of the variable, whether the API is on)
    let cases = [
        ("unset: on", None, true),
        ("false: off", Some("false"), false),
        ("FALSE: off, any case", Some("FALSE"), false),
        ("0: off", Some("0"), false),
        ("off: off", Some("off"), false),
        ("' No ': off, trimmed", Some(" No "), false),
        ("true: on", Some("true"), true),
        ("1: on", Some("1"), true),
        ("any other value: on", Some("maybe"), true),
    ];
    let exe = std::env::current_exe().expect("the test binary's path");
    for (what, value, enabled) in cases {
        let mut child = Command::new(&exe);
        child
            .args(["kill_switch_from_env_child", "--exact", "--test-threads=1"])
            .env(KILL_SWITCH_EXPECT, if enabled { "on" } else { "off" });
        match value {
            Some(value) => child.env(KILL_SWITCH_VAR, value),
            None => child.env_remove(KILL_SWITCH_VAR),
        };
        let output = child.output().expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{what}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "{what}: the child test ran: {stdout}"
        );
    }
}

/// Reads the kill switch from `KEYWARD_TOWER_TEST_KILL_SWITCH` and checks a request against the
/// expectation its parent test passes; run alone (no expectation), it checks that an unset
/// variable leaves the API on.
#[tokio::test]
async fn kill_switch_from_env_child() {
    let expected_on = match std::env::var(KILL_SWITCH_EXPECT) {
        Ok(expected) => expected == "on",
        Err(_) => {
            assert!(
                std::env::var_os(KILL_SWITCH_VAR).is_none(),
                "{KILL_SWITCH_VAR} is set outside the test that sets it"
            );
            true
        }
    };
    let switch = KillSwitch::from_env(KILL_SWITCH_VAR);
    assert_eq!(switch.is_enabled(), expected_on);

    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .kill_switch(switch)
        .build()
        .expect("a valid layer");
    let reply = send(&service(&layer), bearer("/v1/events", key.token.expose())).await;
    if expected_on {
        assert_ok(&reply, "site_1", "the API is on");
    } else {
        assert_rejected(&reply, 503, "api_disabled", "the API is off");
    }
}

// ───────────────────────────── 3. public routes ─────────────────────────────

#[tokio::test]
async fn public_routes_pass_without_a_key() {
    let h = Harness::new();
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .public("/health")
        .public("/v1/links/{id}/preview")
        .public_when(|method, _uri, headers| {
            method == Method::OPTIONS || headers.contains_key("x-internal-probe")
        })
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    /// What it checks, method, path, extra header, expected status.
    type Case = (
        &'static str,
        Method,
        &'static str,
        Option<(&'static str, &'static str)>,
        u16,
    );
    let cases: [Case; 10] = [
        ("a public prefix", Method::GET, "/health", None, 200),
        (
            "a path below a public prefix",
            Method::GET,
            "/health/live",
            None,
            200,
        ),
        (
            "a public pattern with a {param} segment",
            Method::GET,
            "/v1/links/abc/preview",
            None,
            200,
        ),
        (
            "a public route ignores a garbage key",
            Method::GET,
            "/health",
            Some(("authorization", "Bearer garbage")),
            200,
        ),
        (
            "public_when: a CORS preflight",
            Method::OPTIONS,
            "/v1/events",
            None,
            200,
        ),
        (
            "public_when: a header",
            Method::GET,
            "/v1/events",
            Some(("x-internal-probe", "1")),
            200,
        ),
        ("not public: a sibling path", Method::GET, "/healthz", None, 401),
        (
            "not public: another route under the pattern's parent",
            Method::GET,
            "/v1/links/abc/edit",
            None,
            401,
        ),
        ("not public: the root", Method::GET, "/", None, 401),
        (
            "not public: GET where public_when wants OPTIONS",
            Method::GET,
            "/v1/events",
            None,
            401,
        ),
    ];
    for (what, method, path, header, status) in cases {
        let mut request = anonymous(path);
        *request.method_mut() = method;
        if let Some((name, value)) = header {
            request.headers_mut().insert(name, text(value));
        }
        let reply = send(&svc, request).await;
        if status == 200 {
            assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text());
            assert_eq!(reply.text(), "public", "{what}: no VerifiedKey on a public route");
            assert!(is_minted(reply.request_id()), "{what}: a request id");
            assert!(
                reply.headers.get("x-ratelimit-limit").is_none(),
                "{what}: public routes are not rate limited"
            );
        } else {
            assert_rejected(&reply, status, "unauthorized", what);
        }
    }
    assert_eq!(h.probe.finds(), 0, "public routes never ask the store");
}

// ───────────────────────────── 4. credentials ─────────────────────────────

#[tokio::test]
async fn bearer_in_any_case_and_x_api_key_authenticate() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let token = key.token.expose();
    let svc = service(&layer(&h));
    // (what it checks, headers)
    let cases = [
        ("Bearer", vec![(&AUTHORIZATION, text(&format!("Bearer {token}")))]),
        (
            "bearer, lower case",
            vec![(&AUTHORIZATION, text(&format!("bearer {token}")))],
        ),
        (
            "BEARER, upper case",
            vec![(&AUTHORIZATION, text(&format!("BEARER {token}")))],
        ),
        (
            "bEaReR, mixed case",
            vec![(&AUTHORIZATION, text(&format!("bEaReR {token}")))],
        ),
        (
            "spaces around the token",
            vec![(&AUTHORIZATION, text(&format!("Bearer   {token}  ")))],
        ),
        ("X-API-Key", vec![(&X_API_KEY, text(token))]),
        (
            "both headers with the same key",
            vec![
                (&AUTHORIZATION, text(&format!("Bearer {token}"))),
                (&X_API_KEY, text(token)),
            ],
        ),
        (
            "another Authorization scheme is ignored when X-API-Key has the key",
            vec![
                (&AUTHORIZATION, text("Basic dXNlcjpwYXNz")),
                (&X_API_KEY, text(token)),
            ],
        ),
    ];
    for (what, headers) in cases {
        let reply = send(&svc, get_with("/v1/events", &headers)).await;
        assert_ok(&reply, "site_1", what);
    }
    assert_eq!(h.probe.finds(), 1, "one lookup, then the cache");
}

#[tokio::test]
async fn a_custom_key_header_replaces_x_api_key() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let custom = HeaderName::from_static("x-tolinku-key");
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .credentials(CredentialSources::default().header(Some(custom.clone())))
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    let reply = send(
        &svc,
        get_with("/v1/events", &[(&custom, text(key.token.expose()))]),
    )
    .await;
    assert_ok(&reply, "site_1", "the custom header");
    let reply = send(
        &svc,
        get_with("/v1/events", &[(&X_API_KEY, text(key.token.expose()))]),
    )
    .await;
    assert_rejected(&reply, 401, "unauthorized", "X-API-Key is no longer read");
}

#[tokio::test]
async fn bearer_only_refuses_x_api_key() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .credentials(CredentialSources::bearer_only())
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    let reply = send(
        &svc,
        get_with("/v1/events", &[(&X_API_KEY, text(key.token.expose()))]),
    )
    .await;
    assert_rejected(
        &reply,
        401,
        "unauthorized",
        "X-API-Key under a bearer-only config",
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer"),
        "no credential was read"
    );
    assert_eq!(h.probe.finds(), 0);
    accepted(&svc, &key, "Bearer still works").await;
}

/// The layer reading `apiKey` from JSON bodies of up to `cap` bytes, in front of [`echo_body`].
fn body_field_service(
    h: &Harness,
    cap: usize,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
+ use<> {
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .credentials(CredentialSources::default().body_field("apiKey", cap))
        .build()
        .expect("a valid layer");
    ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(echo_body::<Inbound>))
}

#[tokio::test]
async fn a_json_body_field_authenticates_and_the_handler_gets_the_body_intact() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let token = key.token.expose();
    let cap = 1024;
    let svc = body_field_service(&h, cap);

    let beacon = format!(r#"{{"apiKey":"{token}","event":"click","props":{{"x":[1,2,3]}}}}"#);
    // A body of exactly `cap` bytes: the padding field makes up the difference.
    let head = format!(r#"{{"apiKey":"{token}","pad":""#);
    let exact = format!("{head}{}\"}}", "p".repeat(cap - head.len() - 2));
    assert_eq!(exact.len(), cap);
    // (what it checks, content type, body)
    let accepted = [
        ("application/json", "application/json", beacon.clone()),
        (
            "a charset parameter",
            "application/json; charset=utf-8",
            beacon.clone(),
        ),
        ("text/plain (navigator.sendBeacon)", "text/plain", beacon.clone()),
        ("a +json media type", "application/vnd.api+json", beacon.clone()),
        ("a body of exactly the cap", "application/json", exact),
    ];
    for (what, content_type, body) in accepted {
        let reply = send(&svc, post_json("/v1/track", content_type, body.clone())).await;
        assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text());
        assert_eq!(
            reply.body,
            body.as_bytes(),
            "{what}: the handler got the body intact"
        );
        assert!(!reply.request_id().is_empty(), "{what}: a request id");
    }

    let mut header_wins = post_json(
        "/v1/track",
        "application/json",
        r#"{"apiKey":"not even a token"}"#,
    );
    header_wins
        .headers_mut()
        .insert(AUTHORIZATION, text(&format!("Bearer {token}")));
    let reply = send(&svc, header_wins).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "a header key is used before the body"
    );
    assert_eq!(reply.text(), r#"{"apiKey":"not even a token"}"#);
}

#[tokio::test]
async fn json_body_field_errors() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let token = key.token.expose();
    let cap = 1024;
    let svc = body_field_service(&h, cap);
    let over = format!(r#"{{"apiKey":"{token}","pad":"{}"}}"#, "p".repeat(cap));
    // (what it checks, content type, body, status, code)
    let cases = [
        (
            "a body over the cap",
            "application/json",
            over,
            413,
            "payload_too_large",
        ),
        (
            "a JSON body without the field",
            "application/json",
            r#"{"event":"click"}"#.to_owned(),
            401,
            "unauthorized",
        ),
        (
            "a null field",
            "application/json",
            r#"{"apiKey":null}"#.to_owned(),
            401,
            "unauthorized",
        ),
        (
            "a body that is not JSON",
            "application/json",
            "apiKey=nope".to_owned(),
            401,
            "unauthorized",
        ),
        (
            "a field that is not a string",
            "application/json",
            r#"{"apiKey":42}"#.to_owned(),
            400,
            "bad_request",
        ),
        (
            "a garbage key in the field",
            "application/json",
            r#"{"apiKey":"garbage"}"#.to_owned(),
            401,
            "unauthorized",
        ),
        (
            "a key over the credential cap in the field",
            "application/json",
            format!(r#"{{"apiKey":"{}"}}"#, "k".repeat(513)),
            400,
            "bad_request",
        ),
        (
            "a form body is not read",
            "application/x-www-form-urlencoded",
            format!("apiKey={token}"),
            401,
            "unauthorized",
        ),
    ];
    for (what, content_type, body, status, code) in cases {
        let reply = send(&svc, post_json("/v1/track", content_type, body)).await;
        assert_rejected(&reply, status, code, what);
    }
    assert_eq!(h.probe.finds(), 0, "no case reached the store");
}

#[tokio::test]
async fn a_missing_key_gets_401_with_a_bare_bearer_challenge() {
    let h = Harness::new();
    let svc = service(&layer(&h));
    // (what it checks, headers)
    let cases = [
        ("no header at all", vec![]),
        (
            "another Authorization scheme",
            vec![(&AUTHORIZATION, text("Basic dXNlcjpwYXNz"))],
        ),
        (
            "a scheme that only starts with bearer",
            vec![(&AUTHORIZATION, text("Bearerish token"))],
        ),
    ];
    for (what, headers) in cases {
        let reply = send(&svc, get_with("/v1/events", &headers)).await;
        assert_rejected(&reply, 401, "unauthorized", what);
        assert_eq!(reply.json()["error"]["message"], "Missing API key", "{what}");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer"),
            "{what}: no error attribute when no credential was sent"
        );
    }
    assert_eq!(h.probe.finds(), 0);
}

#[tokio::test]
async fn malformed_keys_get_401_invalid_token_and_never_reach_the_store() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let token = key.token.expose().to_owned();
    let svc = service(&layer(&h));

    let swap_last = {
        let mut t = token.clone();
        let last = t.pop().expect("a non-empty token");
        t.push(if last == 'A' { 'B' } else { 'A' });
        t
    };
    let swap_secret = {
        let mut bytes = token.clone().into_bytes();
        let i = key.token.redacted().len() + 3;
        bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
        String::from_utf8(bytes).expect("ASCII")
    };
    let charset = {
        let mut bytes = token.clone().into_bytes();
        bytes[key.token.redacted().len()] = b'-';
        String::from_utf8(bytes).expect("ASCII")
    };
    let other_namespace = format!("sk{}", &token[2..]);
    let test_environment = token.replacen("_live_", "_test_", 1);
    // (what it checks, the presented token)
    let cases = [
        ("a word", "hello".to_owned()),
        ("only the namespace", "kw_live_".to_owned()),
        ("another namespace", other_namespace),
        ("the environment changed (checksum fails)", test_environment),
        ("the checksum changed", swap_last),
        ("a secret character changed", swap_secret),
        ("one character short", token[..token.len() - 1].to_owned()),
        ("one character long", format!("{token}A")),
        ("lower-cased", token.to_lowercase()),
        ("a character outside the alphabet", charset),
        ("a JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig".to_owned()),
    ];
    for (what, presented) in &cases {
        let reply = send(&svc, bearer("/v1/events", presented)).await;
        assert_rejected(&reply, 401, "unauthorized", &format!("Bearer: {what}"));
        assert_eq!(
            reply.header("www-authenticate"),
            Some(INVALID_TOKEN_CHALLENGE),
            "{what}"
        );
        assert_eq!(reply.json()["error"]["message"], "Invalid or expired API key");
        let reply = send(&svc, get_with("/v1/events", &[(&X_API_KEY, text(presented))])).await;
        assert_rejected(&reply, 401, "unauthorized", &format!("X-API-Key: {what}"));
    }
    assert_eq!(h.probe.finds(), 0, "garbage is refused before any lookup");
}

#[tokio::test]
async fn malformed_requests_get_400_invalid_request() {
    let h = Harness::new();
    let a = h.key("site_1").await;
    let b = h.key("site_1").await;
    let (a, b) = (a.token.expose(), b.token.expose());
    let svc = service(&layer(&h));
    let long = "k".repeat(600);
    // (what it checks, headers)
    let cases = [
        (
            "Authorization twice, same value",
            vec![
                (&AUTHORIZATION, text(&format!("Bearer {a}"))),
                (&AUTHORIZATION, text(&format!("Bearer {a}"))),
            ],
        ),
        (
            "X-API-Key twice",
            vec![(&X_API_KEY, text(a)), (&X_API_KEY, text(b))],
        ),
        (
            "Authorization twice, one not Bearer",
            vec![
                (&AUTHORIZATION, text("Basic dXNlcjpwYXNz")),
                (&AUTHORIZATION, text(&format!("Bearer {a}"))),
            ],
        ),
        (
            "a non-UTF-8 Bearer token",
            vec![(&AUTHORIZATION, bytes(b"Bearer \xff\xfe\x80"))],
        ),
        ("a non-UTF-8 X-API-Key", vec![(&X_API_KEY, bytes(b"kw_\xe9"))]),
        (
            "two different valid keys",
            vec![
                (&AUTHORIZATION, text(&format!("Bearer {a}"))),
                (&X_API_KEY, text(b)),
            ],
        ),
        (
            "an oversized Bearer token",
            vec![(&AUTHORIZATION, text(&format!("Bearer {long}")))],
        ),
        ("an oversized X-API-Key", vec![(&X_API_KEY, text(&long))]),
        (
            "an X-API-Key just over the cap",
            vec![(&X_API_KEY, text(&"k".repeat(513)))],
        ),
        ("an empty Bearer", vec![(&AUTHORIZATION, text("Bearer"))]),
        ("a Bearer of spaces", vec![(&AUTHORIZATION, text("Bearer    "))]),
        ("an empty X-API-Key", vec![(&X_API_KEY, text(""))]),
        (
            "a token with an inner space",
            vec![(&AUTHORIZATION, text(&format!("Bearer {a} {b}")))],
        ),
        (
            "the scheme repeated in X-API-Key",
            vec![(&X_API_KEY, text(&format!("Bearer {a}")))],
        ),
    ];
    for (what, headers) in cases {
        let reply = send(&svc, get_with("/v1/events", &headers)).await;
        assert_rejected(&reply, 400, "bad_request", what);
        assert_eq!(
            reply.header("www-authenticate"),
            Some(INVALID_REQUEST_CHALLENGE),
            "{what}"
        );
    }
    assert_eq!(h.probe.finds(), 0, "bad requests never reach the store");
}

// ───────────────────────────── 5. verification ─────────────────────────────

#[tokio::test]
async fn a_cache_hit_does_not_ask_the_store_again() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let svc = service(&layer(&h));
    for round in 0..5 {
        accepted(&svc, &key, &format!("round {round}")).await;
    }
    assert_eq!(h.probe.finds(), 1);
}

#[tokio::test]
async fn without_the_per_thread_front_moka_alone_serves_hits_and_revocation_still_evicts() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let cache = keyward_tower::CacheConfig {
        per_thread_front: false,
        ..Default::default()
    };
    let svc = service(
        &ApiKeyLayer::builder(h.manager.clone())
            .cache(cache)
            .build()
            .unwrap(),
    );
    for round in 0..3 {
        accepted(&svc, &key, &format!("round {round}")).await;
    }
    assert_eq!(h.probe.finds(), 1, "one lookup, then moka");
    h.manager.revoke(&tenant_id("site_1"), &key.key.id).await.unwrap();
    let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
    assert_rejected(&reply, 401, "unauthorized", "revoked");
}

#[tokio::test]
async fn the_credential_headers_reach_the_handler_marked_sensitive() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let svc = ServiceBuilder::new()
        .layer(layer(&h))
        .service(service_fn(|request: Request<_>| async move {
            let headers = request.headers();
            let flags: Vec<bool> = [&AUTHORIZATION, &X_API_KEY]
                .into_iter()
                .map(|name| headers.get(name).is_some_and(HeaderValue::is_sensitive))
                .collect();
            let printed = format!("{headers:?}");
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                "{flags:?} {printed}"
            )))))
        }));
    let mut request = bearer("/v1/events", key.token.expose());
    request.headers_mut().insert(
        X_API_KEY.clone(),
        HeaderValue::from_str(key.token.expose()).unwrap(),
    );
    let reply = send(&svc, request).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().starts_with("[true, true]"), "{}", reply.text());
    assert!(
        !reply.text().contains(secret_of(&key)),
        "printed headers hide the key"
    );
}

#[tokio::test]
async fn a_resync_from_the_store_empties_both_caches() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let svc = service(&layer(&h));
    let unknown = unknown_token();
    accepted(&svc, &key, "cold").await;
    assert_rejected(
        &send(&svc, bearer("/v1/events", &unknown)).await,
        401,
        "unauthorized",
        "cold unknown",
    );
    assert_eq!(h.probe.finds(), 2);
    // A notification connection dropped: changes may have been missed.
    h.manager.store().changes().resync();
    accepted(&svc, &key, "after resync").await;
    assert_rejected(
        &send(&svc, bearer("/v1/events", &unknown)).await,
        401,
        "unauthorized",
        "unknown after resync",
    );
    assert_eq!(h.probe.finds(), 4, "both lookups went back to the store");
}

#[tokio::test]
async fn an_unknown_key_is_refused_and_then_answered_by_the_negative_cache() {
    let h = Harness::new();
    let svc = service(&layer(&h));
    let token = unknown_token();
    for round in ["first", "second", "third"] {
        let reply = send(&svc, bearer("/v1/events", &token)).await;
        assert_rejected(&reply, 401, "unauthorized", round);
        assert_eq!(reply.header("www-authenticate"), Some(INVALID_TOKEN_CHALLENGE));
    }
    assert_eq!(
        h.probe.finds(),
        1,
        "the negative cache answered after the first lookup"
    );
}

#[tokio::test]
async fn revoking_through_the_manager_evicts_the_key_at_once() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let other = h.key("site_1").await;
    let svc = service(&layer(&h));
    for token in [key.token.expose(), other.token.expose()] {
        assert_ok(&send(&svc, bearer("/v1/events", token)).await, "site_1", "before");
    }
    h.manager
        .revoke(&tenant_id("site_1"), &key.key.id)
        .await
        .expect("revoked");
    let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
    assert_rejected(&reply, 401, "unauthorized", "the next request after revoking");
    assert_eq!(reply.header("www-authenticate"), Some(INVALID_TOKEN_CHALLENGE));
    assert_eq!(h.probe.finds(), 3, "the revoked key was looked up again");
    accepted(&svc, &other, "the tenant's other key is untouched").await;
    assert_eq!(h.probe.finds(), 3, "and still cached");
}

/// A key of another keyspace on the same store is unknown to the layer (even with a token of the
/// same format); a change of the layer's keyspace policy flushes its cache, another's does not.
#[tokio::test]
async fn keys_of_another_keyspace_are_unknown_and_policy_changes_flush_the_cache() {
    let h = Harness::new();
    let other = KeyManager::builder_shared(h.manager.store().clone())
        .keyspace("other")
        .build()
        .expect("a valid manager");
    let foreign = other
        .create(NewKey::new(tenant_id("site_1")))
        .await
        .expect("created in the other keyspace");
    let key = h.key("site_1").await;
    let svc = service(&layer(&h));
    let reply = send(&svc, bearer("/v1/events", foreign.token.expose())).await;
    assert_rejected(&reply, 401, "unauthorized", "another keyspace's key");
    accepted(&svc, &key, "the layer's own key").await;
    let finds = h.probe.finds();
    accepted(&svc, &key, "cached").await;
    assert_eq!(h.probe.finds(), finds, "a hit asks nothing");

    let store = h.manager.store();
    let now = h.manager.now();
    let theirs = Keyspace::new(
        KeyspaceName::new("other").expect("valid"),
        TokenFormat::default(),
        KeyPolicy::default(),
    );
    store
        .save_keyspace(&theirs, KeyspaceWrite::Replace, now)
        .await
        .expect("written");
    accepted(&svc, &key, "after another keyspace's change").await;
    assert_eq!(h.probe.finds(), finds, "still cached");
    let ours = Keyspace::new(
        h.manager.keyspace().clone(),
        TokenFormat::default(),
        KeyPolicy::default(),
    );
    store
        .save_keyspace(&ours, KeyspaceWrite::Replace, now)
        .await
        .expect("written");
    accepted(&svc, &key, "after its own keyspace's change").await;
    assert_eq!(h.probe.finds(), finds + 1, "looked up again");
}

/// A revoke that lands while a cold lookup is between reading the (still active) record and
/// caching it: requests that arrive after the revoke, and later ones, must be refused.
#[tokio::test(start_paused = true)]
async fn a_revoke_during_a_cold_lookup_is_not_undone_by_it() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let token = key.token.expose().to_owned();
    let svc = service(&layer(&h));
    let request = |svc: &_, token: &str| {
        let (svc, request) = (Clone::clone(svc), bearer("/v1/events", token));
        tokio::spawn(async move { send(&svc, request).await })
    };

    h.probe.hold_finds(true);
    let before = request(&svc, &token);
    h.probe.wait_for_reads(1).await;
    h.manager
        .revoke(&tenant_id("site_1"), &key.key.id)
        .await
        .expect("revoked");
    let after = request(&svc, &token);
    // It reads the revoked record, unless it wrongly joined the lookup begun before the revoke
    // (then nothing more is read, and the paused clock runs the timeout out at once).
    let _ = tokio::time::timeout(Duration::from_secs(5), h.probe.wait_for_reads(2)).await;
    h.probe.hold_finds(false);

    let before = before.await.expect("the request task");
    assert_ok(&before, "site_1", "the request that began before the revoke");
    let after = after.await.expect("the request task");
    assert_rejected(
        &after,
        401,
        "unauthorized",
        "a request that arrived after the revoke",
    );
    let later = send(&svc, bearer("/v1/events", &token)).await;
    assert_rejected(&later, 401, "unauthorized", "the stale record was not cached");
}

#[tokio::test(start_paused = true)]
async fn fifty_concurrent_requests_for_a_cold_key_make_one_store_lookup() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    // The lookup takes a while (on the paused clock), so every request misses the cache and waits.
    h.probe.set_find_delay(Some(Duration::from_millis(50)));
    let svc = service(&layer(&h));
    let replies = join_all((0..50).map(|_| send(&svc, bearer("/v1/events", key.token.expose())))).await;
    for (i, reply) in replies.iter().enumerate() {
        assert_ok(reply, "site_1", &format!("request {i}"));
    }
    assert_eq!(h.probe.finds(), 1, "exactly one store lookup");
}

#[tokio::test(start_paused = true)]
async fn fifty_concurrent_requests_for_an_unknown_key_make_one_store_lookup() {
    let h = Harness::new();
    h.probe.set_find_delay(Some(Duration::from_millis(50)));
    let svc = service(&layer(&h));
    let token = unknown_token();
    let replies = join_all((0..50).map(|_| send(&svc, bearer("/v1/events", &token)))).await;
    for (i, reply) in replies.iter().enumerate() {
        assert_rejected(reply, 401, "unauthorized", &format!("request {i}"));
    }
    assert_eq!(h.probe.finds(), 1);
}

#[tokio::test]
async fn a_store_outage_gives_503_while_cached_keys_keep_working() {
    let h = Harness::new();
    let warm = h.key("site_1").await;
    let cold = h.key("site_2").await;
    let svc = service(&layer(&h));
    accepted(&svc, &warm, "before the outage").await;

    h.probe.set_down(true);
    for round in ["first", "second: the failure is not cached"] {
        let reply = send(&svc, bearer("/v1/events", cold.token.expose())).await;
        assert_rejected(&reply, 503, "store_unavailable", round);
        assert!(
            reply.headers.get(WWW_AUTHENTICATE).is_none(),
            "{round}: not a credential problem"
        );
        accepted(&svc, &warm, &format!("{round}: the cached key keeps working")).await;
    }
    let reply = send(&svc, bearer("/v1/events", &unknown_token())).await;
    assert_rejected(
        &reply,
        503,
        "store_unavailable",
        "an unknown key during the outage",
    );
    assert_eq!(h.probe.finds(), 4);

    h.probe.set_down(false);
    accepted(&svc, &cold, "after the outage").await;
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let h = Harness::new();
    let key = h
        .create(NewKey::new(tenant_id("site_1")).expires(Expiry::In(Duration::from_secs(3600))))
        .await;
    let svc = service(&layer(&h));
    accepted(&svc, &key, "fresh").await;
    h.clock
        .advance(Duration::from_secs(3600) - Duration::from_millis(1));
    accepted(&svc, &key, "a millisecond before expiry").await;
    h.clock.advance(Duration::from_millis(1));
    let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
    assert_rejected(&reply, 401, "unauthorized", "expired (while cached)");
    assert_eq!(reply.header("www-authenticate"), Some(INVALID_TOKEN_CHALLENGE));
    assert_eq!(reply.json()["error"]["message"], "Invalid or expired API key");
}

#[tokio::test]
async fn grace_rotation_keeps_both_keys_working_until_the_grace_ends() {
    let grace = Duration::from_secs(3600);
    let h = Harness::with(|builder| builder.rotation(Rotation::Grace(grace)));
    let old = h.key("site_1").await;
    let svc = service(&layer(&h));
    accepted(&svc, &old, "before rotating").await;
    let new = h
        .manager
        .rotate(&tenant_id("site_1"), &old.key.id)
        .await
        .expect("rotated");
    h.clock.advance(grace - Duration::from_millis(1));
    for (what, key) in [("old key, in grace", &old), ("new key", &new)] {
        accepted(&svc, key, what).await;
    }
    h.clock.advance(Duration::from_millis(1));
    let reply = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_rejected(&reply, 401, "unauthorized", "old key, grace over");
    accepted(&svc, &new, "new key after the grace").await;
}

/// The `Deprecation` and `Sunset` times of a reply (Unix seconds, both parsed), `None` when it has
/// neither; panics when it has one alone.
fn grace_notice(reply: &Reply) -> Option<(i64, i64)> {
    match (reply.header("deprecation"), reply.header("sunset")) {
        (Some(deprecation), Some(sunset)) => {
            Some((deprecation_seconds(deprecation), http_date_seconds(sunset)))
        }
        (None, None) => None,
        other => panic!("Deprecation and Sunset come together: {other:?}"),
    }
}

#[test]
fn the_header_checks_read_known_values() {
    assert_eq!(http_date_seconds("Sat, 05 Dec 2026 16:48:42 GMT"), 1_796_489_322);
    assert_eq!(http_date_seconds("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    assert_eq!(deprecation_seconds("@1796489322"), 1_796_489_322);
    for bad in [
        "Fri, 05 Dec 2026 16:48:42 GMT",
        "Sat, 5 Dec 2026 16:48:42 GMT",
        "2026-12-05T16:48:42Z",
    ] {
        assert!(
            std::panic::catch_unwind(|| http_date_seconds(bad)).is_err(),
            "{bad}"
        );
    }
    for bad in ["1796489322", "@", "@-1", "@1.5"] {
        assert!(
            std::panic::catch_unwind(|| deprecation_seconds(bad)).is_err(),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_key_in_grace_gets_deprecation_and_sunset_and_no_other_key_does() {
    let grace = Duration::from_secs(48 * 3600);
    let h = Harness::with(|builder| builder.rotation(Rotation::Grace(grace)));
    let old = h.key("site_1").await;
    let fresh = h.key("site_2").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rotation_docs("https://docs.example.com/keys#rotation")
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    // Cached before the rotation: the rotation's change evicts it, and the reload sees its grace.
    let before = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_ok(&before, "site_1", "before rotating");
    assert_eq!(grace_notice(&before), None, "not rotated yet");
    assert_eq!(before.header("link"), None);

    h.clock.advance(Duration::from_millis(1_500));
    let new = h
        .manager
        .rotate(&tenant_id("site_1"), &old.key.id)
        .await
        .expect("rotated");
    let rotated_at = new.key.created_at;
    h.clock.advance(Duration::from_secs(3600));
    let reply = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_ok(&reply, "site_1", "the old key, in grace");
    let (deprecated, sunset) = grace_notice(&reply).expect("a notice for the key in grace");
    assert_eq!(
        deprecated,
        unix_seconds(rotated_at),
        "deprecated when it was rotated out"
    );
    assert_eq!(
        sunset,
        unix_seconds(rotated_at.plus(grace)),
        "sunset when the grace ends"
    );
    assert_eq!(
        reply.header("link"),
        Some("<https://docs.example.com/keys#rotation>; rel=\"sunset\"")
    );
    // A cache hit carries the same notice.
    let again = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_eq!(grace_notice(&again), Some((deprecated, sunset)), "a cache hit");

    for (what, key) in [("the successor", &new), ("a key never rotated", &fresh)] {
        let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
        assert_ok(&reply, key.key.tenant.as_str(), what);
        assert_eq!(grace_notice(&reply), None, "{what}");
        assert_eq!(reply.header("link"), None, "{what}");
    }

    h.clock.advance(grace);
    let over = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_rejected(&over, 401, "unauthorized", "the old key, grace over");
    assert_eq!(grace_notice(&over), None, "a refused key gets no notice");
    assert_eq!(over.header("link"), None);
}

#[tokio::test]
async fn the_sunset_of_a_key_that_expires_in_its_grace_is_its_expiry_and_refusals_carry_it() {
    let h = Harness::with(|builder| builder.rotation(Rotation::Grace(Duration::from_secs(3600))));
    let old = h
        .create(NewKey::new(tenant_id("site_1")).expires(Expiry::In(Duration::from_secs(600))))
        .await;
    let expires_at = old.key.expires_at.expect("an expiry");
    let new = h
        .manager
        .rotate(&tenant_id("site_1"), &old.key.id)
        .await
        .expect("rotated");
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(1)))
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    let reply = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_ok(&reply, "site_1", "in grace");
    assert_eq!(
        grace_notice(&reply),
        Some((unix_seconds(new.key.created_at), unix_seconds(expires_at))),
        "sunset at the expiry, which comes before the grace's end"
    );
    assert_eq!(reply.header("link"), None, "no rotation docs configured: no Link");
    let limited = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_rejected(&limited, 429, "rate_limit_exceeded", "the budget is spent");
    assert_eq!(
        grace_notice(&limited),
        grace_notice(&reply),
        "a 429 of the key in grace"
    );
}

#[tokio::test]
async fn requests_of_a_key_in_grace_are_logged_at_keyward_audit() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::with(|builder| builder.rotation(Rotation::Grace(Duration::from_secs(3600))));
    let old = h.key("site_1").await;
    let new = h
        .manager
        .rotate(&tenant_id("site_1"), &old.key.id)
        .await
        .expect("rotated");
    let layer = layer(&h);
    let svc = service(&layer);
    accepted(&svc, &old, "in grace").await;
    accepted(&svc, &new, "the successor").await;
    layer.audit().expect("audit on").flush().await;

    let text = logs.text();
    let graced: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("keyward::audit") && line.contains("rotation grace period"))
        .collect();
    assert_eq!(
        graced.len(),
        1,
        "one line, for the old key's request only: {text}"
    );
    assert!(
        graced[0].contains(&old.key.fingerprint().to_string()),
        "{}",
        graced[0]
    );
    assert!(
        graced[0].contains("path=\"/v1/events\"") || graced[0].contains("path=/v1/events"),
        "{}",
        graced[0]
    );
    assert!(!text.contains(&new.key.fingerprint().to_string()), "{text}");
    assert!(!text.contains(secret_of(&old)), "never the token");
}

#[tokio::test]
async fn rotation_docs_that_a_link_header_cannot_carry_are_refused() {
    let h = Harness::new();
    for bad in [
        "",
        "https://docs.example.com/key rotation",
        "https://docs.example.com/<x>",
    ] {
        let built = ApiKeyLayer::builder(h.manager.clone()).rotation_docs(bad).build();
        assert!(
            matches!(&built, Err(ConfigError::RotationDocs(uri)) if uri == bad),
            "{bad:?}: {built:?}"
        );
    }
}

#[tokio::test]
async fn immediate_rotation_refuses_the_old_key_at_once() {
    let h = Harness::with(|builder| builder.rotation(Rotation::Immediate));
    let old = h.key("site_1").await;
    let svc = service(&layer(&h));
    accepted(&svc, &old, "before").await;
    let new = h
        .manager
        .rotate(&tenant_id("site_1"), &old.key.id)
        .await
        .expect("rotated");
    let reply = send(&svc, bearer("/v1/events", old.token.expose())).await;
    assert_rejected(&reply, 401, "unauthorized", "the old key, cached before rotating");
    accepted(&svc, &new, "the new key").await;
}

// ───────────────────────────── 6. key kinds and the tenant gate ─────────────────────────────

#[tokio::test]
async fn publishable_keys_only_on_routes_that_allow_them() {
    let h = Harness::new();
    let publishable = h
        .create(NewKey::new(tenant_id("app_1")).kind(KeyKind::Publishable))
        .await;
    let secret = h.key("app_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .allow_publishable("/v1/api/banners")
        .allow_publishable("/v1/api/messages/{id}/render")
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    // (what it checks, key, path, whether it passes)
    let cases = [
        (
            "publishable on a secret-only route",
            &publishable,
            "/v1/api/analytics",
            false,
        ),
        (
            "publishable on an allowed route",
            &publishable,
            "/v1/api/banners",
            true,
        ),
        (
            "publishable below an allowed route",
            &publishable,
            "/v1/api/banners/42",
            true,
        ),
        (
            "publishable on an allowed {id} route",
            &publishable,
            "/v1/api/messages/7/render",
            true,
        ),
        (
            "publishable on a sibling of an allowed {id} route",
            &publishable,
            "/v1/api/messages/7/delete",
            false,
        ),
        (
            "secret on a secret-only route",
            &secret,
            "/v1/api/analytics",
            true,
        ),
        ("secret on a publishable route", &secret, "/v1/api/banners", true),
    ];
    // Twice: the second round answers from the cache (the fast path).
    for round in ["cold", "cached"] {
        for (what, key, path, passes) in &cases {
            let what = format!("{round}: {what}");
            let reply = send(&svc, bearer(path, key.token.expose())).await;
            if *passes {
                assert_ok(&reply, "app_1", &what);
            } else {
                assert_rejected(&reply, 403, "forbidden", &what);
                assert_eq!(reply.json()["error"]["message"], TOLINKU_MESSAGE, "{what}");
                assert!(reply.headers.get(WWW_AUTHENTICATE).is_none(), "{what}");
            }
        }
    }
}

/// Refuses tenants on the free tier.
struct PaidOnly;

impl TenantGate for PaidOnly {
    fn check<'a>(&'a self, key: &'a ApiKey) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            if key.tier.as_str() == "free" {
                Err(Rejection::forbidden("API access requires a paid plan"))
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn the_tenant_gate_refuses_a_free_tier_key_with_403() {
    let h = Harness::new();
    let free = h
        .create(NewKey::new(tenant_id("acct_free")).tier(Tier::new("free").expect("a tier")))
        .await;
    let paid = h
        .create(NewKey::new(tenant_id("acct_pro")).tier(Tier::new("pro").expect("a tier")))
        .await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .tenant_gate(PaidOnly)
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    for round in ["cold", "cached: the gate runs on every request"] {
        let reply = send(&svc, bearer("/v1/events", free.token.expose())).await;
        assert_rejected(&reply, 403, "forbidden", round);
        assert_eq!(
            reply.json()["error"]["message"],
            "API access requires a paid plan"
        );
        assert_ok(
            &send(&svc, bearer("/v1/events", paid.token.expose())).await,
            "acct_pro",
            round,
        );
    }
    assert_eq!(h.probe.finds(), 2, "the gate does not defeat the cache");
}

// ───────────────────────────── 7. rate limits ─────────────────────────────

#[tokio::test]
async fn the_default_budget_is_60_a_minute_with_its_headers() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let svc = service(&layer(&h));
    let started = Instant::now();

    let first = send(&svc, bearer("/v1/events", key.token.expose())).await;
    assert_ok(&first, "site_1", "first");
    assert_eq!(first.number("x-ratelimit-limit"), 60);
    assert_eq!(first.number("x-ratelimit-remaining"), 59);
    assert_eq!(
        first.number("x-ratelimit-reset"),
        1,
        "one unit comes back in a second"
    );
    assert!(first.headers.get(RETRY_AFTER).is_none());
    assert!(
        first.headers.get("ratelimit").is_none(),
        "IETF fields are off by default"
    );

    let mut allowed = 1;
    let refused = loop {
        let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            break reply;
        }
        assert_ok(&reply, "site_1", &format!("request {}", allowed + 1));
        assert_eq!(reply.number("x-ratelimit-limit"), 60);
        let remaining = reply.number("x-ratelimit-remaining");
        assert_eq!(
            reply.number("x-ratelimit-reset"),
            60 - remaining,
            "at 60 a minute, each spent unit takes a second to come back"
        );
        allowed += 1;
        assert!(allowed <= 120, "the budget never ran out");
    };
    // Units come back at one a second, so a slow machine may get a few more through.
    let refilled = started.elapsed().as_secs();
    assert!(
        (60..=60 + refilled).contains(&allowed),
        "{allowed} requests passed in {refilled} s"
    );
    assert_rejected(&refused, 429, "rate_limit_exceeded", "request 61");
    assert_eq!(refused.json()["error"]["message"], "Too many requests");
    assert_eq!(refused.number("retry-after"), 1, "whole seconds, rounded up");
    assert_eq!(refused.number("x-ratelimit-limit"), 60);
    assert_eq!(refused.number("x-ratelimit-remaining"), 0);
    assert_eq!(refused.number("x-ratelimit-reset"), 60);
    assert!(refused.headers.get(WWW_AUTHENTICATE).is_none());
}

#[tokio::test]
async fn retry_after_is_whole_seconds_rounded_up() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(1)))
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    accepted(&svc, &key, "the one request of the hour").await;
    let refused = send(&svc, bearer("/v1/events", key.token.expose())).await;
    assert_rejected(&refused, 429, "rate_limit_exceeded", "the second request");
    let retry_after = refused.header("retry-after").expect("Retry-After");
    assert!(
        retry_after.bytes().all(|b| b.is_ascii_digit()),
        "whole seconds: {retry_after}"
    );
    assert!(
        (3599..=3600).contains(&refused.number("retry-after")),
        "{retry_after}"
    );
}

#[tokio::test]
async fn a_route_cost_of_3_drains_3_units() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(60)))
        .route_cost("/v1/export", 3)
        .route_cost("/v1/export/full", 5)
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    // (what it checks, path, remaining after, reset after in seconds: a unit per minute)
    let cases = [
        ("cost 3", "/v1/export", 57, 3 * 60),
        ("cost 1 elsewhere", "/v1/events", 56, 4 * 60),
        ("cost 3 below the route", "/v1/export/csv", 53, 7 * 60),
        ("the highest matching cost wins", "/v1/export/full", 48, 12 * 60),
    ];
    for (what, path, remaining, reset) in cases {
        let reply = send(&svc, bearer(path, key.token.expose())).await;
        assert_ok(&reply, "site_1", what);
        assert_eq!(reply.number("x-ratelimit-limit"), 60, "{what}");
        assert_eq!(reply.number("x-ratelimit-remaining"), remaining, "{what}");
        assert_eq!(reply.number("x-ratelimit-reset"), reset, "{what}");
    }
}

#[tokio::test]
async fn a_cost_over_the_remaining_budget_is_refused_without_spending() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(4)))
        .route_cost("/v1/export", 3)
        .route_cost("/v1/bulk", 5)
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    let token = key.token.expose();
    let reply = send(&svc, bearer("/v1/bulk", token)).await;
    assert_rejected(&reply, 429, "rate_limit_exceeded", "a cost over the whole budget");
    assert_eq!(reply.number("retry-after"), 3600, "it never fits: a whole period");
    assert_eq!(
        send(&svc, bearer("/v1/events", token))
            .await
            .number("x-ratelimit-remaining"),
        3
    );
    let reply = send(&svc, bearer("/v1/export", token)).await;
    assert_eq!(reply.number("x-ratelimit-remaining"), 0, "3 of 3 spent");
    let reply = send(&svc, bearer("/v1/export", token)).await;
    assert_rejected(&reply, 429, "rate_limit_exceeded", "3 more do not fit");
    assert!(
        (2 * 900 - 1..=3 * 900).contains(&reply.number("retry-after")),
        "until 3 units are back at one per 15 minutes: {}",
        reply.number("retry-after")
    );
}

#[tokio::test]
async fn tiers_get_their_own_quotas() {
    let h = Harness::new();
    let basic = h.key("site_1").await;
    let pro = h
        .create(NewKey::new(tenant_id("site_2")).tier(Tier::new("pro").expect("a tier")))
        .await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_minute(60)).tier("pro", Quota::per_minute(600)))
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    // (what it checks, key, limit)
    for (what, key, limit) in [("default tier", &basic, 60), ("pro tier", &pro, 600)] {
        let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
        assert_eq!(reply.number("x-ratelimit-limit"), limit, "{what}");
        assert_eq!(reply.number("x-ratelimit-remaining"), limit - 1, "{what}");
    }
}

#[tokio::test]
async fn a_rotated_key_shares_the_budget_of_its_predecessor() {
    let h = Harness::with(|builder| builder.rotation(Rotation::Grace(Duration::from_secs(3600))));
    let old = h.key("site_1").await;
    let unrelated = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(3)))
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    for expected in [2, 1] {
        let reply = send(&svc, bearer("/v1/events", old.token.expose())).await;
        assert_eq!(reply.number("x-ratelimit-remaining"), expected, "old key");
    }
    let new = h
        .manager
        .rotate(&tenant_id("site_1"), &old.key.id)
        .await
        .expect("rotated");
    assert_eq!(new.key.lineage, old.key.lineage);
    let reply = send(&svc, bearer("/v1/events", new.token.expose())).await;
    assert_ok(&reply, "site_1", "the new key spends the last unit");
    assert_eq!(reply.number("x-ratelimit-remaining"), 0, "not a fresh budget");
    for (what, key) in [("new key", &new), ("old key", &old)] {
        let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
        assert_rejected(&reply, 429, "rate_limit_exceeded", what);
    }
    let reply = send(&svc, bearer("/v1/events", unrelated.token.expose())).await;
    assert_eq!(
        reply.number("x-ratelimit-remaining"),
        2,
        "another lineage of the same tenant has its own budget"
    );
}

#[tokio::test]
async fn ietf_headers_add_ratelimit_and_ratelimit_policy() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(2)))
        .ietf_headers(true)
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    let token = key.token.expose();
    // (what it checks, status, RateLimit)
    let cases = [
        ("first", 200, "\"default\";r=1;t=1800"),
        ("second", 200, "\"default\";r=0;t=3600"),
        ("refused", 429, "\"default\";r=0;t=3600"),
    ];
    for (what, status, state) in cases {
        let reply = send(&svc, bearer("/v1/events", token)).await;
        assert_eq!(reply.status.as_u16(), status, "{what}");
        assert_eq!(reply.header("ratelimit"), Some(state), "{what}");
        assert_eq!(
            reply.header("ratelimit-policy"),
            Some("\"default\";q=2;w=3600"),
            "{what}"
        );
        assert!(
            reply.headers.get("x-ratelimit-limit").is_some(),
            "{what}: X- fields too"
        );
    }
}

#[tokio::test]
async fn no_rate_limit_sends_no_rate_limit_headers() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(1)))
        .no_rate_limit()
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    for round in 0..3 {
        let reply = send(&svc, bearer("/v1/events", key.token.expose())).await;
        assert_ok(&reply, "site_1", &format!("round {round}"));
        assert!(reply.headers.get("x-ratelimit-limit").is_none());
    }
}

#[tokio::test]
async fn a_zero_route_cost_is_a_config_error() {
    let h = Harness::new();
    let error = ApiKeyLayer::builder(h.manager.clone())
        .route_cost("/v1/free", 0)
        .build()
        .expect_err("a zero cost is refused");
    assert_eq!(error, ConfigError::ZeroCost("/v1/free".to_owned()));
}

#[test]
fn building_with_audit_outside_a_runtime_is_a_config_error() {
    let h = Harness::new();
    let error = ApiKeyLayer::builder(h.manager.clone())
        .build()
        .expect_err("no runtime");
    assert_eq!(error, ConfigError::NoRuntime);
    let layer = ApiKeyLayer::builder(h.manager.clone()).no_audit().build();
    assert!(
        layer.is_ok_and(|layer| layer.audit().is_none()),
        "without recording no runtime is needed"
    );
}

// ───────────────────────────── 8. VerifiedKey ─────────────────────────────

/// Answers what the `VerifiedKey` in the request's extensions says, as JSON; on `/v1/scoped` it
/// refuses through `VerifiedKey::reject`; on `/v1/charged` it charges 2 more units first.
async fn describe(request: Request<Inbound>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(key) = request.extensions().get::<VerifiedKey>() else {
        let mut response = Response::new(Full::new(Bytes::from_static(b"no VerifiedKey")));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        return Ok(response);
    };
    if request.uri().path() == "/v1/scoped" {
        return Ok(key.reject(&Rejection::InsufficientScope {
            missing: vec!["customers:write".to_owned()],
        }));
    }
    let charged = if request.uri().path() == "/v1/charged" {
        let check = key.charge(NonZeroU32::new(2).expect("non-zero"));
        match check {
            Some(Check::Ready(Ok(decision))) => Some(decision.remaining),
            _ => None,
        }
    } else {
        None
    };
    let header_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json = serde_json::json!({
        "key_id": key.key().id.to_string(),
        "tenant": key.key().tenant.to_string(),
        "kind": key.key().kind.as_str(),
        "fingerprint": key.fingerprint().to_string(),
        "request_id": key.request_id(),
        "header_request_id": header_id,
        "remaining": key.rate_limit().map(|d| d.remaining),
        "charged_remaining": charged,
        "debug": format!("{key:?}"),
    });
    Ok(Response::new(Full::new(Bytes::from(json.to_string()))))
}

#[tokio::test]
async fn the_verified_key_is_in_the_request_extensions() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(60)))
        .build()
        .expect("a valid layer");
    let svc = ServiceBuilder::new().layer(layer).service(service_fn(describe));
    // Twice: once through the slow path (a cache miss), once through the fast path.
    for (round, remaining) in [("cold", 59), ("cached", 58)] {
        let mut request = bearer("/v1/events", key.token.expose());
        request.headers_mut().insert("x-request-id", text("trace-42"));
        let reply = send(&svc, request).await;
        assert_eq!(reply.status, StatusCode::OK, "{round}: {}", reply.text());
        let json = reply.json();
        assert_eq!(json["key_id"], key.key.id.to_string(), "{round}");
        assert_eq!(json["tenant"], "site_1", "{round}");
        assert_eq!(json["kind"], "secret", "{round}");
        assert_eq!(json["fingerprint"], key.key.fingerprint().to_string(), "{round}");
        assert_eq!(json["request_id"], "trace-42", "{round}");
        assert_eq!(json["header_request_id"], "trace-42", "{round}");
        assert_eq!(json["remaining"], remaining, "{round}");
        assert_eq!(
            reply.number("x-ratelimit-remaining"),
            remaining,
            "{round}: the same decision"
        );
    }

    let reply = send(&svc, bearer("/v1/charged", key.token.expose())).await;
    assert_eq!(
        reply.json()["charged_remaining"],
        55,
        "1 by the layer, 2 by the handler"
    );

    let reply = send(&svc, bearer("/v1/scoped", key.token.expose())).await;
    assert_rejected(
        &reply,
        403,
        "insufficient_scope",
        "a handler's rejection through VerifiedKey::reject",
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer error=\"insufficient_scope\", scope=\"customers:write\"")
    );
    assert!(
        reply.headers.get("x-ratelimit-limit").is_some(),
        "rate-limit headers too"
    );
}

// ───────────────────────────── 9. audit, renderers, Debug, robustness ─────────────────────────────

/// A layer over `h`'s manager that records usage and audit events with `config`.
fn recording(h: &Harness, config: AuditConfig) -> ApiKeyLayer {
    ApiKeyLayer::builder(h.manager.clone())
        .audit(config)
        .build()
        .expect("a valid layer")
}

/// Sends `count` requests with `key` through `layer`, each of them accepted.
async fn send_accepted(layer: &ApiKeyLayer, key: &CreatedKey, count: usize) {
    let svc = service(layer);
    for i in 0..count {
        accepted(&svc, key, &format!("request {i}")).await;
    }
}

#[tokio::test]
async fn usage_and_audit_records_wait_out_a_store_outage() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = recording(
        &h,
        AuditConfig {
            interval: Duration::from_millis(5),
            ..AuditConfig::default()
        },
    );
    h.probe.set_writes_down(true);
    send_accepted(&layer, &key, 3).await;
    // Let the writer try a few rounds against the refusing store.
    while h.probe.refused_writes() < 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let tenant = tenant_id("site_1");
    let events = h
        .manager
        .audit_log(&AuditQuery::new(tenant.clone()).limit(10))
        .await
        .expect("the store answers");
    assert!(events.is_empty(), "nothing could be written yet");

    h.probe.set_writes_down(false);
    layer.audit().expect("recording is on").flush().await;
    let events = h
        .manager
        .audit_log(&AuditQuery::new(tenant.clone()).limit(10))
        .await
        .expect("the store answers");
    assert_eq!(events.len(), 3, "every event kept through the outage");
    let stored = h
        .manager
        .get(&tenant, &key.key.id)
        .await
        .expect("the store answers")
        .expect("the key");
    assert_eq!(stored.request_count, 3, "every use kept through the outage");
    assert_eq!(layer.audit().map(|a| a.dropped()), Some(0));
}

#[tokio::test]
async fn a_full_audit_queue_drops_and_counts_and_never_holds_up_a_request() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = recording(
        &h,
        AuditConfig {
            capacity: 2,
            interval: Duration::from_secs(3600),
            ..AuditConfig::default()
        },
    );
    // On this single-threaded runtime the writer runs only when the test waits: the five
    // requests meet a queue of two.
    send_accepted(&layer, &key, 5).await;
    let audit = layer.audit().expect("recording is on");
    assert_eq!(audit.dropped(), 3);
    audit.flush().await;
    let tenant = tenant_id("site_1");
    let events = h
        .manager
        .audit_log(&AuditQuery::new(tenant.clone()).limit(10))
        .await
        .expect("the store answers");
    assert_eq!(events.len(), 2);
}

#[tokio::test]
async fn a_half_full_audit_queue_wakes_the_writer_before_its_interval() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .audit(AuditConfig {
            capacity: 1024,
            interval: Duration::from_secs(3600),
            ..AuditConfig::default()
        })
        .no_rate_limit()
        .build()
        .expect("a valid layer");
    // Half of the queue, and a few more: the length is looked at every few records.
    send_accepted(&layer, &key, 512 + 64).await;
    let tenant = tenant_id("site_1");
    let written = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let events = h
                .manager
                .audit_log(&AuditQuery::new(tenant.clone()).limit(1000))
                .await
                .expect("the store answers");
            if !events.is_empty() {
                return events.len();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the writer wrote without waiting out its hour");
    assert!(written >= 512, "{written} events written");
    assert_eq!(layer.audit().expect("recording is on").dropped(), 0);
}

/// An audit event of `key` that happened `ago` before the harness's clock, named `name`.
fn event_ago(h: &Harness, key: &CreatedKey, ago: Duration, name: &str) -> AuditEvent {
    AuditEvent {
        at: h.clock.now().minus(ago),
        request_id: name.to_owned(),
        key_id: key.key.id.clone(),
        tenant: key.key.tenant.clone(),
        fingerprint: key.key.fingerprint(),
        method: "GET".into(),
        path: "/v1/events".into(),
        status: 200,
        client_ip: None,
        user_agent: None,
        kind: AuditKind::Request,
        detail: None,
    }
}

/// The request ids of `tenant`'s stored events, newest first.
async fn stored_ids(h: &Harness, tenant: &str) -> Vec<String> {
    let query = AuditQuery::new(tenant_id(tenant));
    let events = h.manager.audit_log(&query).await.expect("the store answers");
    events.into_iter().map(|e| e.request_id).collect()
}

/// Waits (up to ten seconds) until `tenant`'s stored events are `expected`.
async fn until_stored(h: &Harness, tenant: &str, expected: &[&str]) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while stored_ids(h, tenant).await != expected {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "expected {expected:?}, stored {:?}",
        stored_ids(h, tenant).await
    );
}

#[tokio::test]
async fn retention_deletes_old_events_at_start_and_then_hourly() {
    const DAY: Duration = Duration::from_secs(86_400);
    const HOUR: Duration = Duration::from_secs(3600);
    const MINUTE: Duration = Duration::from_secs(60);
    let h = Harness::new();
    let key = h.key("site_1").await;
    let other = h.key("site_2").await;
    let store = h.manager.store();
    let old = [
        event_ago(&h, &key, DAY + HOUR, "old"),
        event_ago(&h, &other, 2 * DAY, "other_old"),
        event_ago(&h, &key, DAY - 30 * MINUTE, "recent"),
        event_ago(&h, &key, HOUR, "new"),
    ];
    store.append_audit(&old).await.expect("append");
    let layer = recording(
        &h,
        AuditConfig {
            interval: Duration::from_millis(5),
            ..AuditConfig::default()
        }
        .retention(DAY),
    );
    // At start: every tenant's events older than a day go.
    until_stored(&h, "site_1", &["new", "recent"]).await;
    assert_eq!(stored_ids(&h, "site_2").await, Vec::<String>::new());

    // 45 minutes on, `recent` is over a day old, yet kept until the hour since the last deletion
    // is up.
    h.clock.advance(45 * MINUTE);
    let audit = layer.audit().expect("recording is on");
    for _ in 0..3 {
        audit.flush().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        stored_ids(&h, "site_1").await,
        ["new", "recent"],
        "at most hourly"
    );

    h.clock.advance(15 * MINUTE);
    audit.flush().await;
    until_stored(&h, "site_1", &["new"]).await;
}

#[tokio::test]
async fn without_retention_every_event_is_kept() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let ancient = event_ago(&h, &key, Duration::from_secs(400 * 86_400), "ancient");
    h.manager
        .store()
        .append_audit(std::slice::from_ref(&ancient))
        .await
        .expect("append");
    let layer = recording(
        &h,
        AuditConfig {
            interval: Duration::from_millis(5),
            ..AuditConfig::default()
        },
    );
    h.clock.advance(Duration::from_secs(7200));
    let audit = layer.audit().expect("recording is on");
    audit.flush().await;
    audit.flush().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(stored_ids(&h, "site_1").await, ["ancient"]);
}

#[tokio::test]
async fn usage_and_audit_records_reach_the_store() {
    let h = Harness::new();
    let key = h.key("site_1").await;
    let idle = h.key("site_1").await;
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .client_ip(ClientIp::socket())
        .build()
        .expect("a valid layer");
    let svc = service(&layer);
    let client = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)), 51_000);
    // (request id, method, path and query, user agent, handler's status)
    let requests = [
        (
            "audit-1",
            Method::GET,
            "/v1/events?page=2",
            Some("probe/1.0"),
            200,
        ),
        ("audit-2", Method::POST, "/v1/events", None, 201),
        ("audit-3", Method::GET, "/v1/customers/42", Some("probe/2.0"), 200),
    ];
    for (id, method, path, agent, status) in &requests {
        h.clock.advance(Duration::from_secs(10));
        let mut request = bearer(path, key.token.expose());
        *request.method_mut() = method.clone();
        request.headers_mut().insert("x-request-id", text(id));
        if let Some(agent) = agent {
            request.headers_mut().insert(USER_AGENT, text(agent));
        }
        request.extensions_mut().insert(client);
        let reply = send(&svc, request).await;
        assert_eq!(reply.status.as_u16(), *status, "{id}");
    }
    // A refused request is not a use of the key.
    let refused = send(&svc, bearer("/v1/events", "garbage")).await;
    assert_rejected(&refused, 401, "unauthorized", "garbage");

    layer.audit().expect("recording is on").flush().await;
    assert_eq!(layer.audit().map(|a| a.dropped()), Some(0));

    let tenant = tenant_id("site_1");
    let stored = h
        .manager
        .get(&tenant, &key.key.id)
        .await
        .expect("the store answers")
        .expect("the key");
    assert_eq!(stored.request_count, 3);
    assert_eq!(stored.last_used_at, Some(h.clock.now()), "the latest use");
    let untouched = h
        .manager
        .get(&tenant, &idle.key.id)
        .await
        .expect("the store answers")
        .expect("the key");
    assert_eq!((untouched.request_count, untouched.last_used_at), (0, None));

    let events = h
        .manager
        .audit_log(&AuditQuery::new(tenant.clone()).limit(10))
        .await
        .expect("the store answers");
    assert_eq!(events.len(), 3);
    for (id, method, path, agent, status) in &requests {
        let event = events
            .iter()
            .find(|e| e.request_id == *id)
            .unwrap_or_else(|| panic!("an event for {id}"));
        assert_eq!(event.key_id, key.key.id, "{id}");
        assert_eq!(event.tenant, tenant, "{id}");
        assert_eq!(event.fingerprint, key.key.fingerprint(), "{id}");
        assert_eq!(event.method, method.as_str(), "{id}");
        assert_eq!(
            event.path,
            path.split('?').next().unwrap_or_default(),
            "{id}: the path without its query"
        );
        assert_eq!(event.status, *status, "{id}: the handler's status");
        assert_eq!(event.user_agent.as_deref(), *agent, "{id}");
        assert_eq!(event.client_ip.as_deref(), Some("203.0.113.7"), "{id}");
    }
    let recorded = format!(
        "{}{events:?}{stored:?}",
        serde_json::to_string(&events).expect("events serialize")
    );
    assert!(
        !recorded.contains(secret_of(&key)),
        "records never hold the token"
    );
}

#[tokio::test]
async fn renderers_shape_the_error_body() {
    let h = Harness::new();
    let svc_for = |layer: ApiKeyLayer| service(&layer);
    let flat = svc_for(
        ApiKeyLayer::builder(h.manager.clone())
            .render_with(FlatError)
            .build()
            .expect("a valid layer"),
    );
    let upper = svc_for(
        ApiKeyLayer::builder(h.manager.clone())
            .render_with(JsonEnvelope::uppercase())
            .build()
            .expect("a valid layer"),
    );
    let closure = svc_for(
        ApiKeyLayer::builder(h.manager.clone())
            .render_with(|rejection: &Rejection, request_id: &str| {
                Bytes::from(format!("{}|{request_id}", rejection.code()))
            })
            .build()
            .expect("a valid layer"),
    );

    let reply = send(&flat, anonymous("/v1/events")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json(), serde_json::json!({"error": "Missing API key"}));
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    assert!(is_minted(reply.request_id()), "the header still carries the id");

    let reply = send(&flat, bearer("/v1/events", "garbage")).await;
    assert_eq!(
        reply.json(),
        serde_json::json!({"error": "Invalid or expired API key"})
    );

    let reply = send(&upper, bearer("/v1/events", "garbage")).await;
    assert_eq!(
        reply.json(),
        serde_json::json!({"error": {
            "code": "UNAUTHORIZED",
            "message": "Invalid or expired API key",
            "status": 401,
            "request_id": reply.request_id(),
        }})
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));

    let reply = send(&closure, anonymous("/v1/events")).await;
    assert_eq!(reply.text(), format!("unauthorized|{}", reply.request_id()));
}

/// Log lines captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[tokio::test]
async fn debug_output_rejections_and_logs_never_show_the_token() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::new();
    let key = h.key("site_1").await;
    let other = h.key("site_1").await;
    let token = key.token.expose().to_owned();
    let secret = secret_of(&key).to_owned();
    let builder = ApiKeyLayer::builder(h.manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(1)))
        .credentials(CredentialSources::default().body_field("apiKey", 64));
    assert!(!format!("{builder:?}").contains(&secret));
    let layer = builder.build().expect("a valid layer");
    let svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service(service_fn(describe));

    let reply = send(&svc, bearer("/v1/events", &token)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let debug = reply.json()["debug"]
        .as_str()
        .expect("the VerifiedKey's Debug")
        .to_owned();
    assert!(debug.contains(&key.key.id.to_string()), "{debug}");
    assert!(debug.contains("fp_"), "named by fingerprint: {debug}");
    assert!(!debug.contains(&secret), "VerifiedKey's Debug: {debug}");

    let mut swapped = token.clone().into_bytes();
    let last = swapped.len() - 1;
    swapped[last] = if swapped[last] == b'A' { b'B' } else { b'A' };
    let swapped = String::from_utf8(swapped).expect("ASCII");
    // (what it checks, the request; each one is refused)
    let refused = [
        ("rate limited", bearer("/v1/events", &token)),
        ("a checksum error", bearer("/v1/events", &swapped)),
        (
            "too long",
            bearer("/v1/events", &format!("{token}{}", "x".repeat(600))),
        ),
        (
            "an inner space",
            bearer("/v1/events", &format!("{token} {token}")),
        ),
        (
            "conflicting",
            get_with(
                "/v1/events",
                &[
                    (&AUTHORIZATION, text(&format!("Bearer {token}"))),
                    (&X_API_KEY, text(other.token.expose())),
                ],
            ),
        ),
        (
            "a body over the cap",
            post_json(
                "/v1/track",
                "application/json",
                format!(r#"{{"apiKey":"{token}","pad":"{}"}}"#, "p".repeat(64)),
            ),
        ),
        ("the key in the path", anonymous(&format!("/v1/keys/{token}"))),
    ];
    for (what, request) in refused {
        let reply = send(&svc, request).await;
        assert!(reply.status.is_client_error(), "{what}: {}", reply.status);
        let shown = format!("{reply:?}{}", String::from_utf8_lossy(&reply.body));
        assert!(!shown.contains(&secret), "{what}: {shown}");
    }
    h.manager
        .revoke(&tenant_id("site_1"), &key.key.id)
        .await
        .expect("revoked");
    let reply = send(&svc, bearer("/v1/events", &token)).await;
    assert_rejected(&reply, 401, "unauthorized", "revoked");
    assert!(!format!("{reply:?}").contains(&secret));

    for rejection in [
        Rejection::InvalidToken,
        Rejection::MissingCredential,
        Rejection::BadRequest("The API key is too long".into()),
        Rejection::SecretKeyRequired,
        Rejection::RateLimited {
            retry_after: Duration::from_secs(1),
        },
    ] {
        let shown = format!("{rejection:?} {} {}", rejection.message(), rejection.code());
        assert!(!shown.contains(&secret), "{shown}");
    }
    let layer_debug = format!("{layer:?}");
    assert!(layer_debug.starts_with("ApiKeyLayer"), "{layer_debug}");
    assert!(!layer_debug.contains(&secret), "{layer_debug}");
    assert!(!format!("{:?}", key.key).contains(&secret));
    assert!(!format!("{:?}", key.token).contains(&secret));

    let logs = logs.text();
    assert!(
        logs.contains("API key refused"),
        "the refusals were logged: {logs}"
    );
    assert!(logs.contains("fp_"), "keys are named by fingerprint: {logs}");
    assert!(!logs.contains(&secret), "logs never hold the token: {logs}");
}

/// Header values of any bytes a `HeaderValue` can hold, sometimes after a scheme.
fn arbitrary_credentials() -> impl Strategy<Value = (HeaderName, HeaderValue)> {
    let name = prop_oneof![Just(AUTHORIZATION), Just(X_API_KEY.clone())];
    let scheme = prop_oneof![Just(""), Just("Bearer "), Just("bearer "), Just("Basic ")];
    let byte = prop_oneof![
        8 => 0x20u8..=0x7e,
        1 => 0x80u8..=0xff,
        1 => Just(b'\t'),
    ];
    (name, scheme, prop::collection::vec(byte, 0..700)).prop_map(|(name, scheme, tail)| {
        let mut value = scheme.as_bytes().to_vec();
        value.extend(tail);
        (
            name,
            HeaderValue::from_bytes(&value).expect("only valid header bytes"),
        )
    })
}

#[test]
fn arbitrary_credential_bytes_always_get_a_4xx_and_never_a_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (h, svc, token) = runtime.block_on(async {
        let h = Harness::new();
        let key = h.key("site_1").await;
        let layer = ApiKeyLayer::builder(h.manager.clone())
            .credentials(CredentialSources::default().body_field("apiKey", 1024))
            .no_rate_limit()
            .build()
            .expect("a valid layer");
        (h, service(&layer), key.token.expose().to_owned())
    });
    let check = |reply: &Reply, what: &str| -> Result<(), TestCaseError> {
        prop_assert!(
            reply.status.is_client_error(),
            "{what}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        prop_assert!(reply.headers.contains_key("x-request-id"));
        Ok(())
    };

    let mut runner = TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&arbitrary_credentials(), |(name, value)| {
            let reply = runtime.block_on(send(&svc, get_with("/v1/events", &[(&name, value.clone())])));
            check(&reply, &format!("{name}: {value:?}"))
        })
        .expect("arbitrary header bytes");

    // One byte of a real token changed to anything else.
    let len = token.len();
    let mutation = (0..len, 0x20u8..=0xff).prop_filter("a different byte", {
        let token = token.clone();
        move |(i, b)| token.as_bytes()[*i] != *b && *b != 0x7f
    });
    runner
        .run(&mutation, |(i, b)| {
            let mut value = token.clone().into_bytes();
            value[i] = b;
            let mut header = b"Bearer ".to_vec();
            header.extend(&value);
            let header = HeaderValue::from_bytes(&header).expect("only valid header bytes");
            let reply = runtime.block_on(send(&svc, get_with("/v1/events", &[(&AUTHORIZATION, header)])));
            check(&reply, &format!("byte {i} set to {b:#x}"))
        })
        .expect("mutated tokens");

    // Any body under a JSON content type.
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..1500), |body| {
            let reply = runtime.block_on(send(&svc, post_json("/v1/track", "application/json", body)));
            check(&reply, "a JSON body")
        })
        .expect("arbitrary bodies");

    assert_eq!(h.probe.finds(), 0, "garbage never reached the store");
}
