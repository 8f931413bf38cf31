//! [`Record`]: what the request path hands the audit writer for one authenticated request.
//!
//! A record keeps no part of the request's own buffers. A server parses the request head into
//! slices of its connection's read buffer, and while any slice is alive that buffer cannot be
//! reused: a record holding the path or the user agent until the writer runs (up to its interval)
//! would make the server allocate a new read buffer for every request. The text a record needs is
//! copied instead, back to back into a per-thread buffer that many records share: copying it
//! allocates once per 64 KiB of records.

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::USER_AGENT;
use http::{HeaderMap, HeaderValue, Method, Uri};
use keyward_core::time::Timestamp;

use crate::verify::CachedKey;

/// Bytes of each thread's text buffer.
const TEXT_BUFFER: usize = 64 * 1024;
/// Longest user agent kept, in bytes.
pub(crate) const MAX_USER_AGENT: usize = 512;

/// One authenticated request, as the request path hands it over.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) key: Arc<CachedKey>,
    pub(crate) at: Timestamp,
    pub(crate) status: u16,
    pub(crate) client_ip: Option<IpAddr>,
    /// The request id, the method, the path and the user agent, back to back (empty without
    /// details).
    text: Bytes,
    request_id_len: u8,
    method_len: u32,
    path_len: u32,
}

/// The parts of a request an audit event names.
pub(crate) struct Details<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) client_ip: Option<IpAddr>,
}

impl Record {
    /// The record of a request authenticated at `at` with `key`; with `details` (audit events on),
    /// also its request id, method, path, user agent and client address.
    pub(crate) fn new(
        key: Arc<CachedKey>,
        at: Timestamp,
        request_id: &HeaderValue,
        details: Option<Details<'_>>,
    ) -> Self {
        let Some(details) = details else {
            return Self {
                key,
                at,
                status: 0,
                client_ip: None,
                text: Bytes::new(),
                request_id_len: 0,
                method_len: 0,
                path_len: 0,
            };
        };
        // Request ids are at most 128 visible ASCII characters (minted, or kept when well formed);
        // methods are tokens and paths ASCII (`http` refuses anything else); a user agent is kept
        // when it is text.
        let request_id = request_id.as_bytes();
        let method = details.method.as_str().as_bytes();
        let path = details.uri.path().as_bytes();
        let user_agent = details
            .headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map_or(&b""[..], |text| {
                &text.as_bytes()[..text.len().min(MAX_USER_AGENT)]
            });
        Self {
            key,
            at,
            status: 0,
            client_ip: details.client_ip,
            text: copy_text([request_id, method, path, user_agent]),
            request_id_len: u8::try_from(request_id.len()).unwrap_or(0),
            method_len: u32::try_from(method.len()).unwrap_or(0),
            path_len: u32::try_from(path.len()).unwrap_or(0),
        }
    }

    /// The request id (empty without details).
    pub(crate) fn request_id(&self) -> &str {
        self.text_at(0, usize::from(self.request_id_len))
    }

    /// The method, `GET` without details.
    pub(crate) fn method(&self) -> &str {
        match self.text_at(usize::from(self.request_id_len), self.method_len as usize) {
            "" => Method::GET.as_str(),
            method => method,
        }
    }

    /// The path, `/` without details.
    pub(crate) fn path(&self) -> &str {
        match self.text_at(self.method_end(), self.path_len as usize) {
            "" => "/",
            path => path,
        }
    }

    /// The user agent, if the request sent one as text.
    pub(crate) fn user_agent(&self) -> Option<&str> {
        let start = self.method_end() + self.path_len as usize;
        Some(self.text_at(start, self.text.len().saturating_sub(start))).filter(|ua| !ua.is_empty())
    }

    fn method_end(&self) -> usize {
        usize::from(self.request_id_len) + self.method_len as usize
    }

