//! The alert handler: the signature checked over the raw body, then each reported token looked
//! up, acted on by the policy, and recorded.

use axum::Json;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, USER_AGENT};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use keyward_core::audit::{AuditEvent, AuditKind};
use keyward_core::{ApiKey, VerifyError};
use keyward_tower::request_id;
use serde::Serialize;

use super::alert::{Feedback, Label, Match};
use super::keys::{GithubKeys, SignatureError};
use super::{Endpoint, LeakPolicy};
use crate::ApiError;
use crate::body::read_limited;
use crate::management::failure::Failure;

/// The header naming the key that signed the alert.
pub(crate) const KEY_IDENTIFIER: &str = "github-public-key-identifier";
/// The header carrying the base64 DER signature of the body.
pub(crate) const KEY_SIGNATURE: &str = "github-public-key-signature";
/// The longest `User-Agent` recorded with an event.
const MAX_USER_AGENT: usize = 256;

pub(super) async fn alert(
    State(endpoint): State<Endpoint>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = request_id::mint();
    match answer(&endpoint, &uri, &headers, body, &request_id).await {
        Ok(feedback) => {
            let mut response = (StatusCode::OK, Json(feedback)).into_response();
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(request_id::X_REQUEST_ID, request_id);
            response
        }
        Err(error) => error.with_request_id(request_id).into_response(),
    }
}

async fn answer(
    endpoint: &Endpoint,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    request_id: &HeaderValue,
) -> Result<Vec<Feedback>, ApiError> {
    let identifier = header(headers, KEY_IDENTIFIER)?;
    let signature = header(headers, KEY_SIGNATURE)?;
    if !GithubKeys::plausible_identifier(identifier) {
        return Err(signature_refused(SignatureError::UnknownKey));
    }
    let bytes = read_limited(body, endpoint.max_body).await?;
    endpoint
        .keys
        .verify(identifier, signature, &bytes)
        .map_err(signature_refused)?;
    let reported: Vec<Match> = serde_json::from_slice(&bytes).map_err(|error| {
        // serde's message may quote the body, and the body holds secrets: say where, not what.
        ApiError::invalid_parameter(
            "body",
            format!(
                "The request body must be a JSON array of {{\"token\", \"type\", \"url\", \"source\"}} objects \
                 (line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    })?;
    if reported.len() > endpoint.max_tokens {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_tokens",
            format!("An alert may report at most {} tokens", endpoint.max_tokens),
        ));
    }
    let report = Report {
        request_id: request_id.to_str().unwrap_or_default(),
        path: uri.path(),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(MAX_USER_AGENT).collect()),
    };
    let mut feedback = Vec::with_capacity(reported.len());
    let mut events = Vec::new();
    for found in &reported {
        let label = match endpoint.manager.identify(&found.token).await {
            Ok(key) => {
                let action = act(endpoint, &key).await?;
                events.push(report.event(endpoint, &key, found, action));
                Label::TruePositive
            }
            Err(VerifyError::Unavailable(error)) => return Err(Failure::from(error).into_api_error()),
            // Malformed (garbage, another format) or unknown: `identify` reports no status.
            Err(_) => Label::FalsePositive,
        };
        feedback.push(Feedback::new(found, label));
    }
    if !events.is_empty() {
        // Revocations are made already; when the events cannot be written the alert is refused,
        // so that GitHub sends it again (a revoked key is not revoked twice).
        endpoint
            .manager
            .store()
            .append_audit(&events)
            .await
            .map_err(|error| Failure::from(error).into_api_error())?;
    }
    Ok(feedback)
}

/// What was done about a reported key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Action {
    /// Revoked by this alert.
    Revoked,
    /// Revoked before this alert.
    AlreadyRevoked,
    /// Left working, by [`LeakPolicy::Flag`].
    Flagged,
}

/// Applies the policy to the reported `key`.
async fn act(endpoint: &Endpoint, key: &ApiKey) -> Result<Action, ApiError> {
    if key.revoked_at.is_some() {
        return Ok(Action::AlreadyRevoked);
    }
    match endpoint.policy {
        LeakPolicy::Flag => Ok(Action::Flagged),
        LeakPolicy::Revoke => {
            endpoint
                .manager
                .revoke(&key.tenant, &key.id)
                .await
                .map_err(|error| Failure::from(error).into_api_error())?;
            Ok(Action::Revoked)
        }
    }
}

/// What every event of one alert shares.
struct Report<'a> {
    request_id: &'a str,
    path: &'a str,
    user_agent: Option<String>,
}

/// The `detail` of a `key.leaked` event.
#[derive(Serialize)]
struct Detail<'a> {
    reporter: &'static str,
    #[serde(rename = "type")]
    token_type: &'a str,
    source: Option<&'a str>,
    url: &'a str,
    action: Action,
}

impl Report<'_> {
    /// The `key.leaked` event for `key`, found as `found` says; logged at warn level.
    fn event(&self, endpoint: &Endpoint, key: &ApiKey, found: &Match, action: Action) -> AuditEvent {
        let fingerprint = key.fingerprint();
        tracing::warn!(
            target: "keyward::leak",
            key_id = %key.id,
            tenant = %key.tenant,
            %fingerprint,
            source = %found.source.as_deref().unwrap_or("-"),
            url = %found.url,
            ?action,
            "API key reported leaked by GitHub secret scanning"
        );
        let detail = Detail {
            reporter: "github",
            token_type: &found.token_type,
            source: found.source.as_deref(),
            url: &found.url,
            action,
        };
        AuditEvent {
            kind: AuditKind::KeyLeaked,
            at: endpoint.manager.now(),
            request_id: self.request_id.to_owned(),
            key_id: key.id.clone(),
            tenant: key.tenant.clone(),
            fingerprint,
            method: "POST".to_owned(),
            path: self.path.to_owned(),
            status: StatusCode::OK.as_u16(),
            client_ip: None,
            user_agent: self.user_agent.clone(),
            detail: serde_json::to_string(&detail).ok(),
        }
    }
}

/// The text of a required header.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    let mut values = headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_signature",
            format!("The alert must carry exactly one `{name}` header"),
        )
        .with_param(name));
    };
    value.to_str().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_signature",
            format!("The `{name}` header must be ASCII text"),
        )
        .with_param(name)
    })
}

fn signature_refused(error: SignatureError) -> ApiError {
    match error {
        SignatureError::UnknownKey => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown_signing_key",
            "No key of the configured GitHub key set has this identifier",
        )
        .with_param(KEY_IDENTIFIER),
        SignatureError::Malformed => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_signature",
            "The signature must be base64 of an ASN.1 DER ECDSA signature",
        )
        .with_param(KEY_SIGNATURE),
        SignatureError::Invalid => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "The signature does not sign this body with the named key",
        )
        .with_param(KEY_SIGNATURE),
    }
}
