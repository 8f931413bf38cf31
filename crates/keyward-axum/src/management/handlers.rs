//! The management API's handlers. Each reads the caller with [`AuthedKey`] (which checks
//! `keys:read` or `keys:write`) and acts for the caller's tenant only.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use http::header::CACHE_CONTROL;
use http::{HeaderMap, HeaderValue, StatusCode};
use keyward_core::{ApiKey, CreatedKey, Expiry, KeyId, NewKey, TenantId};
use keyward_tower::VerifiedKey;

use super::failure::{Failure, not_found};
use super::input::{CreateInput, audit_query, json_object, rotation};
use super::view::{Created, KeyUsageView, KeyView, List, Usage};
use super::{Api, Grant, KeysRead, KeysWrite};
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

/// The id in the path; a malformed one is not found, like any other.
fn key_id(path: Result<Path<String>, PathRejection>) -> Result<KeyId, Failure> {
    path.ok()
        .and_then(|Path(id)| id.parse().ok())
        .ok_or_else(not_found)
}

/// The token, shown this once, with the key; never stored by caches.
fn shown_once(created: &CreatedKey, api: &Api) -> Response {
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
        let input = CreateInput::parse(json_object(&headers, body).await?)?;
        let caller = key.key();
        let scopes = match input.scopes {
            Some(scopes) => scopes,
            None => api.manager.current_policy().await?.default_scopes.clone(),
        };
        let tier = input.tier.unwrap_or_else(|| caller.tier.clone());
        let environment = input.environment.unwrap_or(caller.environment);
        api.may_grant(Grant::Create, caller, &scopes, &tier, environment)?;
        let mut new = NewKey::new(key.tenant.clone())
            .name(input.name)
            .scopes(scopes)
            .tier(tier)
            .environment(environment);
        if let Some(kind) = input.kind {
            new = new.kind(kind);
        }
        if let Some(lifetime) = input.expires_in {
            new = new.expires(Expiry::In(lifetime));
        }
        let created = api.manager.create(new).await?;
        tracing::info!(target: "keyward::management", actor = %caller.id, key_id = %created.key.id, tenant = %key.tenant, "API key created");
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
        let id = key_id(path)?;
        let revoked = api.manager.revoke(&key.tenant, &id).await?;
        tracing::info!(target: "keyward::management", actor = %key.id(), key_id = %revoked.id, tenant = %key.tenant, "API key revoked");
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
        let rotation = rotation(json_object(&headers, body).await?)?;
        let target: ApiKey = api.manager.get(&key.tenant, &id).await?.ok_or_else(not_found)?;
        api.may_grant(Grant::Rotate, key.key(), &target.scopes, &target.tier, target.environment)?;
        let created = match rotation {
            Some(rotation) => api.manager.rotate_with(&key.tenant, &id, rotation).await?,
            None => api.manager.rotate(&key.tenant, &id).await?,
        };
        tracing::info!(target: "keyward::management", actor = %key.id(), key_id = %created.key.id, rotated_from = %id, tenant = %key.tenant, "API key rotated");
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
