//! `keyward usage`: each key of a tenant with its last use and request count.

use std::io::Write;
use std::sync::Arc;

use keyward_core::{KeyStore, KeyspaceName};

use super::args::TenantArg;
use super::error::CliError;
use super::output::Printer;
use super::store;
use super::view::UsageView;

/// Prints the usage of every key of the tenant, oldest key first.
///
/// # Errors
///
/// The [`CliError`] for the store's failure, or unwritable output.
pub(crate) async fn run<O: Write, E: Write>(
    args: TenantArg,
    store: Arc<dyn KeyStore>,
    keyspace: Option<&KeyspaceName>,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let manager = store::manager(store, keyspace).await?;
    let keys = manager
        .list(&args.tenant)
        .await
        .map_err(|error| CliError::from_manager(error, &args.tenant, None))?;
    let now = manager.now();
    let usage: Vec<UsageView> = keys.iter().map(|key| UsageView::new(key, now)).collect();
    printer
        .usage(&usage, args.tenant.as_str())
        .map_err(CliError::Output)
}
