//! `keyward keyspace …`: list the store's keyspaces, show one's policy, change it.

use std::io::Write;
use std::sync::Arc;

use keyward_core::store::KeyspaceWrite;
use keyward_core::{KeyPolicy, KeyStore, Keyspace, KeyspaceName, ManagerError};

use super::args::{KeyspaceCommand, PolicyArgs};
use super::error::CliError;
use super::keyspace_view::KeyspaceView;
use super::output::Printer;
use super::store;

/// Runs one `keyspace` subcommand against `store`.
///
/// # Errors
///
/// The [`CliError`] for an unknown keyspace, an invalid policy, an outage, or unwritable output.
pub(crate) async fn run<O: Write, E: Write>(
    command: KeyspaceCommand,
    store: Arc<dyn KeyStore>,
    keyspace: Option<&KeyspaceName>,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    match command {
        KeyspaceCommand::List => {
            let keyspaces = store.keyspaces().await.map_err(unavailable)?;
            let views: Vec<KeyspaceView> = keyspaces.iter().map(KeyspaceView::new).collect();
            printer.keyspaces(&views).map_err(CliError::Output)
        }
        KeyspaceCommand::Show => {
            let stored = stored(&store, keyspace).await?;
            printer
                .keyspace(&KeyspaceView::new(&stored))
                .map_err(CliError::Output)
        }
        KeyspaceCommand::Set(args) => {
            let mut keyspace = stored(&store, keyspace).await?;
            let policy = changed(&keyspace.policy, &args);
            policy.validate().map_err(CliError::Config)?;
            let differences = keyspace.policy.differences(&policy);
            if differences.is_empty() {
                printer.note(&format!("keyspace `{}` unchanged", keyspace.name));
            } else {
                keyspace.policy = policy;
                let now = keyward_core::time::Timestamp::now();
                store
                    .save_keyspace(&keyspace, KeyspaceWrite::Replace, now)
                    .await
                    .map_err(unavailable)?;
                tracing::info!(target: "keyward::lifecycle", keyspace = %keyspace.name, ?differences, "keyspace policy changed");
                printer.note(&format!(
                    "keyspace `{}` changed: {}",
                    keyspace.name,
                    differences.join(", ")
                ));
            }
            printer
                .keyspace(&KeyspaceView::new(&keyspace))
                .map_err(CliError::Output)
        }
    }
}

/// The keyspace as the store keeps it, chosen as for every command.
async fn stored(store: &Arc<dyn KeyStore>, keyspace: Option<&KeyspaceName>) -> Result<Keyspace, CliError> {
    let manager = store::manager(Arc::clone(store), keyspace).await?;
    store
        .keyspace(manager.keyspace())
        .await
        .map_err(unavailable)?
        .ok_or_else(|| CliError::Keyspace(ManagerError::UnknownKeyspace(manager.keyspace().clone())))
}

/// `policy` with the rules `args` names changed.
fn changed(policy: &KeyPolicy, args: &PolicyArgs) -> KeyPolicy {
    let mut policy = policy.clone();
    if let Some(max) = args.max_active_keys {
        policy.max_active_keys = Some(max);
    }
    if args.no_key_limit {
        policy.max_active_keys = None;
    }
    if let Some(scopes) = &args.default_scopes {
        policy.default_scopes = scopes.clone();
    }
    if let Some(scopes) = &args.allowed_scopes {
        policy.allowed_scopes = Some(scopes.clone());
    }
    if args.any_scope {
        policy.allowed_scopes = None;
    }
    if let Some(tier) = &args.default_tier {
        policy.default_tier = tier.clone();
    }
    if let Some(tiers) = &args.tiers {
        let mut tiers = tiers.clone();
        tiers.sort();
        tiers.dedup();
        policy.tiers = Some(tiers);
    }
    if args.any_tier {
        policy.tiers = None;
    }
    if let Some(lifetime) = args.default_lifetime {
        policy.default_lifetime = Some(lifetime);
    }
    if args.no_default_lifetime {
        policy.default_lifetime = None;
    }
    if let Some(rotation) = args.rotation.rotation() {
        policy.rotation = rotation;
    }
    if args.lock_rotation {
        policy.rotation_locked = true;
    }
    if args.unlock_rotation {
        policy.rotation_locked = false;
    }
    policy
}

fn unavailable(error: keyward_core::StoreError) -> CliError {
    CliError::Unavailable(error.into())
}
