//! The key page's HTML: everything user-given (key names, scopes, tenants, and the delivery log's
//! paths and user agents, which any API client chooses) written through [`Escaped`].

use std::collections::HashMap;
use std::fmt::{self, Write};

use keyward_core::audit::AuditEvent;
use keyward_core::time::Timestamp;
use keyward_core::{ApiKey, KeyId, KeyStatus, TenantId};

use super::assets::{SCRIPT, STYLE};
use crate::management::view::KeyView;

/// Text made safe for HTML content and quoted attribute values.
pub(super) struct Escaped<'a>(pub(super) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// What the page shows.
pub(super) struct PageData<'a> {
    /// Where the page is mounted (`/settings/api-keys`), without a trailing `/`.
    pub(super) base: &'a str,
    pub(super) tenant: &'a TenantId,
    pub(super) csrf_token: &'a str,
    pub(super) keys: &'a [ApiKey],
    pub(super) now: Timestamp,
    /// The scopes the create form suggests (the keyspace's defaults).
    pub(super) default_scopes: String,
    pub(super) events: &'a [AuditEvent],
    /// The delivery log's filters as given: `key` and `path`.
    pub(super) filter_key: Option<&'a str>,
    pub(super) filter_path: Option<&'a str>,
}

fn head(out: &mut String, title: &str, csrf_token: Option<&str>) {
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">",
    );
    if let Some(token) = csrf_token {
        let _ = write!(out, "<meta name=\"csrf-token\" content=\"{}\">", Escaped(token));
    }
    let _ = write!(
        out,
        "<title>{}</title><style>{STYLE}</style></head>",
        Escaped(title)
    );
}

fn time(out: &mut String, at: Option<Timestamp>, none: &str) {
    match at {
        Some(at) => {
            let _ = write!(out, "<time datetime=\"{at}\">{at}</time>");
        }
        None => out.push_str(none),
    }
}

