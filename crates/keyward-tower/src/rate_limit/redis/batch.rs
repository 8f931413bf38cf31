//! Checks going to Redis together: every check waiting while a batch is out goes in the next one,
//! a single EVALSHA of the script, so a busy process sends a round trip per batch, not per
//! request, and Redis runs the script once for many checks. An idle process sends each check
//! at once, alone.
//!
//! At most [`IN_FLIGHT`] batches are out at a time: a check waits for at most those and its own.
//! Checks whose request stopped waiting (the limiter's timeout) are left out of the next batch,
//! so they spend nothing; a batch is given up when the last of its checks' deadlines passes.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::gcra::{Decided, Gcra, Spend};
use super::unavailable::Unavailable;

/// Most checks one EVALSHA carries (a key and a number each).
const MAX_BATCH: usize = 256;
// A batch's distinct quotas fit the script's packing.
const _: () = assert!(MAX_BATCH as u64 <= super::gcra::QUOTA_SLOTS);
/// Most batches out at once on the multiplexed connection (Redis runs them in the order sent):
/// two, so that one travels while Redis runs the other; more only make batches smaller, and
/// each batch costs Redis and both ends a script run and a pair of system calls.
const IN_FLIGHT: usize = 2;

/// What Redis decided for one check (and the lease it took), or why it could not.
pub(super) type Answer = Result<Decided, Unavailable>;

/// The checks' end of the queue to the batch task; the task ends when this is dropped.
pub(super) struct Batches {
    queue: mpsc::UnboundedSender<Queued>,
}

/// A check waiting for its batch.
struct Queued {
    spend: Spend,
    /// When the check stops waiting, and how long it waits in all.
    deadline: Instant,
    timeout: Duration,
    answer: oneshot::Sender<Answer>,
}

impl Batches {
    /// Starts the batch task on the current tokio runtime, sending on `conn`.
    pub(super) fn spawn(conn: ConnectionManager, gcra: Gcra) -> Self {
        let (queue, checks) = mpsc::unbounded_channel();
        tokio::spawn(run(conn, gcra, checks));
        Self { queue }
    }

    /// Queues `spend`, which waits until `deadline` (`timeout` in all); the receiver gets Redis's
    /// decision. A receiver whose sender is dropped unanswered means the task is gone (its
    /// runtime shut down).
    pub(super) fn queue(
        &self,
        spend: Spend,
        deadline: Instant,
        timeout: Duration,
    ) -> oneshot::Receiver<Answer> {
        let (answer, decision) = oneshot::channel();
        // A send fails only once the task is gone; the dropped sender then tells the receiver.
        let _ = self.queue.send(Queued {
            spend,
            deadline,
            timeout,
            answer,
        });
        decision
    }
}

async fn run(conn: ConnectionManager, gcra: Gcra, mut checks: mpsc::UnboundedReceiver<Queued>) {
    let mut taken = Vec::with_capacity(MAX_BATCH);
    let mut out = FuturesUnordered::new();
    loop {
        tokio::select! {
            biased;
            Some(()) = out.next(), if !out.is_empty() => {}
            taken_now = checks.recv_many(&mut taken, MAX_BATCH), if out.len() < IN_FLIGHT => {
                if taken_now == 0 {
                    break;
                }
                if let Some(batch) = Batch::of(&mut taken) {
                    out.push(batch.decide(conn.clone(), &gcra));
                }
            }
        }
    }
    while out.next().await.is_some() {}
}

/// Checks sent in one EVALSHA, with the ends their answers go to.
struct Batch {
    spends: Vec<Spend>,
    answers: Vec<(oneshot::Sender<Answer>, Duration)>,
    /// The latest of the checks' deadlines: the batch is given up then.
    deadline: Instant,
}

impl Batch {
    /// The checks of `taken` still waiting (none: `None`); empties `taken`.
    fn of(taken: &mut Vec<Queued>) -> Option<Self> {
        let mut deadline: Option<Instant> = None;
        let mut spends = Vec::with_capacity(taken.len());
        let mut answers = Vec::with_capacity(taken.len());
        for queued in taken.drain(..) {
            if !queued.answer.is_closed() {
                deadline = deadline.max(Some(queued.deadline));
                spends.push(queued.spend);
                answers.push((queued.answer, queued.timeout));
            }
        }
        Some(Self {
            spends,
            answers,
            deadline: deadline?,
        })
    }

    /// Sends the batch and answers each check.
    async fn decide(self, mut conn: ConnectionManager, gcra: &Gcra) {
        let outcome = tokio::time::timeout_at(self.deadline, gcra.spend(&mut conn, &self.spends)).await;
        match outcome {
            Ok(Ok(decisions)) => {
                for ((answer, _), decision) in self.answers.into_iter().zip(decisions) {
                    let _ = answer.send(Ok(decision));
                }
            }
            Ok(Err(error)) => {
                for (answer, _) in self.answers {
                    let _ = answer.send(Err(Unavailable::Redis(error.clone())));
                }
            }
            Err(_elapsed) => {
                for (answer, timeout) in self.answers {
                    let _ = answer.send(Err(Unavailable::Timeout(timeout)));
                }
            }
        }
    }
}
