//! The operator's workflow, end to end: a seed example runs as its own process on a store, and the
//! `keyward` CLI, a second process on the same store, creates, rotates and revokes its keys with
//! no flag repeating the example's rules. The tokens are in the example's format, the limits and
//! the rotation rule are the example's, and a revocation or rotation made by the CLI is enforced
//! by the running server within one second. Over a SQLite file and over PostgreSQL.
#![cfg(all(feature = "sqlite", feature = "postgres"))]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Client, ExampleProcess, keyward, postgres_schema, send};

/// How soon a change made by the CLI must be enforced by the running server.
const WITHIN: Duration = Duration::from_secs(1);

/// What the old key does once the CLI rotated it, by the example's rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OldKey {
    /// It keeps working (a grace period, or a two-step replacement).
    Works,
    /// It stops at once.
    Stops,
}

/// One seed example and what the operator workflow expects of it.
struct Seed {
    example: &'static str,
    keyspace: &'static str,
    /// A tenant the example did not mint a demo key for.
    tenant: &'static str,
    /// A route a key created with the keyspace's defaults may call.
    path: &'static str,
    token_prefix: &'static str,
    token_len: usize,
    old_key: OldKey,
    /// The keyspace's limit of active keys per tenant, when it has one small enough to reach.
    limit: Option<u32>,
}

const SEEDS: [Seed; 5] = [
    Seed {
        example: "adtarget",
        keyspace: "adtarget",
        tenant: "site_cli",
        path: "/v1/events",
        token_prefix: "atk_live_",
        token_len: 50,
        old_key: OldKey::Works,
        limit: Some(5),
    },
    Seed {
        example: "atribu",
        keyspace: "atribu",
        tenant: "profile_cli",
        path: "/v1/conversions",
        token_prefix: "atb_live_",
        token_len: 50,
        old_key: OldKey::Works,
        limit: None,
    },
    Seed {
        example: "toksta",
        keyspace: "toksta",
        tenant: "account_cli",
        path: "/v1/account/usage",
        token_prefix: "tk_live_",
        token_len: 56,
        old_key: OldKey::Stops,
        limit: None,
    },
    Seed {
        example: "tolinku",
        keyspace: "tolinku",
        tenant: "appspace_cli",
        path: "/v1/api/analytics/overview",
        token_prefix: "tolk_sec_",
        token_len: 41,
        old_key: OldKey::Works,
        limit: None,
    },
    Seed {
        example: "trcker",
        keyspace: "trcker",
        tenant: "brand_cli",
        path: "/api/public/conversions",
        token_prefix: "tk_",
        token_len: 43,
        old_key: OldKey::Works,
        limit: Some(1),
    },
];

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

async fn status(client: &Client, path: &str, token: &str) -> u16 {
    send(client.get(path).bearer_auth(token)).await.status
}

