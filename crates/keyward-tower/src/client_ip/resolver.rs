//! [`ClientIp`]: where the layer finds the client's address.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use http::header::{FORWARDED, HeaderName};
use http::{Extensions, HeaderMap};

use super::TrustedProxies;
use super::chain;

/// A function that finds the client's address in a request, given to [`ClientIp::custom`].
type Custom = dyn Fn(&Extensions, &HeaderMap) -> Option<IpAddr> + Send + Sync;

/// How [`ApiKeyLayer`](crate::ApiKeyLayer) finds the client's address, for audit records,
/// [`VerifiedKey::client_ip`](crate::VerifiedKey::client_ip) and per-client rate limits
/// ([`rate_limit_per_client`](crate::ApiKeyLayerBuilder::rate_limit_per_client)).
///
/// It starts from the socket's peer address: a `SocketAddr` request extension
/// ([`socket`](Self::socket), what a hyper server adds with `map_request`), axum's
/// `ConnectInfo<SocketAddr>` (`keyward_axum::client_ip()`, served with
/// `into_make_service_with_connect_info::<SocketAddr>()`), or a function of your own
/// ([`peer_from`](Self::peer_from), [`custom`](Self::custom)). With
/// [`trusted_proxies`](Self::trusted_proxies), a peer that is one of those proxies is looked
/// through: the forwarding header (`X-Forwarded-For` unless [`forwarded_header`](Self::forwarded_header)
/// says `Forwarded`) is walked from the right, past every trusted proxy, to the first address
/// that is not one. That is the client.
///
/// A client cannot choose its address by sending the header itself: the walk reads only what the
/// trusted proxies appended, right of the client's own address, and a peer that is not trusted is
/// never asked. (Taking the left-most entry, as some rate limiters do, lets every client name
/// any address.) Several header lines are read as one list, in their order. The walk stops at
/// the last address it read when an element is not an address (`unknown`, an obfuscated name, a
/// malformed entry, a line that is not text) or when the chain ends: the client is then that
/// hop, never an address that an untrusted party wrote. Only one header is read: a proxy that
/// sets `X-Forwarded-For` passes a client's `Forwarded` through untouched, so believing both
/// would believe the client.
///
/// IPv4 addresses mapped into IPv6 (`::ffff:192.0.2.1`, as dual-stack sockets report them) are
/// read as IPv4. Resolving allocates nothing.
///
/// ```
/// use std::net::{IpAddr, SocketAddr};
/// use http::{HeaderMap, HeaderValue};
/// use keyward_tower::client_ip::{ClientIp, ForwardedHeader, TrustedProxies};
///
/// let resolver = ClientIp::socket().trusted_proxies(TrustedProxies::new(["10.0.0.0/8"])?);
/// let mut extensions = http::Extensions::new();
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.2"));
///
/// // Through the proxies: the first address that is not one of theirs, from the right.
/// extensions.insert(SocketAddr::from(([10, 0, 0, 1], 40_000)));
/// assert_eq!(resolver.resolve(&extensions, &headers), Some("203.0.113.7".parse()?));
///
/// // Straight from a client: the header is its own word, and ignored.
/// extensions.insert(SocketAddr::from(([198, 51, 100, 9], 40_000)));
/// assert_eq!(resolver.resolve(&extensions, &headers), Some("198.51.100.9".parse()?));
///
/// // RFC 7239's `Forwarded`, quoted IPv6 and ports included.
/// let resolver = resolver.forwarded_header(ForwardedHeader::Forwarded);
/// headers.insert("forwarded", HeaderValue::from_static(r#"for="[2001:db8::17]:4711";proto=https"#));
/// extensions.insert(SocketAddr::from(([10, 0, 0, 1], 40_000)));
/// assert_eq!(resolver.resolve(&extensions, &headers), Some("2001:db8::17".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClientIp {
    peer: Peer,
    trusted: Option<TrustedProxies>,
    header: ForwardedHeader,
}

/// Where the peer address comes from.
enum Peer {
    Socket,
    Lookup(fn(&Extensions) -> Option<SocketAddr>),
    Custom(Box<Custom>),
}

/// The forwarding header that trusted proxies write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// `x-forwarded-for`.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

impl ClientIp {
    /// The peer address from a `SocketAddr` request extension.
    pub fn socket() -> Self {
        Self::with_peer(Peer::Socket)
    }

    /// The peer address found by `lookup` in the request's extensions (for a server that stores
    /// it in a type of its own).
    pub fn peer_from(lookup: fn(&Extensions) -> Option<SocketAddr>) -> Self {
        Self::with_peer(Peer::Lookup(lookup))
    }

