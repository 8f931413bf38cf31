//! Where a request's key is read from: `Authorization: Bearer`, an API-key header, and (opt-in) a
//! field of a JSON body.

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue};

use crate::Rejection;

/// The longest credential accepted, in bytes; longer ones get 400 before any other work.
pub const MAX_CREDENTIAL_LEN: usize = 512;

/// `x-api-key`.
pub static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Which places the layer reads a key from. By default: `Authorization: Bearer` and `X-API-Key`.
///
/// ```
/// use keyward_tower::CredentialSources;
///
/// // Toksta: Bearer only.
/// let bearer_only = CredentialSources::bearer_only();
/// // Tolinku: both headers, and `apiKey` in a JSON body of up to 64 KiB (for `navigator.sendBeacon`).
/// let beacon = CredentialSources::default().body_field("apiKey", 64 * 1024);
/// # let _ = (bearer_only, beacon);
/// ```
#[derive(Clone, Debug)]
pub struct CredentialSources {
    bearer: bool,
    header: Option<HeaderName>,
    body: Option<BodyField>,
}

/// A JSON body field that may carry the key.
#[derive(Clone, Debug)]
pub(crate) struct BodyField {
    pub(crate) name: Box<str>,
    pub(crate) max_bytes: usize,
}

impl Default for CredentialSources {
    fn default() -> Self {
        Self {
            bearer: true,
            header: Some(X_API_KEY.clone()),
            body: None,
        }
    }
}

impl CredentialSources {
    /// `Authorization: Bearer` only.
    pub fn bearer_only() -> Self {
        Self {
            bearer: true,
            header: None,
            body: None,
        }
    }

    /// Switches `Authorization: Bearer` on or off.
    #[must_use]
    pub fn bearer(mut self, on: bool) -> Self {
        self.bearer = on;
        self
    }

    /// The API-key header (`X-API-Key` by default); `None` switches it off.
    #[must_use]
    pub fn header(mut self, name: Option<HeaderName>) -> Self {
        self.header = name;
        self
    }

    /// Also reads the key from the string field `name` of a JSON object body, when no header
    /// carries one. Bodies over `max_bytes` get 413. The body is handed on to the handler intact.
    #[must_use]
    pub fn body_field(mut self, name: &str, max_bytes: usize) -> Self {
        self.body = Some(BodyField {
            name: name.into(),
            max_bytes,
        });
        self
    }

    pub(crate) fn body(&self) -> Option<&BodyField> {
        self.body.as_ref()
    }

    /// Marks the headers that may carry a key as sensitive, so that later layers and handlers
    /// that print headers (tower-http's `TraceLayer`, `Debug`) show `Sensitive` instead.
    #[inline]
    pub(crate) fn mark_sensitive(&self, headers: &mut HeaderMap) {
        let names = [self.bearer.then_some(&AUTHORIZATION), self.header.as_ref()];
        for name in names.into_iter().flatten() {
            if let http::header::Entry::Occupied(mut entry) = headers.entry(name) {
                for value in entry.iter_mut() {
                    value.set_sensitive(true);
                }
            }
        }
    }

    /// The key in the headers, if any.
    ///
    /// Refuses duplicated headers, non-visible-ASCII values, oversized credentials, and two
    /// sources that disagree.
    pub(crate) fn find_in_headers<'a>(&self, headers: &'a HeaderMap) -> Result<Option<&'a str>, Rejection> {
        let bearer = if self.bearer {
            single(headers, &AUTHORIZATION)?
                .and_then(bearer_token)
                .transpose()?
        } else {
            None
        };
        let header = match &self.header {
            Some(name) => single(headers, name)?.map(credential_text).transpose()?,
            None => None,
        };
        match (bearer, header) {
            (Some(a), Some(b)) if a != b => Err(Rejection::BadRequest(
                "Conflicting API keys in the Authorization and API-key headers".into(),
            )),
            (Some(token), _) | (None, Some(token)) => Ok(Some(token)),
            (None, None) => Ok(None),
        }
    }
}

fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a HeaderValue>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Rejection::BadRequest(
            format!("The {name} header was sent more than once").into(),
        ));
    }
    Ok(first)
}

fn credential_text(value: &HeaderValue) -> Result<&str, Rejection> {
    visible(value).and_then(token_text)
}

/// The header as text: capped in length, visible ASCII only.
fn visible(value: &HeaderValue) -> Result<&str, Rejection> {
    if value.len() > MAX_CREDENTIAL_LEN + "Bearer ".len() {
        return Err(Rejection::BadRequest("The API key is too long".into()));
    }
    value
        .to_str()
        .map_err(|_| Rejection::BadRequest("The API key contains invalid characters".into()))
}

