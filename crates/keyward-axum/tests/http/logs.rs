//! A subscriber that keeps the events logged on this thread, to check what is logged and how.

use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::DefaultGuard;
use tracing::{Event, Level, Metadata, Subscriber};

/// One logged event.
#[derive(Clone, Debug)]
pub struct Logged {
    pub level: Level,
    pub target: String,
    pub text: String,
}

/// The events logged since [`capture`].
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<Logged>>>);

impl Logs {
    /// The events at `level` for `target`.
    pub fn at(&self, level: Level, target: &str) -> Vec<Logged> {
        let events = self.0.lock().expect("the log is not poisoned");
        events
            .iter()
            .filter(|e| e.level == level && e.target == target)
            .cloned()
            .collect()
    }
}

/// Keeps this thread's events (the test's, and its current-thread runtime's tasks') until the
/// guard drops.
pub fn capture() -> (Logs, DefaultGuard) {
    let logs = Logs::default();
    let guard = tracing::subscriber::set_default(Keeper(logs.clone()));
    (logs, guard)
}

struct Keeper(Logs);

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(&format!("{}={value:?}", field.name()));
    }
}

impl Subscriber for Keeper {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Text(String::new());
        event.record(&mut text);
        let logged = Logged {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            text: text.0,
        };
        self.0.0.lock().expect("the log is not poisoned").push(logged);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
