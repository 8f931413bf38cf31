//! Keyspaces, the same on every store: declaring one (and every way a declaration can differ from
//! what is stored), opening it, keys that belong to theirs, and policy changes that reach the
//! managers following it.

use std::time::Duration;

use keyward_core::manager::KeyManagerBuilder;
use keyward_core::store::KeyspaceWrite;
use keyward_core::time::Clock;
use keyward_core::token::{Alphabet, TokenFormat};
use keyward_core::{
    Drift, KeyManager, Keyspace, KeyspaceName, ManagerError, NewKey, Rotation, StoreError, TenantId,
    VerifyError,
};

use super::harness::Harness;

fn name(text: &str) -> KeyspaceName {
    KeyspaceName::new(text).expect("a valid keyspace name")
}

fn tenant(text: &str) -> TenantId {
    TenantId::new(text).expect("a valid tenant")
}

fn builder(h: &Harness, keyspace: &str) -> KeyManagerBuilder {
    KeyManager::builder_shared(h.shared())
        .clock(h.clock().clone())
        .keyspace(keyspace)
}

async fn stored(h: &Harness, keyspace: &str) -> Keyspace {
    h.store()
        .keyspace(&name(keyspace))
        .await
        .expect("readable")
        .expect("stored")
}

/// The first declaration stores the keyspace; the same one again is accepted; a different policy
/// is refused, kept or written as the drift rule says; a different format is always refused.
pub async fn declaring_a_keyspace(h: &Harness) {
    assert!(h.store().keyspaces().await.expect("readable").is_empty());
    let declared = builder(h, "api")
        .max_active_keys(2)
        .rotation(Rotation::Immediate)
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    assert_eq!(declared.keyspace().as_str(), "api");
    assert_eq!(stored(h, "api").await.policy.max_active_keys, Some(2));
    builder(h, "api")
        .max_active_keys(2)
        .rotation(Rotation::Immediate)
        .declare(Drift::Refuse)
        .await
        .expect("the same declaration again");

    let refused = builder(h, "api")
        .max_active_keys(5)
        .declare(Drift::Refuse)
        .await
        .expect_err("a different policy");
    match &refused {
        ManagerError::PolicyMismatch {
            keyspace,
            differences,
        } => {
            assert_eq!(keyspace.as_str(), "api");
            assert_eq!(differences, &["max_active_keys", "rotation"]);
        }
        other => panic!("expected a policy mismatch, got {other:?}"),
    }
    assert!(
        refused.to_string().contains("max_active_keys, rotation"),
        "{refused}"
    );
    assert_eq!(
        stored(h, "api").await.policy.max_active_keys,
        Some(2),
        "nothing written"
    );

    let kept = builder(h, "api")
        .max_active_keys(5)
        .declare(Drift::KeepStored)
        .await
        .expect("the stored policy applies");
    assert_eq!(kept.policy().max_active_keys, Some(2));
    assert_eq!(kept.policy().rotation, Rotation::Immediate);
    assert_eq!(stored(h, "api").await.policy.max_active_keys, Some(2));

    let overwritten = builder(h, "api")
        .max_active_keys(3)
        .declare(Drift::Overwrite)
        .await
        .expect("the declared policy replaces the stored one");
    assert_eq!(overwritten.policy().max_active_keys, Some(3));
    assert_eq!(stored(h, "api").await.policy.max_active_keys, Some(3));

    let other_format = TokenFormat::builder("other")
        .secret(40, Alphabet::LowerHex)
        .build()
        .expect("valid");
    for drift in [Drift::Refuse, Drift::Overwrite, Drift::KeepStored] {
        let refused = builder(h, "api")
            .format(other_format.clone())
            .max_active_keys(3)
            .declare(drift)
            .await;
        assert!(
            matches!(refused, Err(ManagerError::FormatMismatch(_))),
            "{drift:?}: {refused:?}"
        );
    }
    assert_eq!(stored(h, "api").await.format, TokenFormat::default());
}

