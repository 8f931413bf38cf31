//! Malformed requests over real HTTP, one table: every one is refused with a 4xx, never a 5xx, a
//! panic or a hang. The layer's refusals are its JSON envelope with the request id in the
//! `X-Request-Id` header and the body; the few that hyper refuses before the layer sees them (a
//! NUL byte or a bare CR in a header, a header section over its limit) get hyper's bare 400 or
//! 431, which is still a 4xx.
//!
//! Tokens are in a format with every segment (`kw_live_sk_<prefix>_<secret><checksum>`), so that
//! each part can be damaged on its own.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use futures_util::future::BoxFuture;
use keyward_axum::AuthedKey;
use keyward_axum::guard::RequireScopes;
use keyward_core::time::{ManualClock, Timestamp};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{
    ApiKey, Environment, Expiry, KeyKind, KeyManager, MemoryStore, NewKey, Rotation, TenantId,
};
use keyward_tower::{ApiKeyLayer, CredentialSources, Rejection};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};

use crate::raw;
use crate::support::{Answer, Server, key_with, scopes_of, serve};

const BODY_LIMIT: usize = 64 * 1024;
const GRACE: Duration = Duration::from_secs(60);

fn format() -> TokenFormat {
    TokenFormat::builder("kw")
        .environment()
        .kind_segment("pk", "sk")
        .public_prefix(8)
        .secret(32, Alphabet::Base62)
        .checksum()
        .build()
        .expect("a valid format")
}

/// The layer has no environment rule of its own: a server that takes live keys only says so with
/// a tenant gate.
fn live_only(key: &ApiKey) -> BoxFuture<'_, Result<(), Rejection>> {
    let verdict = match key.environment {
        Environment::Live => Ok(()),
        Environment::Test => Err(Rejection::forbidden("Test keys are not accepted here")),
    };
    Box::pin(std::future::ready(verdict))
}

/// The tokens the cases present, each in a different state.
struct Tokens {
    live: String,
    narrow: String,
    test: String,
    publishable: String,
    revoked: String,
    expired: String,
    rotated_out: String,
    other_keyspace: String,
    unknown: String,
}

async fn app() -> (Server, Tokens) {
    let store = std::sync::Arc::new(MemoryStore::new());
    let clock = ManualClock::new(Timestamp::now());
    let manager_in = |keyspace: &str| {
        KeyManager::builder_shared(store.clone())
            .keyspace(keyspace)
            .format(format())
            .clock(clock.clone())
            .rotation(Rotation::Grace(GRACE))
            .build()
            .expect("a valid manager")
    };
    let manager = manager_in("default");
    let layer = ApiKeyLayer::builder(manager.clone())
        .credentials(CredentialSources::default().body_field("apiKey", BODY_LIMIT))
        .allow_publishable("/v1/beacon")
        .tenant_gate(live_only)
        .no_rate_limit()
        .no_audit()
        .build()
        .expect("a valid layer");
    let app = Router::new()
        .route(
            "/v1/events",
            get(|key: AuthedKey| async move { key.tenant.to_string() }),
        )
        .route(
            "/v1/customers",
            get(|| async { "customers" }).route_layer(RequireScopes::new(["customers:read"])),
        )
        .route("/v1/beacon", post(|| async { "tracked" }))
        .layer(layer);

    let site = || NewKey::new(TenantId::new("site_1").expect("a valid tenant"));
    let create = |new: NewKey| key_with(&manager, new);
    let revoked = manager.create(site()).await.expect("created");
    manager
        .revoke(&revoked.key.tenant, &revoked.key.id)
        .await
        .expect("revoked");
    let expiring = create(site().expires(Expiry::In(GRACE))).await;
    let rotated = manager.create(site()).await.expect("created");
    manager
        .rotate(&rotated.key.tenant, &rotated.key.id)
        .await
        .expect("rotated");
    clock.advance(GRACE + Duration::from_secs(1));
    let tokens = Tokens {
        live: create(site()).await,
        narrow: create(site().scopes(scopes_of("analytics:read"))).await,
        test: create(site().environment(Environment::Test)).await,
        publishable: create(site().kind(KeyKind::Publishable)).await,
        revoked: revoked.token.expose().to_owned(),
        expired: expiring,
        rotated_out: rotated.token.expose().to_owned(),
        other_keyspace: key_with(&manager_in("other"), site()).await,
        unknown: format()
            .mint(Environment::Live, KeyKind::Secret)
            .expose()
            .to_owned(),
    };
    (serve(app).await, tokens)
}

