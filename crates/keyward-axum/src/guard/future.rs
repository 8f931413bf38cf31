//! [`GuardFuture`]: the guards' response future, a small state machine. Only a rate-limit charge
//! that waits on a remote limiter is boxed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use keyward_tower::rate_limit::RateDecision;
use pin_project_lite::pin_project;

pin_project! {
    /// Response future of the guards' services.
    pub struct GuardFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, E> {
        Forward { #[pin] future: F, charged: Option<RateDecision> },
        Ready { response: Option<Response> },
        Charging { future: BoxFuture<'static, Result<Response, E>> },
    }
}

impl<F, E> GuardFuture<F, E> {
    /// The inner service's response; with the headers of `charged` when a charge was made.
    pub(crate) fn forward(future: F, charged: Option<RateDecision>) -> Self {
        Self {
            state: State::Forward { future, charged },
        }
    }

    /// A response decided without the inner service (a rejection).
    pub(crate) fn ready(response: Response) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    /// A charge waiting on a remote limiter, then the inner service.
    pub(crate) fn charging(future: BoxFuture<'static, Result<Response, E>>) -> Self {
        Self {
            state: State::Charging { future },
        }
    }
}

impl<F, R, E> Future for GuardFuture<F, E>
where
    F: Future<Output = Result<R, E>>,
    R: IntoResponse,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Forward { future, charged } => {
                let mut response = ready!(future.poll(cx))?.into_response();
                if let Some(decision) = charged {
                    response.extensions_mut().insert(*decision);
                }
                Poll::Ready(Ok(response))
            }
            StateProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("GuardFuture polled after completion")))
            }
            StateProj::Charging { future } => future.as_mut().poll(cx),
        }
    }
}

impl<F, E> fmt::Debug for GuardFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardFuture").finish_non_exhaustive()
    }
}
