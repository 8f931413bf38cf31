//! The key page's own script and style, inline in the page, and the `Content-Security-Policy`
//! that lets the browser run that script and apply that style and nothing else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use sha2::{Digest, Sha256};

/// The page's script: plain JavaScript, no build step.
pub(super) const SCRIPT: &str = include_str!("page.js");
/// The page's style.
pub(super) const STYLE: &str = include_str!("page.css");

fn hash(source: &str) -> String {
    STANDARD.encode(Sha256::digest(source.as_bytes()))
}

/// The page's policy: no source at all but the hashes of its inline script and style, `fetch` to
/// its own origin, forms to its own origin, no framing, no `<base>`.
pub(super) fn content_security_policy() -> HeaderValue {
    let policy = format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        hash(SCRIPT),
        hash(STYLE)
    );
    HeaderValue::try_from(policy).expect("base64 and ASCII text make a header value")
}
