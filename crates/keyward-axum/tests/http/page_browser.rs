//! The key page in a real browser: Chromium, headless, driven over WebDriver (chromedriver) with
//! fantoccini. Sign in, create a named key, read it from the dialog's copy target, use it
//! against a route behind `ApiKeyLayer`, see it listed with its prefix, scopes and last use,
//! rotate it, revoke it, and see it refused. A screenshot of each state is saved under
//! `target/browser-artifacts/`.
//!
//! Needs `chromium` and `chromium-driver` (`apt-get install -y chromium chromium-driver`; or
//! `KEYWARD_CHROMIUM` and `KEYWARD_CHROMEDRIVER` naming the binaries). Without them the test
//! fails when `CI=true`, and otherwise says why and passes without running.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use keyward_core::TenantId;
use reqwest::StatusCode;
use serde_json::json;

use crate::page_app::{PAGE, PageApp};

/// How long the browser may take to reach a state.
const PATIENCE: Duration = Duration::from_secs(15);

type Failure = Box<dyn std::error::Error>;

fn binary(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.is_file().then_some(path)
}

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(chromedriver: &Path, log: &Path) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let status = format!("{}/status", driver.url);
    let started = Instant::now();
    loop {
        if let Ok(response) = reqwest::get(&status).await
            && response.status().is_success()
        {
            return driver;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "chromedriver did not answer on {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal")
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Saves the page as it looks now.
async fn screenshot(client: &Client, dir: &Path, name: &str) -> Result<(), Failure> {
    let png = client.screenshot().await?;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png)?;
    Ok(())
}

