//! What the root integration tests share: an HTTP client for a server on loopback, a reply read in
//! full, and a clock the tests move by hand.
//!
//! Each test binary uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use keyward_core::time::{ManualClock, Timestamp};
use reqwest::RequestBuilder;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A client for the server at one address.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for `http://<address>`.
    pub fn new(address: SocketAddr) -> Self {
        Self {
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
        }
    }

    /// A GET of `path`.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    /// A POST to `path`.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }

    /// A DELETE of `path`.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.http.delete(format!("{}{path}", self.base))
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when it is empty or not JSON).
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The header `name` as text; empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The header `name` as a number.
    ///
    /// # Panics
    ///
    /// When it is absent or not a number: the test fails there.
    pub fn number(&self, name: &str) -> u64 {
        self.header(name)
            .parse()
            .unwrap_or_else(|_| panic!("header {name} is not a number: {:?}", self.header(name)))
    }

    /// `error.code` of the JSON envelope.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or_default()
    }
}

/// Sends `request` and reads the whole reply.
///
/// # Panics
///
/// When the server cannot be reached: the test fails there.
pub async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body can be read");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
        text,
    }
}

/// Runs the `keyward` CLI as its own process, `keyward --store URL ARGS… --json` with `env` added
/// and nothing of the caller's keyward settings or logs: the exit code, stdout parsed (`null` when
/// not JSON) and stderr.
pub async fn keyward(store: &str, env: &[(&str, &str)], args: &[&str]) -> (i32, Value, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .arg("--store")
        .arg(store)
        .args(args)
        .arg("--json")
        .env_remove("KEYWARD_STORE")
        .env_remove("KEYWARD_KEYSPACE")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("the CLI runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json, stderr)
}

/// A clock stopped at the current wall-clock time, moved by the tests.
pub fn clock() -> ManualClock {
    ManualClock::new(Timestamp::now())
}

/// A day.
pub const DAY: Duration = Duration::from_secs(86_400);

/// Whether `text` is `len` characters, all from `allowed`.
pub fn is_chars(text: &str, len: usize, allowed: impl Fn(char) -> bool) -> bool {
    text.chars().count() == len && text.chars().all(allowed)
}

/// Lowercase letters and digits.
pub fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// The lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An example's own binary, started with `PORT=0` and a fresh store, read until it prints
/// `listening on …`; killed when dropped, and its temporary files removed.
#[derive(Debug)]
pub struct ExampleProcess {
    child: std::process::Child,
    /// The example's `TMPDIR`: a killed process cannot remove the temporary store it made, so
    /// the test removes the directory it was made in, after the kill.
    _tmp: tempfile::TempDir,
    /// Where it listens.
    pub address: SocketAddr,
    /// The keys it printed, by label.
    pub keys: Vec<(String, String)>,
    /// Everything it printed before it listened.
    pub output: Vec<String>,
}

impl ExampleProcess {
    /// Starts `target/<profile>/examples/<name>` with `env` added.
    ///
    /// # Panics
    ///
    /// When the binary is missing (build it with `cargo build --examples`, which `cargo nextest
    /// run` and `cargo test` do), or exits before printing `listening on …`.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead as _;
        use std::process::{Command, Stdio};

        let path = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.join("examples")))
            .map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
            .expect("the test binary's directory");
        let tmp = tempfile::tempdir().expect("a temporary directory for the example");
        assert!(
            path.exists(),
            "{} is missing: build the examples first (`cargo build --all-features --examples`)",
            path.display()
        );
        let mut child = Command::new(&path)
            .env("PORT", "0")
            .env_remove("KEYWARD_STORE")
            .env("TMPDIR", tmp.path())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the example starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut keys = Vec::new();
        let mut address = None;
        let mut output = Vec::new();
        let mut lines = std::io::BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("the example's output is text");
            output.push(line.clone());
            if let Some(rest) = line.strip_prefix("key ") {
                let (label, token) = rest.split_once(": ").expect("`key <label>: <token>`");
                keys.push((label.to_owned(), token.to_owned()));
            } else if let Some(url) = line.strip_prefix("listening on http://") {
                address = Some(url.parse().expect("`listening on http://127.0.0.1:PORT`"));
                break;
            }
        }
        let Some(address) = address else {
            let _ = child.kill();
            let status = child.wait();
            panic!("{name} exited before listening: {status:?}");
        };
        // Keep reading what it prints later, so that its writes never meet a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            _tmp: tmp,
            address,
            keys,
            output,
        }
    }

    /// The labels of the printed keys, in order.
    pub fn labels(&self) -> Vec<&str> {
        self.keys.iter().map(|(label, _)| label.as_str()).collect()
    }

    /// The token printed under `label`.
    ///
    /// # Panics
    ///
    /// When no key has that label.
    pub fn key(&self, label: &str) -> &str {
        self.keys
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, token)| token.as_str())
            .unwrap_or_else(|| panic!("no key {label:?} in {:?}", self.labels()))
    }
}

impl Drop for ExampleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store URL on a schema of its own on the test server (`KEYWARD_TEST_POSTGRES_URL`), named
/// after `test`: keys and migrations of earlier runs, and of other tests, are not in it.
///
/// # Panics
///
/// When the variable is not set or the server cannot be reached: the test fails there.
pub async fn postgres_schema(test: &str) -> String {
    let base = std::env::var("KEYWARD_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "KEYWARD_TEST_POSTGRES_URL is not set: run `scripts/test-servers start` and \
             `eval \"$(scripts/test-servers env)\"` before the PostgreSQL tests"
        )
    });
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let schema = format!("{test}_{}_{nanos}", std::process::id());
    let pool = sqlx::PgPool::connect(&base).await.expect("the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("a schema");
    pool.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}
