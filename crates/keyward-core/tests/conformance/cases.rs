//! The cases every store must pass, each a generic async function over a [`Harness`]. Lifecycle
//! rules are driven through `KeyManager` with a manual clock; the rest through the `KeyStore`
//! trait itself.

use std::time::Duration;

use keyward_core::audit::{AuditEvent, AuditKind, AuditQuery, KeyUsage};
use keyward_core::store::OldKey;
use keyward_core::time::{Clock, Timestamp};
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{
    ApiKey, Environment, Expiry, KeyId, KeyKind, KeyManager, KeyStatus, LookupKey, ManagerError, NewKey,
    Rotation, StoreError, TenantId, Tier, VerifyError,
};

use super::harness::Harness;
use super::recorder::Recorder;

const HOUR: Duration = Duration::from_secs(3600);

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).expect("a valid tenant id")
}

fn store_error(result: Result<impl std::fmt::Debug, ManagerError>) -> StoreError {
    match result {
        Err(ManagerError::Store(error)) => error,
        other => panic!("expected a store error, got {other:?}"),
    }
}

/// A token format without a public prefix: its keys are found by the hash of the whole token.
fn hash_lookup_format() -> TokenFormat {
    TokenFormat::builder("tk")
        .secret(40, Alphabet::Base62)
        .build()
        .expect("a valid format")
}

/// Create, find, verify, list, revoke (twice), and the record read back field for field.
pub async fn lifecycle(h: &Harness) {
    let manager = h.manager(|b| b);
    let site = tenant("site_a");
    let created = manager
        .create(
            NewKey::new(site.clone())
                .name("Mobile – app ✓")
                .kind(KeyKind::Publishable)
                .environment(Environment::Test)
                .scopes("analytics:read campaigns:*".parse().expect("valid scopes"))
                .tier(Tier::new("pro").expect("a valid tier"))
                .expires(Expiry::In(30 * 24 * HOUR)),
        )
        .await
        .expect("create");
    let key = created.key.clone();
    assert!(matches!(key.lookup, LookupKey::Prefix(_)));

    // Every field survives the store, whichever way it is read.
    assert_eq!(
        h.store().get(&site, &key.id).await.expect("get"),
        Some(key.clone())
    );
    assert_eq!(
        h.store().find(&key.lookup).await.expect("find"),
        Some(key.clone())
    );
    assert_eq!(manager.verify(created.token.expose()).await.expect("verify"), key);
    assert_eq!(manager.list(&site).await.expect("list"), vec![key.clone()]);
    assert_eq!(
        h.store()
            .find(&"p:unknown1".parse().expect("lookup"))
            .await
            .expect("find"),
        None
    );

    h.clock().advance(Duration::from_secs(5));
    let revoked = manager.revoke(&site, &key.id).await.expect("revoke");
    assert_eq!(revoked.revoked_at, Some(h.clock().now()));
    assert_eq!(revoked.status(h.clock().now()), KeyStatus::Revoked);
    assert_eq!(
        ApiKey {
            revoked_at: None,
            ..revoked.clone()
        },
        key
    );
    assert!(matches!(
        manager.verify(created.token.expose()).await,
        Err(VerifyError::Revoked)
    ));

    // Revoking again changes nothing, not even the time.
    h.clock().advance(Duration::from_secs(5));
    assert_eq!(
        manager.revoke(&site, &key.id).await.expect("revoke again"),
        revoked
    );
    assert_eq!(h.store().get(&site, &key.id).await.expect("get"), Some(revoked));

    assert!(matches!(
        store_error(manager.revoke(&site, &KeyId::generate()).await),
        StoreError::NotFound
    ));
}

/// Keys of a format without a public prefix are stored and found by their hash.
pub async fn hash_lookup(h: &Harness) {
    let manager = h.manager(|b| b.format(hash_lookup_format()));
    let site = tenant("brand_1");
    let created = manager.create(NewKey::new(site.clone())).await.expect("create");
    assert!(matches!(created.key.lookup, LookupKey::Hash(_)));
    assert_eq!(
        h.store().find(&created.key.lookup).await.expect("find"),
        Some(created.key.clone())
    );
    assert_eq!(
        manager.verify(created.token.expose()).await.expect("verify"),
        created.key
    );
    let mut wrong = created.token.expose().to_owned();
    wrong.replace_range(10..11, if &wrong[10..11] == "a" { "b" } else { "a" });
    assert!(matches!(manager.verify(&wrong).await, Err(VerifyError::Unknown)));
}

