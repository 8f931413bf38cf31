//! PostgreSQL stopped under traffic: the layer over loopback HTTP in front of a `PostgresStore` on
//! a cluster of the test's own, which is stopped (`pg_ctl stop -m fast`) while several tasks keep
//! sending requests, then started again. Needs the PostgreSQL server binaries
//! (`/usr/lib/postgresql/*/bin`), not the shared test server.

mod postgres_support;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use keyward_core::audit::AuditQuery;
use keyward_core::store::PostgresStore;
use keyward_core::{CreatedKey, KeyManager, KeyStore, NewKey, TenantId};
use keyward_tower::{ApiKeyLayer, AuditConfig, CacheConfig};
use postgres_support::PostgresCluster;
use support::server::{Server, client, serve};
use support::tenant_id;

/// The phases of the outage, as the traffic sees them when it sends and when it is answered.
const UP: u8 = 0;
const DOWN: u8 = 1;
const RESTARTING: u8 = 2;
const RECOVERED: u8 = 3;

/// Most requests one traffic task sends: the loop ends on its own even if the test never says stop.
const MOST_REQUESTS: usize = 2_000;
/// How long PostgreSQL stays down.
const OUTAGE: Duration = Duration::from_secs(8);

/// One answer, with the phase in which its request was sent and the phase in which it came back.
#[derive(Debug)]
struct Answer {
    sent: u8,
    answered: u8,
    status: u16,
    /// `error.code` of a JSON envelope, and whether the envelope's request id is the header's.
    code: Option<(String, bool)>,
}

impl Answer {
    fn within(&self, phase: u8) -> bool {
        self.sent == phase && self.answered == phase
    }
}

struct Traffic {
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    tasks: Vec<(&'static str, tokio::task::JoinHandle<Vec<Answer>>)>,
}

impl Traffic {
    /// No tasks yet, in the phase [`UP`].
    fn new() -> Self {
        Self {
            phase: Arc::new(AtomicU8::new(UP)),
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
        }
    }

    /// Starts `tasks` tasks sending `GET /v1/events` with `token`, each in a bounded loop.
    fn send(&mut self, server: &Server, label: &'static str, token: &str, tasks: usize) {
        for _ in 0..tasks {
            let (phase, stop) = (self.phase.clone(), self.stop.clone());
            let (url, token) = (server.url("/v1/events"), token.to_owned());
            self.tasks.push((
                label,
                tokio::spawn(async move {
                    let client = client();
                    let mut answers = Vec::new();
                    while answers.len() < MOST_REQUESTS && !stop.load(Ordering::SeqCst) {
                        let sent = phase.load(Ordering::SeqCst);
                        let response = client
                            .get(&url)
                            .bearer_auth(&token)
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("{label}: no answer ({e})"));
                        answers.push(answer(sent, &phase, response).await);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    answers
                }),
            ));
        }
    }

