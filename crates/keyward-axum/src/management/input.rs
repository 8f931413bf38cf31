//! The management API's inputs, read field by field so that every error names its field: the
//! JSON bodies of create and rotate, durations, and the audit query.

use std::str::FromStr;
use std::time::Duration;

use axum::body::Body;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use keyward_core::audit::AuditQuery;
use keyward_core::time::Timestamp;
use keyward_core::{Environment, KeyId, KeyKind, Rotation, ScopeSet, TenantId, Tier};
use serde_json::{Map, Value};

use crate::ApiError;
use crate::body::read_limited;

/// The largest body accepted.
pub(crate) const MAX_BODY: usize = 16 * 1024;
/// The longest expiry or grace period accepted (keeps timestamps printable).
const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86_400);
/// Audit events returned when no `limit` is given, and the most that may be asked for.
pub(crate) const AUDIT_DEFAULT: usize = 50;
pub(crate) const AUDIT_MAX: usize = 500;
/// Unknown field names are echoed at most this long.
const MAX_ECHO: usize = 64;

/// A JSON body's fields.
pub(crate) type Fields = Map<String, Value>;

/// The JSON object of a body; `None` for an empty body.
pub(crate) async fn json_object(headers: &HeaderMap, body: Body) -> Result<Option<Fields>, ApiError> {
    let bytes = read_limited(body, MAX_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if headers.get(CONTENT_TYPE).is_some_and(|value| !is_json(value)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The request body must be JSON (Content-Type: application/json)",
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(fields)) => Ok(Some(fields)),
        Ok(_) => Err(ApiError::invalid_parameter(
            "body",
            "The request body must be a JSON object",
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("The request body is not valid JSON: {error}"),
        )),
    }
}

fn is_json(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Refuses fields other than `known`.
fn only(fields: &Fields, known: &[&str]) -> Result<(), ApiError> {
    match fields.keys().find(|name| !known.contains(&name.as_str())) {
        None => Ok(()),
        Some(name) => {
            let name: String = name.chars().take(MAX_ECHO).collect();
            let message = format!(
                "Unknown parameter `{name}`; expected one of: {}",
                known.join(", ")
            );
            Err(ApiError::invalid_parameter(name, message))
        }
    }
}

/// The field's value; `null` counts as absent.
fn take(fields: &mut Fields, name: &str) -> Option<Value> {
    fields.remove(name).filter(|value| !value.is_null())
}

fn parse_str<T: FromStr>(field: &'static str, value: &Value, expected: &'static str) -> Result<T, ApiError> {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ApiError::invalid_parameter(field, format!("`{field}` must be {expected}")))
}

/// Why a value is not an accepted duration.
enum BadDuration {
    Unparsable,
    Zero,
    TooLong,
}

/// A duration: a number of seconds, or text such as `90d` or `48h`; longer than zero and at most
/// 100 years.
fn duration(value: &Value) -> Result<Duration, BadDuration> {
    let duration = match value {
        Value::Number(number) => number.as_u64().map(Duration::from_secs),
        Value::String(text) => humantime::parse_duration(text.trim()).ok(),
        _ => None,
    }
    .ok_or(BadDuration::Unparsable)?;
    if duration.is_zero() {
        Err(BadDuration::Zero)
    } else if duration > MAX_DURATION {
        Err(BadDuration::TooLong)
    } else {
        Ok(duration)
    }
}

fn expires_in(value: &Value) -> Result<Duration, ApiError> {
    duration(value).map_err(|bad| {
        let message = match bad {
            BadDuration::Unparsable => {
                "`expires_in` must be a duration such as \"90d\" or \"48h\", or a number of seconds"
            }
            BadDuration::Zero => "`expires_in` must be longer than zero",
            BadDuration::TooLong => "`expires_in` must be at most 100 years",
        };
        ApiError::invalid_parameter("expires_in", message)
    })
}

