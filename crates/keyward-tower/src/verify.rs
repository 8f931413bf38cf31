//! The verifier: a moka cache of verified keys in front of the store, a negative cache for
//! unknown tokens, and one store load per key however many requests miss at once.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keyward_core::hash::Fingerprint;
use keyward_core::store::{KeyChange, KeyListener, StoreError};
use keyward_core::time::Timestamp;
use keyward_core::{ApiKey, KeyManager, KeyspaceName, LookupKey, VerifyError};
use moka::sync::Cache;
use tokio::sync::OnceCell;

use crate::grace::{GraceNotice, load_notice};
use crate::metrics::CacheMetrics;
use crate::near_cache::NearCache;
use crate::rate_limit::{Quota, RateLimits};

/// A verified key as the cache holds it, with what the request path needs precomputed.
#[derive(Clone, Debug)]
pub struct CachedKey {
    /// The stored record.
    pub key: ApiKey,
    /// Its fingerprint, for logs and audit.
    pub fingerprint: Fingerprint,
    /// Its tier's quota.
    pub quota: Quota,
    /// For a key in its rotation grace period, the `Deprecation` and `Sunset` values its
    /// responses carry; `None` for every other key.
    pub grace: Option<Arc<GraceNotice>>,
}

/// Sizes and lifetimes of the verifier's caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a verified key is trusted without asking the store (bounds how stale a change made
    /// elsewhere without notification can be). Default 30 s.
    pub ttl: Duration,
    /// Most keys held. Default 100 000.
    pub capacity: u64,
    /// How long an unknown lookup is answered without asking the store. Default 10 s.
    pub negative_ttl: Duration,
    /// Most unknown lookups remembered. Default 100 000.
    pub negative_capacity: u64,
    /// Whether each thread keeps a small front cache of verified keys (at most a second old, dropped
    /// on every key change) that answers hits before moka, without a lock. Default on.
    pub per_thread_front: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            capacity: 100_000,
            negative_ttl: Duration::from_secs(10),
            negative_capacity: 100_000,
            per_thread_front: true,
        }
    }
}

type Load = Result<Option<Arc<CachedKey>>, Arc<StoreError>>;

pub(crate) struct Verifier {
    manager: KeyManager,
    limits: RateLimits,
    known: Cache<LookupKey, Arc<CachedKey>>,
    unknown: Cache<LookupKey, ()>,
    loading: Mutex<HashMap<LookupKey, Arc<OnceCell<Load>>>>,
    /// Counts key changes, so that a load that overlapped one does not cache what it read.
    changes: AtomicU64,
    /// The per-thread front of `known`.
    near: NearCache,
    /// Cache and store counters (nothing without the `metrics` feature).
    metrics: CacheMetrics,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("known", &self.known.entry_count())
            .field("unknown", &self.unknown.entry_count())
            .finish_non_exhaustive()
    }
}

/// What the caches know of a lookup.
pub(crate) enum Cached {
    Known(Arc<CachedKey>),
    Unknown,
    Miss,
}

impl Verifier {
    pub(crate) fn new(manager: KeyManager, limits: RateLimits, config: CacheConfig) -> Self {
        Self {
            limits,
            known: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.ttl)
                .build(),
            unknown: Cache::builder()
                .max_capacity(config.negative_capacity)
                .time_to_live(config.negative_ttl)
                .build(),
            loading: Mutex::new(HashMap::new()),
            changes: AtomicU64::new(0),
            near: NearCache::new((config.per_thread_front && config.capacity > 0).then_some(config.ttl)),
            metrics: CacheMetrics::new(manager.keyspace()),
            manager,
        }
    }

    pub(crate) fn manager(&self) -> &KeyManager {
        &self.manager
    }

    /// What the caches know of `lookup`. A miss is counted by [`load`](Self::load), which every
    /// miss goes on to (a request that finds a miss here may look again before it loads).
    #[inline]
    pub(crate) fn cached(&self, lookup: &LookupKey, now: Timestamp) -> Cached {
        let generation = self.changes.load(Ordering::SeqCst);
        if let Some(key) = self.near.get(lookup, generation, now) {
            self.metrics.hit();
            return Cached::Known(key);
        }
        if let Some(key) = self.known.get(lookup) {
            self.metrics.hit();
            self.near.put(*lookup, &key, generation, now);
            Cached::Known(key)
        } else if self.unknown.contains_key(lookup) {
            self.metrics.negative_hit();
            Cached::Unknown
        } else {
            Cached::Miss
        }
    }

    /// Asks the store, once per lookup however many requests wait for it.
    pub(crate) async fn load(&self, lookup: LookupKey) -> Result<Option<Arc<CachedKey>>, VerifyError> {
        self.metrics.miss();
        let cell = {
            let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
            loading.entry(lookup).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async {
                let changes = self.changes.load(Ordering::SeqCst);
                let found = self
                    .metrics
                    .store_lookup(self.manager.store().find(&lookup))
                    .await
                    .map_err(Arc::new)?;
                // A key of another keyspace is unknown here, as the manager's `verify` has it.
                let found = found.filter(|key| key.keyspace == *self.manager.keyspace());
                let cached = match found {
                    Some(key) => Some(Arc::new(CachedKey {
                        fingerprint: key.fingerprint(),
                        quota: self.limits.quota_for(&key.tier),
                        grace: load_notice(&**self.manager.store(), &key).await.map(Arc::new),
                        key,
                    })),
                    None => None,
                };
                match &cached {
                    Some(key) => self.known.insert(lookup, key.clone()),
                    None => self.unknown.insert(lookup, ()),
                }
                // A change published while the store was asked may have found nothing to evict
                // yet: then what was read may be stale, so it is not kept. (A change after this
                // check evicts the entry itself.)
                if self.changes.load(Ordering::SeqCst) != changes {
                    self.known.invalidate(&lookup);
                    self.unknown.invalidate(&lookup);
                }
                Ok(cached)
            })
            .await
            .clone();
        {
            let mut loading = self.loading.lock().unwrap_or_else(PoisonError::into_inner);
            if loading.get(&lookup).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                loading.remove(&lookup);
            }
        }
        result.map_err(|error| VerifyError::Unavailable(StoreError::unavailable(error.to_string())))
    }
}

impl KeyListener for Verifier {
    fn key_changed(&self, change: &KeyChange) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        // Requests from now on start a new load rather than wait for one begun before the change.
        self.loading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&change.lookup);
        self.known.invalidate(&change.lookup);
        self.unknown.invalidate(&change.lookup);
        // Again, so that no thread keeps in its front cache what it read before the invalidation.
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// A policy change (a limit, a tier) may change what cached keys are worth: forget them all.
    /// Policy changes are rare; key changes evict one key.
    fn keyspace_changed(&self, keyspace: &KeyspaceName) {
        if keyspace == self.manager.keyspace() {
            self.resync();
        }
    }

    fn resync(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        self.loading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.known.invalidate_all();
        self.unknown.invalidate_all();
        self.changes.fetch_add(1, Ordering::SeqCst);
    }
}
