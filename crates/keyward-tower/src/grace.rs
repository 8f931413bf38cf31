//! [`GraceNotice`]: what a response tells the client whose key is in its rotation grace period,
//! a `Deprecation` header (RFC 9745) and a `Sunset` header (RFC 8594), formatted once per cached
//! key.
//!
//! A key is in its grace period when it has been rotated out with a grace ([`ApiKey::grace_until`]
//! is set) and still works. The record does not keep when it was rotated out; its successor does,
//! as its creation time (the successor names it in `rotated_from`). So when the verifier loads a
//! key in grace (a cache miss, never a hit) it also lists the tenant's keys and takes the creation
//! time of the first successor: that is the `Deprecation` time. When no successor can be read (a
//! store outage between the two reads, a record changed by hand) it sends the grace's end instead:
//! the key is deprecated by then at the latest, and `Deprecation` is never later than `Sunset`.
//!
//! Keys rotated in two steps keep no grace deadline (they work until revoked) and get no notice.
//!
//! The notice is on every response to a request the key authenticated (the handler's, the tenant
//! gate's 403, the rate limit's 429), with a `Link: <uri>; rel="sunset"` when the layer has
//! [`rotation_docs`](crate::ApiKeyLayerBuilder::rotation_docs). With audit events on, each such
//! request is also logged at info level, target `keyward::audit`, naming the key by fingerprint.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http::Request;
//! use http_body_util::Full;
//! use keyward_core::{KeyManager, MemoryStore, NewKey, Rotation, TenantId};
//! use keyward_tower::ApiKeyLayer;
//! use keyward_tower::headers::{DEPRECATION, SUNSET};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = KeyManager::new(MemoryStore::new());
//! let tenant = TenantId::new("site_1")?;
//! let old = manager.create(NewKey::new(tenant.clone())).await?;
//! let new = manager
//!     .rotate_with(&tenant, &old.key.id, Rotation::Grace(Duration::from_secs(48 * 3600)))
//!     .await?;
//! let layer = ApiKeyLayer::builder(manager).rotation_docs("https://docs.example.com/keys").build()?;
//! let service = ServiceBuilder::new().layer(layer).service(service_fn(|_: Request<Full<Bytes>>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Full::<Bytes>::from("ok")))
//! }));
//! let get = |token: &str| {
//!     Request::get("/v1/events")
//!         .header("authorization", format!("Bearer {token}"))
//!         .body(Full::<Bytes>::default())
//! };
//! let response = service.clone().oneshot(get(old.token.expose())?).await?;
//! let deprecated = format!("@{}", new.key.created_at.as_millis() / 1000);
//! assert_eq!(response.headers()[&DEPRECATION], deprecated.as_str());
//! assert!(response.headers()[&SUNSET].to_str()?.ends_with(" GMT"));
//! assert_eq!(response.headers()["link"], "<https://docs.example.com/keys>; rel=\"sunset\"");
//!
//! let response = service.oneshot(get(new.token.expose())?).await?;
//! assert!(response.headers().get(&DEPRECATION).is_none(), "the successor is not deprecated");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::LINK;
use http::{HeaderMap, HeaderValue};
use keyward_core::time::Timestamp;
use keyward_core::{ApiKey, KeyStore};

use crate::headers::{DEPRECATION, SUNSET};

/// The `Deprecation` and `Sunset` values of a key in its grace period, ready to send.
///
/// ```
/// use keyward_core::time::Timestamp;
/// use keyward_tower::grace::GraceNotice;
///
/// let rotated_out = Timestamp::from_millis(1_764_780_522_500); // 2025-12-03T16:48:42.500Z
/// let sunset = Timestamp::from_millis(1_796_489_322_000); // 2026-12-05T16:48:42Z
/// let notice = GraceNotice::new(rotated_out, sunset);
/// assert_eq!(notice.deprecation(), "@1764780522");
/// assert_eq!(notice.sunset(), "Sat, 05 Dec 2026 16:48:42 GMT");
/// assert_eq!(notice.sunset_at(), sunset);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraceNotice {
    deprecation: HeaderValue,
    sunset: HeaderValue,
    deprecated_at: Timestamp,
    sunset_at: Timestamp,
}

impl GraceNotice {
    /// The notice of a key deprecated at `deprecated_at` that stops working at `sunset_at`. Both
    /// are sent in whole seconds, rounded down.
    pub fn new(deprecated_at: Timestamp, sunset_at: Timestamp) -> Self {
        Self {
            deprecation: HeaderValue::try_from(format!("@{}", unix_seconds(deprecated_at)))
                .expect("`@` and digits are a valid header value"),
            sunset: HeaderValue::try_from(httpdate::fmt_http_date(system_time(sunset_at)))
                .expect("an HTTP-date is a valid header value"),
            deprecated_at,
            sunset_at,
        }
    }

