//! Helpers of the `ApiKeyLayer` tests: a store wrapper that counts lookups and can fail them, a
//! harness with a manual clock, the handlers behind the layer, and request and reply helpers.
#![allow(dead_code, reason = "each test binary uses a part of the helpers")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use keyward_core::audit::{AuditEvent, AuditQuery, KeyUsage};
use keyward_core::credits::{Credits, CreditsUpdate, Spend};
use keyward_core::manager::KeyManagerBuilder;
use keyward_core::store::{ChangeFeed, KeyspaceWrite, OldKey};
use keyward_core::time::{ManualClock, Timestamp};
use keyward_core::token::TokenFormat;
use keyward_core::{
    ApiKey, CreatedKey, Environment, KeyId, KeyKind, KeyManager, KeyStore, LookupKey, MemoryStore, NewKey,
    StoreError, TenantId,
};
use keyward_core::{Keyspace, KeyspaceName};
use keyward_tower::{ApiKeyLayer, VerifiedKey};
use tokio::sync::watch;
use tower::{Service, ServiceExt, service_fn};

pub mod server;
pub mod traffic;

/// The body of the requests the tests send.
pub type Body = Full<Bytes>;
/// The body the handler behind the layer receives: the client's, or the JSON body the layer read,
/// rebuilt from its bytes.
pub type Inbound = Body;

/// What a [`TestStore`] has been asked, and switches to make it slow or down. Clones share state.
#[derive(Clone, Debug, Default)]
pub struct Probe(Arc<ProbeState>);

#[derive(Debug)]
struct ProbeState {
    finds: AtomicUsize,
    down: AtomicBool,
    writes_down: AtomicBool,
    refused_writes: AtomicUsize,
    find_delay: Mutex<Option<Duration>>,
    /// Lookups that have read the store.
    reads: watch::Sender<usize>,
    /// While true, lookups wait after reading the store and before answering.
    held: watch::Sender<bool>,
}

impl Default for ProbeState {
    fn default() -> Self {
        Self {
            finds: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            writes_down: AtomicBool::new(false),
            refused_writes: AtomicUsize::new(0),
            find_delay: Mutex::new(None),
            reads: watch::Sender::new(0),
            held: watch::Sender::new(false),
        }
    }
}

impl Probe {
    /// How many times `find` was called.
    pub fn finds(&self) -> usize {
        self.0.finds.load(Ordering::SeqCst)
    }

    /// While down, `find` answers `StoreError::Unavailable`; everything else keeps working.
    pub fn set_down(&self, down: bool) {
        self.0.down.store(down, Ordering::SeqCst);
    }

    /// While down, usage and audit writes answer `StoreError::Unavailable` (and are counted).
    pub fn set_writes_down(&self, down: bool) {
        self.0.writes_down.store(down, Ordering::SeqCst);
    }

    /// How many usage and audit writes were refused.
    pub fn refused_writes(&self) -> usize {
        self.0.refused_writes.load(Ordering::SeqCst)
    }

