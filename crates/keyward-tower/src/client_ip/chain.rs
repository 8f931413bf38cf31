//! Walking a forwarding chain (`X-Forwarded-For`, `Forwarded`) from the right.
//!
//! Each proxy appends the address it received the request from, so the right-most entries are
//! the ones written by the proxies in front of the service, and everything to the left of the
//! first untrusted address was written by that client (or by someone it forwarded for), who can
//! write anything. The walk starts at the socket peer and moves left only while the address it
//! stands on is a trusted proxy's: a client can add entries, but they are never reached.
//!
//! Parsing is in place, over the header values' text: no allocation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderMap;
use http::header::HeaderName;

use super::TrustedProxies;

/// The client of a request that `peer` sent: `peer` itself unless it is trusted, else the first
/// untrusted address of the chain in the `name` header lines (the lines in order, read as one
/// list), walked from the right with `entry` reading each element. An element that is not an
/// address (malformed, `unknown`, an obfuscated identifier, or a line that is not text) stops the
/// walk at the last address read; so does the chain's end.
pub(super) fn walk(
    peer: IpAddr,
    trusted: &TrustedProxies,
    headers: &HeaderMap,
    name: &HeaderName,
    entry: fn(&str) -> Option<IpAddr>,
) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    for line in headers.get_all(name).iter().rev() {
        let Ok(text) = line.to_str() else {
            return client;
        };
        for element in text.rsplit(',') {
            let element = trim(element);
            // Empty list elements are ignored (RFC 9110 §5.6.1).
            if element.is_empty() {
                continue;
            }
            match entry(element) {
                Some(address) => client = address.to_canonical(),
                None => return client,
            }
            if !trusted.contains(client) {
                return client;
            }
        }
    }
    client
}

/// One `X-Forwarded-For` element: an address, optionally with a port (`192.0.2.1:4711`,
/// `[2001:db8::1]:4711`), as some proxies write it.
pub(super) fn x_forwarded_for(element: &str) -> Option<IpAddr> {
    node(element)
}

/// One `Forwarded` element (RFC 7239): `;`-separated `name=value` pairs, of which exactly one is
/// `for`, its value a node, quoted or not (`for=192.0.2.60`, `for="[2001:db8:cafe::17]:4711"`).
pub(super) fn forwarded(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in element.split(';') {
        let pair = trim(pair);
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=')?;
        if !trim(name).eq_ignore_ascii_case("for") {
            continue;
        }
        if found.is_some() {
            // A parameter occurs at most once per element (RFC 7239 §4).
            return None;
        }
        let value = trim(value);
        let value = match value.strip_prefix('"') {
            Some(quoted) => quoted
                .strip_suffix('"')
                .filter(|inner| !inner.contains(['"', '\\']))?,
            None => value,
        };
        found = Some(node(value)?);
    }
    found
}

/// A node: an IPv4 address or an IPv6 address, bare or in brackets, with an optional port (digits,
/// or RFC 7239's obfuscated `_port`) after a colon.
fn node(text: &str) -> Option<IpAddr> {
    if let Some(rest) = text.strip_prefix('[') {
        let (address, after) = rest.split_once(']')?;
        let address: Ipv6Addr = address.parse().ok()?;
        return (after.is_empty() || after.strip_prefix(':').is_some_and(is_port))
            .then_some(IpAddr::V6(address));
    }
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    let (address, port) = text.split_once(':')?;
    let address: Ipv4Addr = address.parse().ok()?;
    is_port(port).then_some(IpAddr::V4(address))
}