    /// The notice for `key` when it is in its grace period, `None` otherwise: deprecated at
    /// `rotated_out` (or, unknown, when the grace ends), sunset when the grace ends or the key
    /// expires, whichever comes first.
    ///
    /// ```
    /// use std::time::Duration;
    /// use keyward_core::{KeyManager, MemoryStore, NewKey, Rotation, TenantId};
    /// use keyward_tower::grace::GraceNotice;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = KeyManager::new(MemoryStore::new());
    /// let tenant = TenantId::new("site_1")?;
    /// let old = manager.create(NewKey::new(tenant.clone())).await?;
    /// assert_eq!(GraceNotice::of(&old.key, None), None, "not rotated: no notice");
    ///
    /// let grace = Rotation::Grace(Duration::from_secs(3600));
    /// let new = manager.rotate_with(&tenant, &old.key.id, grace).await?;
    /// let rotated = manager.get(&tenant, &old.key.id).await?.expect("stored");
    /// let notice = GraceNotice::of(&rotated, Some(new.key.created_at)).expect("in grace");
    /// assert_eq!(Some(notice.sunset_at()), rotated.grace_until);
    /// assert_eq!(notice.deprecated_at(), new.key.created_at);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn of(key: &ApiKey, rotated_out: Option<Timestamp>) -> Option<Self> {
        let grace_until = key.grace_until?;
        let sunset_at = key
            .expires_at
            .map_or(grace_until, |expires| expires.min(grace_until));
        let deprecated_at = rotated_out.map_or(sunset_at, |at| at.min(sunset_at));
        Some(Self::new(deprecated_at, sunset_at))
    }

    /// The `Deprecation` value: `@` and the Unix time the key was deprecated.
    pub fn deprecation(&self) -> &HeaderValue {
        &self.deprecation
    }

    /// The `Sunset` value: the HTTP-date when the key stops working.
    pub fn sunset(&self) -> &HeaderValue {
        &self.sunset
    }

    /// When the key was deprecated.
    pub fn deprecated_at(&self) -> Timestamp {
        self.deprecated_at
    }

    /// When the key stops working.
    pub fn sunset_at(&self) -> Timestamp {
        self.sunset_at
    }

    /// Writes `Deprecation`, `Sunset` and, when the layer has one, the `Link` to the rotation
    /// documentation.
    pub(crate) fn write(&self, headers: &mut HeaderMap, link: Option<&HeaderValue>) {
        headers.insert(DEPRECATION, self.deprecation.clone());
        headers.insert(SUNSET, self.sunset.clone());
        if let Some(link) = link {
            headers.append(LINK, link.clone());
        }
    }
}

/// The notice of a key the verifier just read from `store`: for a key in grace, its first
/// successor's creation time is when it was rotated out.
pub(crate) async fn load_notice(store: &dyn KeyStore, key: &ApiKey) -> Option<GraceNotice> {
    key.grace_until?;
    let rotated_out = match store.list(&key.tenant).await {
        Ok(keys) => keys
            .iter()
            .filter(|other| other.rotated_from.as_ref() == Some(&key.id))
            .map(|successor| successor.created_at)
            .min(),
        Err(error) => {
            tracing::warn!(target: "keyward::audit", fingerprint = %key.fingerprint(), %error, "could not read the successor of a key in grace; its Deprecation time is the grace's end");
            None
        }
    };
    GraceNotice::of(key, rotated_out)
}

/// The `Link` value of the rotation documentation at `uri`, as RFC 8594's `sunset` relation;
/// `None` when `uri` is empty or has a character a URI reference cannot (a space, a control
/// character, non-ASCII, `<`, `>` or `"`).
pub(crate) fn docs_link(uri: &str) -> Option<HeaderValue> {
    let valid = !uri.is_empty()
        && uri
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"'));
    valid
        .then(|| HeaderValue::try_from(format!("<{uri}>; rel=\"sunset\"")))?
        .ok()
}

fn unix_seconds(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(1000)
}

fn system_time(at: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(at.as_millis().unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_down_to_seconds_and_parse_back() {
        let notice = GraceNotice::new(Timestamp::from_millis(1_999), Timestamp::from_millis(86_400_999));
        assert_eq!(notice.deprecation(), "@1");
        let sunset = httpdate::parse_http_date(notice.sunset().to_str().unwrap()).unwrap();
        assert_eq!(sunset, UNIX_EPOCH + Duration::from_secs(86_400));
        assert_eq!(notice.sunset(), "Fri, 02 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn docs_links_name_the_sunset_relation() {
        assert_eq!(
            docs_link("https://example.com/docs/keys#rotation").unwrap(),
            "<https://example.com/docs/keys#rotation>; rel=\"sunset\""
        );
        assert_eq!(
            docs_link("/docs/rotation").unwrap(),
            "</docs/rotation>; rel=\"sunset\""
        );
        for bad in [
            "",
            "https://x/a b",
            "https://x/>",
            "https://x/\"",
            "https://x/é",
            "a\nb",
        ] {
            assert_eq!(docs_link(bad), None, "{bad:?}");
        }
    }
}
