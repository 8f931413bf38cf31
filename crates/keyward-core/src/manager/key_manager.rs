//! [`KeyManager`]: create, verify, revoke and rotate keys by the policy's rules.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{ConfigError, CreatedKey, Expiry, KeyPolicy, ManagerError, NewKey, Rotation};
use crate::audit::{AuditEvent, AuditQuery};
use crate::hash::Hasher;
use crate::lookup::PublicPrefix;
use crate::store::{KeyStore, OldKey, StoreError};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::token::{ParsedToken, TokenError, TokenFormat};
use crate::verify::{Presented, VerifyError};
use crate::{ApiKey, KeyId, LookupKey, ScopeSet, TenantId, Tier};

const MAX_NAME: usize = 100;
const MINT_ATTEMPTS: usize = 3;
/// Key times are whole milliseconds: a shorter duration adds nothing to a timestamp.
const MILLISECOND: Duration = Duration::from_millis(1);

/// The lifecycle of keys: the one place that mints tokens and applies the policy.
///
/// Cheap to clone (one `Arc`). Build it with [`KeyManager::new`] for the defaults (keyward's token
/// format, SHA-256, the system clock, unrestricted default scopes, 48-hour grace rotation) or
/// [`KeyManager::builder`].
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
    format: TokenFormat,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    policy: KeyPolicy,
}

impl fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyManager")
            .field("store", &self.inner.store)
            .field("format", &self.inner.format)
            .field("hasher", &self.inner.hasher)
            .field("policy", &self.inner.policy)
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

    /// The token format.
    pub fn format(&self) -> &TokenFormat {
        &self.inner.format
    }

    /// The policy.
    pub fn policy(&self) -> &KeyPolicy {
        &self.inner.policy
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
        let presented = self.present(token)?;
        let key = self
            .inner
            .store
            .find(&presented.lookup)
            .await
            .map_err(VerifyError::Unavailable)?
            .ok_or(VerifyError::Unknown)?;
        key.check(&presented.hash, self.now())?;
        Ok(key)
    }

    /// Creates a key; the plaintext token is in the result and nowhere else.
    ///
    /// # Errors
    ///
    /// [`ManagerError::InvalidName`], [`ManagerError::InvalidExpiry`], or the store's refusal
    /// ([`StoreError::LimitReached`] when the tenant is at its maximum of active keys).
    pub async fn create(&self, new: NewKey) -> Result<CreatedKey, ManagerError> {
        validate_name(&new.name)?;
        let now = self.now();
        let expires_at = self.expiry(new.expiry, now)?;
        let scopes = new
            .scopes
            .unwrap_or_else(|| self.inner.policy.default_scopes.clone());
        let tier = new.tier.unwrap_or_else(|| self.inner.policy.default_tier.clone());
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
        };
        let created = self.mint_and_store(template, Write::Insert, now).await?;
        let key = &created.key;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, tenant = %key.tenant, fingerprint = %key.fingerprint(), "key created");
        Ok(created)
    }

    /// Revokes a key of `tenant` at once; caches listening to the store drop it.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] (also for another tenant's key), or an outage.
    pub async fn revoke(&self, tenant: &TenantId, id: &KeyId) -> Result<ApiKey, ManagerError> {
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
        self.rotate_with(tenant, id, self.inner.policy.rotation).await
    }

    /// Creates a successor of the key `id` (same tenant, kind, scopes, tier, name and lineage) and
    /// treats the old key as `rotation` says. A key already in a grace period keeps the earlier of
    /// its deadline and the new one.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::NotActive`], [`StoreError::RotationPending`] (a
    /// two-step replacement is already waiting), or an outage.
    pub async fn rotate_with(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        rotation: Rotation,
    ) -> Result<CreatedKey, ManagerError> {
        let now = self.now();
        let old = self
            .inner
            .store
            .get(tenant, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let fate = match rotation {
            Rotation::Grace(grace) => {
                // A key already rotated out keeps its deadline: rotating it again never extends it.
                let until = now.plus(grace);
                OldKey::ExpireAt(old.grace_until.map_or(until, |current| current.min(until)))
            }
            Rotation::Immediate => OldKey::RevokeNow,
            Rotation::TwoStep => OldKey::Keep,
        };
        let expires_at = match self.inner.policy.default_lifetime {
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
        };
        let created = self
            .mint_and_store(template, Write::Rotate { tenant, id, fate }, now)
            .await?;
        let key = &created.key;
        tracing::info!(target: "keyward::lifecycle", key_id = %key.id, rotated_from = %old.id, tenant = %key.tenant, ?rotation, "key rotated");
        Ok(created)
    }

    /// The key `id` if it belongs to `tenant`.
    ///
    /// # Errors
    ///
    /// An outage.
    pub async fn get(&self, tenant: &TenantId, id: &KeyId) -> Result<Option<ApiKey>, ManagerError> {
        Ok(self.inner.store.get(tenant, id).await?)
    }

    /// The tenant's keys, oldest first.
    ///
    /// # Errors
    ///
    /// An outage.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, ManagerError> {
        Ok(self.inner.store.list(tenant).await?)
    }

    /// The audit events `query` selects, newest first.
    ///
    /// # Errors
    ///
    /// An outage.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ManagerError> {
        Ok(self.inner.store.audit_log(query).await?)
    }

    fn expiry(&self, expiry: Expiry, now: Timestamp) -> Result<Option<Timestamp>, ManagerError> {
        let at = match expiry {
            Expiry::Default => self.inner.policy.default_lifetime.map(|d| now.plus(d)),
            Expiry::Never => None,
            Expiry::In(duration) if duration < MILLISECOND => return Err(ManagerError::InvalidExpiry),
            Expiry::In(duration) => Some(now.plus(duration)),
            Expiry::At(at) if at <= now => return Err(ManagerError::InvalidExpiry),
            Expiry::At(at) => Some(at),
        };
        Ok(at)
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
                Write::Insert => store.insert(&key, self.inner.policy.max_active_keys, now).await,
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
        };
        (token, key)
    }
}

/// How [`KeyManager::mint_and_store`] writes a new key.
#[derive(Clone, Copy)]
enum Write<'a> {
    /// As a new lineage, within the policy's limit of active keys.
    Insert,
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
    format: TokenFormat,
    hasher: Hasher,
    clock: Arc<dyn Clock>,
    policy: KeyPolicy,
}

impl fmt::Debug for KeyManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyManagerBuilder")
            .field("format", &self.format)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KeyManagerBuilder {
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

    /// Builds the manager.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a zero key limit, or a grace period or default lifetime under one
    /// millisecond.
    pub fn build(self) -> Result<KeyManager, ConfigError> {
        if self.policy.max_active_keys == Some(0) {
            return Err(ConfigError::ZeroMaxActiveKeys);
        }
        if matches!(self.policy.rotation, Rotation::Grace(grace) if grace < MILLISECOND) {
            return Err(ConfigError::ZeroGrace);
        }
        if self.policy.default_lifetime.is_some_and(|d| d < MILLISECOND) {
            return Err(ConfigError::ZeroLifetime);
        }
        Ok(KeyManager {
            inner: Arc::new(Inner {
                store: self.store,
                format: self.format,
                hasher: self.hasher,
                clock: self.clock,
                policy: self.policy,
            }),
        })
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
