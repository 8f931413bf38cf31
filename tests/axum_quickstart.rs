//! The `axum_quickstart` example, as its header says to try it: its own binary is started and
//! each route is called with the key it prints.

mod support;

use support::{Client, ExampleProcess, send};

#[tokio::test]
async fn extractor_guards_and_management_api() {
    let example = ExampleProcess::start("axum_quickstart", &[]);
    assert_eq!(example.labels(), ["demo"]);
    let token = example.key("demo");
    let client = Client::new(example.address);

    // A public route.
    let health = send(client.get("/health")).await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.text, "ok\n");

    // The `AuthedKey<TenantId, AnalyticsRead>` extractor.
    let overview = send(client.get("/v1/overview").bearer_auth(token)).await;
    assert_eq!(overview.status, 200, "{}", overview.text);
    assert_eq!(overview.text, "analytics overview of site_demo (tier default)\n");
    assert_eq!(send(client.get("/v1/overview")).await.status, 401);

    // The route guards: `customers:read` is held, the route costs 3 units.
    let customers = send(client.get("/v1/customers").header("x-api-key", token)).await;
    assert_eq!(customers.status, 200, "{}", customers.text);
    assert_eq!(customers.text, "customers of site_demo\n");

    // The management router lists the key without its secret.
    let keys = send(client.get("/v1/keys").bearer_auth(token)).await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    assert_eq!(
        keys.json["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        keys.text
    );
    assert!(!keys.text.contains(token));
}
