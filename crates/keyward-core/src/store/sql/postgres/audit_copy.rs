//! Audit events as the rows of one `COPY keyward_audit … FROM STDIN` in PostgreSQL's text format:
//! a batch of any size is one statement with no parameters to bind, which costs the server a
//! fraction of a multi-row `INSERT`.
//!
//! A row's columns are separated by tabs and ended by a newline; `\N` is NULL; a backslash, tab,
//! newline or carriage return inside a value is written as `\\`, `\t`, `\n` or `\r`.

use std::fmt::Write as _;

use crate::audit::AuditEvent;

/// `events` as COPY text rows, in the column order of
/// [`COPY_AUDIT`](super::super::queries::COPY_AUDIT). Text is copied straight into the rows
/// (escaped where it has to be) and numbers written with `itoa`, without the formatting machinery:
/// a batch is about a thousand rows.
pub(super) fn rows(events: &[AuditEvent]) -> String {
    let mut out = String::with_capacity(events.len() * 192);
    for event in events {
        row(&mut out, event);
    }
    out
}

fn row(out: &mut String, event: &AuditEvent) {
    let mut number = itoa::Buffer::new();
    out.push_str(number.format(event.at.as_millis()));
    out.push('\t');
    column(out, &event.request_id);
    column(out, event.key_id.as_str());
    column(out, event.tenant.as_str());
    // A fingerprint is `fp_` and hex digits: nothing to escape. Writing to a `String` never
    // fails.
    let _ = write!(out, "{}\t", event.fingerprint);
    column(out, &event.method);
    column(out, &event.path);
    out.push_str(number.format(event.status));
    out.push('\t');
    nullable(out, event.client_ip.as_deref());
    nullable(out, event.user_agent.as_deref());
    column(out, event.kind.as_str());
    nullable(out, event.detail.as_deref());
    // The last column's tab becomes the row's end.
    out.pop();
    out.push('\n');
}

/// A column's text, escaped, and the tab after it.
fn column(out: &mut String, text: &str) {
    escaped(out, text);
    out.push('\t');
}

/// A nullable column and the tab after it.
fn nullable(out: &mut String, value: Option<&str>) {
    match value {
        Some(value) => column(out, value),
        None => out.push_str("\\N\t"),
    }
}

/// Writes `text` escaped for a COPY text column: a backslash, tab, newline or carriage return as
/// `\\`, `\t`, `\n` or `\r`. (A NUL, which no PostgreSQL text can hold, is left for the server
/// to refuse, as it refuses it in an `INSERT`.)
fn escaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(['\\', '\t', '\n', '\r']) {
        out.push_str(&rest[..at]);
        out.push_str(match rest.as_bytes()[at] {
            b'\\' => "\\\\",
            b'\t' => "\\t",
            b'\n' => "\\n",
            _ => "\\r",
        });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditKind;
    use crate::time::Timestamp;
    use crate::{KeyId, TenantId};

    fn event() -> AuditEvent {
        AuditEvent {
            at: Timestamp::from_millis(1_700_000_000_123),
            request_id: "req_1".into(),
            key_id: KeyId::generate(),
            tenant: TenantId::new("site_a").expect("a tenant"),
            fingerprint: "fp_0011223344556677".parse().expect("a fingerprint"),
            method: "GET".into(),
            path: "/v1/a\tb\\c".into(),
            status: 200,
            client_ip: None,
            user_agent: Some("line\nbreak\r\tend".into()),
            kind: AuditKind::Request,
            detail: None,
        }
    }

    #[test]
    fn columns_are_tab_separated_escaped_and_null_is_backslash_n() {
        let event = event();
        let rows = rows(std::slice::from_ref(&event));
        let expected = format!(
            "1700000000123\treq_1\t{}\tsite_a\t{}\tGET\t/v1/a\\tb\\\\c\t200\t\\N\tline\\nbreak\\r\\tend\trequest\t\\N\n",
            event.key_id, event.fingerprint
        );
        assert_eq!(rows, expected);
        assert_eq!(rows.matches('\n').count(), 1, "one row, one newline");
        assert_eq!(rows.matches('\t').count(), 11, "twelve columns");
    }
}