/// The text of the first element at `css`, once `expected` says it is the one awaited.
async fn wait_for_text(
    client: &Client,
    css: &str,
    expected: impl Fn(&str) -> bool,
) -> Result<String, Failure> {
    let started = Instant::now();
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
            && expected(&text)
        {
            return Ok(text);
        }
        if started.elapsed() > PATIENCE {
            return Err(format!(
                "`{css}` never showed the awaited text; page: {}",
                client.source().await?
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The token and key id the open dialog shows, read from the copy button's target.
async fn revealed(client: &Client) -> Result<(String, String), Failure> {
    let dialog = client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("dialog#reveal[open]"))
        .await?;
    let copy = client.find(Locator::Id("copy")).await?;
    let target = copy
        .attr("data-copy-target")
        .await?
        .ok_or("the copy button names its target")?;
    let token = client
        .find(Locator::Id(&target))
        .await?
        .prop("value")
        .await?
        .ok_or("the target has a value")?;
    let id = dialog
        .attr("data-key-id")
        .await?
        .ok_or("the dialog names the key")?;
    copy.click().await?;
    wait_for_text(client, "#copy", |text| text == "Copied").await?;
    Ok((token, id))
}

/// Clicks the button of `form` in the row of key `id`, and accepts the confirmation.
/// The text of the element `css` finds.
async fn text_at(client: &Client, css: &str) -> Result<String, Failure> {
    Ok(client.find(Locator::Css(css)).await?.text().await?)
}

async fn act_on(client: &Client, id: &str, form: &str) -> Result<(), Failure> {
    let css = format!("tr[data-key-id=\"{id}\"] form.{form} button");
    client.find(Locator::Css(&css)).await?.click().await?;
    client.accept_alert().await?;
    Ok(())
}

async fn flow(app: &PageApp, client: &Client, artifacts: &Path) -> Result<(), Failure> {
    let base = format!("http://{}", app.server.address());
    client.goto(&format!("{base}/login?user=alice")).await?;
    assert_eq!(client.current_url().await?.path(), PAGE, "signed in, on the page");
    wait_for_text(client, "#tenant", |text| text == "site_1").await?;
    screenshot(client, artifacts, "page-1-signed-in").await?;

    // Create a named key; it is shown once, in the dialog.
    let form = client.find(Locator::Id("create")).await?;
    form.find(Locator::Css("input[name=name]"))
        .await?
        .send_keys("Production backend")
        .await?;
    let scopes = form.find(Locator::Css("input[name=scopes]")).await?;
    scopes.clear().await?;
    scopes.send_keys("hello:read").await?;
    form.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    let (token, id) = revealed(client).await?;
    screenshot(client, artifacts, "page-2-revealed").await?;
    assert_eq!(app.hello(&token).await, StatusCode::OK, "the revealed key works");
    app.flush().await;

    // Closed, the dialog forgets the token; the reloaded page lists the key without it.
    client.find(Locator::Id("done")).await?.click().await?;
    let row = format!("tr[data-key-id=\"{id}\"]");
    let last_used = wait_for_text(client, &format!("{row} .last-used"), |text| text != "never").await?;
    let key = app
        .manager
        .get(&TenantId::new("site_1")?, &id.parse()?)
        .await?
        .ok_or("the key is stored")?;
    assert_eq!(
        Some(last_used),
        key.last_used_at.map(|at| at.to_string()),
        "lastUsedAt"
    );
    let listed = |css: &str| format!("{row} {css}");
    assert_eq!(text_at(client, &listed(".name")).await?, "Production backend");
    assert_eq!(text_at(client, &listed(".prefix")).await?, key.display_prefix);
    assert_eq!(text_at(client, &listed(".scopes")).await?, "hello:read");
    assert_eq!(text_at(client, &listed(".requests")).await?, "1");
    assert!(
        !client.source().await?.contains(&token),
        "the token is not on the page any more"
    );
    wait_for_text(client, "#log tbody", |text| text.contains("GET /v1/hello")).await?;
    screenshot(client, artifacts, "page-3-listed").await?;

    // Rotate: a successor, shown once; by the default policy both work through the grace period.
    act_on(client, &id, "rotate").await?;
    let (successor, successor_id) = revealed(client).await?;
    assert_ne!(successor, token);
    screenshot(client, artifacts, "page-4-rotated").await?;
    assert_eq!(app.hello(&successor).await, StatusCode::OK, "the successor works");
    client.find(Locator::Id("done")).await?.click().await?;
    let successor_row = format!("tr[data-key-id=\"{successor_id}\"]");
    wait_for_text(client, &format!("{successor_row} .status"), |text| {
        text == "active"
    })
    .await?;

    // Revoke both: refused at once.
    for revoked in [&successor_id, &id] {
        act_on(client, revoked, "revoke").await?;
        let status = format!("tr[data-key-id=\"{revoked}\"] .status");
        wait_for_text(client, &status, |text| text == "revoked").await?;
    }
    screenshot(client, artifacts, "page-5-revoked").await?;
    assert_eq!(app.hello(&successor).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.hello(&token).await, StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn a_user_creates_uses_rotates_and_revokes_a_key_in_chromium() {
    let (Some(chromium), Some(chromedriver)) = (
        binary("KEYWARD_CHROMIUM", "/usr/bin/chromium"),
        binary("KEYWARD_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ) else {
        let reason = "chromium or chromedriver is not installed \
                      (apt-get install -y chromium chromium-driver, or set KEYWARD_CHROMIUM and KEYWARD_CHROMEDRIVER)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{reason}");
        eprintln!("skipped: {reason}");
        return;
    };
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_owned();
    let artifacts = target.join("browser-artifacts");
    std::fs::create_dir_all(&artifacts).expect("the artifacts directory");
    let profile =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-profile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);

    let app = PageApp::new().await;
    let driver = start_driver(&chromedriver, &artifacts.join("chromedriver.log")).await;
    let client = browser(&driver, &chromium, &profile).await;
    let result = flow(&app, &client, &artifacts).await;
    if result.is_err() {
        let _ = screenshot(&client, &artifacts, "page-failed").await;
    }
    let closed = client.close().await;
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    if let Err(error) = result {
        panic!("the browser flow failed: {error}");
    }
    closed.expect("the browser session ends");
}
