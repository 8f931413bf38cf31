//! [`EventView`]: an audit event as `keyward audit` shows it: a key's fingerprint, never a token
//! or a hash.

use keyward_core::audit::{AuditEvent, AuditKind};
use keyward_core::time::Timestamp;
use keyward_core::{KeyId, TenantId};
use serde::Serialize;

/// What `keyward audit` prints about one request (or another event of a key's life, which its
/// `kind` names: `key.leaked`).
///
/// Built field by field from an [`AuditEvent`], so a field added to the event is shown only once
/// it is added here.
#[derive(Debug, Serialize)]
pub(crate) struct EventView {
    pub(crate) kind: AuditKind,
    pub(crate) at: Timestamp,
    pub(crate) request_id: String,
    pub(crate) key_id: KeyId,
    pub(crate) tenant: TenantId,
    pub(crate) fingerprint: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) client_ip: Option<String>,
    pub(crate) user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
}

impl From<&AuditEvent> for EventView {
    fn from(event: &AuditEvent) -> Self {
        Self {
            kind: event.kind,
            at: event.at,
            request_id: event.request_id.clone(),
            key_id: event.key_id.clone(),
            tenant: event.tenant.clone(),
            fingerprint: event.fingerprint.to_string(),
            method: event.method.clone(),
            path: event.path.clone(),
            status: event.status,
            client_ip: event.client_ip.clone(),
            user_agent: event.user_agent.clone(),
            detail: event.detail.clone(),
        }
    }
}

impl EventView {
    /// The columns of the event's text line: time, fingerprint, method and path (after the kind
    /// and the detail, for an event that is not a request), status, request id, client IP, user
    /// agent; `-` for what is missing, control characters escaped so that an event is always one
    /// line.
    pub(crate) fn columns(&self) -> [String; 7] {
        let or_dash = |text: Option<&str>| {
            text.filter(|t| !t.is_empty())
                .map_or_else(|| "-".to_owned(), printable)
        };
        [
            self.at.to_string(),
            self.fingerprint.clone(),
            printable(&match (self.kind, &self.detail) {
                (AuditKind::Request, _) => format!("{} {}", self.method, self.path),
                (kind, Some(detail)) => format!("{kind} {detail} {} {}", self.method, self.path),
                (kind, None) => format!("{kind} {} {}", self.method, self.path),
            }),
            self.status.to_string(),
            or_dash(Some(&self.request_id)),
            or_dash(self.client_ip.as_deref()),
            or_dash(self.user_agent.as_deref()),
        ]
    }
}

/// `text` with its control characters (a newline, an escape sequence) written as `\u{…}`
/// escapes, so that text from a client cannot break a line or drive the terminal.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use keyward_core::hash::Hasher;

    use super::*;

    fn event(client_ip: Option<&str>, user_agent: Option<&str>) -> AuditEvent {
        AuditEvent {
            at: "2026-12-01T10:00:00Z".parse().expect("a time"),
            request_id: "req_1".into(),
            key_id: KeyId::generate(),
            tenant: TenantId::new("brand_7").expect("a valid tenant"),
            fingerprint: Hasher::sha256().hash("kw_live_x").fingerprint(),
            method: "GET".into(),
            path: "/api/campaigns".into(),
            status: 200,
            client_ip: client_ip.map(str::to_owned),
            user_agent: user_agent.map(str::to_owned),
            kind: AuditKind::Request,
            detail: None,
        }
    }

    #[test]
    fn missing_values_are_dashes() {
        let source = event(None, None);
        let columns = EventView::from(&source).columns();
        assert_eq!(columns[0], "2026-12-01T10:00:00.000Z");
        assert_eq!(columns[1], source.fingerprint.to_string());
        assert_eq!(columns[2], "GET /api/campaigns");
        assert_eq!(columns[3], "200");
        assert_eq!(columns[4], "req_1");
        assert_eq!(columns[5..], ["-", "-"]);
    }

    #[test]
    fn other_kinds_lead_with_the_kind_and_the_detail() {
        let mut source = event(None, None);
        source.kind = AuditKind::KeyLeaked;
        source.detail = Some(r#"{"source":"content"}"#.into());
        let columns = EventView::from(&source).columns();
        assert_eq!(
            columns[2],
            r#"key.leaked {"source":"content"} GET /api/campaigns"#
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        let columns = EventView::from(&event(Some("203.0.113.7"), Some("evil\n\u{1b}[2J"))).columns();
        assert_eq!(columns[5..], ["203.0.113.7", "evil\\u{a}\\u{1b}[2J"]);
    }
}
