//! The key lifecycle through `KeyManager` over a `MemoryStore` and a `ManualClock`: show once,
//! default scopes, per-tenant limits, the three kinds of rotation, expiry, verify's reasons,
//! lineage, tenant isolation, peppered hashes and builder checks.

mod seeds;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use keyward_core::audit::{AuditEvent, AuditQuery, KeyUsage};
use keyward_core::credits::{Credits, CreditsUpdate, Spend};
use keyward_core::hash::Hasher;
use keyward_core::manager::ConfigError;
use keyward_core::store::{ChangeFeed, KeyspaceWrite, OldKey};
use keyward_core::time::{Clock, ManualClock, Timestamp};
use keyward_core::{
    ApiKey, Environment, Expiry, KeyId, KeyKind, KeyManager, KeyStatus, KeyStore, LookupKey, ManagerError,
    MemoryStore, NewKey, Rotation, ScopeSet, StoreError, TenantId, VerifyError,
};
use keyward_core::{Keyspace, KeyspaceName};

const HOUR: Duration = Duration::from_secs(3600);

fn start() -> ManualClock {
    ManualClock::new(Timestamp::from_millis(1_795_452_522_000))
}

fn tenant(id: &str) -> TenantId {
    TenantId::new(id).expect("a valid tenant id")
}

fn scopes(text: &str) -> ScopeSet {
    text.parse().expect("valid scopes")
}

/// Atribu: default scopes, 48-hour grace rotation.
fn atribu(clock: &ManualClock) -> KeyManager {
    KeyManager::builder(MemoryStore::new())
        .format(seeds::atribu())
        .clock(clock.clone())
        .default_scopes(scopes(
            "analytics:read campaigns:read conversions:read realtime:read",
        ))
        .rotation(Rotation::Grace(48 * HOUR))
        .build()
        .expect("a valid configuration")
}

/// Adtarget: five active keys a site, migrate-then-revoke rotation, keys that never expire.
fn adtarget(clock: &ManualClock) -> KeyManager {
    KeyManager::builder(MemoryStore::new())
        .format(seeds::adtarget())
        .clock(clock.clone())
        .max_active_keys(5)
        .rotation(Rotation::TwoStep)
        .build()
        .expect("a valid configuration")
}

/// Trcker: one key a brand, two-step rotation, found by the hash of the whole token.
fn trcker(clock: &ManualClock) -> KeyManager {
    KeyManager::builder(MemoryStore::new())
        .format(seeds::trcker())
        .clock(clock.clone())
        .max_active_keys(1)
        .rotation(Rotation::TwoStep)
        .build()
        .expect("a valid configuration")
}

/// Toksta: rotation revokes the old key at once.
fn toksta(clock: &ManualClock) -> KeyManager {
    KeyManager::builder(MemoryStore::new())
        .format(seeds::toksta())
        .clock(clock.clone())
        .rotation(Rotation::Immediate)
        .build()
        .expect("a valid configuration")
}

#[tokio::test]
async fn create_returns_the_token_once_and_stores_only_its_hash() {
    let clock = start();
    for manager in [atribu(&clock), trcker(&clock)] {
        let site = tenant("site_1");
        let created = manager
            .create(NewKey::new(site.clone()).name("Production backend"))
            .await
            .expect("created");
        let token = created.token.expose();
        assert_eq!(created.key.secret_hash, Hasher::sha256().hash(token));
        assert_eq!(created.key.display_prefix, created.token.redacted());
        assert_eq!(created.key.created_at, clock.now());
        let stored = manager
            .get(&site, &created.key.id)
            .await
            .expect("store answers")
            .expect("stored");
        assert_eq!(stored, created.key);
        for record in [&created.key, &stored] {
            let debug = format!("{record:?}");
            assert!(
                !debug.contains(token),
                "the record's Debug holds the token: {debug}"
            );
            assert!(
                !debug.contains(seeds::secret_part(&created.token)),
                "or its secret"
            );
            assert!(
                !debug.contains(&record.secret_hash.to_hex()),
                "and not the hex hash either"
            );
        }
        // The record cannot give the token back: only the holder of the token verifies.
        let verified = manager.verify(token).await.expect("the token verifies");
        assert_eq!(verified.id, created.key.id);
    }
}

