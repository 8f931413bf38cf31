//! Requests written byte for byte on a TCP connection, for what an HTTP client refuses to send
//! (NUL bytes, line breaks inside a header, a header of a mebibyte), and their answers read back.

use std::net::SocketAddr;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{ANSWER_TIMEOUT, Answer};

/// `GET path` with `headers` (each a whole line, without its line break) and `Connection: close`.
pub fn get(path: &str, headers: &[&[u8]]) -> Vec<u8> {
    request("GET", path, headers, b"")
}

/// A request with `headers` (whole lines, without line breaks), `Connection: close`, and `body`
/// after the blank line; no `Content-Length` is added.
pub fn request(method: &str, path: &str, headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut bytes =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n").into_bytes();
    for header in headers {
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// Writes `request` to `address` while reading the answer, until the server closes the connection
/// (at most [`ANSWER_TIMEOUT`]). Writing and reading run side by side, so that a server that
/// answers before reading everything (hyper's 431) is heard.
///
/// # Panics
///
/// When the server cannot be reached, does not answer in time, or answers something that is not
/// an HTTP/1.1 response: the test fails there.
pub async fn send(address: SocketAddr, request: Vec<u8>) -> Answer {
    let stream = TcpStream::connect(address).await.expect("the server accepts");
    let (mut reader, mut writer) = stream.into_split();
    // The write half stays open until the answer is read: hyper drops a connection whose client
    // half-closes it.
    let writing = tokio::spawn(async move {
        // The server may close the connection before it has read everything.
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(ANSWER_TIMEOUT, reader.read_to_end(&mut bytes))
        .await
        .expect("the server answers in time");
    // A reset after the answer (unread bytes left at the server) is no failure; no answer is.
    if let Err(error) = read {
        assert!(!bytes.is_empty(), "the connection failed with no answer: {error}");
    }
    drop(writing.await);
    parse(&bytes)
}

/// An HTTP/1.1 response with a `Content-Length` body (or none), as hyper writes them.
fn parse(bytes: &[u8]) -> Answer {
    let show = || String::from_utf8_lossy(bytes).into_owned();
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of the head in {:?}", show()));
    let head = std::str::from_utf8(&bytes[..end]).unwrap_or_else(|_| panic!("a text head: {:?}", show()));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("a status line in {head:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("a header line: {line:?}"));
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value.trim()).expect("a header value"),
        );
    }
    let mut body = &bytes[end + 4..];
    if let Some(length) = headers.get(CONTENT_LENGTH) {
        let length: usize = length
            .to_str()
            .ok()
            .and_then(|l| l.parse().ok())
            .expect("a length");
        body = &body[..length.min(body.len())];
    }
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(body).into_owned(),
    }
}
