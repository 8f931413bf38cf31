//! The one mapping between SQL rows and records, shared by every SQL store: [`KeyRow`] for
//! [`ApiKey`], [`AuditRow`] for [`AuditEvent`] and [`KeyspaceRow`] for [`Keyspace`].
//!
//! Times are unix milliseconds (`BIGINT`), the lookup its text form (`p:…`/`h:…`), the secret hash
//! lowercase hex, scopes space-separated, and the enums their lowercase names.

use std::str::FromStr;
use std::time::Duration;

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use crate::audit::AuditEvent;
use crate::credits::{Credits, Refill};
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::{ApiKey, KeyId, Keyspace, KeyspaceName, TenantId};

/// A stored value that does not parse back into a record: the database was edited by hand or by
/// an incompatible version. Names the column, never its value.
#[derive(Debug, thiserror::Error)]
#[error("stored row `{row}` has an invalid `{column}`")]
pub(crate) struct CorruptRow {
    row: String,
    column: &'static str,
}

impl From<CorruptRow> for StoreError {
    fn from(error: CorruptRow) -> Self {
        StoreError::unavailable(error)
    }
}

/// A row of `keyward_keys`, as the database holds it. Not `Debug`: it holds the secret hash.
#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    id: String,
    tenant: String,
    lookup: String,
    secret_hash: String,
    display_prefix: String,
    kind: String,
    environment: String,
    scopes: String,
    tier: String,
    name: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    request_count: i64,
    lineage: String,
    rotated_from: Option<String>,
    grace_until: Option<i64>,
    keyspace: String,
    /// The lineage's credits (read through a join; never bound on insert).
    credit_remaining: Option<i64>,
    credit_refill_amount: Option<i64>,
    credit_refill_every: Option<i64>,
    credit_refilled_at: Option<i64>,
}

impl From<&ApiKey> for KeyRow {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id.to_string(),
            tenant: key.tenant.to_string(),
            lookup: key.lookup.to_string(),
            secret_hash: key.secret_hash.to_hex(),
            display_prefix: key.display_prefix.clone(),
            kind: key.kind.as_str().to_owned(),
            environment: key.environment.as_str().to_owned(),
            scopes: key.scopes.to_string(),
            tier: key.tier.to_string(),
            name: key.name.clone(),
            created_at: key.created_at.as_millis(),
            expires_at: key.expires_at.map(Timestamp::as_millis),
            revoked_at: key.revoked_at.map(Timestamp::as_millis),
            last_used_at: key.last_used_at.map(Timestamp::as_millis),
            request_count: saturating_i64(key.request_count),
            lineage: key.lineage.to_string(),
            rotated_from: key.rotated_from.as_ref().map(KeyId::to_string),
            grace_until: key.grace_until.map(Timestamp::as_millis),
            keyspace: key.keyspace.to_string(),
            credit_remaining: key.credits.map(|c| saturating_i64(c.remaining)),
            credit_refill_amount: key
                .credits
                .and_then(|c| c.refill)
                .map(|r| saturating_i64(r.amount())),
            credit_refill_every: key.credits.and_then(|c| c.refill).map(|r| r.interval_millis()),
            credit_refilled_at: key.credits.map(|c| c.refilled_at.as_millis()),
        }
    }
}

