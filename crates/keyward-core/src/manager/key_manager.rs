//! [`KeyManager`]: create, verify, revoke and rotate keys by the policy's rules.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::policy::MILLISECOND;
use super::policy_watch::PolicyWatch;
use super::{ConfigError, CreatedKey, Expiry, KeyPolicy, ManagerError, NewKey, Rotation};
use crate::audit::{AuditEvent, AuditQuery};
use crate::credits::{Credits, CreditsUpdate, Refill};
use crate::hash::Hasher;
use crate::keyspace::{Drift, Keyspace, KeyspaceName};
use crate::lookup::PublicPrefix;
use crate::store::{KeyListener, KeyStore, KeyspaceWrite, OldKey, StoreError};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::token::{ParsedToken, TokenError, TokenFormat};
use crate::verify::{Presented, VerifyError};
use crate::{ApiKey, KeyId, LookupKey, ScopeSet, TenantId, Tier};

const MAX_NAME: usize = 100;
const MINT_ATTEMPTS: usize = 3;

/// The lifecycle of keys: the one place that mints tokens and applies the policy.
///
/// Cheap to clone (one `Arc`). Build it with [`KeyManager::new`] for the defaults (the `default`
/// keyspace, keyward's token format, SHA-256, the system clock, unrestricted default scopes,
/// 48-hour grace rotation) or [`KeyManager::builder`].
///
/// A manager works in one [keyspace](crate::keyspace): the keys it creates record it, and keys of
/// other keyspaces are unknown to it. [`KeyManagerBuilder::declare`] stores the keyspace's policy
/// (or checks it against the stored one) and [`KeyManager::open`] applies a stored one; such a
/// manager follows later changes of the stored policy, read again before its next lifecycle
/// operation once the store reports them (within a second, in every process). A manager from
/// [`KeyManagerBuilder::build`] applies its own policy in its own process only.
///
/// ```
/// use std::time::Duration;
/// use keyward_core::{KeyManager, MemoryStore, NewKey, Rotation, TenantId, VerifyError};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = KeyManager::builder(MemoryStore::new())
///     .max_active_keys(5)
///     .rotation(Rotation::Immediate)
///     .build()?;
/// let tenant = TenantId::new("site_1")?;
/// let first = manager.create(NewKey::new(tenant.clone())).await?;
/// let second = manager.rotate(&tenant, &first.key.id).await?;
/// assert!(matches!(manager.verify(first.token.expose()).await, Err(VerifyError::Revoked)));
/// assert!(manager.verify(second.token.expose()).await.is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct KeyManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    keyspace: KeyspaceName,
    format: TokenFormat,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    policy: RwLock<Arc<KeyPolicy>>,
    /// Set when the policy is the stored one, and followed.
    watch: Option<Arc<PolicyWatch>>,
}

