//! How sqlx errors become [`StoreError`]s: a unique violation is a [`StoreError::Duplicate`],
//! everything else an outage.

use std::fmt;

use crate::store::StoreError;

/// What is kept of a database's error: its SQLSTATE code and message, not its detail (which can
/// quote a row, hash included).
#[derive(Debug)]
pub(crate) struct DatabaseFailure {
    code: Option<String>,
    message: String,
}

impl fmt::Display for DatabaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "database error {code}: {}", self.message),
            None => write!(f, "database error: {}", self.message),
        }
    }
}

impl std::error::Error for DatabaseFailure {}

/// Maps a sqlx error to a [`StoreError`].
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Duplicate,
        sqlx::Error::Database(db) => StoreError::unavailable(DatabaseFailure {
            code: db.code().map(|c| c.into_owned()),
            message: db.message().to_owned(),
        }),
        other => StoreError::unavailable(other),
    }
}