/// A port: 1 to 5 digits, or `_` and letters, digits, `.`, `_`, `-` (RFC 7239's obfport).
fn is_port(text: &str) -> bool {
    match text.strip_prefix('_') {
        Some(obfuscated) => {
            !obfuscated.is_empty()
                && obfuscated
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => (1..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// `text` without the spaces and tabs around it (HTTP's optional whitespace).
fn trim(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn x_forwarded_for_elements() {
        // (element, address)
        let cases = [
            ("203.0.113.7", Some("203.0.113.7")),
            ("203.0.113.7:4711", Some("203.0.113.7")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("[2001:db8::1]:4711", Some("2001:db8::1")),
            ("::ffff:192.0.2.1", Some("::ffff:192.0.2.1")),
            ("unknown", None),
            ("203.0.113.7:", None),
            ("203.0.113.7:123456", None),
            ("203.0.113.7:80:80", None),
            ("[2001:db8::1", None),
            ("[2001:db8::1]x", None),
            ("[203.0.113.7]", None),
            ("2001:db8::1:", None),
            ("example.com", None),
            ("203.0.113", None),
        ];
        for (element, address) in cases {
            assert_eq!(x_forwarded_for(element), address.map(ip), "{element:?}");
        }
    }

    #[test]
    fn forwarded_elements() {
        // (element, address)
        let cases = [
            ("for=192.0.2.60", Some("192.0.2.60")),
            ("For=192.0.2.60", Some("192.0.2.60")),
            ("for=\"192.0.2.60:8080\"", Some("192.0.2.60")),
            ("for=\"[2001:db8:cafe::17]\"", Some("2001:db8:cafe::17")),
            ("for=\"[2001:db8:cafe::17]:4711\"", Some("2001:db8:cafe::17")),
            ("for=\"[2001:db8:cafe::17]:_port-1\"", Some("2001:db8:cafe::17")),
            ("for=192.0.2.60;proto=http;by=203.0.113.43", Some("192.0.2.60")),
            ("proto=https ; for = 192.0.2.60 ", Some("192.0.2.60")),
            ("for=unknown", None),
            ("for=\"_hidden\"", None),
            ("for=\"192.0.2.60", None),
            ("for=\"192.0.2.60\\\"\"", None),
            ("for=192.0.2.60;for=192.0.2.61", None),
            ("proto=https;by=203.0.113.43", None),
            ("for", None),
            ("192.0.2.60", None),
        ];
        for (element, address) in cases {
            assert_eq!(forwarded(element), address.map(ip), "{element:?}");
        }
    }

    fn headers(name: &'static str, lines: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(name, HeaderValue::from_bytes(line).expect("a header value"));
        }
        headers
    }

    #[test]
    fn the_walk_takes_the_first_untrusted_address_from_the_right() {
        let trusted = TrustedProxies::new(["10.0.0.0/8", "2001:db8:ffff::/48"]).expect("valid");
        let xff = HeaderName::from_static("x-forwarded-for");
        // (what it checks, peer, header lines, client)
        let cases: [(&str, &str, &[&[u8]], &str); 14] = [
            (
                "an untrusted peer's header is ignored",
                "198.51.100.9",
                &[b"203.0.113.7"],
                "198.51.100.9",
            ),
            ("a trusted peer without a header", "10.0.0.1", &[], "10.0.0.1"),
            ("one proxy", "10.0.0.1", &[b"203.0.113.7"], "203.0.113.7"),
            (
                "entries a client wrote left of its own address are never reached",
                "10.0.0.1",
                &[b"1.1.1.1, 10.0.0.5, 203.0.113.7"],
                "203.0.113.7",
            ),
            (
                "trusted hops are skipped",
                "10.0.0.1",
                &[b"203.0.113.7, 10.0.0.2, 10.0.0.3"],
                "203.0.113.7",
            ),
            (
                "several lines are one list, in order",
                "10.0.0.1",
                &[b"1.1.1.1, 203.0.113.7", b"10.0.0.2", b"10.0.0.3"],
                "203.0.113.7",
            ),
            (
                "only trusted hops: the left-most",
                "10.0.0.1",
                &[b"10.0.0.9, 10.0.0.2"],
                "10.0.0.9",
            ),
            (
                "a malformed entry stops at the last good address",
                "10.0.0.1",
                &[b"203.0.113.7, bogus, 10.0.0.2"],
                "10.0.0.2",
            ),
            (
                "unknown stops the walk",
                "10.0.0.1",
                &[b"203.0.113.7, unknown"],
                "10.0.0.1",
            ),
            (
                "a line that is not text stops the walk",
                "10.0.0.1",
                &[b"203.0.113.7", b"caf\xe9", b"10.0.0.2"],
                "10.0.0.2",
            ),
            (
                "empty elements are skipped",
                "10.0.0.1",
                &[b"203.0.113.7, , ", b""],
                "203.0.113.7",
            ),
            (
                "IPv6 hops and a bracketed client with a port",
                "2001:db8:ffff::1",
                &[b"[2001:db8::7]:4711, 2001:db8:ffff::2"],
                "2001:db8::7",
            ),
            (
                "a mapped IPv4 peer is trusted as its IPv4 address",
                "::ffff:10.0.0.1",
                &[b"203.0.113.7"],
                "203.0.113.7",
            ),
            (
                "mapped addresses come out as IPv4",
                "10.0.0.1",
                &[b"::ffff:203.0.113.7"],
                "203.0.113.7",
            ),
        ];
        for (what, peer, lines, client) in cases {
            let headers = headers("x-forwarded-for", lines);
            assert_eq!(
                walk(ip(peer), &trusted, &headers, &xff, x_forwarded_for),
                ip(client),
                "{what}"
            );
        }
    }

    #[test]
    fn the_walk_reads_forwarded_elements() {
        let trusted = TrustedProxies::new(["10.0.0.0/8"]).expect("valid");
        let name = HeaderName::from_static("forwarded");
        let headers = headers(
            "forwarded",
            &[
                b"for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\";proto=https",
                b"for=10.0.0.2;by=10.0.0.1",
            ],
        );
        assert_eq!(
            walk(ip("10.0.0.1"), &trusted, &headers, &name, forwarded),
            ip("2001:db8:cafe::17")
        );
        let hidden = self::headers("forwarded", &[b"for=203.0.113.7, for=_hidden"]);
        assert_eq!(
            walk(ip("10.0.0.1"), &trusted, &hidden, &name, forwarded),
            ip("10.0.0.1")
        );
    }
}