/// `open` applies the stored keyspace; it picks the only one, or `default`, or asks for a name.
pub async fn opening_a_keyspace(h: &Harness) {
    let format = TokenFormat::builder("tk")
        .secret(40, Alphabet::Base62)
        .build()
        .expect("valid");
    builder(h, "brand")
        .format(format.clone())
        .max_active_keys(1)
        .rotation(Rotation::TwoStep)
        .lock_rotation()
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    let opened = KeyManager::open(h.shared(), None)
        .await
        .expect("the only keyspace");
    assert_eq!(opened.keyspace().as_str(), "brand");
    assert_eq!(opened.format(), &format);
    assert_eq!(opened.policy().max_active_keys, Some(1));

    let unknown = KeyManager::open(h.shared(), Some("nope")).await;
    assert!(
        matches!(unknown, Err(ManagerError::UnknownKeyspace(ref n)) if n.as_str() == "nope"),
        "{unknown:?}"
    );
    let invalid = KeyManager::open(h.shared(), Some("Not Valid")).await;
    assert!(matches!(invalid, Err(ManagerError::Config(_))), "{invalid:?}");

    builder(h, "admin")
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    let unnamed = KeyManager::open(h.shared(), None).await;
    match unnamed {
        Err(ManagerError::KeyspaceNotNamed(names)) => assert_eq!(names, ["admin", "brand"]),
        other => panic!("expected a request for a name, got {other:?}"),
    }
    // With `default` among them, `default` is the one.
    builder(h, KeyspaceName::DEFAULT)
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    let defaulted = KeyManager::open(h.shared(), None).await.expect("default");
    assert_eq!(defaulted.keyspace().as_str(), "default");

    // The opened manager applies the stored rules, as the app that declared them does.
    let site = tenant("brand_1");
    let brand = KeyManager::open(h.shared(), Some("brand")).await.expect("opened");
    let first = brand.create(NewKey::new(site.clone())).await.expect("created");
    assert!(first.token.expose().starts_with("tk_"));
    let limit = brand.create(NewKey::new(site.clone())).await;
    assert!(
        matches!(
            limit,
            Err(ManagerError::Store(StoreError::LimitReached { limit: 1 }))
        ),
        "{limit:?}"
    );
    let locked = brand.rotate_with(&site, &first.key.id, Rotation::Immediate).await;
    assert!(
        matches!(locked, Err(ManagerError::RotationNotAllowed { .. })),
        "{locked:?}"
    );
    brand
        .rotate(&site, &first.key.id)
        .await
        .expect("the policy's rotation");
}

/// A key belongs to its keyspace: unknown to managers of another, and counted against its own
/// keyspace's limit only.
pub async fn keys_live_in_their_keyspace(h: &Harness) {
    let a = builder(h, "a")
        .max_active_keys(1)
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    let b = builder(h, "b")
        .max_active_keys(1)
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    let site = tenant("site_1");
    let in_a = a.create(NewKey::new(site.clone())).await.expect("created in a");
    let in_b = b
        .create(NewKey::new(site.clone()))
        .await
        .expect("the same tenant in b");
    assert_eq!(in_a.key.keyspace.as_str(), "a");
    assert_eq!(
        h.store()
            .get(&site, &in_a.key.id)
            .await
            .expect("read")
            .map(|k| k.keyspace),
        Some(name("a")),
        "the store keeps the keyspace"
    );

    assert!(a.verify(in_a.token.expose()).await.is_ok());
    assert!(matches!(
        b.verify(in_a.token.expose()).await,
        Err(VerifyError::Unknown)
    ));
    assert!(b.get(&site, &in_a.key.id).await.expect("read").is_none());
    assert_eq!(b.list(&site).await.expect("listed").len(), 1);
    let revoke = b.revoke(&site, &in_a.key.id).await;
    assert!(
        matches!(revoke, Err(ManagerError::Store(StoreError::NotFound))),
        "{revoke:?}"
    );
    let rotate = b.rotate(&site, &in_a.key.id).await;
    assert!(
        matches!(rotate, Err(ManagerError::Store(StoreError::NotFound))),
        "{rotate:?}"
    );
    assert!(a.verify(in_a.token.expose()).await.is_ok(), "untouched by b");
    assert!(b.verify(in_b.token.expose()).await.is_ok());
}

/// A policy written to the store (by the CLI, another process) is what a declared manager applies
/// from its next operation on; scopes, tiers and rotation are checked against it.
pub async fn policy_changes_reach_declared_managers(h: &Harness) {
    let app = builder(h, "app")
        .max_active_keys(1)
        .default_scopes("events:read".parse().expect("valid"))
        .allowed_scopes("events:*".parse().expect("valid"))
        .declare(Drift::Refuse)
        .await
        .expect("declared");
    let site = tenant("site_1");
    app.create(NewKey::new(site.clone()))
        .await
        .expect("the first key");
    assert!(
        app.create(NewKey::new(site.clone())).await.is_err(),
        "the limit of 1"
    );
    let outside = app
        .create(NewKey::new(tenant("site_2")).scopes("admin:*".parse().expect("valid")))
        .await;
    assert!(
        matches!(outside, Err(ManagerError::ScopesNotAllowed { .. })),
        "{outside:?}"
    );

    // Another process raises the limit and restricts the tiers.
    let mut changed = stored(h, "app").await;
    changed.policy.max_active_keys = Some(2);
    changed.policy.tiers = Some(vec!["default".parse().expect("valid")]);
    let written = h
        .store()
        .save_keyspace(&changed, KeyspaceWrite::Replace, h.clock().now())
        .await
        .expect("written");
    assert!(written);
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while app.current_policy().await.expect("readable").max_active_keys != Some(2) {
        assert!(std::time::Instant::now() < deadline, "the change did not arrive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    app.create(NewKey::new(site.clone()))
        .await
        .expect("the raised limit");
    let tier = app
        .create(NewKey::new(tenant("site_3")).tier("pro".parse().expect("valid")))
        .await;
    assert!(
        matches!(tier, Err(ManagerError::TierNotAllowed { .. })),
        "{tier:?}"
    );

    // `Create` never overwrites.
    let again = h
        .store()
        .save_keyspace(&changed, KeyspaceWrite::Create, h.clock().now())
        .await
        .expect("answered");
    assert!(!again);
}
