//! `keyward keys …`: create, list, show, revoke and rotate a tenant's keys, and change their
//! credits ([`credits`](super::credits)).

use std::io::Write;
use std::sync::Arc;

use keyward_core::{ApiKey, Expiry, KeyManager, KeyStore, KeyspaceName, NewKey};

use keyward_core::{KeyId, TenantId};

use super::args::{CreateArgs, KeyArgs, KeysCommand, RotateArgs, TenantArg};
use super::error::CliError;
use super::output::Printer;
use super::view::KeyView;
use super::{credits, store};

/// Runs one `keys` subcommand against `store`, through a [`KeyManager`] for the keyspace as the
/// store keeps it: its token format, limits, default scopes and rotation rule.
///
/// # Errors
///
/// The [`CliError`] for an unknown keyspace, the store's or the policy's refusal, an outage, an
/// unknown key, or unwritable output.
pub(crate) async fn run<O: Write, E: Write>(
    command: KeysCommand,
    store: Arc<dyn KeyStore>,
    keyspace: Option<&KeyspaceName>,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let manager = &store::manager(store, keyspace).await?;
    match command {
        KeysCommand::Create(args) => create(args, manager, printer).await,
        KeysCommand::List(args) => list(args, manager, printer).await,
        KeysCommand::Show(args) => show(args, manager, printer).await,
        KeysCommand::Revoke(args) => revoke(args, manager, printer).await,
        KeysCommand::Rotate(args) => rotate(args, manager, printer).await,
        KeysCommand::Credits(command) => credits::run(command, manager, printer).await,
    }
}

async fn create<O: Write, E: Write>(
    args: CreateArgs,
    manager: &KeyManager,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let tenant = args.tenant.tenant;
    let mut new = NewKey::new(tenant.clone())
        .kind(args.kind.into())
        .environment(args.environment.into());
    if let Some(name) = args.name {
        new = new.name(name);
    }
    if let Some(scopes) = args.scopes {
        new = new.scopes(scopes);
    }
    if let Some(tier) = args.tier {
        new = new.tier(tier);
    }
    if let Some(lifetime) = args.expires {
        new = new.expires(Expiry::In(lifetime));
    }
    if let Some(remaining) = args.credits {
        new = new.credits(remaining, args.refill);
    }
    let created = manager
        .create(new)
        .await
        .map_err(|error| CliError::from_manager(error, &tenant, None))?;
    let view = KeyView::new(&created.key, manager.now());
    printer
        .token(created.token.expose(), &view, None)
        .map_err(CliError::Output)
}

async fn list<O: Write, E: Write>(
    args: TenantArg,
    manager: &KeyManager,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let keys = manager
        .list(&args.tenant)
        .await
        .map_err(|error| CliError::from_manager(error, &args.tenant, None))?;
    let now = manager.now();
    let views: Vec<KeyView> = keys.iter().map(|key| KeyView::new(key, now)).collect();
    printer
        .keys(&views, args.tenant.as_str())
        .map_err(CliError::Output)
}

async fn show<O: Write, E: Write>(
    args: KeyArgs,
    manager: &KeyManager,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let key = owned(manager, &args.tenant.tenant, &args.id).await?;
    print_key(&key, manager, printer)
}

/// The key `id` of `tenant`, or [`CliError::NotFound`].
pub(super) async fn owned(manager: &KeyManager, tenant: &TenantId, id: &KeyId) -> Result<ApiKey, CliError> {
    manager
        .get(tenant, id)
        .await
        .map_err(|error| CliError::from_manager(error, tenant, Some(id)))?
        .ok_or_else(|| CliError::NotFound {
            tenant: tenant.clone(),
            id: id.clone(),
        })
}

async fn revoke<O: Write, E: Write>(
    args: KeyArgs,
    manager: &KeyManager,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let tenant = &args.tenant.tenant;
    let key = manager
        .revoke(tenant, &args.id)
        .await
        .map_err(|error| CliError::from_manager(error, tenant, Some(&args.id)))?;
    print_key(&key, manager, printer)
}

/// Prints one key as it stands now (`show`, and the result of `revoke` and `credits`).
pub(super) fn print_key<O: Write, E: Write>(
    key: &ApiKey,
    manager: &KeyManager,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    printer
        .key(&KeyView::new(key, manager.now()))
        .map_err(CliError::Output)
}

