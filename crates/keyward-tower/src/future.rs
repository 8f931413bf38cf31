//! [`ResponseFuture`]: the layer's response future, a small state machine. Only the slow path
//! (a cache miss, a JSON body to read, a tenant gate, a remote rate limiter) is boxed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::Response;
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;

use crate::bodies::MapResponseBody;
use crate::shared::Post;

/// The response body of a layer that [wraps bodies](crate::ApiKeyLayer::wrap_bodies): the inner
/// service's, or a rejection's JSON.
pub type ResponseBody<B> = Either<B, Full<Bytes>>;

pin_project! {
    /// Response future of [`ApiKeyService`](crate::ApiKeyService): the inner service's future `F`
    /// answering with body `B`, or the layer's own answer; `M` types the layer's response body
    /// (see [`bodies`](crate::bodies)).
    pub struct ResponseFuture<F, M, B, E>
    where
        M: MapResponseBody<B>,
    {
        #[pin]
        state: State<F, M, B, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, M, B, E>
    where
        M: MapResponseBody<B>,
    {
        Forward { #[pin] future: F, post: Option<Post> },
        Reject { response: Option<Response<M::Body>> },
        Slow { future: BoxFuture<'static, Result<Response<M::Body>, E>> },
    }
}

impl<F, M: MapResponseBody<B>, B, E> ResponseFuture<F, M, B, E> {
    pub(crate) fn forward(future: F, post: Post) -> Self {
        Self {
            state: State::Forward {
                future,
                post: Some(post),
            },
        }
    }

    pub(crate) fn reject(response: Response<M::Body>) -> Self {
        Self {
            state: State::Reject {
                response: Some(response),
            },
        }
    }

    pub(crate) fn slow(future: BoxFuture<'static, Result<Response<M::Body>, E>>) -> Self {
        Self {
            state: State::Slow { future },
        }
    }
}

impl<F, M, B, E> Future for ResponseFuture<F, M, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
    M: MapResponseBody<B>,
{
    type Output = Result<Response<M::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Forward { future, post } => {
                let response = ready!(future.poll(cx))?;
                let post = post.take().expect("ResponseFuture polled after completion");
                Poll::Ready(Ok(post.finish::<M, B>(response)))
            }
            StateProj::Reject { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            StateProj::Slow { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, M: MapResponseBody<B>, B, E> fmt::Debug for ResponseFuture<F, M, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
