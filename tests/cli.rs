//! The `keyward` binary end to end, against a temporary SQLite file and the test PostgreSQL server.
//!
//! PostgreSQL tests need `scripts/test-servers start` and `eval "$(scripts/test-servers env)"`;
//! they share one database, so each test works in a tenant of its own.
#![cfg(any(feature = "sqlite", feature = "postgres"))]

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyward_core::audit::{AuditEvent, AuditKind, KeyUsage};
use keyward_core::manager::KeyManagerBuilder;
use keyward_core::time::Timestamp;
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{ApiKey, Drift, KeyId, KeyManager, KeyStore, Rotation, Spend, TenantId};
use serde_json::{Value, json};
use support::sha256_hex;
use tempfile::TempDir;

/// The fields a key view has: nothing that holds a secret or a hash.
const KEY_FIELDS: [&str; 19] = [
    "id",
    "tenant",
    "keyspace",
    "name",
    "display_prefix",
    "kind",
    "environment",
    "scopes",
    "tier",
    "status",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "request_count",
    "lineage",
    "rotated_from",
    "grace_until",
    "credits",
];

/// The fields of an audit event as `audit --json` prints them.
const EVENT_FIELDS: [&str; 11] = [
    "kind",
    "at",
    "request_id",
    "key_id",
    "tenant",
    "fingerprint",
    "method",
    "path",
    "status",
    "client_ip",
    "user_agent",
];

/// The fields of a key's usage as `usage --json` prints them.
const USAGE_FIELDS: [&str; 7] = [
    "id",
    "name",
    "display_prefix",
    "status",
    "last_used_at",
    "request_count",
    "credits",
];

/// A store URL to run the binary against, and the directory that holds it, if any.
struct Store {
    url: String,
    _dir: Option<TempDir>,
}

impl Store {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        Self { url, _dir: Some(dir) }
    }

    fn postgres() -> Self {
        let url = std::env::var("KEYWARD_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "KEYWARD_TEST_POSTGRES_URL is not set: run `scripts/test-servers start` and \
                 `eval \"$(scripts/test-servers env)\"` before the PostgreSQL tests"
            )
        });
        // As an app does when it starts: the other commands require the current schema, and
        // tests running at once must not each find a database half-migrated by another.
        static MIGRATED: std::sync::Once = std::sync::Once::new();
        MIGRATED.call_once(|| {
            let run = keyward(&["--store", &url, "migrate"], &[]);
            assert_eq!(run.code, Some(0), "migrate: {run:?}");
        });
        Self { url, _dir: None }
    }

    fn memory() -> Self {
        Self {
            url: "memory:".to_owned(),
            _dir: None,
        }
    }

    /// Runs `keyward --store URL ARGS…`.
    fn keyward(&self, args: &[&str]) -> Run {
        let mut all = vec!["--store", self.url.as_str()];
        all.extend_from_slice(args);
        keyward(&all, &[])
    }

    /// Runs a command that must succeed and returns its stdout.
    fn ok(&self, args: &[&str]) -> Run {
        let run = self.keyward(args);
        assert_eq!(run.code, Some(0), "keyward {args:?} failed: {}", run.stderr);
        run
    }

    /// Runs a command with `--json` that must succeed and returns its stdout, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        self.ok(&all).json()
    }

    /// Runs `task` on the store, opened by the test itself (not the binary), and closes it.
    fn with<T>(&self, task: impl AsyncFnOnce(&dyn KeyStore) -> T) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                let store = keyward_core::store::open(&self.url)
                    .await
                    .expect("the test opens the store");
                task(&*store).await
            })
    }

    /// The stored record of `tenant`'s key `id`.
    fn key(&self, tenant: &str, id: &str) -> ApiKey {
        let tenant = TenantId::new(tenant).expect("a valid tenant");
        let id = id.parse().expect("a valid key id");
        self.with(async |store| store.get(&tenant, &id).await)
            .expect("the store answers")
            .expect("the key exists")
    }

    /// Appends `events` to the store's audit log.
    fn append(&self, events: &[AuditEvent]) {
        self.with(async |store| store.append_audit(events).await)
            .expect("the events are appended");
    }

    /// Creates a key in `tenant` and returns its token and id.
    fn create(&self, tenant: &str, extra: &[&str]) -> (String, String) {
        let mut args = vec!["keys", "create", "--tenant", tenant];
        args.extend_from_slice(extra);
        let created = self.json(&args);
        (text(&created["token"]), text(&created["id"]))
    }
}

/// What a run of the binary gave.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", self.stdout))
    }
}

/// Runs the binary with `args` and `env`, and nothing of the caller's keyward settings or logs.
fn keyward(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .env_remove("KEYWARD_STORE")
        .env_remove("KEYWARD_KEYSPACE")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("the keyward binary runs");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "keyward {args:?} panicked: {}",
        run.stderr
    );
    run
}

/// Declares the keyspace `name` in the store, as an app does when it starts.
fn declare(store: &Store, name: &str, configure: impl FnOnce(KeyManagerBuilder) -> KeyManagerBuilder) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let opened = keyward_core::store::open(&store.url)
            .await
            .expect("the store opens");
        configure(KeyManager::builder_shared(opened).keyspace(name))
            .declare(Drift::Refuse)
            .await
            .expect("the keyspace is declared");
    });
}

/// A tenant no other test (or earlier run) uses.
fn tenant(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "cli_{test}_{}_{nanos}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_owned()
}

fn time(value: &Value) -> SystemTime {
    humantime::parse_rfc3339(&text(value)).unwrap_or_else(|error| panic!("{value}: {error}"))
}

/// Asserts that `output` shows nothing of `token`: not the token, its secret part or its hash.
fn assert_no_secret(output: &str, token: &str, what: &str) {
    let secret = &token[token.len() - 38..];
    assert!(!output.contains(token), "{what} shows the token: {output}");
    assert!(!output.contains(secret), "{what} shows the secret: {output}");
    assert!(
        !output.contains(&sha256_hex(token)),
        "{what} shows the hash: {output}"
    );
}

/// A request, as an audit event records it: request id, method, path, status.
type Request<'a> = (&'a str, &'a str, &'a str, u16);

/// An audit event of `key` at `at`; client IP and user agent from `client`.
fn event(
    key: &ApiKey,
    at: Timestamp,
    request: Request<'_>,
    client: (Option<&str>, Option<&str>),
) -> AuditEvent {
    let (request_id, method, path, status) = request;
    AuditEvent {
        at,
        request_id: request_id.to_owned(),
        key_id: key.id.clone(),
        tenant: key.tenant.clone(),
        fingerprint: key.fingerprint(),
        method: method.to_owned(),
        path: path.to_owned(),
        status,
        client_ip: client.0.map(str::to_owned),
        user_agent: client.1.map(str::to_owned),
        kind: AuditKind::Request,
        detail: None,
    }
}

