//! The key page over real HTTP, without a browser: sign-in, CSRF refusals, `no-store`, the
//! policy, escaping and tenant isolation. `page_browser.rs` drives it in Chromium.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use keyward_axum::management::CSRF_HEADER;
use keyward_core::{NewKey, TenantId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::page_app::{PAGE, PageApp, csrf_token};
use crate::support::{Answer, key_with};

fn assert_page_headers(answer: &Answer, what: &str) {
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{what}");
    assert_eq!(answer.header("x-frame-options"), Some("DENY"), "{what}");
    let csp = answer.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-"),
        "{what}: {csp}"
    );
    assert!(!csp.contains("unsafe"), "{what}: {csp}");
}

#[tokio::test]
async fn nobody_signed_in_gets_401_or_the_login_redirect() {
    let app = PageApp::new().await;
    let answer = Answer::of(app.as_user(None, Method::GET, PAGE)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert!(
        answer.text.contains("Sign in to manage API keys"),
        "{}",
        answer.text
    );
    assert_page_headers(&answer, "the 401 page");

    let unknown = Answer::of(app.as_user(Some("mallory"), Method::GET, PAGE)).await;
    assert_eq!(
        unknown.status,
        StatusCode::UNAUTHORIZED,
        "a session the app does not know"
    );

    let change = Answer::of(
        app.as_user(None, Method::POST, &format!("{PAGE}/keys"))
            .json(&json!({"name": "x"})),
    )
    .await;
    change.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    let redirecting =
        PageApp::with(|page| page.login_redirect(HeaderValue::from_static("/login?next=keys"))).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let response = client
        .get(format!("http://{}{PAGE}", redirecting.server.address()))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/login?next=keys");
}

#[tokio::test]
async fn the_page_is_no_store_and_runs_only_its_own_script() {
    let app = PageApp::new().await;
    let page = app.page("alice").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_page_headers(&page, "the page");
    let between = |open: &str, close: &str| {
        let start = page.text.find(open).expect("the element") + open.len();
        let end = page.text[start..].find(close).expect("its end") + start;
        STANDARD.encode(Sha256::digest(&page.text.as_bytes()[start..end]))
    };
    let csp = page.header("content-security-policy").expect("a policy");
    assert_eq!(page.text.matches("<script").count(), 1, "one script, inline");
    assert!(
        csp.contains(&format!(
            "script-src 'sha256-{}'",
            between("<script>", "</script>")
        )),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("style-src 'sha256-{}'", between("<style>", "</style>"))),
        "{csp}"
    );
    for directive in [
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        page.text.contains(&format!("action=\"{PAGE}/keys\"")),
        "the forms post under where the page is nested"
    );
}