impl fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyManager")
            .field("store", &self.inner.store)
            .field("keyspace", &self.inner.keyspace)
            .field("format", &self.inner.format)
            .field("hasher", &self.inner.hasher)
            .field("policy", &self.policy())
            .field("stored", &self.inner.watch.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: KeyStore> From<S> for KeyManager {
    fn from(store: S) -> Self {
        Self::new(store)
    }
}

impl KeyManager {
    /// A manager over `store` with the default format, hasher, clock and policy.
    pub fn new(store: impl KeyStore) -> Self {
        Self::builder(store).build().expect("the default policy is valid")
    }

    /// Starts configuring a manager over `store`.
    pub fn builder(store: impl KeyStore) -> KeyManagerBuilder {
        Self::builder_shared(Arc::new(store))
    }

    /// Starts configuring a manager over a store that is shared already.
    pub fn builder_shared(store: Arc<dyn KeyStore>) -> KeyManagerBuilder {
        KeyManagerBuilder {
            store,
            keyspace: KeyspaceName::DEFAULT.to_owned(),
            format: TokenFormat::default(),
            hasher: Hasher::sha256(),
            clock: Arc::new(SystemClock),
            policy: KeyPolicy::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn KeyStore> {
        &self.inner.store
    }

    /// Opens the keyspace `name` as the store keeps it, with the default hasher and clock; see
    /// [`KeyManagerBuilder::open`].
    ///
    /// # Errors
    ///
    /// As [`KeyManagerBuilder::open`].
    pub async fn open(store: Arc<dyn KeyStore>, name: Option<&str>) -> Result<Self, ManagerError> {
        Self::builder_shared(store).open(name).await
    }

    /// The keyspace.
    pub fn keyspace(&self) -> &KeyspaceName {
        &self.inner.keyspace
    }

    /// The token format.
    pub fn format(&self) -> &TokenFormat {
        &self.inner.format
    }

    /// The policy as last read (the stored one may have changed since: lifecycle operations read
    /// it again first).
    pub fn policy(&self) -> Arc<KeyPolicy> {
        self.inner
            .policy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The policy, read again from the store first when it reported a change.
    ///
    /// # Errors
    ///
    /// The store is unavailable; the policy stays marked for reading again.
    pub async fn current_policy(&self) -> Result<Arc<KeyPolicy>, ManagerError> {
        let Some(watch) = &self.inner.watch else {
            return Ok(self.policy());
        };
        if !watch.take_stale() {
            return Ok(self.policy());
        }
        let stored = match self.inner.store.keyspace(&self.inner.keyspace).await {
            Ok(stored) => stored,
            Err(error) => {
                watch.mark_stale();
                return Err(error.into());
            }
        };
        match stored {
            Some(stored) if stored.format == self.inner.format => {
                let differences = self.policy().differences(&stored.policy);
                if !differences.is_empty() {
                    tracing::info!(target: "keyward::lifecycle", keyspace = %self.inner.keyspace, ?differences, "keyspace policy changed in the store; applying it");
                    *self.inner.policy.write().unwrap_or_else(PoisonError::into_inner) =
                        Arc::new(stored.policy);
                }
            }
            Some(_) => {
                tracing::error!(target: "keyward::lifecycle", keyspace = %self.inner.keyspace, "the stored keyspace has another token format; keeping the policy in use")
            }
            None => {
                tracing::warn!(target: "keyward::lifecycle", keyspace = %self.inner.keyspace, "the keyspace is no longer stored; keeping the policy in use")
            }
        }
        Ok(self.policy())
    }

    /// The current time by the manager's clock.
    #[inline]
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Parses and hashes a presented token: what a cache or the store is asked with.
    ///
    /// # Errors
    ///
    /// The [`TokenError`] when the token is not of the configured format.
    #[inline]
    pub fn present(&self, token: &str) -> Result<Presented, TokenError> {
        let parsed = self.inner.format.parse(token)?;
        Ok(self.presented(&parsed))
    }

    fn presented(&self, parsed: &ParsedToken<'_>) -> Presented {
        let hash = self.inner.hasher.hash(parsed.as_secret_str());
        let lookup = match parsed.prefix().and_then(PublicPrefix::new) {
            Some(prefix) => LookupKey::Prefix(prefix),
            None => LookupKey::Hash(hash),
        };
        Presented {
            lookup,
            hash,
            kind: parsed.kind(),
        }
    }

    /// Verifies a token against the store: the record, or why not.
    ///
    /// # Errors
    ///
    /// A [`VerifyError`]: malformed (no store lookup made), unknown, revoked, expired, grace over,
    /// or the store unavailable.
    pub async fn verify(&self, token: &str) -> Result<ApiKey, VerifyError> {
        let key = self.identify(token).await?;
        key.check_status(self.now())?;
        Ok(key)
    }

    /// The key of this keyspace that `token` is, whatever its status (revoked, expired and
    /// rotated-out keys too): what a report of a leaked token is checked with. The token's hash
    /// is compared with the record's in constant time, as [`verify`](Self::verify) does.
    ///
    /// ```
    /// use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId, VerifyError};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = KeyManager::new(MemoryStore::new());
    /// let tenant = TenantId::new("site_1")?;
    /// let created = manager.create(NewKey::new(tenant.clone())).await?;
    /// manager.revoke(&tenant, &created.key.id).await?;
    /// assert!(matches!(manager.verify(created.token.expose()).await, Err(VerifyError::Revoked)));
    /// assert_eq!(manager.identify(created.token.expose()).await?.id, created.key.id);
    /// assert!(matches!(manager.identify("kw_live_nope").await, Err(VerifyError::Malformed(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`VerifyError::Malformed`] (no store lookup made), [`VerifyError::Unknown`] (no such key,
    /// or the secret does not match), or [`VerifyError::Unavailable`]; never a status.
    pub async fn identify(&self, token: &str) -> Result<ApiKey, VerifyError> {
        let presented = self.present(token)?;
        self.inner
            .store
            .find(&presented.lookup)
            .await
            .map_err(VerifyError::Unavailable)?
            .filter(|key| key.keyspace == self.inner.keyspace && key.secret_hash.verify(&presented.hash))
            .ok_or(VerifyError::Unknown)
    }

    /// Creates a key; the plaintext token is in the result and nowhere else.
    ///
    /// # Errors
    ///
    /// [`ManagerError::InvalidName`], [`ManagerError::InvalidExpiry`],
    /// [`ManagerError::ScopesNotAllowed`], [`ManagerError::TierNotAllowed`], or the store's
    /// refusal ([`StoreError::LimitReached`] when the tenant is at its maximum of active keys).
    pub async fn create(&self, new: NewKey) -> Result<CreatedKey, ManagerError> {
        validate_name(&new.name)?;
        let policy = self.current_policy().await?;
        let now = self.now();
        let expires_at = expiry(&policy, new.expiry, now)?;
        let scopes = new.scopes.unwrap_or_else(|| policy.default_scopes.clone());
        if !policy.scopes_allowed(&scopes) {
            return Err(ManagerError::ScopesNotAllowed {
                keyspace: self.inner.keyspace.clone(),
                scopes: scopes.to_string(),
            });
        }
        let tier = new.tier.unwrap_or_else(|| policy.default_tier.clone());
        if !policy.tier_allowed(&tier) {
            return Err(ManagerError::TierNotAllowed {
                keyspace: self.inner.keyspace.clone(),
                tier,
            });
        }
        let template = |id: KeyId| Template {
            id: id.clone(),
            tenant: new.tenant.clone(),
            name: new.name.clone(),
            scopes: scopes.clone(),
            tier: tier.clone(),
            kind: new.kind,
            environment: new.environment,
            created_at: now,
            expires_at,
            lineage: id,
            rotated_from: None,
            credits: new
                .credits
                .map(|(remaining, refill)| Credits::new(remaining, refill, now)),
        };
        let write = Write::Insert {
            max_active: policy.max_active_keys,
        };
        let created = self.mint_and_store(template, write, now).await?;
        let key = &created.key;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, tenant = %key.tenant, keyspace = %key.keyspace, fingerprint = %key.fingerprint(), "key created");
        Ok(created)
    }

    /// Revokes a key of `tenant` at once; caches listening to the store drop it.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] (also for another tenant's or another keyspace's key), or an
    /// outage.
    pub async fn revoke(&self, tenant: &TenantId, id: &KeyId) -> Result<ApiKey, ManagerError> {
        // A key's keyspace never changes, so the check holds for the write that follows.
        self.owned(tenant, id).await?;
        let key = self.inner.store.revoke(tenant, id, self.now()).await?;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, tenant = %key.tenant, fingerprint = %key.fingerprint(), "key revoked");
        Ok(key)
    }

    /// Rotates a key by the policy's [`Rotation`].
    ///
    /// # Errors
    ///
    /// As [`rotate_with`](Self::rotate_with).
    pub async fn rotate(&self, tenant: &TenantId, id: &KeyId) -> Result<CreatedKey, ManagerError> {
        let rotation = self.current_policy().await?.rotation;
        self.rotate_with(tenant, id, rotation).await
    }

    /// Creates a successor of the key `id` (same tenant, kind, scopes, tier, name and lineage) and
    /// treats the old key as `rotation` says. A key already in a grace period keeps the earlier of
    /// its deadline and the new one.
    ///
    /// # Errors
    ///
    /// [`ManagerError::RotationNotAllowed`] when the policy's rotation is locked to another,
    /// [`StoreError::NotFound`], [`StoreError::NotActive`], [`StoreError::RotationPending`] (a
    /// two-step replacement is already waiting), or an outage.
    pub async fn rotate_with(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        rotation: Rotation,
    ) -> Result<CreatedKey, ManagerError> {
        let policy = self.current_policy().await?;
        if !policy.rotation_allowed(rotation) {
            return Err(ManagerError::RotationNotAllowed {
                keyspace: self.inner.keyspace.clone(),
                allowed: policy.rotation,
                asked: rotation,
            });
        }
        let now = self.now();
        let old = self.owned(tenant, id).await?;
        let fate = match rotation {
            Rotation::Grace(grace) => {
                // A key already rotated out keeps its deadline: rotating it again never extends it.
                let until = now.plus(grace);
                OldKey::ExpireAt(old.grace_until.map_or(until, |current| current.min(until)))
            }
            Rotation::Immediate => OldKey::RevokeNow,
            Rotation::TwoStep => OldKey::Keep,
        };
        let expires_at = match policy.default_lifetime {
            Some(lifetime) => Some(now.plus(lifetime)),
            None => old.expires_at,
        };
        let template = |id: KeyId| Template {
            id,
            tenant: old.tenant.clone(),
            name: old.name.clone(),
            scopes: old.scopes.clone(),
            tier: old.tier.clone(),
            kind: old.kind,
            environment: old.environment,
            created_at: now,
            expires_at,
            lineage: old.lineage.clone(),
            rotated_from: Some(old.id.clone()),
            // The lineage's, shared: the store keeps them once.
            credits: old.credits,
        };
        let created = self
            .mint_and_store(template, Write::Rotate { tenant, id, fate }, now)
            .await?;
        let key = &created.key;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, rotated_from = %old.id, tenant = %key.tenant, keyspace = %key.keyspace, ?rotation, "key rotated");
        Ok(created)
    }

    /// The key `id` if it belongs to `tenant` and to this manager's keyspace.
    ///
    /// # Errors
    ///
    /// An outage.
    pub async fn get(&self, tenant: &TenantId, id: &KeyId) -> Result<Option<ApiKey>, ManagerError> {
        let key = self.inner.store.get(tenant, id).await?;
        Ok(key.filter(|key| key.keyspace == self.inner.keyspace))
    }

    /// The tenant's keys in this manager's keyspace, oldest first.
    ///
    /// # Errors
    ///
    /// An outage.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, ManagerError> {
        let mut keys = self.inner.store.list(tenant).await?;
        keys.retain(|key| key.keyspace == self.inner.keyspace);
        Ok(keys)
    }

    /// Gives the lineage of the key `id` of `tenant` `remaining` credits (at most
    /// [`MAX_CREDITS`](crate::credits::MAX_CREDITS)) from now, refilled as `refill` says,
    /// replacing any it had; every key of the lineage (its predecessors and successors by
    /// rotation) spends from them. Caches listening to the store drop the lineage's keys, so
    /// that their next request is counted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keyward_core::{KeyManager, MemoryStore, NewKey, Refill, TenantId};
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = KeyManager::new(MemoryStore::new());
    /// let tenant = TenantId::new("site_1")?;
    /// let created = manager.create(NewKey::new(tenant.clone())).await?;
    /// let monthly = Refill::new(10_000, Duration::from_secs(30 * 86_400))?;
    /// let credits = manager.set_credits(&tenant, &created.key.id, 500, Some(monthly)).await?;
    /// assert_eq!(credits.remaining, 500);
    /// assert_eq!(manager.add_credits(&tenant, &created.key.id, 100).await?.remaining, 600);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] (also for another tenant's or another keyspace's key), or an
    /// outage.
    pub async fn set_credits(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        remaining: u64,
        refill: Option<Refill>,
    ) -> Result<Credits, ManagerError> {
        let key = self.owned(tenant, id).await?;
        let now = self.now();
        let credits = Credits::new(remaining, refill, now);
        self.inner
            .store
            .update_credits(&key.lineage, CreditsUpdate::Set(credits), now)
            .await?;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, lineage = %key.lineage, tenant = %key.tenant, remaining = credits.remaining, refill = ?refill.map(|r| r.to_string()), "credits set");
        Ok(credits)
    }

    /// Adds `amount` credits to the lineage of the key `id` of `tenant` (a due refill applied
    /// first), atomically with the requests spending them, and returns the credits afterwards.
    ///
    /// # Errors
    ///
    /// [`ManagerError::NoCredits`] when the lineage has none (give it some with
    /// [`set_credits`](Self::set_credits)), [`StoreError::NotFound`], or an outage.
    pub async fn add_credits(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        amount: u64,
    ) -> Result<Credits, ManagerError> {
        let key = self.owned(tenant, id).await?;
        let credits = self
            .inner
            .store
            .update_credits(&key.lineage, CreditsUpdate::Add(amount), self.now())
            .await?
            .ok_or(ManagerError::NoCredits)?;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, lineage = %key.lineage, tenant = %key.tenant, added = amount, remaining = credits.remaining, "credits added");
        Ok(credits)
    }

    /// Takes the credits away from the lineage of the key `id` of `tenant`: its requests are no
    /// longer counted. Caches listening to the store drop the lineage's keys.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], or an outage.
    pub async fn remove_credits(&self, tenant: &TenantId, id: &KeyId) -> Result<(), ManagerError> {
        let key = self.owned(tenant, id).await?;
        self.inner
            .store
            .update_credits(&key.lineage, CreditsUpdate::Remove, self.now())
            .await?;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, lineage = %key.lineage, tenant = %key.tenant, "credits removed");
        Ok(())
    }

    /// The key `id` of `tenant` in this keyspace, or [`StoreError::NotFound`].
    async fn owned(&self, tenant: &TenantId, id: &KeyId) -> Result<ApiKey, ManagerError> {
        Ok(self.get(tenant, id).await?.ok_or(StoreError::NotFound)?)
    }

    /// The audit events `query` selects, newest first.
    ///
    /// # Errors
    ///
    /// An outage.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ManagerError> {
        Ok(self.inner.store.audit_log(query).await?)
    }

    /// Mints a key from `template` (given a fresh id) and writes it as `write` says, minting again
    /// while the store answers [`StoreError::Duplicate`], at most [`MINT_ATTEMPTS`] times.
    async fn mint_and_store(
        &self,
        template: impl Fn(KeyId) -> Template,
        write: Write<'_>,
        now: Timestamp,
    ) -> Result<CreatedKey, ManagerError> {
        let store = &self.inner.store;
        for _ in 0..MINT_ATTEMPTS {
            let (token, key) = self.mint(template(KeyId::generate()));
            let written = match write {
                Write::Insert { max_active } => store.insert(&key, max_active, now).await,
                Write::Rotate { tenant, id, fate } => {
                    store.rotate(tenant, id, &key, fate, now).await.map(drop)
                }
            };
            match written {
                Ok(()) => return Ok(CreatedKey { token, key }),
                Err(StoreError::Duplicate) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Duplicate.into())
    }

    fn mint(&self, t: Template) -> (crate::token::PlaintextToken, ApiKey) {
        let token = self.inner.format.mint(t.environment, t.kind);
        let parsed = self
            .inner
            .format
            .parse(token.expose())
            .expect("a minted token parses");
        let presented = self.presented(&parsed);
        let key = ApiKey {
            id: t.id,
            tenant: t.tenant,
            keyspace: self.inner.keyspace.clone(),
            lookup: presented.lookup,
            secret_hash: presented.hash,
            display_prefix: token.redacted().to_owned(),
            kind: t.kind,
            environment: t.environment,
            scopes: t.scopes,
            tier: t.tier,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: None,
            last_used_at: None,
            request_count: 0,
            lineage: t.lineage,
            rotated_from: t.rotated_from,
            grace_until: None,
            credits: t.credits,
        };
        (token, key)
    }
}

