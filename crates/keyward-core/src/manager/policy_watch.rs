//! [`PolicyWatch`]: how a manager that follows a stored keyspace learns that its policy changed.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::KeyspaceName;
use crate::store::{KeyChange, KeyListener};

/// Listens to the store's feed and marks the policy stale when its keyspace is written (here or
/// in another process) or when changes may have been missed; the manager reads the policy again
/// before its next lifecycle operation.
#[derive(Debug)]
pub(super) struct PolicyWatch {
    keyspace: KeyspaceName,
    stale: AtomicBool,
}

impl PolicyWatch {
    pub(super) fn new(keyspace: KeyspaceName) -> Self {
        Self {
            keyspace,
            stale: AtomicBool::new(false),
        }
    }

    /// Whether the policy must be read again; clears the mark.
    pub(super) fn take_stale(&self) -> bool {
        self.stale.swap(false, Ordering::AcqRel)
    }

    /// Marks the policy stale again (a read failed).
    pub(super) fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }
}

impl KeyListener for PolicyWatch {
    fn key_changed(&self, _change: &KeyChange) {}

    fn keyspace_changed(&self, keyspace: &KeyspaceName) {
        if *keyspace == self.keyspace {
            self.mark_stale();
        }
    }

    fn resync(&self) {
        self.mark_stale();
    }
}
