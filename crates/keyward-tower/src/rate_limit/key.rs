//! [`RateKey`]: whose budget a rate-limit check spends.

use std::net::{IpAddr, Ipv6Addr};

use keyward_core::KeyId;

/// Whose budget a check spends: a key lineage's (a key and its rotated successors), or, when the
/// layer limits [per client](crate::ApiKeyLayerBuilder::rate_limit_per_client), a lineage's for
/// one client network.
///
/// A client is an IPv4 address, or an IPv6 address's /64 network: one subscriber's network is
/// usually a whole /64, so counting each of its addresses apart would give a client 2⁶⁴ budgets.
///
/// ```
/// use keyward_core::KeyId;
/// use keyward_tower::rate_limit::RateKey;
///
/// let lineage = KeyId::generate();
/// let one = RateKey::per_client(&lineage, "2001:db8:1:2::10".parse()?);
/// let same_network = RateKey::per_client(&lineage, "2001:db8:1:2:ffff::1".parse()?);
/// assert_eq!(one, same_network);
/// assert_eq!(one.client(), Some("2001:db8:1:2::".parse()?));
/// assert_ne!(one, RateKey::per_client(&lineage, "2001:db8:1:3::10".parse()?));
/// assert_ne!(RateKey::per_key(&lineage), RateKey::per_client(&lineage, "192.0.2.1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateKey<'a> {
    lineage: &'a KeyId,
    client: Option<IpAddr>,
}

impl<'a> RateKey<'a> {
    /// The budget of `lineage`, whoever calls.
    #[inline]
    pub fn per_key(lineage: &'a KeyId) -> Self {
        Self {
            lineage,
            client: None,
        }
    }

    /// The budget of `lineage` for the client at `address` (its /64 network for IPv6).
    #[inline]
    pub fn per_client(lineage: &'a KeyId, address: IpAddr) -> Self {
        Self {
            lineage,
            client: Some(network(address.to_canonical())),
        }
    }

    /// The key lineage.
    #[inline]
    pub fn lineage(&self) -> &'a KeyId {
        self.lineage
    }

    /// The client's IPv4 address or IPv6 /64 network, for a per-client budget.
    #[inline]
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }
}

/// An IPv6 address's /64 network; IPv4 addresses as they are.
fn network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
    }
}