impl KeyRow {
    /// Binds every column, in the order of [`INSERT_KEY`](super::queries::INSERT_KEY).
    pub(crate) fn bind<DB>(self, query: Query<'_, DB, DB::Arguments>) -> Query<'_, DB, DB::Arguments>
    where
        DB: Database,
        String: for<'t> Encode<'t, DB> + Type<DB>,
        Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
    {
        query
            .bind(self.id)
            .bind(self.tenant)
            .bind(self.lookup)
            .bind(self.secret_hash)
            .bind(self.display_prefix)
            .bind(self.kind)
            .bind(self.environment)
            .bind(self.scopes)
            .bind(self.tier)
            .bind(self.name)
            .bind(self.created_at)
            .bind(self.expires_at)
            .bind(self.revoked_at)
            .bind(self.last_used_at)
            .bind(self.request_count)
            .bind(self.lineage)
            .bind(self.rotated_from)
            .bind(self.grace_until)
            .bind(self.keyspace)
    }

    fn corrupt(&self, column: &'static str) -> CorruptRow {
        CorruptRow {
            row: self.id.clone(),
            column,
        }
    }

    fn parse<T: FromStr>(&self, column: &'static str, text: &str) -> Result<T, CorruptRow> {
        text.parse().map_err(|_| self.corrupt(column))
    }
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = CorruptRow;

    fn try_from(row: KeyRow) -> Result<Self, Self::Error> {
        let secret_hash =
            crate::hash::SecretHash::from_hex(&row.secret_hash).map_err(|_| row.corrupt("secret_hash"))?;
        let request_count = u64::try_from(row.request_count).map_err(|_| row.corrupt("request_count"))?;
        let rotated_from = match &row.rotated_from {
            Some(text) => Some(row.parse("rotated_from", text)?),
            None => None,
        };
        let credits = match (row.credit_remaining, row.credit_refilled_at) {
            (Some(remaining), Some(refilled_at)) => Some(
                CreditRow {
                    remaining,
                    refill_amount: row.credit_refill_amount,
                    refill_every: row.credit_refill_every,
                    refilled_at,
                }
                .credits()
                .map_err(|column| row.corrupt(column))?,
            ),
            _ => None,
        };
        Ok(ApiKey {
            id: row.parse("id", &row.id)?,
            tenant: row.parse("tenant", &row.tenant)?,
            keyspace: row.parse("keyspace", &row.keyspace)?,
            lookup: row.parse("lookup", &row.lookup)?,
            secret_hash,
            kind: row.parse("kind", &row.kind)?,
            environment: row.parse("environment", &row.environment)?,
            scopes: row.parse("scopes", &row.scopes)?,
            tier: row.parse("tier", &row.tier)?,
            created_at: Timestamp::from_millis(row.created_at),
            expires_at: row.expires_at.map(Timestamp::from_millis),
            revoked_at: row.revoked_at.map(Timestamp::from_millis),
            last_used_at: row.last_used_at.map(Timestamp::from_millis),
            request_count,
            lineage: row.parse("lineage", &row.lineage)?,
            rotated_from,
            grace_until: row.grace_until.map(Timestamp::from_millis),
            display_prefix: row.display_prefix,
            name: row.name,
            credits,
        })
    }
}

/// A row of `keyward_credits`, as the database holds it (the lineage aside).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CreditRow {
    remaining: i64,
    refill_amount: Option<i64>,
    refill_every: Option<i64>,
    refilled_at: i64,
}

impl From<&Credits> for CreditRow {
    fn from(credits: &Credits) -> Self {
        Self {
            remaining: saturating_i64(credits.remaining),
            refill_amount: credits.refill.map(|r| saturating_i64(r.amount())),
            refill_every: credits.refill.map(|r| r.interval_millis()),
            refilled_at: credits.refilled_at.as_millis(),
        }
    }
}

impl CreditRow {
    /// Binds every column after `$1` (the lineage), in the order of
    /// [`SET_CREDITS`](super::queries::SET_CREDITS).
    pub(crate) fn bind<DB>(self, query: Query<'_, DB, DB::Arguments>) -> Query<'_, DB, DB::Arguments>
    where
        DB: Database,
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
    {
        query
            .bind(self.remaining)
            .bind(self.refill_amount)
            .bind(self.refill_every)
            .bind(self.refilled_at)
    }

    /// The credits, or the column that does not hold a valid value.
    pub(crate) fn credits(&self) -> Result<Credits, &'static str> {
        let remaining = u64::try_from(self.remaining).map_err(|_| "remaining")?;
        let refill = match (self.refill_amount, self.refill_every) {
            (None, None) => None,
            (Some(amount), Some(every)) => {
                let amount = u64::try_from(amount).map_err(|_| "refill_amount")?;
                let every = u64::try_from(every).map_err(|_| "refill_every")?;
                Some(Refill::new(amount, Duration::from_millis(every)).map_err(|_| "refill_every")?)
            }
            _ => return Err("refill_amount"),
        };
        Ok(Credits::new(
            remaining,
            refill,
            Timestamp::from_millis(self.refilled_at),
        ))
    }
}

/// A row of `keyward_audit`, as the database holds it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    at: i64,
    request_id: String,
    key_id: String,
    tenant: String,
    fingerprint: String,
    method: String,
    path: String,
    status: i32,
    client_ip: Option<String>,
    user_agent: Option<String>,
    kind: String,
    detail: Option<String>,
}

#[cfg(feature = "sqlite")]
impl From<&AuditEvent> for AuditRow {
    fn from(event: &AuditEvent) -> Self {
        Self {
            at: event.at.as_millis(),
            request_id: event.request_id.clone(),
            key_id: event.key_id.to_string(),
            tenant: event.tenant.to_string(),
            fingerprint: event.fingerprint.to_string(),
            method: event.method.clone(),
            path: event.path.clone(),
            status: i32::from(event.status),
            client_ip: event.client_ip.clone(),
            user_agent: event.user_agent.clone(),
            kind: event.kind.as_str().to_owned(),
            detail: event.detail.clone(),
        }
    }
}

