//! `keyward keys credits …`: set, add to or remove the credits of a key's lineage.
//!
//! Each prints the key as it stands afterwards (as `keys show` does) on stdout, and what changed
//! on stderr. Setting or removing credits reaches running apps through the store's change feed;
//! added credits count at once, since every request of a key with credits spends at the store.

use std::io::Write;

use keyward_core::{KeyId, KeyManager, TenantId};

use super::args::{AddCreditsArgs, CreditsCommand, KeyArgs, SetCreditsArgs};
use super::error::CliError;
use super::keys::{owned, print_key};
use super::output::Printer;

/// Runs one `keys credits` subcommand through `manager`.
///
/// # Errors
///
/// The [`CliError`] for an unknown key, a key without credits to add to, an outage, or
/// unwritable output.
pub(crate) async fn run<O: Write, E: Write>(
    command: CreditsCommand,
    manager: &KeyManager,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let (tenant, id, note) = match command {
        CreditsCommand::Set(args) => set(args, manager).await?,
        CreditsCommand::Add(args) => add(args, manager).await?,
        CreditsCommand::Remove(args) => remove(args, manager).await?,
    };
    printer.note(&note);
    let key = owned(manager, &tenant, &id).await?;
    print_key(&key, manager, printer)
}

/// What a subcommand changed: the key it named, and the note that says what changed.
type Changed = (TenantId, KeyId, String);

async fn set(args: SetCreditsArgs, manager: &KeyManager) -> Result<Changed, CliError> {
    let KeyArgs { id, tenant } = args.key;
    let tenant = tenant.tenant;
    let refill = match (args.refill.refill, args.refill.no_refill) {
        (Some(refill), _) => Some(refill),
        (None, true) => None,
        (None, false) => owned(manager, &tenant, &id)
            .await?
            .credits
            .and_then(|credits| credits.refill),
    };
    let credits = manager
        .set_credits(&tenant, &id, args.remaining, refill)
        .await
        .map_err(|error| CliError::from_manager(error, &tenant, Some(&id)))?;
    let refill = refill.map_or_else(|| "no refill".to_owned(), |refill| format!("refill {refill}"));
    let note = format!("credits of `{id}` set to {} ({refill})", credits.remaining);
    Ok((tenant, id, note))
}

async fn add(args: AddCreditsArgs, manager: &KeyManager) -> Result<Changed, CliError> {
    let KeyArgs { id, tenant } = args.key;
    let tenant = tenant.tenant;
    let credits = manager
        .add_credits(&tenant, &id, args.amount)
        .await
        .map_err(|error| CliError::from_manager(error, &tenant, Some(&id)))?;
    let note = format!(
        "{} credits added to `{id}`: {} left",
        args.amount, credits.remaining
    );
    Ok((tenant, id, note))
}

async fn remove(args: KeyArgs, manager: &KeyManager) -> Result<Changed, CliError> {
    let KeyArgs { id, tenant } = args;
    let tenant = tenant.tenant;
    manager
        .remove_credits(&tenant, &id)
        .await
        .map_err(|error| CliError::from_manager(error, &tenant, Some(&id)))?;
    let note = format!("credits of `{id}` removed: its requests are no longer counted");
    Ok((tenant, id, note))
}
