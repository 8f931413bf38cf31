//! Credential extraction from arbitrary requests: headers and a body made from the fuzz bytes go
//! through `ApiKeyService` in front of a handler. The answer is the handler's 200 or a 4xx JSON
//! envelope whose request id is the response's `X-Request-Id`; never a 5xx or a panic.
//!
//! Input: lines split at `\n`. The first is the path; each next one, up to an empty line, a header
//! `name:value` (a line that `http` refuses as a header is skipped, as a server refuses it before
//! any middleware); the rest is the body. In a value, `$LIVE`, `$PUB` and `$OLD` stand for a
//! valid secret key, a valid publishable key and a revoked key.

#![no_main]

use std::convert::Infallible;
use std::sync::LazyLock;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use keyward_core::{KeyKind, KeyManager, MemoryStore, NewKey, TenantId};
use keyward_tower::{ApiKeyLayer, CredentialSources, request_id};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tower::{Layer, ServiceExt, service_fn};

/// A layer over a memory store holding a few keys, and the runtime it runs on.
struct Fixture {
    runtime: Runtime,
    layer: ApiKeyLayer,
    /// `$LIVE`, `$PUB` and `$OLD`, with their tokens.
    tokens: [(&'static str, String); 3],
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _entered = runtime.enter();
    let manager = KeyManager::new(MemoryStore::new());
    let tenant = TenantId::new("site_1").expect("a valid tenant");
    let create = |kind| {
        runtime
            .block_on(manager.create(NewKey::new(tenant.clone()).kind(kind)))
            .expect("the key is created")
    };
    let live = create(KeyKind::Secret);
    let publishable = create(KeyKind::Publishable);
    let revoked = create(KeyKind::Secret);
    runtime
        .block_on(manager.revoke(&tenant, &revoked.key.id))
        .expect("the key is revoked");
    let layer = ApiKeyLayer::builder(manager)
        .credentials(CredentialSources::default().body_field("apiKey", 1024))
        .allow_publishable("/v1/beacon")
        .public("/health")
        .no_rate_limit()
        .no_audit()
        .build()
        .expect("a valid layer");
    Fixture {
        runtime,
        layer,
        tokens: [
            ("$LIVE", live.token.expose().to_owned()),
            ("$PUB", publishable.token.expose().to_owned()),
            ("$OLD", revoked.token.expose().to_owned()),
        ],
    }
});

/// The request the bytes describe, with the placeholders replaced.
fn request(data: &[u8], tokens: &[(&str, String)]) -> Request<Full<Bytes>> {
    let mut lines = data.split(|&b| b == b'\n');
    let path = lines.next().unwrap_or_default();
    let mut builder = Request::builder().uri("/v1/events");
    if let Ok(uri) = http::Uri::try_from(path)
        && uri.path().starts_with('/')
    {
        builder = builder.uri(uri);
    }
    let mut headers = Vec::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let mut value = line[colon + 1..].to_vec();
        for (placeholder, token) in tokens {
            value = replace(&value, placeholder.as_bytes(), token.as_bytes());
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value.trim_ascii()),
        ) {
            headers.push((name, value));
        }
    }
    let mut body = lines.collect::<Vec<_>>().join(&b'\n');
    for (placeholder, token) in tokens {
        body = replace(&body, placeholder.as_bytes(), token.as_bytes());
    }
    let method = if body.is_empty() {
        Method::GET
    } else {
        Method::POST
    };
    let mut request = builder
        .method(method)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request");
    for (name, value) in headers {
        request.headers_mut().append(name, value);
    }
    request
}

/// `bytes` with every `from` replaced by `to`.
fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at..].starts_with(from) {
            out.extend_from_slice(to);
            at += from.len();
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    out
}

async fn handler(_request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let request = request(data, &fixture.tokens);
    let service = fixture.layer.layer(service_fn(handler));
    let (status, headers, body) = fixture.runtime.block_on(async {
        let Ok(response) = service.oneshot(request).await;
        let (parts, body) = response.into_parts();
        let Ok(body) = body.collect().await;
        (parts.status, parts.headers, body.to_bytes())
    });
    assert!(
        status == StatusCode::OK || status.is_client_error(),
        "{status}: {body:?}"
    );
    let id = headers.get("x-request-id").expect("a request id on every answer");
    assert!(request_id::is_well_formed(id), "{id:?}");
    if status == StatusCode::OK {
        assert_eq!(&body[..], b"ok");
        return;
    }
    let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON envelope");
    assert_eq!(json["error"]["status"], status.as_u16(), "{json}");
    assert_eq!(
        json["error"]["request_id"],
        id.to_str().expect("visible ASCII"),
        "{json}"
    );
    // The request id is the client's own when well formed (a token sent as one comes back as
    // it was sent); the message never names what was presented.
    let message = json["error"]["message"].as_str().expect("a message");
    for (_, token) in &fixture.tokens {
        assert!(!message.contains(token.as_str()), "{json}");
    }
});
