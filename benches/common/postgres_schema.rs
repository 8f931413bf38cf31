//! A schema of its own on the PostgreSQL test server for a benchmark's stores, dropped at the end.

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// A schema on the server at `KEYWARD_TEST_POSTGRES_URL`, dropped by [`Schema::drop`]. Named as
/// the test suite names its schemas (`kw_test_<unix seconds>_…`), so that one left behind by an
/// interrupted run is dropped by a later test run once it is an hour old.
pub struct Schema {
    url: String,
    admin: PgPool,
    name: String,
}

impl Schema {
    /// A fresh schema, or why PostgreSQL is skipped.
    pub async fn create() -> Result<Self, String> {
        let url = std::env::var("KEYWARD_TEST_POSTGRES_URL")
            .map_err(|_| "KEYWARD_TEST_POSTGRES_URL is not set".to_owned())?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .map_err(|error| format!("the server at KEYWARD_TEST_POSTGRES_URL: {error}"))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970");
        let name = format!(
            "kw_test_{}_bench_{}_{}",
            now.as_secs(),
            std::process::id(),
            now.subsec_nanos()
        );
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("CREATE SCHEMA");
        Ok(Self { url, admin, name })
    }

    /// Options connecting to this schema.
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url)
            .expect("a valid KEYWARD_TEST_POSTGRES_URL")
            .options([("search_path", self.name.as_str())])
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {} CASCADE", self.name)))
            .execute(&self.admin)
            .await
            .expect("DROP SCHEMA");
        self.admin.close().await;
    }
}
