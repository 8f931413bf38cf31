//! [`HostName`]: a host name, validated and lowercased in place, without port or trailing dot.

/// Longest host name (RFC 1035: 253 characters without the trailing dot).
const MAX_LEN: usize = 253;

/// A host name: ASCII letters (lowercased), digits, `-` and `.`, or a bracketed IPv6 literal;
/// kept on the stack.
pub(super) struct HostName {
    bytes: [u8; MAX_LEN],
    len: usize,
}

impl HostName {
    pub(super) fn as_str(&self) -> &str {
        // Only ASCII bytes are ever written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// `host` (no port) lowercased and without one trailing dot, when it is a host name: labels of
/// letters, digits and `-`, none empty, or an IPv6 literal in brackets.
pub(super) fn normalize(host: &str) -> Option<HostName> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.len() > MAX_LEN {
        return None;
    }
    let valid = if let Some(literal) = host.strip_prefix('[') {
        literal
            .strip_suffix(']')
            .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        host.split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if !valid {
        return None;
    }
    let mut name = HostName {
        bytes: [0; MAX_LEN],
        len: host.len(),
    };
    for (to, from) in name.bytes.iter_mut().zip(host.bytes()) {
        *to = from.to_ascii_lowercase();
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        // (host, normalized)
        let cases = [
            ("Acme.Example.COM", Some("acme.example.com")),
            ("acme.example.com.", Some("acme.example.com")),
            ("localhost", Some("localhost")),
            ("192.0.2.1", Some("192.0.2.1")),
            ("[2001:DB8::1]", Some("[2001:db8::1]")),
            ("", None),
            (".", None),
            ("a..b", None),
            (".a", None),
            ("a.b..", None),
            ("exa_mple.com", None),
            ("exa%41mple.com", None),
            ("[2001:db8::1", None),
            ("[not-v6]", None),
            ("caf\u{e9}.com", None),
        ];
        for (host, normalized) in cases {
            assert_eq!(
                normalize(host).as_ref().map(HostName::as_str),
                normalized,
                "{host:?}"
            );
        }
        let longest = format!("{}.com", "a".repeat(MAX_LEN - 4));
        assert!(normalize(&longest).is_some());
        assert!(normalize(&format!("a{longest}")).is_none(), "254 characters");
    }
}
