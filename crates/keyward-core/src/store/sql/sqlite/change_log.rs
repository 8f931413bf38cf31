//! SQLite's change feed across processes: every revocation, rotation and keyspace change is a row
//! of `keyward_changes`, written in the transaction that made it; each store on the file reads
//! the rows after the last one it saw, [`POLL_EVERY`], and publishes them on its feed.
//!
//! A read that finds nothing new is one indexed query on a connection of the pool, off the request
//! path. Rows older than [`KEEP_FOR`] are deleted; a reader that finds rows missing after the last
//! one it saw (it was away longer than that) tells its listeners to forget everything.

use std::sync::Weak;
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::task::JoinHandle;

use super::super::change_text;
use super::super::failure::store_error;
use crate::store::{ChangeFeed, StoreError};
use crate::time::Timestamp;

/// How often each store reads the log: a change reaches every process on the file within this.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long rows are kept.
const KEEP_FOR: Duration = Duration::from_secs(3600);
/// How often a reader deletes expired rows (a little work, spread over the readers).
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Most rows read at once.
const BATCH: i64 = 1000;

/// The last sequence number handed out, whether or not its row is still there.
const LAST_SEQ: &str = "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'keyward_changes'), 0)";
const READ_AFTER: &str = "SELECT seq, change FROM keyward_changes WHERE seq > $1 ORDER BY seq LIMIT $2";
const PRUNE: &str = "DELETE FROM keyward_changes WHERE at < $1";
/// `$1`: the change's text; the time is the database's, in unix milliseconds.
pub(crate) const APPEND: &str = "INSERT INTO keyward_changes (at, change) \
     VALUES (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), $1)";

/// The reading task. Stops when dropped or when the feed it publishes on is gone.
#[derive(Debug)]
pub(crate) struct ChangeLogReader {
    task: JoinHandle<()>,
}

impl ChangeLogReader {
    /// Starts reading after the newest row now in the log, so that no change committed after this
    /// returns is missed.
    pub(crate) async fn start(pool: SqlitePool, feed: Weak<ChangeFeed>) -> Result<Self, StoreError> {
        let last: i64 = sqlx::query_scalar(LAST_SEQ)
            .fetch_one(&pool)
            .await
            .map_err(store_error)?;
        let task = tokio::spawn(read(pool, feed, last));
        Ok(Self { task })
    }
}

impl Drop for ChangeLogReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read(pool: SqlitePool, feed: Weak<ChangeFeed>, mut last: i64) {
    let mut ticks = tokio::time::interval(POLL_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let prune_every = PRUNE_EVERY.as_millis() / POLL_EVERY.as_millis();
    let mut failing = false;
    for tick in 0u128.. {
        ticks.tick().await;
        let Some(feed) = feed.upgrade() else { return };
        if pool.is_closed() {
            return;
        }
        match read_batch(&pool, &feed, last).await {
            Ok(seen) => {
                if failing {
                    tracing::info!(target: "keyward::store", "SQLite change log readable again");
                    failing = false;
                }
                last = seen;
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(target: "keyward::store", %error, "cannot read the SQLite change log; retrying");
                    failing = true;
                }
                continue;
            }
        }
        if tick % prune_every == 0 {
            let before = Timestamp::now()
                .as_millis()
                .saturating_sub(KEEP_FOR.as_millis() as i64);
            if let Err(error) = sqlx::query(PRUNE).bind(before).execute(&pool).await {
                tracing::debug!(target: "keyward::store", %error, "cannot prune the SQLite change log");
            }
        }
    }
}

/// Publishes the rows after `last` and returns the newest seen.
async fn read_batch(pool: &SqlitePool, feed: &ChangeFeed, mut last: i64) -> Result<i64, StoreError> {
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(READ_AFTER)
            .bind(last)
            .bind(BATCH)
            .fetch_all(pool)
            .await
            .map_err(store_error)?;
        let Some(&(first, _)) = rows.first() else {
            return Ok(last);
        };
        if first != last + 1 {
            // Rows between were pruned before this reader saw them.
            tracing::warn!(target: "keyward::store", "SQLite change log rows missed; caches are flushed");
            feed.resync();
        }
        let full = rows.len() as i64 == BATCH;
        for (seq, text) in rows {
            last = seq;
            match change_text::decode(&text) {
                Some(change) => feed.publish_change(&change),
                None => {
                    tracing::warn!(target: "keyward::store", seq, "ignoring a malformed SQLite change log row")
                }
            }
        }
        if !full {
            return Ok(last);
        }
    }
}