/// Grace rotation: both keys work until the grace period ends, then the old one is `GraceOver`.
pub async fn grace_rotation(h: &Harness) {
    let manager = h.manager(|b| b.rotation(Rotation::Grace(HOUR)));
    let site = tenant("site_a");
    let old = manager.create(NewKey::new(site.clone())).await.expect("create");
    h.clock().advance(Duration::from_secs(10));
    let rotated_at = h.clock().now();
    let new = manager.rotate(&site, &old.key.id).await.expect("rotate");

    assert_eq!(new.key.lineage, old.key.id);
    assert_eq!(new.key.rotated_from, Some(old.key.id.clone()));
    assert_eq!(new.key.created_at, rotated_at);
    let stored_old = h
        .store()
        .get(&site, &old.key.id)
        .await
        .expect("get")
        .expect("old key kept");
    assert_eq!(stored_old.grace_until, Some(rotated_at.plus(HOUR)));
    assert_eq!(stored_old.revoked_at, None);

    assert!(manager.verify(old.token.expose()).await.is_ok());
    assert!(manager.verify(new.token.expose()).await.is_ok());
    h.clock().advance(HOUR - Duration::from_millis(1));
    assert!(
        manager.verify(old.token.expose()).await.is_ok(),
        "still inside the grace period"
    );
    h.clock().advance(Duration::from_millis(1));
    assert!(matches!(
        manager.verify(old.token.expose()).await,
        Err(VerifyError::GraceOver)
    ));
    assert!(manager.verify(new.token.expose()).await.is_ok());
    assert!(matches!(
        store_error(manager.rotate(&site, &old.key.id).await),
        StoreError::NotActive
    ));
}

/// Immediate rotation revokes the old key at once.
pub async fn immediate_rotation(h: &Harness) {
    let manager = h.manager(|b| b.rotation(Rotation::Immediate));
    let site = tenant("site_a");
    let old = manager.create(NewKey::new(site.clone())).await.expect("create");
    h.clock().advance(Duration::from_secs(1));
    let new = manager.rotate(&site, &old.key.id).await.expect("rotate");
    assert!(matches!(
        manager.verify(old.token.expose()).await,
        Err(VerifyError::Revoked)
    ));
    assert!(manager.verify(new.token.expose()).await.is_ok());
    let stored_old = h
        .store()
        .get(&site, &old.key.id)
        .await
        .expect("get")
        .expect("old key kept");
    assert_eq!(stored_old.revoked_at, Some(h.clock().now()));
    assert_eq!(stored_old.grace_until, None);
}

/// Two-step rotation keeps both keys; a second replacement waits until one of them is revoked.
pub async fn two_step_rotation(h: &Harness) {
    let manager = h.manager(|b| b.rotation(Rotation::TwoStep));
    let site = tenant("site_a");
    let old = manager.create(NewKey::new(site.clone())).await.expect("create");
    let new = manager.rotate(&site, &old.key.id).await.expect("rotate");
    assert!(manager.verify(old.token.expose()).await.is_ok());
    assert!(manager.verify(new.token.expose()).await.is_ok());
    let stored_old = h
        .store()
        .get(&site, &old.key.id)
        .await
        .expect("get")
        .expect("old key kept");
    assert_eq!((stored_old.revoked_at, stored_old.grace_until), (None, None));

    for (id, rotation) in [
        (&old.key.id, Rotation::TwoStep),
        (&new.key.id, Rotation::TwoStep),
        (&old.key.id, Rotation::Grace(HOUR)),
        (&new.key.id, Rotation::Immediate),
    ] {
        assert!(
            matches!(
                store_error(manager.rotate_with(&site, id, rotation).await),
                StoreError::RotationPending
            ),
            "rotating {id} by {rotation:?} while a replacement is pending"
        );
    }
    assert_eq!(
        manager.list(&site).await.expect("list").len(),
        2,
        "refused rotations add nothing"
    );

    manager
        .revoke(&site, &old.key.id)
        .await
        .expect("revoke the old key");
    let third = manager
        .rotate(&site, &new.key.id)
        .await
        .expect("rotate after the migration");
    assert_eq!(third.key.lineage, old.key.id);
    assert!(matches!(
        store_error(manager.rotate(&site, &old.key.id).await),
        StoreError::NotActive
    ));
}