async fn rotate<O: Write, E: Write>(
    args: RotateArgs,
    manager: &KeyManager,
    printer: &mut Printer<O, E>,
) -> Result<(), CliError> {
    let (tenant, id) = (&args.key.tenant.tenant, &args.key.id);
    let rotated = match args.rotation.rotation() {
        Some(rotation) => manager.rotate_with(tenant, id, rotation).await,
        None => manager.rotate(tenant, id).await,
    }
    .map_err(|error| CliError::from_manager(error, tenant, Some(id)))?;
    // The successor exists and its token must be shown whatever happens next, so the old key's
    // new state is shown only if it can be read.
    let previous = match manager.get(tenant, id).await {
        Ok(previous) => previous,
        Err(error) => {
            tracing::warn!(key_id = %id, %error, "cannot read the rotated-out key");
            None
        }
    };
    let now = manager.now();
    let previous = previous.map(|key| KeyView::new(&key, now));
    printer
        .token(
            rotated.token.expose(),
            &KeyView::new(&rotated.key, now),
            previous.as_ref(),
        )
        .map_err(CliError::Output)
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use keyward_core::{Drift, KeyStatus, MemoryStore};

    use super::super::args::{Cli, Command};
    use super::super::error::{NOT_FOUND, REFUSED};
    use super::*;

    struct Run {
        code: Result<(), u8>,
        out: String,
        err: String,
    }

    async fn keyward(store: &Arc<dyn KeyStore>, args: &[&str]) -> Run {
        let cli = Cli::try_parse_from(std::iter::once("keyward").chain(args.iter().copied()))
            .expect("valid arguments");
        let Command::Keys(command) = cli.command else {
            panic!("not a keys command: {args:?}");
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(
            command,
            Arc::clone(store),
            cli.keyspace.as_ref(),
            &mut Printer::new(cli.json, &mut out, &mut err),
        )
        .await
        .map_err(|error| error.exit_code());
        Run {
            code,
            out: String::from_utf8(out).expect("utf-8"),
            err: String::from_utf8(err).expect("utf-8"),
        }
    }

    #[tokio::test]
    async fn lifecycle_in_memory() {
        let store: Arc<dyn KeyStore> = Arc::new(MemoryStore::new());
        // The app's keyspace, which the command line applies without being told.
        let manager = KeyManager::builder_shared(Arc::clone(&store))
            .keyspace("app")
            .max_active_keys(1)
            .declare(Drift::Refuse)
            .await
            .expect("valid policy");
        let create = ["keys", "create", "--tenant", "t"];
        let created = keyward(&store, &create).await;
        assert_eq!(created.code, Ok(()));
        let token = created.out.trim_end().to_owned();
        let key = manager.verify(&token).await.expect("the printed token works");
        assert!(created.err.contains(key.id.as_str()), "{}", created.err);

        let limit = keyward(&store, &create).await;
        assert_eq!(limit.code, Err(REFUSED), "limit of one key");

        let rotated = keyward(
            &store,
            &["keys", "rotate", key.id.as_str(), "--tenant", "t", "--json"],
        )
        .await;
        assert_eq!(rotated.code, Ok(()));
        let value: serde_json::Value = serde_json::from_str(&rotated.out).expect("JSON");
        let successor = value["token"].as_str().expect("a token");
        assert!(manager.verify(successor).await.is_ok());
        assert_eq!(value["previous"]["status"], "active", "in its grace period");
        assert!(value["previous"]["grace_until"].is_string());

        let revoked = keyward(&store, &["keys", "revoke", key.id.as_str(), "--tenant", "t"]).await;
        assert_eq!(revoked.code, Ok(()));
        assert!(revoked.out.contains("status:         revoked"), "{}", revoked.out);
        let stored = manager
            .get(&key.tenant, &key.id)
            .await
            .expect("read")
            .expect("kept");
        assert_eq!(stored.status(manager.now()), KeyStatus::Revoked);

        let other_tenant = keyward(&store, &["keys", "show", key.id.as_str(), "--tenant", "u"]).await;
        assert_eq!(other_tenant.code, Err(NOT_FOUND));
    }
}