    fn enter(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Stops the tasks and gathers their answers by label.
    async fn finish(self) -> HashMap<&'static str, Vec<Answer>> {
        self.stop.store(true, Ordering::SeqCst);
        let mut by_label: HashMap<&'static str, Vec<Answer>> = HashMap::new();
        for (label, task) in self.tasks {
            let answers = tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .unwrap_or_else(|_| panic!("{label}: a traffic task did not end"))
                .unwrap_or_else(|e| panic!("{label}: a traffic task failed: {e}"));
            by_label.entry(label).or_default().extend(answers);
        }
        by_label
    }
}

async fn answer(sent: u8, phase: &AtomicU8, response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json = (response.headers().get("content-type").map(|v| v.as_bytes())
        == Some(&b"application/json"[..]))
    .then_some(());
    let body = response.bytes().await.expect("a whole body");
    let code = json
        .and_then(|()| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .map(|json| {
            let error = &json["error"];
            let code = error["code"].as_str().unwrap_or_default().to_owned();
            let ids_match = header_id.is_some()
                && error["request_id"].as_str() == header_id.as_deref()
                && error["status"] == status;
            (code, ids_match)
        });
    Answer {
        sent,
        answered: phase.load(Ordering::SeqCst),
        status,
        code,
    }
}

async fn create(manager: &KeyManager, tenant: &TenantId, name: &str) -> CreatedKey {
    manager
        .create(NewKey::new(tenant.clone()).name(name))
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e}"))
}

async fn status_of(url: String, token: &str) -> u16 {
    client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_traffic_then_started_again() {
    let mut cluster = PostgresCluster::start();
    let store = Arc::new(
        PostgresStore::connect(&cluster.url())
            .await
            .expect("the store connects"),
    );
    let manager = KeyManager::builder_shared(store.clone())
        .build()
        .expect("a valid manager");
    let layer = ApiKeyLayer::builder(manager.clone())
        .no_rate_limit()
        // Cached keys outlive the outage; the writer tries every 100 ms.
        .cache(CacheConfig {
            ttl: Duration::from_secs(120),
            ..CacheConfig::default()
        })
        .audit(AuditConfig {
            interval: Duration::from_millis(100),
            ..AuditConfig::default()
        })
        .build()
        .expect("a valid layer");
    let server = serve(&layer).await;
    let audit = layer.audit().expect("recording is on").clone();

    // Before the outage: keys, a revocation and audit events, all written.
    let tenant = tenant_id("site_traffic");
    let warm = create(&manager, &tenant, "warm").await;
    let cold = create(&manager, &tenant, "cold").await;
    let spare = create(&manager, &tenant, "spare").await;
    let late = create(&manager, &tenant, "revoked after recovery").await;
    let early = create(&manager, &tenant, "revoked before the outage").await;
    manager
        .revoke(&tenant, &early.key.id)
        .await
        .expect("revoke before the outage");
    for key in [&warm, &late] {
        assert_eq!(status_of(server.url("/v1/events"), key.token.expose()).await, 200);
    }
    assert_eq!(
        status_of(server.url("/v1/events"), early.token.expose()).await,
        401
    );
    tokio::time::timeout(Duration::from_secs(30), audit.flush())
        .await
        .expect("the flush ends");
    let events_before = store
        .audit_log(&AuditQuery::new(tenant.clone()).limit(100))
        .await
        .expect("the audit log")
        .len();
    assert_eq!(events_before, 2);

    // Traffic with the cached keys from before the outage to after it; with the uncached key from
    // the moment the store is down (else its first request would cache it).
    let mut traffic = Traffic::new();
    traffic.send(&server, "warm", warm.token.expose(), 2);
    traffic.send(&server, "late", late.token.expose(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;

    cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .expect("pg_ctl stop");
    traffic.enter(DOWN);
    traffic.send(&server, "cold", cold.token.expose(), 2);
    // Long enough for each uncached request to be refused within it (an operation waits up to
    // 5 s for a connection) and for the writer to fail a few rounds.
    tokio::time::sleep(OUTAGE).await;

    traffic.enter(RESTARTING);
    cluster = tokio::task::spawn_blocking(move || {
        cluster.start_again();
        cluster
    })
    .await
    .expect("pg_ctl start");
    traffic.enter(RECOVERED);
    // Traffic goes on for a while after recovery.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answers = traffic.finish().await;

    // Nothing but 200, 401 and the documented 503 in its envelope; never a 500.
    for (label, answers) in &answers {
        for answer in answers {
            match answer.status {
                200 => {}
                503 => assert_eq!(
                    answer.code,
                    Some(("store_unavailable".to_owned(), true)),
                    "{label}: a 503 is store_unavailable in the JSON envelope: {answer:?}"
                ),
                _ => panic!("{label}: unexpected answer {answer:?}"),
            }
        }
    }
    // Cached keys keep working throughout.
    for label in ["warm", "late"] {
        let within_outage = answers[label].iter().filter(|a| a.within(DOWN)).count();
        assert!(
            within_outage >= 20,
            "{label}: {within_outage} requests in the outage"
        );
        let refused: Vec<&Answer> = answers[label].iter().filter(|a| a.status != 200).collect();
        assert!(
            refused.is_empty(),
            "{label}: a cached key was refused: {refused:?}"
        );
    }
    // The uncached key is refused while the store is down, and works again after.
    let cold_answers = &answers["cold"];
    let refused_in_outage = cold_answers
        .iter()
        .filter(|a| a.within(DOWN) && a.status == 503)
        .count();
    assert!(refused_in_outage >= 2, "cold: {cold_answers:?}");
    assert!(
        cold_answers
            .iter()
            .filter(|a| a.within(DOWN))
            .all(|a| a.status == 503),
        "cold: only 503 while the store is down: {cold_answers:?}"
    );
    assert!(
        cold_answers
            .iter()
            .any(|a| a.within(RECOVERED) && a.status == 200),
        "cold: no 200 after recovery: {cold_answers:?}"
    );
    assert_eq!(
        cold_answers.last().map(|a| a.status),
        Some(200),
        "cold: the last answer"
    );

    // Recovered without restarting the app: another uncached key, a key made now, a revocation
    // made now, and the revocation made before the outage.
    let url = server.url("/v1/events");
    assert_eq!(status_of(url.clone(), spare.token.expose()).await, 200);
    let fresh = create(&manager, &tenant, "made after recovery").await;
    assert_eq!(status_of(url.clone(), fresh.token.expose()).await, 200);
    manager
        .revoke(&tenant, &late.key.id)
        .await
        .expect("revoke after recovery");
    assert_eq!(status_of(url.clone(), late.token.expose()).await, 401);
    assert_eq!(status_of(url.clone(), early.token.expose()).await, 401);

    // What was written before the outage, and every request's usage and audit event (those queued
    // during the outage included), is in the database: read through a store of its own.
    tokio::time::timeout(Duration::from_secs(30), audit.flush())
        .await
        .expect("the flush ends");
    let served: HashMap<&str, u64> = ["warm", "late", "cold"]
        .into_iter()
        .map(|label| {
            let ok = answers[label].iter().filter(|a| a.status == 200).count();
            (label, u64::try_from(ok).expect("a count"))
        })
        .collect();
    let reader = PostgresStore::connect(&cluster.url())
        .await
        .expect("a second store connects");
    let keys = reader.list(&tenant).await.expect("the tenant's keys");
    assert_eq!(keys.len(), 6, "every key is kept");
    let stored = |id| keys.iter().find(|k| &k.id == id).expect("the key is stored");
    assert!(
        stored(&early.key.id).revoked_at.is_some(),
        "the revocation is kept"
    );
    assert!(stored(&late.key.id).revoked_at.is_some());
    // warm and late: one request each before the traffic; spare and fresh: one each after.
    let expected = [
        ("warm", &warm, served["warm"] + 1),
        ("late", &late, served["late"] + 1),
        ("cold", &cold, served["cold"]),
        ("spare", &spare, 1),
        ("fresh", &fresh, 1),
    ];
    for (label, key, requests) in expected {
        assert_eq!(stored(&key.key.id).request_count, requests, "{label}: usage");
    }
    let events = reader
        .audit_log(&AuditQuery::new(tenant.clone()).limit(AuditQuery::MAX_LIMIT))
        .await
        .expect("the audit log");
    let total: u64 = expected.iter().map(|(_, _, requests)| requests).sum();
    assert_eq!(events.len() as u64, total, "one audit event per request served");
    assert_eq!(audit.dropped(), 0, "nothing dropped");

    drop(server);
    reader.close().await;
    store.close().await;
    drop(cluster);
}
