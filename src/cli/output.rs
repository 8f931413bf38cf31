//! [`Printer`]: writes results as text or as JSON.
//!
//! stdout carries the result: a token alone on its line, a key's `field: value` lines, a table,
//! audit events one a line, or (with `--json`) one pretty-printed JSON document. stderr carries what a script does not parse:
//! the details that follow a token, notes. A token is only ever written to stdout.

use std::io::{self, Write};

use keyward_core::time::Timestamp;
use serde::Serialize;

use super::event_view::EventView;
use super::keyspace_view::KeyspaceView;
use super::view::{KeyView, UsageView};

/// Writes command results to `out` (stdout) and notes to `err` (stderr).
#[derive(Debug)]
pub(crate) struct Printer<O, E> {
    json: bool,
    out: O,
    err: E,
}

/// A token just minted, with its key (and, for a rotation, the key it replaced).
#[derive(Serialize)]
struct Minted<'a> {
    token: &'a str,
    #[serde(flatten)]
    key: &'a KeyView,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<&'a KeyView>,
}

/// One scanning pattern.
#[derive(Serialize)]
struct Pattern<'a> {
    namespace: &'a str,
    pattern: &'a str,
}

/// The result of `audit prune`.
#[derive(Serialize)]
struct Pruned {
    deleted: u64,
    before: Timestamp,
}

/// The result of `migrate`.
#[derive(Serialize)]
struct Migrated<'a> {
    migrated: bool,
    store: &'a str,
}

impl Printer<io::Stdout, io::Stderr> {
    /// A printer on this process's stdout and stderr.
    ///
    /// The streams are locked per write, never for the whole command: the store's worker threads
    /// log to stderr, and would wait forever on a lock held while the command waits on them.
    pub(crate) fn stdio(json: bool) -> Self {
        Self::new(json, io::stdout(), io::stderr())
    }
}

impl<O: Write, E: Write> Printer<O, E> {
    /// A printer on the given streams.
    pub(crate) fn new(json: bool, out: O, err: E) -> Self {
        Self { json, out, err }
    }

    /// A new token, shown once: on stdout only, alone on its line in text mode, with the key's
    /// details after it on stderr.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written. Failing to write the details to stderr is not an error: the
    /// key exists and its token was delivered.
    pub(crate) fn token(&mut self, token: &str, key: &KeyView, previous: Option<&KeyView>) -> io::Result<()> {
        if self.json {
            return self.json_out(&Minted { token, key, previous });
        }
        writeln!(self.out, "{token}")?;
        self.out.flush()?;
        let mut details = render_fields(&key.fields());
        if let Some(previous) = previous {
            details.push_str(&format!(
                "previous: {} ({})\n",
                previous.id,
                previous_fate(previous)
            ));
        }
        let _ = self
            .err
            .write_all(details.as_bytes())
            .and_then(|()| self.err.flush());
        Ok(())
    }

