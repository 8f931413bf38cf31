//! Last-used times, request counts and audit events, recorded off the request path: the request
//! hands a record to a bounded queue and never waits; a background task batches records into the
//! store. A full queue drops the record and counts it; dropping the layer, or
//! [`AuditHandle::flush`], writes what is pending.
//!
//! The queue is a preallocated ring (crossbeam's `ArrayQueue`): handing a record over is one
//! compare-and-swap and a copy. A record's text (request id, path, user agent) is copied into a
//! per-thread buffer that many records share, one allocation per 64 KiB of it, so that no record
//! holds on to the request's own buffers. The writer does not wait on it between
//! batches: it sleeps for the batch interval (or until the queue is half full, a flush, or the
//! last handle is gone), so handing a record over never wakes a thread.
//!
//! With a [`retention`](AuditConfig::retention), the writer also deletes old audit events: when it
//! starts, then about once an hour by the key manager's clock, in a task of its own.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use keyward_core::audit::{AuditEvent, AuditKind, KeyUsage};
use keyward_core::{KeyId, KeyManager};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::audit_record::Record;
use crate::audit_retention::Retention;

/// Records the writer turns into events between two yields to the tasks sharing its thread: a
/// slice is some tens of microseconds of work.
const SLICE: usize = 128;

/// How records are batched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// Records the queue holds before new ones are dropped (and counted); the queue is allocated
    /// whole when the layer is built, 88 bytes a record. Default 65 536 (5.8 MB): at 95 000
    /// requests a second on PostgreSQL, 16 384 dropped records whenever the store took longer
    /// than usual, and 32 768 and 65 536 none, in the runs of `scripts/compare`.
    pub capacity: usize,
    /// Most records written in one batch. Default 1 024.
    pub batch: usize,
    /// Longest a record waits before its batch is written. Default 1 s.
    pub interval: Duration,
    /// Whether an audit event is written per request; when off, only last-used times and request
    /// counts are. Default on.
    pub events: bool,
    /// Most events kept in memory while the store is down; beyond, events are dropped and counted
    /// (usage counts are folded per key and never dropped). Default 100 000.
    pub backlog: usize,
    /// How long audit events are kept in the store: when set, the writer deletes every tenant's
    /// events older than this when it starts and then about once an hour, off the request path.
    /// Default `None`: every event is kept. Set it with [`retention`](Self::retention).
    pub retention: Option<Duration>,
}

impl AuditConfig {
    /// Keeps audit events for `keep` (`Duration::from_secs(90 * 86_400)` for 90 days) and deletes
    /// older ones, at start and about once an hour. Several processes on one store may each
    /// delete; the shortest retention among them wins.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keyward_tower::AuditConfig;
    ///
    /// let config = AuditConfig::default().retention(Duration::from_secs(30 * 86_400));
    /// assert_eq!(config.retention, Some(Duration::from_secs(30 * 86_400)));
    /// assert_eq!(AuditConfig::default().retention, None, "by default everything is kept");
    /// ```
    #[must_use]
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = Some(keep);
        self
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            capacity: 65_536,
            batch: 1_024,
            interval: Duration::from_secs(1),
            events: true,
            backlog: 100_000,
            retention: None,
        }
    }
}

/// The request path's end of the audit queue, and a handle to flush it.
#[derive(Clone, Debug)]
pub struct AuditHandle {
    records: Arc<ArrayQueue<Record>>,
    /// Flush requests; the writer also learns from it that every handle is gone.
    flushes: mpsc::UnboundedSender<oneshot::Sender<()>>,
    dropped: Arc<AtomicU64>,
    wake: Arc<Notify>,
    half: usize,
    /// How many records a thread hands over between looks at the queue's length.
    check_every: u32,
    events: bool,
}

