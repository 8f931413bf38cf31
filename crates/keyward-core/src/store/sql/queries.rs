//! The statements both SQL stores run. `$n` placeholders, which SQLite accepts as well; only the
//! locking and the notification statements differ and live with each store.
//!
//! A key is active at `now` when it is not revoked, `expires_at > now` (or none) and
//! `grace_until > now` (or none): the same rule as [`ApiKey::status`].

use crate::ApiKey;
use crate::store::OldKey;
use crate::time::Timestamp;

macro_rules! key_columns {
    () => {
        "id, tenant, lookup, secret_hash, display_prefix, kind, environment, scopes, tier, name, \
         created_at, expires_at, revoked_at, last_used_at, request_count, lineage, rotated_from, \
         grace_until, keyspace"
    };
}

/// A key's columns and its lineage's credits (null when it has none), under names of their own so
/// that no column name is ambiguous.
macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT ",
            key_columns!(),
            ", credit_remaining, credit_refill_amount, credit_refill_every, credit_refilled_at \
             FROM keyward_keys LEFT JOIN (SELECT lineage AS credit_lineage, \
             remaining AS credit_remaining, refill_amount AS credit_refill_amount, \
             refill_every AS credit_refill_every, refilled_at AS credit_refilled_at \
             FROM keyward_credits) AS credits ON credit_lineage = keyward_keys.lineage ",
            $tail
        )
    };
}

/// Whether a refill boundary has passed at `$3` (now) since `refilled_at`.
macro_rules! refill_due {
    () => {
        "(refill_every IS NOT NULL AND $3 >= refilled_at + refill_every)"
    };
}

/// The credits left at `$3` (now): raised to the refill amount when a boundary has passed.
macro_rules! credits_now {
    () => {
        concat!(
            "(CASE WHEN ",
            refill_due!(),
            " AND refill_amount > remaining THEN refill_amount ELSE remaining END)"
        )
    };
}

/// The last refill boundary at `$3` (now).
macro_rules! refilled_at_now {
    () => {
        concat!(
            "(CASE WHEN ",
            refill_due!(),
            " THEN refilled_at + (($3 - refilled_at) / refill_every) * refill_every \
             ELSE refilled_at END)"
        )
    };
}

macro_rules! audit_columns {
    () => {
        "at, request_id, key_id, tenant, fingerprint, method, path, status, client_ip, user_agent, kind, \
         detail"
    };
}

/// Inserts a key: `$1`..`$19` in the order [`KeyRow::bind`](super::row::KeyRow::bind) binds.
pub(crate) const INSERT_KEY: &str = concat!(
    "INSERT INTO keyward_keys (",
    key_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
);

/// `$1`: lookup text.
pub(crate) const FIND_BY_LOOKUP: &str = select_keys!("WHERE lookup = $1");

/// `$1`: tenant, `$2`: key id.
pub(crate) const GET_OWNED: &str = select_keys!("WHERE tenant = $1 AND id = $2");

/// `$1`: tenant. Oldest first, ties by id.
pub(crate) const LIST_TENANT: &str = select_keys!("WHERE tenant = $1 ORDER BY created_at, id");

/// `$1`: tenant, `$2`: now, `$3`: keyspace. How many distinct lineages of the tenant have an
/// active key in the keyspace.
pub(crate) const COUNT_ACTIVE_LINEAGES: &str = "SELECT COUNT(DISTINCT lineage) FROM keyward_keys \
     WHERE tenant = $1 AND keyspace = $3 AND revoked_at IS NULL \
     AND (expires_at IS NULL OR expires_at > $2) \
     AND (grace_until IS NULL OR grace_until > $2)";

/// `$1`: lineage, `$2`: the key being rotated, `$3`: now. Other active keys of the lineage with
/// no end date: a pending two-step replacement.
pub(crate) const COUNT_PENDING_SUCCESSORS: &str = "SELECT COUNT(*) FROM keyward_keys \
     WHERE lineage = $1 AND id <> $2 AND revoked_at IS NULL AND grace_until IS NULL \
     AND (expires_at IS NULL OR expires_at > $3)";