    /// An outage of writes, if one is on: counts the refusal.
    fn write_outage(&self) -> Result<(), StoreError> {
        if self.0.writes_down.load(Ordering::SeqCst) {
            self.0.refused_writes.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::unavailable("the test store refuses writes"));
        }
        Ok(())
    }

    /// `find` waits this long (on tokio's clock) before it answers.
    pub fn set_find_delay(&self, delay: Option<Duration>) {
        *self.0.find_delay.lock().unwrap_or_else(PoisonError::into_inner) = delay;
    }

    /// While held, `find` reads the store and then waits, before answering, until released: a
    /// lookup caught between reading a record and caching it.
    pub fn hold_finds(&self, held: bool) {
        self.0.held.send_replace(held);
    }

    /// Waits until `count` lookups have read the store.
    pub async fn wait_for_reads(&self, count: usize) {
        let mut reads = self.0.reads.subscribe();
        // The sender lives as long as `self`, so the wait cannot fail.
        let _ = reads.wait_for(|reads| *reads >= count).await;
    }

    fn find_delay(&self) -> Option<Duration> {
        *self.0.find_delay.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A [`MemoryStore`] that counts `find` calls and can fail or slow them down (see [`Probe`]).
#[derive(Debug, Default)]
pub struct TestStore {
    memory: MemoryStore,
    probe: Probe,
}

impl TestStore {
    /// A store and the probe that watches it.
    pub fn new() -> (Self, Probe) {
        let store = Self::default();
        let probe = store.probe.clone();
        (store, probe)
    }
}

impl KeyStore for TestStore {
    fn insert<'a>(
        &'a self,
        key: &'a ApiKey,
        max_active: Option<u32>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.memory.insert(key, max_active, now)
    }

    fn find<'a>(&'a self, lookup: &'a LookupKey) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        Box::pin(async move {
            self.probe.0.finds.fetch_add(1, Ordering::SeqCst);
            if let Some(delay) = self.probe.find_delay() {
                tokio::time::sleep(delay).await;
            }
            if self.probe.0.down.load(Ordering::SeqCst) {
                return Err(StoreError::unavailable("the test store is down"));
            }
            let found = self.memory.find(lookup).await;
            self.probe.0.reads.send_modify(|reads| *reads += 1);
            let mut held = self.probe.0.held.subscribe();
            let _ = held.wait_for(|held| !*held).await;
            found
        })
    }

    fn get<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
    ) -> BoxFuture<'a, Result<Option<ApiKey>, StoreError>> {
        self.memory.get(tenant, id)
    }

    fn list<'a>(&'a self, tenant: &'a TenantId) -> BoxFuture<'a, Result<Vec<ApiKey>, StoreError>> {
        self.memory.list(tenant)
    }

    fn revoke<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        at: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        self.memory.revoke(tenant, id, at)
    }

    fn rotate<'a>(
        &'a self,
        tenant: &'a TenantId,
        id: &'a KeyId,
        successor: &'a ApiKey,
        old: OldKey,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<ApiKey, StoreError>> {
        self.memory.rotate(tenant, id, successor, old, now)
    }

    fn record_usage<'a>(&'a self, usage: &'a [KeyUsage]) -> BoxFuture<'a, Result<(), StoreError>> {
        match self.probe.write_outage() {
            Ok(()) => self.memory.record_usage(usage),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn append_audit<'a>(&'a self, events: &'a [AuditEvent]) -> BoxFuture<'a, Result<(), StoreError>> {
        match self.probe.write_outage() {
            Ok(()) => self.memory.append_audit(events),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn audit_log<'a>(&'a self, query: &'a AuditQuery) -> BoxFuture<'a, Result<Vec<AuditEvent>, StoreError>> {
        self.memory.audit_log(query)
    }

    fn prune_audit<'a>(&'a self, before: Timestamp) -> BoxFuture<'a, Result<u64, StoreError>> {
        match self.probe.write_outage() {
            Ok(()) => self.memory.prune_audit(before),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn keyspace<'a>(&'a self, name: &'a KeyspaceName) -> BoxFuture<'a, Result<Option<Keyspace>, StoreError>> {
        self.memory.keyspace(name)
    }

    fn keyspaces(&self) -> BoxFuture<'_, Result<Vec<Keyspace>, StoreError>> {
        self.memory.keyspaces()
    }

    fn save_keyspace<'a>(
        &'a self,
        keyspace: &'a Keyspace,
        write: KeyspaceWrite,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.memory.save_keyspace(keyspace, write, now)
    }

    /// A spend is a write: refused while writes are down.
    fn spend<'a>(
        &'a self,
        lineage: &'a KeyId,
        cost: u64,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Spend, StoreError>> {
        match self.probe.write_outage() {
            Ok(()) => self.memory.spend(lineage, cost, now),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn update_credits<'a>(
        &'a self,
        lineage: &'a KeyId,
        update: CreditsUpdate,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Option<Credits>, StoreError>> {
        match self.probe.write_outage() {
            Ok(()) => self.memory.update_credits(lineage, update, now),
            Err(error) => Box::pin(std::future::ready(Err(error))),
        }
    }

    fn changes(&self) -> &ChangeFeed {
        self.memory.changes()
    }
}

/// The start of the manual clock: 2026-01-01T00:00:00Z.
pub const START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// A key manager over a [`TestStore`], on a [`ManualClock`].
#[derive(Clone, Debug)]
pub struct Harness {
    /// The manager (give it to the layer).
    pub manager: KeyManager,
    /// What the store has been asked.
    pub probe: Probe,
    /// The manager's clock.
    pub clock: ManualClock,
}

impl Harness {
    /// A manager with the default policy.
    pub fn new() -> Self {
        Self::with(|builder| builder)
    }

    /// A manager configured by `configure` (the clock is set afterwards).
    pub fn with(configure: impl FnOnce(KeyManagerBuilder) -> KeyManagerBuilder) -> Self {
        let (store, probe) = TestStore::new();
        let clock = ManualClock::new(START);
        let manager = configure(KeyManager::builder(store))
            .clock(clock.clone())
            .build()
            .expect("a valid manager configuration");
        Self {
            manager,
            probe,
            clock,
        }
    }

    /// A secret live key of `tenant`.
    pub async fn key(&self, tenant: &str) -> CreatedKey {
        self.create(NewKey::new(tenant_id(tenant))).await
    }

    /// A key as `new` describes it.
    pub async fn create(&self, new: NewKey) -> CreatedKey {
        self.manager.create(new).await.expect("the key is created")
    }
}

/// A tenant id from a literal.
pub fn tenant_id(tenant: &str) -> TenantId {
    TenantId::new(tenant).expect("a valid tenant id")
}

/// A well-formed token (right format and checksum) that no store holds.
pub fn unknown_token() -> String {
    TokenFormat::default()
        .mint(Environment::Live, KeyKind::Secret)
        .expose()
        .to_owned()
}

/// The secret part of a token: what must never show up in logs, records or responses.
pub fn secret_of(created: &CreatedKey) -> &str {
    let token = created.token.expose();
    &token[created.token.redacted().len()..]
}

/// The handler: answers the authenticated key's tenant (or `public` when there is none), 201 for
/// `POST` (so that audit records show the handler's status) and 200 otherwise.
pub async fn echo_tenant<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let tenant = request
        .extensions()
        .get::<VerifiedKey>()
        .map_or_else(|| "public".to_owned(), |key| key.key().tenant.to_string());
    let status = if request.method() == http::Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = Response::new(Full::new(Bytes::from(tenant)));
    *response.status_mut() = status;
    Ok(response)
}

/// The handler for body tests: answers the request body, byte for byte.
pub async fn echo_body<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let bytes = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => Bytes::from(format!("body error: {error}")),
    };
    Ok(Response::new(Full::new(bytes)))
}