impl AuditHandle {
    /// Starts the background task on the current tokio runtime, writing to `manager`'s store and
    /// reading the time (for retention) from its clock.
    pub(crate) fn spawn(manager: KeyManager, config: AuditConfig) -> Self {
        let capacity = config.capacity.max(1);
        let records = Arc::new(ArrayQueue::new(capacity));
        let (flushes, requests) = mpsc::unbounded_channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let wake = Arc::new(Notify::new());
        let writer = Writer::new(manager, config, dropped.clone());
        tokio::spawn(writer.run(records.clone(), requests, wake.clone()));
        Self {
            records,
            flushes,
            dropped,
            wake,
            half: capacity.div_ceil(2),
            check_every: u32::try_from(capacity / 256).unwrap_or(u32::MAX).clamp(1, 64),
            events: config.events,
        }
    }

    /// Hands a record over. The queue's length is looked at only every `check_every` records a
    /// thread: reading it reads the writer's end of the queue, which the writer changes with every
    /// record it takes.
    #[inline]
    pub(crate) fn record(&self, record: Record) {
        thread_local! {
            static SINCE_CHECK: Cell<u32> = const { Cell::new(0) };
        }
        if self.records.push(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let since = SINCE_CHECK.get() + 1;
        if since < self.check_every {
            SINCE_CHECK.set(since);
            return;
        }
        SINCE_CHECK.set(0);
        if self.records.len() >= self.half {
            self.wake.notify_one();
        }
    }

    /// Asks the writer to look at the queue now (the layer is going away).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether per-request events are kept (else only usage).
    pub(crate) fn wants_details(&self) -> bool {
        self.events
    }

    /// Records dropped so far because the queue was full or the backlog over its bound.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes everything handed over so far (retrying while the store is down) and returns.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.flushes.send(done).is_ok() {
            self.wake.notify_one();
            let _ = wait.await;
        }
    }
}

struct Writer {
    /// Its store is written to; its clock tells when old events are due for deletion.
    manager: KeyManager,
    config: AuditConfig,
    retention: Option<Retention>,
    dropped: Arc<AtomicU64>,
    /// Usage folded per key; ids come from verified keys only, so foldhash's fast hasher will do.
    usage: HashMap<KeyId, KeyUsage, foldhash::fast::RandomState>,
    events: Vec<AuditEvent>,
    /// The records taken in this round, dropped together at its end.
    spent: Vec<Record>,
}

impl Writer {
    fn new(manager: KeyManager, config: AuditConfig, dropped: Arc<AtomicU64>) -> Self {
        Self {
            manager,
            config,
            retention: config.retention.map(Retention::new),
            dropped,
            usage: HashMap::default(),
            events: Vec::new(),
            spent: Vec::new(),
        }
    }

