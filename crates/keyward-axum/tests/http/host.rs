//! `HostTenant` over real HTTP: the tenant of a key-less route from the request's host (a
//! subdomain of the base domain or a custom domain), and keyward's JSON envelope for hosts that
//! serve no tenant or that are missing or malformed.

use axum::routing::get;
use axum::{Extension, Router};
use keyward_axum::host::{HostTenant, HostTenants};
use keyward_core::{KeyManager, MemoryStore, TenantId};
use keyward_tower::ApiKeyLayer;
use reqwest::{Method, StatusCode};

use crate::raw;
use crate::support::{Answer, Server, serve};

async fn app_info(HostTenant { tenant, .. }: HostTenant) -> String {
    format!("app of {tenant}")
}

async fn server() -> Server {
    let tenants = HostTenants::builder()
        .base_domain("tolinku.com")
        .domain("links.acme.com", TenantId::new("acme").expect("a valid tenant"))
        .build()
        .expect("a valid host configuration");
    let layer = ApiKeyLayer::builder(KeyManager::new(MemoryStore::new()))
        .public("/api/")
        .build()
        .expect("a valid layer");
    serve(
        Router::new()
            .route("/api/app/info", get(app_info))
            .layer(Extension(tenants))
            .layer(layer),
    )
    .await
}

async fn at_host(server: &Server, host: &str) -> Answer {
    Answer::of(
        server
            .request(Method::GET, "/api/app/info", None)
            .header("host", host),
    )
    .await
}

#[tokio::test]
async fn a_subdomain_of_the_base_domain_names_its_tenant() {
    let server = server().await;
    for host in [
        "your-app.tolinku.com",
        "Your-App.Tolinku.com:8443",
        "your-app.tolinku.com.",
    ] {
        let answer = at_host(&server, host).await;
        assert_eq!(answer.status, StatusCode::OK, "{host}: {}", answer.text);
        assert_eq!(answer.text, "app of your-app", "{host}");
    }
}

#[tokio::test]
async fn a_custom_domain_names_its_tenant() {
    let server = server().await;
    let answer = at_host(&server, "links.acme.com").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.text, "app of acme");
}

#[tokio::test]
async fn an_unknown_host_is_a_404_envelope() {
    let server = server().await;
    for host in ["elsewhere.example.com", "tolinku.com", "a.b.tolinku.com"] {
        let answer = at_host(&server, host).await;
        answer.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn a_missing_duplicated_or_malformed_host_is_a_400_envelope() {
    let server = server().await;
    let with_host_line = |host: &[u8]| {
        let mut bytes = b"GET /api/app/info HTTP/1.1\r\n".to_vec();
        bytes.extend_from_slice(host);
        bytes.extend_from_slice(b"Connection: close\r\n\r\n");
        bytes
    };
    let missing = with_host_line(b"");
    // `raw::get` names `localhost` too.
    let duplicated = raw::get("/api/app/info", &[b"Host: links.acme.com"]);
    let not_a_name = with_host_line(b"Host: bad_host!.tolinku.com\r\n");
    let not_text = with_host_line(b"Host: \xffapp.tolinku.com\r\n");
    for (what, request) in [
        ("missing", missing),
        ("duplicated", duplicated),
        ("not a name", not_a_name),
        ("not text", not_text),
    ] {
        let answer = raw::send(server.address(), request).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}: {}", answer.text);
        let error = answer.assert_error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
    }
}
