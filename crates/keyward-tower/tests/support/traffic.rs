//! Traffic for the outage tests: tasks that send requests over loopback HTTP in bounded loops
//! while the test stops and starts a server behind the layer, and what they were answered, with
//! the phase of the outage in which each request was sent and answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use super::server::{Server, client};

/// Before the outage (the phases are what the traffic sees when it sends and when it is answered).
pub const UP: u8 = 0;
/// The server is down.
pub const DOWN: u8 = 1;
/// The server is being started again.
pub const RESTARTING: u8 = 2;
/// The server answers again.
pub const RECOVERED: u8 = 3;

/// Most requests one traffic task sends: the loop ends on its own even if the test never says stop.
pub const MOST_REQUESTS: usize = 2_000;

/// One answer, with the phase in which its request was sent and the phase in which it came back.
#[derive(Debug)]
pub struct Answer {
    /// The phase when the request was sent.
    pub sent: u8,
    /// The phase when its answer came.
    pub answered: u8,
    /// The status.
    pub status: u16,
    /// `error.code` of a JSON envelope, and whether the envelope's request id is the header's.
    pub code: Option<(String, bool)>,
}

impl Answer {
    /// Whether the request was sent and answered in `phase`.
    pub fn within(&self, phase: u8) -> bool {
        self.sent == phase && self.answered == phase
    }
}

/// Tasks sending requests in bounded loops, and the phase they are told the test is in.
pub struct Traffic {
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    tasks: Vec<(&'static str, tokio::task::JoinHandle<Vec<Answer>>)>,
}

impl Traffic {
    /// No tasks yet, in the phase [`UP`].
    pub fn new() -> Self {
        Self {
            phase: Arc::new(AtomicU8::new(UP)),
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
        }
    }

    /// Starts `tasks` tasks sending `GET /v1/events` to `server` with `token` as a Bearer token,
    /// each in a bounded loop with a 10 ms pause between requests.
    pub fn send(&mut self, server: &Server, label: &'static str, token: &str, tasks: usize) {
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

    /// Tells the traffic that the test is now in `phase`.
    pub fn enter(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Stops the tasks and gathers their answers by label.
    pub async fn finish(self) -> HashMap<&'static str, Vec<Answer>> {
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

/// Asserts that every answer of `answers` is a 200, or a 503 with the error `code` in the JSON
/// envelope (the body's request id and status the header's).
pub fn assert_ok_or_unavailable(label: &str, answers: &[Answer], code: &str) {
    for answer in answers {
        match answer.status {
            200 => {}
            503 => assert_eq!(
                answer.code,
                Some((code.to_owned(), true)),
                "{label}: a 503 is {code} in the JSON envelope: {answer:?}"
            ),
            _ => panic!("{label}: unexpected answer {answer:?}"),
        }
    }
}