    fn text_at(&self, start: usize, len: usize) -> &str {
        self.text
            .get(start..start + len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or_default()
    }
}

/// `parts` copied back to back into this thread's text buffer, as one slice of it.
fn copy_text(parts: [&[u8]; 4]) -> Bytes {
    thread_local! {
        static BUFFER: RefCell<BytesMut> = RefCell::new(BytesMut::new());
    }
    let needed = parts.iter().map(|part| part.len()).sum();
    BUFFER.with_borrow_mut(|buffer| {
        if buffer.capacity() - buffer.len() < needed {
            *buffer = BytesMut::with_capacity(TEXT_BUFFER.max(needed));
        }
        for part in parts {
            buffer.extend_from_slice(part);
        }
        buffer.split().freeze()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};

    use crate::rate_limit::Quota;

    async fn cached() -> Arc<CachedKey> {
        let manager = KeyManager::new(MemoryStore::new());
        let created = manager
            .create(NewKey::new(TenantId::new("site_1").unwrap()))
            .await
            .unwrap();
        Arc::new(CachedKey {
            fingerprint: created.key.fingerprint(),
            quota: Quota::per_minute(60),
            grace: None,
            key: created.key,
        })
    }

    #[tokio::test]
    async fn a_record_keeps_no_part_of_the_request_buffer() {
        let key = cached().await;
        // One buffer, as a server's read buffer, that the request's parts are slices of.
        let head = Bytes::from(b"/v1/events?secret=1curl/8.5req_abc".to_vec());
        let uri = Uri::from_maybe_shared(head.slice(0..19)).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_maybe_shared(head.slice(19..27)).unwrap(),
        );
        let request_id = HeaderValue::from_maybe_shared(head.slice(27..34)).unwrap();
        let details = Details {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            client_ip: None,
        };
        let record = Record::new(key.clone(), Timestamp::now(), &request_id, Some(details));
        drop((uri, headers, request_id));
        assert!(
            head.is_unique(),
            "the record holds no slice of the request's buffer"
        );
        assert_eq!(record.request_id(), "req_abc");
        assert_eq!(record.path(), "/v1/events", "the path, without the query");
        assert_eq!(record.user_agent(), Some("curl/8.5"));
        assert_eq!(record.method(), "POST");

        let bare = Record::new(key, Timestamp::now(), &HeaderValue::from_static("req_x"), None);
        assert_eq!(
            (bare.request_id(), bare.method(), bare.path(), bare.user_agent()),
            ("", "GET", "/", None)
        );
    }

    #[tokio::test]
    async fn user_agents_are_kept_as_text_and_capped() {
        let key = cached().await;
        let uri = Uri::from_static("/");
        let record_with = |ua: HeaderValue| {
            let mut headers = HeaderMap::new();
            headers.insert(USER_AGENT, ua);
            let details = Details {
                method: &Method::GET,
                uri: &uri,
                headers: &headers,
                client_ip: None,
            };
            let record = Record::new(
                key.clone(),
                Timestamp::now(),
                &HeaderValue::from_static("r"),
                Some(details),
            );
            record.user_agent().map(str::to_owned)
        };
        let long = "a".repeat(MAX_USER_AGENT + 10);
        assert_eq!(
            record_with(HeaderValue::from_str(&long).unwrap()).map(|ua| ua.len()),
            Some(MAX_USER_AGENT)
        );
        assert_eq!(record_with(HeaderValue::from_bytes(b"caf\xe9").unwrap()), None);
    }

    #[test]
    fn text_larger_than_the_buffer_gets_a_buffer_of_its_own() {
        let big = vec![b'p'; TEXT_BUFFER + 1];
        let copied = copy_text([b"req_1", b"GET", &big, b"ua"]);
        assert_eq!(copied.len(), 5 + 3 + big.len() + 2);
        let small = copy_text([b"req_2", b"PUT", b"/", b""]);
        assert_eq!(&small[..], b"req_2PUT/");
    }
}