#[tokio::test]
async fn default_scopes_apply_when_none_are_given_and_explicit_ones_are_kept() {
    let clock = start();
    let manager = atribu(&clock);
    let profile = tenant("profile_42");

    let defaulted = manager
        .create(NewKey::new(profile.clone()))
        .await
        .expect("created");
    assert_eq!(
        defaulted.key.scopes.to_string(),
        "analytics:read campaigns:read conversions:read realtime:read"
    );
    let verified = manager.verify(defaulted.token.expose()).await.expect("verifies");
    assert!(verified.scopes.allows("realtime:read"));
    assert!(
        !verified.scopes.allows("customers:read"),
        "PII scopes are never a default"
    );

    let explicit = manager
        .create(NewKey::new(profile.clone()).scopes(scopes("customers:read")))
        .await
        .expect("created");
    assert_eq!(explicit.key.scopes, scopes("customers:read"));
    assert!(!explicit.key.scopes.allows("analytics:read"));

    let empty = manager
        .create(NewKey::new(profile).scopes(ScopeSet::empty()))
        .await
        .expect("created");
    assert!(
        empty.key.scopes.is_empty(),
        "an explicit empty set is not replaced by the defaults"
    );
}

#[tokio::test]
async fn keys_are_unrestricted_by_default() {
    let manager = KeyManager::builder(MemoryStore::new())
        .clock(start())
        .build()
        .expect("the defaults are valid");
    let created = manager.create(NewKey::new(tenant("t"))).await.expect("created");
    assert!(created.key.scopes.is_unrestricted());
    assert!(created.key.scopes.allows("customers:read"));
    assert_eq!(created.key.tier.as_str(), "default");
    assert_eq!(created.key.expires_at, None);
    assert_eq!(created.key.kind, KeyKind::Secret);
    assert_eq!(created.key.environment, Environment::Live);
}

#[tokio::test]
async fn adtarget_allows_five_active_keys_a_site() {
    let clock = start();
    let manager = adtarget(&clock);
    let site = tenant("site_7");
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(
            manager
                .create(NewKey::new(site.clone()))
                .await
                .expect("within the limit"),
        );
    }
    let sixth = manager.create(NewKey::new(site.clone())).await;
    assert!(
        matches!(
            sixth,
            Err(ManagerError::Store(StoreError::LimitReached { limit: 5 }))
        ),
        "{sixth:?}"
    );
    manager
        .create(NewKey::new(tenant("site_8")))
        .await
        .expect("another site has its own five");

    manager.revoke(&site, &keys[0].key.id).await.expect("revoked");
    manager
        .create(NewKey::new(site.clone()))
        .await
        .expect("revoking frees a slot");
    let seventh = manager.create(NewKey::new(site)).await;
    assert!(
        matches!(
            seventh,
            Err(ManagerError::Store(StoreError::LimitReached { limit: 5 }))
        ),
        "the freed slot is taken again: {seventh:?}"
    );
}

#[tokio::test]
async fn an_expired_key_frees_its_slot() {
    let clock = start();
    let manager = trcker(&clock);
    let brand = tenant("brand_1");
    manager
        .create(NewKey::new(brand.clone()).expires(Expiry::In(HOUR)))
        .await
        .expect("created");
    let full = manager.create(NewKey::new(brand.clone())).await;
    assert!(
        matches!(
            full,
            Err(ManagerError::Store(StoreError::LimitReached { limit: 1 }))
        ),
        "{full:?}"
    );
    clock.advance(HOUR);
    manager
        .create(NewKey::new(brand))
        .await
        .expect("the expired key no longer counts");
}