/// Polls until `token` gets `expected`, and returns how long that took; fails after [`WITHIN`]
/// and a margin for the poll itself.
async fn until_status(client: &Client, path: &str, token: &str, expected: u16) -> Duration {
    let start = Instant::now();
    loop {
        if status(client, path, token).await == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < WITHIN + Duration::from_millis(500),
            "{path}: still not {expected} after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The whole workflow for one seed on `store`, with `env` for the CLI (a keyspace to name).
async fn workflow(seed: &Seed, store: &str, cli_env: &[(&str, &str)]) {
    let name = seed.example;
    let server = ExampleProcess::start(name, &[("KEYWARD_STORE", store)]);
    let client = Client::new(server.address);

    // Created by the CLI with no flag but the tenant: the example's format and defaults.
    let (code, created, stderr) = keyward(store, cli_env, &["keys", "create", "--tenant", seed.tenant]).await;
    assert_eq!(code, 0, "{name}: create: {stderr}");
    let first = text(&created["token"]);
    assert!(
        first.starts_with(seed.token_prefix) && first.len() == seed.token_len,
        "{name}: {first} is not in the example's format"
    );
    assert_eq!(created["keyspace"], seed.keyspace, "{name}");
    assert_eq!(
        status(&client, seed.path, &first).await,
        200,
        "{name}: the CLI's key works"
    );

    if let Some(limit) = seed.limit {
        for _ in 1..limit {
            let (code, _, stderr) =
                keyward(store, cli_env, &["keys", "create", "--tenant", seed.tenant]).await;
            assert_eq!(code, 0, "{name}: {stderr}");
        }
        let (code, _, stderr) = keyward(store, cli_env, &["keys", "create", "--tenant", seed.tenant]).await;
        assert_eq!(code, 1, "{name}: the example's limit of {limit}: {stderr}");
        assert!(
            stderr.contains(&format!("maximum of {limit} active keys")),
            "{name}: {stderr}"
        );
    }

    // Rotated by the CLI by the example's rule, with the server holding the old key in its cache.
    let first_id = text(&created["id"]);
    let (code, rotated, stderr) = keyward(
        store,
        cli_env,
        &["keys", "rotate", &first_id, "--tenant", seed.tenant],
    )
    .await;
    assert_eq!(code, 0, "{name}: rotate: {stderr}");
    let second = text(&rotated["token"]);
    assert_eq!(
        status(&client, seed.path, &second).await,
        200,
        "{name}: the successor works"
    );
    match seed.old_key {
        OldKey::Works => {
            assert_eq!(rotated["previous"]["status"], "active", "{name}");
            assert_eq!(
                status(&client, seed.path, &first).await,
                200,
                "{name}: the old key still works"
            );
        }
        OldKey::Stops => {
            assert_eq!(rotated["previous"]["status"], "revoked", "{name}");
            let took = until_status(&client, seed.path, &first, 401).await;
            assert!(took < WITHIN, "{name}: the rotated-out key took {took:?}");
        }
    }

    // Revoked by the CLI: the running server refuses it within a second.
    let second_id = text(&rotated["id"]);
    let (code, _, stderr) = keyward(
        store,
        cli_env,
        &["keys", "revoke", &second_id, "--tenant", seed.tenant],
    )
    .await;
    assert_eq!(code, 0, "{name}: revoke: {stderr}");
    let took = until_status(&client, seed.path, &second, 401).await;
    assert!(took < WITHIN, "{name}: the revocation took {took:?}");
    eprintln!(
        "{name} on {}: revocation enforced by the server {took:?} after the CLI exited",
        scheme(store)
    );
}

fn scheme(store: &str) -> &str {
    store.split_once(':').map_or(store, |(scheme, _)| scheme)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_beside_the_cli_on_a_sqlite_file() {
    for seed in &SEEDS {
        let dir = tempfile::tempdir().expect("a directory");
        let store = format!("sqlite://{}", dir.path().join("keys.db").display());
        // One keyspace in the file: the CLI needs no --keyspace.
        workflow(seed, &store, &[]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_beside_the_cli_on_postgres() {
    let store = postgres_schema("operator").await;
    // Every example declares its keyspace in the one database: the CLI names it.
    for seed in &SEEDS {
        workflow(seed, &store, &[("KEYWARD_KEYSPACE", seed.keyspace)]).await;
    }
}

/// Trcker's delivery log, read with `keyward audit` beside the running server: the API entries
/// of a brand's key, with its fingerprint, the client's address and user agent, never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_from_the_cli() {
    let dir = tempfile::tempdir().expect("a directory");
    let store = format!("sqlite://{}", dir.path().join("keys.db").display());
    let server = ExampleProcess::start("trcker", &[("KEYWARD_STORE", store.as_str())]);
    let client = Client::new(server.address);
    let (code, created, stderr) = keyward(&store, &[], &["keys", "create", "--tenant", "brand_log"]).await;
    assert_eq!(code, 0, "{stderr}");
    let token = text(&created["token"]);
    let reply = send(
        client
            .get("/api/public/conversions")
            .bearer_auth(&token)
            .header("user-agent", "trcker-sync/2.1"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let request_id = reply.header("x-request-id").to_owned();

    // The server writes its audit records in batches, about once a second.
    let start = Instant::now();
    let entries = loop {
        let (code, log, stderr) = keyward(
            &store,
            &[],
            &["audit", "--tenant", "brand_log", "--path", "/api/"],
        )
        .await;
        assert_eq!(code, 0, "{stderr}");
        let entries = log.as_array().cloned().unwrap_or_default();
        if !entries.is_empty() || start.elapsed() > Duration::from_secs(10) {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["request_id"], request_id.as_str());
    assert_eq!(entry["path"], "/api/public/conversions");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["client_ip"], "127.0.0.1");
    assert_eq!(entry["user_agent"], "trcker-sync/2.1");
    assert!(text(&entry["fingerprint"]).starts_with("fp_"), "{entry}");
    assert!(!entry.to_string().contains(&token), "no token in the log");
}
