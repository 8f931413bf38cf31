//! No secret leaves the layer: a whole lifecycle over real HTTP (create, requests through the
//! layer, rotate, revoke, refused requests with the old tokens, an audit flush) runs under a
//! `tracing` subscriber that keeps everything down to TRACE, and neither that log nor any `Debug`
//! or `Display` of what the lifecycle produced (keys, errors, responses, the manager, the layer,
//! what a handler behind the layer can print) shows a token, its secret part or its hash.
//!
//! keyward-core's `tests/redaction.rs` checks each core type on its own; this test checks them
//! where they meet. Its subscriber is the process's global one, so it has this binary to itself.

#[path = "../../keyward-core/tests/secrets/mod.rs"]
mod secrets;
mod support;

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keyward_core::audit::AuditQuery;
use keyward_core::hash::Hasher;
use keyward_core::{CreatedKey, Rotation};
use keyward_tower::{ApiKeyLayer, CredentialSources};
use reqwest::{RequestBuilder, StatusCode};
use secrets::Secrets;
use support::server::{Server, client, serve};
use support::{Harness, tenant_id};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

const GRACE: Duration = Duration::from_secs(60);

/// Everything the subscriber writes, in one buffer.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs a subscriber that writes every event and span of every thread, at every level, with
/// all their fields, into the returned log.
fn capture_everything() -> Log {
    let log = Log::default();
    let subscriber = tracing_subscriber::registry().with(LevelFilter::TRACE).with(
        tracing_subscriber::fmt::layer()
            .with_writer(log.clone())
            .with_ansi(false)
            .with_target(true),
    );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
    log
}

/// What the lifecycle produced that a program could print: every entry is checked.
#[derive(Default)]
struct Shown(Vec<(String, String)>);

impl Shown {
    fn add(&mut self, what: impl Into<String>, text: String) {
        self.0.push((what.into(), text));
    }

    /// Sends `request`, keeps its status, headers and body, and checks its status.
    async fn answer(&mut self, what: &str, request: RequestBuilder, status: StatusCode) -> String {
        let response = request.send().await.expect("the server answers");
        let got = response.status();
        self.add(format!("{what}: headers"), format!("{:?}", response.headers()));
        let body = response.text().await.expect("a body");
        self.add(format!("{what}: body"), body.clone());
        assert_eq!(got, status, "{what}: {body}");
        body
    }

    /// A created key's `Debug`, its token's `Display`, its record's `Debug` and its fingerprint.
    fn created(&mut self, what: &str, created: &CreatedKey) {
        self.add(format!("{what}: Debug"), format!("{created:?}"));
        self.add(format!("{what}: token Display"), created.token.to_string());
        self.add(format!("{what}: key Debug"), format!("{:?}", created.key));
        self.add(
            format!("{what}: fingerprint"),
            created.key.fingerprint().to_string(),
        );
    }
}

impl Shown {
    /// An error's `Display` and `Debug`, and those of every error in its `source` chain.
    fn error(&mut self, what: &str, error: &(dyn std::error::Error + 'static)) {
        let mut current = Some(error);
        while let Some(error) = current {
            self.add(what, format!("{error} {error:?}"));
            current = error.source();
        }
    }
}

fn bearer(client: &reqwest::Client, server: &Server, path: &str, token: &str) -> RequestBuilder {
    client.get(server.url(path)).bearer_auth(token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lifecycle_over_http_shows_no_secret_anywhere() {
    let log = capture_everything();
    let h = Harness::with(|b| b.rotation(Rotation::Grace(GRACE)));
    let layer = ApiKeyLayer::builder(h.manager.clone())
        .credentials(CredentialSources::default().body_field("apiKey", 4096))
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    let client = client();
    let site = tenant_id("site_1");
    let mut shown = Shown::default();

    let first = h.key("site_1").await;
    shown.created("created key", &first);
    let token = first.token.expose();
    shown
        .answer(
            "bearer",
            bearer(&client, &server, "/v1/events", token),
            StatusCode::OK,
        )
        .await;
    let request = client.get(server.url("/v1/events")).header("x-api-key", token);
    shown.answer("x-api-key", request, StatusCode::OK).await;
    let seen_by_handler = shown
        .answer(
            "a handler's Debug",
            bearer(&client, &server, "/v1/debug", token),
            StatusCode::OK,
        )
        .await;
    assert!(
        seen_by_handler.contains("Sensitive") && seen_by_handler.contains("VerifiedKey"),
        "the handler saw the marked header and the key: {seen_by_handler}"
    );

    let second = h.manager.rotate(&site, &first.key.id).await.expect("rotated");
    shown.created("rotated key", &second);
    for (what, created) in [("old key in its grace", &first), ("new key", &second)] {
        let request = bearer(&client, &server, "/v1/events", created.token.expose());
        shown.answer(what, request, StatusCode::OK).await;
    }
    let revoked = h.manager.revoke(&site, &second.key.id).await.expect("revoked");
    shown.add("revoked key Debug", format!("{revoked:?}"));
    h.clock.advance(GRACE);

    for (what, created) in [("grace over", &first), ("revoked", &second)] {
        let token = created.token.expose();
        let request = bearer(&client, &server, "/v1/events", token);
        shown.answer(what, request, StatusCode::UNAUTHORIZED).await;
        let body = format!(r#"{{"apiKey":"{token}"}}"#);
        let request = client
            .post(server.url("/v1/track"))
            .header("content-type", "application/json")
            .body(body);
        shown
            .answer(&format!("{what}, in a body"), request, StatusCode::UNAUTHORIZED)
            .await;
        let error = h.manager.verify(token).await.expect_err("refused");
        shown.error(&format!("{what}: verify error"), &error);
    }
    let (head, last) = first.token.expose().split_at(first.token.expose().len() - 1);
    let damaged = format!("{head}{}", if last == "x" { "y" } else { "x" });
    let request = bearer(&client, &server, "/v1/events", &damaged);
    shown.answer("damaged", request, StatusCode::UNAUTHORIZED).await;
    let request = bearer(&client, &server, "/v1/events", first.token.expose())
        .header("x-api-key", second.token.expose());
    shown
        .answer("conflicting", request, StatusCode::BAD_REQUEST)
        .await;
    let error = h
        .manager
        .rotate(&site, &second.key.id)
        .await
        .expect_err("a revoked key is not rotated");
    shown.error("rotate error", &error);

    layer.audit().expect("recording is on").flush().await;
    let events = h
        .manager
        .audit_log(&AuditQuery::new(site.clone()).limit(100))
        .await
        .expect("the store answers");
    assert_eq!(events.len(), 5, "the authenticated requests are audited");
    shown.add("audit events", format!("{events:?}"));
    let keys = h.manager.list(&site).await.expect("the store answers");
    shown.add("listed keys", format!("{keys:?}"));
    shown.add("manager", format!("{:?}", h.manager));
    shown.add("layer", format!("{layer:?}"));

    let log = log.text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the subscriber kept the detailed levels: {log}"
    );
    for needle in [
        "keyward::lifecycle",
        "keyward::rejection",
        "grace_over",
        "revoked",
        "malformed",
    ] {
        assert!(log.contains(needle), "the log has {needle}: {log}");
    }
    assert!(
        log.contains(&first.key.fingerprint().to_string()),
        "keys are named by fingerprint"
    );
    for created in [&first, &second] {
        let secrets = Secrets::of(&created.token, &Hasher::sha256());
        secrets.assert_hidden_in("the log", &log);
        for (what, text) in &shown.0 {
            secrets.assert_hidden_in(what, text);
        }
    }
}
