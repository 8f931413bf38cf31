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

use crate::shared::Post;

/// The response body of a layer that [wraps bodies](crate::ApiKeyLayer::wrap_bodies): the inner
/// service's, or a rejection's JSON.
pub type ResponseBody<B> = Either<B, Full<Bytes>>;

pin_project! {
    /// Response future of [`ApiKeyService`](crate::ApiKeyService): the inner service's future `F`
    /// answering with body `B`, or the layer's own answer; the layer's body type is `O`.
    pub struct ResponseFuture<F, B, O, E> {
        #[pin]
        state: State<F, B, O, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B, O, E> {
        Forward { #[pin] future: F, post: Option<Post>, body: fn(B) -> O },
        Reject { response: Option<Response<O>> },
        Slow { future: BoxFuture<'static, Result<Response<O>, E>> },
    }
}

impl<F, B, O, E> ResponseFuture<F, B, O, E> {
    pub(crate) fn forward(future: F, post: Post, body: fn(B) -> O) -> Self {
        Self {
            state: State::Forward {
                future,
                post: Some(post),
                body,
            },
        }
    }

    pub(crate) fn reject(response: Response<O>) -> Self {
        Self {
            state: State::Reject {
                response: Some(response),
            },
        }
    }

    pub(crate) fn slow(future: BoxFuture<'static, Result<Response<O>, E>>) -> Self {
        Self {
            state: State::Slow { future },
        }
    }
}

impl<F, B, O, E> Future for ResponseFuture<F, B, O, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<O>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Forward { future, post, body } => {
                let response = ready!(future.poll(cx))?;
                let post = post.take().expect("ResponseFuture polled after completion");
                Poll::Ready(Ok(post.finish(response.map(*body))))
            }
            StateProj::Reject { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            StateProj::Slow { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, O, E> fmt::Debug for ResponseFuture<F, B, O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
