//! An app with the key page, as a host app mounts it: `/login?user=…` stands for the app's own
//! sign-in (a session cookie), `/settings/api-keys` is the page, `/v1/hello` an API route behind
//! `ApiKeyLayer`.

use axum::Router;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use keyward_axum::AuthedKey;
use keyward_axum::management::{CSRF_HEADER, KeyPage, PageUser};
use keyward_core::{KeyManager, MemoryStore, TenantId};
use keyward_tower::ApiKeyLayer;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use crate::support::{Answer, Server, serve};

/// Where the page is nested.
pub const PAGE: &str = "/settings/api-keys";

/// The app's sessions: cookie value, tenant, session id (what the CSRF token is bound to).
const SESSIONS: [(&str, &str, &str); 4] = [
    ("alice", "site_1", "sess_alice_1"),
    ("alice_laptop", "site_1", "sess_alice_2"),
    ("bob", "site_2", "sess_bob_1"),
    ("carol", "site_3", "sess_carol_1"),
];

/// The user the app's session cookie names, if any.
fn signed_in(parts: &Parts) -> Option<PageUser> {
    let cookies = parts.headers.get(COOKIE)?.to_str().ok()?;
    let value = cookies
        .split(';')
        .find_map(|cookie| cookie.trim().strip_prefix("session="))?;
    let (user, tenant, session) = SESSIONS.iter().find(|(user, ..)| *user == value)?;
    let page_user = PageUser::new(TenantId::new(*tenant).ok()?, *session).label(*user);
    Some(match *user {
        // Carol's plan lets her grant the hello scope only.
        "carol" => page_user.grantable_scopes("hello:read".parse().ok()?),
        _ => page_user,
    })
}

/// The app's sign-in: sets the session cookie and sends the browser to the page.
async fn login(Query(query): Query<Vec<(String, String)>>) -> Response {
    let user = query
        .iter()
        .find(|(name, _)| name == "user")
        .map(|(_, value)| value.as_str())
        .filter(|user| SESSIONS.iter().any(|(u, ..)| u == user));
    let Some(user) = user else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let cookie = format!("session={user}; Path=/; HttpOnly; SameSite=Strict");
    let headers = response.headers_mut();
    headers.insert(SET_COOKIE, HeaderValue::from_str(&cookie).expect("a cookie"));
    headers.insert(LOCATION, HeaderValue::from_static(PAGE));
    response
}

async fn hello(key: AuthedKey<TenantId>) -> String {
    format!("hello {}", key.tenant)
}

/// The app, served.
pub struct PageApp {
    pub server: Server,
    pub manager: KeyManager,
    pub layer: ApiKeyLayer,
}

impl PageApp {
    /// The app with the page configured by `configure`.
    pub async fn with(configure: impl FnOnce(KeyPage) -> KeyPage) -> Self {
        let manager = KeyManager::new(MemoryStore::new());
        let layer = ApiKeyLayer::new(manager.clone());
        let page = configure(KeyPage::new(manager.clone(), signed_in).csrf_secret([42; 32]));
        let app = Router::new()
            .route("/v1/hello", get(hello).layer(layer.clone()))
            .route("/login", get(login))
            .nest(PAGE, page.router());
        Self {
            server: serve(app).await,
            manager,
            layer,
        }
    }

    /// The app with the page's defaults.
    pub async fn new() -> Self {
        Self::with(|page| page).await
    }

    /// A request as `user`'s browser sends it (its session cookie), to `path`.
    pub fn as_user(&self, user: Option<&str>, method: Method, path: &str) -> RequestBuilder {
        let request = self.server.request(method, path, None);
        match user {
            Some(user) => request.header(COOKIE, format!("session={user}")),
            None => request,
        }
    }

    /// `user`'s page.
    pub async fn page(&self, user: &str) -> Answer {
        Answer::of(self.as_user(Some(user), Method::GET, PAGE)).await
    }

    /// The CSRF token of `user`'s page.
    pub async fn csrf_token(&self, user: &str) -> String {
        csrf_token(&self.page(user).await.text)
    }

    /// A change as the page's script sends it: JSON, the user's token, the page's origin.
    pub async fn change(&self, user: &str, path: &str, body: Value) -> Answer {
        let token = self.csrf_token(user).await;
        let origin = format!("http://{}", self.server.address());
        Answer::of(
            self.as_user(Some(user), Method::POST, &format!("{PAGE}{path}"))
                .header(CSRF_HEADER, token)
                .header("origin", origin)
                .header("sec-fetch-site", "same-origin")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/hello` with `token`.
    pub async fn hello(&self, token: &str) -> StatusCode {
        self.server.get("/v1/hello", token).await.status
    }

    /// Writes the usage and audit records the layer holds.
    pub async fn flush(&self) {
        self.layer.audit().expect("recording is on").flush().await;
    }
}

/// The CSRF token a page embeds.
pub fn csrf_token(page: &str) -> String {
    let start = page
        .find("name=\"csrf-token\" content=\"")
        .map(|at| at + "name=\"csrf-token\" content=\"".len())
        .unwrap_or_else(|| panic!("no CSRF token in {page}"));
    let end = page[start..].find('"').expect("the attribute ends") + start;
    page[start..end].to_owned()
}
