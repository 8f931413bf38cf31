//! How the layer types the bodies around it: [`Plain`] (the default) hands the request and
//! response bodies on as they are, [`Wrapped`] wraps them in an `Either` with the layer's own.
//!
//! The layer makes bodies of its own twice: a rejection's JSON, and a request body it read for a
//! key in a JSON field and hands on to the handler. With [`Plain`] those are built from `Bytes`,
//! which axum's `Body` and `Full<Bytes>` are; nothing is wrapped, so axum does not box the bodies
//! again (it boxes any body that is not its own, once for the request and once for the response).
//! [`Wrapped`] takes any bodies, hyper's `Incoming` request body among them:
//! [`ApiKeyLayer::wrap_bodies`](crate::ApiKeyLayer::wrap_bodies).

use bytes::Bytes;
use http_body_util::{Either, Full};

/// What the inner service receives as its request body: see the [module docs](self).
pub trait MapRequestBody<B>: 'static {
    /// The request body the inner service receives.
    type Body;
    /// A request body handed on as it came.
    fn forward_request(body: B) -> Self::Body;
    /// A request body the layer read whole, handed on.
    fn from_bytes(bytes: Bytes) -> Self::Body;
}

/// What the layer answers with as its response body: see the [module docs](self).
pub trait MapResponseBody<B>: 'static {
    /// The response body the layer answers with.
    type Body;
    /// The inner service's response body.
    fn forward_response(body: B) -> Self::Body;
    /// A rejection's JSON.
    fn rejection(json: Bytes) -> Self::Body;
}

/// Bodies passed on as they are; both must be buildable from `Bytes` (axum's `Body`,
/// `Full<Bytes>`). The default.
#[derive(Clone, Copy, Debug)]
pub enum Plain {}

/// Bodies of any type, wrapped: the inner service receives `Either<ReqBody, Full<Bytes>>` and the
/// layer answers with [`ResponseBody<ResBody>`](crate::ResponseBody).
#[derive(Clone, Copy, Debug)]
pub enum Wrapped {}

impl<B: From<Bytes>> MapRequestBody<B> for Plain {
    type Body = B;

    #[inline]
    fn forward_request(body: B) -> B {
        body
    }

    fn from_bytes(bytes: Bytes) -> B {
        bytes.into()
    }
}

impl<B: From<Bytes>> MapResponseBody<B> for Plain {
    type Body = B;

    #[inline]
    fn forward_response(body: B) -> B {
        body
    }

    fn rejection(json: Bytes) -> B {
        json.into()
    }
}

impl<B> MapRequestBody<B> for Wrapped {
    type Body = Either<B, Full<Bytes>>;

    #[inline]
    fn forward_request(body: B) -> Self::Body {
        Either::Left(body)
    }

    fn from_bytes(bytes: Bytes) -> Self::Body {
        Either::Right(Full::new(bytes))
    }
}

impl<B> MapResponseBody<B> for Wrapped {
    type Body = Either<B, Full<Bytes>>;

    #[inline]
    fn forward_response(body: B) -> Self::Body {
        Either::Left(body)
    }

    fn rejection(json: Bytes) -> Self::Body {
        Either::Right(Full::new(json))
    }
}