/// `$1`: tenant, `$2`: key id, `$3`: when. Revokes a key that is not revoked yet and returns its
/// id.
pub(crate) const REVOKE: &str = "UPDATE keyward_keys SET revoked_at = $3 \
     WHERE tenant = $1 AND id = $2 AND revoked_at IS NULL RETURNING id";

/// The credit columns as [`CreditRow`](super::row::CreditRow) reads them.
macro_rules! credit_columns {
    () => {
        "remaining, refill_amount, refill_every, refilled_at"
    };
}

/// `$1`: lineage, `$2`: remaining, `$3`: refill amount or null, `$4`: refill interval (ms) or
/// null, `$5`: refilled at. Sets a lineage's credits, whatever it had.
pub(crate) const SET_CREDITS: &str = concat!(
    "INSERT INTO keyward_credits (lineage, ",
    credit_columns!(),
    ") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (lineage) DO UPDATE SET \
     remaining = excluded.remaining, refill_amount = excluded.refill_amount, \
     refill_every = excluded.refill_every, refilled_at = excluded.refilled_at"
);

/// `$1`: lineage, `$2`: cost, `$3`: now. Spends the cost when the credits left at `$3` (the
/// refill applied) cover it, in this one statement, and returns the credits afterwards; returns
/// nothing when they do not (or the lineage has none), having changed nothing.
pub(crate) const SPEND_CREDITS: &str = concat!(
    "UPDATE keyward_credits SET remaining = ",
    credits_now!(),
    " - $2, refilled_at = ",
    refilled_at_now!(),
    " WHERE lineage = $1 AND ",
    credits_now!(),
    " >= $2 RETURNING ",
    credit_columns!()
);

/// `$1`: lineage, `$2`: amount, `$3`: now. Adds to a lineage's credits (the refill applied
/// first), saturating at the `BIGINT` maximum, and returns them; nothing when it has none.
pub(crate) const ADD_CREDITS: &str = concat!(
    "UPDATE keyward_credits SET remaining = CASE WHEN ",
    credits_now!(),
    " > 9223372036854775807 - $2 THEN 9223372036854775807 ELSE ",
    credits_now!(),
    " + $2 END, refilled_at = ",
    refilled_at_now!(),
    " WHERE lineage = $1 RETURNING ",
    credit_columns!()
);

/// `$1`: lineage. A lineage's credits as stored.
pub(crate) const GET_CREDITS: &str = concat!(
    "SELECT ",
    credit_columns!(),
    " FROM keyward_credits WHERE lineage = $1"
);

/// `$1`: lineage.
pub(crate) const DELETE_CREDITS: &str = "DELETE FROM keyward_credits WHERE lineage = $1";

/// `$1`: lineage. The ids and lookups of the lineage's keys, for the changes that tell caches.
pub(crate) const LINEAGE_KEYS: &str = "SELECT id, lookup FROM keyward_keys WHERE lineage = $1";

/// `$1`: key id, `$2`: when the grace period ends.
pub(crate) const SET_GRACE_UNTIL: &str = "UPDATE keyward_keys SET grace_until = $2 WHERE id = $1";

/// `$1`: key id, `$2`: when.
pub(crate) const SET_REVOKED_AT: &str = "UPDATE keyward_keys SET revoked_at = $2 WHERE id = $1";

/// `$1`: key id, `$2`: latest use, `$3`: requests. Keeps the later of the two times and adds the
/// requests, saturating at the `BIGINT` maximum.
pub(crate) const RECORD_USAGE: &str = "UPDATE keyward_keys SET \
     last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $2 THEN $2 ELSE last_used_at END, \
     request_count = CASE WHEN request_count > 9223372036854775807 - $3 \
                          THEN 9223372036854775807 ELSE request_count + $3 END \
     WHERE id = $1";

/// Most audit events one SQLite `INSERT` appends: 12 parameters a row, far below SQLite's 32 766 and
/// PostgreSQL's 65 535.
#[cfg(feature = "sqlite")]
pub(crate) const AUDIT_ROWS_PER_INSERT: usize = 128;

/// The columns an audit row binds, in the order [`AuditRow::bind`](super::row::AuditRow::bind)
/// binds them.
#[cfg(feature = "sqlite")]
const AUDIT_ROW_PARAMETERS: usize = 12;

