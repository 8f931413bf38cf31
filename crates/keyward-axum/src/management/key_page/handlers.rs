//! The key page's handlers: the page itself, and the changes its script sends, each made through
//! the management API's own actions.

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use keyward_core::Tier;

use super::csrf::{CSRF_HEADER, same_origin};
use super::html::{self, PageData};
use super::page::{PageState, Shared};
use super::user::PageUser;
use crate::ApiError;
use crate::management::ManagementApi;
use crate::management::actions::{Actor, Who};
use crate::management::failure::Failure;
use crate::management::handlers::{key_id, shown_once};
use crate::management::input::{audit_query, json_object};
use crate::management::view::KeyView;

/// `GET /`: the page, or why it is not shown.
pub(super) async fn show(State(page): State<PageState>, request: Request) -> Response {
    let page = &page.0;
    let (parts, _) = request.into_parts();
    let Some(user) = page.resolver.resolve(&parts) else {
        return match &page.login {
            Some(location) => {
                let mut response = StatusCode::SEE_OTHER.into_response();
                response.headers_mut().insert(LOCATION, location.clone());
                secured(response, page)
            }
            None => html_answer(
                page,
                StatusCode::UNAUTHORIZED,
                html::message("Sign in", "Sign in to manage API keys."),
            ),
        };
    };
    match render(page, &parts, &user).await {
        Ok(body) => html_answer(page, StatusCode::OK, body),
        Err(failure) => {
            let error = failure.into_api_error();
            let title = match error.status() {
                StatusCode::BAD_REQUEST => "Bad filter",
                _ => "API keys unavailable",
            };
            html_answer(page, error.status(), html::message(title, error.message()))
        }
    }
}

async fn render(page: &Shared, parts: &Parts, user: &PageUser) -> Result<String, Failure> {
    let manager = &page.api.manager;
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            rejection.body_text(),
        )
    })?;
    let query = audit_query(user.tenant.clone(), &pairs)?;
    let keys = manager.list(&user.tenant).await?;
    let events = manager.audit_log(&query).await?;
    let default_scopes = manager.current_policy().await?.default_scopes.to_string();
    let filter = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let csrf_token = page.csrf.token(user);
    Ok(html::page(&PageData {
        base: &base(parts),
        tenant: &user.tenant,
        csrf_token: &csrf_token,
        keys: &keys,
        now: manager.now(),
        default_scopes,
        events: &events,
        filter_key: filter("key"),
        filter_path: filter("path"),
    }))
}

/// Where the page is mounted: the request's path as the client sent it, less the path the page's
/// router saw, without a trailing `/`.
fn base(parts: &Parts) -> String {
    let inner = parts.uri.path();
    let outer = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(inner, |original| original.path());
    let base = outer.strip_suffix(inner).unwrap_or(outer);
    base.trim_end_matches('/').to_owned()
}

/// The signed-in user of a change, once its origin and CSRF token are checked.
fn authorize(page: &Shared, parts: &Parts) -> Result<PageUser, ApiError> {
    let Some(user) = page.resolver.resolve(parts) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign in to manage API keys",
        ));
    };
    let checked = same_origin(parts, &page.origins)
        .and_then(|()| page.csrf.check(&user, parts.headers.get(CSRF_HEADER)));
    match checked {
        Ok(()) => Ok(user),
        Err(refusal) => {
            tracing::info!(target: "keyward::management", actor = %user.label, tenant = %user.tenant, reason = ?refusal, "key page change refused");
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf_failed",
                refusal.message(),
            ))
        }
    }
}

/// The tier the user's keys get: its own, else the keyspace's default.
async fn tier<'a>(api: &ManagementApi, user: &'a PageUser) -> Result<Cow<'a, Tier>, Failure> {
    Ok(match &user.tier {
        Some(tier) => Cow::Borrowed(tier),
        None => Cow::Owned(api.manager.current_policy().await?.default_tier.clone()),
    })
}

fn actor<'a>(user: &'a PageUser, tier: &'a Tier) -> Actor<'a> {
    Actor {
        who: Who::Page,
        tenant: &user.tenant,
        label: &user.label,
        scopes: &user.scopes,
        tier,
        environment: keyward_core::Environment::Live,
        metered: false,
    }
}

/// `POST /keys`.
pub(super) async fn create(State(page): State<PageState>, request: Request) -> Response {
    let page = &page.0;
    change(page, request, async |user, parts, body| {
        let fields = json_object(&parts.headers, body).await?;
        let tier = tier(&page.api, &user).await?;
        let created = page.api.create_key(&actor(&user, &tier), fields).await?;
        Ok(shown_once(&created, &page.api))
    })
    .await
}

/// `POST /keys/{id}/rotate`.
pub(super) async fn rotate(
    State(page): State<PageState>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let page = &page.0;
    change(page, request, async |user, parts, body| {
        let id = key_id(path)?;
        let fields = json_object(&parts.headers, body).await?;
        let tier = tier(&page.api, &user).await?;
        let created = page.api.rotate_key(&actor(&user, &tier), &id, fields).await?;
        Ok(shown_once(&created, &page.api))
    })
    .await
}

/// `POST /keys/{id}/revoke`.
pub(super) async fn revoke(
    State(page): State<PageState>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let page = &page.0;
    change(page, request, async |user, _, _| {
        let id = key_id(path)?;
        let tier = tier(&page.api, &user).await?;
        let revoked = page.api.revoke_key(&actor(&user, &tier), &id).await?;
        Ok(axum::Json(KeyView::new(&revoked, page.api.manager.now())).into_response())
    })
    .await
}

/// A change: `act` runs for the signed-in user once the CSRF checks pass; its answer or failure
/// is sent in JSON with the page's headers.
async fn change(
    page: &Shared,
    request: Request,
    act: impl AsyncFnOnce(PageUser, Parts, Body) -> Result<Response, Failure>,
) -> Response {
    let (parts, body) = request.into_parts();
    let response = match authorize(page, &parts) {
        Err(refused) => refused.into_response(),
        Ok(user) => match act(user, parts, body).await {
            Ok(response) => response,
            Err(failure) => failure.into_api_error().into_response(),
        },
    };
    secured(response, page)
}

/// Paths under the page that name nothing.
pub(super) async fn fallback(State(page): State<PageState>) -> Response {
    secured(ApiError::not_found("No such page").into_response(), &page.0)
}

fn html_answer(page: &Shared, status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    secured(response, page)
}

/// The headers of every answer of the page: never stored, never framed, its own script only.
fn secured(mut response: Response, page: &Shared) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_SECURITY_POLICY, page.csp.clone());
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