#[tokio::test]
async fn trcker_one_key_and_two_step_rotation() {
    let clock = start();
    let manager = trcker(&clock);
    let brand = tenant("brand_acme");
    let old = manager.create(NewKey::new(brand.clone())).await.expect("created");

    let new = manager
        .rotate(&brand, &old.key.id)
        .await
        .expect("a replacement while the old key is valid");
    manager
        .verify(old.token.expose())
        .await
        .expect("the old key still works");
    manager
        .verify(new.token.expose())
        .await
        .expect("the new key works");

    let again = manager.rotate(&brand, &old.key.id).await;
    assert!(
        matches!(again, Err(ManagerError::Store(StoreError::RotationPending))),
        "a second replacement: {again:?}"
    );
    let from_new = manager.rotate(&brand, &new.key.id).await;
    assert!(
        matches!(from_new, Err(ManagerError::Store(StoreError::RotationPending))),
        "replacing the replacement while the old key lives: {from_new:?}"
    );
    let plain = manager.create(NewKey::new(brand.clone())).await;
    assert!(
        matches!(
            plain,
            Err(ManagerError::Store(StoreError::LimitReached { limit: 1 }))
        ),
        "a second plain key: {plain:?}"
    );

    manager
        .revoke(&brand, &old.key.id)
        .await
        .expect("revoking the old key");
    assert!(matches!(
        manager.verify(old.token.expose()).await,
        Err(VerifyError::Revoked)
    ));
    manager
        .verify(new.token.expose())
        .await
        .expect("the new key survives");
    manager
        .rotate(&brand, &new.key.id)
        .await
        .expect("with the old key gone, the new one can be rotated in turn");
}

#[tokio::test]
async fn grace_rotation_keeps_both_keys_for_48_hours() {
    let clock = start();
    let manager = atribu(&clock);
    let profile = tenant("profile_1");
    let old = manager
        .create(NewKey::new(profile.clone()))
        .await
        .expect("created");
    let new = manager.rotate(&profile, &old.key.id).await.expect("rotated");

    let rotated_out = manager
        .get(&profile, &old.key.id)
        .await
        .expect("store answers")
        .expect("kept");
    assert_eq!(rotated_out.grace_until, Some(clock.now().plus(48 * HOUR)));

    clock.advance(47 * HOUR + Duration::from_secs(59 * 60));
    manager
        .verify(old.token.expose())
        .await
        .expect("the old key works at 47h59m");
    manager
        .verify(new.token.expose())
        .await
        .expect("the new key works at 47h59m");

    clock.advance(Duration::from_secs(60));
    let late = manager.verify(old.token.expose()).await;
    assert!(matches!(late, Err(VerifyError::GraceOver)), "at 48h: {late:?}");
    manager
        .verify(new.token.expose())
        .await
        .expect("the new key works after the grace period");
    assert_eq!(rotated_out.status(clock.now()), KeyStatus::GraceOver);
}

#[tokio::test]
async fn rotating_a_rotated_out_key_again_never_extends_its_grace() {
    let clock = start();
    let manager = atribu(&clock);
    let profile = tenant("profile_1");
    let old = manager
        .create(NewKey::new(profile.clone()))
        .await
        .expect("created");
    let deadline = clock.now().plus(48 * HOUR);
    let failed = manager.rotate(&profile, &old.key.id).await.expect("rotated");
    manager
        .revoke(&profile, &failed.key.id)
        .await
        .expect("the replacement is revoked");
    clock.advance(47 * HOUR);
    let retry = manager
        .rotate(&profile, &old.key.id)
        .await
        .expect("the old key, still in its grace period, is rotated again");
    let old_now = manager
        .get(&profile, &old.key.id)
        .await
        .expect("store answers")
        .expect("kept");
    assert_eq!(old_now.grace_until, Some(deadline), "the first deadline stands");
    clock.advance(HOUR);
    let late = manager.verify(old.token.expose()).await;
    assert!(matches!(late, Err(VerifyError::GraceOver)), "{late:?}");
    manager
        .verify(retry.token.expose())
        .await
        .expect("the new key works");
}

#[tokio::test]
async fn immediate_rotation_revokes_the_old_key_at_once() {
    let clock = start();
    let manager = toksta(&clock);
    let account = tenant("account_1");
    let old = manager
        .create(NewKey::new(account.clone()))
        .await
        .expect("created");
    let new = manager.rotate(&account, &old.key.id).await.expect("rotated");
    let result = manager.verify(old.token.expose()).await;
    assert!(matches!(result, Err(VerifyError::Revoked)), "{result:?}");
    manager
        .verify(new.token.expose())
        .await
        .expect("the new key works");
    let again = manager.rotate(&account, &old.key.id).await;
    assert!(
        matches!(again, Err(ManagerError::Store(StoreError::NotActive))),
        "a revoked key cannot be rotated: {again:?}"
    );
}

