//! Audit events as the rows of one `COPY keyward_audit … FROM STDIN` in PostgreSQL's text format:
//! a batch of any size is one statement with no parameters to bind, which costs the server a
//! fraction of a multi-row `INSERT`.
//!
//! A row's columns are separated by tabs and ended by a newline; `\N` is NULL; a backslash, tab,
//! newline or carriage return inside a value is written as `\\`, `\t`, `\n` or `\r`.

use std::fmt::{self, Write as _};

use crate::audit::AuditEvent;

/// `events` as COPY text rows, in the column order of
/// [`COPY_AUDIT`](super::super::queries::COPY_AUDIT).
pub(super) fn rows(events: &[AuditEvent]) -> String {
    let mut out = String::with_capacity(events.len() * 192);
    for event in events {
        // Writing to a `String` never fails.
        let _ = row(&mut out, event);
    }
    out
}

fn row(out: &mut String, event: &AuditEvent) -> fmt::Result {
    write!(out, "{}\t", event.at.as_millis())?;
    column(out, format_args!("{}", event.request_id))?;
    column(out, format_args!("{}", event.key_id))?;
    column(out, format_args!("{}", event.tenant))?;
    column(out, format_args!("{}", event.fingerprint))?;
    column(out, format_args!("{}", event.method))?;
    column(out, format_args!("{}", event.path))?;
    write!(out, "{}\t", event.status)?;
    nullable(out, event.client_ip.as_deref())?;
    nullable(out, event.user_agent.as_deref())?;
    column(out, format_args!("{}", event.kind.as_str()))?;
    nullable(out, event.detail.as_deref())?;
    // The last column's tab becomes the row's end.
    out.pop();
    out.push('\n');
    Ok(())
}

/// A column's text, escaped, and the tab after it.
fn column(out: &mut String, value: fmt::Arguments<'_>) -> fmt::Result {
    Escaped(out).write_fmt(value)?;
    out.push('\t');
    Ok(())
}

/// A nullable column and the tab after it.
fn nullable(out: &mut String, value: Option<&str>) -> fmt::Result {
    match value {
        Some(value) => column(out, format_args!("{value}")),
        None => {
            out.push_str("\\N\t");
            Ok(())
        }
    }
}

/// Writes text escaped for a COPY text column. (A NUL, which no PostgreSQL text can hold, is left
/// for the server to refuse, as it refuses it in an `INSERT`.)
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(['\\', '\t', '\n', '\r']) {
            self.0.push_str(&rest[..at]);
            self.0.push_str(match rest.as_bytes()[at] {
                b'\\' => "\\\\",
                b'\t' => "\\t",
                b'\n' => "\\n",
                _ => "\\r",
            });
            rest = &rest[at + 1..];
        }
        self.0.push_str(rest);
        Ok(())
    }
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
