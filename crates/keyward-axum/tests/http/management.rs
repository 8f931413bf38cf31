//! The key-management router, nested at `/v1/keys` behind `ApiKeyLayer`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use futures_util::future::BoxFuture;
use keyward_axum::management::{self, ManagementApi};
use keyward_core::audit::{AuditEvent, AuditQuery, KeyUsage};
use keyward_core::credits::{Credits, CreditsUpdate, Spend};
use keyward_core::store::{ChangeFeed, KeyspaceWrite, OldKey};
use keyward_core::time::{ManualClock, Timestamp};
use keyward_core::{
    ApiKey, Environment, KeyId, KeyKind, KeyManager, KeyStore, LookupKey, MemoryStore, NewKey, StoreError,
    TenantId, Tier,
};
use keyward_core::{Drift, Keyspace, KeyspaceName, Refill, Rotation};
use keyward_tower::ApiKeyLayer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Answer, Server, key, key_with, scopes_of, serve};

const START: Timestamp = Timestamp::from_millis(1_795_452_522_000);
const ADMIN_SCOPES: &str = "keys:read keys:write analytics:read";

/// A store that can be switched off, to see an outage answered.
#[derive(Debug, Default)]
struct Switchable {
    store: MemoryStore,
    down: AtomicBool,
}

impl Switchable {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("the test switched the store off"))
        } else {
            Ok(())
        }
    }
}

impl KeyStore for Switchable {
    fn insert<'a>(
        &'a self,
        key: &'a ApiKey,
        max: Option<u32>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.insert(key, max, now).await
        })
    }

    fn find<'a>(&'a self, lookup: &'a LookupKey) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.find(lookup).await
        })
    }

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.get(tenant, id).await
        })
    }

    fn list<'a>(&'a self, tenant: &'a TenantId) -> BoxFuture<'a, Result<Vec<ApiKey>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.list(tenant).await
        })
    }

    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.revoke(tenant, id, at).await
        })
    }

    fn rotate<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        successor: &'a ApiKey,
        old: OldKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.rotate(tenant, id, successor, old, now).await
        })
    }

    fn record_usage<'a>(&'a self, usage: &'a [KeyUsage]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.record_usage(usage).await
        })
    }

    fn append_audit<'a>(&'a self, events: &'a [AuditEvent]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.append_audit(events).await
        })
    }

    fn audit_log<'a>(&'a self, query: &'a AuditQuery) -> BoxFuture<'a, Result<Vec<AuditEvent>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.audit_log(query).await
        })
    }

    fn prune_audit<'a>(&'a self, before: Timestamp) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.prune_audit(before).await
        })
    }

    fn keyspace<'a>(&'a self, name: &'a KeyspaceName) -> BoxFuture<'a, Result<Option<Keyspace>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.keyspace(name).await
        })
    }

    fn keyspaces(&self) -> BoxFuture<'_, Result<Vec<Keyspace>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.keyspaces().await
        })
    }

    fn save_keyspace<'a>(
        &'a self,
        keyspace: &'a Keyspace,
        write: KeyspaceWrite,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.save_keyspace(keyspace, write, now).await
        })
    }

    fn spend<'a>(
        &'a self,
        lineage: &'a KeyId,
        cost: u64,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Spend, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.spend(lineage, cost, now).await
        })
    }

    fn update_credits<'a>(
        &'a self,
        lineage: &'a KeyId,
        update: CreditsUpdate,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Credits>, StoreError>> {
        Box::pin(async move {
            self.check()?;
            self.store.update_credits(lineage, update, now).await
        })
    }

    fn changes(&self) -> &ChangeFeed {
        self.store.changes()
    }
}

struct App {
    server: Server,
    manager: KeyManager,
    layer: ApiKeyLayer,
    store: Arc<Switchable>,
    /// A `keys:read keys:write analytics:read` key of `site_1`.
    admin: String,
}

async fn app() -> App {
    app_with(ManagementApi::new).await
}

