//! A per-thread front for the verifier's moka cache. A hit takes no lock and writes no shared
//! memory: one thread-local map lookup and one atomic load (the time is the request's own clock
//! read, shared with the key's status check). Each thread holds its own copy of a key, made when
//! it fills the entry: the reference counts a request moves are then the thread's own, so that
//! requests with one hot key on several cores do not pass a cache line back and forth.
//!
//! Entries live at most a second by the key manager's clock (never when that clock reads earlier
//! than when they were filled), and only while the verifier's change counter is where it was
//! when they were filled: every revocation or rotation the store publishes moves the counter, so
//! no thread serves a changed key again. Each thread holds at most 4096 entries.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyward_core::LookupKey;
use keyward_core::time::Timestamp;

use crate::verify::CachedKey;

const CAPACITY: usize = 4096;
const MAX_TTL: Duration = Duration::from_secs(1);

static NEXT_OWNER: AtomicUsize = AtomicUsize::new(1);

/// Keys are lookups of verified keys only (unknown tokens never get in), so the map uses
/// foldhash's fast hasher (randomly seeded) rather than SipHash.
type Entries = HashMap<(usize, LookupKey), Entry, foldhash::fast::RandomState>;

thread_local! {
    static ENTRIES: RefCell<Entries> = RefCell::new(Entries::default());
}

struct Entry {
    key: Arc<CachedKey>,
    generation: u64,
    filled: Timestamp,
    until: Timestamp,
}

/// One verifier's share of the threads' front caches.
#[derive(Debug)]
pub(crate) struct NearCache {
    owner: usize,
    ttl: Option<Duration>,
}

impl NearCache {
    /// A front cache whose entries live at most `ttl` (and never over a second); `None` turns it off.
    pub(crate) fn new(ttl: Option<Duration>) -> Self {
        Self {
            owner: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
            ttl: ttl.filter(|t| !t.is_zero()).map(|t| t.min(MAX_TTL)),
        }
    }

    /// The key, if this thread holds it fresh and no change happened since.
    #[inline]
    pub(crate) fn get(&self, lookup: &LookupKey, generation: u64, now: Timestamp) -> Option<Arc<CachedKey>> {
        self.ttl?;
        ENTRIES.with_borrow(|entries| {
            entries
                .get(&(self.owner, *lookup))
                .filter(|entry| entry.generation == generation && entry.filled <= now && now < entry.until)
                .map(|entry| entry.key.clone())
        })
    }

    /// Remembers a copy of `key`, read from the shared cache when the change counter was
    /// `generation`.
    #[inline]
    pub(crate) fn put(&self, lookup: LookupKey, key: &CachedKey, generation: u64, now: Timestamp) {
        let Some(ttl) = self.ttl else { return };
        let key = Arc::new(key.clone());
        ENTRIES.with_borrow_mut(|entries| {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                (self.owner, lookup),
                Entry {
                    key,
                    generation,
                    filled: now,
                    until: now.plus(ttl),
                },
            );
        });
    }
}