fn scopes(value: &Value) -> Result<ScopeSet, ApiError> {
    let parsed = match value {
        Value::String(text) => text.parse(),
        Value::Array(items) => {
            let Some(texts) = items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() else {
                return Err(ApiError::invalid_parameter(
                    "scopes",
                    "`scopes` must be a list of strings",
                ));
            };
            ScopeSet::parse_all(texts)
        }
        _ => {
            return Err(ApiError::invalid_parameter(
                "scopes",
                "`scopes` must be a list of strings",
            ));
        }
    };
    parsed.map_err(|error| ApiError::invalid_parameter("scopes", error.to_string()))
}

/// The body of `POST /`.
#[derive(Debug)]
pub(crate) struct CreateInput {
    pub(crate) name: String,
    pub(crate) scopes: Option<ScopeSet>,
    pub(crate) kind: Option<KeyKind>,
    pub(crate) tier: Option<Tier>,
    pub(crate) environment: Option<Environment>,
    pub(crate) expires_in: Option<Duration>,
}

impl CreateInput {
    const FIELDS: &[&str] = &["name", "scopes", "kind", "tier", "expires_in", "environment"];

    pub(crate) fn parse(fields: Option<Fields>) -> Result<Self, ApiError> {
        let required = || ApiError::invalid_parameter("name", "`name` is required");
        let mut fields = fields.ok_or_else(required)?;
        only(&fields, Self::FIELDS)?;
        let name = match take(&mut fields, "name") {
            None => return Err(required()),
            Some(Value::String(name)) if name.trim().is_empty() => {
                return Err(ApiError::invalid_parameter("name", "`name` must not be empty"));
            }
            Some(Value::String(name)) => name,
            Some(_) => return Err(ApiError::invalid_parameter("name", "`name` must be a string")),
        };
        Ok(Self {
            name,
            scopes: take(&mut fields, "scopes").map(|v| scopes(&v)).transpose()?,
            kind: take(&mut fields, "kind")
                .map(|v| parse_str("kind", &v, "`secret` or `publishable`"))
                .transpose()?,
            tier: take(&mut fields, "tier")
                .map(|v| parse_str("tier", &v, "1 to 32 lowercase letters, digits, `_` or `-`"))
                .transpose()?,
            environment: take(&mut fields, "environment")
                .map(|v| parse_str("environment", &v, "`live` or `test`"))
                .transpose()?,
            expires_in: take(&mut fields, "expires_in")
                .map(|v| expires_in(&v))
                .transpose()?,
        })
    }
}

/// The body of `POST /{id}/rotate`: the rotation, or `None` for the manager's policy.
pub(crate) fn rotation(fields: Option<Fields>) -> Result<Option<Rotation>, ApiError> {
    let Some(mut fields) = fields else {
        return Ok(None);
    };
    only(&fields, &["grace"])?;
    let Some(grace) = take(&mut fields, "grace") else {
        return Ok(None);
    };
    let rotation = match grace.as_str() {
        Some("immediate") => Rotation::Immediate,
        Some("two_step") => Rotation::TwoStep,
        _ => Rotation::Grace(duration(&grace).map_err(|bad| {
            let message = match bad {
                BadDuration::Unparsable => {
                    "`grace` must be a duration such as \"48h\", a number of seconds, \"immediate\" or \"two_step\""
                }
                BadDuration::Zero => "`grace` must be longer than zero; use \"immediate\" to revoke the old key at once",
                BadDuration::TooLong => "`grace` must be at most 100 years",
            };
            ApiError::invalid_parameter("grace", message)
        })?),
    };
    Ok(Some(rotation))
}

/// The longest `path` prefix `GET /audit` takes.
const AUDIT_PATH_MAX: usize = 1024;

