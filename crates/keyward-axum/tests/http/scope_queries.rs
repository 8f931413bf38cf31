//! Scope queries over HTTP: `RequireScopes::all_of`, `any_of` and nested `ScopeQuery` guards, and
//! the `AnyOf` scope list of the extractor, each allowing and refusing what it should.

use std::collections::BTreeSet;

use axum::Router;
use axum::routing::get;
use keyward_axum::guard::{RequireScopes, ScopeQuery};
use keyward_axum::{AnyOf, AuthedKey, scope};
use keyward_core::{KeyManager, MemoryStore, TenantId};
use keyward_tower::ApiKeyLayer;
use reqwest::StatusCode;

use crate::support::{Answer, Server, key, serve};

scope!(ReportsRead = "reports:read");
scope!(AnalyticsRead = "analytics:read");

async fn typed_any(key: AuthedKey<TenantId, AnyOf<(ReportsRead, AnalyticsRead)>>) -> String {
    key.tenant.to_string()
}

async fn app() -> (Server, KeyManager) {
    let manager = KeyManager::new(MemoryStore::new());
    let layer = ApiKeyLayer::builder(manager.clone())
        .no_rate_limit()
        .no_audit()
        .build()
        .expect("a valid layer");
    let ok = || async { "ok" };
    let nested = ScopeQuery::All(vec![
        ScopeQuery::scope("exports:write").expect("a valid scope"),
        ScopeQuery::any_of(["reports:read", "analytics:read"]).expect("valid scopes"),
    ]);
    let pairs = ScopeQuery::Any(vec![
        ScopeQuery::all_of(["reports:read", "drafts:write"]).expect("valid scopes"),
        ScopeQuery::scope("admin:*").expect("a valid scope"),
    ]);
    let app = Router::new()
        .route(
            "/v1/all",
            get(ok).route_layer(RequireScopes::all_of(["reports:read", "analytics:read"])),
        )
        .route(
            "/v1/any",
            get(ok).route_layer(RequireScopes::any_of(["reports:read", "analytics:read"])),
        )
        .route("/v1/nested", get(ok).route_layer(RequireScopes::query(nested)))
        .route("/v1/pairs", get(ok).route_layer(RequireScopes::query(pairs)))
        .route("/v1/typed-any", get(typed_any))
        .layer(layer);
    (serve(app).await, manager)
}

/// The scopes of a 403's `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`,
/// parsed as RFC 6750 has them: a quoted, space-delimited list.
fn challenge_scopes(answer: &Answer) -> BTreeSet<String> {
    let challenge = answer.header("www-authenticate").expect("a challenge on a 403");
    let params = challenge.strip_prefix("Bearer ").expect("a Bearer challenge");
    let mut error = None;
    let mut scopes = None;
    for param in params.split(", ") {
        let (name, value) = param.split_once('=').expect("name=value");
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .expect("a quoted value");
        match name {
            "error" => error = Some(value.to_owned()),
            "scope" => scopes = Some(value.split(' ').map(str::to_owned).collect()),
            other => panic!("unexpected parameter {other} in {challenge}"),
        }
    }
    assert_eq!(error.as_deref(), Some("insufficient_scope"), "{challenge}");
    scopes.expect("a scope parameter")
}

fn set(scopes: &[&str]) -> BTreeSet<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn each_query_allows_and_refuses_what_it_should() {
    let (server, manager) = app().await;
    // (route, the key's scopes, the scopes the challenge names; empty: allowed)
    let cases: &[(&str, &str, &[&str])] = &[
        ("/v1/all", "reports:read analytics:read", &[]),
        ("/v1/all", "reports:* analytics:*", &[]),
        ("/v1/all", "reports:read", &["analytics:read"]),
        ("/v1/all", "billing:read", &["reports:read", "analytics:read"]),
        ("/v1/any", "reports:read", &[]),
        ("/v1/any", "analytics:read", &[]),
        ("/v1/any", "*", &[]),
        ("/v1/any", "billing:read", &["reports:read", "analytics:read"]),
        ("/v1/nested", "exports:write analytics:read", &[]),
        ("/v1/nested", "exports:* reports:read", &[]),
        ("/v1/nested", "exports:write", &["reports:read", "analytics:read"]),
        ("/v1/nested", "analytics:read", &["exports:write"]),
        (
            "/v1/nested",
            "billing:read",
            &["exports:write", "reports:read", "analytics:read"],
        ),
        ("/v1/pairs", "reports:read drafts:write", &[]),
        ("/v1/pairs", "admin:*", &[]),
        ("/v1/pairs", "reports:read", &["drafts:write", "admin:*"]),
        (
            "/v1/pairs",
            "admin:read",
            &["reports:read", "drafts:write", "admin:*"],
        ),
        ("/v1/typed-any", "reports:read", &[]),
        ("/v1/typed-any", "analytics:*", &[]),
        (
            "/v1/typed-any",
            "billing:read",
            &["reports:read", "analytics:read"],
        ),
    ];
    for (route, granted, named) in cases {
        let token = key(&manager, "site_1", granted).await;
        let answer = server.get(route, &token).await;
        let what = format!("{route} with `{granted}`");
        if named.is_empty() {
            assert_eq!(answer.status, StatusCode::OK, "{what}: {}", answer.text);
            assert_eq!(answer.header("www-authenticate"), None, "{what}");
        } else {
            let error = answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
            assert_eq!(challenge_scopes(&answer), set(named), "{what}: the challenge");
            let message = error["message"].as_str().expect("a message");
            for scope in *named {
                assert!(message.contains(scope), "{what}: {message}");
            }
        }
    }
}