/// `token` with the first `from` replaced by `to`.
fn replaced(token: &str, from: &str, to: &str) -> String {
    assert!(token.contains(from), "{token} has no {from}");
    token.replacen(from, to, 1)
}

/// `token` with its last character changed: the checksum no longer matches.
fn bad_checksum(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "A" { "B" } else { "A" })
}

/// What a case sends.
enum Send {
    /// Through reqwest: method, path, headers (appended, so names may repeat), body.
    Client {
        method: Method,
        path: &'static str,
        headers: Vec<(&'static str, Vec<u8>)>,
        body: Vec<u8>,
    },
    /// Written byte for byte.
    Raw(Vec<u8>),
}

impl Send {
    fn get(path: &'static str) -> Self {
        Self::Client {
            method: Method::GET,
            path,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `POST /v1/beacon` with this content type and body.
    fn beacon(content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        let headers = content_type
            .map(|ct| ("content-type", ct.as_bytes().to_vec()))
            .into_iter()
            .collect();
        Self::Client {
            method: Method::POST,
            path: "/v1/beacon",
            headers,
            body: body.into(),
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        if let Self::Client { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }

    fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    async fn to(self, server: &Server) -> Answer {
        match self {
            Self::Client {
                method,
                path,
                headers,
                body,
            } => {
                let mut request = server.request(method, path, None).body(body);
                for (name, value) in headers {
                    let value = HeaderValue::from_bytes(&value).expect("a value reqwest can send");
                    request = request.header(HeaderName::from_static(name), value);
                }
                Answer::of(request).await
            }
            Self::Raw(bytes) => raw::send(server.address(), bytes).await,
        }
    }
}

/// What a case must get back.
enum Expect {
    /// The layer's (or a guard's) JSON envelope with this status and code, and a minted request id.
    Refused(StatusCode, &'static str),
    /// The same, keeping the client's well-formed request id.
    RefusedKeepingId(StatusCode, &'static str, String),
    /// hyper's own refusal, before the layer: a bare 4xx.
    ByHyper(StatusCode),
    /// Accepted: the handler answered 200.
    Accepted,
}

struct Case {
    what: &'static str,
    send: Send,
    expect: Expect,
}

fn case(what: &'static str, send: Send, expect: Expect) -> Case {
    Case { what, send, expect }
}

fn cases(t: &Tokens) -> Vec<Case> {
    use Expect::{Accepted, ByHyper, Refused, RefusedKeepingId};
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
    const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
    const TOO_LARGE: StatusCode = StatusCode::PAYLOAD_TOO_LARGE;
    let bad = || Refused(BAD, "bad_request");
    let unauthorized = || Refused(UNAUTHORIZED, "unauthorized");
    let events = || Send::get("/v1/events");
    let live = t.live.as_str();
    let id_10k = "r".repeat(10 * 1024);
    let id_129 = "r".repeat(129);
    let id_128 = "r".repeat(128);
    let mebibyte = format!("Authorization: Bearer {}", "a".repeat(1024 * 1024));
    let many_headers: Vec<Vec<u8>> = (0..150).map(|i| format!("X-Pad-{i}: x").into_bytes()).collect();
    let many_headers: Vec<&[u8]> = many_headers.iter().map(Vec::as_slice).collect();
    let beacon_json = Some("application/json");
    let mebibyte_body = format!(r#"{{"pad":"{}"}}"#, "p".repeat(1024 * 1024)).into_bytes();
    let mebibyte_length = format!("Content-Length: {}", mebibyte_body.len());
    vec![
        // No credential, or a scheme that is not Bearer.
        case("no credential", events(), unauthorized()),
        case(
            "Basic scheme",
            events().header("authorization", "Basic dXNlcjpwYXNz"),
            unauthorized(),
        ),
        case(
            "another scheme",
            events().header("authorization", format!("Token {live}")),
            unauthorized(),
        ),
        case(
            "a scheme that starts like Bearer",
            events().header("authorization", format!("Bearers {live}")),
            unauthorized(),
        ),
        // RFC 7235 separates the scheme from the credentials with spaces only: a tab makes
        // `Bearer\t…` a scheme of its own, which carries no key.
        case(
            "Bearer and a tab",
            events().header("authorization", format!("Bearer\t{live}")),
            unauthorized(),
        ),
        // Malformed Bearer credentials.
        case("empty Bearer", events().header("authorization", "Bearer"), bad()),
        case(
            "Bearer and spaces only",
            events().header("authorization", "Bearer    "),
            bad(),
        ),
        case(
            "a space inside the token",
            events().header("authorization", format!("Bearer {live} extra")),
            bad(),
        ),
        case(
            "a tab inside the token",
            events().header("authorization", format!("Bearer {live}\tx")),
            bad(),
        ),
        case("an empty X-API-Key", events().header("x-api-key", ""), bad()),
        // Duplicated and conflicting credentials.
        case(
            "two Authorization headers",
            events().bearer(live).bearer(live),
            bad(),
        ),
        case(
            "two different Authorization headers",
            events().bearer(live).bearer(&t.narrow),
            bad(),
        ),
        case(
            "two X-API-Key headers",
            events().header("x-api-key", live).header("x-api-key", live),
            bad(),
        ),
        case(
            "Authorization and X-API-Key disagree",
            events().bearer(live).header("x-api-key", t.narrow.as_str()),
            bad(),
        ),
        // Oversized credentials.
        case("a 513-byte token", events().bearer(&"a".repeat(513)), bad()),
        case(
            "an 8 KiB Bearer token",
            events().bearer(&"a".repeat(8 * 1024)),
            bad(),
        ),
        case(
            "an 8 KiB X-API-Key",
            events().header("x-api-key", "a".repeat(8 * 1024)),
            bad(),
        ),
        case(
            "a 1 MiB Authorization header",
            Send::Raw(raw::get("/v1/events", &[mebibyte.as_bytes()])),
            ByHyper(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        ),
        case(
            "150 headers",
            Send::Raw(raw::get("/v1/events", &many_headers)),
            ByHyper(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        ),
        // Bytes that are not a token's.
        case(
            "non-UTF-8 X-API-Key",
            events().header("x-api-key", b"\xff\xfe\xfd".to_vec()),
            bad(),
        ),
        case(
            "non-UTF-8 Bearer token",
            events().header("authorization", b"Bearer kw_\xc3\x28".to_vec()),
            bad(),
        ),
        case(
            "a non-ASCII character in the token",
            events().bearer(&replaced(live, "kw_", "kw_é")),
            bad(),
        ),
        case(
            "a NUL byte in Authorization",
            Send::Raw(raw::get("/v1/events", &[b"Authorization: Bearer kw_\0live"])),
            ByHyper(BAD),
        ),
        case(
            "a NUL byte in X-API-Key",
            Send::Raw(raw::get("/v1/events", &[b"X-API-Key: \0"])),
            ByHyper(BAD),
        ),
        // Well-formed credentials of the wrong shape: refused by the parser, before any lookup.
        case(
            "wrong namespace",
            events().bearer(&replaced(live, "kw_", "kx_")),
            unauthorized(),
        ),
        case(
            "wrong environment segment",
            events().bearer(&replaced(live, "_live_", "_prod_")),
            unauthorized(),
        ),
        case(
            "wrong kind segment",
            events().bearer(&replaced(live, "_sk_", "_xk_")),
            unauthorized(),
        ),
        case(
            "bad checksum",
            events().bearer(&bad_checksum(live)),
            unauthorized(),
        ),
        case(
            "one character short",
            events().bearer(&live[..live.len() - 1]),
            unauthorized(),
        ),
        case(
            "one character more",
            events().bearer(&format!("{live}A")),
            unauthorized(),
        ),
        case("garbage", events().header("x-api-key", "garbage"), unauthorized()),
        // Well-formed tokens that are no valid key.
        case(
            "right format but unknown",
            events().bearer(&t.unknown),
            unauthorized(),
        ),
        case("revoked", events().bearer(&t.revoked), unauthorized()),
        case("expired", events().bearer(&t.expired), unauthorized()),
        case(
            "rotated, after the grace period",
            events().bearer(&t.rotated_out),
            unauthorized(),
        ),
        case(
            "a key of another keyspace",
            events().bearer(&t.other_keyspace),
            unauthorized(),
        ),
        // Valid keys where they may not go.
        case(
            "a test key on a live-only server",
            events().bearer(&t.test),
            Refused(FORBIDDEN, "forbidden"),
        ),
        case(
            "a publishable key on a secret route",
            events().bearer(&t.publishable),
            Refused(FORBIDDEN, "forbidden"),
        ),
        case(
            "a missing scope",
            Send::get("/v1/customers").bearer(&t.narrow),
            Refused(FORBIDDEN, "insufficient_scope"),
        ),
        // The key in a JSON body.
        case(
            "malformed JSON",
            Send::beacon(beacon_json, r#"{"apiKey":"#),
            unauthorized(),
        ),
        case(
            "JSON that is not an object",
            Send::beacon(beacon_json, format!(r#"["{}"]"#, t.publishable)),
            unauthorized(),
        ),
        case(
            "an empty JSON body",
            Send::beacon(beacon_json, ""),
            unauthorized(),
        ),
        case(
            "apiKey is a number",
            Send::beacon(beacon_json, r#"{"apiKey":42}"#),
            bad(),
        ),
        case(
            "apiKey is an object",
            Send::beacon(beacon_json, r#"{"apiKey":{"token":"x"}}"#),
            bad(),
        ),
        case(
            "apiKey is an array",
            Send::beacon(beacon_json, format!(r#"{{"apiKey":["{}"]}}"#, t.publishable)),
            bad(),
        ),
        case(
            "apiKey over 512 bytes",
            Send::beacon(beacon_json, format!(r#"{{"apiKey":"{}"}}"#, "a".repeat(600))),
            bad(),
        ),
        case(
            "apiKey with a NUL",
            Send::beacon(beacon_json, r#"{"apiKey":"kw_live_\u0000"}"#),
            unauthorized(),
        ),
        case(
            "apiKey revoked",
            Send::beacon(beacon_json, format!(r#"{{"apiKey":"{}"}}"#, t.revoked)),
            unauthorized(),
        ),
        // Raw, so that the answer is read while the upload goes on.
        case(
            "a 1 MiB body",
            Send::Raw(raw::request(
                "POST",
                "/v1/beacon",
                &[b"Content-Type: application/json", mebibyte_length.as_bytes()],
                &mebibyte_body,
            )),
            Refused(TOO_LARGE, "payload_too_large"),
        ),
        case(
            "a 1 MiB chunked body",
            Send::Raw(raw::request(
                "POST",
                "/v1/beacon",
                &[b"Content-Type: application/json", b"Transfer-Encoding: chunked"],
                &chunked(&mebibyte_body),
            )),
            Refused(TOO_LARGE, "payload_too_large"),
        ),
        case(
            "a body declared larger than allowed, never sent",
            Send::Raw(raw::request(
                "POST",
                "/v1/beacon",
                &[b"Content-Type: application/json", b"Content-Length: 104857600"],
                br#"{"apiKey":"#,
            )),
            Refused(TOO_LARGE, "payload_too_large"),
        ),
        case(
            "a form body",
            Send::beacon(
                Some("application/x-www-form-urlencoded"),
                format!(r#"{{"apiKey":"{}"}}"#, t.publishable),
            ),
            unauthorized(),
        ),
        case(
            "no content type",
            Send::beacon(None, format!(r#"{{"apiKey":"{}"}}"#, t.publishable)),
            unauthorized(),
        ),
        // Forged request ids: replaced by a minted one, never echoed.
        case(
            "a 10 KiB request id",
            events().header("x-request-id", id_10k),
            unauthorized(),
        ),
        case(
            "a 129-byte request id",
            events().header("x-request-id", id_129),
            unauthorized(),
        ),
        case(
            "a request id with spaces",
            events().header("x-request-id", "a b"),
            unauthorized(),
        ),
        case(
            "a request id with an encoded line break",
            events().header("x-request-id", "a%0d%0aSet-Cookie:x"),
            unauthorized(),
        ),
        case(
            "a non-ASCII request id",
            events().header("x-request-id", b"r\xe9q".to_vec()),
            unauthorized(),
        ),
        case(
            "two request ids",
            events()
                .header("x-request-id", "one")
                .header("x-request-id", "two"),
            unauthorized(),
        ),
        case(
            "a request id with a bare CR",
            Send::Raw(raw::get("/v1/events", &[b"X-Request-Id: a\rSet-Cookie: x"])),
            ByHyper(BAD),
        ),
        case(
            "a request id continued on a folded line",
            Send::Raw(raw::get("/v1/events", &[b"X-Request-Id: a", b" Set-Cookie: x"])),
            ByHyper(BAD),
        ),
        // A CRLF ends the header: what follows is a header of its own, and only the id before it
        // is kept.
        case(
            "a request id with a CRLF",
            Send::Raw(raw::get(
                "/v1/events",
                &[b"X-Request-Id: split-1\r\nSet-Cookie: x"],
            )),
            RefusedKeepingId(UNAUTHORIZED, "unauthorized", "split-1".into()),
        ),
        case(
            "a 128-byte request id is kept",
            events().header("x-request-id", id_128.clone()),
            RefusedKeepingId(UNAUTHORIZED, "unauthorized", id_128),
        ),
        // What RFC 6750 and 7235 allow is accepted: the scheme is case-insensitive and may be
        // followed by more than one space.
        case(
            "lower-case scheme",
            events().header("authorization", format!("bearer {live}")),
            Accepted,
        ),
        case(
            "upper-case scheme",
            events().header("authorization", format!("BEARER {live}")),
            Accepted,
        ),
        case(
            "several spaces after the scheme",
            events().header("authorization", format!("Bearer    {live}")),
            Accepted,
        ),
        case(
            "the same key in both headers",
            events().bearer(live).header("x-api-key", live),
            Accepted,
        ),
        case(
            "a publishable key in the body",
            Send::beacon(
                Some("text/plain;charset=UTF-8"),
                format!(r#"{{"apiKey":"{}"}}"#, t.publishable),
            ),
            Accepted,
        ),
    ]
}

/// `body` in chunks of 16 KiB (`Transfer-Encoding: chunked`): no length is known in advance.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for chunk in body.chunks(16 * 1024) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    bytes
}

/// Checks `answer` against `expect`.
fn check(what: &str, answer: &Answer, expect: &Expect) {
    match expect {
        Expect::Refused(status, code) => {
            answer.assert_error(*status, code);
            let id = answer.header("x-request-id").unwrap_or_default();
            assert!(
                id.starts_with("req_") && id.len() == 24,
                "{what}: a minted request id, not {id:?}"
            );
        }
        Expect::RefusedKeepingId(status, code, id) => {
            answer.assert_error(*status, code);
            assert_eq!(
                answer.header("x-request-id"),
                Some(id.as_str()),
                "{what}: the client's id"
            );
        }
        Expect::ByHyper(status) => {
            assert_eq!(answer.status, *status, "{what}: {}", answer.text);
        }
        Expect::Accepted => {
            assert_eq!(answer.status, StatusCode::OK, "{what}: {}", answer.text);
            assert!(answer.header("x-request-id").is_some(), "{what}: a request id");
        }
    }
    assert!(
        !answer.headers.contains_key("set-cookie"),
        "{what}: nothing the client sent becomes a response header"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_request_gets_a_4xx_and_the_server_keeps_answering() {
    let (server, tokens) = app().await;
    let cases = cases(&tokens);
    let refused = cases
        .iter()
        .filter(|c| !matches!(c.expect, Expect::Accepted))
        .count();
    assert!(refused >= 40, "{refused} malformed requests");
    for Case { what, send, expect } in cases {
        let answer = send.to(&server).await;
        if !matches!(expect, Expect::Accepted) {
            assert!(
                answer.status.is_client_error(),
                "{what}: {} {}",
                answer.status,
                answer.text
            );
        }
        check(what, &answer, &expect);
    }
    let answer = server.get("/v1/events", &tokens.live).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "site_1"),
        "the server still answers"
    );
}
