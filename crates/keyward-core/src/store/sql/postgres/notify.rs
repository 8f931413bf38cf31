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
        let listener = connect(&pool).await.map_err(store_error)?;
        let task = tokio::spawn(listen(pool.clone(), listener, feed));
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

async fn listen(pool: PgPool, mut listener: PgListener, feed: Weak<ChangeFeed>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let Some(feed) = feed.upgrade() else { return };
                match change_text::decode(notification.payload()) {
                    Some(change) => feed.publish_change(&change),
                    None => tracing::warn!(
                        target: "keyward::store",
                        channel = CHANNEL,
                        "ignoring a malformed key change notification"
                    ),
                }
                continue;
            }
            Err(sqlx::Error::PoolClosed) => return,
            // The connection dropped (`None`), or sqlx could not bring it back (an error).
            Ok(None) | Err(_) => {}
        }
        tracing::warn!(
            target: "keyward::store",
            channel = CHANNEL,
            "key change listener lost its connection; reconnecting"
        );
        // Its connection goes back to the pool (of one) before another is asked for; listening
        // again on a new one tells the moment it is back.
        drop(listener);
        let Some(again) = relisten(&pool, &feed).await else {
            return;
        };
        listener = again;
        let Some(feed) = feed.upgrade() else { return };
        tracing::info!(
            target: "keyward::store",
            channel = CHANNEL,
            "key change listener reconnected; caches are flushed"
        );
        // Notifications sent while it was away are lost: caches must forget. Cached keys kept
        // working until now, through the outage.
        feed.resync();
    }
}

/// Listens again, retrying with backoff until it works; `None` once the store is gone.
async fn relisten(pool: &PgPool, feed: &Weak<ChangeFeed>) -> Option<PgListener> {
    let mut retry = FIRST_RETRY;
    loop {
        if feed.strong_count() == 0 || pool.is_closed() {
            return None;
        }
        match connect(pool).await {
            Ok(listener) => return Some(listener),
            Err(error) => {
                tracing::warn!(target: "keyward::store", %error, retry_in = ?retry, "key change listener cannot reconnect yet");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

/// A listener on [`CHANNEL`] over a connection from `pool`.
async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
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
