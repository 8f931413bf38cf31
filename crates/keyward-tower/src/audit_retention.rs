//! [`Retention`]: the audit writer's deletion of old audit events, at start and then about once an
//! hour by the key manager's clock, in a task of its own so that writing is never held up.

use std::sync::Arc;
use std::time::Duration;

use keyward_core::KeyStore;
use keyward_core::time::Timestamp;
use tokio::task::JoinHandle;

/// How often old events are deleted, at most.
pub(crate) const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// When the events older than `keep` were last deleted, and the deletion under way, if any.
#[derive(Debug)]
pub(crate) struct Retention {
    keep: Duration,
    last: Option<Timestamp>,
    running: Option<JoinHandle<()>>,
}

impl Retention {
    /// Events are kept for `keep`; the first [`tick`](Self::tick) deletes what is older.
    pub(crate) fn new(keep: Duration) -> Self {
        Self {
            keep,
            last: None,
            running: None,
        }
    }

    /// Starts deleting the events older than `keep` at `now` when none was started in the last
    /// [`PRUNE_EVERY`] and the last deletion is over. A failed deletion is logged and tried again
    /// an hour later.
    pub(crate) fn tick(&mut self, store: &Arc<dyn KeyStore>, now: Timestamp) {
        if self.running.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        if self.last.is_some_and(|last| now < last.plus(PRUNE_EVERY)) {
            return;
        }
        self.last = Some(now);
        let before = now.minus(self.keep);
        let store = Arc::clone(store);
        self.running = Some(tokio::spawn(async move {
            match store.prune_audit(before).await {
                Ok(pruned) => {
                    tracing::debug!(target: "keyward::audit", pruned, %before, "deleted old audit events");
                }
                Err(error) => {
                    tracing::warn!(target: "keyward::audit", %error, %before, "could not delete old audit events; will retry in an hour");
                }
            }
        }));
    }
}
