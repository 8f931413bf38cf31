//! `ApiKeySecurity` (feature `openapi`): the document it makes from a layer's configuration
//! (schemes, headers, responses, which operations), and the envelope schema checked against what
//! the layer and `ApiError` actually send.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use keyward_axum::ApiError;
use keyward_axum::guard::RequireScopes;
use keyward_axum::openapi::{ApiKeySecurity, ManagementPaths};
use keyward_core::{KeyManager, MemoryStore, NewKey, Refill, TenantId};
use keyward_tower::ApiKeyLayer;
use keyward_tower::rate_limit::{Quota, RateLimits};
use keyward_tower::{CredentialSources, credential::X_API_KEY};
use serde_json::{Value, json};
use tower::ServiceExt;
use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, ResponseBuilder};

fn ok() -> ResponseBuilder {
    ResponseBuilder::new().description("OK")
}

/// An application's document: a tagged report, a route with its own 403, a route with its own
/// security, a health check, and an admin route.
fn document() -> OpenApi {
    let report = OperationBuilder::new()
        .tag("reports")
        .response("200", ok())
        .build();
    let customers = OperationBuilder::new()
        .response("200", ok())
        .response("403", ResponseBuilder::new().description("Needs customers:read"))
        .build();
    let signed = OperationBuilder::new()
        .response("200", ok())
        .security(SecurityRequirement::new("signature", Vec::<String>::new()))
        .build();
    let health = OperationBuilder::new().response("200", ok()).build();
    let admin = OperationBuilder::new().tag("admin").response("204", ok()).build();
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title("test").version("1").build())
        .paths(
            PathsBuilder::new()
                .path("/v1/reports", PathItem::new(HttpMethod::Get, report))
                .path("/v1/customers", PathItem::new(HttpMethod::Get, customers))
                .path("/v1/webhooks", PathItem::new(HttpMethod::Post, signed))
                .path("/health", PathItem::new(HttpMethod::Get, health))
                .path("/admin/flush", PathItem::new(HttpMethod::Post, admin)),
        )
        .build()
}

/// The document after `security` modified it, as JSON.
fn modified(security: &ApiKeySecurity) -> Value {
    let mut doc = document();
    security.modify(&mut doc);
    serde_json::to_value(&doc).expect("a serializable document")
}

fn header_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

const RATE_HEADERS: [&str; 3] = ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"];

