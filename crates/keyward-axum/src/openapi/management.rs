//! [`ManagementPaths`]: the key-management router's operations and schemas.

use serde_json::json;
use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Components, ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Schema};

use super::security::{API_KEY_SCHEME, BEARER_SCHEME, ERROR_SCHEMA};

/// The schema of a key as the management API shows it.
pub const KEY_SCHEMA: &str = "ManagedKey";
/// The schema of a created or rotated-in key: the token, once, and the key.
pub const CREATED_SCHEMA: &str = "CreatedKey";
/// The schema of an audit event.
pub const AUDIT_EVENT_SCHEMA: &str = "AuditEvent";

/// Adds the operations of the key-management [router](crate::management::router), nested at a
/// prefix, and their schemas to an OpenAPI document (a [`utoipa::Modify`]). Each operation's
/// security requirement lists the scope it needs (`keys:read` or `keys:write`) for either scheme.
///
/// ```
/// use keyward_axum::openapi::{ApiKeySecurity, ManagementPaths};
/// use utoipa::Modify;
/// use utoipa::openapi::{InfoBuilder, OpenApiBuilder};
///
/// let mut doc = OpenApiBuilder::new().info(InfoBuilder::new().title("Keys").version("1").build()).build();
/// ManagementPaths::new("/v1/keys").modify(&mut doc);
/// ApiKeySecurity::default().modify(&mut doc);
/// let json = serde_json::to_value(&doc).unwrap();
/// let rotate = &json["paths"]["/v1/keys/{id}/rotate"]["post"];
/// assert_eq!(rotate["responses"]["201"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/CreatedKey");
/// assert_eq!(rotate["responses"]["401"]["$ref"], "#/components/responses/Unauthorized");
/// ```
#[derive(Clone, Debug)]
pub struct ManagementPaths {
    prefix: String,
}

impl ManagementPaths {
    /// The router nested at `prefix` (`/v1/keys`, say).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into().trim_end_matches('/').to_owned(),
        }
    }
}

impl Modify for ManagementPaths {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Components::new);
        components
            .schemas
            .insert(KEY_SCHEMA.to_owned(), RefOr::T(key_schema()));
        let created = object()
            .property(
                "token",
                text().description(Some("The key's token, shown this once")),
            )
            .property("key", Ref::from_schema_name(KEY_SCHEMA))
            .required("token")
            .required("key");
        components
            .schemas
            .insert(CREATED_SCHEMA.to_owned(), RefOr::T(created.into()));
        components
            .schemas
            .insert(AUDIT_EVENT_SCHEMA.to_owned(), RefOr::T(audit_schema()));

        let id = || {
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(text()))
                .description(Some("The key's id (`key_…`)"))
                .build()
        };
        let key = || json_response("The key", Ref::from_schema_name(KEY_SCHEMA));
        let created = || {
            json_response(
                "The new key; the token is shown this once",
                Ref::from_schema_name(CREATED_SCHEMA),
            )
        };
        let list = |of: &str| {
            object()
                .property("data", ArrayBuilder::new().items(Ref::from_schema_name(of)))
                .required("data")
        };
        let usage_item = object()
            .property("id", text())
            .property("name", text())
            .property("display_prefix", text())
            .property("status", status())
            .property("last_used_at", nullable_time())
            .property("request_count", integer())
            .property("credits", credits_schema());
        let usage = object()
            .property("data", ArrayBuilder::new().items(usage_item))
            .property("total_requests", integer())
            .required("data")
            .required("total_requests");
        let create_body = object()
            .property("name", text())
            .property("scopes", ArrayBuilder::new().items(text()))
            .property("kind", text().enum_values(Some(["secret", "publishable"])))
            .property("tier", text())
            .property("environment", text().enum_values(Some(["live", "test"])))
            .property("expires_in", text().description(Some("`90d`, `48h` or seconds")))
            .required("name");
        let rotate_body = object().property(
            "grace",
            text().description(Some(
                "`48h`, `immediate` or `two_step`; the manager's policy without it",
            )),
        );
        let audit_query = [
            (
                "limit",
                "At most this many events, newest first (default 50, at most 500)",
            ),
            ("key", "Events of this key id only"),
            ("since", "From this time on (RFC 3339, inclusive)"),
            ("until", "Before this time (RFC 3339, exclusive)"),
            ("path", "Paths starting with this text only"),
        ]
        .map(|(name, description)| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(text()))
                .description(Some(description))
                .build()
        });

        let operations: [(&str, HttpMethod, &str, OperationBuilder); 8] = [
            (
                "",
                HttpMethod::Get,
                "keys:read",
                operation("List the tenant's keys")
                    .response("200", json_response("The keys", list(KEY_SCHEMA))),
            ),
            (
                "",
                HttpMethod::Post,
                "keys:write",
                operation("Create a key")
                    .request_body(Some(json_body(create_body)))
                    .response("201", created()),
            ),
            (
                "/{id}",
                HttpMethod::Get,
                "keys:read",
                operation("Show a key")
                    .parameter(id())
                    .response("200", key())
                    .response("404", not_found()),
            ),
            (
                "/{id}",
                HttpMethod::Delete,
                "keys:write",
                operation("Revoke a key at once")
                    .parameter(id())
                    .response("200", key())
                    .response("404", not_found()),
            ),
            (
                "/{id}/revoke",
                HttpMethod::Post,
                "keys:write",
                operation("Revoke a key at once")
                    .parameter(id())
                    .response("200", key())
                    .response("404", not_found()),
            ),
            (
                "/{id}/rotate",
                HttpMethod::Post,
                "keys:write",
                operation("Rotate a key")
                    .parameter(id())
                    .request_body(Some(json_body(rotate_body)))
                    .response("201", created())
                    .response("404", not_found()),
            ),
            (
                "/usage",
                HttpMethod::Get,
                "keys:read",
                operation("The tenant's use, per key").response("200", json_response("The use", usage)),
            ),
            (
                "/audit",
                HttpMethod::Get,
                "keys:read",
                operation("The tenant's audit events")
                    .parameters(Some(audit_query))
                    .response("200", json_response("The events", list(AUDIT_EVENT_SCHEMA))),
            ),
        ];
        for (path, method, scope, operation) in operations {
            let path = format!("{}{path}", self.prefix);
            let path = if path.is_empty() { "/".to_owned() } else { path };
            let operation = operation
                .response(
                    "400",
                    error_response("`invalid_parameter`, naming the field in `param`"),
                )
                .security(SecurityRequirement::new(BEARER_SCHEME, [scope]))
                .security(SecurityRequirement::new(API_KEY_SCHEME, [scope]))
                .build();
            openapi.paths.add_path_operation(path, vec![method], operation);
        }
    }
}