    /// The peer address found by `find`, from the extensions and the headers; with
    /// [`trusted_proxies`](Self::trusted_proxies) the walk starts from what it returns.
    pub fn custom(find: impl Fn(&Extensions, &HeaderMap) -> Option<IpAddr> + Send + Sync + 'static) -> Self {
        Self::with_peer(Peer::Custom(Box::new(find)))
    }

    fn with_peer(peer: Peer) -> Self {
        Self {
            peer,
            trusted: None,
            header: ForwardedHeader::default(),
        }
    }

    /// Looks through peers in `proxies` to the client they forward for (see the type's
    /// documentation).
    #[must_use]
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted = Some(proxies);
        self
    }

    /// Which forwarding header the trusted proxies write (default: `X-Forwarded-For`).
    #[must_use]
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The client's address, `None` when the peer address is unknown.
    pub fn resolve(&self, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = match &self.peer {
            Peer::Socket => extensions.get::<SocketAddr>().map(SocketAddr::ip),
            Peer::Lookup(lookup) => lookup(extensions).map(|address| address.ip()),
            Peer::Custom(find) => find(extensions, headers),
        }?;
        Some(match &self.trusted {
            None => peer.to_canonical(),
            Some(trusted) => match self.header {
                ForwardedHeader::XForwardedFor => {
                    chain::walk(peer, trusted, headers, &X_FORWARDED_FOR, chain::x_forwarded_for)
                }
                ForwardedHeader::Forwarded => {
                    chain::walk(peer, trusted, headers, &FORWARDED, chain::forwarded)
                }
            },
        })
    }
}

impl fmt::Debug for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = match self.peer {
            Peer::Socket => "SocketAddr",
            Peer::Lookup(_) => "lookup",
            Peer::Custom(_) => "custom",
        };
        f.debug_struct("ClientIp")
            .field("peer", &peer)
            .field("trusted_proxies", &self.trusted)
            .field("header", &self.header)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    /// A peer address kept in a type of a server's own.
    #[derive(Clone)]
    struct Peer(SocketAddr);

    #[test]
    fn every_peer_source() {
        let mut extensions = Extensions::new();
        let mut headers = HeaderMap::new();
        assert_eq!(
            ClientIp::socket().resolve(&extensions, &headers),
            None,
            "no peer known"
        );
        extensions.insert(SocketAddr::from(([127, 0, 0, 1], 1)));
        extensions.insert(Peer(SocketAddr::from(([192, 0, 2, 5], 1))));
        headers.insert("x-real-ip", HeaderValue::from_static("192.0.2.77"));
        assert_eq!(
            ClientIp::socket().resolve(&extensions, &headers),
            Some(ip("127.0.0.1"))
        );
        let lookup = ClientIp::peer_from(|extensions| extensions.get::<Peer>().map(|peer| peer.0));
        assert_eq!(lookup.resolve(&extensions, &headers), Some(ip("192.0.2.5")));
        let custom = ClientIp::custom(|_, headers| headers.get("x-real-ip")?.to_str().ok()?.parse().ok());
        assert_eq!(custom.resolve(&extensions, &headers), Some(ip("192.0.2.77")));
        let mapped = SocketAddr::new(ip("::ffff:198.51.100.1"), 1);
        extensions.insert(mapped);
        assert_eq!(
            ClientIp::socket().resolve(&extensions, &headers),
            Some(ip("198.51.100.1"))
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let trusted = TrustedProxies::loopback();
        let mut extensions = Extensions::new();
        extensions.insert(SocketAddr::from(([127, 0, 0, 1], 1)));
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.1"));
        headers.insert("forwarded", HeaderValue::from_static("for=203.0.113.2"));
        let xff = ClientIp::socket().trusted_proxies(trusted.clone());
        assert_eq!(xff.resolve(&extensions, &headers), Some(ip("203.0.113.1")));
        let forwarded = ClientIp::socket()
            .trusted_proxies(trusted)
            .forwarded_header(ForwardedHeader::Forwarded);
        assert_eq!(forwarded.resolve(&extensions, &headers), Some(ip("203.0.113.2")));
        assert_eq!(
            format!("{forwarded:?}"),
            r#"ClientIp { peer: "SocketAddr", trusted_proxies: Some(["127.0.0.0/8", "::1/128"]), header: Forwarded }"#
        );
    }

    #[test]
    fn without_trusted_proxies_headers_are_never_read() {
        let mut extensions = Extensions::new();
        extensions.insert(SocketAddr::from(([127, 0, 0, 1], 1)));
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.1"));
        assert_eq!(
            ClientIp::socket().resolve(&extensions, &headers),
            Some(ip("127.0.0.1"))
        );
    }
}
