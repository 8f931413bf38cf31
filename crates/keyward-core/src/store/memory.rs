//! [`MemoryStore`]: keys in this process's memory, for tests and single-process apps that mint keys
//! at start-up.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures_util::future::{BoxFuture, FutureExt};

use super::{ChangeFeed, KeyChange, KeyStore, KeyspaceWrite, OldKey, StoreError};
use crate::audit::{AuditEvent, AuditQuery, KeyUsage};
use crate::credits::{Credits, CreditsUpdate, Spend};
use crate::time::Timestamp;
use crate::{ApiKey, KeyId, Keyspace, KeyspaceName, LookupKey, TenantId};

/// A [`KeyStore`] in memory. Everything is lost when the process exits, and only the latest
/// [`MAX_AUDIT_EVENTS`](Self::MAX_AUDIT_EVENTS) audit events are kept.
///
/// ```
/// use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = KeyManager::new(MemoryStore::new());
/// let created = manager.create(NewKey::new(TenantId::new("site_1")?)).await?;
/// let key = manager.verify(created.token.expose()).await?;
/// assert_eq!(key.tenant.as_str(), "site_1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    changes: ChangeFeed,
}

#[derive(Debug, Default)]
struct State {
    keys: HashMap<KeyId, ApiKey>,
    by_lookup: HashMap<LookupKey, KeyId>,
    audit: VecDeque<AuditEvent>,
    keyspaces: BTreeMap<KeyspaceName, Keyspace>,
    /// Credits by lineage.
    credits: HashMap<KeyId, Credits>,
}

impl State {
    fn active_lineages(&self, tenant: &TenantId, keyspace: &KeyspaceName, now: Timestamp) -> usize {
        self.keys
            .values()
            .filter(|k| &k.tenant == tenant && &k.keyspace == keyspace && k.is_active(now))
            .map(|k| &k.lineage)
            .collect::<HashSet<_>>()
            .len()
    }

    fn check_new(&self, key: &ApiKey) -> Result<(), StoreError> {
        if self.by_lookup.contains_key(&key.lookup) || self.keys.contains_key(&key.id) {
            return Err(StoreError::Duplicate);
        }
        Ok(())
    }

    fn add(&mut self, key: &ApiKey) {
        self.by_lookup.insert(key.lookup, key.id.clone());
        // The lineage's credits are kept once, by lineage; each read attaches them.
        let key = ApiKey {
            credits: None,
            ..key.clone()
        };
        self.keys.insert(key.id.clone(), key);
    }

    /// A copy of `key` with its lineage's credits, as every read returns it.
    fn view(&self, key: &ApiKey) -> ApiKey {
        ApiKey {
            credits: self.credits.get(&key.lineage).copied(),
            ..key.clone()
        }
    }

    fn owned_mut(&mut self, tenant: &TenantId, id: &KeyId) -> Result<&mut ApiKey, StoreError> {
        self.keys
            .get_mut(id)
            .filter(|k| &k.tenant == tenant)
            .ok_or(StoreError::NotFound)
    }
}

impl MemoryStore {
    /// Audit events kept; older ones are dropped first.
    pub const MAX_AUDIT_EVENTS: usize = 100_000;

    /// Appends `events`, then drops the oldest beyond [`MAX_AUDIT_EVENTS`](Self::MAX_AUDIT_EVENTS).
    fn keep_audit(&self, events: impl IntoIterator<Item = AuditEvent>) {
        let mut state = self.state();
        state.audit.extend(events);
        let over = state.audit.len().saturating_sub(Self::MAX_AUDIT_EVENTS);
        state.audit.drain(..over);
    }

    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert_now(&self, key: &ApiKey, max_active: Option<u32>, now: Timestamp) -> Result<(), StoreError> {
        let mut state = self.state();
        state.check_new(key)?;
        if let Some(limit) = max_active
            && state.active_lineages(&key.tenant, &key.keyspace, now) >= limit as usize
        {
            return Err(StoreError::LimitReached { limit });
        }
        state.add(key);
        if let Some(credits) = key.credits {
            state.credits.insert(key.lineage.clone(), credits);
        }
        Ok(())
    }

    fn revoke_now(&self, tenant: &TenantId, id: &KeyId, at: Timestamp) -> Result<ApiKey, StoreError> {
        let revoked = {
            let mut state = self.state();
            let key = state.owned_mut(tenant, id)?;
            if key.revoked_at.is_none() {
                key.revoked_at = Some(at);
            } else {
                let key = key.clone();
                return Ok(state.view(&key));
            }
            let key = key.clone();
            state.view(&key)
        };
        self.changes.publish(&KeyChange {
            key_id: revoked.id.clone(),
            lookup: revoked.lookup,
        });
        Ok(revoked)
    }