/// The handler for redaction tests: answers the `Debug` of the request's headers and of its
/// [`VerifiedKey`], as a handler that logs them would print them.
pub async fn echo_debug<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = format!(
        "{:?} {:?}",
        request.headers(),
        request.extensions().get::<VerifiedKey>()
    );
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// The layer in front of [`echo_tenant`].
pub fn service(
    layer: &ApiKeyLayer,
) -> impl Service<Request<Body>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static
+ use<> {
    tower::ServiceBuilder::new()
        .layer(layer.clone())
        .service(service_fn(echo_tenant::<Inbound>))
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl Reply {
    /// The body as text.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("a JSON body ({error}): {:?}", self.body))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a visible-ASCII header"))
    }

    /// The `X-Request-Id` header.
    pub fn request_id(&self) -> &str {
        self.header("x-request-id")
            .expect("X-Request-Id on every response")
    }

    /// A numeric header.
    pub fn number(&self, name: &str) -> u64 {
        let text = self.header(name).unwrap_or_else(|| panic!("no {name} header"));
        text.parse()
            .unwrap_or_else(|_| panic!("{name} is not a whole number: {text:?}"))
    }
}

/// Sends `request` through a clone of `service` and reads the whole response.
pub async fn send<S, B>(service: &S, request: Request<Body>) -> Reply
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let response = match service.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a readable body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A `GET` of `path` with no credential.
pub fn anonymous(path: &str) -> Request<Body> {
    Request::get(path).body(Body::default()).expect("a valid request")
}

