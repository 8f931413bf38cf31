//! Request ids: keep a well-formed incoming `X-Request-Id`, else mint `req_<random>`.
//!
//! [`KeywardRequestId`] also implements tower-http's [`MakeRequestId`], so the same ids can be made
//! by `SetRequestIdLayer` in front of other services.

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Request};
use rand::RngCore;
use tower_http::request_id::{MakeRequestId, RequestId};

/// `x-request-id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const MAX_LEN: usize = 128;
const MINTED_LEN: usize = 20;
const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Makes `req_` + 20 random base62 characters.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeywardRequestId;

impl MakeRequestId for KeywardRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        Some(RequestId::new(mint()))
    }
}

/// A new `req_…` id: 20 base62 characters (about 119 random bits) from the thread's CSPRNG.
pub fn mint() -> HeaderValue {
    let mut rng = rand::rng();
    let mut id = [0u8; 4 + MINTED_LEN];
    id[..4].copy_from_slice(b"req_");
    // Ten characters from each 64-bit draw: multiply by 62 and take the high word as the
    // character, the low word as what is left of the draw.
    for half in id[4..].chunks_mut(MINTED_LEN / 2) {
        let mut draw = rng.next_u64();
        for byte in half {
            let wide = u128::from(draw) * CHARS.len() as u128;
            *byte = CHARS[(wide >> 64) as usize];
            draw = wide as u64;
        }
    }
    HeaderValue::from_bytes(&id).expect("ASCII alphanumerics are a valid header value")
}

/// Whether an incoming id may be kept: 1 to 128 of `A-Z a-z 0-9 . _ - :`.
pub fn is_well_formed(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_LEN).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// The incoming id that may be kept: the request's `X-Request-Id` when there is exactly one and it
/// is well formed.
pub fn incoming(headers: &HeaderMap) -> Option<&HeaderValue> {
    let mut values = headers.get_all(&X_REQUEST_ID).iter();
    match (values.next(), values.next()) {
        (Some(value), None) if is_well_formed(value) => Some(value),
        _ => None,
    }
}

/// The request's id: the [`incoming`] one, else a new one, which is written into the request so
/// that handlers and later layers see it.
pub(crate) fn resolve(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(value) = incoming(headers) {
        return value.clone();
    }
    let id = mint();
    headers.insert(X_REQUEST_ID.clone(), id.clone());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_good_id_and_replaces_bad_or_repeated_ones() {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID.clone(), HeaderValue::from_static("abc-123"));
        assert_eq!(resolve(&mut headers), "abc-123");

        let too_long = "a".repeat(129);
        let cases: [&[&str]; 4] = [&[], &["has space"], &[too_long.as_str()], &["one", "two"]];
        for values in cases {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(X_REQUEST_ID.clone(), HeaderValue::from_str(v).unwrap());
            }
            let id = resolve(&mut headers);
            assert!(id.to_str().unwrap().starts_with("req_"), "{values:?}");
            assert_eq!(id.len(), 24);
            assert_eq!(headers.get_all(&X_REQUEST_ID).iter().count(), 1, "{values:?}");
            assert_eq!(headers[&X_REQUEST_ID], id);
        }
    }

    #[test]
    fn minted_ids_differ() {
        assert_ne!(mint(), mint());
    }
}