/// The query of `GET /audit` for `tenant`: `limit` (1 to 500, default 50), `key` (a key id),
/// `since` and `until` (RFC 3339 times; since inclusive, until exclusive) and `path` (a literal
/// prefix of the request path). Each at most once; any other parameter is refused.
pub(crate) fn audit_query(tenant: TenantId, query: &[(String, String)]) -> Result<AuditQuery, ApiError> {
    const NAMES: &str = "limit, key, since, until, path";
    let mut audit = AuditQuery::new(tenant).limit(AUDIT_DEFAULT);
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in query {
        let name = name.as_str();
        if seen.contains(&name) {
            return Err(ApiError::invalid_parameter(
                name.to_owned(),
                format!("`{name}` may be given once"),
            ));
        }
        let time = |value: &str| {
            value.parse::<Timestamp>().map_err(|_| {
                ApiError::invalid_parameter(
                    name.to_owned(),
                    format!("`{name}` must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"),
                )
            })
        };
        audit = match name {
            "limit" => audit.limit(
                value
                    .parse()
                    .ok()
                    .filter(|n| (1..=AUDIT_MAX).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(
                            "limit",
                            format!("`limit` must be a number from 1 to {AUDIT_MAX}"),
                        )
                    })?,
            ),
            "key" => audit.key(
                value
                    .parse::<KeyId>()
                    .map_err(|_| ApiError::invalid_parameter("key", "`key` must be a key id (`key_…`)"))?,
            ),
            "since" => audit.since(time(value)?),
            "until" => audit.until(time(value)?),
            "path" if value.len() <= AUDIT_PATH_MAX && value.starts_with('/') => {
                audit.path_prefix(value.clone())
            }
            "path" => {
                return Err(ApiError::invalid_parameter(
                    "path",
                    format!("`path` must start with `/` and be at most {AUDIT_PATH_MAX} bytes"),
                ));
            }
            other => {
                let name: String = other.chars().take(MAX_ECHO).collect();
                let message = format!("Unknown parameter `{name}`; expected: {NAMES}");
                return Err(ApiError::invalid_parameter(name, message));
            }
        };
        seen.push(name);
    }
    Ok(audit)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Option<Fields> {
        match value {
            Value::Object(fields) => Some(fields),
            _ => None,
        }
    }

    #[test]
    fn create_input_errors_name_their_field() {
        let cases = [
            (json!({}), "name", "name is required"),
            (json!({"name": "  "}), "name", "name must not be empty"),
            (json!({"name": 7}), "name", "name must be a string"),
            (
                json!({"name": "a", "scopes": ["Bad Scope"]}),
                "scopes",
                "invalid scope",
            ),
            (
                json!({"name": "a", "scopes": [1]}),
                "scopes",
                "scopes must be strings",
            ),
            (json!({"name": "a", "kind": "root"}), "kind", "unknown kind"),
            (json!({"name": "a", "tier": "Gold Plan"}), "tier", "invalid tier"),
            (
                json!({"name": "a", "environment": "prod"}),
                "environment",
                "unknown environment",
            ),
            (
                json!({"name": "a", "expires_in": "soon"}),
                "expires_in",
                "unparsable duration",
            ),
            (
                json!({"name": "a", "expires_in": 0}),
                "expires_in",
                "zero duration",
            ),
            (
                json!({"name": "a", "expires_in": -5}),
                "expires_in",
                "negative seconds",
            ),
            (
                json!({"name": "a", "expires_in": "200years"}),
                "expires_in",
                "over 100 years",
            ),
            (json!({"name": "a", "owner": "x"}), "owner", "unknown field"),
        ];
        for (body, field, what) in cases {
            let error = CreateInput::parse(object(body)).expect_err(what);
            assert_eq!(error.code(), "invalid_parameter", "{what}");
            assert_eq!(error.param(), Some(field), "{what}");
        }
        assert_eq!(
            CreateInput::parse(None).expect_err("an empty body").param(),
            Some("name"),
            "an empty body lacks the name"
        );
    }

    #[test]
    fn create_input_reads_every_field() {
        let input = CreateInput::parse(object(json!({
            "name": "Production backend",
            "scopes": ["analytics:read", "campaigns:read"],
            "kind": "publishable",
            "tier": "pro",
            "environment": "test",
            "expires_in": "90d",
        })))
        .expect("a valid body");
        assert_eq!(input.name, "Production backend");
        assert_eq!(
            input.scopes.map(|s| s.to_string()).as_deref(),
            Some("analytics:read campaigns:read")
        );
        assert_eq!(input.kind, Some(KeyKind::Publishable));
        assert_eq!(input.tier.as_ref().map(Tier::as_str), Some("pro"));
        assert_eq!(input.environment, Some(Environment::Test));
        assert_eq!(input.expires_in, Some(Duration::from_secs(90 * 86_400)));

        let input = CreateInput::parse(object(
            json!({"name": "n", "scopes": "a:read b:read", "expires_in": 3600, "tier": null}),
        ))
        .expect("scopes as text, seconds, null as absent");
        assert_eq!(input.scopes.map(|s| s.len()), Some(2));
        assert_eq!(input.expires_in, Some(Duration::from_secs(3600)));
        assert!(input.tier.is_none());
    }

    #[test]
    fn rotation_bodies() {
        let cases = [
            (None, Some(None)),
            (object(json!({})), Some(None)),
            (object(json!({"grace": null})), Some(None)),
            (
                object(json!({"grace": "48h"})),
                Some(Some(Rotation::Grace(Duration::from_secs(48 * 3600)))),
            ),
            (
                object(json!({"grace": 60})),
                Some(Some(Rotation::Grace(Duration::from_secs(60)))),
            ),
            (
                object(json!({"grace": "immediate"})),
                Some(Some(Rotation::Immediate)),
            ),
            (
                object(json!({"grace": "two_step"})),
                Some(Some(Rotation::TwoStep)),
            ),
            (object(json!({"grace": "0s"})), None),
            (object(json!({"grace": "later"})), None),
            (object(json!({"grace": "48h", "now": true})), None),
        ];
        for (body, expected) in cases {
            let described = format!("{body:?}");
            match expected {
                Some(expected) => assert_eq!(rotation(body).ok(), Some(expected), "{described}"),
                None => assert_eq!(
                    rotation(body).expect_err(&described).code(),
                    "invalid_parameter",
                    "{described}"
                ),
            }
        }
    }

    #[test]
    fn audit_queries() {
        let tenant = TenantId::new("site_1").expect("valid");
        let query = |pairs: &[(&str, &str)]| -> Result<AuditQuery, ApiError> {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            audit_query(tenant.clone(), &pairs)
        };
        let default = query(&[]).expect("valid");
        assert_eq!(default.get_limit(), AUDIT_DEFAULT);
        assert_eq!(default.get_key(), None);
        let full = query(&[
            ("limit", "10"),
            ("key", "key_abc"),
            ("since", "2026-12-01T00:00:00Z"),
            ("until", "2026-12-02T00:00:00Z"),
            ("path", "/api/"),
        ])
        .expect("valid");
        assert_eq!(full.get_limit(), 10);
        assert_eq!(full.get_key().map(KeyId::as_str), Some("key_abc"));
        assert_eq!(
            full.get_since().map(|t| t.to_string()).as_deref(),
            Some("2026-12-01T00:00:00.000Z")
        );
        assert_eq!(
            full.get_until().map(|t| t.to_string()).as_deref(),
            Some("2026-12-02T00:00:00.000Z")
        );
        assert_eq!(full.get_path_prefix(), Some("/api/"));
        let refused: [(&[(&str, &str)], &str); 9] = [
            (&[("limit", "0")], "limit"),
            (&[("limit", "501")], "limit"),
            (&[("limit", "ten")], "limit"),
            (&[("key", "kw_live_x")], "key"),
            (&[("since", "yesterday")], "since"),
            (&[("until", "2026-13-01T00:00:00Z")], "until"),
            (&[("path", "api")], "path"),
            (&[("limit", "1"), ("limit", "2")], "limit"),
            (&[("page", "2")], "page"),
        ];
        for (pairs, param) in refused {
            let error = query(pairs).expect_err(param);
            assert_eq!(error.param(), Some(param), "{pairs:?}");
        }
    }

    #[test]
    fn json_content_types() {
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            assert_eq!(is_json(&HeaderValue::from_static(value)), json, "{value}");
        }
    }
}