#[tokio::test]
async fn the_default_layer_declares_both_schemes_the_refusals_and_the_headers() {
    let layer = ApiKeyLayer::builder(KeyManager::new(MemoryStore::new()))
        .public("/health")
        .no_audit()
        .build()
        .expect("a valid layer");
    let doc = modified(&ApiKeySecurity::for_layer(&layer));
    let components = &doc["components"];

    assert_eq!(
        components["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "API key", "description": "An API key as a Bearer token"})
    );
    assert_eq!(
        components["securitySchemes"]["api_key"],
        json!({"type": "apiKey", "in": "header", "name": "x-api-key", "description": "An API key in this header"})
    );
    for name in ["X-Request-Id", "Retry-After"].into_iter().chain(RATE_HEADERS) {
        assert!(
            components["headers"][name]["schema"]["type"].is_string(),
            "{name} is declared"
        );
    }
    let error_body = json!({"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}});
    for (name, extra) in [
        ("Unauthorized", Some("WWW-Authenticate")),
        ("Forbidden", None),
        ("TooManyRequests", Some("Retry-After")),
    ] {
        let response = &components["responses"][name];
        assert_eq!(response["content"], error_body, "{name}");
        assert_eq!(
            response["headers"]["X-Request-Id"],
            header_ref("X-Request-Id"),
            "{name}"
        );
        for header in RATE_HEADERS {
            assert_eq!(response["headers"][header], header_ref(header), "{name} {header}");
        }
        if let Some(extra) = extra {
            assert!(response["headers"][extra].is_object(), "{name} has {extra}");
        }
    }

    let paths = &doc["paths"];
    let report = &paths["/v1/reports"]["get"];
    assert_eq!(report["security"], json!([{"bearer": []}, {"api_key": []}]));
    for (status, name) in [
        ("401", "Unauthorized"),
        ("403", "Forbidden"),
        ("429", "TooManyRequests"),
    ] {
        assert_eq!(
            report["responses"][status],
            json!({"$ref": format!("#/components/responses/{name}")})
        );
    }
    assert_eq!(
        report["responses"]["200"]["headers"]["X-Request-Id"],
        header_ref("X-Request-Id")
    );
    for header in RATE_HEADERS {
        assert_eq!(report["responses"]["200"]["headers"][header], header_ref(header));
    }
    // An operation's own 403 and its own security are kept.
    let customers = &paths["/v1/customers"]["get"];
    assert_eq!(
        customers["responses"]["403"]["description"],
        "Needs customers:read"
    );
    assert_eq!(
        customers["responses"]["403"]["headers"]["X-Request-Id"],
        header_ref("X-Request-Id")
    );
    assert_eq!(
        customers["responses"]["401"]["$ref"],
        "#/components/responses/Unauthorized"
    );
    assert_eq!(
        paths["/v1/webhooks"]["post"]["security"],
        json!([{"signature": []}])
    );
    assert_eq!(
        paths["/v1/webhooks"]["post"]["responses"]["429"]["$ref"],
        "#/components/responses/TooManyRequests"
    );
    // The layer's public path is left alone; every other one is covered.
    let health = &paths["/health"]["get"];
    assert!(health.get("security").is_none());
    assert!(health["responses"].get("401").is_none());
    assert!(health["responses"]["200"].get("headers").is_none());
    assert!(paths["/admin/flush"]["post"]["security"].is_array());
}

#[tokio::test]
async fn a_bearer_only_layer_without_rate_limits_declares_neither_the_header_nor_429() {
    let layer = ApiKeyLayer::builder(KeyManager::new(MemoryStore::new()))
        .credentials(CredentialSources::bearer_only())
        .no_rate_limit()
        .no_audit()
        .build()
        .expect("a valid layer");
    let doc = modified(&ApiKeySecurity::for_layer(&layer));
    let components = &doc["components"];
    assert!(components["securitySchemes"].get("api_key").is_none());
    assert!(components["securitySchemes"]["bearer"].is_object());
    assert!(components["responses"].get("TooManyRequests").is_none());
    assert!(components["headers"].get("X-RateLimit-Limit").is_none());
    assert!(
        components["responses"]["Unauthorized"]["headers"]
            .get("X-RateLimit-Limit")
            .is_none()
    );
    let report = &doc["paths"]["/v1/reports"]["get"];
    assert_eq!(report["security"], json!([{"bearer": []}]));
    assert!(report["responses"].get("429").is_none());
    assert_eq!(
        report["responses"]["200"]["headers"],
        json!({"X-Request-Id": header_ref("X-Request-Id")})
    );
}

#[test]
fn the_schemes_follow_the_credential_sources() {
    let sources = CredentialSources::default()
        .bearer(false)
        .header(Some(http::HeaderName::from_static("x-tolinku-key")))
        .body_field("apiKey", 1024);
    let doc = modified(&ApiKeySecurity::credentials(&sources));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["name"], "x-tolinku-key");
    assert!(schemes.get("bearer").is_none());
    assert_eq!(
        doc["paths"]["/v1/reports"]["get"]["security"],
        json!([{"api_key": []}])
    );

    let beacon = modified(&ApiKeySecurity::credentials(
        &CredentialSources::default().body_field("apiKey", 1024),
    ));
    let description = beacon["components"]["securitySchemes"]["bearer"]["description"]
        .as_str()
        .expect("a description");
    assert!(description.contains("`apiKey`"), "{description}");
    assert_eq!(
        beacon["components"]["securitySchemes"]["api_key"]["name"],
        X_API_KEY.as_str()
    );
}

#[test]
fn prefixes_and_tags_choose_the_operations() {
    let doc = modified(&ApiKeySecurity::default().path_prefix("/v1/cust").tag("admin"));
    let covered = |path: &str, method: &str| doc["paths"][path][method].get("security").is_some();
    assert!(covered("/v1/customers", "get"), "by prefix");
    assert!(covered("/admin/flush", "post"), "by tag");
    assert!(!covered("/v1/reports", "get"));
    assert!(!covered("/health", "get"));
    assert!(
        doc["paths"]["/v1/reports"]["get"]["responses"]
            .get("401")
            .is_none()
    );
}

/// A key of `site_1` with `scopes`; its token.
async fn token_with(manager: &KeyManager, scopes: &str) -> String {
    let new = NewKey::new(TenantId::new("site_1").expect("a tenant")).scopes(scopes.parse().expect("scopes"));
    let created = manager.create(new).await.expect("a key");
    created.token.expose().to_owned()
}

/// Sends `request` to `app`: the status and the JSON body (`null` when not JSON).
async fn answer(app: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    (
        status,
        serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
    )
}

/// Checks `value` against the JSON schema `schema` as far as keyward's schemas go: `$ref`s into
/// `components` (the document's), types (one or several), required properties, no property the
/// schema does not declare, array items, enums and integer bounds.
fn validate_in(components: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .expect("a schema reference");
        return validate_in(components, &components["schemas"][name], value, at);
    }
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        other => panic!("{at}: the schema has a type, not {other}"),
    };
    if value.is_null() {
        assert!(kinds.contains(&"null"), "{at}: null is not allowed");
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        assert!(allowed.contains(value), "{at}: {value} is one of {allowed:?}");
    }
    match kinds.iter().copied().find(|kind| *kind != "null") {
        Some("object") => {
            let object = value
                .as_object()
                .unwrap_or_else(|| panic!("{at}: {value} is an object"));
            let properties = schema["properties"].as_object().expect("declared properties");
            for required in schema["required"].as_array().into_iter().flatten() {
                let required = required.as_str().expect("a property name");
                assert!(object.contains_key(required), "{at}.{required} is sent");
            }
            for (name, field) in object {
                let declared = properties
                    .get(name)
                    .unwrap_or_else(|| panic!("{at}.{name} is sent but not in the schema"));
                validate_in(components, declared, field, &format!("{at}.{name}"));
            }
        }
        Some("array") => {
            let items = value
                .as_array()
                .unwrap_or_else(|| panic!("{at}: {value} is an array"));
            for (i, item) in items.iter().enumerate() {
                validate_in(components, &schema["items"], item, &format!("{at}[{i}]"));
            }
        }
        Some("string") => assert!(value.is_string(), "{at}: {value} is a string"),
        Some("integer") => {
            let n = value
                .as_i64()
                .unwrap_or_else(|| panic!("{at}: {value} is an integer"));
            if let Some(min) = schema["minimum"].as_i64() {
                assert!(n >= min, "{at}: {n} ≥ {min}");
            }
            if let Some(max) = schema["maximum"].as_i64() {
                assert!(n <= max, "{at}: {n} ≤ {max}");
            }
        }
        other => panic!("{at}: unexpected schema type {other:?}"),
    }
}