/// `duration` before now.
fn ago(duration: Duration) -> Timestamp {
    Timestamp::now().minus(duration)
}

/// The request ids of `audit`'s text lines (the fifth column), in order.
fn request_ids(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .map(|line| {
            line.split_whitespace()
                .nth(5)
                .unwrap_or_else(|| panic!("a request id in {line:?}"))
                .to_owned()
        })
        .collect()
}

/// The sorted field names of a JSON object.
fn field_names(value: &Value) -> Vec<&str> {
    let mut fields: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    fields
}

/// keyward's default format: `kw_live_<8>_<32><6>`.
fn assert_token_shape(token: &str, environment: &str) {
    let head = format!("kw_{environment}_");
    assert!(token.starts_with(&head), "{token}");
    assert_eq!(token.len(), head.len() + 8 + 1 + 32 + 6, "{token}");
    assert_eq!(token.as_bytes()[head.len() + 8], b'_', "{token}");
    assert!(
        token[head.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{token}"
    );
}

// The scenarios, run against each backend by `per_backend!` below.

/// Text mode: the token alone on stdout, details on stderr; shown once, never again.
fn create_prints_the_token_once(store: &Store) {
    let tenant = tenant("create");
    let run = store.ok(&[
        "keys",
        "create",
        "--tenant",
        &tenant,
        "--name",
        "CI box",
        "--scopes",
        "analytics:read,campaigns:*",
        "--expires",
        "90d",
        "--tier",
        "pro",
    ]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the token alone: {}", run.stdout);
    let token = lines[0];
    assert_token_shape(token, "live");
    assert_no_secret(&run.stderr, token, "stderr");
    let id = run
        .stderr
        .lines()
        .find_map(|line| line.strip_prefix("id:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `id:` line on stderr: {}", run.stderr));
    assert!(id.starts_with("key_"), "{id}");
    for detail in [
        "name:           CI box",
        "scopes:         analytics:read,campaigns:*",
        "tier:           pro",
    ] {
        assert!(run.stderr.contains(detail), "missing `{detail}`: {}", run.stderr);
    }

    let shown = store.json(&["keys", "show", id, "--tenant", &tenant]);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["kind"], "secret");
    assert_eq!(shown["environment"], "live");
    assert_eq!(shown["display_prefix"], &token[..17]);
    let lifetime = time(&shown["expires_at"])
        .duration_since(time(&shown["created_at"]))
        .expect("expires after creation");
    assert_eq!(lifetime, Duration::from_secs(90 * 86_400));

    let test_key = store.json(&[
        "keys",
        "create",
        "--tenant",
        &tenant,
        "--kind",
        "publishable",
        "--env",
        "test",
    ]);
    assert_token_shape(&text(&test_key["token"]), "test");
    assert_eq!(test_key["kind"], "publishable");
    assert_eq!(test_key["environment"], "test");
    assert_eq!(test_key["expires_at"], Value::Null);
    assert_eq!(test_key["scopes"], serde_json::json!(["*"]));
}

/// `list` and `show`, as text and JSON, show the key's fields and nothing of its secret.
fn list_and_show_hide_the_secret(store: &Store) {
    let tenant = tenant("list");
    let (first, first_id) = store.create(&tenant, &["--name", "first"]);
    let (second, second_id) = store.create(&tenant, &["--name", "second"]);

    let table = store.ok(&["keys", "list", "--tenant", &tenant]);
    let rows: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "a header and two keys: {}", table.stdout);
    assert!(
        rows[1].starts_with(&first_id) && rows[1].ends_with("first"),
        "oldest first: {}",
        table.stdout
    );
    assert!(rows[2].starts_with(&second_id), "{}", table.stdout);

    let listed = store.json(&["keys", "list", "--tenant", &tenant]);
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 2);
    for key in listed {
        let mut fields: Vec<&str> = key
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut expected = KEY_FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(fields, expected, "{key}");
    }

    let shown = store.ok(&["keys", "show", &first_id, "--tenant", &tenant]);
    assert!(
        shown.stdout.contains(&format!("id:             {first_id}\n")),
        "{}",
        shown.stdout
    );
    let shown_json = store.ok(&["keys", "show", &first_id, "--tenant", &tenant, "--json"]);
    for (what, output) in [
        ("list", &table.stdout),
        ("list --json", &serde_json::to_string(&listed).expect("JSON")),
        ("show", &shown.stdout),
        ("show --json", &shown_json.stdout),
    ] {
        assert_no_secret(output, &first, what);
        assert_no_secret(output, &second, what);
    }

    let empty = store.ok(&["keys", "list", "--tenant", &format!("{tenant}_none")]);
    assert_eq!(empty.stdout, "", "no table for no keys");
    assert!(empty.stderr.contains("no keys"), "{}", empty.stderr);
}

/// `revoke` stops a key at once and says so; revoking again changes nothing.
fn revoke_marks_the_key_revoked(store: &Store) {
    let tenant = tenant("revoke");
    let (_, id) = store.create(&tenant, &[]);
    let revoked = store.ok(&["keys", "revoke", &id, "--tenant", &tenant]);
    assert!(
        revoked.stdout.contains("status:         revoked\n"),
        "{}",
        revoked.stdout
    );

    let shown = store.json(&["keys", "show", &id, "--tenant", &tenant]);
    assert_eq!(shown["status"], "revoked");
    let revoked_at = text(&shown["revoked_at"]);

    let again = store.json(&["keys", "revoke", &id, "--tenant", &tenant]);
    assert_eq!(
        again["revoked_at"],
        revoked_at.as_str(),
        "the first revocation time stays"
    );
}

/// `rotate --two-step`: the old key works until revoked; a second rotation waits for that.
fn rotate_two_step(store: &Store) {
    let tenant = tenant("two_step");
    let (old_token, old_id) = store.create(&tenant, &["--scopes", "a:read"]);
    let rotated = store.json(&["keys", "rotate", &old_id, "--tenant", &tenant, "--two-step"]);
    let new_token = text(&rotated["token"]);
    assert_token_shape(&new_token, "live");
    assert_ne!(new_token, old_token);
    assert_eq!(rotated["rotated_from"], old_id.as_str());
    assert_eq!(rotated["lineage"], old_id.as_str());
    assert_eq!(
        rotated["scopes"],
        serde_json::json!(["a:read"]),
        "the successor keeps the scopes"
    );
    assert_eq!(rotated["previous"]["id"], old_id.as_str());
    assert_eq!(rotated["previous"]["status"], "active");
    assert_eq!(rotated["previous"]["grace_until"], Value::Null);
    assert!(rotated["previous"].get("token").is_none(), "{rotated}");

    let pending = store.keyward(&["keys", "rotate", &old_id, "--tenant", &tenant, "--two-step"]);
    assert_eq!(pending.code, Some(1), "{pending:?}");
    assert!(
        pending
            .stderr
            .starts_with("error: a rotation of this key is already pending"),
        "{pending:?}"
    );

    store.ok(&["keys", "revoke", &old_id, "--tenant", &tenant]);
    let keys = store.json(&["keys", "list", "--tenant", &tenant]);
    let statuses: Vec<&Value> = keys
        .as_array()
        .expect("an array")
        .iter()
        .map(|k| &k["status"])
        .collect();
    assert_eq!(statuses, ["revoked", "active"]);
}

