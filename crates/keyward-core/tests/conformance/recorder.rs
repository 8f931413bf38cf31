//! [`Recorder`]: a change listener that remembers what it heard and lets a test wait for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use keyward_core::store::{KeyChange, KeyListener};
use keyward_core::{KeyId, KeyStore};
use tokio::sync::Notify;

/// Records every [`KeyChange`] a store publishes.
#[derive(Default)]
pub struct Recorder {
    heard: Mutex<Vec<KeyChange>>,
    resyncs: AtomicUsize,
    arrived: Notify,
}

impl Recorder {
    /// A recorder subscribed to `store`'s feed. Keep the `Arc`: the feed holds it weakly.
    pub fn on(store: &dyn KeyStore) -> Arc<Self> {
        let recorder = Arc::new(Self::default());
        let listener: Arc<dyn KeyListener> = recorder.clone();
        store.changes().subscribe(&listener);
        recorder
    }

    /// Every change heard, in order.
    pub fn heard(&self) -> Vec<KeyChange> {
        self.heard.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many times a change of `id` was heard.
    pub fn count(&self, id: &KeyId) -> usize {
        self.heard().iter().filter(|c| &c.key_id == id).count()
    }

    /// How many times the store said changes may have been missed.
    pub fn resyncs(&self) -> usize {
        self.resyncs.load(Ordering::SeqCst)
    }

    /// Waits up to `within` for a change of `id`; whether it came.
    pub async fn wait_for(&self, id: &KeyId, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.count(id) > 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.count(id) > 0;
            }
        }
    }
}

impl KeyListener for Recorder {
    fn key_changed(&self, change: &KeyChange) {
        self.heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change.clone());
        self.arrived.notify_waiters();
    }

    fn resync(&self) {
        self.resyncs.fetch_add(1, Ordering::SeqCst);
    }
}