/// Appends `rows` audit events in one SQLite statement, for `rows` a power of two up to
/// [`AUDIT_ROWS_PER_INSERT`] (eight texts, so a database's statement cache holds at most eight of
/// them): `$1`..`$12` the first row's columns in the order
/// [`AuditRow::bind`](super::row::AuditRow::bind) binds, `$13`.. the next row's, and so on.
#[cfg(feature = "sqlite")]
pub(crate) fn insert_audit(rows: usize) -> &'static str {
    static TEXTS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        (0..=AUDIT_ROWS_PER_INSERT.ilog2())
            .map(|power| audit_insert_text(1 << power))
            .collect()
    });
    debug_assert!(rows.is_power_of_two() && rows <= AUDIT_ROWS_PER_INSERT);
    &TEXTS[rows.ilog2() as usize]
}

#[cfg(feature = "sqlite")]
fn audit_insert_text(rows: usize) -> String {
    use std::fmt::Write as _;

    let mut sql = String::with_capacity(64 + rows * AUDIT_ROW_PARAMETERS * 6);
    sql.push_str(concat!(
        "INSERT INTO keyward_audit (",
        audit_columns!(),
        ") VALUES "
    ));
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 1..=AUDIT_ROW_PARAMETERS {
            let separator = if column == 1 { "" } else { ", " };
            let _ = write!(sql, "{separator}${}", row * AUDIT_ROW_PARAMETERS + column);
        }
        sql.push(')');
    }
    sql
}

/// Appends audit events from the rows that follow, in PostgreSQL's COPY text format (see
/// `postgres::audit_copy`), columns in the order of every audit statement.
#[cfg(feature = "postgres")]
pub(crate) const COPY_AUDIT: &str = concat!("COPY keyward_audit (", audit_columns!(), ") FROM STDIN");

/// `$1`: tenant, `$2`: key id or null, `$3`: since (inclusive) or null, `$4`: until (exclusive)
/// or null, `$5`: path prefix or null, `$6`: limit. Newest first, ties latest appended first.
///
/// The prefix is compared with `substr`, never `LIKE`: `%`, `_` and `\` in it are plain
/// characters, and case matters in both databases.
pub(crate) const AUDIT_LOG: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM keyward_audit WHERE tenant = $1 \
     AND ($2 IS NULL OR key_id = $2) \
     AND ($3 IS NULL OR at >= $3) \
     AND ($4 IS NULL OR at < $4) \
     AND ($5 IS NULL OR substr(path, 1, length($5)) = $5) \
     ORDER BY at DESC, seq DESC LIMIT $6"
);

/// `$1`: name.
pub(crate) const GET_KEYSPACE: &str = "SELECT name, document FROM keyward_keyspaces WHERE name = $1";

/// Every keyspace, by name.
pub(crate) const LIST_KEYSPACES: &str = "SELECT name, document FROM keyward_keyspaces ORDER BY name";

/// `$1`: name, `$2`: document, `$3`: now. Writes only a new name; returns the name when it wrote.
pub(crate) const CREATE_KEYSPACE: &str = "INSERT INTO keyward_keyspaces (name, document, updated_at) \
     VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING name";

/// `$1`: name, `$2`: document, `$3`: now. Writes whatever is stored; returns the name.
pub(crate) const REPLACE_KEYSPACE: &str = "INSERT INTO keyward_keyspaces (name, document, updated_at) \
     VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE \
     SET document = excluded.document, updated_at = excluded.updated_at RETURNING name";

/// Events [`Dialect::PRUNE_AUDIT`](super::dialect::Dialect::PRUNE_AUDIT) deletes in one
/// transaction.
pub(crate) const PRUNE_BATCH: i64 = 10_000;

/// Applies `old` to the rotated-out `key` and returns the statement (with its time argument) that
/// does the same in the database; `None` when the key is kept as it is.
pub(crate) fn retire(key: &mut ApiKey, old: OldKey, now: Timestamp) -> Option<(&'static str, i64)> {
    match old {
        OldKey::Keep => None,
        OldKey::ExpireAt(at) => {
            key.grace_until = Some(at);
            Some((SET_GRACE_UNTIL, at.as_millis()))
        }
        OldKey::RevokeNow => {
            key.revoked_at = Some(now);
            Some((SET_REVOKED_AT, now.as_millis()))
        }
    }
}