    async fn run(
        mut self,
        records: Arc<ArrayQueue<Record>>,
        mut flushes: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
        wake: Arc<Notify>,
    ) {
        let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
        loop {
            if let Some(retention) = &mut self.retention {
                retention.tick(self.manager.store(), self.manager.now());
            }
            // Sleep without polling the queue: senders find no waker to wake. A flush request, or
            // the last handle going, ends the sleep.
            let mut closed = false;
            tokio::select! {
                () = tokio::time::sleep(self.config.interval) => {}
                () = wake.notified() => {}
                request = flushes.recv() => match request {
                    Some(done) => waiting.push(done),
                    None => closed = true,
                },
            }
            loop {
                match flushes.try_recv() {
                    Ok(done) => waiting.push(done),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            // What a flush owes is what was queued before it was asked for: everything queued
            // now. Records that keep arriving wait for the next round.
            let must = closed || !waiting.is_empty();
            let mut owed = records.len();
            loop {
                owed -= self.take(&records, owed.min(SLICE));
                if owed == 0 || self.events.len() >= self.config.batch.max(1) {
                    if self.is_empty() {
                        break;
                    }
                    // Usage once a round, at its end; events in batches as they fill.
                    if !self.write(must, owed == 0).await {
                        // The store is down: keep what is queued in memory (usage whole, events
                        // up to the backlog) so the queue has room, and try again next round.
                        self.take(&records, owed);
                        break;
                    }
                    if owed == 0 {
                        break;
                    }
                }
                // Let the requests sharing this worker thread run between slices of the round (a
                // store that completes at once, as the memory store does, would otherwise hold
                // the thread for the whole round).
                tokio::task::yield_now().await;
            }
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
            if closed {
                return;
            }
        }
    }

    /// Takes up to `limit` records from the queue; how many were taken.
    fn take(&mut self, records: &ArrayQueue<Record>, limit: usize) -> usize {
        let mut taken = 0;
        while taken < limit {
            let Some(record) = records.pop() else { break };
            taken += 1;
            self.fold(&record);
            // Dropped together below: each drop writes two reference counts that the request path
            // writes too, the key's and that of the text buffer the record shares with others of
            // its thread; one run of drops moves those cache lines here once, not once a record.
            self.spent.push(record);
        }
        self.spent.clear();
        taken
    }

    /// Counts a record towards its key's usage and, when events are on, makes it an event
    /// (dropped and counted beyond the backlog). The event of a key in its rotation grace period
    /// is also logged at info level (target `keyward::audit`), naming the key by fingerprint: an
    /// audit event is a row of three stores' schemas, and whether its key was in grace is a log
    /// line's worth, read while the old key is still in use.
    fn fold(&mut self, record: &Record) {
        let key = &record.key.key;
        // Looked up before inserting: the id is cloned once per key a batch, not per record.
        match self.usage.get_mut(&key.id) {
            Some(usage) => {
                usage.last_used_at = usage.last_used_at.max(record.at);
                usage.requests += 1;
            }
            None => {
                let usage = KeyUsage {
                    key_id: key.id.clone(),
                    last_used_at: record.at,
                    requests: 1,
                };
                self.usage.insert(key.id.clone(), usage);
            }
        }
        if !self.config.events {
            return;
        }
        if let Some(grace) = &record.key.grace {
            tracing::info!(
                target: "keyward::audit",
                fingerprint = %record.key.fingerprint,
                key_id = %key.id,
                tenant = %key.tenant,
                request_id = record.request_id(),
                path = record.path(),
                sunset = %grace.sunset_at(),
                "request made with a key in its rotation grace period"
            );
        }
        if self.events.len() >= self.config.backlog {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.events.push(AuditEvent {
            at: record.at,
            request_id: record.request_id().to_owned(),
            key_id: key.id.clone(),
            tenant: key.tenant.clone(),
            fingerprint: record.key.fingerprint,
            method: record.method().to_owned(),
            path: record.path().to_owned(),
            status: record.status,
            client_ip: record.client_ip.map(|ip| ip.to_string()),
            user_agent: record.user_agent().map(str::to_owned),
            kind: AuditKind::Request,
            detail: None,
        });
    }

    fn is_empty(&self) -> bool {
        self.usage.is_empty() && self.events.is_empty()
    }

    /// Writes the pending events, and the usage too `with_usage`; whether it was written. While
    /// the store is down it retries with back-off when `must` (a flush or shutdown), else gives
    /// up for this round and keeps it all.
    async fn write(&mut self, must: bool, with_usage: bool) -> bool {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.try_write(with_usage).await {
                Ok(()) => return true,
                Err(error) => {
                    tracing::warn!(target: "keyward::audit", %error, pending_events = self.events.len(), "could not write usage and audit records; will retry");
                    if !must {
                        return false;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Usage first (`with_usage`), then events in chunks of a batch; what was written is not
    /// written again.
    async fn try_write(&mut self, with_usage: bool) -> Result<(), keyward_core::StoreError> {
        if with_usage && !self.usage.is_empty() {
            let usage: Vec<KeyUsage> = self.usage.values().cloned().collect();
            self.manager.store().record_usage(&usage).await?;
            self.usage.clear();
        }
        let batch = self.config.batch.max(1);
        while !self.events.is_empty() {
            // Handed over, not copied: a store that keeps events in memory moves them in.
            let chunk = if self.events.len() <= batch {
                std::mem::replace(&mut self.events, Vec::with_capacity(batch))
            } else {
                self.events.drain(..batch).collect()
            };
            if let Err((error, chunk)) = self.manager.store().append_audit_owned(chunk).await {
                self.events.splice(0..0, chunk);
                return Err(error);
            }
        }
        Ok(())
    }
}
