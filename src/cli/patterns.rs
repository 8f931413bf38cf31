//! `keyward patterns`: the regular expressions that match the store's tokens, for secret scanners.

use std::io::Write;
use std::sync::Arc;

use keyward_core::KeyStore;
use keyward_core::token::TokenFormat;

use super::error::CliError;
use super::output::Printer;

/// The token formats of the store's keyspaces, each once; keyward's own format when the store has
/// no keyspace yet (what `keys create` would mint).
///
/// # Errors
///
/// [`CliError::Unavailable`] when the store cannot be read.
pub(crate) async fn formats(store: &dyn KeyStore) -> Result<Vec<TokenFormat>, CliError> {
    let keyspaces = store
        .keyspaces()
        .await
        .map_err(|error| CliError::Unavailable(error.into()))?;
    let mut formats: Vec<TokenFormat> = Vec::new();
    for keyspace in keyspaces {
        if !formats.contains(&keyspace.format) {
            formats.push(keyspace.format);
        }
    }
    if formats.is_empty() {
        formats.push(TokenFormat::default());
    }
    Ok(formats)
}

/// Prints each format's [`TokenFormat::scan_pattern`], one per line.
///
/// # Errors
///
/// As [`formats`], or [`CliError::Output`] when stdout cannot be written.
pub(crate) async fn run<O: Write, E: Write>(
    store: Arc<dyn KeyStore>,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let formats = formats(&*store).await?;
    let patterns: Vec<(&str, String)> = formats
        .iter()
        .map(|format| (format.namespace(), format.scan_pattern()))
        .collect();
    printer.patterns(&patterns).map_err(CliError::Output)
}

#[cfg(test)]
mod tests {
    use keyward_core::token::Alphabet;
    use keyward_core::{Drift, KeyManager, MemoryStore};

    use super::*;

    async fn printed(store: Arc<dyn KeyStore>) -> String {
        let mut out = Vec::new();
        run(store, &mut Printer::new(false, &mut out, Vec::new()))
            .await
            .expect("written");
        String::from_utf8(out).expect("utf-8")
    }

    #[tokio::test]
    async fn one_pattern_per_stored_format() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
        // That `grep -E` finds minted tokens with it is checked end to end in tests/cli.rs.
        let text = printed(Arc::clone(&store)).await;
        assert_eq!(text, format!("{}\n", TokenFormat::default().scan_pattern()));
        assert!(text.starts_with(r"\bkw_(live|test)_"), "{text}");

        let format = TokenFormat::builder("tk")
            .secret(40, Alphabet::LowerHex)
            .build()
            .expect("valid");
        for name in ["trcker", "trcker-admin"] {
            KeyManager::builder_shared(Arc::clone(&store))
                .keyspace(name)
                .format(format.clone())
                .declare(Drift::Refuse)
                .await
                .expect("declared");
        }
        assert_eq!(printed(store).await, format!("{}\n", format.scan_pattern()));
    }
}
