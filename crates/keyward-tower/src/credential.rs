//! Where a request's key is read from: `Authorization: Bearer`, an API-key header, and (opt-in) a
//! field of a JSON body.

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue};

use crate::Rejection;
use crate::request_id::{self, X_REQUEST_ID};

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
    /// carries one. Bodies over `max_bytes`, or declared so by their `Content-Length`, get 413 (the
    /// latter before any of the body is read). The body is handed on to the handler intact.
    #[must_use]
    pub fn body_field(mut self, name: &str, max_bytes: usize) -> Self {
        self.body = Some(BodyField {
            name: name.into(),
            max_bytes,
        });
        self
    }

    /// Whether `Authorization: Bearer` is read.
    pub fn reads_bearer(&self) -> bool {
        self.bearer
    }

    /// The API-key header read, if any.
    pub fn api_key_header(&self) -> Option<&HeaderName> {
        self.header.as_ref()
    }

    /// The JSON body field read, if any.
    pub fn body_field_name(&self) -> Option<&str> {
        self.body.as_ref().map(|field| &*field.name)
    }

    pub(crate) fn body(&self) -> Option<&BodyField> {
        self.body.as_ref()
    }

    /// One pass over a request's headers, with no header-name hashing: marks `Authorization` and
    /// the API-key header sensitive (so that later layers and handlers that print headers, such as
    /// tower-http's `TraceLayer` or `Debug`, show `Sensitive`), and finds the key and the incoming
    /// request id.
    pub(crate) fn scan<'a>(&self, headers: &'a mut HeaderMap) -> Scanned<'a> {
        let mut bearer = Seen::default();
        let mut header = Seen::default();
        let mut request_id = Seen::default();
        for (name, value) in headers.iter_mut() {
            if *name == AUTHORIZATION {
                value.set_sensitive(true);
                bearer.add(value);
            } else if self.header.as_ref() == Some(name) {
                value.set_sensitive(true);
                header.add(value);
            } else if *name == X_REQUEST_ID {
                request_id.add(value);
            }
        }
        Scanned {
            credential: self.credential(bearer, header),
            request_id: request_id.single().filter(|id| request_id::is_well_formed(id)),
        }
    }

    /// The key in the credential headers, if any. Refuses duplicated headers, non-visible-ASCII
    /// values, oversized credentials, and two sources that disagree.
    fn credential<'a>(&self, bearer: Seen<'a>, header: Seen<'a>) -> Result<Option<&'a str>, Rejection> {
        let bearer = if self.bearer {
            bearer.only(&AUTHORIZATION)?.and_then(bearer_token).transpose()?
        } else {
            None
        };
        let header = match &self.header {
            Some(name) => header.only(name)?.map(|value| token_text(value, 0)).transpose()?,
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

/// What [`CredentialSources::scan`] found in a request's headers.
pub(crate) struct Scanned<'a> {
    /// The key, none, or why the credential headers are refused.
    pub(crate) credential: Result<Option<&'a str>, Rejection>,
    /// The incoming `X-Request-Id`, when exactly one well-formed value was sent.
    pub(crate) request_id: Option<&'a HeaderValue>,
}

/// The values of one header name met during a scan: the first, and whether there were more.
#[derive(Default)]
struct Seen<'a> {
    first: Option<&'a HeaderValue>,
    repeated: bool,
}

impl<'a> Seen<'a> {
    fn add(&mut self, value: &'a HeaderValue) {
        if self.first.is_some() {
            self.repeated = true;
        } else {
            self.first = Some(value);
        }
    }

    fn single(&self) -> Option<&'a HeaderValue> {
        self.first.filter(|_| !self.repeated)
    }

    /// The value, refusing a header sent more than once.
    fn only(&self, name: &HeaderName) -> Result<Option<&'a HeaderValue>, Rejection> {
        if self.repeated {
            return Err(Rejection::BadRequest(
                format!("The {name} header was sent more than once").into(),
            ));
        }
        Ok(self.first)
    }
}

