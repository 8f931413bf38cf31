//! Last-used times, request counts and audit events, recorded off the request path: the request
//! hands a record to a bounded channel and never waits; a background task batches records into the
//! store. A full channel drops the record and counts it; dropping the layer, or
//! [`AuditHandle::flush`], writes what is pending.
//!
//! The writer does not wait on the channel between batches: it sleeps for the batch interval (or
//! until the channel is half full, or a flush), so handing a record over never wakes a thread.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderValue, Method, Uri};
use keyward_core::audit::{AuditEvent, KeyUsage};
use keyward_core::time::Timestamp;
use keyward_core::{KeyId, KeyStore};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::verify::CachedKey;

/// How records are batched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// Records the channel holds before new ones are dropped (and counted). Default 16 384.
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
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            capacity: 16_384,
            batch: 1_024,
            interval: Duration::from_secs(1),
            events: true,
            backlog: 100_000,
        }
    }
}

/// One authenticated request, as the request path hands it over: clones of shared buffers only.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) key: Arc<CachedKey>,
    pub(crate) at: Timestamp,
    pub(crate) status: u16,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) request_id: HeaderValue,
    pub(crate) user_agent: Option<HeaderValue>,
    pub(crate) client_ip: Option<IpAddr>,
}

// Records are nearly every message: boxing them would allocate on every request.
#[allow(clippy::large_enum_variant)]
enum Message {
    Record(Record),
    Flush(oneshot::Sender<()>),
}

/// The request path's end of the audit channel, and a handle to flush it.
#[derive(Clone, Debug)]
pub struct AuditHandle {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
    wake: Arc<Notify>,
    half: usize,
    events: bool,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Record(_) => f.write_str("Record"),
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl AuditHandle {
    /// Starts the background task on the current tokio runtime.
    pub(crate) fn spawn(store: Arc<dyn KeyStore>, config: AuditConfig) -> Self {
        let capacity = config.capacity.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let wake = Arc::new(Notify::new());
        tokio::spawn(Writer::new(store, config, dropped.clone()).run(rx, wake.clone()));
        Self {
            tx,
            dropped,
            wake,
            half: capacity / 2,
            events: config.events,
        }
    }

    #[inline]
    pub(crate) fn record(&self, record: Record) {
        match self.tx.try_send(Message::Record(record)) {
            Ok(()) if self.tx.capacity() < self.half => self.wake.notify_one(),
            Ok(()) => {}
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Asks the writer to look at the channel now (the layer is going away).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether per-request events are kept (else only usage).
    pub(crate) fn wants_details(&self) -> bool {
        self.events
    }

    /// Records dropped so far because the channel was full or the backlog over its bound.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes everything handed over so far (retrying while the store is down) and returns.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            self.wake.notify_one();
            let _ = wait.await;
        }
    }
}

struct Writer {
    store: Arc<dyn KeyStore>,
    config: AuditConfig,
    dropped: Arc<AtomicU64>,
    usage: HashMap<KeyId, KeyUsage>,
    events: Vec<AuditEvent>,
}

impl Writer {
    fn new(store: Arc<dyn KeyStore>, config: AuditConfig, dropped: Arc<AtomicU64>) -> Self {
        Self {
            store,
            config,
            dropped,
            usage: HashMap::new(),
            events: Vec::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Message>, wake: Arc<Notify>) {
        let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
        loop {
            // Sleep without polling the channel: senders find no waker to wake.
            let _ = tokio::time::timeout(self.config.interval, wake.notified()).await;
            loop {
                let closed = self.drain(&mut rx, &mut waiting);
                let must = closed || !waiting.is_empty();
                let full = self.events.len() + self.usage.len() >= self.config.batch;
                if must || !self.is_empty() {
                    self.write(&mut waiting, must).await;
                }
                if closed {
                    return;
                }
                if !full {
                    break;
                }
            }
        }
    }

    /// Takes messages until the batch is full or the channel is empty; whether the channel is
    /// closed (every sender gone).
    fn drain(&mut self, rx: &mut mpsc::Receiver<Message>, waiting: &mut Vec<oneshot::Sender<()>>) -> bool {
        while self.events.len() + self.usage.len() < self.config.batch {
            match rx.try_recv() {
                Ok(message) => self.take(message, waiting),
                Err(mpsc::error::TryRecvError::Empty) => return false,
                Err(mpsc::error::TryRecvError::Disconnected) => return true,
            }
        }
        false
    }

    fn is_empty(&self) -> bool {
        self.usage.is_empty() && self.events.is_empty()
    }

    fn take(&mut self, message: Message, waiting: &mut Vec<oneshot::Sender<()>>) {
        let record = match message {
            Message::Flush(done) => return waiting.push(done),
            Message::Record(record) => record,
        };
        let key = &record.key.key;
        let usage = self.usage.entry(key.id.clone()).or_insert_with(|| KeyUsage {
            key_id: key.id.clone(),
            last_used_at: record.at,
            requests: 0,
        });
        usage.last_used_at = usage.last_used_at.max(record.at);
        usage.requests += 1;
        if !self.config.events {
            return;
        }
        if self.events.len() >= self.config.backlog {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.events.push(AuditEvent {
            at: record.at,
            request_id: record.request_id.to_str().unwrap_or_default().to_owned(),
            key_id: key.id.clone(),
            tenant: key.tenant.clone(),
            fingerprint: record.key.fingerprint,
            method: record.method.to_string(),
            path: record.uri.path().to_owned(),
            status: record.status,
            client_ip: record.client_ip.map(|ip| ip.to_string()),
            user_agent: record
                .user_agent
                .as_ref()
                .and_then(|ua| ua.to_str().ok())
                .map(|ua| ua.chars().take(512).collect()),
        });
    }

    /// Writes the pending batch; retries with back-off while the store is down when `must` (a
    /// flush or shutdown), else keeps the batch for the next round.
    async fn write(&mut self, waiting: &mut Vec<oneshot::Sender<()>>, must: bool) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.try_write().await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(target: "keyward::audit", %error, pending_events = self.events.len(), "could not write usage and audit records; will retry");
                    if !must {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }

    async fn try_write(&mut self) -> Result<(), keyward_core::StoreError> {
        if !self.usage.is_empty() {
            let usage: Vec<KeyUsage> = self.usage.values().cloned().collect();
            self.store.record_usage(&usage).await?;
            self.usage.clear();
        }
        if !self.events.is_empty() {
            self.store.append_audit(&self.events).await?;
            self.events.clear();
        }
        Ok(())
    }
}