/// [`validate_in`] for the envelope schema, which refers to nothing.
fn validate(schema: &Value, value: &Value, at: &str) {
    validate_in(&Value::Null, schema, value, at);
}

#[tokio::test]
async fn the_envelope_schema_describes_what_the_layer_and_api_error_send() {
    let manager = KeyManager::new(MemoryStore::new());
    let layer = ApiKeyLayer::builder(manager.clone())
        .rate_limits(RateLimits::new(Quota::per_hour(2)))
        .no_audit()
        .build()
        .expect("a valid layer");
    let doc = modified(&ApiKeySecurity::for_layer(&layer));
    let schema = &doc["components"]["schemas"]["ApiError"];
    let detail = &schema["properties"]["error"];
    assert_eq!(
        detail["required"],
        json!(["code", "message", "status", "request_id"])
    );

    let app = Router::new()
        .route("/v1/open", get(|| async { "open" }))
        .route(
            "/v1/customers",
            get(|| async { "customers" }).route_layer(RequireScopes::new(["customers:read"])),
        )
        .route(
            "/v1/events",
            get(|| async { Err::<(), _>(ApiError::invalid_parameter("limit", "`limit` must be a number")) }),
        )
        .layer(layer);
    let token = token_with(&manager, "analytics:read").await;
    let token = token.as_str();
    let send = |path: &str, token: Option<&str>| {
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        answer(app.clone(), request.body(Body::empty()).expect("a request"))
    };

    let mut seen = Vec::new();
    for (path, token, status) in [
        ("/v1/open", None, StatusCode::UNAUTHORIZED),
        ("/v1/customers", Some(token), StatusCode::FORBIDDEN),
        ("/v1/events", Some(token), StatusCode::BAD_REQUEST),
        ("/v1/open", Some(token), StatusCode::TOO_MANY_REQUESTS),
    ] {
        let (answered, body) = send(path, token).await;
        assert_eq!(answered, status, "{path}: {body}");
        validate(schema, &body, path);
        seen.push(body["error"]["code"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        seen,
        [
            "unauthorized",
            "insufficient_scope",
            "invalid_parameter",
            "rate_limit_exceeded"
        ]
    );

    // The schema itself is closed on what is sent: a field it does not declare is caught.
    let result = std::panic::catch_unwind(|| {
        validate(
            schema,
            &json!({"error": {"code": "x", "message": "m", "status": 400, "request_id": "r", "extra": 1}}),
            "probe",
        );
    });
    assert!(result.is_err(), "an undeclared field fails the check");
    // And its `$ref` from the responses resolves to it.
    assert_eq!(
        Ref::from_schema_name("ApiError").ref_location,
        doc["components"]["responses"]["Unauthorized"]["content"]["application/json"]["schema"]["$ref"]
    );
}

#[tokio::test]
async fn the_management_paths_are_declared_and_describe_what_the_router_answers() {
    let manager = KeyManager::new(MemoryStore::new());
    let layer = ApiKeyLayer::builder(manager.clone())
        .no_audit()
        .build()
        .expect("a valid layer");
    let mut doc = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("keys").version("1").build())
        .build();
    ManagementPaths::new("/v1/keys").modify(&mut doc);
    ApiKeySecurity::for_layer(&layer).modify(&mut doc);
    let doc = serde_json::to_value(&doc).expect("a serializable document");
    let paths = &doc["paths"];

    let operations = [
        ("/v1/keys", "get", "keys:read", "200"),
        ("/v1/keys", "post", "keys:write", "201"),
        ("/v1/keys/{id}", "get", "keys:read", "200"),
        ("/v1/keys/{id}", "delete", "keys:write", "200"),
        ("/v1/keys/{id}/revoke", "post", "keys:write", "200"),
        ("/v1/keys/{id}/rotate", "post", "keys:write", "201"),
        ("/v1/keys/usage", "get", "keys:read", "200"),
        ("/v1/keys/audit", "get", "keys:read", "200"),
    ];
    let declared: usize = paths
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, serde_json::Map::len))
        .sum();
    assert_eq!(declared, operations.len(), "no other operation: {paths}");
    for (path, method, scope, ok) in operations {
        let operation = &paths[path][method];
        assert_eq!(
            operation["security"],
            json!([{"bearer": [scope]}, {"api_key": [scope]}]),
            "{method} {path}"
        );
        assert!(
            operation["responses"][ok]["content"]["application/json"]["schema"].is_object(),
            "{method} {path}"
        );
        assert_eq!(
            operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ApiError"
        );
        assert_eq!(
            operation["responses"]["401"]["$ref"], "#/components/responses/Unauthorized",
            "covered by ApiKeySecurity"
        );
        assert_eq!(
            operation["responses"][ok]["headers"]["X-Request-Id"],
            header_ref("X-Request-Id")
        );
    }

    // What the router sends matches the schemas of its responses.
    let app = Router::new()
        .nest("/v1/keys", keyward_axum::management::router(manager.clone()))
        .layer(layer);
    let token = token_with(&manager, "keys:read keys:write").await;
    let call = |method: &str, path: &str, body: Option<Value>| {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let body = body.map_or_else(Body::empty, |body| Body::from(body.to_string()));
        answer(app.clone(), request.body(body).expect("a request"))
    };
    let components = &doc["components"];
    let response_schema = |path: &str, method: &str, status: &str| {
        paths[path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
    };
    let (status, created) = call(
        "POST",
        "/v1/keys",
        Some(json!({"name": "ci", "scopes": ["keys:read"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    validate_in(
        components,
        &response_schema("/v1/keys", "post", "201"),
        &created,
        "create",
    );
    let id = created["key"]["id"].as_str().expect("an id").to_owned();
    // Credits, so that the views below show them (the rotated-in key shares them).
    let daily = Refill::new(100, std::time::Duration::from_secs(86_400)).expect("a refill");
    manager
        .set_credits(
            &TenantId::new("site_1").expect("a tenant"),
            &id.parse().expect("a key id"),
            40,
            Some(daily),
        )
        .await
        .expect("credits set");
    for (method, path, template, status) in [
        ("GET", "/v1/keys".to_owned(), "/v1/keys", "200"),
        ("GET", format!("/v1/keys/{id}"), "/v1/keys/{id}", "200"),
        ("GET", "/v1/keys/usage".to_owned(), "/v1/keys/usage", "200"),
        ("GET", "/v1/keys/audit".to_owned(), "/v1/keys/audit", "200"),
        (
            "POST",
            format!("/v1/keys/{id}/rotate"),
            "/v1/keys/{id}/rotate",
            "201",
        ),
        (
            "POST",
            format!("/v1/keys/{id}/revoke"),
            "/v1/keys/{id}/revoke",
            "200",
        ),
    ] {
        let (answered, body) = call(method, &path, None).await;
        assert_eq!(answered.as_str(), status, "{method} {path}: {body}");
        let schema = response_schema(template, &method.to_lowercase(), status);
        validate_in(components, &schema, &body, &format!("{method} {path}"));
    }
    let (_, shown) = call("GET", &format!("/v1/keys/{id}"), None).await;
    assert_eq!(
        shown["credits"],
        json!({"remaining": 40, "refill": {"amount": 100, "interval_ms": 86_400_000},
            "next_refill_at": shown["credits"]["next_refill_at"]}),
        "the views above carried credits"
    );
    assert!(shown["credits"]["next_refill_at"].is_string(), "{shown}");
    let (status, error) = call("POST", "/v1/keys", Some(json!({"scopes": []}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    validate_in(
        components,
        &response_schema("/v1/keys", "post", "400"),
        &error,
        "invalid create",
    );
}
