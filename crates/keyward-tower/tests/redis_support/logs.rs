//! Captures the limiter's log events (target `keyward::rate_limit`) to count them.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The events logged under `keyward::rate_limit` on this thread while the guard lives.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<(Level, String)>>>);

impl Logs {
    /// Starts capturing on this thread (a current-thread runtime polls everything here).
    pub fn capture() -> (Self, DefaultGuard) {
        let logs = Self::default();
        let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(logs.clone()));
        (logs, guard)
    }

    /// How many events at `level` have a message containing `text`.
    pub fn count(&self, level: Level, text: &str) -> usize {
        let events = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        events
            .iter()
            .filter(|(l, message)| *l == level && message.contains(text))
            .count()
    }
}

impl<S: Subscriber> Layer<S> for Logs {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "keyward::rate_limit" {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let mut events = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        events.push((*event.metadata().level(), message.0));
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}