/// Expired keys are refused, cannot be rotated, and stop counting against the limit.
pub async fn expiry(h: &Harness) {
    let manager = h.manager(|b| b.max_active_keys(1));
    let site = tenant("site_a");
    let created = manager
        .create(NewKey::new(site.clone()).expires(Expiry::In(HOUR)))
        .await
        .expect("create");
    assert_eq!(created.key.expires_at, Some(h.clock().now().plus(HOUR)));
    assert!(matches!(
        store_error(manager.create(NewKey::new(site.clone())).await),
        StoreError::LimitReached { limit: 1 }
    ));

    h.clock().advance(HOUR - Duration::from_millis(1));
    assert!(manager.verify(created.token.expose()).await.is_ok());
    h.clock().advance(Duration::from_millis(1));
    assert!(matches!(
        manager.verify(created.token.expose()).await,
        Err(VerifyError::Expired)
    ));
    assert!(matches!(
        store_error(manager.rotate(&site, &created.key.id).await),
        StoreError::NotActive
    ));
    let replacement = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("room again");
    assert!(manager.verify(replacement.token.expose()).await.is_ok());
}

/// 50 creates at once for one tenant with a limit of 5: exactly 5 succeed.
pub async fn max_active_keys_under_concurrency(h: &Harness) {
    const LIMIT: u32 = 5;
    let manager = h.manager(|b| b.max_active_keys(LIMIT));
    let site = tenant("site_busy");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let manager = manager.clone();
            let new = NewKey::new(site.clone()).name(format!("key {i}"));
            tokio::spawn(async move { manager.create(new).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => created += 1,
            Err(ManagerError::Store(StoreError::LimitReached { limit })) => assert_eq!(limit, LIMIT),
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!(created, LIMIT);
    let keys = manager.list(&site).await.expect("list");
    assert_eq!(keys.len(), LIMIT as usize);
    assert!(
        keys.iter().all(|k| k.is_active(h.clock().now())),
        "exactly {LIMIT} active keys: {keys:?}"
    );

    // Another tenant has its own budget; a revocation makes room for exactly one more.
    manager
        .create(NewKey::new(tenant("site_quiet")))
        .await
        .expect("another tenant");
    manager.revoke(&site, &keys[0].id).await.expect("revoke");
    manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("room for one");
    assert!(matches!(
        store_error(manager.create(NewKey::new(site.clone())).await),
        StoreError::LimitReached { limit: LIMIT }
    ));
}

/// One key rotated by several callers while another revokes it, round after round and by every
/// kind of rotation: at most one rotation wins (its successor is the only one stored, and stays
/// valid), and the old key is refused as revoked whichever came first.
pub async fn rotate_and_revoke_race(h: &Harness) {
    const ROUNDS: usize = 24;
    const ROTATORS: usize = 4;
    let rotations = [Rotation::Grace(HOUR), Rotation::TwoStep, Rotation::Immediate];
    for (round, rotation) in rotations.into_iter().cycle().take(ROUNDS).enumerate() {
        let manager = h.manager(|b| b.rotation(rotation));
        let site = tenant(&format!("site_race_{round}"));
        let old = manager.create(NewKey::new(site.clone())).await.expect("create");
        let spawn_on_old = |revoke: bool| {
            let (manager, site, id) = (manager.clone(), site.clone(), old.key.id.clone());
            tokio::spawn(async move {
                if revoke {
                    manager.revoke(&site, &id).await.map(|_| None)
                } else {
                    manager.rotate(&site, &id).await.map(Some)
                }
            })
        };
        // The revocation is started first in some rounds, last in others.
        let revoker = round % (ROTATORS + 1);
        let tasks: Vec<_> = (0..=ROTATORS).map(|i| spawn_on_old(i == revoker)).collect();
        let mut successors = Vec::new();
        for task in tasks {
            match task.await.expect("the task ran") {
                Ok(Some(successor)) => successors.push(successor),
                Ok(None) => {}
                Err(ManagerError::Store(StoreError::NotActive | StoreError::RotationPending)) => {}
                Err(other) => panic!("round {round} ({rotation:?}): unexpected refusal: {other:?}"),
            }
        }
        let what = format!("round {round} ({rotation:?})");
        assert!(
            successors.len() <= 1,
            "{what}: {} rotations won",
            successors.len()
        );
        let stored: Vec<KeyId> = manager
            .list(&site)
            .await
            .expect("list")
            .into_iter()
            .filter(|k| k.rotated_from.as_ref() == Some(&old.key.id))
            .map(|k| k.id)
            .collect();
        let won: Vec<KeyId> = successors.iter().map(|s| s.key.id.clone()).collect();
        assert_eq!(stored, won, "{what}: the stored successors are the winners'");
        assert!(
            matches!(
                manager.verify(old.token.expose()).await,
                Err(VerifyError::Revoked)
            ),
            "{what}: the revoked key is refused"
        );
        for successor in &successors {
            let verified = manager.verify(successor.token.expose()).await;
            assert_eq!(
                verified.expect("the successor is valid").id,
                successor.key.id,
                "{what}"
            );
        }
    }
}

/// A key and its successors share one lineage and count once against the limit.
pub async fn lineage_is_shared_by_successors(h: &Harness) {
    let manager = h.manager(|b| b.max_active_keys(1).rotation(Rotation::Grace(HOUR)));
    let site = tenant("site_a");
    let first = manager.create(NewKey::new(site.clone())).await.expect("create");
    h.clock().advance(Duration::from_secs(1));
    let second = manager.rotate(&site, &first.key.id).await.expect("rotate");
    h.clock().advance(Duration::from_secs(1));
    // The first key is in its grace period and the second has no end date: rotating the second
    // is allowed, and three active keys still count as one lineage.
    let third = manager
        .rotate(&site, &second.key.id)
        .await
        .expect("rotate the successor");
    for (token, key) in [(&first.token, &first.key), (&second.token, &second.key)] {
        assert_eq!(manager.verify(token.expose()).await.expect("in grace").id, key.id);
    }
    assert!(matches!(
        store_error(manager.create(NewKey::new(site.clone())).await),
        StoreError::LimitReached { limit: 1 }
    ));

    let keys = manager.list(&site).await.expect("list");
    let ids: Vec<&KeyId> = keys.iter().map(|k| &k.id).collect();
    assert_eq!(ids, [&first.key.id, &second.key.id, &third.key.id]);
    assert!(keys.iter().all(|k| k.lineage == first.key.id));
    assert_eq!(keys[1].rotated_from.as_ref(), Some(&first.key.id));
    assert_eq!(keys[2].rotated_from.as_ref(), Some(&second.key.id));

    // The lineage stops counting only when none of its keys is active.
    h.clock().advance(HOUR);
    manager.revoke(&site, &third.key.id).await.expect("revoke");
    manager
        .create(NewKey::new(site))
        .await
        .expect("the lineage is over");
}

/// Two usage batches fold into `last_used_at` (the latest wins) and `request_count` (summed).
pub async fn last_used_batches_fold(h: &Harness) {
    let manager = h.manager(|b| b);
    let site = tenant("site_a");
    let one = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("create")
        .key;
    let two = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("create")
        .key;
    let at = |offset: i64| Timestamp::from_millis(h.clock().now().as_millis() + offset);
    let used = |key: &ApiKey, offset: i64, requests: u64| KeyUsage {
        key_id: key.id.clone(),
        last_used_at: at(offset),
        requests,
    };

    let unknown = KeyUsage {
        key_id: KeyId::generate(),
        last_used_at: at(0),
        requests: 9,
    };
    h.store()
        .record_usage(&[used(&one, 1_000, 3), used(&two, 500, 1), unknown])
        .await
        .expect("first batch");
    h.store()
        .record_usage(&[used(&one, 900, 2), used(&two, 2_000, 4), used(&one, 1_100, 1)])
        .await
        .expect("second batch");
    h.store().record_usage(&[]).await.expect("an empty batch");

    let one = h.store().get(&site, &one.id).await.expect("get").expect("kept");
    let two = h.store().get(&site, &two.id).await.expect("get").expect("kept");
    assert_eq!((one.last_used_at, one.request_count), (Some(at(1_100)), 6));
    assert_eq!((two.last_used_at, two.request_count), (Some(at(2_000)), 5));
}

/// Audit events come back newest first, limited, and only the tenant's own, with their kind and
/// detail.
pub async fn audit_log_order_and_tenant_filter(h: &Harness) {
    let manager = h.manager(|b| b);
    let a = new_key(&manager, "site_a").await;
    let b = new_key(&manager, "site_b").await;
    let event = |key: &ApiKey, n: i64, status: u16| AuditEvent {
        at: Timestamp::from_millis(h.clock().now().as_millis() + n),
        request_id: format!("req_{n}"),
        key_id: key.id.clone(),
        tenant: key.tenant.clone(),
        fingerprint: key.fingerprint(),
        method: "GET".into(),
        path: format!("/v1/analytics/{n}"),
        status,
        client_ip: (n % 2 == 0).then(|| "203.0.113.7".to_owned()),
        user_agent: (n % 2 == 1).then(|| "curl/8.5 ✓".to_owned()),
        kind: AuditKind::Request,
        detail: None,
    };
    let (a1, a2, a3, b1) = (
        event(&a, 1, 200),
        event(&a, 2, 404),
        AuditEvent {
            kind: AuditKind::KeyLeaked,
            detail: Some(r#"{"source":"content","url":"https://example.com/✓"}"#.into()),
            ..event(&a, 3, 429)
        },
        event(&b, 4, 200),
    );
    h.store()
        .append_audit(&[a1.clone(), b1.clone(), a2.clone()])
        .await
        .expect("append");
    h.store().append_audit(&[]).await.expect("append nothing");
    h.store()
        .append_audit(std::slice::from_ref(&a3))
        .await
        .expect("append");

    let log = |tenant: &TenantId, limit: usize| {
        let query = AuditQuery::new(tenant.clone()).limit(limit);
        let manager = manager.clone();
        async move { manager.audit_log(&query).await.expect("log") }
    };
    assert_eq!(log(&a.tenant, 10).await, vec![a3.clone(), a2.clone(), a1]);
    assert_eq!(log(&a.tenant, 2).await, vec![a3, a2]);
    assert_eq!(log(&a.tenant, 0).await, vec![]);
    assert_eq!(log(&b.tenant, 10).await, vec![b1]);
    assert_eq!(log(&tenant("site_c"), 10).await, vec![]);
}

/// An audit event of `key` at `START + offset` ms on `path`, named `req_<offset>`.
fn audit_event(h: &Harness, key: &ApiKey, offset: i64, path: &str) -> AuditEvent {
    AuditEvent {
        at: Timestamp::from_millis(h.clock().now().as_millis() + offset),
        request_id: format!("req_{offset}"),
        key_id: key.id.clone(),
        tenant: key.tenant.clone(),
        fingerprint: key.fingerprint(),
        method: "GET".into(),
        path: path.into(),
        status: 200,
        client_ip: Some("198.51.100.4".into()),
        user_agent: Some("trcker-sync/2.1".into()),
        kind: AuditKind::Request,
        detail: None,
    }
}

/// A key of a new lineage for the tenant `site`, made by `manager`.
async fn new_key(manager: &KeyManager, site: &str) -> ApiKey {
    manager
        .create(NewKey::new(tenant(site)))
        .await
        .expect("create")
        .key
}

/// The request ids of what `query` reads from the store, in the order it returns them.
async fn request_ids(h: &Harness, query: &AuditQuery) -> Vec<String> {
    h.store()
        .audit_log(query)
        .await
        .expect("log")
        .into_iter()
        .map(|event| event.request_id)
        .collect()
}

/// Each filter of an [`AuditQuery`] alone and together: key, time window (since inclusive, until
/// exclusive), a literal path prefix, limit; newest first by time, whatever the order events were
/// appended in; never another tenant's events.
pub async fn audit_log_filters(h: &Harness) {
    let manager = h.manager(|b| b);
    let create = |site: &'static str| {
        let manager = manager.clone();
        async move {
            manager
                .create(NewKey::new(tenant(site)))
                .await
                .expect("create")
                .key
        }
    };
    let (one, two, other) = (
        create("site_a").await,
        create("site_a").await,
        create("site_b").await,
    );
    let events = [
        audit_event(h, &one, 30, "/api/campaigns"),
        audit_event(h, &one, 10, "/api/100%_off"),
        audit_event(h, &two, 20, "/api/1000xoff"),
        audit_event(h, &one, 40, "/dashboard"),
        audit_event(h, &two, 50, "/API/upper"),
        audit_event(h, &one, 60, "/api\\literal"),
        audit_event(h, &other, 35, "/api/campaigns"),
    ];
    // Appended out of time order, in two batches.
    h.store().append_audit(&events[..4]).await.expect("append");
    h.store().append_audit(&events[4..]).await.expect("append");
    let site = AuditQuery::new(tenant("site_a"));
    let at = |offset: i64| Timestamp::from_millis(h.clock().now().as_millis() + offset);
    let cases: Vec<(&str, AuditQuery, &[&str])> = vec![
        (
            "all, newest first",
            site.clone(),
            &["req_60", "req_50", "req_40", "req_30", "req_20", "req_10"],
        ),
        ("one key", site.clone().key(two.id.clone()), &["req_50", "req_20"]),
        ("another tenant's key", site.clone().key(other.id.clone()), &[]),
        (
            "since is inclusive",
            site.clone().since(at(40)),
            &["req_60", "req_50", "req_40"],
        ),
        (
            "until is exclusive",
            site.clone().until(at(30)),
            &["req_20", "req_10"],
        ),
        (
            "a window",
            site.clone().since(at(20)).until(at(50)),
            &["req_40", "req_30", "req_20"],
        ),
        ("an empty window", site.clone().since(at(30)).until(at(30)), &[]),
        (
            "a path prefix",
            site.clone().path_prefix("/api/"),
            &["req_30", "req_20", "req_10"],
        ),
        (
            "`%` and `_` are literal",
            site.clone().path_prefix("/api/100%_"),
            &["req_10"],
        ),
        ("`_` is no wildcard", site.clone().path_prefix("/api/100_"), &[]),
        ("`%` is no wildcard", site.clone().path_prefix("/api/%off"), &[]),
        (
            "`\\` is literal",
            site.clone().path_prefix("/api\\l"),
            &["req_60"],
        ),
        ("case matters", site.clone().path_prefix("/API/"), &["req_50"]),
        (
            "an empty prefix",
            site.clone().path_prefix("").limit(2),
            &["req_60", "req_50"],
        ),
        ("a limit", site.clone().limit(2), &["req_60", "req_50"]),
        (
            "every filter",
            site.clone()
                .key(one.id.clone())
                .since(at(10))
                .until(at(60))
                .path_prefix("/api/")
                .limit(1),
            &["req_30"],
        ),
        ("the other tenant", AuditQuery::new(tenant("site_b")), &["req_35"]),
        ("an unknown tenant", AuditQuery::new(tenant("site_c")), &[]),
    ];
    for (what, query, expected) in cases {
        assert_eq!(request_ids(h, &query).await, expected, "{what}");
    }
    // Events of the same time: the latest appended first.
    let tied = [audit_event(h, &one, 70, "/a"), audit_event(h, &one, 70, "/b")];
    h.store().append_audit(&tied).await.expect("append");
    let latest = h.store().audit_log(&site.clone().limit(2)).await.expect("log");
    assert_eq!(latest, vec![tied[1].clone(), tied[0].clone()]);
}

/// A batch far larger than one statement's rows, of a size no power of two divides, lands whole
/// and in order: every event back intact, the latest appended first among events of one time.
pub async fn audit_large_batch(h: &Harness) {
    let manager = h.manager(|b| b);
    let key = new_key(&manager, "site_a").await;
    let events: Vec<AuditEvent> = (0..1_003)
        .map(|n| AuditEvent {
            request_id: format!("req_{n}"),
            status: 200 + u16::try_from(n % 300).expect("small"),
            client_ip: (n % 3 == 0).then(|| format!("2001:db8::{n:x}")),
            // Text a bulk format must escape: tabs, line breaks, backslashes, `\N`.
            user_agent: (n % 5 == 0).then(|| format!("agent\t✓ {n}\r\n\\N")),
            detail: (n % 7 == 0).then(|| format!(r#"{{"note":"a\\b\tc\nd {n}"}}"#)),
            ..audit_event(h, &key, 0, &format!("/v1/items/{n}\\x"))
        })
        .collect();
    h.store().append_audit(&events).await.expect("append");
    let log = h
        .store()
        .audit_log(&AuditQuery::new(key.tenant.clone()).limit(2_000))
        .await
        .expect("log");
    let expected: Vec<AuditEvent> = events.into_iter().rev().collect();
    assert_eq!(log.len(), expected.len());
    assert!(log == expected, "the batch reads back as appended, latest first");
}

/// Pruning deletes every tenant's events from before a time, keeps those at it or later, and
/// says how many went.
pub async fn audit_prune(h: &Harness) {
    let manager = h.manager(|b| b);
    let a = new_key(&manager, "site_a").await;
    let b = new_key(&manager, "site_b").await;
    let events = [
        audit_event(h, &a, 10, "/api/x"),
        audit_event(h, &b, 15, "/api/x"),
        audit_event(h, &a, 20, "/api/x"),
        audit_event(h, &b, 30, "/api/x"),
    ];
    h.store().append_audit(&events).await.expect("append");
    let at = |offset: i64| Timestamp::from_millis(h.clock().now().as_millis() + offset);

    assert_eq!(
        h.store().prune_audit(at(10)).await.expect("prune"),
        0,
        "nothing before"
    );
    assert_eq!(h.store().prune_audit(at(20)).await.expect("prune"), 2);
    assert_eq!(h.store().prune_audit(at(20)).await.expect("prune"), 0, "once");
    assert_eq!(
        request_ids(h, &AuditQuery::new(a.tenant.clone())).await,
        ["req_20"],
        "an event at the time is kept"
    );
    assert_eq!(
        request_ids(h, &AuditQuery::new(b.tenant.clone())).await,
        ["req_30"]
    );
    assert_eq!(h.store().prune_audit(Timestamp::MAX).await.expect("prune"), 2);
    assert!(
        request_ids(h, &AuditQuery::new(a.tenant.clone()))
            .await
            .is_empty()
    );
}

/// A prune larger than one deletion batch deletes, and counts, every event.
pub async fn audit_prune_in_batches(h: &Harness) {
    const EVENTS: i64 = 10_050;
    let manager = h.manager(|b| b);
    let key = new_key(&manager, "site_a").await;
    let events: Vec<AuditEvent> = (0..=EVENTS).map(|n| audit_event(h, &key, n, "/api/x")).collect();
    h.store().append_audit(&events).await.expect("append");
    let before = Timestamp::from_millis(h.clock().now().as_millis() + EVENTS);
    assert_eq!(
        h.store().prune_audit(before).await.expect("prune"),
        EVENTS.unsigned_abs()
    );
    let left = h
        .store()
        .audit_log(&AuditQuery::new(key.tenant.clone()))
        .await
        .expect("log");
    assert_eq!(left, vec![events[events.len() - 1].clone()]);
}

/// A tenant can neither see nor change another tenant's key.
pub async fn tenant_isolation(h: &Harness) {
    let manager = h.manager(|b| b);
    let (owner, other) = (tenant("site_a"), tenant("site_b"));
    let created = manager.create(NewKey::new(owner.clone())).await.expect("create");
    let id = &created.key.id;

    assert_eq!(manager.get(&other, id).await.expect("get"), None);
    assert!(manager.list(&other).await.expect("list").is_empty());
    assert!(matches!(
        store_error(manager.revoke(&other, id).await),
        StoreError::NotFound
    ));
    assert!(matches!(
        store_error(manager.rotate(&other, id).await),
        StoreError::NotFound
    ));
    let successor = ApiKey {
        id: KeyId::generate(),
        tenant: other.clone(),
        lookup: "p:successor1".parse().expect("lookup"),
        rotated_from: Some(id.clone()),
        ..created.key.clone()
    };
    assert!(matches!(
        h.store()
            .rotate(&other, id, &successor, OldKey::RevokeNow, h.clock().now())
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(h.store().find(&successor.lookup).await.expect("find"), None);

    assert_eq!(
        manager.verify(created.token.expose()).await.expect("untouched"),
        created.key
    );
    assert_eq!(manager.get(&owner, id).await.expect("get"), Some(created.key));
}

/// A second key with the same lookup or id is refused, and a refused rotation changes nothing.
pub async fn duplicate_lookup(h: &Harness) {
    let manager = h.manager(|b| b);
    let site = tenant("site_a");
    let first = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("create")
        .key;
    let second = manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("create")
        .key;
    let now = h.clock().now();

    let same_lookup = ApiKey {
        id: KeyId::generate(),
        ..first.clone()
    };
    assert!(matches!(
        h.store().insert(&same_lookup, None, now).await,
        Err(StoreError::Duplicate)
    ));
    let same_id = ApiKey {
        lookup: "p:fresh0001".parse().expect("lookup"),
        ..first.clone()
    };
    assert!(matches!(
        h.store().insert(&same_id, None, now).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(h.store().get(&site, &same_lookup.id).await.expect("get"), None);

    // A successor clashing with an existing key: nothing of the rotation happens.
    let clashing = ApiKey {
        id: KeyId::generate(),
        lookup: second.lookup,
        lineage: first.lineage.clone(),
        rotated_from: Some(first.id.clone()),
        ..first.clone()
    };
    assert!(matches!(
        h.store()
            .rotate(&site, &first.id, &clashing, OldKey::RevokeNow, now)
            .await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(h.store().get(&site, &first.id).await.expect("get"), Some(first));
    assert_eq!(h.store().list(&site).await.expect("list").len(), 2);
}

/// Revocations and rotations that retire a key are published; a two-step rotation and a repeated
/// revocation are not.
pub async fn change_feed(h: &Harness) {
    let manager = h.manager(|b| b);
    let recorder = Recorder::on(h.store());
    let site = tenant("site_a");
    let mut keys = Vec::new();
    for _ in 0..4 {
        keys.push(
            manager
                .create(NewKey::new(site.clone()))
                .await
                .expect("create")
                .key,
        );
    }
    let [revoked, graced, kept, replaced] = &keys[..] else {
        unreachable!("four keys")
    };
    assert!(
        recorder
            .heard()
            .iter()
            .all(|c| !keys.iter().any(|k| k.id == c.key_id))
    );

    // Published before the call returns; through the database it may come back at once too.
    let published = |id: &KeyId| match recorder.count(id) {
        0 => false,
        1 => true,
        _ => h.hears_the_database(),
    };
    manager.revoke(&site, &revoked.id).await.expect("revoke");
    assert!(published(&revoked.id));
    manager.revoke(&site, &revoked.id).await.expect("revoke again");
    manager
        .rotate_with(&site, &graced.id, Rotation::Grace(HOUR))
        .await
        .expect("grace rotation");
    assert!(published(&graced.id));
    let successor = manager
        .rotate_with(&site, &kept.id, Rotation::TwoStep)
        .await
        .expect("two-step rotation");
    manager
        .rotate_with(&site, &replaced.id, Rotation::Immediate)
        .await
        .expect("immediate rotation");
    assert!(published(&replaced.id));

    let lookups: Vec<(KeyId, LookupKey)> = [revoked, graced, replaced]
        .into_iter()
        .map(|k| (k.id.clone(), k.lookup))
        .collect();
    if h.hears_the_database() {
        // Each change also comes back through the database, after a moment.
        for (id, _) in &lookups {
            assert!(recorder.wait_for(id, Duration::from_secs(1)).await);
        }
    }
    let ours: Vec<(KeyId, LookupKey)> = recorder
        .heard()
        .into_iter()
        .filter(|c| keys.iter().any(|k| k.id == c.key_id) || c.key_id == successor.key.id)
        .map(|c| (c.key_id, c.lookup))
        .collect();
    if h.hears_the_database() {
        assert!(ours.iter().all(|change| lookups.contains(change)), "{ours:?}");
        assert_eq!(recorder.count(&kept.id), 0);
    } else {
        assert_eq!(ours, lookups);
    }
}

/// Rotating an unknown key is `NotFound`; rotating a revoked key is `NotActive`.
pub async fn rotation_refusals(h: &Harness) {
    let manager = h.manager(|b| b);
    let site = tenant("site_a");
    assert!(matches!(
        store_error(manager.rotate(&site, &KeyId::generate()).await),
        StoreError::NotFound
    ));
    let created = manager.create(NewKey::new(site.clone())).await.expect("create");
    manager.revoke(&site, &created.key.id).await.expect("revoke");
    assert!(matches!(
        store_error(manager.rotate(&site, &created.key.id).await),
        StoreError::NotActive
    ));
    assert_eq!(manager.list(&site).await.expect("list").len(), 1);
}