    /// One key, as `field: value` lines.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn key(&mut self, key: &KeyView) -> io::Result<()> {
        if self.json {
            return self.json_out(key);
        }
        self.out.write_all(render_fields(&key.fields()).as_bytes())?;
        self.out.flush()
    }

    /// One keyspace, as `field: value` lines.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn keyspace(&mut self, keyspace: &KeyspaceView) -> io::Result<()> {
        if self.json {
            return self.json_out(keyspace);
        }
        self.out.write_all(render_fields(&keyspace.fields()).as_bytes())?;
        self.out.flush()
    }

    /// Keyspaces as a table (a note on stderr when there are none), or a JSON array.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn keyspaces(&mut self, keyspaces: &[KeyspaceView]) -> io::Result<()> {
        if self.json {
            return self.json_out(&keyspaces);
        }
        if keyspaces.is_empty() {
            let _ = writeln!(self.err, "no keyspaces: apps declare theirs when they start");
            return Ok(());
        }
        let rows: Vec<[String; 4]> = keyspaces.iter().map(KeyspaceView::columns).collect();
        let header = ["NAME", "MAX_KEYS", "ROTATION", "PATTERN"];
        self.out
            .write_all(render_columns(Some(header), &rows).as_bytes())?;
        self.out.flush()
    }

    /// A note on stderr (what a command changed); never fails the command.
    pub(crate) fn note(&mut self, note: &str) {
        let _ = writeln!(self.err, "{note}").and_then(|()| self.err.flush());
    }

    /// Keys as a table (a note on stderr when there are none), or a JSON array.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn keys(&mut self, keys: &[KeyView], tenant: &str) -> io::Result<()> {
        if self.json {
            return self.json_out(&keys);
        }
        if keys.is_empty() {
            let _ = writeln!(self.err, "no keys for tenant `{tenant}`");
            return Ok(());
        }
        let rows: Vec<[String; 10]> = keys.iter().map(key_row).collect();
        self.out
            .write_all(render_columns(Some(KEY_HEADER), &rows).as_bytes())?;
        self.out.flush()
    }

    /// Audit events one a line, aligned in columns with no header (a note on stderr when there
    /// are none), or a JSON array.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn events(&mut self, events: &[EventView], tenant: &str) -> io::Result<()> {
        if self.json {
            return self.json_out(&events);
        }
        if events.is_empty() {
            let _ = writeln!(self.err, "no audit events for tenant `{tenant}`");
            return Ok(());
        }
        let rows: Vec<[String; 7]> = events.iter().map(EventView::columns).collect();
        self.out.write_all(render_columns(None, &rows).as_bytes())?;
        self.out.flush()
    }

    /// How many audit events `audit prune` deleted, and from before when.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn pruned(&mut self, deleted: u64, before: Timestamp) -> io::Result<()> {
        if self.json {
            return self.json_out(&Pruned { deleted, before });
        }
        let noun = if deleted == 1 { "event" } else { "events" };
        writeln!(self.out, "deleted {deleted} audit {noun} from before {before}")?;
        self.out.flush()
    }

    /// Keys' usage as a table (a note on stderr when there are none), or a JSON array.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn usage(&mut self, usage: &[UsageView], tenant: &str) -> io::Result<()> {
        if self.json {
            return self.json_out(&usage);
        }
        if usage.is_empty() {
            let _ = writeln!(self.err, "no keys for tenant `{tenant}`");
            return Ok(());
        }
        const HEADER: [&str; 8] = [
            "ID",
            "STATUS",
            "PREFIX",
            "LAST USED",
            "REQUESTS",
            "CREDITS",
            "NEXT REFILL",
            "NAME",
        ];
        let rows: Vec<[String; 8]> = usage.iter().map(UsageView::columns).collect();
        self.out
            .write_all(render_columns(Some(HEADER), &rows).as_bytes())?;
        self.out.flush()
    }

    /// Scanning patterns, one per line, or a JSON array of `{namespace, pattern}`.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn patterns(&mut self, patterns: &[(&str, String)]) -> io::Result<()> {
        if self.json {
            let list: Vec<Pattern<'_>> = patterns
                .iter()
                .map(|(namespace, pattern)| Pattern { namespace, pattern })
                .collect();
            return self.json_out(&list);
        }
        for (_, pattern) in patterns {
            writeln!(self.out, "{pattern}")?;
        }
        self.out.flush()
    }

    /// The store at `store` (password removed) is open and migrated.
    ///
    /// # Errors
    ///
    /// When stdout cannot be written.
    pub(crate) fn migrated(&mut self, store: &str) -> io::Result<()> {
        if self.json {
            return self.json_out(&Migrated {
                migrated: true,
                store,
            });
        }
        writeln!(self.out, "store `{store}` is ready: migrations applied")?;
        self.out.flush()
    }

    fn json_out(&mut self, value: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, value)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}

/// What became of a rotated-out key.
fn previous_fate(previous: &KeyView) -> String {
    match (&previous.revoked_at, &previous.grace_until) {
        (Some(at), _) => format!("revoked at {at}"),
        (None, Some(until)) => format!("works until {until}"),
        (None, None) => "works until revoked: run `keyward keys revoke` once clients have moved".to_owned(),
    }
}

