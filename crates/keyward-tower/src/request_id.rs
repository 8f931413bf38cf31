//! Request ids: keep a well-formed incoming `X-Request-Id`, else mint `req_<random>`.
//!
//! [`KeywardRequestId`] also implements tower-http's [`MakeRequestId`], so the same ids can be made
//! by `SetRequestIdLayer` in front of other services.

use std::cell::RefCell;

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, Request};
use keyward_core::token::Alphabet;
use rand::RngCore;
use tower_http::request_id::{MakeRequestId, RequestId};

/// `x-request-id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const MAX_LEN: usize = 128;
const MINTED_LEN: usize = 20;
const ID_LEN: usize = 4 + MINTED_LEN;
/// Ids minted at once per thread.
const PER_BATCH: usize = 64;

/// The base62 alphabet, as tokens use it.
const CHARS: &[u8] = Alphabet::Base62.chars();
/// Pairs of base62 characters: 62² of them, fewer than the 4 096 values of twelve bits.
const PAIR_COUNT: usize = 62 * 62;
/// The pair for each twelve-bit value; values from `PAIR_COUNT` up are skipped when drawn.
static PAIRS: [[u8; 2]; 4096] = pairs();

const fn pairs() -> [[u8; 2]; 4096] {
    let mut table = [[b'_'; 2]; 4096];
    let mut value = 0;
    while value < PAIR_COUNT {
        table[value] = [CHARS[value / 62], CHARS[value % 62]];
        value += 1;
    }
    table
}

/// Makes `req_` + 20 random base62 characters.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeywardRequestId;

impl MakeRequestId for KeywardRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        Some(RequestId::new(mint()))
    }
}

/// A new `req_…` id: 20 base62 characters (about 119 random bits) from the thread's CSPRNG.
///
/// Ids are minted 64 at a time into one buffer per thread, and each id is a slice of it: minting
/// one allocates nothing, and copies of it share the buffer.
pub fn mint() -> HeaderValue {
    thread_local! {
        static BATCH: RefCell<Batch> = RefCell::new(Batch::fill());
    }
    BATCH.with_borrow_mut(|batch| {
        if batch.next == PER_BATCH {
            *batch = Batch::fill();
        }
        let start = batch.next * ID_LEN;
        batch.next += 1;
        HeaderValue::from_maybe_shared(batch.ids.slice(start..start + ID_LEN))
            .expect("ASCII alphanumerics are a valid header value")
    })
}

/// One thread's ids not handed out yet.
struct Batch {
    ids: Bytes,
    next: usize,
}

impl Batch {
    /// `PER_BATCH` ids of twenty uniform base62 characters each, two characters from each twelve
    /// random bits (five draws of twelve bits from each 64-bit number); the 252 values past the
    /// 3 844 pairs are skipped. Every pair is written and the position moves on only for the kept
    /// ones, so the loop has no branch to mispredict.
    fn fill() -> Self {
        const CHARS_NEEDED: usize = PER_BATCH * MINTED_LEN;
        let mut chars = [0u8; CHARS_NEEDED];
        let mut rng = rand::rng();
        let mut at = 0;
        'fill: loop {
            let draw = rng.next_u64();
            for i in 0..5 {
                let twelve = ((draw >> (12 * i)) & 0xfff) as usize;
                chars[at..at + 2].copy_from_slice(&PAIRS[twelve]);
                at += 2 * usize::from(twelve < PAIR_COUNT);
                if at == CHARS_NEEDED {
                    break 'fill;
                }
            }
        }
        let mut ids = Vec::with_capacity(PER_BATCH * ID_LEN);
        for id in chars.chunks_exact(MINTED_LEN) {
            ids.extend_from_slice(b"req_");
            ids.extend_from_slice(id);
        }
        Self {
            ids: Bytes::from(ids),
            next: 0,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_single_well_formed_id() {
        let too_long = "a".repeat(129);
        let cases: [(&[&str], bool); 6] = [
            (&["abc-123"], true),
            (&["A.b_c-1:2"], true),
            (&[], false),
            (&["has space"], false),
            (&[too_long.as_str()], false),
            (&["one", "two"], false),
        ];
        for (values, kept) in cases {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(X_REQUEST_ID, HeaderValue::from_str(v).unwrap());
            }
            assert_eq!(incoming(&headers).is_some(), kept, "{values:?}");
        }
    }

    #[test]
    fn each_pair_of_characters_has_one_twelve_bit_value() {
        let kept: std::collections::HashSet<[u8; 2]> = PAIRS[..PAIR_COUNT].iter().copied().collect();
        assert_eq!(kept.len(), PAIR_COUNT);
        assert!(kept.iter().flatten().all(|c| CHARS.contains(c)));
    }

    #[test]
    fn minted_characters_are_uniform() {
        let mut counts = [0u32; 62];
        let ids = 200 * PER_BATCH;
        for _ in 0..ids {
            for b in &mint().as_bytes()[4..] {
                let at = CHARS.iter().position(|c| c == b).expect("a base62 character");
                counts[at] += 1;
            }
        }
        // 4 128 expected each; a character never drawn, or drawn twice as often, is far outside.
        let expected = (ids * MINTED_LEN / CHARS.len()) as f64;
        for (c, n) in CHARS.iter().zip(counts) {
            let off = (f64::from(n) - expected).abs() / expected;
            assert!(off < 0.1, "{} drawn {n} times, {expected} expected", *c as char);
        }
    }

    #[test]
    fn minted_ids_are_well_formed_and_differ_across_batches() {
        let ids: std::collections::HashSet<HeaderValue> = (0..3 * PER_BATCH).map(|_| mint()).collect();
        assert_eq!(ids.len(), 3 * PER_BATCH);
        for id in &ids {
            let text = id.to_str().unwrap();
            assert!(text.starts_with("req_") && text.len() == ID_LEN, "{text}");
            assert!(text[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
            assert!(is_well_formed(id));
        }
    }
}
