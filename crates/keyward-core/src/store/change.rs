//! Change notifications: how caches learn that a key was revoked or rotated, and managers that a
//! keyspace's policy changed.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::{KeyId, KeyspaceName, LookupKey};

/// A key was revoked, or rotated out: caches holding it must drop it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyChange {
    /// The key that changed.
    pub key_id: KeyId,
    /// How caches index it.
    pub lookup: LookupKey,
}

/// Anything a store tells its listeners of, as it travels between processes (PostgreSQL
/// notifications, SQLite's change log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A key was revoked or rotated out.
    Key(KeyChange),
    /// A keyspace's policy was written.
    Keyspace(KeyspaceName),
}

/// Something that wants to hear of [`KeyChange`]s, such as a verifier's cache.
pub trait KeyListener: Send + Sync + 'static {
    /// Called synchronously by the store for every change, in this process or (for stores that can
    /// notify, such as PostgreSQL) in another. Must be quick and must not block.
    fn key_changed(&self, change: &KeyChange);

    /// Called when a keyspace's stored policy was written, in this process or another. The
    /// default does nothing.
    fn keyspace_changed(&self, _keyspace: &KeyspaceName) {}

    /// Changes may have been missed (a notification connection dropped): forget everything
    /// cached. The default does nothing.
    fn resync(&self) {}
}

/// The list of listeners a store notifies. Holds them weakly: a dropped listener is forgotten.
#[derive(Default)]
pub struct ChangeFeed {
    listeners: Mutex<Vec<Weak<dyn KeyListener>>>,
}

impl ChangeFeed {
    /// An empty feed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a listener; it is held weakly, so keep the `Arc` alive as long as it should hear.
    pub fn subscribe(&self, listener: &Arc<dyn KeyListener>) {
        let mut listeners = self.listeners.lock().unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|l| l.strong_count() > 0);
        listeners.push(Arc::downgrade(listener));
    }

    /// Tells every live listener of a change.
    pub fn publish(&self, change: &KeyChange) {
        for listener in self.live() {
            listener.key_changed(change);
        }
    }

    /// Tells every live listener of `change`, as [`publish`](Self::publish) or
    /// [`publish_keyspace`](Self::publish_keyspace).
    pub fn publish_change(&self, change: &Change) {
        match change {
            Change::Key(change) => self.publish(change),
            Change::Keyspace(keyspace) => self.publish_keyspace(keyspace),
        }
    }

    /// Tells every live listener that a keyspace's policy was written.
    pub fn publish_keyspace(&self, keyspace: &KeyspaceName) {
        for listener in self.live() {
            listener.keyspace_changed(keyspace);
        }
    }

    /// Tells every live listener that changes may have been missed.
    pub fn resync(&self) {
        for listener in self.live() {
            listener.resync();
        }
    }

    fn live(&self) -> Vec<Arc<dyn KeyListener>> {
        let mut listeners = self.listeners.lock().unwrap_or_else(PoisonError::into_inner);
        listeners.retain(|l| l.strong_count() > 0);
        listeners.iter().filter_map(Weak::upgrade).collect()
    }
}

impl fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.listeners.lock().map(|l| l.len()).unwrap_or(0);
        f.debug_struct("ChangeFeed").field("listeners", &count).finish()
    }
}