/// The credential in `value` after its first `skip` bytes (a scheme): without surrounding
/// whitespace, not empty, not over the cap, visible ASCII only (no spaces or control characters).
fn token_text(value: &HeaderValue, skip: usize) -> Result<&str, Rejection> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_CREDENTIAL_LEN + "Bearer ".len() {
        return Err(Rejection::BadRequest("The API key is too long".into()));
    }
    let token = bytes[skip..].trim_ascii();
    if token.is_empty() {
        return Err(Rejection::BadRequest("The API key is empty".into()));
    }
    if token.len() > MAX_CREDENTIAL_LEN {
        return Err(Rejection::BadRequest("The API key is too long".into()));
    }
    // Every byte is looked at (no early exit), so the check runs on whole vectors.
    let visible = token
        .iter()
        .fold(true, |all, &b| all & (b'!'..=b'~').contains(&b));
    let invalid = || Rejection::BadRequest("The API key contains invalid characters".into());
    if !visible {
        return Err(invalid());
    }
    std::str::from_utf8(token).map_err(|_| invalid())
}

/// The token of a `Bearer` credential (scheme case-insensitive); `None` for other schemes.
fn bearer_token(value: &HeaderValue) -> Option<Result<&str, Rejection>> {
    const SCHEME: &[u8] = b"bearer";
    let bytes = value.as_bytes();
    let is_bearer = bytes
        .get(..SCHEME.len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
        && bytes.get(SCHEME.len()).is_none_or(|&b| b == b' ');
    if !is_bearer {
        return None;
    }
    Some(token_text(value, SCHEME.len()))
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
            (
                "a scheme that starts like bearer is another scheme",
                headers(&[(&AUTHORIZATION, b"BearerX tok")]),
                Ok(None),
            ),
            (
                "a shorter scheme",
                headers(&[(&AUTHORIZATION, b"Bear tok")]),
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
                "token with a tab inside",
                headers(&[(&X_API_KEY, b"a\tb")]),
                Err(400),
            ),
            (
                "surrounding whitespace is not part of the token",
                headers(&[(&X_API_KEY, b"\t tok \t")]),
                Ok(Some("tok")),
            ),
            (
                "oversized",
                headers(&[(&AUTHORIZATION, long.as_bytes())]),
                Err(400),
            ),
        ];
        for (what, mut map, expected) in cases {
            let got = sources.scan(&mut map).credential.map_err(|r| r.status().as_u16());
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn switched_off_sources_are_ignored() {
        let mut map = headers(&[(&X_API_KEY, b"tok")]);
        assert_eq!(
            CredentialSources::bearer_only().scan(&mut map).credential,
            Ok(None)
        );
        let mut map = headers(&[(&AUTHORIZATION, b"Bearer tok")]);
        assert_eq!(
            CredentialSources::default()
                .bearer(false)
                .scan(&mut map)
                .credential,
            Ok(None)
        );
    }

    #[test]
    fn scan_marks_credentials_sensitive_and_finds_the_request_id() {
        let mut map = headers(&[
            (&AUTHORIZATION, b"Bearer tok"),
            (&X_API_KEY, b"tok"),
            (&X_REQUEST_ID, b"abc-123"),
            (&CONTENT_TYPE, b"text/plain"),
        ]);
        // Authorization is sensitive even when it is not a source.
        let scanned = CredentialSources::default().bearer(false).scan(&mut map);
        assert_eq!(scanned.credential, Ok(Some("tok")));
        assert_eq!(
            scanned.request_id.map(HeaderValue::as_bytes),
            Some(&b"abc-123"[..])
        );
        assert!(map[AUTHORIZATION].is_sensitive());
        assert!(map[&X_API_KEY].is_sensitive());
        assert!(!map[&X_REQUEST_ID].is_sensitive());
        assert!(!map[CONTENT_TYPE].is_sensitive());

        let too_long = "a".repeat(129);
        let refused: [&[&[u8]]; 3] = [&[b"has space"], &[too_long.as_bytes()], &[b"one", b"two"]];
        for values in refused {
            let mut map = HeaderMap::new();
            for value in values {
                map.append(X_REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
            }
            let scanned = CredentialSources::default().scan(&mut map);
            assert_eq!(scanned.request_id, None, "{values:?}");
        }
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
