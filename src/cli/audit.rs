//! `keyward audit …`: a tenant's audit log, filtered, and `audit prune`.

use std::io::Write;
use std::sync::Arc;

use keyward_core::KeyStore;
use keyward_core::audit::AuditQuery;
use keyward_core::time::Timestamp;

use super::args::{AuditArgs, AuditCommand, AuditFilter, PruneArgs};
use super::error::CliError;
use super::event_view::EventView;
use super::output::Printer;

/// Runs `keyward audit` (the log) or `keyward audit prune` against `store`.
///
/// # Errors
///
/// The [`CliError`] for the store's failure, or unwritable output.
pub(crate) async fn run<O: Write, E: Write>(
    args: AuditArgs,
    store: Arc<dyn KeyStore>,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    match (args.command, args.filter) {
        (Some(AuditCommand::Prune(prune_args)), _) => prune(prune_args, store, printer).await,
        (None, Some(filter)) => log(filter, store, printer).await,
        // clap requires `--tenant` when no subcommand is given.
        (None, None) => unreachable!("`keyward audit` parsed with neither a filter nor a subcommand"),
    }
}

async fn log<O: Write, E: Write>(
    filter: AuditFilter,
    store: Arc<dyn KeyStore>,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let now = Timestamp::now();
    let tenant = filter.tenant;
    let mut query = AuditQuery::new(tenant.clone());
    if let Some(key) = filter.key {
        query = query.key(key);
    }
    if let Some(since) = filter.since {
        query = query.since(since.at(now));
    }
    if let Some(until) = filter.until {
        query = query.until(until.at(now));
    }
    if let Some(prefix) = filter.path_prefix {
        query = query.path_prefix(prefix);
    }
    if let Some(limit) = filter.limit {
        query = query.limit(usize::try_from(limit).unwrap_or(AuditQuery::MAX_LIMIT));
    }
    let events = store.audit_log(&query).await.map_err(CliError::from_store)?;
    let views: Vec<EventView> = events.iter().map(EventView::from).collect();
    printer.events(&views, tenant.as_str()).map_err(CliError::Output)
}

async fn prune<O: Write, E: Write>(
    args: PruneArgs,
    store: Arc<dyn KeyStore>,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let before = Timestamp::now().minus(args.older_than);
    let deleted = store.prune_audit(before).await.map_err(CliError::from_store)?;
    printer.pruned(deleted, before).map_err(CliError::Output)
}
