//! `AuthedKey`: typed conversions, scopes, and the answers when the server is misconfigured.

use std::str::FromStr;

use axum::routing::get;
use axum::{Json, Router};
use keyward_axum::{AuthedKey, scope};
use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId, Tier};
use keyward_tower::ApiKeyLayer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tracing::Level;

use crate::logs;
use crate::support::{Answer, Server, key, key_with, scopes_of, serve};

scope! {
    AnalyticsRead = "analytics:read";
    CustomersRead = "customers:read";
}

/// The application's tenant type: `site_<number>`.
#[derive(Debug)]
struct SiteId(u64);

impl FromStr for SiteId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = s
            .strip_prefix("site_")
            .ok_or_else(|| format!("`{s}` is not a site"))?;
        number
            .parse()
            .map(SiteId)
            .map_err(|error| format!("bad site number: {error}"))
    }
}

/// The application's tiers.
#[derive(Debug)]
enum Plan {
    Free,
    Pro,
}

impl FromStr for Plan {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" | "free" => Ok(Self::Free),
            "pro" => Ok(Self::Pro),
            other => Err(format!("no plan `{other}`")),
        }
    }
}

async fn customers(key: AuthedKey<SiteId, (AnalyticsRead, CustomersRead), Plan>) -> Json<Value> {
    Json(json!({
        "site": key.tenant.0,
        "plan": format!("{:?}", key.tier),
        "key_id": key.id().as_str(),
        "request_id": key.request_id(),
    }))
}

async fn overview(key: AuthedKey<SiteId, AnalyticsRead>) -> String {
    format!("site {} on tier {}", key.tenant.0, key.tier)
}

async fn anything(key: AuthedKey) -> String {
    format!("{} {} {}", key.tenant, key.tier, key.key().scopes)
}

async fn app() -> (Server, KeyManager) {
    let manager = KeyManager::new(MemoryStore::new());
    let layer = ApiKeyLayer::builder(manager.clone())
        .no_audit()
        .build()
        .expect("a valid layer");
    let app = Router::new()
        .route("/v1/customers", get(customers))
        .route("/v1/overview", get(overview))
        .route("/v1/anything", get(anything))
        .layer(layer)
        .merge(Router::new().route("/unguarded/anything", get(anything)));
    (serve(app).await, manager)
}

#[tokio::test]
async fn converts_tenant_and_tier_into_the_applications_types() {
    let (server, manager) = app().await;
    let tenant = TenantId::new("site_42").expect("a valid tenant");
    let new = NewKey::new(tenant)
        .scopes(scopes_of("analytics:read customers:read"))
        .tier(Tier::new("pro").expect("a valid tier"));
    let token = key_with(&manager, new).await;

    let answer = server.get("/v1/customers", &token).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["site"], 42);
    assert_eq!(body["plan"], "Pro");
    assert!(body["key_id"].as_str().is_some_and(|id| id.starts_with("key_")));
    assert_eq!(
        body["request_id"],
        answer.header("x-request-id").unwrap_or_default()
    );

    let default_tier = key(&manager, "site_7", "analytics:read").await;
    let answer = server.get("/v1/overview", &default_tier).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "site 7 on tier default")
    );
}

#[tokio::test]
async fn a_missing_scope_is_refused_with_403_naming_it() {
    let (server, manager) = app().await;
    let token = key(&manager, "site_42", "analytics:read").await;

    let answer = server.get("/v1/customers", &token).await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(
        error["message"],
        "API key is missing the required scope: customers:read"
    );
    assert_eq!(
        answer.header("www-authenticate"),
        Some("Bearer error=\"insufficient_scope\", scope=\"customers:read\"")
    );

    let none = key(&manager, "site_42", "").await;
    let answer = server.get("/v1/customers", &none).await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(
        error["message"], "API key is missing the required scope: analytics:read, customers:read",
        "every missing scope is named, in the route's order"
    );

    let wildcard = key(&manager, "site_42", "analytics:* customers:*").await;
    assert_eq!(
        server.get("/v1/customers", &wildcard).await.status,
        StatusCode::OK,
        "wildcards grant"
    );
}

#[tokio::test]
async fn the_defaults_accept_any_valid_key() {
    let (server, manager) = app().await;
    let token = key(&manager, "profile_9", "").await;
    let answer = server.get("/v1/anything", &token).await;
    assert_eq!(
        (answer.status, answer.text.as_str()),
        (StatusCode::OK, "profile_9 default ")
    );

    let answer = Answer::of(server.request(Method::GET, "/v1/anything", None)).await;
    answer.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_tenant_or_tier_that_does_not_convert_is_a_logged_500() {
    let (logs, _guard) = logs::capture();
    let (server, manager) = app().await;

    let wrong_tenant = key(&manager, "profile_7", "analytics:read customers:read").await;
    let answer = server.get("/v1/customers", &wrong_tenant).await;
    let error = answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(
        !answer.text.contains("profile_7"),
        "the cause stays in the server log"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("request_id"))
    );

    let new = NewKey::new(TenantId::new("site_1").expect("a valid tenant"))
        .scopes(scopes_of("analytics:read customers:read"))
        .tier(Tier::new("enterprise").expect("a valid tier"));
    let wrong_tier = key_with(&manager, new).await;
    let answer = server.get("/v1/customers", &wrong_tier).await;
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");

    let errors = logs.at(Level::ERROR, "keyward::config");
    assert_eq!(errors.len(), 2, "one error log per failed conversion: {errors:?}");
    assert!(
        errors[0].text.contains("tenant") && errors[0].text.contains("profile_7"),
        "{errors:?}"
    );
    assert!(
        errors[1].text.contains("tier") && errors[1].text.contains("enterprise"),
        "{errors:?}"
    );
    for logged in &errors {
        assert!(
            !logged.text.contains(&wrong_tenant) && !logged.text.contains(&wrong_tier),
            "no token in logs"
        );
    }
}

#[tokio::test]
async fn without_the_layer_the_extractor_answers_500_and_logs_why() {
    let (logs, _guard) = logs::capture();
    let (server, manager) = app().await;
    let token = key(&manager, "site_1", "").await;

    let answer = server.get("/unguarded/anything", &token).await;
    answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(
        answer
            .header("x-request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );

    let answer = Answer::of(
        server
            .request(Method::GET, "/unguarded/anything", None)
            .header("x-request-id", "req_from_the_client"),
    )
    .await;
    let error = answer.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert_eq!(
        error["request_id"], "req_from_the_client",
        "a well-formed incoming id is kept"
    );

    let errors = logs.at(Level::ERROR, "keyward::config");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].text.contains("ApiKeyLayer") && errors[0].text.contains("/unguarded/anything"));
}