#[tokio::test]
async fn expiry_in_at_and_never() {
    let clock = start();
    let manager = KeyManager::builder(MemoryStore::new())
        .clock(clock.clone())
        .default_lifetime(90 * 24 * HOUR)
        .build()
        .expect("valid");
    let t = tenant("t");

    let short = manager
        .create(NewKey::new(t.clone()).expires(Expiry::In(HOUR)))
        .await
        .expect("created");
    assert_eq!(short.key.expires_at, Some(clock.now().plus(HOUR)));
    let defaulted = manager.create(NewKey::new(t.clone())).await.expect("created");
    assert_eq!(
        defaulted.key.expires_at,
        Some(clock.now().plus(90 * 24 * HOUR)),
        "Expiry::Default takes the policy's lifetime"
    );
    let at = clock.now().plus(2 * HOUR);
    let pinned = manager
        .create(NewKey::new(t.clone()).expires(Expiry::At(at)))
        .await
        .expect("created");
    assert_eq!(pinned.key.expires_at, Some(at));
    let forever = manager
        .create(NewKey::new(t.clone()).expires(Expiry::Never))
        .await
        .expect("created");
    assert_eq!(
        forever.key.expires_at, None,
        "Expiry::Never overrides the default lifetime"
    );

    for (checks, expiry) in [
        ("a time in the past", Expiry::At(Timestamp::from_millis(0))),
        ("the present moment", Expiry::At(clock.now())),
        ("a zero duration", Expiry::In(Duration::ZERO)),
        (
            "under a millisecond, the resolution of key times: born expired",
            Expiry::In(Duration::from_micros(999)),
        ),
    ] {
        let result = manager.create(NewKey::new(t.clone()).expires(expiry)).await;
        assert!(
            matches!(result, Err(ManagerError::InvalidExpiry)),
            "{checks}: {result:?}"
        );
    }

    clock.advance(HOUR - Duration::from_millis(1));
    manager
        .verify(short.token.expose())
        .await
        .expect("valid until its last millisecond");
    clock.advance(Duration::from_millis(1));
    let expired = manager.verify(short.token.expose()).await;
    assert!(matches!(expired, Err(VerifyError::Expired)), "{expired:?}");
    manager
        .verify(pinned.token.expose())
        .await
        .expect("not yet at its time");
    clock.advance(HOUR);
    assert!(matches!(
        manager.verify(pinned.token.expose()).await,
        Err(VerifyError::Expired)
    ));

    clock.advance(100 * 366 * 24 * HOUR);
    manager
        .verify(forever.token.expose())
        .await
        .expect("Expiry::Never holds after 100 years");
    assert!(matches!(
        manager.verify(defaulted.token.expose()).await,
        Err(VerifyError::Expired)
    ));
}

/// A `MemoryStore` that counts lookups, to show which refusals never reach the store.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemoryStore,
    finds: AtomicUsize,
}

impl KeyStore for CountingStore {
    fn insert<'a>(
        &'a self,
        key: &'a ApiKey,
        max_active: Option<u32>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.insert(key, max_active, now)
    }

    fn find<'a>(&'a self, lookup: &'a LookupKey) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        self.inner.find(lookup)
    }

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        self.inner.get(tenant, id)
    }

    fn list<'a>(&'a self, tenant: &'a TenantId) -> BoxFuture<'a, Result<Vec<ApiKey>, StoreError>> {
        self.inner.list(tenant)
    }

    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        self.inner.revoke(tenant, id, at)
    }

    fn rotate<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        successor: &'a ApiKey,
        old: OldKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        self.inner.rotate(tenant, id, successor, old, now)
    }

    fn record_usage<'a>(&'a self, usage: &'a [KeyUsage]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.record_usage(usage)
    }

    fn append_audit<'a>(&'a self, events: &'a [AuditEvent]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.append_audit(events)
    }

    fn audit_log<'a>(&'a self, query: &'a AuditQuery) -> BoxFuture<'a, Result<Vec<AuditEvent>, StoreError>> {
        self.inner.audit_log(query)
    }

    fn prune_audit<'a>(&'a self, before: Timestamp) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.inner.prune_audit(before)
    }

    fn keyspace<'a>(&'a self, name: &'a KeyspaceName) -> BoxFuture<'a, Result<Option<Keyspace>, StoreError>> {
        self.inner.keyspace(name)
    }

    fn keyspaces(&self) -> BoxFuture<'_, Result<Vec<Keyspace>, StoreError>> {
        self.inner.keyspaces()
    }

    fn save_keyspace<'a>(
        &'a self,
        keyspace: &'a Keyspace,
        write: KeyspaceWrite,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.save_keyspace(keyspace, write, now)
    }

    fn spend<'a>(
        &'a self,
        lineage: &'a KeyId,
        cost: u64,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Spend, StoreError>> {
        self.inner.spend(lineage, cost, now)
    }

    fn update_credits<'a>(
        &'a self,
        lineage: &'a KeyId,
        update: CreditsUpdate,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Credits>, StoreError>> {
        self.inner.update_credits(lineage, update, now)
    }

    fn changes(&self) -> &ChangeFeed {
        self.inner.changes()
    }
}

