//! [`SqlKeys`]: the key-store rules over any SQL [`Dialect`], shared by the SQLite and PostgreSQL
//! stores, with the same semantics as [`MemoryStore`](crate::MemoryStore).

use std::fmt;
use std::sync::Arc;

use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Transaction, Type};

use super::change_text;
use super::dialect::Dialect;
use super::failure::store_error;
use super::queries::{self, retire};
use super::row::{AuditRow, CreditRow, KeyRow, KeyspaceRow, saturating_i64};
use crate::audit::{AuditEvent, AuditQuery, KeyUsage};
use crate::credits::{Credits, CreditsUpdate, Spend};
use crate::store::{Change, ChangeFeed, KeyChange, KeyspaceWrite, OldKey, StoreError};
use crate::time::Timestamp;
use crate::{ApiKey, KeyId, Keyspace, KeyspaceName, LookupKey, TenantId};

/// A pool and a change feed, and every [`KeyStore`](crate::KeyStore) operation as an async
/// method. The public stores delegate to it.
pub(crate) struct SqlKeys<DB: Database> {
    pool: Pool<DB>,
    changes: Arc<ChangeFeed>,
}

impl<DB: Database> fmt::Debug for SqlKeys<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlKeys")
            .field("pool", &self.pool)
            .field("changes", &self.changes)
            .finish()
    }
}

impl<DB: Database> SqlKeys<DB> {
    pub(crate) fn new(pool: Pool<DB>, changes: Arc<ChangeFeed>) -> Self {
        Self { pool, changes }
    }

    pub(crate) fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    pub(crate) fn changes(&self) -> &ChangeFeed {
        &self.changes
    }
}

