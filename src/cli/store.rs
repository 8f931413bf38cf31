//! The key store named by `--store`: opening it (which applies migrations) and naming it safely.

use std::io::Write;
use std::sync::Arc;

use keyward_core::store::Migrations;
use keyward_core::{KeyManager, KeyStore, KeyspaceName};

use super::error::CliError;
use super::output::Printer;

/// Opens the store at `url` as `migrations` says: commands other than `migrate` require the
/// current schema (a new, empty database is set up), so that the schema under a running app
/// changes only when its operator says so.
///
/// # Errors
///
/// [`CliError::Open`] when the URL is not understood, the store cannot be reached, or its schema
/// is outdated.
pub(crate) async fn open(url: &str, migrations: Migrations) -> Result<Arc<dyn KeyStore>, CliError> {
    let store = keyward_core::store::open_with(url, migrations)
        .await
        .map_err(|source| CliError::Open {
            url: redact(url),
            source,
        })?;
    if url
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("memory:"))
    {
        tracing::warn!(target: "keyward::cli", "the memory store keeps nothing once this command exits");
    }
    Ok(store)
}

/// A [`KeyManager`] for the keyspace as `store` keeps it (`keyspace`, else the store's only one,
/// else `default`): its token format and policy, which the app declared.
///
/// # Errors
///
/// [`CliError::Keyspace`] when there is no such keyspace or none was named among several;
/// [`CliError::Unavailable`] for an outage.
pub(crate) async fn manager(
    store: Arc<dyn KeyStore>,
    keyspace: Option<&KeyspaceName>,
) -> Result<KeyManager, CliError> {
    KeyManager::open(store, keyspace.map(KeyspaceName::as_str))
        .await
        .map_err(|error| match error {
            keyward_core::ManagerError::Store(store) => {
                CliError::Unavailable(keyward_core::ManagerError::Store(store))
            }
            other => CliError::Keyspace(other),
        })
}

/// `keyward migrate`: opens the store, which brings its schema up to date, and says so.
///
/// # Errors
///
/// As [`open`], or [`CliError::Output`].
pub(crate) async fn migrate<O: Write, E: Write>(
    url: &str,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    open(url, Migrations::Apply).await?;
    printer.migrated(&redact(url)).map_err(CliError::Output)
}

/// The URL with any password replaced by `***`, fit for messages and logs.
///
/// The user information ends at the last `@`, not at the first `/`, `?` or `#`: a password may hold
/// those unencoded, and such a URL does not parse, so it is exactly the one an error message
/// quotes. When an `@` in the query is taken for the end of the user information, more is hidden
/// than needed, never less. `password` parameters are hidden wherever they stand.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    let mut redacted = format!("{scheme}://");
    for part in rest.split_inclusive(['?', '&']) {
        let (param, separator) = match part.strip_suffix(['?', '&']) {
            Some(param) => (param, &part[param.len()..]),
            None => (part, ""),
        };
        match param.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                redacted.push_str(name);
                redacted.push_str("=***");
            }
            _ => redacted.push_str(param),
        }
        redacted.push_str(separator);
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        let cases = [
            ("memory:", "memory:"),
            ("sqlite://keyward.db", "sqlite://keyward.db"),
            (
                "sqlite:///var/lib/k.db?mode=rwc",
                "sqlite:///var/lib/k.db?mode=rwc",
            ),
            (
                "postgres://keyward@127.0.0.1:55432/keyward",
                "postgres://keyward@127.0.0.1:55432/keyward",
            ),
            ("postgres://u:s3cret@db:5432/k", "postgres://u:***@db:5432/k"),
            ("postgres://u:p@ss:w@db/k", "postgres://u:***@db/k"),
            ("postgres://u:pa#ss@db/k", "postgres://u:***@db/k"),
            ("postgres://u:pa/ss?x@db/k", "postgres://u:***@db/k"),
            (
                "postgres://db:5432/k?user=me@corp&password=s3cret",
                "postgres://db:***@corp&password=***",
            ),
            (
                "postgres://db/k?password=s3cret&user=me@corp",
                "postgres://db/k?password=***&user=me@corp",
            ),
            (
                "postgres://db/k?user=u&password=s3cret&sslmode=require",
                "postgres://db/k?user=u&password=***&sslmode=require",
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected, "{url}");
        }
    }
}