fn operation(summary: &str) -> OperationBuilder {
    OperationBuilder::new().tag("keys").summary(Some(summary))
}

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

fn text() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))
}

fn time() -> ObjectBuilder {
    text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

fn nullable(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([kind, Type::Null]))
}

fn nullable_time() -> ObjectBuilder {
    nullable(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
}

fn status() -> ObjectBuilder {
    text().enum_values(Some(["active", "revoked", "expired", "grace_over"]))
}

fn json_response(description: &str, schema: impl Into<RefOr<Schema>>) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new().schema(Some(schema)).build(),
    )
}

fn json_body(schema: ObjectBuilder) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

fn error_response(description: &str) -> ResponseBuilder {
    json_response(description, Ref::from_schema_name(ERROR_SCHEMA))
}

fn not_found() -> ResponseBuilder {
    error_response("`not_found`: no key of the tenant has this id")
}

fn key_schema() -> Schema {
    let fields: [(&str, RefOr<Schema>); 17] = [
        ("id", text().into()),
        ("name", text().into()),
        ("display_prefix", text().into()),
        ("kind", text().enum_values(Some(["secret", "publishable"])).into()),
        ("environment", text().enum_values(Some(["live", "test"])).into()),
        ("scopes", ArrayBuilder::new().items(text()).into()),
        ("tier", text().into()),
        ("created_at", time().into()),
        ("expires_at", nullable_time().into()),
        ("revoked_at", nullable_time().into()),
        ("last_used_at", nullable_time().into()),
        ("request_count", integer().into()),
        ("status", status().into()),
        ("lineage", text().into()),
        ("rotated_from", nullable(Type::String).into()),
        ("grace_until", nullable_time().into()),
        ("credits", credits_schema().into()),
    ];
    let mut schema = object().description(Some("An API key, never its secret or hash"));
    for (name, field) in fields {
        schema = schema.property(name, field).required(name);
    }
    schema.into()
}

/// A key's credits as they stand, `null` when its requests are not counted.
fn credits_schema() -> ObjectBuilder {
    let refill = nullable(Type::Object)
        .description(Some(
            "Every `interval_ms`, the remaining count is raised to `amount`",
        ))
        .property("amount", integer())
        .property("interval_ms", integer())
        .required("amount")
        .required("interval_ms");
    nullable(Type::Object)
        .description(Some(
            "The credits of the key's lineage; `null`: its requests are not counted",
        ))
        .property("remaining", integer())
        .property("refill", refill)
        .property("next_refill_at", nullable_time())
        .required("remaining")
        .required("refill")
        .required("next_refill_at")
}

fn audit_schema() -> Schema {
    object()
        .property("at", time())
        .property("request_id", text())
        .property("key_id", text())
        .property("tenant", text())
        .property("fingerprint", text())
        .property("method", text())
        .property("path", text())
        .property("status", integer())
        .property("client_ip", nullable(Type::String))
        .property("user_agent", nullable(Type::String))
        .required("at")
        .required("request_id")
        .required("key_id")
        .required("path")
        .required("status")
        .examples([json!({
            "at": "2026-01-01T00:00:00Z", "request_id": "req_a1b2c3d4", "key_id": "key_1",
            "tenant": "site_1", "fingerprint": "fp_0011223344556677", "method": "GET",
            "path": "/v1/overview", "status": 200, "client_ip": null, "user_agent": null,
        })])
        .into()
}