/// A credential without surrounding spaces: not empty, no inner space, not over the cap.
fn token_text(text: &str) -> Result<&str, Rejection> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Rejection::BadRequest("The API key is empty".into()));
    }
    if text.len() > MAX_CREDENTIAL_LEN {
        return Err(Rejection::BadRequest("The API key is too long".into()));
    }
    if text.contains(' ') {
        return Err(Rejection::BadRequest(
            "The API key contains invalid characters".into(),
        ));
    }
    Ok(text)
}

/// The token of a `Bearer` credential (scheme case-insensitive); `None` for other schemes.
fn bearer_token(value: &HeaderValue) -> Option<Result<&str, Rejection>> {
    let bytes = value.as_bytes();
    let scheme = bytes
        .iter()
        .position(|&b| b == b' ')
        .map_or(bytes, |end| &bytes[..end]);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    Some(visible(value).and_then(|text| token_text(&text[scheme.len()..])))
}

/// Whether a request's body may hold the key: a JSON content type.
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || mime.eq_ignore_ascii_case("text/plain")
                || mime.to_ascii_lowercase().ends_with("+json")
        })
}

/// The key in the string field `field` of a JSON object body.
pub(crate) fn from_body(body: &Bytes, field: &str) -> Result<Option<String>, Rejection> {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Ok(None);
    };
    match object.remove(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(token)) => {
            if token.len() > MAX_CREDENTIAL_LEN {
                return Err(Rejection::BadRequest("The API key is too long".into()));
            }
            Ok(Some(token))
        }
        Some(_) => Err(Rejection::BadRequest(
            format!("The `{field}` field must be a string").into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&HeaderName, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append((*name).clone(), HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn header_cases() {
        let sources = CredentialSources::default();
        let long = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_LEN + 1));
        // (what it checks, headers, expected token or error status)
        type Case = (&'static str, HeaderMap, Result<Option<&'static str>, u16>);
        let cases: Vec<Case> = vec![
            ("no credential", headers(&[]), Ok(None)),
            (
                "bearer",
                headers(&[(&AUTHORIZATION, b"Bearer tok")]),
                Ok(Some("tok")),
            ),
            (
                "scheme is case-insensitive",
                headers(&[(&AUTHORIZATION, b"bEaReR tok")]),
                Ok(Some("tok")),
            ),
            (
                "other schemes are not keys",
                headers(&[(&AUTHORIZATION, b"Basic dXNlcg==")]),
                Ok(None),
            ),
            ("x-api-key", headers(&[(&X_API_KEY, b"tok")]), Ok(Some("tok"))),
            (
                "both agree",
                headers(&[(&AUTHORIZATION, b"Bearer tok"), (&X_API_KEY, b"tok")]),
                Ok(Some("tok")),
            ),
            (
                "both disagree",
                headers(&[(&AUTHORIZATION, b"Bearer a"), (&X_API_KEY, b"b")]),
                Err(400),
            ),
            (
                "duplicated authorization",
                headers(&[(&AUTHORIZATION, b"Bearer a"), (&AUTHORIZATION, b"Bearer a")]),
                Err(400),
            ),
            (
                "duplicated x-api-key",
                headers(&[(&X_API_KEY, b"a"), (&X_API_KEY, b"a")]),
                Err(400),
            ),
            ("non-UTF-8", headers(&[(&X_API_KEY, b"\xff\xfe")]), Err(400)),
            ("empty bearer", headers(&[(&AUTHORIZATION, b"Bearer")]), Err(400)),
            (
                "bearer and spaces",
                headers(&[(&AUTHORIZATION, b"Bearer    ")]),
                Err(400),
            ),
            (
                "token with a space",
                headers(&[(&AUTHORIZATION, b"Bearer a b")]),
                Err(400),
            ),
            (
                "oversized",
                headers(&[(&AUTHORIZATION, long.as_bytes())]),
                Err(400),
            ),
        ];
        for (what, map, expected) in cases {
            let got = sources.find_in_headers(&map).map_err(|r| r.status().as_u16());
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn switched_off_sources_are_ignored() {
        let map = headers(&[(&X_API_KEY, b"tok")]);
        assert_eq!(CredentialSources::bearer_only().find_in_headers(&map), Ok(None));
        let map = headers(&[(&AUTHORIZATION, b"Bearer tok")]);
        assert_eq!(
            CredentialSources::default().bearer(false).find_in_headers(&map),
            Ok(None)
        );
    }

    #[test]
    fn body_field() {
        let body = |s: &str| Bytes::from(s.to_owned());
        assert_eq!(
            from_body(&body(r#"{"apiKey":"tok","x":1}"#), "apiKey"),
            Ok(Some("tok".into()))
        );
        assert_eq!(from_body(&body(r#"{"x":1}"#), "apiKey"), Ok(None));
        assert_eq!(from_body(&body("not json"), "apiKey"), Ok(None));
        assert_eq!(from_body(&body("[1]"), "apiKey"), Ok(None));
        assert!(from_body(&body(r#"{"apiKey":5}"#), "apiKey").is_err());
    }
}