/// How [`KeyManager::mint_and_store`] writes a new key.
#[derive(Clone, Copy)]
enum Write<'a> {
    /// As a new lineage, within this limit of active keys.
    Insert { max_active: Option<u32> },
    /// As the successor of the key `id` of `tenant`, which meets `fate`.
    Rotate {
        tenant: &'a TenantId,
        id: &'a KeyId,
        fate: OldKey,
    },
}

struct Template {
    id: KeyId,
    tenant: TenantId,
    name: String,
    scopes: ScopeSet,
    tier: Tier,
    kind: crate::KeyKind,
    environment: crate::Environment,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    lineage: KeyId,
    rotated_from: Option<KeyId>,
    credits: Option<Credits>,
}

/// When a key created now with `expiry` expires, by `policy`.
fn expiry(policy: &KeyPolicy, expiry: Expiry, now: Timestamp) -> Result<Option<Timestamp>, ManagerError> {
    let at = match expiry {
        Expiry::Default => policy.default_lifetime.map(|d| now.plus(d)),
        Expiry::Never => None,
        Expiry::In(duration) if duration < MILLISECOND => return Err(ManagerError::InvalidExpiry),
        Expiry::In(duration) => Some(now.plus(duration)),
        Expiry::At(at) if at <= now => return Err(ManagerError::InvalidExpiry),
        Expiry::At(at) => Some(at),
    };
    Ok(at)
}

