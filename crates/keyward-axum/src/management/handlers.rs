//! The management API's handlers. Each reads the caller with [`AuthedKey`] (which checks
//! `keys:read` or `keys:write`) and acts for the caller's tenant only.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::header::CACHE_CONTROL;
use http::{HeaderMap, HeaderValue, StatusCode};
use keyward_core::{CreatedKey, KeyId, TenantId};
use keyward_tower::VerifiedKey;

use super::actions::{Actor, Who};
use super::failure::{Failure, not_found};
use super::input::{audit_query, json_object};
use super::view::{Created, KeyUsageView, KeyView, List, Usage};
use super::{Api, KeysRead, KeysWrite, ManagementApi};
use crate::{ApiError, AuthedKey};

type Reader = AuthedKey<TenantId, KeysRead>;
type Writer = AuthedKey<TenantId, KeysWrite>;

fn respond<T, S, R>(key: &AuthedKey<TenantId, S, R>, result: Result<T, Failure>) -> Response
where
    T: IntoResponse,
{
    match result {
        Ok(response) => response.into_response(),
        Err(failure) => failure.respond(key.verified()),
    }
}

/// The calling key, as the actor of a change.
fn actor(key: &Writer) -> Actor<'_> {
    let caller = key.key();
    Actor {
        who: Who::Key,
        tenant: &key.tenant,
        label: caller.id.as_str(),
        scopes: &caller.scopes,
        tier: &caller.tier,
        environment: caller.environment,
        metered: caller.credits.is_some(),
    }
}

/// The id in the path; a malformed one is not found, like any other.
pub(super) fn key_id(path: Result<Path<String>, PathRejection>) -> Result<KeyId, Failure> {
    path.ok()
        .and_then(|Path(id)| id.parse().ok())
        .ok_or_else(not_found)
}

/// The token, shown this once, with the key; never stored by caches.
pub(super) fn shown_once(created: &CreatedKey, api: &ManagementApi) -> Response {
    let body = Created {
        token: created.token.expose(),
        key: KeyView::new(&created.key, api.manager.now()),
    };
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(super) async fn list(State(api): State<Api>, key: Reader) -> Response {
    let result = async {
        let keys = api.manager.list(&key.tenant).await?;
        let now = api.manager.now();
        let data = keys.iter().map(|k| KeyView::new(k, now)).collect();
        Ok(Json(List { data }).into_response())
    }
    .await;
    respond(&key, result)
}

pub(super) async fn show(
    State(api): State<Api>,
    key: Reader,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let id = key_id(path)?;
        let found = api.manager.get(&key.tenant, &id).await?.ok_or_else(not_found)?;
        Ok(Json(KeyView::new(&found, api.manager.now())).into_response())
    }
    .await;
    respond(&key, result)
}

pub(super) async fn create(State(api): State<Api>, key: Writer, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let fields = json_object(&headers, body).await?;
        let created = api.create_key(&actor(&key), fields).await?;
        Ok(shown_once(&created, &api))
    }
    .await;
    respond(&key, result)
}

pub(super) async fn revoke(
    State(api): State<Api>,
    key: Writer,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let result = async {
        let revoked = api.revoke_key(&actor(&key), &key_id(path)?).await?;
        Ok(Json(KeyView::new(&revoked, api.manager.now())).into_response())
    }
    .await;
    respond(&key, result)
}

pub(super) async fn rotate(
    State(api): State<Api>,
    key: Writer,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let id = key_id(path)?;
        let fields = json_object(&headers, body).await?;
        let created = api.rotate_key(&actor(&key), &id, fields).await?;
        Ok(shown_once(&created, &api))
    }
    .await;
    respond(&key, result)
}

pub(super) async fn usage(State(api): State<Api>, key: Reader) -> Response {
    let result = async {
        let keys = api.manager.list(&key.tenant).await?;
        let now = api.manager.now();
        let total_requests = keys
            .iter()
            .fold(0u64, |sum, k| sum.saturating_add(k.request_count));
        let data = keys.iter().map(|k| KeyUsageView::new(k, now)).collect();
        Ok(Json(Usage { data, total_requests }).into_response())
    }
    .await;
    respond(&key, result)
}

pub(super) async fn audit(
    State(api): State<Api>,
    key: Reader,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let result = async {
        let Query(query) = query.map_err(|rejection| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                rejection.body_text(),
            )
        })?;
        let events = api
            .manager
            .audit_log(&audit_query(key.tenant.clone(), &query)?)
            .await?;
        Ok(Json(List { data: events }).into_response())
    }
    .await;
    respond(&key, result)
}

/// Paths under the router that name nothing: the same 404 as an unknown key.
pub(super) async fn fallback(request: Request) -> Response {
    let error = match request.extensions().get::<VerifiedKey>() {
        Some(key) => ApiError::not_found("No such endpoint").with_request_id(key.request_id_value().clone()),
        None => ApiError::not_found("No such endpoint"),
    };
    error.into_response()
}
