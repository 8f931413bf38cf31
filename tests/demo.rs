//! The `demo` example, as a reader pastes it: its own binary is started, and each `curl` line it
//! prints is replayed over HTTP with the same method, headers and body, checking the status the
//! comment above the line promises.

mod support;

use serde_json::json;
use support::{Client, ExampleProcess, send};

/// The `curl` lines the demo printed, without their comments.
fn curl_lines(demo: &ExampleProcess) -> Vec<&str> {
    demo.output
        .iter()
        .map(String::as_str)
        .filter(|line| line.starts_with("curl ") || line.starts_with("for "))
        .collect()
}

/// The id in `…/v1/keys/<id>/rotate` of the printed rotate line.
fn spare_id(lines: &[&str]) -> String {
    let rotate = lines
        .iter()
        .find(|line| line.ends_with("/rotate"))
        .expect("a rotate line");
    let path = rotate.rsplit(' ').next().unwrap_or_default();
    let id = path
        .trim_end_matches("/rotate")
        .rsplit('/')
        .next()
        .unwrap_or_default();
    assert!(id.starts_with("key_"), "{rotate}");
    id.to_owned()
}

#[tokio::test]
async fn printed_curl_lines_do_what_they_say() {
    let demo = ExampleProcess::start("demo", &[]);
    let token = demo.key("demo");
    let base = format!("http://{}", demo.address);
    let lines = curl_lines(&demo);
    // Every line is ready to paste: the real address, the real key.
    assert!(lines.len() >= 12, "{:#?}", demo.output);
    assert!(lines.iter().all(|line| line.contains(&base)), "{lines:#?}");
    let spare = spare_id(&lines);
    let client = Client::new(demo.address);

    // "# 200: the key works, as a Bearer token or in X-API-Key"
    let bearer = send(client.get("/v1/hello").bearer_auth(token)).await;
    assert_eq!(bearer.status, 200, "{}", bearer.text);
    assert_eq!(bearer.json["hello"], "demo_tenant");
    let header = send(client.get("/v1/hello").header("x-api-key", token)).await;
    assert_eq!(header.status, 200);

    // "# 401: no key, or a key that is not one"
    assert_eq!(send(client.get("/v1/hello")).await.status, 401);
    let fake = send(client.get("/v1/hello").bearer_auth("kw_live_notakey_0000")).await;
    assert_eq!(fake.status, 401);

    // "# 403: the key lacks the admin:write scope"
    let admin = send(client.get("/v1/admin").bearer_auth(token)).await;
    assert_eq!(admin.status, 403);
    assert_eq!(admin.code(), "insufficient_scope");

    // "# 429: past 5 requests a minute, with Retry-After and X-RateLimit-*": three of the five are
    // spent above; the loop's seven requests run into the limit.
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..7 {
        let reply = send(client.get("/v1/hello").bearer_auth(token)).await;
        statuses.push(reply.status);
        if reply.status == 429 {
            limited = Some(reply);
        }
    }
    let limited = limited.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert_eq!(limited.header("x-ratelimit-limit"), "5");
    assert_eq!(limited.header("x-ratelimit-remaining"), "0");
    assert!(limited.number("retry-after") >= 1);

    // "# list the tenant's keys (never their secrets)" — the management API keeps its own budget.
    let list = send(client.get("/v1/keys").bearer_auth(token)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.json["data"].as_array().map(Vec::len), Some(2));
    assert!(!list.text.contains(token));

    // "# create a key: its token is in this answer and nowhere else"
    let created = send(
        client
            .post("/v1/keys")
            .bearer_auth(token)
            .json(&json!({ "name": "ci", "scopes": ["hello:read"] })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let ci = created.json["token"].as_str().expect("the new token");
    assert_eq!(send(client.get("/v1/hello").bearer_auth(ci)).await.status, 200);

    // "# rotate the spare key: old and new both work for 48 hours"
    let rotated = send(
        client
            .post(&format!("/v1/keys/{spare}/rotate"))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let successor = rotated.json["token"].as_str().expect("the successor's token");
    assert_eq!(
        send(client.get("/v1/hello").bearer_auth(successor)).await.status,
        200
    );

    // "# revoke the spare key: refused at once"
    let revoked = send(client.delete(&format!("/v1/keys/{spare}")).bearer_auth(token)).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.json["status"], "revoked");

    // "# usage (last used, request counts) and the audit log"
    let usage = send(client.get("/v1/keys/usage").bearer_auth(token)).await;
    assert_eq!(usage.status, 200, "{}", usage.text);
    let audit = send(client.get("/v1/keys/audit?limit=5").bearer_auth(token)).await;
    assert_eq!(audit.status, 200, "{}", audit.text);
}

#[tokio::test]
async fn the_key_page_opens_after_the_stand_in_sign_in() {
    let demo = ExampleProcess::start("demo", &[]);
    let token = demo.key("demo");
    let base = format!("http://{}", demo.address);
    // "#   <base>/login", printed for a browser.
    let login = format!("#   {base}/login");
    assert!(demo.output.contains(&login), "{:#?}", demo.output);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");

    // Nobody signed in: sent to the sign-in.
    let page = send(browser.get(format!("{base}/settings/api-keys"))).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/login");

    // The sign-in sets the session cookie and sends the visitor to the page.
    let signed = send(browser.get(format!("{base}/login"))).await;
    assert_eq!(signed.status, 303);
    assert_eq!(signed.header("location"), "/settings/api-keys");
    let set_cookie = signed.header("set-cookie");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();

    // With it, the page lists the demo tenant's keys, never their secrets.
    let page = send(
        browser
            .get(format!("{base}/settings/api-keys"))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(page.text.contains("spare"), "{}", page.text);
    assert!(!page.text.contains(token));

    // A made-up session is nobody.
    let forged = send(
        browser
            .get(format!("{base}/settings/api-keys"))
            .header("cookie", "demo_session=00000000000000000000000000000000"),
    )
    .await;
    assert_eq!(forged.status, 303);
}
