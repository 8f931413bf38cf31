//! The [`KeyStore`] trait: what every store offers.

use std::fmt;

use futures_util::future::BoxFuture;

use super::{ChangeFeed, StoreError};
use crate::audit::{AuditEvent, AuditQuery, KeyUsage};
use crate::credits::{Credits, CreditsUpdate, Spend};
use crate::time::Timestamp;
use crate::{ApiKey, KeyId, Keyspace, KeyspaceName, LookupKey, TenantId};

/// What happens to the old key when a successor is inserted by [`KeyStore::rotate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OldKey {
    /// It stays valid until revoked (two-step replacement).
    Keep,
    /// It stays valid until this time (a grace period).
    ExpireAt(Timestamp),
    /// It is revoked at once.
    RevokeNow,
}

/// How [`KeyStore::save_keyspace`] writes a keyspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyspaceWrite {
    /// Only when no keyspace of that name is stored (a first declaration).
    Create,
    /// Whatever is stored (a policy change).
    Replace,
}

/// Where keys live. Implemented by [`MemoryStore`](super::MemoryStore) and, behind features, the
/// SQLite and PostgreSQL stores.
///
/// Every write that changes whether a key is valid (revoke, rotate) publishes a
/// [`KeyChange`](super::KeyChange) on [`changes`](Self::changes) before it returns. Futures are
/// boxed so the trait can be used as `Arc<dyn KeyStore>`; they run only off the hot path (cache
/// misses, management calls, background flushes).
///
/// A key is *active* at `now` when it is not revoked, not expired and not past its grace period;
/// its *lineage* is the id of the first key of its rotation chain. Keys are read with their
/// lineage's [credits](crate::credits) as they were stored (apply [`Credits::at`] for the count
/// at a given time).
pub trait KeyStore: Send + Sync + fmt::Debug + 'static {
    /// Inserts a new key, starting a new lineage (with the key's [`credits`](ApiKey::credits), if
    /// any), atomically refusing it when its tenant already has `max_active` active lineages in the
    /// key's keyspace.
    ///
    /// # Errors
    ///
    /// [`StoreError::LimitReached`], [`StoreError::Duplicate`] (same lookup), or an outage.
    fn insert<'a>(
        &'a self,
        key: &'a ApiKey,
        max_active: Option<u32>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The key indexed by `lookup`, whatever its status.
    ///
    /// # Errors
    ///
    /// Only an outage.
    fn find<'a>(&'a self, lookup: &'a LookupKey) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>>;

    /// The key `id` if it belongs to `tenant`.
    ///
    /// # Errors
    ///
    /// Only an outage.
    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>>;

    /// The tenant's keys, oldest first.
    ///
    /// # Errors
    ///
    /// Only an outage.
    fn list<'a>(&'a self, tenant: &'a TenantId) -> BoxFuture<'a, Result<Vec<ApiKey>, StoreError>>;

    /// Revokes the key `id` of `tenant` at `at` and returns it. Revoking a revoked key returns it
    /// unchanged.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], or an outage.
    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>>;

    /// Atomically inserts `successor` (same tenant and lineage as the old key, `rotated_from` set)
    /// and applies `old` to the key `id`; returns the old key as updated. The successor shares the
    /// lineage's credits: its own [`credits`](ApiKey::credits) field is not written.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`]; [`StoreError::NotActive`] when the old key is not active;
    /// [`StoreError::RotationPending`] when another key of the lineage is active with no end date;
    /// [`StoreError::Duplicate`]; or an outage.
    fn rotate<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        successor: &'a ApiKey,
        old: OldKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>>;

    /// Folds a batch of uses into `last_used_at` (the latest wins) and `request_count`. Unknown ids
    /// are skipped.
    ///
    /// # Errors
    ///
    /// Only an outage; then nothing of the batch was written.
    fn record_usage<'a>(&'a self, usage: &'a [KeyUsage]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Appends audit events.
    ///
    /// # Errors
    ///
    /// Only an outage; then nothing of the batch was written.
    fn append_audit<'a>(&'a self, events: &'a [AuditEvent]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Appends audit events it is given, as [`append_audit`](Self::append_audit) does: a store that
    /// keeps them in memory moves them in instead of copying each. The usage and audit writer
    /// calls this one. By default, it calls `append_audit`.
    ///
    /// # Errors
    ///
    /// Only an outage; then nothing of the batch was written, and the events come back with the
    /// error, so that the caller can try again.
    fn append_audit_owned(
        &self,
        events: Vec<AuditEvent>,
    ) -> BoxFuture<'_, Result<(), (StoreError, Vec<AuditEvent>)>> {
        Box::pin(async move {
            match self.append_audit(&events).await {
                Ok(()) => Ok(()),
                Err(error) => Err((error, events)),
            }
        })
    }

    /// The audit events that `query` selects (its tenant's only, every filter applied), newest
    /// first, at most its limit.
    ///
    /// # Errors
    ///
    /// Only an outage.
    fn audit_log<'a>(&'a self, query: &'a AuditQuery) -> BoxFuture<'a, Result<Vec<AuditEvent>, StoreError>>;

    /// Deletes the audit events of every tenant from before `before`, and returns how many.
    /// Events at `before` or later are kept. A large deletion may be split into several
    /// transactions, so that writers never wait long; an outage part-way leaves the rest for the
    /// next call.
    ///
    /// # Errors
    ///
    /// Only an outage.
    fn prune_audit<'a>(&'a self, before: Timestamp) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// The keyspace `name`, if stored.
    ///
    /// # Errors
    ///
    /// An outage, or a stored document this version cannot read.
    fn keyspace<'a>(&'a self, name: &'a KeyspaceName) -> BoxFuture<'a, Result<Option<Keyspace>, StoreError>>;

    /// Every stored keyspace, by name.
    ///
    /// # Errors
    ///
    /// An outage, or a stored document this version cannot read.
    fn keyspaces(&self) -> BoxFuture<'_, Result<Vec<Keyspace>, StoreError>>;

    /// Stores `keyspace` as `write` says and returns whether it was written; a write publishes a
    /// [`Change::Keyspace`](super::Change::Keyspace), to other processes too where the store can.
    ///
    /// # Errors
    ///
    /// Only an outage.
    fn save_keyspace<'a>(
        &'a self,
        keyspace: &'a Keyspace,
        write: KeyspaceWrite,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Spends `cost` credits of the lineage `lineage` at `now`, in one atomic step that first
    /// applies a refill whose boundary has passed: however many requests spend at once, in this
    /// process or others, no more than the credits are ever allowed. A refused spend takes nothing.
    /// [`Spend::Unmetered`] when the lineage has no credits.
    ///
    /// # Errors
    ///
    /// Only an outage; then nothing was spent.
    fn spend<'a>(
        &'a self,
        lineage: &'a KeyId,
        cost: u64,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Spend, StoreError>>;

    /// Changes the credits of the lineage `lineage` as `update` says, atomically, and returns them
    /// as they stand afterwards (`None`: the lineage has none). Setting or removing credits
    /// publishes a [`KeyChange`](super::KeyChange) for every key of the lineage, so that caches
    /// learn whether its requests are counted.
    ///
    /// # Errors
    ///
    /// Only an outage; then nothing was changed.
    fn update_credits<'a>(
        &'a self,
        lineage: &'a KeyId,
        update: CreditsUpdate,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Credits>, StoreError>>;

    /// The feed that revocations and rotations are published on.
    fn changes(&self) -> &ChangeFeed;
}
