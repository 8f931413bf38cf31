//! Spending a key's [credits](keyward_core::credits) on the request path: one store call a request
//! for keys with credits, after the rate limit let the request through, and nothing at all for
//! other keys (their cached record says they have none).
//!
//! The request's cost is its route cost
//! ([`ApiKeyLayerBuilder::route_cost`](crate::ApiKeyLayerBuilder::route_cost), 1 unless set). A
//! request is charged only when the service behind the layer answers it with a status below 400:
//! the layer's own refusals come before the spend, and a client or server error from the service
//! gives the credits back. Spent credits answer 429 `usage_exceeded`, with `Retry-After` until the
//! next refill when there is one; a store that cannot be asked answers 503 `store_unavailable`
//! and spends nothing.
//!
//! Allowed responses carry `X-Credits-Remaining` (credits left after the request) and, when the
//! credits have a refill, `X-Credits-Reset` (seconds until it).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use http::{Request, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use keyward_core::{KeyManager, MemoryStore, NewKey, TenantId};
//! use keyward_tower::ApiKeyLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! let manager = KeyManager::new(MemoryStore::new());
//! let created = manager.create(NewKey::new(TenantId::new("site_1")?).credits(1, None)).await?;
//! let app = ServiceBuilder::new()
//!     .layer(ApiKeyLayer::builder(manager).build()?)
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from("ok"))))
//!     }));
//! let request = || {
//!     Request::get("/v1/events")
//!         .header("authorization", format!("Bearer {}", created.token.expose()))
//!         .body(Full::new(Bytes::new()))
//!         .unwrap()
//! };
//! let first = app.clone().oneshot(request()).await?;
//! assert_eq!(first.headers()["x-credits-remaining"], "0");
//! let second = app.oneshot(request()).await?;
//! assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::time::Duration;

use http::HeaderMap;
use keyward_core::credits::{CreditsUpdate, Spend};
use keyward_core::time::Timestamp;

use crate::verify::CachedKey;
use crate::{Rejection, headers};

/// The credits a key has left after its request, for the response's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CreditsLeft {
    remaining: u64,
    /// The next refill, when there is one.
    next_refill: Option<Timestamp>,
}

impl CreditsLeft {
    /// Writes `X-Credits-Remaining` and `X-Credits-Reset` as of `now`.
    pub(crate) fn write(&self, headers: &mut HeaderMap, now: Timestamp) {
        headers::credits(headers, self.remaining, until(self.next_refill, now));
    }
}

fn until(next_refill: Option<Timestamp>, now: Timestamp) -> Option<Duration> {
    next_refill.map(|at| at.since(now))
}

/// Spends `cost` of the key's credits at `now`: what is left, `None` when the lineage turned out
/// to have no credits (removed since the key was cached), or the rejection.
pub(crate) async fn spend(
    cached: &CachedKey,
    store: &dyn keyward_core::KeyStore,
    cost: u64,
    now: Timestamp,
) -> Result<Option<CreditsLeft>, Rejection> {
    match store.spend(&cached.key.lineage, cost, now).await {
        Ok(Spend::Allowed {
            remaining,
            next_refill,
        }) => Ok(Some(CreditsLeft {
            remaining,
            next_refill,
        })),
        Ok(Spend::Refused {
            remaining,
            next_refill,
        }) => {
            tracing::debug!(target: "keyward::rejection", reason = "usage_exceeded", fingerprint = %cached.fingerprint, remaining, cost, "request refused");
            Err(Rejection::UsageExceeded {
                remaining,
                retry_after: until(next_refill, now),
            })
        }
        Ok(Spend::Unmetered) => Ok(None),
        Err(error) => {
            tracing::warn!(target: "keyward::rejection", reason = "credits", %error, fingerprint = %cached.fingerprint, "key store unavailable");
            Err(Rejection::StoreUnavailable)
        }
    }
}

/// Gives `cost` back to the key's credits after the service answered with an error: what is left
/// afterwards. When the store cannot be asked, the credits stay spent (logged) and `left` is
/// returned.
pub(crate) async fn refund(
    cached: &CachedKey,
    store: &dyn keyward_core::KeyStore,
    cost: u64,
    left: CreditsLeft,
    now: Timestamp,
) -> CreditsLeft {
    match store
        .update_credits(&cached.key.lineage, CreditsUpdate::Add(cost), now)
        .await
    {
        Ok(Some(credits)) => CreditsLeft {
            remaining: credits.remaining,
            next_refill: credits.next_refill(),
        },
        Ok(None) => left,
        Err(error) => {
            tracing::warn!(target: "keyward::rejection", %error, fingerprint = %cached.fingerprint, cost, "credits of a failed request could not be given back");
            left
        }
    }
}