/// `field: value` lines, values aligned.
fn render_fields(fields: &[(&'static str, String)]) -> String {
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 1;
    fields
        .iter()
        .map(|(name, value)| format!("{:<width$} {value}\n", format!("{name}:")))
        .collect()
}

/// The columns of `keys list`.
const KEY_HEADER: [&str; 10] = [
    "ID", "STATUS", "KIND", "ENV", "PREFIX", "TIER", "SCOPES", "CREDITS", "CREATED", "NAME",
];

/// A key's row in `keys list`, the name last.
fn key_row(k: &KeyView) -> [String; 10] {
    [
        k.id.to_string(),
        k.status_text().to_owned(),
        k.kind.to_string(),
        k.environment.to_string(),
        k.display_prefix.clone(),
        k.tier.to_string(),
        k.scopes_text(),
        k.credits_text(),
        k.created_at.to_string(),
        k.name.clone(),
    ]
}

/// Rows in aligned columns separated by two spaces, after a header row when given; no trailing
/// spaces, so the last column may hold text of any length.
fn render_columns<const N: usize>(header: Option<[&str; N]>, rows: &[[String; N]]) -> String {
    let header = header.map(|header| header.map(str::to_owned));
    let mut widths = [0; N];
    for row in header.iter().chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    for row in header.iter().chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};

    use super::*;

    async fn key_view(name: &str) -> (String, KeyView) {
        let manager = KeyManager::new(MemoryStore::new());
        let tenant = TenantId::new("site_1").expect("valid tenant");
        let created = manager
            .create(NewKey::new(tenant).name(name))
            .await
            .expect("created");
        let view = KeyView::new(&created.key, manager.now());
        (created.token.expose().to_owned(), view)
    }

    fn printed(json: bool, print: impl FnOnce(&mut Printer<&mut Vec<u8>, &mut Vec<u8>>)) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        print(&mut Printer::new(json, &mut out, &mut err));
        (
            String::from_utf8(out).expect("utf-8 stdout"),
            String::from_utf8(err).expect("utf-8 stderr"),
        )
    }

    #[tokio::test]
    async fn token_alone_on_stdout_details_on_stderr() {
        let (token, view) = key_view("CI").await;
        let (out, err) = printed(false, |p| p.token(&token, &view, None).expect("written"));
        assert_eq!(out, format!("{token}\n"));
        assert!(!err.contains(&token), "{err}");
        assert!(err.contains(&format!("id:             {}\n", view.id)), "{err}");
        assert!(err.contains("status:         active\n"), "{err}");
    }

    #[tokio::test]
    async fn token_as_json_holds_the_key_fields() {
        let (token, view) = key_view("CI").await;
        let (out, err) = printed(true, |p| p.token(&token, &view, Some(&view)).expect("written"));
        assert_eq!(err, "");
        let value: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(value["token"], token.as_str());
        assert_eq!(value["id"], view.id.as_str());
        assert_eq!(value["name"], "CI");
        assert_eq!(value["scopes"], serde_json::json!(["*"]));
        assert_eq!(value["previous"]["id"], view.id.as_str());
        assert!(value["previous"].get("token").is_none(), "{out}");
    }

    #[tokio::test]
    async fn table_has_a_header_and_a_row_per_key() {
        let (token, view) = key_view("Mobile app").await;
        let (out, _) = printed(false, |p| p.keys(&[view], "site_1").expect("written"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("ID "), "{out}");
        assert!(lines[1].ends_with("Mobile app"), "{out}");
        assert!(!out.contains(&token));
    }

    #[test]
    fn no_keys_is_a_note_on_stderr() {
        let (out, err) = printed(false, |p| p.keys(&[], "site_1").expect("written"));
        assert_eq!(out, "");
        assert_eq!(err, "no keys for tenant `site_1`\n");
        let (out, _) = printed(true, |p| p.keys(&[], "site_1").expect("written"));
        assert_eq!(out, "[]\n");
    }
}