    fn rotate_now(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        successor: &ApiKey,
        old: OldKey,
        now: Timestamp,
    ) -> Result<ApiKey, StoreError> {
        let updated = {
            let mut state = self.state();
            let current = state
                .keys
                .get(id)
                .filter(|k| &k.tenant == tenant)
                .ok_or(StoreError::NotFound)?;
            if !current.is_active(now) {
                return Err(StoreError::NotActive);
            }
            let lineage = current.lineage.clone();
            let pending = state
                .keys
                .values()
                .any(|k| k.lineage == lineage && &k.id != id && k.is_active(now) && k.grace_until.is_none());
            if pending {
                return Err(StoreError::RotationPending);
            }
            state.check_new(successor)?;
            state.add(successor);
            let key = state.owned_mut(tenant, id)?;
            match old {
                OldKey::Keep => {}
                OldKey::ExpireAt(at) => key.grace_until = Some(at),
                OldKey::RevokeNow => key.revoked_at = Some(now),
            }
            let key = key.clone();
            state.view(&key)
        };
        if old != OldKey::Keep {
            self.changes.publish(&KeyChange {
                key_id: updated.id.clone(),
                lookup: updated.lookup,
            });
        }
        Ok(updated)
    }

    fn save_keyspace_now(&self, keyspace: &Keyspace, write: KeyspaceWrite) -> bool {
        {
            let mut state = self.state();
            if write == KeyspaceWrite::Create && state.keyspaces.contains_key(&keyspace.name) {
                return false;
            }
            state.keyspaces.insert(keyspace.name.clone(), keyspace.clone());
        }
        self.changes.publish_keyspace(&keyspace.name);
        true
    }

    fn spend_now(&self, lineage: &KeyId, cost: u64, now: Timestamp) -> Spend {
        let mut state = self.state();
        let Some(credits) = state.credits.get_mut(lineage) else {
            return Spend::Unmetered;
        };
        let (after, spend) = credits.spend(cost, now);
        *credits = after;
        spend
    }

    fn update_credits_now(&self, lineage: &KeyId, update: CreditsUpdate, now: Timestamp) -> Option<Credits> {
        let (after, keys) = {
            let mut state = self.state();
            let after = match update {
                CreditsUpdate::Set(credits) => {
                    state.credits.insert(lineage.clone(), credits);
                    Some(credits)
                }
                CreditsUpdate::Add(amount) => {
                    let credits = state.credits.get_mut(lineage)?;
                    *credits = credits.add(amount, now);
                    return Some(*credits);
                }
                CreditsUpdate::Remove => {
                    state.credits.remove(lineage);
                    None
                }
            };
            let keys: Vec<KeyChange> = state
                .keys
                .values()
                .filter(|k| &k.lineage == lineage)
                .map(|k| KeyChange {
                    key_id: k.id.clone(),
                    lookup: k.lookup,
                })
                .collect();
            (after, keys)
        };
        for change in &keys {
            self.changes.publish(change);
        }
        after
    }
}