impl<DB> SqlKeys<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    KeyRow: for<'r> FromRow<'r, DB::Row>,
    AuditRow: for<'r> FromRow<'r, DB::Row>,
    KeyspaceRow: for<'r> FromRow<'r, DB::Row>,
    CreditRow: for<'r> FromRow<'r, DB::Row>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (String,): for<'r> FromRow<'r, DB::Row>,
    (String, String): for<'r> FromRow<'r, DB::Row>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
    i32: for<'t> Encode<'t, DB> + Type<DB>,
{
    pub(crate) async fn insert(
        &self,
        key: &ApiKey,
        max_active: Option<u32>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = DB::begin_write(&self.pool, Some(key.tenant.as_str()))
            .await
            .map_err(store_error)?;
        if let Some(limit) = max_active {
            let active: i64 = sqlx::query_scalar(queries::COUNT_ACTIVE_LINEAGES)
                .bind(key.tenant.to_string())
                .bind(now.as_millis())
                .bind(key.keyspace.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(store_error)?;
            if active >= i64::from(limit) {
                return Err(StoreError::LimitReached { limit });
            }
        }
        KeyRow::from(key)
            .bind(sqlx::query(queries::INSERT_KEY))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        if let Some(credits) = &key.credits {
            set_credits(&mut tx, &key.lineage, credits).await?;
        }
        tx.commit().await.map_err(store_error)
    }

    pub(crate) async fn find(&self, lookup: &LookupKey) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<KeyRow> = sqlx::query_as(queries::FIND_BY_LOOKUP)
            .bind(lookup.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(ApiKey::try_from).transpose()?)
    }

    pub(crate) async fn get(&self, tenant: &TenantId, id: &KeyId) -> Result<Option<ApiKey>, StoreError> {
        let row = get_owned(&self.pool, tenant, id).await?;
        Ok(row.map(ApiKey::try_from).transpose()?)
    }

    pub(crate) async fn list(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(queries::LIST_TENANT)
            .bind(tenant.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(ApiKey::try_from).collect::<Result<_, _>>()?)
    }

    pub(crate) async fn revoke(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        at: Timestamp,
    ) -> Result<ApiKey, StoreError> {
        let mut tx = DB::begin_write(&self.pool, Some(tenant.as_str()))
            .await
            .map_err(store_error)?;
        let revoked: Option<String> = sqlx::query_scalar(queries::REVOKE)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(at.as_millis())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        // Revoked now, revoked already (returned unchanged), or not this tenant's.
        let current = get_owned(&mut *tx, tenant, id).await?;
        let key = ApiKey::try_from(current.ok_or(StoreError::NotFound)?)?;
        if revoked.is_none() {
            return Ok(key);
        }
        let change = Change::Key(KeyChange {
            key_id: key.id.clone(),
            lookup: key.lookup,
        });
        announce(&mut tx, &change).await?;
        tx.commit().await.map_err(store_error)?;
        self.changes.publish_change(&change);
        Ok(key)
    }

    pub(crate) async fn rotate(
        &self,
        tenant: &TenantId,
        id: &KeyId,
        successor: &ApiKey,
        old: OldKey,
        now: Timestamp,
    ) -> Result<ApiKey, StoreError> {
        let mut tx = DB::begin_write(&self.pool, Some(tenant.as_str()))
            .await
            .map_err(store_error)?;
        let current = get_owned(&mut *tx, tenant, id).await?;
        let mut current = ApiKey::try_from(current.ok_or(StoreError::NotFound)?)?;
        if !current.is_active(now) {
            return Err(StoreError::NotActive);
        }
        let pending: i64 = sqlx::query_scalar(queries::COUNT_PENDING_SUCCESSORS)
            .bind(current.lineage.to_string())
            .bind(id.to_string())
            .bind(now.as_millis())
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        if pending > 0 {
            return Err(StoreError::RotationPending);
        }
        KeyRow::from(successor)
            .bind(sqlx::query(queries::INSERT_KEY))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let change = match retire(&mut current, old, now) {
            Some((statement, at)) => {
                sqlx::query(statement)
                    .bind(id.to_string())
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let change = Change::Key(KeyChange {
                    key_id: current.id.clone(),
                    lookup: current.lookup,
                });
                announce(&mut tx, &change).await?;
                Some(change)
            }
            None => None,
        };
        tx.commit().await.map_err(store_error)?;
        if let Some(change) = change {
            self.changes.publish_change(&change);
        }
        Ok(current)
    }

    pub(crate) async fn keyspace(&self, name: &KeyspaceName) -> Result<Option<Keyspace>, StoreError> {
        let row: Option<KeyspaceRow> = sqlx::query_as(queries::GET_KEYSPACE)
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(Keyspace::try_from).transpose()
    }

    pub(crate) async fn keyspaces(&self) -> Result<Vec<Keyspace>, StoreError> {
        let rows: Vec<KeyspaceRow> = sqlx::query_as(queries::LIST_KEYSPACES)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(Keyspace::try_from).collect()
    }

    pub(crate) async fn save_keyspace(
        &self,
        keyspace: &Keyspace,
        write: KeyspaceWrite,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let statement = match write {
            KeyspaceWrite::Create => queries::CREATE_KEYSPACE,
            KeyspaceWrite::Replace => queries::REPLACE_KEYSPACE,
        };
        let mut tx = DB::begin_write(&self.pool, None).await.map_err(store_error)?;
        let written: Option<String> = sqlx::query_scalar(statement)
            .bind(keyspace.name.to_string())
            .bind(keyspace.to_document())
            .bind(now.as_millis())
            .fetch_optional(&mut *tx)
            .await
            .map_err(store_error)?;
        if written.is_none() {
            return Ok(false);
        }
        let change = Change::Keyspace(keyspace.name.clone());
        announce(&mut tx, &change).await?;
        tx.commit().await.map_err(store_error)?;
        self.changes.publish_change(&change);
        Ok(true)
    }

    pub(crate) async fn spend(
        &self,
        lineage: &KeyId,
        cost: u64,
        now: Timestamp,
    ) -> Result<Spend, StoreError> {
        let spent: Option<CreditRow> = sqlx::query_as(queries::SPEND_CREDITS)
            .bind(lineage.to_string())
            .bind(saturating_i64(cost))
            .bind(now.as_millis())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        if let Some(row) = spent {
            return Ok(Spend::allowed(&credits_of(lineage, &row)?));
        }
        // Refused, or no credits: the decision was made by the statement above; this reads what
        // to tell the client.
        Ok(match get_credits(&self.pool, lineage).await? {
            Some(credits) => Spend::refused(&credits.at(now)),
            None => Spend::Unmetered,
        })
    }

    pub(crate) async fn update_credits(
        &self,
        lineage: &KeyId,
        update: CreditsUpdate,
        now: Timestamp,
    ) -> Result<Option<Credits>, StoreError> {
        let credits = match update {
            CreditsUpdate::Add(amount) => {
                let added: Option<CreditRow> = sqlx::query_as(queries::ADD_CREDITS)
                    .bind(lineage.to_string())
                    .bind(saturating_i64(amount))
                    .bind(now.as_millis())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                return added.map(|row| credits_of(lineage, &row)).transpose();
            }
            CreditsUpdate::Set(credits) => Some(credits),
            CreditsUpdate::Remove => None,
        };
        let mut tx = DB::begin_write(&self.pool, None).await.map_err(store_error)?;
        match &credits {
            Some(credits) => set_credits(&mut tx, lineage, credits).await?,
            None => {
                sqlx::query(queries::DELETE_CREDITS)
                    .bind(lineage.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
            }
        }
        // Every key of the lineage: whether its requests are counted has changed.
        let keys: Vec<(String, String)> = sqlx::query_as(queries::LINEAGE_KEYS)
            .bind(lineage.to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut changes = Vec::with_capacity(keys.len());
        for (id, lookup) in keys {
            let change = Change::Key(KeyChange {
                key_id: id
                    .parse()
                    .map_err(|_| StoreError::unavailable("stored key id is invalid"))?,
                lookup: lookup
                    .parse()
                    .map_err(|_| StoreError::unavailable("stored key lookup is invalid"))?,
            });
            announce(&mut tx, &change).await?;
            changes.push(change);
        }
        tx.commit().await.map_err(store_error)?;
        for change in &changes {
            self.changes.publish_change(change);
        }
        Ok(credits)
    }

    pub(crate) async fn record_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        if usage.is_empty() {
            return Ok(());
        }
        // One order for every batch, so that concurrent flushes cannot deadlock on row locks.
        let mut sorted: Vec<&KeyUsage> = usage.iter().collect();
        sorted.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        let mut tx = DB::begin_write(&self.pool, None).await.map_err(store_error)?;
        for used in sorted {
            sqlx::query(queries::RECORD_USAGE)
                .bind(used.key_id.to_string())
                .bind(used.last_used_at.as_millis())
                .bind(saturating_i64(used.requests))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    pub(crate) async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = DB::begin_write(&self.pool, None).await.map_err(store_error)?;
        DB::append_audit(&mut tx, events).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    pub(crate) async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<AuditRow> = sqlx::query_as(queries::AUDIT_LOG)
            .bind(query.get_tenant().to_string())
            .bind(query.get_key().map(KeyId::to_string))
            .bind(query.get_since().map(Timestamp::as_millis))
            .bind(query.get_until().map(Timestamp::as_millis))
            .bind(query.get_path_prefix().map(str::to_owned))
            .bind(i64::try_from(query.get_limit()).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(AuditEvent::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// Deletes a batch a transaction, so that the audit writer never waits long for the lock.
    pub(crate) async fn prune_audit(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut pruned = 0;
        loop {
            let mut tx = DB::begin_write(&self.pool, None).await.map_err(store_error)?;
            let result = sqlx::query(DB::PRUNE_AUDIT)
                .bind(before.as_millis())
                .bind(queries::PRUNE_BATCH)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            let deleted = DB::rows_affected(&result);
            pruned += deleted;
            if deleted < queries::PRUNE_BATCH.unsigned_abs() {
                return Ok(pruned);
            }
        }
    }
}

/// Tells other processes of `change` from inside the transaction `tx` that made it.
async fn announce<DB>(tx: &mut Transaction<'static, DB>, change: &Change) -> Result<(), StoreError>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    sqlx::query(DB::ANNOUNCE)
        .bind(change_text::encode(change))
        .execute(&mut **tx)
        .await
        .map(drop)
        .map_err(store_error)
}

/// Sets the credits of `lineage` inside the transaction `tx`.
async fn set_credits<DB>(
    tx: &mut Transaction<'static, DB>,
    lineage: &KeyId,
    credits: &Credits,
) -> Result<(), StoreError>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    Option<i64>: for<'t> Encode<'t, DB> + Type<DB>,
{
    CreditRow::from(credits)
        .bind(sqlx::query(queries::SET_CREDITS).bind(lineage.to_string()))
        .execute(&mut **tx)
        .await
        .map(drop)
        .map_err(store_error)
}

/// The credits of `lineage` as stored, read through `executor`.
async fn get_credits<'e, DB, E>(executor: E, lineage: &KeyId) -> Result<Option<Credits>, StoreError>
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    E: Executor<'e, Database = DB>,
    CreditRow: for<'r> FromRow<'r, DB::Row>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    let row: Option<CreditRow> = sqlx::query_as(queries::GET_CREDITS)
        .bind(lineage.to_string())
        .fetch_optional(executor)
        .await
        .map_err(store_error)?;
    row.map(|row| credits_of(lineage, &row)).transpose()
}

/// The credits a row of `lineage` holds, or the corrupt column as an outage.
fn credits_of(lineage: &KeyId, row: &CreditRow) -> Result<Credits, StoreError> {
    row.credits().map_err(|column| {
        StoreError::unavailable(format!(
            "stored credits of `{lineage}` have an invalid `{column}`"
        ))
    })
}

/// The row of key `id` if `tenant` owns it, read through `executor` (the pool, or a transaction).
async fn get_owned<'e, DB, E>(
    executor: E,
    tenant: &TenantId,
    id: &KeyId,
) -> Result<Option<KeyRow>, StoreError>
where
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    E: Executor<'e, Database = DB>,
    KeyRow: for<'r> FromRow<'r, DB::Row>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    sqlx::query_as(queries::GET_OWNED)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(executor)
        .await
        .map_err(store_error)
}

/// Implements [`KeyStore`](crate::KeyStore) for a store whose field `$field` is a [`SqlKeys`] of a
/// concrete database, by delegation.
macro_rules! delegate_key_store {
    ($store:ty, $field:ident) => {
        impl $crate::store::KeyStore for $store {
            $crate::store::sql::keys::delegate_key_store! {
                @methods $field;
                insert(key: &'a $crate::ApiKey, max_active: ::std::option::Option<u32>, now: $crate::time::Timestamp) -> ();
                find(lookup: &'a $crate::LookupKey) -> ::std::option::Option<$crate::ApiKey>;
                get(tenant: &'a $crate::TenantId, id: &'a $crate::KeyId) -> ::std::option::Option<$crate::ApiKey>;
                list(tenant: &'a $crate::TenantId) -> ::std::vec::Vec<$crate::ApiKey>;
                revoke(tenant: &'a $crate::TenantId, id: &'a $crate::KeyId, at: $crate::time::Timestamp) -> $crate::ApiKey;
                rotate(
                    tenant: &'a $crate::TenantId,
                    id: &'a $crate::KeyId,
                    successor: &'a $crate::ApiKey,
                    old: $crate::store::OldKey,
                    now: $crate::time::Timestamp
                ) -> $crate::ApiKey;
                record_usage(usage: &'a [$crate::audit::KeyUsage]) -> ();
                append_audit(events: &'a [$crate::audit::AuditEvent]) -> ();
                audit_log(query: &'a $crate::audit::AuditQuery) -> ::std::vec::Vec<$crate::audit::AuditEvent>;
                prune_audit(before: $crate::time::Timestamp) -> u64;
                spend(lineage: &'a $crate::KeyId, cost: u64, now: $crate::time::Timestamp) -> $crate::credits::Spend;
                update_credits(
                    lineage: &'a $crate::KeyId,
                    update: $crate::credits::CreditsUpdate,
                    now: $crate::time::Timestamp
                ) -> ::std::option::Option<$crate::credits::Credits>;
                keyspace(name: &'a $crate::KeyspaceName) -> ::std::option::Option<$crate::Keyspace>;
                save_keyspace(
                    keyspace: &'a $crate::Keyspace,
                    write: $crate::store::KeyspaceWrite,
                    now: $crate::time::Timestamp
                ) -> bool;
            }

            fn keyspaces(
                &self,
            ) -> ::futures_util::future::BoxFuture<'_, ::std::result::Result<::std::vec::Vec<$crate::Keyspace>, $crate::StoreError>> {
                ::std::boxed::Box::pin(self.$field.keyspaces())
            }

            fn changes(&self) -> &$crate::store::ChangeFeed {
                self.$field.changes()
            }
        }
    };
    // One async method per signature: `self.$field.$method(args)`, boxed as the trait wants.
    (@methods $field:ident; $($method:ident($($arg:ident: $arg_ty:ty),* $(,)?) -> $out:ty;)*) => {
        $(
            fn $method<'a>(
                &'a self,
                $($arg: $arg_ty),*
            ) -> ::futures_util::future::BoxFuture<'a, ::std::result::Result<$out, $crate::StoreError>> {
                ::std::boxed::Box::pin(self.$field.$method($($arg),*))
            }
        )*
    };
}

pub(crate) use delegate_key_store;