/// The page.
pub(super) fn page(data: &PageData<'_>) -> String {
    let mut out = String::with_capacity(8 * 1024);
    head(&mut out, "API keys", Some(data.csrf_token));
    let _ = write!(
        out,
        "<body><main>\
         <h1>API keys</h1><p class=\"tenant\">Keys of <code id=\"tenant\">{}</code></p>\
         <noscript><p class=\"error\">Creating, rotating and revoking keys needs JavaScript.</p></noscript>\
         <p id=\"error\" class=\"error\" role=\"alert\" hidden></p>",
        Escaped(data.tenant.as_str()),
    );
    let _ = write!(
        out,
        "<section><h2>Create a key</h2>\
         <form id=\"create\" method=\"post\" action=\"{}/keys\">\
         <label>Name <input name=\"name\" required maxlength=\"100\" placeholder=\"Production backend\"></label>\
         <label>Scopes <input name=\"scopes\" value=\"{}\" placeholder=\"analytics:read campaigns:read\"></label>\
         <label>Kind <select name=\"kind\"><option value=\"secret\">secret</option>\
         <option value=\"publishable\">publishable</option></select></label>\
         <label>Expires in <input name=\"expires_in\" placeholder=\"never, or 90d\"></label>\
         <button type=\"submit\">Create API key</button></form></section>",
        Escaped(data.base),
        Escaped(&data.default_scopes),
    );
    keys(&mut out, data);
    delivery_log(&mut out, data);
    out.push_str(
        "<dialog id=\"reveal\" aria-labelledby=\"reveal-title\"><h2 id=\"reveal-title\">Your new API key</h2>\
         <p>Copy it now: this is the only time the full key is shown. \
         It cannot be recovered later; if you lose it, revoke it and create another.</p>\
         <p>Name: <strong id=\"reveal-name\"></strong></p>\
         <input id=\"reveal-token\" readonly autocomplete=\"off\" spellcheck=\"false\" aria-label=\"API key\">\
         <p><button type=\"button\" id=\"copy\" data-copy-target=\"reveal-token\">Copy to clipboard</button> \
         <button type=\"button\" id=\"done\">Done</button></p></dialog>",
    );
    let _ = write!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

fn keys(out: &mut String, data: &PageData<'_>) {
    let base = Escaped(data.base);
    out.push_str(
        "<section><h2>Keys</h2><table id=\"keys\"><thead><tr><th>Name</th><th>Prefix</th>\
         <th>Scopes</th><th>Kind</th><th>Status</th><th>Created</th><th>Expires</th>\
         <th>Last used</th><th>Requests</th><th></th></tr></thead><tbody>",
    );
    if data.keys.is_empty() {
        out.push_str("<tr><td colspan=\"10\">No keys yet.</td></tr>");
    }
    for key in data.keys {
        let view = KeyView::new(key, data.now);
        let id = Escaped(view.id.as_str());
        let name = Escaped(view.name);
        let _ = write!(
            out,
            "<tr data-key-id=\"{id}\"><td class=\"name\">{name}</td>\
             <td class=\"prefix\"><code>{}</code></td><td class=\"scopes\">",
            Escaped(view.display_prefix),
        );
        for scope in view.scopes.iter() {
            let _ = write!(out, "<code>{}</code> ", Escaped(scope.as_str()));
        }
        let _ = write!(
            out,
            "</td><td>{}</td><td class=\"status\">{}</td><td>",
            view.kind.as_str(),
            view.status.as_str()
        );
        time(out, Some(view.created_at), "");
        out.push_str("</td><td>");
        time(out, view.expires_at.or(view.grace_until), "never");
        out.push_str("</td><td class=\"last-used\">");
        time(out, view.last_used_at, "never");
        let _ = write!(
            out,
            "</td><td class=\"requests\">{}</td><td class=\"actions\">",
            view.request_count
        );
        if view.status == KeyStatus::Active {
            let _ = write!(
                out,
                "<form class=\"rotate\" method=\"post\" action=\"{base}/keys/{id}/rotate\" data-name=\"{name}\">\
                 <button type=\"submit\">Rotate</button></form>\
                 <form class=\"revoke\" method=\"post\" action=\"{base}/keys/{id}/revoke\" data-name=\"{name}\">\
                 <button type=\"submit\">Revoke</button></form>"
            );
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></section>");
}

fn delivery_log(out: &mut String, data: &PageData<'_>) {
    let names: HashMap<&KeyId, &str> = data.keys.iter().map(|k| (&k.id, k.name.as_str())).collect();
    let _ = write!(
        out,
        "<section><h2>Delivery log</h2><form id=\"log-filter\" method=\"get\" action=\"{}/\">\
         <label>Key <select name=\"key\"><option value=\"\">all keys</option>",
        Escaped(data.base)
    );
    for key in data.keys {
        let selected = if data.filter_key == Some(key.id.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{} ({})</option>",
            Escaped(key.id.as_str()),
            Escaped(&key.name),
            Escaped(&key.display_prefix),
        );
    }
    let _ = write!(
        out,
        "</select></label><label>Path starts with <input name=\"path\" value=\"{}\" placeholder=\"/api/\"></label>\
         <button type=\"submit\">Filter</button></form>\
         <table id=\"log\"><thead><tr><th>Time</th><th>Key</th><th>Request</th><th>Status</th>\
         <th>Client IP</th><th>User agent</th><th>Request id</th></tr></thead><tbody>",
        Escaped(data.filter_path.unwrap_or_default()),
    );
    if data.events.is_empty() {
        out.push_str("<tr><td colspan=\"7\">No requests yet.</td></tr>");
    }
    for event in data.events {
        out.push_str("<tr><td>");
        time(out, Some(event.at), "");
        let _ = write!(
            out,
            "</td><td>{} <code>{}</code></td><td><code>{} {}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            Escaped(names.get(&event.key_id).copied().unwrap_or_default()),
            event.fingerprint,
            Escaped(&event.method),
            Escaped(&event.path),
            event.status,
            Escaped(event.client_ip.as_deref().unwrap_or_default()),
            Escaped(event.user_agent.as_deref().unwrap_or_default()),
            Escaped(&event.request_id),
        );
    }
    out.push_str("</tbody></table></section>");
}

/// A page that says why the key page is not shown (not signed in, a bad filter, an outage).
pub(super) fn message(title: &str, text: &str) -> String {
    let mut out = String::with_capacity(1024);
    head(&mut out, title, None);
    let _ = write!(
        out,
        "<body><main><h1>{}</h1><p class=\"error\">{}</p></main></body></html>",
        Escaped(title),
        Escaped(text)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_special_character() {
        let cases = [
            ("plain", "plain"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            ("a & b", "a &amp; b"),
            ("\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;"),
            ("ünïcödé <", "ünïcödé &lt;"),
            ("", ""),
        ];
        for (raw, escaped) in cases {
            assert_eq!(Escaped(raw).to_string(), escaped, "{raw}");
        }
    }
}