#[tokio::test]
async fn verify_names_each_reason() {
    for seed in seeds::all() {
        let name = seed.name;
        let clock = start();
        let store = Arc::new(CountingStore::default());
        let manager = KeyManager::builder_shared(store.clone())
            .format(seed.format.clone())
            .clock(clock.clone())
            .rotation(Rotation::Grace(HOUR))
            .build()
            .expect("valid");
        let t = tenant("t");
        let create = |expiry| manager.create(NewKey::new(t.clone()).expires(expiry));

        let never_issued = seed.format.mint(Environment::Live, KeyKind::Secret);
        let result = manager.verify(never_issued.expose()).await;
        assert!(
            matches!(result, Err(VerifyError::Unknown)),
            "{name}: never issued: {result:?}"
        );

        let issued = create(Expiry::Never).await.expect("created");
        let token = issued.token.expose();
        if seed.format.has_prefix() {
            // The right public prefix with a secret that was never issued (and, where the format
            // has one, a correct checksum): found by its prefix, then refused by its hash.
            let secret = &never_issued.expose()[never_issued.redacted().len()..][..32];
            let mut forged = format!("{}{secret}", issued.token.redacted());
            if seed.format.has_checksum() {
                forged = seeds::with_checksum(&forged);
            }
            let result = manager.verify(&forged).await;
            assert!(
                matches!(result, Err(VerifyError::Unknown)),
                "{name}: forged secret: {result:?}"
            );
        }

        let finds = store.finds.load(Ordering::SeqCst);
        for garbage in ["", "Bearer", &token[..token.len() - 1], &format!("{token} ")] {
            let result = manager.verify(garbage).await;
            assert!(
                matches!(result, Err(VerifyError::Malformed(_))),
                "{name}: {garbage:?}: {result:?}"
            );
        }
        assert_eq!(
            store.finds.load(Ordering::SeqCst),
            finds,
            "{name}: a malformed token reached the store"
        );

        let revoked = create(Expiry::Never).await.expect("created");
        manager.revoke(&t, &revoked.key.id).await.expect("revoked");
        let expiring = create(Expiry::In(HOUR)).await.expect("created");
        let rotated = create(Expiry::Never).await.expect("created");
        manager.rotate(&t, &rotated.key.id).await.expect("rotated");
        clock.advance(HOUR);

        for (reason, token, expected) in [
            ("revoked", &revoked.token, "revoked"),
            ("expired", &expiring.token, "expired"),
            ("rotated out", &rotated.token, "grace_over"),
        ] {
            let result = manager.verify(token.expose()).await;
            let got = result.as_ref().map_err(VerifyError::reason).err();
            assert_eq!(got, Some(expected), "{name}: {reason}");
        }
        manager
            .verify(token)
            .await
            .expect("the untouched key still works");
    }
}

#[tokio::test]
async fn successors_share_the_lineage_and_name_their_predecessor() {
    let clock = start();
    let manager = atribu(&clock);
    let profile = tenant("profile_1");
    let first = manager
        .create(
            NewKey::new(profile.clone())
                .name("Warehouse sync")
                .scopes(scopes("analytics:read"))
                .environment(Environment::Test),
        )
        .await
        .expect("created");
    assert_eq!(
        first.key.lineage, first.key.id,
        "a new key starts its own lineage"
    );
    assert_eq!(first.key.rotated_from, None);

    let second = manager.rotate(&profile, &first.key.id).await.expect("rotated");
    let third = manager
        .rotate(&profile, &second.key.id)
        .await
        .expect("rotated again");
    for (successor, predecessor) in [(&second, &first), (&third, &second)] {
        let key = &successor.key;
        assert_ne!(key.id, predecessor.key.id);
        assert_eq!(key.lineage, first.key.id);
        assert_eq!(key.rotated_from.as_ref(), Some(&predecessor.key.id));
        assert_eq!(key.name, "Warehouse sync");
        assert_eq!(key.scopes, predecessor.key.scopes);
        assert_eq!(key.environment, Environment::Test);
        assert!(successor.token.expose().starts_with("atb_test_"));
    }
    let other = manager
        .create(NewKey::new(profile.clone()))
        .await
        .expect("created");
    assert_eq!(
        other.key.lineage, other.key.id,
        "an unrelated key has its own lineage"
    );
}