fn validate_name(name: &str) -> Result<(), ManagerError> {
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ManagerError::InvalidName);
    }
    Ok(())
}

/// Configures a [`KeyManager`]; see [`KeyManager::builder`].
#[must_use]
pub struct KeyManagerBuilder {
    store: Arc<dyn KeyStore>,
    keyspace: String,
    format: TokenFormat,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    policy: KeyPolicy,
}

impl fmt::Debug for KeyManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyManagerBuilder")
            .field("keyspace", &self.keyspace)
            .field("format", &self.format)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KeyManagerBuilder {
    /// The keyspace to work in (`default` unless set): 1 to 64 lowercase letters, digits, `_` or
    /// `-`, checked when the manager is built.
    pub fn keyspace(mut self, name: &str) -> Self {
        name.clone_into(&mut self.keyspace);
        self
    }

    /// The token format to mint and accept.
    pub fn format(mut self, format: TokenFormat) -> Self {
        self.format = format;
        self
    }

    /// How secrets are hashed (HMAC-SHA256 with a pepper, say).
    pub fn hasher(mut self, hasher: Hasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// The clock (a [`ManualClock`](crate::time::ManualClock) in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Scopes for keys created without any.
    pub fn default_scopes(mut self, scopes: ScopeSet) -> Self {
        self.policy.default_scopes = scopes;
        self
    }

    /// The only scopes keys may be given (the default scopes must be among them).
    pub fn allowed_scopes(mut self, scopes: ScopeSet) -> Self {
        self.policy.allowed_scopes = Some(scopes);
        self
    }

    /// The only tiers keys may be on (the default tier must be among them).
    pub fn tiers(mut self, tiers: impl IntoIterator<Item = Tier>) -> Self {
        let mut tiers: Vec<Tier> = tiers.into_iter().collect();
        tiers.sort();
        tiers.dedup();
        self.policy.tiers = Some(tiers);
        self
    }

    /// Tier for keys created without one.
    pub fn default_tier(mut self, tier: Tier) -> Self {
        self.policy.default_tier = tier;
        self
    }

    /// Lifetime of keys created with [`Expiry::Default`].
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.policy.default_lifetime = Some(lifetime);
        self
    }

    /// Most active keys per tenant (a key and its pending successor count once).
    pub fn max_active_keys(mut self, max: u32) -> Self {
        self.policy.max_active_keys = Some(max);
        self
    }

    /// What [`KeyManager::rotate`] does.
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.policy.rotation = rotation;
        self
    }

    /// Makes the policy's rotation the only one: [`KeyManager::rotate_with`] refuses any other
    /// (so do the CLI's and the management API's overrides).
    pub fn lock_rotation(mut self) -> Self {
        self.policy.rotation_locked = true;
        self
    }

    /// Builds the manager, applying the policy as configured, in this process only: the store
    /// does not keep it. Use [`declare`](Self::declare) when other processes (the `keyward` CLI,
    /// another instance) create or rotate keys on the same store.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid keyspace name or a policy that
    /// [`KeyPolicy::validate`] refuses.
    pub fn build(self) -> Result<KeyManager, ConfigError> {
        let keyspace = self.validate()?;
        Ok(self.finish(keyspace, None))
    }

    /// Builds the manager and makes its keyspace the store's: stores the keyspace (format and
    /// policy) when the store has none of that name; when it has one, checks that its format is
    /// the same and treats a different policy as `drift` says. The manager then follows the
    /// stored policy: a change made elsewhere (`keyward keyspace set`, another process declaring
    /// with [`Drift::Overwrite`]) applies from its next lifecycle operation.
    ///
    /// # Errors
    ///
    /// [`ManagerError::FormatMismatch`]; [`ManagerError::PolicyMismatch`] with
    /// [`Drift::Refuse`]; an invalid configuration, as [`ConfigError`] in
    /// [`ManagerError::Config`]; or the store's outage.
    pub async fn declare(self, drift: Drift) -> Result<KeyManager, ManagerError> {
        let name = self.validate()?;
        let declared = Keyspace::new(name.clone(), self.format.clone(), self.policy.clone());
        let watch = self.watch(&name);
        let store = &self.store;
        let now = self.clock.now();
        let mut created_elsewhere = false;
        let policy = loop {
            let Some(stored) = store.keyspace(&name).await? else {
                if store.save_keyspace(&declared, KeyspaceWrite::Create, now).await? {
                    tracing::info!(target: "keyward::lifecycle", keyspace = %name, "keyspace declared");
                    break declared.policy.clone();
                }
                if created_elsewhere {
                    return Err(StoreError::unavailable(
                        "the store neither creates nor returns the keyspace",
                    )
                    .into());
                }
                // Declared by another process meanwhile: compare with that.
                created_elsewhere = true;
                continue;
            };
            if stored.format != declared.format {
                return Err(ManagerError::FormatMismatch(name));
            }
            let differences = stored.policy.differences(&declared.policy);
            if differences.is_empty() {
                break stored.policy;
            }
            match drift {
                Drift::Refuse => {
                    return Err(ManagerError::PolicyMismatch {
                        keyspace: name,
                        differences,
                    });
                }
                Drift::Overwrite => {
                    store
                        .save_keyspace(&declared, KeyspaceWrite::Replace, now)
                        .await?;
                    tracing::warn!(target: "keyward::lifecycle", keyspace = %name, ?differences, "stored keyspace policy replaced by the declared one");
                    break declared.policy.clone();
                }
                Drift::KeepStored => {
                    tracing::warn!(target: "keyward::lifecycle", keyspace = %name, ?differences, "applying the stored keyspace policy, which differs from the declared one");
                    break stored.policy;
                }
            }
        };
        let mut builder = self;
        builder.policy = policy;
        Ok(builder.finish(name, Some(watch)))
    }

    /// Builds a manager for the keyspace `name` as the store keeps it (its format and policy;
    /// this builder's hasher and clock): what tools beside an app use, such as the `keyward` CLI.
    /// Without a name: the store's only keyspace, else `default` when it has that one or none at
    /// all. The `default`
    /// keyspace is stored with this builder's format and policy when it is opened and missing.
    /// The manager follows later changes of the stored policy.
    ///
    /// # Errors
    ///
    /// [`ManagerError::UnknownKeyspace`]; [`ManagerError::KeyspaceNotNamed`] when the store holds
    /// several, none of them `default`, and none is named; an invalid name, as [`ManagerError::Config`]; or the store's
    /// outage or unreadable keyspace.
    pub async fn open(self, name: Option<&str>) -> Result<KeyManager, ManagerError> {
        let name = match name {
            Some(name) => KeyspaceName::new(name).map_err(ConfigError::from)?,
            None => {
                let stored = self.store.keyspaces().await?;
                match stored.as_slice() {
                    [] => KeyspaceName::default(),
                    [only] => only.name.clone(),
                    several if several.iter().any(|k| k.name.as_str() == KeyspaceName::DEFAULT) => {
                        KeyspaceName::default()
                    }
                    several => {
                        let names = several.iter().map(|k| k.name.to_string()).collect();
                        return Err(ManagerError::KeyspaceNotNamed(names));
                    }
                }
            }
        };
        if name.as_str() == KeyspaceName::DEFAULT && self.store.keyspace(&name).await?.is_none() {
            return self
                .keyspace(KeyspaceName::DEFAULT)
                .declare(Drift::KeepStored)
                .await;
        }
        let watch = self.watch(&name);
        let stored = self
            .store
            .keyspace(&name)
            .await?
            .ok_or_else(|| ManagerError::UnknownKeyspace(name.clone()))?;
        let mut builder = self;
        builder.format = stored.format;
        builder.policy = stored.policy;
        Ok(builder.finish(name, Some(watch)))
    }

    fn validate(&self) -> Result<KeyspaceName, ConfigError> {
        let name = KeyspaceName::new(&self.keyspace)?;
        self.policy.validate()?;
        Ok(name)
    }

    /// A watch on the keyspace's stored policy, listening before the policy is read so that no
    /// change after the read is missed.
    fn watch(&self, name: &KeyspaceName) -> Arc<PolicyWatch> {
        let watch = Arc::new(PolicyWatch::new(name.clone()));
        let listener: Arc<dyn KeyListener> = watch.clone();
        self.store.changes().subscribe(&listener);
        watch
    }

    fn finish(self, keyspace: KeyspaceName, watch: Option<Arc<PolicyWatch>>) -> KeyManager {
        KeyManager {
            inner: Arc::new(Inner {
                store: self.store,
                keyspace,
                format: self.format,
                hasher: self.hasher,
                clock: self.clock,
                policy: RwLock::new(Arc::new(self.policy)),
                watch,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, NewKey};

    fn send<T: Send>(value: T) -> T {
        value
    }

    /// Web frameworks run handlers on work-stealing runtimes: the lifecycle futures must be `Send`.
    #[tokio::test]
    async fn lifecycle_futures_are_send() {
        let manager = KeyManager::new(MemoryStore::new());
        let tenant = TenantId::new("site_1").expect("valid tenant");
        let created = send(manager.create(NewKey::new(tenant.clone())))
            .await
            .expect("created");
        let rotated = send(manager.rotate(&tenant, &created.key.id))
            .await
            .expect("rotated");
        assert_eq!(rotated.key.rotated_from.as_ref(), Some(&created.key.id));
        assert_eq!(rotated.key.lineage, created.key.id);
    }
}