/// `rotate --immediate`: the old key is revoked at once; text mode prints the new token alone.
fn rotate_immediate(store: &Store) {
    let tenant = tenant("immediate");
    let (old_token, old_id) = store.create(&tenant, &[]);
    let run = store.ok(&["keys", "rotate", &old_id, "--tenant", &tenant, "--immediate"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "stdout is the token alone: {}", run.stdout);
    assert_token_shape(lines[0], "live");
    assert_no_secret(&run.stderr, lines[0], "rotate's stderr");
    assert_no_secret(&run.stderr, &old_token, "rotate's stderr");
    assert!(
        run.stderr.contains(&format!("previous: {old_id} (revoked at ")),
        "{}",
        run.stderr
    );

    let old = store.json(&["keys", "show", &old_id, "--tenant", &tenant]);
    assert_eq!(old["status"], "revoked");
    let again = store.keyward(&["keys", "rotate", &old_id, "--tenant", &tenant]);
    assert_eq!(again.code, Some(1), "a revoked key cannot be rotated: {again:?}");
    assert_eq!(again.stderr, "error: the key is not active\n");
}

/// `rotate --grace`: the old key works for exactly the grace period; 48 hours by default.
fn rotate_with_grace(store: &Store) {
    let tenant = tenant("grace");
    for (flags, grace) in [
        (&["--grace", "2h"][..], Duration::from_secs(2 * 3600)),
        (&[][..], Duration::from_secs(48 * 3600)),
    ] {
        let (_, old_id) = store.create(&tenant, &[]);
        let mut args = vec!["keys", "rotate", old_id.as_str(), "--tenant", tenant.as_str()];
        args.extend_from_slice(flags);
        let rotated = store.json(&args);
        let previous = &rotated["previous"];
        assert_eq!(previous["status"], "active", "{flags:?}: in its grace period");
        let until = time(&previous["grace_until"])
            .duration_since(time(&rotated["created_at"]))
            .expect("the grace ends after the rotation");
        assert_eq!(until, grace, "{flags:?}");
        let old = store.json(&["keys", "show", &old_id, "--tenant", &tenant]);
        assert_eq!(old["grace_until"], previous["grace_until"], "{flags:?}: stored");
    }
}

/// `migrate` opens the store and reports success, again and again; `KEYWARD_STORE` names the store.
fn migrate_reports_success(store: &Store) {
    let run = store.ok(&["migrate"]);
    assert!(
        run.stdout.contains("is ready: migrations applied"),
        "{}",
        run.stdout
    );
    let run = keyward(&["migrate", "--json"], &[("KEYWARD_STORE", &store.url)]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let value = run.json();
    assert_eq!(value["migrated"], true);
    assert_eq!(value["store"], store.url.as_str(), "no password to hide");
}

/// Every command's `--json` output is one valid JSON document, and the token never reaches
/// stderr, even with every log turned on.
fn json_everywhere_and_no_token_in_logs(store: &Store) {
    let tenant = tenant("json");
    let logs = [("RUST_LOG", "trace")];
    let with_store = |args: &[&str]| {
        let mut all = vec!["--json", "--store", store.url.as_str()];
        all.extend_from_slice(args);
        keyward(&all, &logs)
    };
    let created = with_store(&["keys", "create", "--tenant", &tenant]);
    let created_json = created.json();
    let token = text(&created_json["token"]);
    let id = text(&created_json["id"]);
    assert_no_secret(&created.stderr, &token, "create's logs");
    let rotated = with_store(&["keys", "rotate", &id, "--tenant", &tenant, "--two-step"]);
    let successor = text(&rotated.json()["token"]);
    assert_no_secret(&rotated.stderr, &successor, "rotate's logs");

    let commands: [(&str, Vec<&str>); 8] = [
        ("list", vec!["keys", "list", "--tenant", &tenant]),
        ("show", vec!["keys", "show", &id, "--tenant", &tenant]),
        (
            "credits set",
            vec!["keys", "credits", "set", &id, "5", "--tenant", &tenant],
        ),
        (
            "credits add",
            vec!["keys", "credits", "add", &id, "5", "--tenant", &tenant],
        ),
        (
            "credits remove",
            vec!["keys", "credits", "remove", &id, "--tenant", &tenant],
        ),
        ("revoke", vec!["keys", "revoke", &id, "--tenant", &tenant]),
        ("migrate", vec!["migrate"]),
        ("patterns", vec!["patterns"]),
    ];
    for (what, args) in commands {
        let run = with_store(&args);
        assert_eq!(run.code, Some(0), "{what}: {run:?}");
        let value = run.json();
        assert!(value.is_object() || value.is_array(), "{what}: {value}");
        for (secret, name) in [(&token, "token"), (&successor, "successor")] {
            assert_no_secret(&run.stdout, secret, &format!("{what} stdout ({name})"));
            assert_no_secret(&run.stderr, secret, &format!("{what} logs ({name})"));
        }
    }
}

/// Bad input of every kind: a non-zero exit of its class, one `error:` line on stderr, nothing on
/// stdout, no panic.
fn bad_input_is_one_error_line(store: &Store) {
    let tenant = tenant("bad");
    let (_, id) = store.create(&tenant, &[]);
    let (_, revoked_id) = store.create(&tenant, &[]);
    store.ok(&["keys", "revoke", &revoked_id, "--tenant", &tenant]);
    let long_name = "n".repeat(101);
    let other = format!("{tenant}_other");
    let url = store.url.as_str();
    // An app's keyspace: one key per tenant, a few scopes, rotation as the policy says only.
    let limited = tenant.clone();
    declare(store, &limited, |app| {
        app.max_active_keys(1)
            .default_scopes("events:read".parse().expect("valid"))
            .allowed_scopes("events:*".parse().expect("valid"))
            .rotation(Rotation::TwoStep)
            .lock_rotation()
    });
    let (_, limited_id) = store.create(&tenant, &["--keyspace", &limited]);

    let cases: Vec<(&str, Vec<&str>, i32, &str)> = vec![
        ("no command", vec![], 2, "requires a subcommand"),
        ("no keys subcommand", vec!["keys"], 2, "requires a subcommand"),
        ("missing tenant", vec!["keys", "list"], 2, "--tenant"),
        (
            "tenant with a space",
            vec!["keys", "list", "--tenant", "a b"],
            2,
            "invalid tenant",
        ),
        (
            "empty tenant",
            vec!["keys", "list", "--tenant", ""],
            2,
            "invalid tenant",
        ),
        (
            "bad scope",
            vec!["keys", "create", "--tenant", &tenant, "--scopes", "Analytics"],
            2,
            "invalid scope",
        ),
        (
            "bad duration",
            vec!["keys", "create", "--tenant", &tenant, "--expires", "soon"],
            2,
            "--expires",
        ),
        (
            "zero duration",
            vec!["keys", "create", "--tenant", &tenant, "--expires", "0s"],
            2,
            "longer than zero",
        ),
        (
            "bad grace",
            vec![
                "keys",
                "rotate",
                &id,
                "--tenant",
                &tenant,
                "--grace",
                "2 fortnights",
            ],
            2,
            "--grace",
        ),
        (
            "bad kind",
            vec!["keys", "create", "--tenant", &tenant, "--kind", "public"],
            2,
            "possible values",
        ),
        (
            "bad environment",
            vec!["keys", "create", "--tenant", &tenant, "--env", "prod"],
            2,
            "possible values",
        ),
        (
            "bad tier",
            vec!["keys", "create", "--tenant", &tenant, "--tier", "Gold Plan"],
            2,
            "invalid tier",
        ),
        (
            "name too long",
            vec!["keys", "create", "--tenant", &tenant, "--name", &long_name],
            2,
            "key name",
        ),
        (
            "name with a tab",
            vec!["keys", "create", "--tenant", &tenant, "--name", "a\tb"],
            2,
            "key name",
        ),
        (
            "zero key limit",
            vec![
                "--keyspace",
                &limited,
                "keyspace",
                "set",
                "--max-active-keys",
                "0",
            ],
            2,
            "--max-active-keys",
        ),
        (
            "malformed key id",
            vec!["keys", "show", "kw_live_abc", "--tenant", &tenant],
            2,
            "invalid key id",
        ),
        (
            "two rotation modes",
            vec![
                "keys",
                "rotate",
                &id,
                "--tenant",
                &tenant,
                "--immediate",
                "--grace",
                "1h",
            ],
            2,
            "cannot be used with",
        ),
        (
            "unknown id: show",
            vec!["keys", "show", "key_doesnotexist", "--tenant", &tenant],
            3,
            "not found",
        ),
        (
            "unknown id: revoke",
            vec!["keys", "revoke", "key_doesnotexist", "--tenant", &tenant],
            3,
            "not found",
        ),
        (
            "unknown id: rotate",
            vec!["keys", "rotate", "key_doesnotexist", "--tenant", &tenant],
            3,
            "not found",
        ),
        (
            "another tenant's key",
            vec!["keys", "revoke", &id, "--tenant", &other],
            3,
            "not found",
        ),
        (
            "limit reached",
            vec!["--keyspace", &limited, "keys", "create", "--tenant", &tenant],
            1,
            "maximum of 1 active keys",
        ),
        (
            "scopes the keyspace does not allow",
            vec![
                "--keyspace",
                &limited,
                "keys",
                "create",
                "--tenant",
                &other,
                "--scopes",
                "admin:*",
            ],
            1,
            "does not allow the scopes `admin:*`",
        ),
        (
            "a rotation the keyspace does not allow",
            vec![
                "--keyspace",
                &limited,
                "keys",
                "rotate",
                &limited_id,
                "--tenant",
                &tenant,
                "--immediate",
            ],
            1,
            "rotates keys only by two-step, not immediate",
        ),
        (
            "a key of another keyspace",
            vec!["keys", "revoke", &limited_id, "--tenant", &tenant],
            3,
            "not found",
        ),
        (
            "unknown keyspace",
            vec![
                "--keyspace",
                "no-such-keyspace",
                "keys",
                "list",
                "--tenant",
                &tenant,
            ],
            5,
            "no keyspace `no-such-keyspace`",
        ),
        (
            "invalid keyspace name",
            vec!["--keyspace", "Bad Name", "keys", "list", "--tenant", &tenant],
            2,
            "invalid keyspace name",
        ),
        (
            "an invalid policy",
            vec![
                "--keyspace",
                &limited,
                "keyspace",
                "set",
                "--default-scopes",
                "admin:read",
            ],
            2,
            "default scopes must be among the allowed scopes",
        ),
        (
            "two key limits",
            vec![
                "--keyspace",
                &limited,
                "keyspace",
                "set",
                "--max-active-keys",
                "2",
                "--no-key-limit",
            ],
            2,
            "cannot be used with",
        ),
        (
            "rotating a revoked key",
            vec!["keys", "rotate", &revoked_id, "--tenant", &tenant],
            1,
            "not active",
        ),
        ("audit without a tenant", vec!["audit"], 2, "--tenant"),
        (
            "bad --since",
            vec!["audit", "--tenant", &tenant, "--since", "yesterday"],
            2,
            "RFC 3339",
        ),
        (
            "--until in another time zone",
            vec![
                "audit",
                "--tenant",
                &tenant,
                "--until",
                "2026-12-01T00:00:00+01:00",
            ],
            2,
            "in UTC",
        ),
        (
            "zero limit",
            vec!["audit", "--tenant", &tenant, "--limit", "0"],
            2,
            "--limit",
        ),
        (
            "limit over the maximum",
            vec!["audit", "--tenant", &tenant, "--limit", "10001"],
            2,
            "--limit",
        ),
        (
            "bad audit key id",
            vec!["audit", "--tenant", &tenant, "--key", "kw_live_abc"],
            2,
            "invalid key id",
        ),
        (
            "prune with filters",
            vec!["audit", "--tenant", &tenant, "prune", "--older-than", "30d"],
            2,
            "cannot be used with",
        ),
        (
            "prune without a duration",
            vec!["audit", "prune"],
            2,
            "--older-than",
        ),
        (
            "prune with a bad duration",
            vec!["audit", "prune", "--older-than", "a while"],
            2,
            "--older-than",
        ),
        ("usage without a tenant", vec!["usage"], 2, "--tenant"),
        (
            "a refill without credits",
            vec!["keys", "create", "--tenant", &tenant, "--refill", "10/1d"],
            2,
            "--credits",
        ),
        (
            "a refill that is not AMOUNT/INTERVAL",
            vec![
                "keys",
                "create",
                "--tenant",
                &tenant,
                "--credits",
                "10",
                "--refill",
                "10 a day",
            ],
            2,
            "expected <amount>/<interval>",
        ),
        (
            "a refill of nothing",
            vec![
                "keys", "credits", "set", &id, "1", "--tenant", &tenant, "--refill", "0/1d",
            ],
            2,
            "refill amount",
        ),
        (
            "a refill every hundred and one years",
            vec![
                "keys", "credits", "set", &id, "1", "--tenant", &tenant, "--refill", "1/101y",
            ],
            2,
            "refill interval",
        ),
        (
            "a refill and no refill",
            vec![
                "keys",
                "credits",
                "set",
                &id,
                "1",
                "--tenant",
                &tenant,
                "--refill",
                "1/1d",
                "--no-refill",
            ],
            2,
            "cannot be used with",
        ),
        (
            "negative credits",
            vec!["keys", "credits", "set", &id, "-1", "--tenant", &tenant],
            2,
            "unexpected argument",
        ),
        (
            "credits over the maximum",
            vec![
                "keys",
                "create",
                "--tenant",
                &tenant,
                "--credits",
                "9223372036854775808",
            ],
            2,
            "--credits",
        ),
        (
            "adding no credits",
            vec!["keys", "credits", "add", &id, "0", "--tenant", &tenant],
            2,
            "not in 1..=",
        ),
        (
            "credits without a count",
            vec!["keys", "credits", "set", &id, "--tenant", &tenant],
            2,
            "<N>",
        ),
        (
            "adding to a key without credits",
            vec!["keys", "credits", "add", &id, "5", "--tenant", &tenant],
            1,
            "the key has no credits",
        ),
        (
            "credits of an unknown key",
            vec![
                "keys",
                "credits",
                "set",
                "key_doesnotexist",
                "5",
                "--tenant",
                &tenant,
            ],
            3,
            "not found",
        ),
        (
            "credits of another tenant's key",
            vec!["keys", "credits", "remove", &id, "--tenant", &other],
            3,
            "not found",
        ),
        (
            "unknown store scheme",
            vec!["--store", "mysql://u:hunter2@db/keys", "migrate"],
            2,
            "unsupported store URL",
        ),
        (
            "unreachable SQLite file",
            vec!["--store", "sqlite:///nonexistent-dir/sub/keys.db", "migrate"],
            4,
            "key store unavailable",
        ),
    ];
    for (what, args, code, message) in cases {
        // The store through the environment, so that a case's own `--store` overrides it.
        let run = keyward(&args, &[("KEYWARD_STORE", url)]);
        assert_eq!(run.code, Some(code), "{what}: {run:?}");
        assert_eq!(run.stdout, "", "{what}: nothing on stdout");
        assert!(run.stderr.starts_with("error: "), "{what}: {run:?}");
        assert!(
            run.stderr.contains(message),
            "{what}: expected `{message}` in {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{what}: one line: {}", run.stderr);
        assert!(
            !run.stderr.contains("hunter2"),
            "{what}: a password in the message"
        );
    }
    // The refused creation left the tenant with its one active key.
    let keys = store.json(&["keys", "list", "--tenant", &tenant]);
    assert_eq!(keys.as_array().map(Vec::len), Some(2));
}

/// The command line applies the keyspace an app declared (format, default scopes, key limit,
/// rotation rule) with no flag repeating it, and `keyspace set` changes the stored policy.
fn keys_follow_the_stored_keyspace(store: &Store) {
    let tenant = tenant("keyspace");
    let keyspace = tenant.clone();
    let format = TokenFormat::builder("atk")
        .environment()
        .public_prefix(8)
        .secret(32, Alphabet::LowerAlphanumeric)
        .build()
        .expect("valid format");
    declare(store, &keyspace, |app| {
        app.format(format)
            .max_active_keys(2)
            .default_scopes("events:read".parse().expect("valid"))
            .rotation(Rotation::TwoStep)
            .lock_rotation()
    });
    let with = |args: &[&str]| -> Vec<String> {
        ["--keyspace", keyspace.as_str()]
            .iter()
            .chain(args)
            .map(|arg| (*arg).to_owned())
            .collect()
    };
    let run = |args: &[&str]| {
        let args = with(args);
        store.keyward(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let json = |args: &[&str]| {
        let args = with(args);
        store.json(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let first = json(&["keys", "create", "--tenant", &tenant]);
    let token = text(&first["token"]);
    assert!(token.starts_with("atk_live_") && token.len() == 50, "{token}");
    assert_eq!(first["keyspace"], keyspace.as_str());
    assert_eq!(first["scopes"], serde_json::json!(["events:read"]));
    json(&["keys", "create", "--tenant", &tenant]);
    let third = run(&["keys", "create", "--tenant", &tenant]);
    assert_eq!(third.code, Some(1), "the keyspace's limit of 2: {third:?}");
    assert!(
        third.stderr.contains("maximum of 2 active keys"),
        "{}",
        third.stderr
    );

    // The policy's rotation: two-step, with no flag.
    let rotated = json(&["keys", "rotate", &text(&first["id"]), "--tenant", &tenant]);
    assert_eq!(rotated["previous"]["status"], "active");
    assert_eq!(rotated["previous"]["grace_until"], Value::Null);
    assert_eq!(rotated["previous"]["revoked_at"], Value::Null);

    let shown = json(&["keyspace", "show"]);
    assert_eq!(shown["name"], keyspace.as_str());
    assert_eq!(shown["policy"]["max_active_keys"], 2);
    assert!(
        text(&shown["pattern"]).starts_with(r"\batk_(live|test)_"),
        "{shown}"
    );

    let set = run(&["keyspace", "set", "--max-active-keys", "3"]);
    assert_eq!(set.code, Some(0), "{set:?}");
    assert!(set.stderr.contains("changed: max_active_keys"), "{}", set.stderr);
    assert!(set.stdout.contains("max_active_keys:  3"), "{}", set.stdout);
    json(&["keys", "create", "--tenant", &tenant]);
    let again = run(&["keyspace", "set", "--max-active-keys", "3"]);
    assert!(again.stderr.contains("unchanged"), "{}", again.stderr);

    let listed = store.json(&["keyspace", "list"]);
    let names: Vec<String> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|k| text(&k["name"]))
        .collect();
    assert!(names.contains(&keyspace), "{names:?}");
}

/// A store with several keyspaces: commands name one, or are refused with the names.
#[cfg(feature = "sqlite")]
#[test]
fn several_keyspaces_need_a_name() {
    let store = Store::sqlite();
    declare(&store, "one", |app| app);
    declare(&store, "two", |app| app.max_active_keys(3));
    let run = store.keyward(&["keys", "list", "--tenant", "t"]);
    assert_eq!(run.code, Some(5), "{run:?}");
    assert!(
        run.stderr.contains("several keyspaces (one, two)"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    store.ok(&["--keyspace", "two", "keys", "create", "--tenant", "t"]);
    let env = keyward(
        &["--store", &store.url, "keys", "list", "--tenant", "t", "--json"],
        &[("KEYWARD_KEYSPACE", "two")],
    );
    assert_eq!(env.json().as_array().map(Vec::len), Some(1), "{env:?}");
}

/// A store of an older schema: every command but `migrate` refuses it with exit code 6 and
/// writes nothing; `migrate` brings it up to date.
#[cfg(feature = "sqlite")]
#[test]
fn an_outdated_schema_is_refused_until_migrated() {
    let store = Store::sqlite();
    let path = store.url.trim_start_matches("sqlite://").to_owned();
    let first_only = tempfile::tempdir().expect("a directory");
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/keyward-core/migrations/sqlite");
    std::fs::copy(
        migrations.join("0001_create_keys.sql"),
        first_only.path().join("0001_create_keys.sql"),
    )
    .expect("copied");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let applied = |path: &str| {
        runtime.block_on(async {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.expect("opened");
            let migrator = sqlx::migrate::Migrator::new(first_only.path())
                .await
                .expect("read");
            migrator.run(&pool).await.expect("the first migration applies");
            let versions: Vec<i64> =
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                    .fetch_all(&pool)
                    .await
                    .expect("read");
            pool.close().await;
            versions
        })
    };
    assert_eq!(applied(&path), [1]);
    for args in [
        vec!["keys", "list", "--tenant", "t"],
        vec!["keys", "create", "--tenant", "t"],
        vec!["keyspace", "list"],
    ] {
        let run = store.keyward(&args);
        assert_eq!(run.code, Some(6), "{args:?}: {run:?}");
        assert!(run.stderr.contains("keyward migrate"), "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    assert_eq!(applied(&path), [1], "nothing was migrated");
    store.ok(&["migrate"]);
    store.create("t", &[]);
}

/// `audit`: a tenant's events newest first, one line each, filtered by key, time (since
/// inclusive, until exclusive, RFC 3339 or a duration ago), literal path prefix and limit; the
/// `--json` shape; never another tenant's events, never a token or a hash.
fn audit_filters_and_shapes(store: &Store) {
    const MINUTE: Duration = Duration::from_secs(60);
    let tenant = tenant("audit");
    let other = format!("{tenant}_other");
    let (token_a, id_a) = store.create(&tenant, &["--name", "dashboard"]);
    let (token_b, id_b) = store.create(&tenant, &[]);
    let (token_c, id_c) = store.create(&other, &[]);
    let (a, b, c) = (
        store.key(&tenant, &id_a),
        store.key(&tenant, &id_b),
        store.key(&other, &id_c),
    );
    let ip = Some("203.0.113.7");
    let agent = Some("trcker-sync/2.1");
    let events = [
        event(
            &a,
            ago(3 * 24 * 60 * MINUTE),
            ("req_e1", "GET", "/api/campaigns", 200),
            (ip, agent),
        ),
        event(
            &b,
            ago(120 * MINUTE),
            ("req_e2", "POST", "/api/100%_off", 201),
            (None, None),
        ),
        event(
            &a,
            ago(10 * MINUTE),
            ("req_e3", "GET", "/dashboard", 200),
            (ip, None),
        ),
        event(
            &a,
            ago(5 * MINUTE),
            ("req_e4", "GET", "/api/1000xoff", 404),
            (ip, agent),
        ),
        event(
            &c,
            ago(MINUTE),
            ("req_e5", "GET", "/api/campaigns", 200),
            (ip, agent),
        ),
    ];
    store.append(&events);
    let audit = |extra: &[&str]| {
        let mut args = vec!["audit", "--tenant", tenant.as_str()];
        args.extend_from_slice(extra);
        store.ok(&args)
    };

    let all = audit(&[]);
    assert_eq!(
        request_ids(&all),
        ["req_e4", "req_e3", "req_e2", "req_e1"],
        "{}",
        all.stdout
    );
    let lines: Vec<Vec<&str>> = all
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (e1_at, fingerprint_a) = (events[0].at.to_string(), a.fingerprint().to_string());
    assert_eq!(
        lines[3],
        [
            e1_at.as_str(),
            fingerprint_a.as_str(),
            "GET",
            "/api/campaigns",
            "200",
            "req_e1",
            "203.0.113.7",
            "trcker-sync/2.1",
        ],
        "every column of a line: {}",
        all.stdout
    );
    assert!(lines[3][0].ends_with('Z'), "UTC: {}", lines[3][0]);
    assert_eq!(lines[2][6..], ["-", "-"], "missing values: {}", all.stdout);
    assert_eq!(lines[1][6..], ["203.0.113.7", "-"], "{}", all.stdout);

    let e3_at = events[2].at.to_string();
    let cases: Vec<(&str, Vec<&str>, &[&str])> = vec![
        ("one key", vec!["--key", &id_b], &["req_e2"]),
        ("another tenant's key", vec!["--key", &id_c], &[]),
        (
            "since a duration ago",
            vec!["--since", "1h"],
            &["req_e4", "req_e3"],
        ),
        (
            "since is inclusive",
            vec!["--since", &e3_at],
            &["req_e4", "req_e3"],
        ),
        (
            "until is exclusive",
            vec!["--until", &e3_at],
            &["req_e2", "req_e1"],
        ),
        (
            "a window",
            vec!["--since", "1d", "--until", "7m"],
            &["req_e3", "req_e2"],
        ),
        (
            "a path prefix",
            vec!["--path", "/api/"],
            &["req_e4", "req_e2", "req_e1"],
        ),
        (
            "`%` and `_` are literal",
            vec!["--path", "/api/100%_"],
            &["req_e2"],
        ),
        ("`_` is no wildcard", vec!["--path", "/api/100_"], &[]),
        ("a limit", vec!["--limit", "2"], &["req_e4", "req_e3"]),
        (
            "every filter",
            vec!["--key", &id_a, "--since", "7d", "--path", "/api/", "--limit", "1"],
            &["req_e4"],
        ),
    ];
    for (what, args, expected) in cases {
        let run = audit(&args);
        assert_eq!(request_ids(&run), expected, "{what}: {}", run.stdout);
        if expected.is_empty() {
            assert!(run.stderr.contains("no audit events"), "{what}: {}", run.stderr);
        }
    }

    let json = store.json(&["audit", "--tenant", &tenant, "--limit", "3"]);
    let listed = json.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 3, "{json}");
    let mut expected_fields = EVENT_FIELDS.to_vec();
    expected_fields.sort_unstable();
    for event in listed {
        assert_eq!(field_names(event), expected_fields, "{event}");
    }
    let e2 = &listed[2];
    assert_eq!(e2["request_id"], "req_e2");
    assert_eq!(e2["key_id"], id_b.as_str());
    assert_eq!(e2["tenant"], tenant.as_str());
    assert_eq!(e2["fingerprint"], b.fingerprint().to_string());
    assert_eq!(e2["method"], "POST");
    assert_eq!(e2["path"], "/api/100%_off");
    assert_eq!(e2["status"], 201);
    assert_eq!(e2["client_ip"], Value::Null);
    assert_eq!(e2["user_agent"], Value::Null);
    assert_eq!(e2["at"], events[1].at.to_string().as_str());
    assert_eq!(listed[0]["user_agent"], "trcker-sync/2.1");

    let theirs = store.ok(&["audit", "--tenant", &other]);
    assert_eq!(request_ids(&theirs), ["req_e5"], "{}", theirs.stdout);
    let none = store.json(&["audit", "--tenant", &format!("{tenant}_none")]);
    assert_eq!(none, Value::Array(Vec::new()));

    for (what, output) in [
        ("audit", all.stdout.as_str()),
        ("audit stderr", all.stderr.as_str()),
        ("audit --json", &json.to_string()),
        ("other tenant", theirs.stdout.as_str()),
    ] {
        for token in [&token_a, &token_b, &token_c] {
            assert_no_secret(output, token, what);
        }
    }
}

/// Spends one of the lineage's credits now, as the layer does for a request.
fn spend(store: &Store, lineage: &KeyId) -> Spend {
    store
        .with(async |store| store.spend(lineage, 1, Timestamp::now()).await)
        .expect("the store answers")
}

/// `keys create --credits --refill` and `keys credits set | add | remove`: the credits as `show`,
/// `list` and `usage` print them (text and JSON) while the store spends them, shared with a
/// rotated-in key; a key without credits shows `-` and `null`.
fn credits_are_set_added_and_removed(store: &Store) {
    let tenant = tenant("credits");
    let created = store.json(&[
        "keys",
        "create",
        "--tenant",
        &tenant,
        "--name",
        "metered",
        "--credits",
        "5",
        "--refill",
        "100/1d",
    ]);
    let id = text(&created["id"]);
    assert_eq!(created["credits"]["remaining"], 5, "{created}");
    assert_eq!(
        created["credits"]["refill"],
        json!({"amount": 100, "interval_ms": 86_400_000})
    );
    let next_refill = text(&created["credits"]["next_refill_at"]);
    assert_eq!(
        time(&created["credits"]["next_refill_at"])
            .duration_since(time(&created["created_at"]))
            .ok(),
        Some(Duration::from_secs(86_400)),
        "the first refill a day after creation"
    );
    let (_, plain_id) = store.create(&tenant, &["--name", "plain"]);
    let lineage = store.key(&tenant, &id).lineage;
    for left in [4, 3] {
        assert!(matches!(spend(store, &lineage), Spend::Allowed { remaining, .. } if remaining == left));
    }

    let shown = store.ok(&["keys", "show", &id, "--tenant", &tenant]);
    for line in [
        "credits:        3\n".to_owned(),
        "refill:         100/1day\n".to_owned(),
        format!("next_refill_at: {next_refill}\n"),
    ] {
        assert!(shown.stdout.contains(&line), "`{line}` in {}", shown.stdout);
    }
    let plain = store.ok(&["keys", "show", &plain_id, "--tenant", &tenant]);
    assert!(
        plain
            .stdout
            .contains("credits:        -\nrefill:         -\nnext_refill_at: -\n"),
        "{}",
        plain.stdout
    );

    let columns = |run: &Run| -> Vec<Vec<String>> {
        run.stdout
            .lines()
            .map(|line| line.split_whitespace().map(str::to_owned).collect())
            .collect()
    };
    let table = columns(&store.ok(&["keys", "list", "--tenant", &tenant]));
    assert_eq!(table[0][7], "CREDITS", "{table:?}");
    assert_eq!((table[1][7].as_str(), table[2][7].as_str()), ("3", "-"));
    let listed = store.json(&["keys", "list", "--tenant", &tenant]);
    assert_eq!(listed[0]["credits"]["remaining"], 3);
    assert_eq!(listed[1]["credits"], Value::Null);

    let usage = columns(&store.ok(&["usage", "--tenant", &tenant]));
    assert_eq!(
        usage[1][3..],
        ["never", "0", "3", &next_refill, "metered"],
        "{usage:?}"
    );
    assert_eq!(usage[2][3..], ["never", "0", "-", "-", "plain"], "{usage:?}");
    let usage = store.json(&["usage", "--tenant", &tenant]);
    assert_eq!(usage[0]["credits"]["remaining"], 3);
    assert_eq!(usage[0]["credits"]["next_refill_at"], next_refill.as_str());

    let credits = |args: &[&str]| {
        let mut all = vec!["keys", "credits"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--tenant", &tenant, "--json"]);
        let run = store.ok(&all);
        (run.json()["credits"].clone(), run.stderr)
    };
    let (added, note) = credits(&["add", &id, "10"]);
    assert_eq!(added["remaining"], 13);
    assert_eq!(added["refill"]["amount"], 100, "the refill is kept");
    assert_eq!(note, format!("10 credits added to `{id}`: 13 left\n"));

    let (set, note) = credits(&["set", &id, "2"]);
    assert_eq!(set["remaining"], 2);
    assert_eq!(set["refill"]["amount"], 100, "set keeps the refill");
    assert_eq!(note, format!("credits of `{id}` set to 2 (refill 100/1day)\n"));
    let (set, _) = credits(&["set", &id, "50", "--refill", "50/12h"]);
    assert_eq!(set["refill"], json!({"amount": 50, "interval_ms": 43_200_000}));
    let (set, note) = credits(&["set", &id, "0", "--no-refill"]);
    assert_eq!(
        set,
        json!({"remaining": 0, "refill": null, "next_refill_at": null})
    );
    assert_eq!(note, format!("credits of `{id}` set to 0 (no refill)\n"));
    assert_eq!(
        spend(store, &lineage),
        Spend::Refused {
            remaining: 0,
            next_refill: None
        }
    );

    // A rotated-in key spends from the same credits: set through it, seen on the old one.
    let rotated = store.json(&["keys", "rotate", &id, "--tenant", &tenant, "--two-step"]);
    let successor = text(&rotated["id"]);
    assert_eq!(rotated["credits"]["remaining"], 0, "{rotated}");
    credits(&["set", &successor, "4"]);
    let old = store.json(&["keys", "show", &id, "--tenant", &tenant]);
    assert_eq!(old["credits"]["remaining"], 4, "{old}");

    let (removed, note) = credits(&["remove", &id]);
    assert_eq!(removed, Value::Null);
    assert_eq!(
        note,
        format!("credits of `{id}` removed: its requests are no longer counted\n")
    );
    assert_eq!(spend(store, &lineage), Spend::Unmetered);
    let successor = store.json(&["keys", "show", &successor, "--tenant", &tenant]);
    assert_eq!(successor["credits"], Value::Null, "removed from the lineage");
}

/// `usage`: a row per key of the tenant, its last use (`never`) and request count; `--json` too.
fn usage_shows_counts(store: &Store) {
    let tenant = tenant("usage");
    let (busy_token, busy_id) = store.create(&tenant, &["--name", "Busy box"]);
    let (idle_token, idle_id) = store.create(&tenant, &[]);
    let busy = store.key(&tenant, &busy_id);
    let used_at = ago(Duration::from_secs(90));
    let used_text = used_at.to_string();
    let usage = [KeyUsage {
        key_id: busy.id.clone(),
        last_used_at: used_at,
        requests: 42,
    }];
    store
        .with(async |store| store.record_usage(&usage).await)
        .expect("usage recorded");

    let table = store.ok(&["usage", "--tenant", &tenant]);
    let rows: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "a header and two keys: {}", table.stdout);
    assert_eq!(
        rows[0],
        [
            "ID", "STATUS", "PREFIX", "LAST", "USED", "REQUESTS", "CREDITS", "NEXT", "REFILL", "NAME"
        ]
    );
    assert_eq!(
        rows[1],
        [
            busy_id.as_str(),
            "active",
            busy.display_prefix.as_str(),
            used_text.as_str(),
            "42",
            "-",
            "-",
            "Busy",
            "box",
        ],
        "{}",
        table.stdout
    );
    assert_eq!(rows[2][0], idle_id);
    assert_eq!(rows[2][3..], ["never", "0", "-", "-", "-"], "{}", table.stdout);

    let json = store.json(&["usage", "--tenant", &tenant]);
    let listed = json.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 2);
    let mut expected_fields = USAGE_FIELDS.to_vec();
    expected_fields.sort_unstable();
    for row in listed {
        assert_eq!(field_names(row), expected_fields, "{row}");
    }
    assert_eq!(listed[0]["id"], busy_id.as_str());
    assert_eq!(listed[0]["name"], "Busy box");
    assert_eq!(listed[0]["request_count"], 42);
    assert_eq!(listed[0]["last_used_at"], used_text.as_str());
    assert_eq!(listed[1]["last_used_at"], Value::Null);
    assert_eq!(listed[1]["request_count"], 0);
    assert_eq!(listed[1]["credits"], Value::Null, "not counted");
    for output in [&table.stdout, &json.to_string()] {
        assert_no_secret(output, &busy_token, "usage");
        assert_no_secret(output, &idle_token, "usage");
    }
}

/// `audit prune --older-than`: every tenant's older events go, newer stay, and the count is
/// printed. SQLite only: it deletes across tenants, and the PostgreSQL database is shared.
#[cfg(feature = "sqlite")]
#[test]
fn audit_prune_deletes_older_events() {
    const DAY: Duration = Duration::from_secs(86_400);
    let store = Store::sqlite();
    let (tenant, other) = (tenant("prune"), tenant("prune_other"));
    let (_, id) = store.create(&tenant, &[]);
    let (_, other_id) = store.create(&other, &[]);
    let (key, other_key) = (store.key(&tenant, &id), store.key(&other, &other_id));
    let request = |id| (id, "GET", "/api/x", 200);
    store.append(&[
        event(&key, ago(40 * DAY), request("req_40d"), (None, None)),
        event(&other_key, ago(35 * DAY), request("req_35d"), (None, None)),
        event(&key, ago(10 * DAY), request("req_10d"), (None, None)),
        event(&key, ago(DAY / 24), request("req_1h"), (None, None)),
    ]);

    let pruned = store.ok(&["audit", "prune", "--older-than", "30d"]);
    assert!(
        pruned.stdout.starts_with("deleted 2 audit events from before "),
        "{}",
        pruned.stdout
    );
    let again = store.json(&["audit", "prune", "--older-than", "7d"]);
    assert_eq!(again["deleted"], 1, "{again}");
    let before = time(&again["before"]);
    let week_ago = SystemTime::now() - 7 * DAY;
    assert!(
        before <= week_ago && week_ago.duration_since(before).unwrap_or_default() < Duration::from_secs(60),
        "{again}"
    );
    let once = store.ok(&["audit", "prune", "--older-than", "7d"]);
    assert!(
        once.stdout.starts_with("deleted 0 audit events"),
        "{}",
        once.stdout
    );

    assert_eq!(
        request_ids(&store.ok(&["audit", "--tenant", &tenant])),
        ["req_1h"]
    );
    assert!(request_ids(&store.ok(&["audit", "--tenant", &other])).is_empty());
}

macro_rules! per_backend {
    ($($scenario:ident),* $(,)?) => {
        #[cfg(feature = "sqlite")]
        mod sqlite {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(&super::Store::sqlite());
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(&super::Store::postgres());
                }
            )*
        }
    };
}

per_backend!(
    credits_are_set_added_and_removed,
    create_prints_the_token_once,
    list_and_show_hide_the_secret,
    revoke_marks_the_key_revoked,
    rotate_two_step,
    rotate_immediate,
    rotate_with_grace,
    migrate_reports_success,
    json_everywhere_and_no_token_in_logs,
    bad_input_is_one_error_line,
    keys_follow_the_stored_keyspace,
    audit_filters_and_shapes,
    usage_shows_counts,
);

/// An unreachable PostgreSQL server: exit code 4 and one line naming the store, password hidden.
#[cfg(feature = "postgres")]
#[test]
fn unreachable_postgres_is_store_unavailable() {
    let run = keyward(
        &[
            "--store",
            "postgres://keyward:hunter2@127.0.0.1:1/keyward",
            "keys",
            "list",
            "--tenant",
            "t",
        ],
        &[],
    );
    assert_eq!(run.code, Some(4), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(
            "error: cannot open the key store `postgres://keyward:***@127.0.0.1:1/keyward`: key store unavailable"
        ),
        "{run:?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

/// `patterns` prints one regular expression per line, and `grep -E` finds minted tokens with it
/// (live and test, secret and publishable) and nothing that is not a token.
#[test]
fn patterns_find_minted_tokens_with_grep() {
    let store = Store::memory();
    let patterns = store.ok(&["patterns"]);
    let lines: Vec<&str> = patterns.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one token format: {}", patterns.stdout);
    let pattern = lines[0];

    let json = store.json(&["patterns"]);
    assert_eq!(json[0]["pattern"], pattern);
    assert_eq!(json[0]["namespace"], "kw");

    let tenant = tenant("patterns");
    let mut tokens = Vec::new();
    for extra in [
        &["--env", "live"][..],
        &["--env", "test", "--kind", "publishable"][..],
    ] {
        let mut args = vec!["keys", "create", "--tenant", tenant.as_str()];
        args.extend_from_slice(extra);
        tokens.push(store.ok(&args).stdout.trim_end().to_owned());
    }
    let truncated = &tokens[0][..tokens[0].len() - 1];
    let haystack = format!(
        "config:\n  api_key = \"{}\"\n  fallback: {}\nnot a token: kw_live_short_abc\nalmost: {truncated}\n",
        tokens[0], tokens[1]
    );
    let found = grep(pattern, &haystack);
    assert_eq!(found, tokens, "grep finds exactly the tokens");
}

/// `grep -Eo PATTERN` over `input`: the matches.
fn grep(pattern: &str, input: &str) -> Vec<String> {
    use std::io::Write;
    use std::process::Stdio;

    let mut child = Command::new("grep")
        .args(["-Eo", "-e", pattern])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("`grep` is installed: the patterns are meant for it");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("grep reads its input");
    let output = child.wait_with_output().expect("grep finishes");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}