#[tokio::test]
async fn a_tenant_cannot_touch_another_tenants_keys() {
    let clock = start();
    let manager = adtarget(&clock);
    let owner = tenant("site_owner");
    let intruder = tenant("site_intruder");
    let created = manager.create(NewKey::new(owner.clone())).await.expect("created");
    let id = &created.key.id;

    let revoke = manager.revoke(&intruder, id).await;
    assert!(
        matches!(revoke, Err(ManagerError::Store(StoreError::NotFound))),
        "{revoke:?}"
    );
    let rotate = manager.rotate(&intruder, id).await;
    assert!(
        matches!(rotate, Err(ManagerError::Store(StoreError::NotFound))),
        "{rotate:?}"
    );
    assert!(manager.get(&intruder, id).await.expect("answers").is_none());
    assert!(manager.list(&intruder).await.expect("answers").is_empty());
    manager
        .verify(created.token.expose())
        .await
        .expect("untouched by the attempts");
    assert_eq!(manager.list(&owner).await.expect("answers").len(), 1);
}

#[tokio::test]
async fn a_different_pepper_cannot_verify() {
    let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
    let build = |hasher| {
        KeyManager::builder_shared(store.clone())
            .hasher(hasher)
            .build()
            .expect("valid")
    };
    let issuer = build(Hasher::hmac_sha256(b"pepper-one".to_vec()));
    let same = build(Hasher::hmac_sha256(b"pepper-one".to_vec()));
    let other = build(Hasher::hmac_sha256(b"pepper-two".to_vec()));
    let unpeppered = build(Hasher::sha256());

    let created = issuer.create(NewKey::new(tenant("t"))).await.expect("created");
    let token = created.token.expose();
    assert_ne!(
        created.key.secret_hash,
        Hasher::sha256().hash(token),
        "the pepper is used"
    );
    same.verify(token).await.expect("the same pepper verifies");
    for (checks, manager) in [("another pepper", &other), ("no pepper", &unpeppered)] {
        let result = manager.verify(token).await;
        assert!(
            matches!(result, Err(VerifyError::Unknown)),
            "{checks}: {result:?}"
        );
    }
}

#[test]
fn builder_refuses_unusable_policies() {
    let zero_keys = KeyManager::builder(MemoryStore::new()).max_active_keys(0).build();
    assert_eq!(zero_keys.err(), Some(ConfigError::ZeroMaxActiveKeys));
    for grace in [Duration::ZERO, Duration::from_micros(999)] {
        let zero_grace = KeyManager::builder(MemoryStore::new())
            .rotation(Rotation::Grace(grace))
            .build();
        assert_eq!(
            zero_grace.err(),
            Some(ConfigError::ZeroGrace),
            "a grace of {grace:?}"
        );
    }
    for lifetime in [Duration::ZERO, Duration::from_micros(999)] {
        let born_expired = KeyManager::builder(MemoryStore::new())
            .default_lifetime(lifetime)
            .build();
        assert_eq!(
            born_expired.err(),
            Some(ConfigError::ZeroLifetime),
            "a default lifetime of {lifetime:?}"
        );
    }
    for (checks, rotation) in [
        (
            "a one-millisecond grace",
            Rotation::Grace(Duration::from_millis(1)),
        ),
        ("immediate rotation", Rotation::Immediate),
        ("two-step rotation", Rotation::TwoStep),
    ] {
        let built = KeyManager::builder(MemoryStore::new())
            .rotation(rotation)
            .max_active_keys(1)
            .build();
        assert!(built.is_ok(), "{checks}");
    }
}
