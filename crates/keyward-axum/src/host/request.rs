//! Which host a request names: its `Host` header, or the authority of its URI (HTTP/2's
//! `:authority`, an HTTP/1.1 absolute-form target), validated.

use http::header::HOST;
use http::request::Parts;
use http::uri::Authority;

use super::name::{self, HostName};
use crate::ApiError;

/// The host `parts` names, lowercase, without port or trailing dot.
///
/// # Errors
///
/// 400 `bad_request` when no host is named, when `Host` is sent more than once, is not visible
/// ASCII, is not a host with an optional port, or names another host than the URI's authority.
pub(super) fn host(parts: &Parts) -> Result<HostName, ApiError> {
    let mut lines = parts.headers.get_all(HOST).iter();
    let header = match (lines.next(), lines.next()) {
        (None, _) => None,
        (Some(line), None) => Some(line),
        (Some(_), Some(_)) => return Err(bad("The request has more than one Host header")),
    };
    let header = match header {
        None => None,
        Some(line) => {
            let text = line
                .to_str()
                .map_err(|_| bad("The Host header is not visible ASCII text"))?;
            let authority: Authority = text
                .parse()
                .map_err(|_| bad("The Host header is not a host with an optional port"))?;
            Some(named(&authority, "The Host header")?)
        }
    };
    let target = match parts.uri.authority() {
        None => None,
        Some(authority) => Some(named(authority, "The request's authority")?),
    };
    match (header, target) {
        (None, None) => Err(bad("The request names no host (no Host header)")),
        (Some(host), None) | (None, Some(host)) => Ok(host),
        (Some(header), Some(target)) if header.as_str() == target.as_str() => Ok(target),
        (Some(_), Some(_)) => Err(bad(
            "The Host header names another host than the request's authority",
        )),
    }
}

/// The host of `authority`, refused when it carries user information or is not a host name.
fn named(authority: &Authority, what: &str) -> Result<HostName, ApiError> {
    if authority.as_str().contains('@') {
        return Err(bad(format!("{what} must not carry user information")));
    }
    name::normalize(authority.host()).ok_or_else(|| bad(format!("{what} is not a valid host name")))
}

fn bad(message: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::bad_request(message)
}

#[cfg(test)]
mod tests {
    use http::{HeaderValue, Request};

    use super::*;

    fn parts(uri: &str, hosts: &[&[u8]]) -> Parts {
        let mut request = Request::get(uri).body(()).expect("a request");
        for host in hosts {
            request
                .headers_mut()
                .append(HOST, HeaderValue::from_bytes(host).expect("a header value"));
        }
        request.into_parts().0
    }

    /// What it checks, URI, Host lines, host or the error's message.
    type Case<'a> = (&'a str, &'a str, &'a [&'a [u8]], Result<&'a str, &'a str>);

    #[test]
    fn hosts_named_by_requests() {
        let cases: [Case<'_>; 13] = [
            (
                "a Host header",
                "/api/app/info",
                &[b"Acme.Example.com:8080"],
                Ok("acme.example.com"),
            ),
            (
                "HTTP/2's authority",
                "https://acme.example.com/api/app/info",
                &[],
                Ok("acme.example.com"),
            ),
            (
                "both, naming one host",
                "https://acme.example.com/x",
                &[b"ACME.example.com"],
                Ok("acme.example.com"),
            ),
            (
                "a trailing dot",
                "/",
                &[b"acme.example.com."],
                Ok("acme.example.com"),
            ),
            ("an IPv6 literal", "/", &[b"[::1]:3000"], Ok("[::1]")),
            (
                "none",
                "/",
                &[],
                Err("The request names no host (no Host header)"),
            ),
            (
                "two lines",
                "/",
                &[b"a.example.com", b"b.example.com"],
                Err("The request has more than one Host header"),
            ),
            (
                "not text",
                "/",
                &[b"caf\xe9.com"],
                Err("The Host header is not visible ASCII text"),
            ),
            (
                "a path in it",
                "/",
                &[b"acme.example.com/x"],
                Err("The Host header is not a host with an optional port"),
            ),
            (
                "an empty one",
                "/",
                &[b""],
                Err("The Host header is not a host with an optional port"),
            ),
            (
                "user information",
                "/",
                &[b"user@acme.example.com"],
                Err("The Host header must not carry user information"),
            ),
            (
                "not a host name",
                "/",
                &[b"acme_example.com"],
                Err("The Host header is not a valid host name"),
            ),
            (
                "two hosts",
                "https://acme.example.com/x",
                &[b"evil.example.com"],
                Err("The Host header names another host than the request's authority"),
            ),
        ];
        for (what, uri, hosts, expected) in cases {
            let found = host(&parts(uri, hosts));
            match expected {
                Ok(expected) => assert_eq!(
                    found.ok().as_ref().map(HostName::as_str),
                    Some(expected),
                    "{what}"
                ),
                Err(message) => {
                    let error = found.err().unwrap_or_else(|| panic!("{what}: refused"));
                    assert_eq!(
                        (error.status().as_u16(), error.code()),
                        (400, "bad_request"),
                        "{what}"
                    );
                    assert_eq!(error.message(), message, "{what}");
                }
            }
        }
    }
}
