//! Changes over PostgreSQL `LISTEN`/`NOTIFY`: the task that hears other processes' changes and
//! publishes them on a store's feed. Payloads are [`change_text`]'s.

use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::task::JoinHandle;

use super::super::change_text;
use super::super::failure::store_error;
use crate::store::{ChangeFeed, StoreError};

/// The channel revocations, rotations and keyspace changes are announced on.
pub(crate) const CHANNEL: &str = "keyward_key_changes";

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// The listening task, on a connection of its own. Stops when dropped, when
/// [`stop`](Self::stop) is called, or when the feed it publishes on is gone.
#[derive(Debug)]
pub(crate) struct ChangeListener {
    task: JoinHandle<()>,
    pool: PgPool,
}

impl ChangeListener {
    /// Listens on [`CHANNEL`] with a connection made from `options`; returns once `LISTEN` is in
    /// effect, so that no change made after it is missed.
    pub(crate) async fn start(options: PgConnectOptions, feed: Weak<ChangeFeed>) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        let mut listener = PgListener::connect_with(&pool).await.map_err(store_error)?;
        listener.listen(CHANNEL).await.map_err(store_error)?;
        let task = tokio::spawn(listen(listener, feed));
        Ok(Self { task, pool })
    }

    /// Stops the task and closes its connection.
    pub(crate) async fn stop(&self) {
        self.task.abort();
        self.pool.close().await;
    }
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen(mut listener: PgListener, feed: Weak<ChangeFeed>) {
    let mut retry = FIRST_RETRY;
    loop {
        // `try_recv` answers `None` once when the connection dropped (and reconnects, listening
        // again, on the next call); an error means the reconnection failed, so wait and retry.
        match listener.try_recv().await {
            Ok(None) => {
                let Some(feed) = feed.upgrade() else { return };
                tracing::warn!(
                    target: "keyward::store",
                    channel = CHANNEL,
                    "key change listener lost its connection; caches are flushed"
                );
                // Notifications sent while disconnected are lost: caches must forget.
                feed.resync();
            }
            Ok(Some(notification)) => {
                retry = FIRST_RETRY;
                let Some(feed) = feed.upgrade() else { return };
                match change_text::decode(notification.payload()) {
                    Some(change) => feed.publish_change(&change),
                    None => tracing::warn!(
                        target: "keyward::store",
                        channel = CHANNEL,
                        "ignoring a malformed key change notification"
                    ),
                }
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                if feed.strong_count() == 0 {
                    return;
                }
                tracing::warn!(
                    target: "keyward::store",
                    %error,
                    retry_in = ?retry,
                    "key change listener disconnected; reconnecting"
                );
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Postgres;

    use super::super::super::dialect::Dialect;
    use super::*;

    #[test]
    fn changes_are_announced_on_the_channel_listened_to() {
        assert!(<Postgres as Dialect>::ANNOUNCE.contains(&format!("'{CHANNEL}'")));
    }
}
