//! [`ApiKeySecurity`]: the layer's schemes, envelope, headers and refusals.

use std::fmt;
use std::sync::Arc;

use keyward_tower::{ApiKeyLayer, CredentialSources};
use serde_json::json;
use utoipa::Modify;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder, Schema};

/// The name of the HTTP bearer security scheme.
pub const BEARER_SCHEME: &str = "bearer";
/// The name of the `apiKey` security scheme of the API-key header.
pub const API_KEY_SCHEME: &str = "api_key";
/// The name of the error envelope schema.
pub const ERROR_SCHEMA: &str = "ApiError";
/// The name of the 401 response.
pub const UNAUTHORIZED: &str = "Unauthorized";
/// The name of the 403 response.
pub const FORBIDDEN: &str = "Forbidden";
/// The name of the 429 response.
pub const TOO_MANY_REQUESTS: &str = "TooManyRequests";

/// `X-Request-Id`.
const REQUEST_ID: &str = "X-Request-Id";
/// The rate-limit headers every response of a rate-limited route carries.
const RATE_LIMIT: [(&str, &str); 3] = [
    (
        "X-RateLimit-Limit",
        "Requests (cost units) the key may make in the window",
    ),
    (
        "X-RateLimit-Remaining",
        "Units left in the window after this request",
    ),
    (
        "X-RateLimit-Reset",
        "Seconds until the key's budget is whole again",
    ),
];
const RETRY_AFTER: &str = "Retry-After";

/// Whether a path needs no key.
type IsPublic = dyn Fn(&str) -> bool + Send + Sync;

/// Which operations an [`ApiKeySecurity`] covers.
#[derive(Clone, Default)]
struct Coverage {
    prefixes: Vec<String>,
    tags: Vec<String>,
    /// Paths that need no key (the layer's public routes).
    public: Option<Arc<IsPublic>>,
}

/// Declares keyward's authentication, error envelope, headers and refusals in an OpenAPI
/// document: see the [module docs](super).
#[derive(Clone)]
pub struct ApiKeySecurity {
    bearer: bool,
    header: Option<String>,
    body_field: Option<String>,
    rate_limited: bool,
    coverage: Coverage,
}

impl Default for ApiKeySecurity {
    /// The default layer's: Bearer and `X-API-Key`, rate-limited, every operation covered.
    fn default() -> Self {
        Self::credentials(&CredentialSources::default())
    }
}

impl fmt::Debug for ApiKeySecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeySecurity")
            .field("bearer", &self.bearer)
            .field("header", &self.header)
            .field("body_field", &self.body_field)
            .field("rate_limited", &self.rate_limited)
            .field("prefixes", &self.coverage.prefixes)
            .field("tags", &self.coverage.tags)
            .finish_non_exhaustive()
    }
}

