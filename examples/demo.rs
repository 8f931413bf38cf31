//! keyward in one screen: a server on a SQLite file in a temporary directory, keys minted for it,
//! and `curl` lines to paste that show a success, a 401, a 403, a 429 with its headers, and the
//! key-management API (list, create, rotate, revoke, usage, audit), and the self-serve key page
//! behind a stand-in sign-in (open `/login` in a browser).
//!
//! ```text
//! cargo run --example demo                     # listens on 127.0.0.1:3000 (or $PORT)
//! ```

pub mod common;

use std::net::Ipv4Addr;

use std::sync::Arc;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, request::Parts};
use axum::response::Redirect;
use axum::routing::get;
use axum::{Json, Router};
use keyward_axum::management::{KeyPage, PageUser};
use keyward_axum::{AuthedKey, management, scope};
use keyward_core::{Drift, KeyManager, NewKey, ScopeSet, TenantId};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{Quota, RateLimits};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use common::BoxError;

/// Requests a minute per key on the demo routes: small, so that the 429 is a few requests away.
const PER_MINUTE: u32 = 5;

scope! {
    /// Calls `GET /v1/hello`.
    pub HelloRead = "hello:read";
    /// Calls `GET /v1/admin` (the demo key does not have it).
    pub AdminWrite = "admin:write";
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    common::init_tracing("warn");
    let (store, dir) = common::temp_sqlite_store().await?;
    let manager = KeyManager::builder_shared(store).declare(Drift::Refuse).await?;
    // The demo routes and the management API each have their layer, so that trying the 429 does not
    // spend the management calls' budget (60 a minute).
    let demo_layer = ApiKeyLayer::builder(manager.clone())
        .rate_limits(RateLimits::new(Quota::per_minute(PER_MINUTE)))
        .client_ip(keyward_axum::client_ip())
        .build()?;
    let keys_layer = ApiKeyLayer::builder(manager.clone())
        .client_ip(keyward_axum::client_ip())
        .build()?;
    let tenant = TenantId::new("demo_tenant")?;
    let demo = manager
        .create(
            NewKey::new(tenant.clone())
                .name("demo")
                .scopes(ScopeSet::parse_all(["hello:read", "keys:read", "keys:write"])?),
        )
        .await?;
    let spare = manager
        .create(
            NewKey::new(tenant.clone())
                .name("spare")
                .scopes(ScopeSet::parse_all(["hello:read"])?),
        )
        .await?;
    let router = Router::new()
        .route("/v1/hello", get(hello))
        .route("/v1/admin", get(admin))
        .layer(demo_layer.clone())
        .merge(
            Router::new()
                .nest("/v1/keys", management::router(manager.clone()))
                .layer(keys_layer.clone()),
        )
        .merge(key_page(manager.clone(), tenant));

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, common::port(3000)?)).await?;
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let token = demo.token.expose();
    let bearer = format!("-H 'Authorization: Bearer {token}'");
    let spare_id = &spare.key.id;
    println!("store: sqlite://{}", dir.path().join("keyward.db").display());
    println!("key demo: {token}");
    println!("  (scopes hello:read keys:read keys:write; {PER_MINUTE} requests a minute on /v1/hello)");
    println!();
    println!("# 200: the key works, as a Bearer token or in X-API-Key");
    println!("curl -i {bearer} {base}/v1/hello");
    println!("curl -i -H 'X-API-Key: {token}' {base}/v1/hello");
    println!("# 401: no key, or a key that is not one");
    println!("curl -i {base}/v1/hello");
    println!("curl -i -H 'Authorization: Bearer kw_live_notakey_0000' {base}/v1/hello");
    println!("# 403: the key lacks the admin:write scope");
    println!("curl -i {bearer} {base}/v1/admin");
    println!("# 429: past {PER_MINUTE} requests a minute, with Retry-After and X-RateLimit-*");
    println!(
        "for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -D - {bearer} {base}/v1/hello \
         | grep -iE '^(HTTP|retry-after|x-ratelimit)'; echo; done"
    );
    println!();
    println!("# Key management (the demo key holds keys:read and keys:write)");
    println!("# list the tenant's keys (never their secrets)");
    println!("curl -s {bearer} {base}/v1/keys");
    println!("# create a key: its token is in this answer and nowhere else");
    println!(
        "curl -s {bearer} -H 'Content-Type: application/json' \
         -d '{{\"name\":\"ci\",\"scopes\":[\"hello:read\"]}}' {base}/v1/keys"
    );
    println!("# rotate the spare key: old and new both work for 48 hours");
    println!("curl -s -X POST {bearer} {base}/v1/keys/{spare_id}/rotate");
    println!("# revoke the spare key: refused at once");
    println!("curl -s -X DELETE {bearer} {base}/v1/keys/{spare_id}");
    println!("# usage (last used, request counts) and the audit log");
    println!("curl -s {bearer} {base}/v1/keys/usage");
    println!("curl -s {bearer} '{base}/v1/keys/audit?limit=5'");
    println!();
    println!("# The key page (create, copy, rotate, revoke, the delivery log): open in a browser");
    println!("#   {base}/login");
    println!();
    println!("Ctrl-C stops the server; the key store goes with the temporary directory.");
    println!("listening on {base}");

    common::serve(listener, router, common::shutdown_signal()).await?;
    for layer in [&demo_layer, &keys_layer] {
        if let Some(audit) = layer.audit() {
            audit.flush().await;
        }
    }
    Ok(())
}

/// The session cookie of the demo's sign-in.
const SESSION_COOKIE: &str = "demo_session";

/// The key page at `/settings/api-keys`, as an app mounts it behind its own sign-in. The demo's
/// sign-in is a stand-in: `GET /login` gives the visitor the one session there is, as a cookie,
/// and that session manages `tenant`'s keys.
fn key_page(manager: KeyManager, tenant: TenantId) -> Router {
    let session: Arc<str> = format!("{:032x}", rand::random::<u128>()).into();
    let cookie = HeaderValue::try_from(format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
    ))
    .expect("hex digits make a header value");
    let page = KeyPage::new(manager, {
        let session = session.clone();
        move |parts: &Parts| {
            signed_in(parts, &session)
                .then(|| PageUser::new(tenant.clone(), session.as_ref()).label("demo_user"))
        }
    })
    .login_redirect(HeaderValue::from_static("/login"))
    .router();
    Router::new()
        .route(
            "/login",
            get(move || async move { ([(SET_COOKIE, cookie)], Redirect::to("/settings/api-keys")) }),
        )
        .nest("/settings/api-keys", page)
}

/// Whether the request carries the demo's session cookie (compared in constant time).
fn signed_in(parts: &Parts, session: &str) -> bool {
    use subtle::ConstantTimeEq;
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|cookie| cookie.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .any(|value| bool::from(value.as_bytes().ct_eq(session.as_bytes())))
}

async fn hello(key: AuthedKey<TenantId, HelloRead>) -> Json<Value> {
    Json(json!({ "hello": key.tenant, "key_id": key.id() }))
}

async fn admin(key: AuthedKey<TenantId, AdminWrite>) -> Json<Value> {
    Json(json!({ "admin": key.tenant }))
}