async fn app_with(api: impl FnOnce(KeyManager) -> ManagementApi) -> App {
    let store = Arc::new(Switchable::default());
    let manager = KeyManager::builder_shared(store.clone())
        .clock(ManualClock::new(START))
        .default_scopes(scopes_of("analytics:read"))
        .max_active_keys(5)
        .declare(Drift::Refuse)
        .await
        .expect("a valid manager");
    let layer = ApiKeyLayer::builder(manager.clone())
        .allow_publishable("/v1/keys")
        .build()
        .expect("a valid layer");
    let app = Router::new()
        .nest("/v1/keys", api(manager.clone()).router())
        .layer(layer.clone());
    let admin = key(&manager, "site_1", ADMIN_SCOPES).await;
    App {
        server: serve(app).await,
        manager,
        layer,
        store,
        admin,
    }
}

impl App {
    async fn delete(&self, path: &str, token: &str) -> Answer {
        Answer::of(self.server.request(Method::DELETE, path, Some(token))).await
    }

    /// Creates a key through the API; returns the answer's body.
    async fn create(&self, body: Value) -> Value {
        let answer = self.server.post("/v1/keys", &self.admin, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()
    }

    /// The id of the admin key.
    async fn admin_id(&self) -> String {
        self.manager
            .verify(&self.admin)
            .await
            .expect("the admin key")
            .id
            .to_string()
    }

    /// Every secret a response must not contain: each token given and each key's stored hash.
    async fn assert_no_secrets(&self, text: &str, tokens: &[&str]) {
        for token in tokens {
            assert!(!text.contains(token), "a token leaked: {text}");
        }
        let tenant = TenantId::new("site_1").expect("a valid tenant");
        for stored in self.manager.list(&tenant).await.expect("the keys") {
            assert!(
                !text.contains(&stored.secret_hash.to_hex()),
                "a hash leaked: {text}"
            );
        }
    }
}

fn id_of(body: &Value) -> String {
    body["key"]["id"].as_str().expect("a key id").to_owned()
}

#[tokio::test]
async fn create_shows_the_token_once_with_no_store() {
    let app = app().await;
    let body = json!({"name": "Production backend", "scopes": ["analytics:read"], "expires_in": "90d"});
    let answer = app.server.post("/v1/keys", &app.admin, body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let created = answer.json();
    let token = created["token"].as_str().expect("the token").to_owned();
    let view = &created["key"];
    assert!(token.starts_with(view["display_prefix"].as_str().expect("a display prefix")));
    assert_eq!(view["name"], "Production backend");
    assert_eq!(view["scopes"], json!(["analytics:read"]));
    assert_eq!(view["kind"], "secret");
    assert_eq!(view["environment"], "live");
    assert_eq!(view["tier"], "default");
    assert_eq!(view["status"], "active");
    assert_eq!(view["created_at"], START.to_string());
    assert_eq!(
        view["expires_at"],
        START.plus(Duration::from_secs(90 * 86_400)).to_string()
    );
    assert_eq!(view["lineage"], view["id"]);
    assert_eq!(view["request_count"], 0);
    for absent in [
        "revoked_at",
        "last_used_at",
        "rotated_from",
        "grace_until",
        "credits",
    ] {
        assert!(view[absent].is_null(), "{absent} is null");
    }
    let fields: Vec<&str> = view
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "name",
        "display_prefix",
        "kind",
        "environment",
        "scopes",
        "tier",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "request_count",
        "status",
        "lineage",
        "rotated_from",
        "grace_until",
        "credits",
    ];
    expected.sort_unstable();
    let mut fields = fields;
    fields.sort_unstable();
    assert_eq!(fields, expected, "the key view's fields");

    let verified = app.manager.verify(&token).await.expect("the shown token works");
    assert_eq!(verified.id.as_str(), view["id"]);
    assert_eq!(
        verified.tenant.as_str(),
        "site_1",
        "created for the caller's tenant"
    );

    let shown = app
        .server
        .get(&format!("/v1/keys/{}", id_of(&created)), &app.admin)
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(
        &shown.json(),
        view,
        "show answers the same view, without the token"
    );
    assert_eq!(shown.header("cache-control"), None);

    let listed = app.server.get("/v1/keys", &app.admin).await;
    assert_eq!(listed.status, StatusCode::OK);
    let data = listed.json()["data"].as_array().cloned().expect("a list");
    assert_eq!(data.len(), 2, "the admin key and the new one");
    assert!(data.iter().any(|k| k["id"] == view["id"]));

    for text in [&shown.text, &listed.text] {
        app.assert_no_secrets(text, &[&token, &app.admin]).await;
    }
}

#[tokio::test]
async fn another_tenants_ids_are_not_found_like_unknown_ones() {
    let app = app().await;
    let other_admin = key(&app.manager, "site_2", ADMIN_SCOPES).await;
    let other = app
        .server
        .post("/v1/keys", &other_admin, json!({"name": "theirs"}))
        .await
        .json();
    let other_id = id_of(&other);

    let mut bodies = Vec::new();
    for id in [other_id.as_str(), "key_AAAAAAAAAAAAAAAAAAAA", "not-a-key-id"] {
        let answers = [
            app.server.get(&format!("/v1/keys/{id}"), &app.admin).await,
            app.server
                .post(&format!("/v1/keys/{id}/revoke"), &app.admin, json!({}))
                .await,
            app.server
                .post(&format!("/v1/keys/{id}/rotate"), &app.admin, json!({}))
                .await,
            app.delete(&format!("/v1/keys/{id}"), &app.admin).await,
        ];
        for answer in answers {
            let mut error = answer.assert_error(StatusCode::NOT_FOUND, "not_found");
            error["request_id"] = Value::Null;
            bodies.push(error);
        }
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "one answer for all: {bodies:?}"
    );

    let listed = app.server.get("/v1/keys", &app.admin).await;
    assert!(!listed.text.contains(&other_id), "lists only the caller's tenant");
    let theirs = app
        .manager
        .verify(other["token"].as_str().expect("a token"))
        .await;
    assert!(theirs.is_ok(), "the other tenant's key is untouched");
}

#[tokio::test]
async fn revoke_stops_a_key_at_once() {
    let app = app().await;
    let first = app
        .create(json!({"name": "first", "scopes": ["keys:read"]}))
        .await;
    let second = app.create(json!({"name": "second"})).await;
    let first_token = first["token"].as_str().expect("a token");
    assert_eq!(
        app.server.get("/v1/keys", first_token).await.status,
        StatusCode::OK
    );

    let answer = app
        .server
        .post(
            &format!("/v1/keys/{}/revoke", id_of(&first)),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let view = answer.json();
    assert_eq!(view["status"], "revoked");
    assert_eq!(view["revoked_at"], START.to_string());
    app.server
        .get("/v1/keys", first_token)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    let answer = app
        .delete(&format!("/v1/keys/{}", id_of(&second)), &app.admin)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["status"], "revoked");
    app.assert_no_secrets(&answer.text, &[first_token, &app.admin])
        .await;
}

#[tokio::test]
async fn rotate_shows_the_successor_once_and_applies_the_grace() {
    let app = app().await;
    let old = app.create(json!({"name": "backend"})).await;
    let old_id = id_of(&old);
    let old_token = old["token"].as_str().expect("a token");

    let answer = app
        .server
        .post(
            &format!("/v1/keys/{old_id}/rotate"),
            &app.admin,
            json!({"grace": "2h"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let new = answer.json();
    assert_eq!(new["key"]["rotated_from"], old_id.as_str());
    assert_eq!(new["key"]["lineage"], old_id.as_str());
    assert_eq!(new["key"]["name"], "backend");
    let new_token = new["token"].as_str().expect("the successor's token");
    assert!(app.manager.verify(new_token).await.is_ok());
    assert!(
        app.manager.verify(old_token).await.is_ok(),
        "the old key works during the grace"
    );

    let shown = app
        .server
        .get(&format!("/v1/keys/{old_id}"), &app.admin)
        .await
        .json();
    assert_eq!(
        shown["grace_until"],
        START.plus(Duration::from_secs(2 * 3600)).to_string()
    );

    let again = app
        .server
        .post(&format!("/v1/keys/{old_id}/rotate"), &app.admin, json!({}))
        .await;
    again.assert_error(StatusCode::CONFLICT, "rotation_pending");

    // Without a body: the manager's policy (48 hours by default).
    let other = app.create(json!({"name": "other"})).await;
    let answer = Answer::of(app.server.request(
        Method::POST,
        &format!("/v1/keys/{}/rotate", id_of(&other)),
        Some(&app.admin),
    ))
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let shown = app
        .server
        .get(&format!("/v1/keys/{}", id_of(&other)), &app.admin)
        .await
        .json();
    assert_eq!(
        shown["grace_until"],
        START.plus(Duration::from_secs(48 * 3600)).to_string()
    );
}

#[tokio::test]
async fn rotate_immediate_and_two_step() {
    let app = app().await;
    let immediate = app.create(json!({"name": "immediate"})).await;
    let answer = app
        .server
        .post(
            &format!("/v1/keys/{}/rotate", id_of(&immediate)),
            &app.admin,
            json!({"grace": "immediate"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let old = app
        .server
        .get(&format!("/v1/keys/{}", id_of(&immediate)), &app.admin)
        .await
        .json();
    assert_eq!(old["status"], "revoked");

    let revoked_again = app
        .server
        .post(
            &format!("/v1/keys/{}/rotate", id_of(&immediate)),
            &app.admin,
            json!({}),
        )
        .await;
    revoked_again.assert_error(StatusCode::CONFLICT, "key_not_active");

    let two_step = app.create(json!({"name": "two step"})).await;
    let answer = app
        .server
        .post(
            &format!("/v1/keys/{}/rotate", id_of(&two_step)),
            &app.admin,
            json!({"grace": "two_step"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let old = app
        .server
        .get(&format!("/v1/keys/{}", id_of(&two_step)), &app.admin)
        .await
        .json();
    assert_eq!(
        (old["status"].as_str(), old["grace_until"].is_null()),
        (Some("active"), true)
    );
}

#[tokio::test]
async fn usage_and_audit() {
    let app = app().await;
    for _ in 0..3 {
        assert_eq!(
            app.server.get("/v1/keys", &app.admin).await.status,
            StatusCode::OK
        );
    }
    app.layer.audit().expect("recording is on").flush().await;

    let usage = app.server.get("/v1/keys/usage", &app.admin).await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    let usage = usage.json();
    let admin = &usage["data"][0];
    assert_eq!(admin["request_count"], 3, "{usage}");
    assert_eq!(admin["last_used_at"], START.to_string());
    assert_eq!(admin["status"], "active");
    assert_eq!(usage["total_requests"], 3);

    app.layer.audit().expect("recording is on").flush().await;
    let audit = app.server.get("/v1/keys/audit?limit=2", &app.admin).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let events = audit.json()["data"].as_array().cloned().expect("a list");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["path"], "/v1/keys/usage", "newest first");
    assert_eq!(events[1]["path"], "/v1/keys");
    assert_eq!(events[0]["method"], "GET");
    assert_eq!(events[0]["status"], 200);
    assert_eq!(events[0]["tenant"], "site_1");
    assert!(
        events[0]["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("req_"))
    );
    app.assert_no_secrets(&audit.text, &[&app.admin]).await;

    let bad = app.server.get("/v1/keys/audit?limit=0", &app.admin).await;
    let error = bad.assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    assert_eq!(error["param"], "limit");

    // Filters: by key, by path prefix, by time (all events are at the test clock's START).
    let other = key(&app.manager, "site_1", "keys:read").await;
    assert_eq!(
        app.server.get("/v1/keys/usage", &other).await.status,
        StatusCode::OK
    );
    app.layer.audit().expect("recording is on").flush().await;
    let count = |query: String| {
        let server = &app.server;
        let admin = app.admin.clone();
        async move {
            let answer = server.get(&format!("/v1/keys/audit?{query}"), &admin).await;
            assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.text);
            answer.json()["data"].as_array().map_or(0, Vec::len)
        }
    };
    // The other key made one request; the admin's own audit reads may be flushed at any time.
    let other_id = app.manager.verify(&other).await.expect("valid").id.to_string();
    assert_eq!(
        count(format!("key={other_id}")).await,
        1,
        "the other key's request"
    );
    assert_eq!(
        count("path=/v1/keys/usage".to_owned()).await,
        2,
        "one by the admin, one by the other"
    );
    assert_eq!(
        count(format!("key={other_id}&since={START}")).await,
        1,
        "since is inclusive"
    );
    assert_eq!(
        count(format!("key={other_id}&until={START}")).await,
        0,
        "until is exclusive"
    );
    let bad = app.server.get("/v1/keys/audit?since=yesterday", &app.admin).await;
    let error = bad.assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    assert_eq!(error["param"], "since");
}

#[tokio::test]
async fn the_keys_scopes_are_required() {
    let app = app().await;
    let reader = key(&app.manager, "site_1", "keys:read").await;
    let nothing = key(&app.manager, "site_1", "analytics:read").await;

    assert_eq!(app.server.get("/v1/keys", &reader).await.status, StatusCode::OK);
    let answer = app.server.post("/v1/keys", &reader, json!({"name": "x"})).await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(
        error["message"],
        "API key is missing the required scope: keys:write"
    );
    for path in ["/v1/keys", "/v1/keys/usage", "/v1/keys/audit"] {
        let answer = app.server.get(path, &nothing).await;
        let error = answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
        assert_eq!(
            error["message"], "API key is missing the required scope: keys:read",
            "{path}"
        );
    }

    let publishable = NewKey::new(TenantId::new("site_1").expect("a valid tenant"))
        .kind(KeyKind::Publishable)
        .scopes(scopes_of(ADMIN_SCOPES));
    let publishable = key_with(&app.manager, publishable).await;
    let answer = app.server.get("/v1/keys", &publishable).await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("secret API key"))
    );
}

/// A credited key's view and usage show its credits as they stand; it may read and rotate, but not
/// create keys that would not be counted.
#[tokio::test]
async fn credits_in_the_key_view_and_usage() {
    let app = app().await;
    let site = TenantId::new("site_1").expect("a valid tenant");
    let daily = Refill::new(100, Duration::from_secs(86_400)).expect("a refill");
    let created = app
        .manager
        .create(
            NewKey::new(site.clone())
                .scopes(scopes_of(ADMIN_SCOPES))
                .credits(10, Some(daily)),
        )
        .await
        .expect("create");
    let token = created.token.expose();
    let expected = json!({
        "remaining": 9,
        "refill": {"amount": 100, "interval_ms": 86_400_000},
        "next_refill_at": START.plus(Duration::from_secs(86_400)).to_string(),
    });

    let shown = app
        .server
        .get(&format!("/v1/keys/{}", created.key.id), token)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert_eq!(shown.header("x-credits-remaining"), Some("9"));
    assert_eq!(shown.json()["credits"], expected, "after this request's spend");

    let usage = app.server.get("/v1/keys/usage", &app.admin).await.json();
    let row = |id: &str| {
        usage["data"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["id"] == id))
            .cloned()
            .expect("the key's row")
    };
    assert_eq!(row(created.key.id.as_str())["credits"], expected);
    assert!(row(&app.admin_id().await)["credits"].is_null());

    let answer = app
        .server
        .post("/v1/keys", token, json!({"name": "escape"}))
        .await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(error["param"], "credits");
    let rotated = app
        .server
        .post(&format!("/v1/keys/{}/rotate", created.key.id), token, json!({}))
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED, "{}", rotated.text);
    assert_eq!(
        rotated.json()["key"]["credits"]["remaining"],
        8,
        "the lineage's, shared"
    );
}

#[tokio::test]
async fn invalid_input_is_a_400_naming_the_field() {
    let app = app().await;
    let raw = |body: &'static str, content_type: &'static str| {
        Answer::of(
            app.server
                .request(Method::POST, "/v1/keys", Some(&app.admin))
                .header("content-type", content_type)
                .body(body),
        )
    };
    let malformed = raw("{\"name\": ", "application/json").await;
    let error = malformed.assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid JSON"))
    );

    let not_an_object = raw("[1, 2]", "application/json").await;
    not_an_object.assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");

    let form = raw("name=x", "application/x-www-form-urlencoded").await;
    form.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    let cases = [
        (json!({"scopes": ["analytics:read"]}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "tab\there"}), "name"),
        (json!({"name": "a", "scopes": ["Analytics Read"]}), "scopes"),
        (json!({"name": "a", "kind": "admin"}), "kind"),
        (json!({"name": "a", "environment": "staging"}), "environment"),
        (json!({"name": "a", "expires_in": "someday"}), "expires_in"),
        (json!({"name": "a", "owner": "me"}), "owner"),
    ];
    for (body, field) in cases {
        let answer = app.server.post("/v1/keys", &app.admin, body.clone()).await;
        let error = answer.assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
        assert_eq!(error["param"], field, "{body}");
    }

    let created = app.create(json!({"name": "a"})).await;
    let answer = app
        .server
        .post(
            &format!("/v1/keys/{}/rotate", id_of(&created)),
            &app.admin,
            json!({"grace": "soon"}),
        )
        .await;
    let error = answer.assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    assert_eq!(error["param"], "grace");

    let tenant = TenantId::new("site_1").expect("a valid tenant");
    assert_eq!(
        app.manager.list(&tenant).await.expect("the keys").len(),
        2,
        "nothing else was created"
    );
}

#[tokio::test]
async fn a_key_cannot_hand_out_more_than_it_has() {
    let app = app().await;
    let answer = app
        .server
        .post(
            "/v1/keys",
            &app.admin,
            json!({"name": "pii", "scopes": ["customers:read"]}),
        )
        .await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert_eq!(error["param"], "scopes");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("customers:read"))
    );

    let defaults = app.create(json!({"name": "defaults"})).await;
    assert_eq!(
        defaults["key"]["scopes"],
        json!(["analytics:read"]),
        "the manager's default scopes"
    );

    let answer = app
        .server
        .post("/v1/keys", &app.admin, json!({"name": "pro", "tier": "pro"}))
        .await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(error["param"], "tier");

    let broader =
        NewKey::new(TenantId::new("site_1").expect("a valid tenant")).scopes(scopes_of("customers:read"));
    let broader = app
        .manager
        .create(broader)
        .await
        .expect("created by the operator");
    let answer = app
        .server
        .post(
            &format!("/v1/keys/{}/rotate", broader.key.id),
            &app.admin,
            json!({}),
        )
        .await;
    answer.assert_error(StatusCode::FORBIDDEN, "insufficient_scope");
    assert!(
        app.manager.verify(broader.token.expose()).await.is_ok(),
        "not rotated"
    );

    let test_admin = NewKey::new(TenantId::new("site_1").expect("a valid tenant"))
        .environment(Environment::Test)
        .scopes(scopes_of(ADMIN_SCOPES));
    let test_admin = key_with(&app.manager, test_admin).await;
    let answer = app
        .server
        .post(
            "/v1/keys",
            &test_admin,
            json!({"name": "live", "environment": "live"}),
        )
        .await;
    let error = answer.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(error["param"], "environment");
    let answer = app
        .server
        .post("/v1/keys", &test_admin, json!({"name": "sandbox"}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(
        answer.json()["key"]["environment"],
        "test",
        "the caller's environment by default"
    );
}

#[tokio::test]
async fn assignable_tiers_and_publishable_keys() {
    let app = app_with(|manager| {
        ManagementApi::new(manager).assignable_tier(Tier::new("pro").expect("a valid tier"))
    })
    .await;
    let created = app
        .create(json!({"name": "pro", "tier": "pro", "kind": "publishable"}))
        .await;
    assert_eq!(created["key"]["tier"], "pro");
    assert_eq!(created["key"]["kind"], "publishable");
    let answer = app
        .server
        .post("/v1/keys", &app.admin, json!({"name": "gold", "tier": "gold"}))
        .await;
    answer.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

/// The API applies the keyspace's policy as the store keeps it: a change written by another
/// process (the CLI's `keyspace set`) rules the next call.
#[tokio::test]
async fn the_stored_policy_rules_the_api() {
    let app = app().await;
    let rotated = app.create(json!({"name": "to rotate"})).await;
    let mut keyspace = app
        .store
        .keyspace(app.manager.keyspace())
        .await
        .expect("readable")
        .expect("declared");
    keyspace.policy.max_active_keys = Some(3);
    keyspace.policy.allowed_scopes = Some(scopes_of("analytics:* keys:*"));
    keyspace.policy.rotation = Rotation::TwoStep;
    keyspace.policy.rotation_locked = true;
    app.store
        .save_keyspace(&keyspace, KeyspaceWrite::Replace, START)
        .await
        .expect("written");

    let answer = app
        .server
        .post(
            &format!("/v1/keys/{}/rotate", id_of(&rotated)),
            &app.admin,
            json!({"grace": "immediate"}),
        )
        .await;
    let error = answer.assert_error(StatusCode::BAD_REQUEST, "invalid_parameter");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("only by two-step")),
        "{error}"
    );
    let answer = app
        .server
        .post(
            &format!("/v1/keys/{}/rotate", id_of(&rotated)),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(
        answer.status,
        StatusCode::CREATED,
        "the policy's rotation: {}",
        answer.text
    );

    app.create(json!({"name": "third"})).await;
    let answer = app
        .server
        .post("/v1/keys", &app.admin, json!({"name": "fourth"}))
        .await;
    let error = answer.assert_error(StatusCode::CONFLICT, "limit_reached");
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains('3')),
        "{error}"
    );
}

#[tokio::test]
async fn the_tenants_key_limit_is_a_409() {
    let app = app().await;
    for n in 0..4 {
        app.create(json!({"name": format!("key {n}")})).await;
    }
    let answer = app
        .server
        .post("/v1/keys", &app.admin, json!({"name": "one too many"}))
        .await;
    let error = answer.assert_error(StatusCode::CONFLICT, "limit_reached");
    assert!(error["message"].as_str().is_some_and(|m| m.contains('5')));
}

#[tokio::test]
async fn an_outage_is_a_503_and_unknown_paths_a_404() {
    let app = app().await;
    assert_eq!(
        app.server.get("/v1/keys", &app.admin).await.status,
        StatusCode::OK,
        "the key is cached"
    );
    let answer = app
        .server
        .get("/v1/keys/key_AAAAAAAAAAAAAAAAAAAA/history", &app.admin)
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "not_found");

    app.store.down.store(true, Ordering::SeqCst);
    let answer = app.server.get("/v1/keys", &app.admin).await;
    answer.assert_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    let answer = app
        .server
        .post("/v1/keys", &app.admin, json!({"name": "during the outage"}))
        .await;
    answer.assert_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
    app.store.down.store(false, Ordering::SeqCst);
}

#[tokio::test]
async fn the_router_nests_into_an_app_with_state() {
    #[derive(Clone)]
    struct AppState;
    let manager = KeyManager::new(MemoryStore::new());
    let app: Router<AppState> = Router::new().nest("/v1/keys", management::router(manager.clone()));
    let app = app.layer(
        ApiKeyLayer::builder(manager.clone())
            .no_audit()
            .build()
            .expect("a valid layer"),
    );
    let server = serve(app.with_state(AppState)).await;
    let token = key(&manager, "site_1", "keys:read").await;
    assert_eq!(server.get("/v1/keys", &token).await.status, StatusCode::OK);
}