impl AuditRow {
    /// Binds every column, in the order of [`insert_audit`](super::queries::insert_audit).
    #[cfg(feature = "sqlite")]
    pub(crate) fn bind<DB>(self, query: Query<'_, DB, DB::Arguments>) -> Query<'_, DB, DB::Arguments>
    where
        DB: Database,
        String: for<'t> Encode<'t, DB> + Type<DB>,
        Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
        i64: for<'t> Encode<'t, DB> + Type<DB>,
        i32: for<'t> Encode<'t, DB> + Type<DB>,
    {
        query
            .bind(self.at)
            .bind(self.request_id)
            .bind(self.key_id)
            .bind(self.tenant)
            .bind(self.fingerprint)
            .bind(self.method)
            .bind(self.path)
            .bind(self.status)
            .bind(self.client_ip)
            .bind(self.user_agent)
            .bind(self.kind)
            .bind(self.detail)
    }

    fn corrupt(&self, column: &'static str) -> CorruptRow {
        CorruptRow {
            row: format!("audit {}", self.request_id),
            column,
        }
    }
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = CorruptRow;

    fn try_from(row: AuditRow) -> Result<Self, Self::Error> {
        Ok(AuditEvent {
            kind: row.kind.parse().map_err(|_| row.corrupt("kind"))?,
            at: Timestamp::from_millis(row.at),
            key_id: row.key_id.parse().map_err(|_| row.corrupt("key_id"))?,
            tenant: TenantId::new(row.tenant.as_str()).map_err(|_| row.corrupt("tenant"))?,
            fingerprint: row.fingerprint.parse().map_err(|_| row.corrupt("fingerprint"))?,
            status: u16::try_from(row.status).map_err(|_| row.corrupt("status"))?,
            request_id: row.request_id,
            method: row.method,
            path: row.path,
            client_ip: row.client_ip,
            user_agent: row.user_agent,
            detail: row.detail,
        })
    }
}

/// A row of `keyward_keyspaces`: the name and the JSON document.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct KeyspaceRow {
    name: String,
    document: String,
}

impl TryFrom<KeyspaceRow> for Keyspace {
    type Error = StoreError;

    fn try_from(row: KeyspaceRow) -> Result<Self, Self::Error> {
        let name: KeyspaceName = row.name.parse().map_err(|_| CorruptRow {
            row: format!("keyspace {}", row.name),
            column: "name",
        })?;
        Keyspace::from_document(name, &row.document).map_err(StoreError::unavailable)
    }
}

/// A count as a SQL `BIGINT`, saturating.
pub(crate) fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hasher;
    use crate::{Environment, KeyKind, LookupKey, ScopeSet, Tier};

    fn key() -> ApiKey {
        let id = KeyId::generate();
        ApiKey {
            id: id.clone(),
            tenant: TenantId::new("site_1").unwrap(),
            keyspace: "adtarget".parse().unwrap(),
            lookup: LookupKey::Hash(Hasher::sha256().hash("t")),
            secret_hash: Hasher::sha256().hash("t"),
            display_prefix: "kw_test_".into(),
            kind: KeyKind::Publishable,
            environment: Environment::Test,
            scopes: "analytics:read campaigns:*".parse().unwrap(),
            tier: Tier::new("pro").unwrap(),
            name: "Mobile – app".into(),
            created_at: Timestamp::from_millis(1),
            expires_at: Some(Timestamp::from_millis(2)),
            revoked_at: None,
            last_used_at: Some(Timestamp::from_millis(3)),
            request_count: 7,
            lineage: id,
            rotated_from: Some(KeyId::generate()),
            grace_until: Some(Timestamp::from_millis(4)),
            credits: Some(Credits::new(
                9,
                Some(Refill::new(10, std::time::Duration::from_secs(60)).unwrap()),
                Timestamp::from_millis(5),
            )),
        }
    }

    #[test]
    fn key_round_trips_through_a_row() {
        let key = key();
        assert_eq!(ApiKey::try_from(KeyRow::from(&key)).unwrap(), key);
        let unrestricted = ApiKey {
            scopes: ScopeSet::unrestricted(),
            ..key
        };
        assert_eq!(
            ApiKey::try_from(KeyRow::from(&unrestricted)).unwrap(),
            unrestricted
        );
    }

    #[test]
    fn corrupt_rows_name_the_column_not_the_value() {
        let mut row = KeyRow::from(&key());
        row.secret_hash = "not hex".into();
        let error = ApiKey::try_from(row).unwrap_err().to_string();
        assert!(error.contains("`secret_hash`"), "{error}");
        assert!(!error.contains("not hex"), "{error}");

        let mut row = KeyRow::from(&key());
        row.request_count = -1;
        assert!(
            ApiKey::try_from(row)
                .unwrap_err()
                .to_string()
                .contains("request_count")
        );
    }
}