impl ApiKeySecurity {
    /// What `layer` does: its credential sources, whether it rate-limits; operations on its
    /// public paths are not covered.
    pub fn for_layer<M: 'static>(layer: &ApiKeyLayer<M>) -> Self {
        let mut security = Self::credentials(layer.credentials()).rate_limit_headers(layer.is_rate_limited());
        let layer = layer.clone();
        security.coverage.public = Some(Arc::new(move |path| layer.is_public(path)));
        security
    }

    /// Keys read from `sources`, rate-limited.
    pub fn credentials(sources: &CredentialSources) -> Self {
        Self {
            bearer: sources.reads_bearer(),
            header: sources.api_key_header().map(ToString::to_string),
            body_field: sources.body_field_name().map(str::to_owned),
            rate_limited: true,
            coverage: Coverage::default(),
        }
    }

    /// Whether responses carry `X-RateLimit-*` headers and 429 is declared (off for a layer built
    /// with `no_rate_limit`).
    #[must_use]
    pub fn rate_limit_headers(mut self, on: bool) -> Self {
        self.rate_limited = on;
        self
    }

    /// Covers the operations whose path starts with `prefix` (with [`tag`](Self::tag), either
    /// selects; with neither, every operation is covered).
    #[must_use]
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.coverage.prefixes.push(prefix.into());
        self
    }

    /// Covers the operations tagged `tag`.
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.coverage.tags.push(tag.into());
        self
    }

    fn covers(&self, path: &str, operation: &Operation) -> bool {
        let coverage = &self.coverage;
        if coverage.public.as_ref().is_some_and(|public| public(path)) {
            return false;
        }
        if coverage.prefixes.is_empty() && coverage.tags.is_empty() {
            return true;
        }
        coverage
            .prefixes
            .iter()
            .any(|prefix| path.starts_with(prefix.as_str()))
            || operation
                .tags
                .iter()
                .flatten()
                .any(|tag| coverage.tags.contains(tag))
    }

    /// The security requirements: either scheme.
    fn requirements(&self) -> Vec<SecurityRequirement> {
        let mut requirements = Vec::new();
        if self.bearer {
            requirements.push(SecurityRequirement::new(BEARER_SCHEME, Vec::<String>::new()));
        }
        if self.header.is_some() {
            requirements.push(SecurityRequirement::new(API_KEY_SCHEME, Vec::<String>::new()));
        }
        requirements
    }

    fn add_components(&self, components: &mut Components) {
        if self.bearer {
            let description = match &self.body_field {
                Some(field) => format!(
                    "An API key as a Bearer token. A JSON request body may carry it in its `{field}` field instead."
                ),
                None => "An API key as a Bearer token".to_owned(),
            };
            let scheme = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("API key")
                .description(Some(description))
                .build();
            components.add_security_scheme(BEARER_SCHEME, SecurityScheme::Http(scheme));
        }
        if let Some(header) = &self.header {
            let scheme = ApiKey::Header(ApiKeyValue::with_description(
                header.clone(),
                "An API key in this header".to_owned(),
            ));
            components.add_security_scheme(API_KEY_SCHEME, SecurityScheme::ApiKey(scheme));
        }
        components
            .schemas
            .insert(ERROR_SCHEMA.to_owned(), RefOr::T(error_schema()));
        let headers = &mut components.headers;
        headers.insert(
            REQUEST_ID.to_owned(),
            RefOr::T(header(
                Type::String,
                "The request's id, as in an error's `request_id`",
            )),
        );
        if self.rate_limited {
            for (name, description) in RATE_LIMIT {
                headers.insert(name.to_owned(), RefOr::T(header(Type::Integer, description)));
            }
            headers.insert(
                RETRY_AFTER.to_owned(),
                RefOr::T(header(
                    Type::Integer,
                    "Seconds to wait before the request can succeed",
                )),
            );
        }
        let responses = &mut components.responses;
        let unauthorized = self
            .refusal("The API key is missing, invalid, revoked or expired")
            .header(
                "WWW-Authenticate",
                header(Type::String, "The Bearer challenge (RFC 6750)"),
            )
            .build();
        responses.insert(UNAUTHORIZED.to_owned(), RefOr::T(unauthorized));
        let forbidden = self
            .refusal("The API key may not call this route: a scope it lacks, a publishable key, or its tenant is refused")
            .build();
        responses.insert(FORBIDDEN.to_owned(), RefOr::T(forbidden));
        if self.rate_limited {
            let limited = self
                .refusal("The API key's rate limit is spent")
                .header_ref(RETRY_AFTER, header_ref(RETRY_AFTER))
                .build();
            responses.insert(TOO_MANY_REQUESTS.to_owned(), RefOr::T(limited));
        }
    }

    /// A refusal in the envelope, with the request id and rate-limit headers.
    fn refusal(&self, description: &str) -> ResponseBuilder {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ERROR_SCHEMA)))
            .build();
        let mut response = ResponseBuilder::new()
            .description(description)
            .content("application/json", content);
        for name in self.header_names() {
            response = response.header_ref(name, header_ref(name));
        }
        response
    }

    /// The headers every response of a covered operation carries.
    fn header_names(&self) -> impl Iterator<Item = &'static str> {
        let rate_limit = self.rate_limited.then_some(RATE_LIMIT.map(|(name, _)| name));
        std::iter::once(REQUEST_ID).chain(rate_limit.into_iter().flatten())
    }

    fn add_to(&self, operation: &mut Operation) {
        if operation.security.is_none() {
            operation.security = Some(self.requirements());
        }
        for response in operation.responses.responses.values_mut() {
            if let RefOr::T(response) = response {
                self.add_headers(response);
            }
        }
        let mut refusals = vec![("401", UNAUTHORIZED), ("403", FORBIDDEN)];
        if self.rate_limited {
            refusals.push(("429", TOO_MANY_REQUESTS));
        }
        for (status, name) in refusals {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
        }
    }

    fn add_headers(&self, response: &mut Response) {
        for name in self.header_names() {
            response
                .headers
                .entry(name.to_owned())
                .or_insert_with(|| RefOr::Ref(header_ref(name)));
        }
    }
}

impl Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        self.add_components(openapi.components.get_or_insert_with(Components::new));
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
                &mut item.query,
            ];
            let others = item.additional_operations.values_mut();
            for operation in operations.into_iter().flatten().chain(others) {
                if self.covers(path, operation) {
                    self.add_to(operation);
                }
            }
        }
    }
}

/// `{"error":{"code","message","status","request_id","param"?}}`.
fn error_schema() -> Schema {
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    let detail = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("code", text("A stable code: `unauthorized`, `insufficient_scope`, `rate_limit_exceeded`, `invalid_parameter`, …"))
        .property("message", text("A sentence for humans"))
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(400))
                .maximum(Some(599))
                .description(Some("The HTTP status")),
        )
        .property("request_id", text("The request's id, as in `X-Request-Id`"))
        .property("param", text("The parameter an `invalid_parameter` error is about"))
        .required("code")
        .required("message")
        .required("status")
        .required("request_id");
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("error", detail)
        .required("error")
        .description(Some("keyward's error envelope"))
        .examples([json!({"error": {
            "code": "unauthorized",
            "message": "Invalid or expired API key",
            "status": 401,
            "request_id": "req_a1b2c3d4",
        }})])
        .into()
}

fn header(kind: Type, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(kind)))
        .description(Some(description))
        .build()
}

fn header_ref(name: &str) -> Ref {
    Ref::new(format!("#/components/headers/{name}"))
}
