//! [`CliError`]: why a command failed, the one line it prints, and its exit code.

use std::error::Error;
use std::io;

use keyward_core::{KeyId, ManagerError, StoreError, TenantId};

/// Exit code: the command succeeded.
pub(crate) const SUCCESS: u8 = 0;
/// Exit code: the store refused the operation (tenant at its key limit, key not active, rotation
/// pending, no credits to add to) or something else failed.
pub(crate) const REFUSED: u8 = 1;
/// Exit code: bad usage or a bad value (tenant, scope, tier, key id, duration, time, limit, name,
/// store URL), as clap exits.
pub(crate) const USAGE: u8 = 2;
/// Exit code: no key with that id for that tenant.
pub(crate) const NOT_FOUND: u8 = 3;
/// Exit code: the store could not be opened or reached.
pub(crate) const UNAVAILABLE: u8 = 4;
/// Exit code: no such keyspace, several and none named, or a stored keyspace this command cannot
/// apply.
pub(crate) const KEYSPACE: u8 = 5;
/// Exit code: the store's schema is older than this keyward: run `keyward migrate`.
pub(crate) const SCHEMA: u8 = 6;

/// The exit codes, as `--help` lists them.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  refused: the tenant is at its key limit, the key is not active, a rotation is pending, the
     keyspace's policy does not allow the scopes, tier or rotation asked for, the key has no
     credits to add to, or another failure
  2  usage: a bad option or value (tenant, scope, tier, key id, duration, time, limit, name,
     store URL, policy)
  3  not found: no key with that id for that tenant in the keyspace
  4  store unavailable: the store URL cannot be opened or the store cannot be reached
  5  keyspace: no keyspace of that name, or several in the store (none of them `default`) and
     none named with --keyspace
  6  schema: the store's schema is older than this keyward; run `keyward migrate` (nothing was
     written)

Errors are one line on stderr, starting with `error:`. Set RUST_LOG (e.g. `keyward=debug`) for logs
on stderr; tokens are never logged.";

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A value the lifecycle rules refuse (a name too long, an expiry in the past).
    #[error("{0}")]
    InvalidInput(ManagerError),
    /// No key `id` for `tenant`.
    #[error("key `{id}` not found for tenant `{tenant}`")]
    NotFound {
        /// The tenant asked about.
        tenant: TenantId,
        /// The id asked for.
        id: KeyId,
    },
    /// The store refused the operation.
    #[error(transparent)]
    Refused(ManagerError),
    /// The keyspace could not be opened.
    #[error(transparent)]
    Keyspace(ManagerError),
    /// The store could not be opened.
    #[error("cannot open the key store `{url}`")]
    Open {
        /// The store URL, password removed.
        url: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The store failed during the operation.
    #[error(transparent)]
    Unavailable(ManagerError),
    /// The policy asked for is invalid.
    #[error("invalid policy")]
    Config(#[source] keyward_core::manager::ConfigError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    /// stdout could not be written.
    #[error("cannot write the output")]
    Output(#[source] io::Error),
}

impl CliError {
    /// Classifies a [`ManagerError`] from an operation on the key `id` of `tenant`.
    pub(crate) fn from_manager(error: ManagerError, tenant: &TenantId, id: Option<&KeyId>) -> Self {
        match (&error, id) {
            (ManagerError::Store(StoreError::NotFound), Some(id)) => Self::NotFound {
                tenant: tenant.clone(),
                id: id.clone(),
            },
            (ManagerError::InvalidName | ManagerError::InvalidExpiry | ManagerError::Config(_), _) => {
                Self::InvalidInput(error)
            }
            (
                ManagerError::UnknownKeyspace(_)
                | ManagerError::KeyspaceNotNamed(_)
                | ManagerError::PolicyMismatch { .. }
                | ManagerError::FormatMismatch(_),
                _,
            ) => Self::Keyspace(error),
            (ManagerError::Store(store), _) if store.is_unavailable() => Self::Unavailable(error),
            _ => Self::Refused(error),
        }
    }

    /// Classifies a [`StoreError`] from an operation that names no key (`audit prune`).
    pub(crate) fn from_store(error: StoreError) -> Self {
        if error.is_unavailable() {
            Self::Unavailable(error.into())
        } else {
            Self::Refused(error.into())
        }
    }

    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::InvalidInput(_)
            | Self::Config(_)
            | Self::Open {
                source: StoreError::UnsupportedUrl(_),
                ..
            } => USAGE,
            Self::NotFound { .. } => NOT_FOUND,
            Self::Open {
                source: StoreError::SchemaOutdated { .. },
                ..
            } => SCHEMA,
            Self::Keyspace(_) => KEYSPACE,
            Self::Open { .. } | Self::Unavailable(_) => UNAVAILABLE,
            Self::Refused(_) | Self::Runtime(_) | Self::Output(_) => REFUSED,
        }
    }

    /// The message with its causes, on one line: `cannot open …: key store unavailable: …`.
    pub(crate) fn one_line(&self) -> String {
        let mut line = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // `#[error(transparent)]` repeats the inner message; say each cause once.
            if !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            source = cause.source();
        }
        single_line(&line)
    }
}

/// Folds a message's lines and runs of whitespace into one line.
pub(crate) fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_codes() {
        let tenant = TenantId::new("t").expect("valid tenant");
        let id: KeyId = "key_abc".parse().expect("valid id");
        let cases: [(&str, ManagerError, u8, &str); 5] = [
            (
                "unknown id",
                StoreError::NotFound.into(),
                NOT_FOUND,
                "key `key_abc` not found for tenant `t`",
            ),
            (
                "limit",
                StoreError::LimitReached { limit: 2 }.into(),
                REFUSED,
                "the tenant already has its maximum of 2 active keys",
            ),
            (
                "bad name",
                ManagerError::InvalidName,
                USAGE,
                "the key name must be at most 100",
            ),
            (
                "outage",
                StoreError::unavailable("connection refused").into(),
                UNAVAILABLE,
                "key store unavailable: connection refused",
            ),
            (
                "not active",
                StoreError::NotActive.into(),
                REFUSED,
                "the key is not active",
            ),
        ];
        for (what, error, code, message) in cases {
            let error = CliError::from_manager(error, &tenant, Some(&id));
            assert_eq!(error.exit_code(), code, "{what}");
            assert!(
                error.one_line().starts_with(message),
                "{what}: {}",
                error.one_line()
            );
        }
    }

    #[test]
    fn causes_are_joined_on_one_line() {
        let error = CliError::Open {
            url: "postgres://u@h/db".to_owned(),
            source: StoreError::unavailable("refused\non port 5432"),
        };
        assert_eq!(
            error.one_line(),
            "cannot open the key store `postgres://u@h/db`: key store unavailable: refused on port 5432"
        );
        assert_eq!(error.exit_code(), UNAVAILABLE);

        let error = CliError::Open {
            url: "mysql://h/db".to_owned(),
            source: StoreError::UnsupportedUrl("expected `sqlite://<path>`".to_owned()),
        };
        assert_eq!(error.exit_code(), USAGE);
    }
}