impl KeyStore for MemoryStore {
    fn insert<'a>(
        &'a self,
        key: &'a ApiKey,
        max_active: Option<u32>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        futures_util::future::ready(self.insert_now(key, max_active, now)).boxed()
    }

    fn find<'a>(&'a self, lookup: &'a LookupKey) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        let state = self.state();
        let found = state
            .by_lookup
            .get(lookup)
            .and_then(|id| state.keys.get(id))
            .map(|key| state.view(key));
        futures_util::future::ready(Ok(found)).boxed()
    }

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        let state = self.state();
        let found = state
            .keys
            .get(id)
            .filter(|k| &k.tenant == tenant)
            .map(|key| state.view(key));
        futures_util::future::ready(Ok(found)).boxed()
    }

    fn list<'a>(&'a self, tenant: &'a TenantId) -> BoxFuture<'a, Result<Vec<ApiKey>, StoreError>> {
        let state = self.state();
        let mut keys: Vec<ApiKey> = state
            .keys
            .values()
            .filter(|k| &k.tenant == tenant)
            .map(|key| state.view(key))
            .collect();
        drop(state);
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        futures_util::future::ready(Ok(keys)).boxed()
    }

    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        futures_util::future::ready(self.revoke_now(tenant, id, at)).boxed()
    }

    fn rotate<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        successor: &'a ApiKey,
        old: OldKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        futures_util::future::ready(self.rotate_now(tenant, id, successor, old, now)).boxed()
    }

    fn record_usage<'a>(&'a self, usage: &'a [KeyUsage]) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut state = self.state();
        for used in usage {
            if let Some(key) = state.keys.get_mut(&used.key_id) {
                key.last_used_at = key.last_used_at.max(Some(used.last_used_at));
                key.request_count = key.request_count.saturating_add(used.requests);
            }
        }
        futures_util::future::ready(Ok(())).boxed()
    }

    fn append_audit<'a>(&'a self, events: &'a [AuditEvent]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.keep_audit(events.iter().cloned());
        futures_util::future::ready(Ok(())).boxed()
    }

    fn append_audit_owned(
        &self,
        events: Vec<AuditEvent>,
    ) -> BoxFuture<'_, Result<(), (StoreError, Vec<AuditEvent>)>> {
        self.keep_audit(events);
        futures_util::future::ready(Ok(())).boxed()
    }

    fn audit_log<'a>(&'a self, query: &'a AuditQuery) -> BoxFuture<'a, Result<Vec<AuditEvent>, StoreError>> {
        let state = self.state();
        // Latest appended first; the stable sort then puts the latest time first and keeps that
        // order among events of the same time.
        let mut events: Vec<&AuditEvent> = state.audit.iter().rev().filter(|e| query.matches(e)).collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.at));
        let events = events.into_iter().take(query.get_limit()).cloned().collect();
        futures_util::future::ready(Ok(events)).boxed()
    }

    fn keyspace<'a>(&'a self, name: &'a KeyspaceName) -> BoxFuture<'a, Result<Option<Keyspace>, StoreError>> {
        let found = self.state().keyspaces.get(name).cloned();
        futures_util::future::ready(Ok(found)).boxed()
    }

    fn keyspaces(&self) -> BoxFuture<'_, Result<Vec<Keyspace>, StoreError>> {
        let all = self.state().keyspaces.values().cloned().collect();
        futures_util::future::ready(Ok(all)).boxed()
    }

    fn save_keyspace<'a>(
        &'a self,
        keyspace: &'a Keyspace,
        write: KeyspaceWrite,
        _now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        futures_util::future::ready(Ok(self.save_keyspace_now(keyspace, write))).boxed()
    }

    fn prune_audit<'a>(&'a self, before: Timestamp) -> BoxFuture<'a, Result<u64, StoreError>> {
        let mut state = self.state();
        let kept_before = state.audit.len();
        state.audit.retain(|e| e.at >= before);
        let pruned = (kept_before - state.audit.len()) as u64;
        drop(state);
        futures_util::future::ready(Ok(pruned)).boxed()
    }

    fn spend<'a>(
        &'a self,
        lineage: &'a KeyId,
        cost: u64,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Spend, StoreError>> {
        futures_util::future::ready(Ok(self.spend_now(lineage, cost, now))).boxed()
    }

    fn update_credits<'a>(
        &'a self,
        lineage: &'a KeyId,
        update: CreditsUpdate,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Credits>, StoreError>> {
        futures_util::future::ready(Ok(self.update_credits_now(lineage, update, now))).boxed()
    }

    fn changes(&self) -> &ChangeFeed {
        &self.changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditKind;
    use crate::hash::Hasher;

    fn event(tenant: &TenantId, n: usize) -> AuditEvent {
        AuditEvent {
            at: Timestamp::from_millis(n as i64),
            request_id: format!("req_{n}"),
            key_id: KeyId::generate(),
            tenant: tenant.clone(),
            fingerprint: Hasher::sha256().hash("k").fingerprint(),
            method: "GET".into(),
            path: "/".into(),
            status: 200,
            client_ip: None,
            user_agent: None,
            kind: AuditKind::Request,
            detail: None,
        }
    }

    #[tokio::test]
    async fn the_audit_log_keeps_only_the_latest_events() {
        let store = MemoryStore::new();
        let tenant = TenantId::new("site_1").unwrap();
        let events: Vec<AuditEvent> = (0..MemoryStore::MAX_AUDIT_EVENTS + 10)
            .map(|n| event(&tenant, n))
            .collect();
        store.append_audit(&events[..10]).await.unwrap();
        store.append_audit(&events[10..]).await.unwrap();
        let all = AuditQuery::new(tenant.clone()).limit(usize::MAX);
        assert_eq!(store.audit_log(&all).await.unwrap().len(), AuditQuery::MAX_LIMIT);
        let oldest = AuditQuery::new(tenant.clone())
            .until(Timestamp::from_millis(20))
            .limit(usize::MAX);
        let log = store.audit_log(&oldest).await.unwrap();
        assert_eq!(log.len(), 10);
        assert_eq!(log.first().unwrap().request_id, "req_19", "newest first");
        assert_eq!(
            log.last().unwrap().request_id,
            "req_10",
            "the ten oldest were dropped"
        );
        let kept = store.prune_audit(Timestamp::MAX).await.unwrap();
        assert_eq!(kept, MemoryStore::MAX_AUDIT_EVENTS as u64, "all that was kept");
    }
}
