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

/// The response body: the inner service's, or a rejection's JSON.
pub type ResponseBody<B> = Either<B, Full<Bytes>>;

pin_project! {
    /// Response future of [`ApiKeyService`](crate::ApiKeyService).
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        Forward { #[pin] future: F, post: Option<Post> },
        Reject { response: Option<Response<ResponseBody<B>>> },
        Slow { future: BoxFuture<'static, Result<Response<ResponseBody<B>>, E>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn forward(future: F, post: Post) -> Self {
        Self {
            state: State::Forward {
                future,
                post: Some(post),
            },
        }
    }

    pub(crate) fn reject(response: Response<ResponseBody<B>>) -> Self {
        Self {
            state: State::Reject {
                response: Some(response),
            },
        }
    }

    pub(crate) fn slow(future: BoxFuture<'static, Result<Response<ResponseBody<B>>, E>>) -> Self {
        Self {
            state: State::Slow { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Forward { future, post } => {
                let response = ready!(future.poll(cx))?;
                let post = post.take().expect("ResponseFuture polled after completion");
                Poll::Ready(Ok(post.finish(response)))
            }
            StateProj::Reject { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
            StateProj::Slow { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