#[tokio::test]
async fn the_token_is_shown_once_with_no_store_and_then_never() {
    let app = PageApp::new().await;
    let created = app
        .change(
            "alice",
            "/keys",
            json!({"name": "Production backend", "scopes": "hello:read"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let token = created.json()["token"].as_str().expect("the token").to_owned();
    let id = created.json()["key"]["id"].as_str().expect("an id").to_owned();
    assert_eq!(app.hello(&token).await, StatusCode::OK);
    app.flush().await;

    let page = app.page("alice").await;
    assert!(
        !page.text.contains(&token),
        "the page never shows the token again"
    );
    let secret_tail = &token[token.len() - 12..];
    assert!(!page.text.contains(secret_tail), "nor any of its secret");
    assert!(page.text.contains("Production backend"));
    let prefix = created.json()["key"]["display_prefix"]
        .as_str()
        .expect("a prefix")
        .to_owned();
    assert!(
        page.text.contains(&format!("<code>{prefix}</code>")),
        "the prefix is shown"
    );
    assert!(
        page.text.contains("<code>hello:read</code>"),
        "the scopes are shown"
    );
    assert!(
        !page.text.contains("<td class=\"last-used\">never"),
        "lastUsedAt is set once used"
    );
    assert!(
        page.text.contains("GET /v1/hello"),
        "the delivery log has the request"
    );

    let rotated = app
        .change("alice", &format!("/keys/{id}/rotate"), json!({}))
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text);
    assert_eq!(rotated.header("cache-control"), Some("no-store"));
    let successor = rotated.json()["token"].as_str().expect("a token").to_owned();
    assert_ne!(successor, token);
    assert!(!app.page("alice").await.text.contains(&successor));
}

#[tokio::test]
async fn changes_without_the_sessions_token_or_from_elsewhere_are_refused() {
    let app = PageApp::new().await;
    let alice = app.csrf_token("alice").await;
    let bob = app.csrf_token("bob").await;
    let alice_laptop = app.csrf_token("alice_laptop").await;
    assert_ne!(alice, alice_laptop, "one token per session");
    assert_eq!(
        alice,
        app.csrf_token("alice").await,
        "the same token on every load"
    );
    let origin = format!("http://{}", app.server.address());
    let wrong = "0".repeat(64);

    type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a str);
    let cases: [Case<'_>; 7] = [
        (None, Some(&origin), None, "no token"),
        (Some(&wrong), Some(&origin), None, "a made-up token"),
        (Some("not hex"), Some(&origin), None, "garbage"),
        (
            Some(&bob),
            Some(&origin),
            None,
            "another tenant's session's token",
        ),
        (
            Some(&alice_laptop),
            Some(&origin),
            None,
            "the same user's other session's token",
        ),
        (
            Some(&alice),
            Some("http://evil.test"),
            None,
            "the right token from another origin",
        ),
        (
            Some(&alice),
            None,
            Some("cross-site"),
            "the right token in a cross-site fetch",
        ),
    ];
    for path in [
        "/keys".to_owned(),
        "/keys/key_x/rotate".to_owned(),
        "/keys/key_x/revoke".to_owned(),
    ] {
        for (token, origin, site, what) in cases {
            let mut request = app
                .as_user(Some("alice"), Method::POST, &format!("{PAGE}{path}"))
                .json(&json!({"name": "sneaky"}));
            if let Some(token) = token {
                request = request.header(CSRF_HEADER, token);
            }
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            if let Some(site) = site {
                request = request.header("sec-fetch-site", site);
            }
            let answer = Answer::of(request).await;
            let error = answer.assert_error(StatusCode::FORBIDDEN, "csrf_failed");
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
            assert_eq!(answer.header("cache-control"), Some("no-store"), "{what}");
        }
    }
    let site_1 = TenantId::new("site_1").expect("valid");
    assert!(
        app.manager.list(&site_1).await.expect("listed").is_empty(),
        "nothing was created"
    );

    let allowed = app.change("alice", "/keys", json!({"name": "real"})).await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.text);

    // Behind a proxy, the configured public origin is the one accepted.
    let proxied =
        PageApp::with(|page| page.allowed_origin(HeaderValue::from_static("https://app.example.com"))).await;
    let token = proxied.csrf_token("alice").await;
    for (origin, status) in [
        ("https://app.example.com", StatusCode::CREATED),
        (
            &*format!("http://{}", proxied.server.address()),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let answer = Answer::of(
            proxied
                .as_user(Some("alice"), Method::POST, &format!("{PAGE}/keys"))
                .header(CSRF_HEADER, &token)
                .header("origin", origin)
                .json(&json!({"name": "via proxy"})),
        )
        .await;
        assert_eq!(answer.status, status, "{origin}: {}", answer.text);
    }
}

#[tokio::test]
async fn user_given_text_is_escaped() {
    let app = PageApp::new().await;
    let name = "<script>alert(\"name\")</script> & 'co'";
    let token = key_with(
        &app.manager,
        NewKey::new(TenantId::new("site_1").expect("valid"))
            .name(name)
            .scopes("hello:read".parse().expect("scopes")),
    )
    .await;
    let agent = "<img src=x onerror=alert('ua')>";
    let answer = Answer::of(
        app.server
            .request(Method::GET, "/v1/hello", Some(&token))
            .header("user-agent", agent),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    app.flush().await;

    let page = app.page("alice").await.text;
    assert!(
        page.contains("&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt; &amp; &#39;co&#39;"),
        "{page}"
    );
    assert!(
        page.contains("&lt;img src=x onerror=alert(&#39;ua&#39;)&gt;"),
        "{page}"
    );
    assert!(!page.contains(name) && !page.contains(agent), "never raw");
    assert_eq!(page.matches("<script").count(), 1, "only the page's own script");

    let filtered =
        Answer::of(app.as_user(Some("alice"), Method::GET, &format!("{PAGE}?path=/%22%3E%3Cb%3E"))).await;
    assert_eq!(filtered.status, StatusCode::OK);
    assert!(
        filtered.text.contains("value=\"/&quot;&gt;&lt;b&gt;\""),
        "the filter echoed escaped"
    );

    let bad = Answer::of(app.as_user(Some("alice"), Method::GET, &format!("{PAGE}?limit=%3Cb%3E&x=1"))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.text.contains("`limit` must be a number"), "{}", bad.text);
}

#[tokio::test]
async fn a_user_acts_on_its_own_tenants_keys_only() {
    let app = PageApp::new().await;
    let created = app.change("alice", "/keys", json!({"name": "alice's"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let token = created.json()["token"].as_str().expect("a token").to_owned();
    let id = created.json()["key"]["id"].as_str().expect("an id").to_owned();
    assert_eq!(app.hello(&token).await, StatusCode::OK);
    app.flush().await;

    let bobs = app.page("bob").await.text;
    assert!(
        !bobs.contains(&id) && !bobs.contains("alice&#39;s"),
        "bob does not see alice's key"
    );
    assert!(!bobs.contains("/v1/hello"), "nor its requests");
    let filtered = app.as_user(Some("bob"), Method::GET, &format!("{PAGE}?key={id}"));
    assert!(
        !Answer::of(filtered).await.text.contains("/v1/hello"),
        "not even by its id"
    );
    for action in ["revoke", "rotate"] {
        let answer = app
            .change("bob", &format!("/keys/{id}/{action}"), json!({}))
            .await;
        answer.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    assert_eq!(app.hello(&token).await, StatusCode::OK, "alice's key still works");

    let revoked = app
        .change("alice", &format!("/keys/{id}/revoke"), json!({}))
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.json()["status"], "revoked");
    assert_eq!(app.hello(&token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_user_hands_out_only_what_it_may() {
    let app = PageApp::new().await;
    let cases: [(Value, StatusCode, &str, &str); 4] = [
        (
            json!({"name": "too much", "scopes": "admin:*"}),
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "a scope beyond carol's",
        ),
        (
            json!({"name": "gold", "scopes": "hello:read", "tier": "gold"}),
            StatusCode::FORBIDDEN,
            "forbidden",
            "another tier",
        ),
        (
            json!({"scopes": "hello:read"}),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "no name",
        ),
        (
            json!({"name": "x", "owner": "y"}),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            "an unknown field",
        ),
    ];
    for (body, status, code, what) in cases {
        let answer = app.change("carol", "/keys", body).await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {}",
            answer.text
        );
    }
    let ok = app
        .change("carol", "/keys", json!({"name": "ok", "scopes": "hello:read"}))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert_eq!(ok.json()["key"]["tier"], "default");
    let page = app.page("carol").await;
    assert_eq!(csrf_token(&page.text).len(), 64, "an HMAC-SHA256 in hex");
}
