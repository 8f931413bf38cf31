//! [`read_limited`]: a request body read whole, up to a limit, with keyward's answers for a body
//! too large (413) or one that could not be read (400).

use axum::body::{Body, Bytes};
use http::StatusCode;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::ApiError;

/// The body's bytes, at most `limit` of them.
///
/// # Errors
///
/// 413 `payload_too_large` when the body is longer than `limit`, 400 `bad_request` when it could
/// not be read (the client went away, a malformed chunk).
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body is larger than {}", size(limit)),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The request body could not be read",
        )),
    }
}

/// `16 KiB`, `1 MiB`, or `1000 bytes`.
fn size(bytes: usize) -> String {
    const KIB: usize = 1024;
    if bytes >= KIB * KIB && bytes.is_multiple_of(KIB * KIB) {
        format!("{} MiB", bytes / (KIB * KIB))
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(16 * 1024), "16 KiB");
        assert_eq!(size(1024 * 1024), "1 MiB");
        assert_eq!(size(1000), "1000 bytes");
        assert_eq!(size(1536), "1536 bytes");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413() {
        let error = read_limited(Body::from(vec![b'x'; 11]), 10)
            .await
            .expect_err("too long");
        assert_eq!(
            (error.status(), error.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        );
        assert_eq!(error.message(), "The request body is larger than 10 bytes");
        let bytes = read_limited(Body::from(vec![b'x'; 10]), 10)
            .await
            .expect("at the limit");
        assert_eq!(bytes.len(), 10);
    }
}
