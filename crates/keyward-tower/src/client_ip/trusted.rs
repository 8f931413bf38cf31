//! [`TrustedProxies`]: the networks whose forwarding headers are believed.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The networks of the proxies in front of the service: only a peer in one of them may say, in a
/// forwarding header, whom it forwards for.
///
/// Each entry is a network in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or a single address
/// (`127.0.0.1`, `::1`). IPv4 addresses match whether they arrive as themselves or mapped into
/// IPv6 (`::ffff:10.0.0.1`, as a dual-stack socket reports them).
///
/// ```
/// use keyward_tower::client_ip::TrustedProxies;
///
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"])?;
/// assert!(proxies.contains("10.1.2.3".parse()?));
/// assert!(proxies.contains("::ffff:127.0.0.1".parse()?));
/// assert!(proxies.contains("fd12::1".parse()?));
/// assert!(!proxies.contains("203.0.113.7".parse()?));
/// assert!(TrustedProxies::new(["10.0.0.1/8"]).is_err(), "host bits set: a typo, refused");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Network>,
}

/// One network, compared as 128 bits: IPv4 networks as their IPv4-mapped IPv6 form.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Network {
    bits: u128,
    mask: u128,
    /// As configured, for `Debug`.
    address: IpAddr,
    prefix: u8,
}

/// A trusted-proxy entry that is neither a network nor an address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a network (`10.0.0.0/8`, `fd00::/8`) or an address (`127.0.0.1`) without host bits set"
)]
pub struct InvalidProxy(pub String);

impl TrustedProxies {
    /// The networks and addresses of `entries`.
    ///
    /// # Errors
    ///
    /// [`InvalidProxy`] for an entry that does not parse, has a prefix longer than its address,
    /// or has bits set beyond its prefix (`10.0.0.1/8`).
    pub fn new<I>(entries: I) -> Result<Self, InvalidProxy>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let networks = entries
            .into_iter()
            .map(|entry| entry.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    /// Loopback only (`127.0.0.0/8`, `::1`): a proxy on the same machine.
    pub fn loopback() -> Self {
        Self::new(["127.0.0.0/8", "::1/128"]).expect("valid networks")
    }

    /// Whether `address` is in one of the networks.
    #[inline]
    pub fn contains(&self, address: IpAddr) -> bool {
        let bits = bits(address);
        self.networks.iter().any(|n| bits & n.mask == n.bits)
    }

    /// Whether no network is listed (then no forwarding header is ever believed).
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.networks
                    .iter()
                    .map(|n| format!("{}/{}", n.address, n.prefix)),
            )
            .finish()
    }
}

impl FromStr for Network {
    type Err = InvalidProxy;

    fn from_str(entry: &str) -> Result<Self, InvalidProxy> {
        let invalid = || InvalidProxy(entry.to_owned());
        let (address, prefix) = match entry.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid())?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) if prefix.bytes().all(|b| b.is_ascii_digit()) => {
                prefix.parse::<u8>().map_err(|_| invalid())?
            }
            Some(_) => return Err(invalid()),
        };
        if prefix > width {
            return Err(invalid());
        }
        // IPv4 networks live in the last 32 bits of the mapped form, under its 96-bit prefix.
        let total = u32::from(prefix) + 128 - u32::from(width);
        let mask = u128::MAX.checked_shl(128 - total).unwrap_or(0);
        let bits = self::bits(address);
        if bits & !mask != 0 {
            return Err(invalid());
        }
        Ok(Self {
            bits,
            mask,
            address,
            prefix,
        })
    }
}

/// `address` as 128 bits, IPv4 as IPv4-mapped IPv6.
#[inline]
fn bits(address: IpAddr) -> u128 {
    let v6 = match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    u128::from(v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]).expect("valid");
        // (address, contained)
        let cases = [
            ("10.0.0.0", true),
            ("10.255.255.255", true),
            ("11.0.0.0", false),
            ("9.255.255.255", false),
            ("192.168.1.7", true),
            ("192.168.1.8", false),
            ("::ffff:10.9.8.7", true),
            ("2001:db8:ffff::1", true),
            ("2001:db9::1", false),
            ("::a00:1", false),
        ];
        for (address, contained) in cases {
            assert_eq!(proxies.contains(ip(address)), contained, "{address}");
        }
    }

    #[test]
    fn whole_spaces_and_single_hosts() {
        let all = TrustedProxies::new(["0.0.0.0/0", "::/0"]).expect("valid");
        assert!(all.contains(ip("203.0.113.1")) && all.contains(ip("2001:db8::1")));
        let v4_only = TrustedProxies::new(["0.0.0.0/0"]).expect("valid");
        assert!(
            !v4_only.contains(ip("2001:db8::1")),
            "the IPv4 space holds no IPv6 address"
        );
        let loopback = TrustedProxies::loopback();
        assert!(loopback.contains(ip("127.0.0.1")) && loopback.contains(ip("::1")));
        assert!(!loopback.contains(ip("::2")));
        assert!(TrustedProxies::new::<[&str; 0]>([]).expect("valid").is_empty());
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for entry in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.1/8",
            "10.0.0.0/+8",
            "host",
            "10.0.0.0/8/8",
            "fe80::1%eth0",
        ] {
            assert_eq!(
                TrustedProxies::new([entry]),
                Err(InvalidProxy(entry.to_owned())),
                "{entry:?}"
            );
        }
    }

    #[test]
    fn debug_lists_the_networks() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "::1"]).expect("valid");
        assert_eq!(format!("{proxies:?}"), r#"["10.0.0.0/8", "::1/128"]"#);
    }
}
