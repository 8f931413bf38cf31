//! The key page's protection against cross-site requests: a per-session token, an HMAC-SHA256
//! of the session and the tenant under the page's secret, sent back in [`CSRF_HEADER`] and
//! compared in constant time; and the request's `Origin` and `Sec-Fetch-Site`, which must say
//! the page's own origin.

use std::fmt;

use hmac::{Hmac, Mac};
use http::header::{HOST, ORIGIN};
use http::request::Parts;
use http::{HeaderName, HeaderValue};
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

use super::PageUser;

/// The header that carries the page's CSRF token on every change: `X-CSRF-Token`.
pub const CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// Domain separation: this key signs nothing else.
const CONTEXT: &[u8] = b"keyward key page csrf v1";

/// The secret the page's CSRF tokens are signed with.
#[derive(Clone)]
pub(super) struct CsrfKey([u8; 32]);

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

/// Why a change was refused as cross-site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CsrfRefusal {
    /// `Sec-Fetch-Site` says the request came from another site, or `Origin` is not the page's.
    CrossOrigin,
    /// No token in [`CSRF_HEADER`].
    Missing,
    /// A token that is not this session's.
    Invalid,
}

impl CsrfRefusal {
    pub(super) fn message(self) -> &'static str {
        match self {
            Self::CrossOrigin => "This request did not come from the key page's own origin",
            Self::Missing => "The X-CSRF-Token header is missing; reload the page and try again",
            Self::Invalid => "The X-CSRF-Token header is not this session's; reload the page and try again",
        }
    }
}

impl CsrfKey {
    /// A key from the OS's random generator.
    ///
    /// # Panics
    ///
    /// When the OS has no random numbers to give (as key minting does).
    pub(super) fn random() -> Self {
        let mut key = [0; 32];
        OsRng
            .try_fill_bytes(&mut key)
            .expect("the OS random number generator is available");
        Self(key)
    }

    pub(super) fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn mac(&self, user: &PageUser) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(CONTEXT);
        for part in [user.tenant.as_str().as_bytes(), user.session.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The token of `user`'s session, as the page embeds it.
    pub(super) fn token(&self, user: &PageUser) -> String {
        hex::encode(self.mac(user).finalize().into_bytes())
    }

    /// Whether `presented` is the token of `user`'s session, compared in constant time.
    pub(super) fn check(&self, user: &PageUser, presented: Option<&HeaderValue>) -> Result<(), CsrfRefusal> {
        let presented = presented.ok_or(CsrfRefusal::Missing)?;
        let bytes = hex::decode(presented.as_bytes()).map_err(|_| CsrfRefusal::Invalid)?;
        self.mac(user)
            .verify_slice(&bytes)
            .map_err(|_| CsrfRefusal::Invalid)
    }
}

/// Whether a change comes from the page's own origin: `Sec-Fetch-Site`, when sent, must be
/// `same-origin`; `Origin`, when sent, one of `allowed`, or (none configured) the scheme and the
/// request's own `Host`. Browsers send both on every `fetch` POST; a client that sends neither
/// is not a browser that another site could drive, and still needs the token.
pub(super) fn same_origin(parts: &Parts, allowed: &[HeaderValue]) -> Result<(), CsrfRefusal> {
    if let Some(site) = parts.headers.get(SEC_FETCH_SITE)
        && site.as_bytes() != b"same-origin"
    {
        return Err(CsrfRefusal::CrossOrigin);
    }
    let Some(origin) = parts.headers.get(ORIGIN) else {
        return Ok(());
    };
    let matches = if allowed.is_empty() {
        let host = parts.headers.get(HOST).map(HeaderValue::as_bytes);
        let authority = origin
            .as_bytes()
            .strip_prefix(b"https://")
            .or_else(|| origin.as_bytes().strip_prefix(b"http://"));
        authority.is_some() && authority == host
    } else {
        allowed.iter().any(|allowed| allowed == origin)
    };
    if matches {
        Ok(())
    } else {
        Err(CsrfRefusal::CrossOrigin)
    }
}

#[cfg(test)]
mod tests {
    use http::Request;
    use keyward_core::TenantId;

    use super::*;

    fn user(tenant: &str, session: &str) -> PageUser {
        PageUser::new(TenantId::new(tenant).expect("valid"), session)
    }

    #[test]
    fn tokens_are_bound_to_session_and_tenant() {
        let key = CsrfKey::new([7; 32]);
        let alice = user("site_1", "s1");
        let token = HeaderValue::from_str(&key.token(&alice)).expect("hex");
        assert_eq!(key.check(&alice, Some(&token)), Ok(()));
        let cases = [
            (user("site_1", "s2"), "another session"),
            (user("site_2", "s1"), "another tenant"),
        ];
        for (other, what) in cases {
            assert_eq!(
                key.check(&other, Some(&token)),
                Err(CsrfRefusal::Invalid),
                "{what}"
            );
        }
        assert_eq!(
            CsrfKey::new([8; 32]).check(&alice, Some(&token)),
            Err(CsrfRefusal::Invalid),
            "another secret"
        );
        assert_eq!(key.check(&alice, None), Err(CsrfRefusal::Missing));
        for bad in ["", "zz", "00", &key.token(&alice)[2..]] {
            let bad = HeaderValue::from_str(bad).expect("text");
            assert_eq!(
                key.check(&alice, Some(&bad)),
                Err(CsrfRefusal::Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn origins() {
        let allowed = [HeaderValue::from_static("https://app.example.com")];
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [HeaderValue], bool, &'a str);
        let cases: [Case<'_>; 9] = [
            (&[("host", "a.test")], &[], true, "no Origin, no Sec-Fetch-Site"),
            (
                &[("host", "a.test"), ("origin", "http://a.test")],
                &[],
                true,
                "same host",
            ),
            (
                &[("host", "a.test:8080"), ("origin", "https://a.test:8080")],
                &[],
                true,
                "same host and port",
            ),
            (
                &[("host", "a.test"), ("origin", "http://evil.test")],
                &[],
                false,
                "another host",
            ),
            (
                &[("host", "a.test"), ("origin", "null")],
                &[],
                false,
                "opaque origin",
            ),
            (
                &[("host", "a.test"), ("sec-fetch-site", "cross-site")],
                &[],
                false,
                "cross-site fetch",
            ),
            (
                &[("host", "a.test"), ("sec-fetch-site", "same-site")],
                &[],
                false,
                "a sibling subdomain",
            ),
            (
                &[("origin", "https://app.example.com")],
                &allowed,
                true,
                "a configured origin",
            ),
            (
                &[("host", "a.test"), ("origin", "http://a.test")],
                &allowed,
                false,
                "not the configured origin",
            ),
        ];
        for (headers, allowed, ok, what) in cases {
            let mut request = Request::post("/keys");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let (parts, ()) = request.body(()).expect("a request").into_parts();
            assert_eq!(same_origin(&parts, allowed).is_ok(), ok, "{what}");
        }
    }
}