/// A `GET` of `path` with `Authorization: Bearer <token>`.
pub fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::default())
        .expect("a valid request")
}

/// Asserts that `reply` is a rejection in the JSON envelope with this status and code, carrying
/// the same request id in its `X-Request-Id` header and in its body.
pub fn assert_rejected(reply: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(reply.status.as_u16(), status, "{what}: status ({})", reply.text());
    assert_eq!(
        reply.headers.get(CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "{what}: content type"
    );
    assert_eq!(
        reply.headers.get(CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "{what}: rejections are not cached"
    );
    let json = reply.json();
    let error = &json["error"];
    assert_eq!(error["code"], code, "{what}: code in {json}");
    assert_eq!(error["status"], status, "{what}: status in the body");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: a message in {json}"
    );
    let id = reply.request_id();
    assert!(!id.is_empty(), "{what}: a request id");
    assert_eq!(
        error["request_id"], id,
        "{what}: the body's request id is the header's"
    );
}

/// Asserts that `reply` is the handler's answer for `tenant`, with a request id.
pub fn assert_ok(reply: &Reply, tenant: &str, what: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{what}: status ({})", reply.text());
    assert_eq!(reply.text(), tenant, "{what}: the handler saw the key's tenant");
    assert!(!reply.request_id().is_empty(), "{what}: a request id");
}

/// Sends `GET /v1/events` with `key` as a Bearer token and asserts that the handler answered for
/// the key's tenant.
pub async fn accepted<S, B>(service: &S, key: &CreatedKey, what: &str)
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let reply = send(service, bearer("/v1/events", key.token.expose())).await;
    assert_ok(&reply, key.key.tenant.as_str(), what);
}

/// The Unix time of an RFC 9745 `Deprecation` value: `@` and an sf-integer of 1 to 15 digits.
pub fn deprecation_seconds(value: &str) -> i64 {
    let digits = value
        .strip_prefix('@')
        .unwrap_or_else(|| panic!("Deprecation is `@<seconds>`: {value:?}"));
    assert!(
        (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()),
        "Deprecation seconds are 1 to 15 digits: {value:?}"
    );
    digits.parse().expect("digits")
}

/// The Unix time of an IMF-fixdate (RFC 9110 §5.6.7, the form `Sunset` is sent in):
/// `Sat, 05 Dec 2026 16:48:42 GMT`, its day name checked against the date.
pub fn http_date_seconds(value: &str) -> i64 {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // from 1970-01-01
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let fail = || -> ! { panic!("not an IMF-fixdate: {value:?}") };
    let number = |text: &str, len: usize| -> i64 {
        if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
            fail()
        }
        text.parse().unwrap_or_else(|_| fail())
    };
    let fields: Vec<&str> = value.split(' ').collect();
    let [day_name, day, month, year, time, "GMT"] = fields[..] else {
        fail()
    };
    let day_name = day_name.strip_suffix(',').unwrap_or_else(|| fail());
    let (day, year) = (number(day, 2), number(year, 4));
    let month = MONTHS.iter().position(|m| *m == month).unwrap_or_else(|| fail()) as i64 + 1;
    let [hours, minutes, seconds] = time.split(':').collect::<Vec<_>>()[..] else {
        fail()
    };
    let (hours, minutes, seconds) = (number(hours, 2), number(minutes, 2), number(seconds, 2));
    assert!(
        hours < 24 && minutes < 60 && seconds < 61 && (1..=31).contains(&day),
        "{value:?}"
    );
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    assert_eq!(
        DAYS[days.rem_euclid(7) as usize],
        day_name,
        "the day name of {value:?}"
    );
    days * 86_400 + hours * 3600 + minutes * 60 + seconds
}

/// The Unix time of `at`, in whole seconds.
pub fn unix_seconds(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(1000)
}
