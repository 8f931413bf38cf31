//! The command line's grammar: commands, options and how their values are parsed.
//!
//! Values are validated here, while parsing, so a bad tenant, scope, tier, key id or duration is a
//! usage error (exit code 2) reported before any store is opened.

use std::fmt;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use keyward_core::audit::AuditQuery;
use keyward_core::credits::MAX_CREDITS;
use keyward_core::{Environment, KeyId, KeyKind, KeyspaceName, Refill, Rotation, ScopeSet, TenantId, Tier};

use super::error::EXIT_CODES_HELP;
use super::store::redact;
use super::when::{When, parse_when};

/// Manage keyward API keys in a key store, and read their usage and audit log.
///
/// Tokens are printed once, by `keys create` and `keys rotate`, and never again: the store keeps
/// only their hash.
#[derive(Parser)]
// A missing command is a usage error like any other (one `error:` line, exit code 2), not a help page.
#[command(name = "keyward", version, after_help = EXIT_CODES_HELP, arg_required_else_help = false)]
pub(crate) struct Cli {
    /// The key store: `sqlite://PATH`, `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` or `memory:`.
    #[arg(
        long,
        global = true,
        env = "KEYWARD_STORE",
        default_value = "sqlite://keyward.db",
        value_name = "URL",
        hide_env_values = true
    )]
    pub(crate) store: String,

    /// The keyspace whose keys and policy to act on. Default: the store's only keyspace, else
    /// `default` when the store has it or no keyspace at all; otherwise one must be named.
    #[arg(long, global = true, env = "KEYWARD_KEYSPACE", value_name = "NAME")]
    pub(crate) keyspace: Option<KeyspaceName>,

    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl fmt::Debug for Cli {
    /// Shows the store URL with its password redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli")
            .field("store", &redact(&self.store))
            .field("keyspace", &self.keyspace)
            .field("json", &self.json)
            .field("command", &self.command)
            .finish()
    }
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, list, show, revoke and rotate keys, by the keyspace's policy.
    #[command(subcommand, arg_required_else_help = false)]
    Keys(KeysCommand),
    /// List keyspaces, show one's policy, or change it (every process on the store applies the
    /// change within a second).
    #[command(subcommand, arg_required_else_help = false)]
    Keyspace(KeyspaceCommand),
    /// Print a tenant's audit log, newest first; `audit prune` deletes old events.
    ///
    /// One line per authenticated request: time (RFC 3339, UTC), key fingerprint, method and
    /// path, status, request id, client IP, user agent; `-` when missing. With `--json`: an array
    /// of objects. No token or hash is ever shown.
    ///
    /// WHEN is an RFC 3339 time in UTC (`2026-12-01T00:00:00Z`) or a duration ago (`24h`, `7d`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Audit(AuditArgs),
    /// Print a tenant's keys and their use: id, status, display prefix, last use (or `never`),
    /// request count, credits left and the next refill (`-` for keys whose requests are not
    /// counted), name.
    Usage(TenantArg),
    /// Bring the store's schema up to date (other commands refuse an outdated one), and report
    /// success.
    Migrate,
    /// Print the regular expressions that match the tokens of the store's keyspaces, one per
    /// line, for secret scanners (`grep -E`, gitleaks, trufflehog).
    Patterns,
}

/// `keyward keys …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a key and print its token once.
    ///
    /// Text output: the token alone on stdout (one line, so `TOKEN=$(keyward keys create …)`
    /// captures it), and the key's details on stderr. With `--json`: one object on stdout holding
    /// `token` and the key's fields.
    Create(CreateArgs),
    /// List a tenant's keys, oldest first: id, status, kind, environment, display prefix, tier,
    /// scopes, credits left (`-`: its requests are not counted), creation time, name.
    List(TenantArg),
    /// Show one key.
    Show(KeyArgs),
    /// Revoke a key at once.
    Revoke(KeyArgs),
    /// Create a successor of a key and print its token once; the old key is treated as the
    /// keyspace's rotation rule says, unless `--grace`, `--immediate` or `--two-step` says
    /// otherwise where the policy allows: it keeps working for a grace period, stops at once, or
    /// works until it is revoked.
    ///
    /// Output as for `create`; `--json` adds the old key as `previous`.
    Rotate(RotateArgs),
    /// Set, add to or remove a key's credits: a budget of requests that its lineage (the key and
    /// its successors by rotation) spends, refilled periodically or not, after which the app
    /// answers 429 `usage_exceeded`. A request costs its route's cost (1 unless the app says
    /// otherwise); a request the app answers with an error costs nothing.
    ///
    /// Each prints the key as `show` does, and what changed on stderr. Running apps count by
    /// the new credits within a second.
    #[command(subcommand, arg_required_else_help = false)]
    Credits(CreditsCommand),
}

/// `keyward keys credits …`.
#[derive(Debug, Subcommand)]
pub(crate) enum CreditsCommand {
    /// Give the key's lineage N credits from now, replacing what it had; its refill is kept
    /// (the next one an interval from now) unless `--refill` or `--no-refill` says otherwise.
    Set(SetCreditsArgs),
    /// Add N credits to the key's lineage (a refill that is due is applied first); the key must
    /// have credits.
    Add(AddCreditsArgs),
    /// Take the credits away: the lineage's requests are no longer counted.
    Remove(KeyArgs),
}

/// `keyward keys credits set`.
#[derive(Debug, Args)]
pub(crate) struct SetCreditsArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,

    /// The credits, from 0 to 9223372036854775807.
    #[arg(value_name = "N", value_parser = clap::value_parser!(u64).range(..=MAX_CREDITS))]
    pub(crate) remaining: u64,

    #[command(flatten)]
    pub(crate) refill: RefillArgs,
}

/// `keys credits set`'s refill; at most one may be given.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct RefillArgs {
    /// Raise the credits to AMOUNT every INTERVAL (`1000/1d`, `50/12h`, `10000/30days`).
    #[arg(long, value_name = "AMOUNT/INTERVAL")]
    pub(crate) refill: Option<Refill>,

    /// No refill: the credits are spent once.
    #[arg(long)]
    pub(crate) no_refill: bool,
}

/// `keyward keys credits add`.
#[derive(Debug, Args)]
pub(crate) struct AddCreditsArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,

    /// How many to add, from 1 to 9223372036854775807 (the total stops there).
    #[arg(value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_CREDITS))]
    pub(crate) amount: u64,
}

/// `keyward keyspace …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyspaceCommand {
    /// List the store's keyspaces and their token formats.
    List,
    /// Show the keyspace's token format and policy.
    Show,
    /// Change the keyspace's policy; unnamed rules are kept. The token format never changes.
    Set(Box<PolicyArgs>),
}

/// `keyward keyspace set`: the rules to change.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// Most active keys per tenant (a key and the successor it is rotating to count once).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "no_key_limit")]
    pub(crate) max_active_keys: Option<u32>,

    /// No limit of active keys per tenant.
    #[arg(long)]
    pub(crate) no_key_limit: bool,

    /// Scopes of keys created without `--scopes`.
    #[arg(long, value_name = "SCOPES")]
    pub(crate) default_scopes: Option<ScopeSet>,

    /// The only scopes keys may be given.
    #[arg(long, value_name = "SCOPES", conflicts_with = "any_scope")]
    pub(crate) allowed_scopes: Option<ScopeSet>,

    /// Keys may be given any scope.
    #[arg(long)]
    pub(crate) any_scope: bool,

    /// Tier of keys created without `--tier`.
    #[arg(long, value_name = "TIER")]
    pub(crate) default_tier: Option<Tier>,

    /// The only tiers keys may be on, comma-separated.
    #[arg(
        long,
        value_name = "TIERS",
        value_delimiter = ',',
        conflicts_with = "any_tier"
    )]
    pub(crate) tiers: Option<Vec<Tier>>,

    /// Keys may be on any tier.
    #[arg(long)]
    pub(crate) any_tier: bool,

    /// Lifetime of keys created without `--expires` (`90d`, `1y`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "no_default_lifetime")]
    pub(crate) default_lifetime: Option<Duration>,

    /// Keys created without `--expires` never expire.
    #[arg(long)]
    pub(crate) no_default_lifetime: bool,

    #[command(flatten)]
    pub(crate) rotation: RotationArgs,

    /// `keys rotate` may only rotate as the policy says (no `--grace`, `--immediate` or
    /// `--two-step` to the contrary).
    #[arg(long, conflicts_with = "unlock_rotation")]
    pub(crate) lock_rotation: bool,

    /// `keys rotate` may override the policy's rotation.
    #[arg(long)]
    pub(crate) unlock_rotation: bool,
}

/// The tenant whose keys a command acts on.
#[derive(Debug, Args)]
pub(crate) struct TenantArg {
    /// The tenant (a site, a profile, an account): 1 to 128 visible ASCII characters.
    #[arg(long)]
    pub(crate) tenant: TenantId,
}

/// One key of a tenant.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// The key's id (`key_…`).
    pub(crate) id: KeyId,

    #[command(flatten)]
    pub(crate) tenant: TenantArg,
}

/// `keyward audit …`: the log, filtered, or a subcommand.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Instead of reading the log.
    #[command(subcommand)]
    pub(crate) command: Option<AuditCommand>,

    /// Which events to read; present exactly when no subcommand is given.
    #[command(flatten)]
    pub(crate) filter: Option<AuditFilter>,
}

/// `keyward audit prune`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Delete the audit events of every tenant older than a duration, and print how many went.
    Prune(PruneArgs),
}

/// Which audit events `keyward audit` prints.
#[derive(Debug, Args)]
pub(crate) struct AuditFilter {
    /// The tenant whose events are read: 1 to 128 visible ASCII characters.
    // Not a flattened `TenantArg`: clap tells whether the optional filter is present from its own
    // arguments only, not those of a struct flattened into it.
    #[arg(long)]
    pub(crate) tenant: TenantId,

    /// Only the events of this key (`key_…`).
    #[arg(long = "key", value_name = "KEY_ID")]
    pub(crate) key: Option<KeyId>,

    /// Only the events at this time or later.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub(crate) since: Option<When>,

    /// Only the events before this time.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub(crate) until: Option<When>,

    /// Only the events whose path starts with this text, taken literally (`/api/`).
    #[arg(long = "path", value_name = "PREFIX")]
    pub(crate) path_prefix: Option<String>,

    /// The most events printed, from 1 to 10000. Default: 100.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=AuditQuery::MAX_LIMIT as u64))]
    pub(crate) limit: Option<u64>,
}

/// `keyward audit prune`.
#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Delete the events older than this (`90d`, `720h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) older_than: Duration,
}

/// `keyward keys create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub(crate) tenant: TenantArg,

    /// A name for the key's owner (at most 100 characters).
    #[arg(long)]
    pub(crate) name: Option<String>,

    /// Comma-separated scopes (`analytics:read,campaigns:*`); `*` for everything. Default: the
    /// keyspace's default scopes.
    #[arg(long)]
    pub(crate) scopes: Option<ScopeSet>,

    /// Secret keys stay on servers; publishable keys may be shipped to browsers and apps.
    #[arg(long, value_enum, default_value_t = KindArg::Secret)]
    pub(crate) kind: KindArg,

    /// The key's rate-limit tier. Default: the keyspace's default tier.
    #[arg(long)]
    pub(crate) tier: Option<Tier>,

    /// Lifetime (`90d`, `12h`, `1y`). Default: the keyspace's default lifetime, if any.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) expires: Option<Duration>,

    /// Production (`live`) or sandbox (`test`) key; written into the token.
    #[arg(long = "env", value_name = "ENV", value_enum, default_value_t = EnvArg::Live)]
    pub(crate) environment: EnvArg,

    /// Credits: the key's lineage may spend this many (see `keys credits`), from 0 to
    /// 9223372036854775807. Default: its requests are not counted.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(..=MAX_CREDITS))]
    pub(crate) credits: Option<u64>,

    /// Raise the credits to AMOUNT every INTERVAL (`1000/1d`, `50/12h`); needs `--credits`.
    #[arg(long, value_name = "AMOUNT/INTERVAL", requires = "credits")]
    pub(crate) refill: Option<Refill>,
}

/// `keyward keys rotate`.
#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    pub(crate) key: KeyArgs,

    #[command(flatten)]
    pub(crate) rotation: RotationArgs,
}

/// What happens to the old key on rotation; at most one may be given.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct RotationArgs {
    /// Keep the old key working for this long (`48h`, `7d`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) grace: Option<Duration>,

    /// Revoke the old key at once.
    #[arg(long)]
    pub(crate) immediate: bool,

    /// Keep the old key working until it is revoked by hand: migrate clients, then revoke it.
    #[arg(long)]
    pub(crate) two_step: bool,
}

impl RotationArgs {
    /// The rotation asked for; `None` for the policy's.
    pub(crate) fn rotation(&self) -> Option<Rotation> {
        if self.immediate {
            Some(Rotation::Immediate)
        } else if self.two_step {
            Some(Rotation::TwoStep)
        } else {
            self.grace.map(Rotation::Grace)
        }
    }
}

/// `--kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum KindArg {
    /// A server-side key.
    Secret,
    /// A client-side key, safe to expose.
    Publishable,
}

impl From<KindArg> for KeyKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Secret => Self::Secret,
            KindArg::Publishable => Self::Publishable,
        }
    }
}

/// `--env`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EnvArg {
    /// Production.
    Live,
    /// Sandbox.
    Test,
}

impl From<EnvArg> for Environment {
    fn from(environment: EnvArg) -> Self {
        match environment {
            EnvArg::Live => Self::Live,
            EnvArg::Test => Self::Test,
        }
    }
}

/// A humantime duration (`90d`, `48h`, `1h 30m`) longer than zero.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("the duration must be longer than zero".to_owned()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(format!("{error} (expected e.g. `90d`, `48h`, `30m`)")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    use super::*;

    /// Each case is refused as a usage error of its kind, with exit code 2.
    fn assert_usage_errors(cases: &[(&str, &[&str], ErrorKind)]) {
        for &(what, args, kind) in cases {
            match parse(args) {
                Ok(cli) => panic!("{what}: parsed as {cli:?}"),
                Err(error) => {
                    assert_eq!(error.kind(), kind, "{what}");
                    assert_eq!(error.exit_code(), 2, "{what}");
                }
            }
        }
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("keyward").chain(args.iter().copied()))
    }

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn debug_hides_the_store_password() {
        let cli = parse(&["--store", "postgres://u:s3cret@db/k", "migrate"]).expect("valid arguments");
        let debug = format!("{cli:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("postgres://u:***@db/k"), "{debug}");
    }

    #[test]
    fn create_takes_every_option() {
        let cli = parse(&[
            "keys",
            "create",
            "--tenant",
            "site_1",
            "--name",
            "CI",
            "--scopes",
            "a:read,b:*",
            "--kind",
            "publishable",
            "--tier",
            "pro",
            "--expires",
            "90d",
            "--env",
            "test",
            "--json",
        ])
        .expect("valid arguments");
        assert!(cli.json);
        let Command::Keys(KeysCommand::Create(create)) = cli.command else {
            panic!("expected keys create, got {:?}", cli.command);
        };
        assert_eq!(create.tenant.tenant.as_str(), "site_1");
        assert_eq!(create.name.as_deref(), Some("CI"));
        assert_eq!(
            create.scopes.map(|s| s.to_string()).as_deref(),
            Some("a:read b:*")
        );
        assert_eq!(create.kind, KindArg::Publishable);
        assert_eq!(create.tier.as_ref().map(Tier::as_str), Some("pro"));
        assert_eq!(create.expires, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(create.environment, EnvArg::Test);
    }

    #[test]
    fn credits_take_a_count_and_a_refill() {
        let daily: Refill = "100/1d".parse().expect("a refill");
        let cli = parse(&[
            "keys",
            "create",
            "--tenant",
            "t",
            "--credits",
            "5",
            "--refill",
            "100/1d",
        ])
        .expect("valid arguments");
        let Command::Keys(KeysCommand::Create(create)) = cli.command else {
            panic!("expected keys create, got {:?}", cli.command);
        };
        assert_eq!((create.credits, create.refill), (Some(5), Some(daily)));

        let cases: [(&[&str], Option<Refill>, bool); 3] = [
            (&[], None, false),
            (&["--refill", "100/1d"], Some(daily), false),
            (&["--no-refill"], None, true),
        ];
        for (flags, refill, no_refill) in cases {
            let mut args = vec!["keys", "credits", "set", "key_abc", "7", "--tenant", "t"];
            args.extend_from_slice(flags);
            let cli = parse(&args).expect("valid arguments");
            let Command::Keys(KeysCommand::Credits(CreditsCommand::Set(set))) = cli.command else {
                panic!("expected keys credits set for {flags:?}");
            };
            assert_eq!(set.key.id.as_str(), "key_abc");
            assert_eq!(set.remaining, 7);
            assert_eq!(
                (set.refill.refill, set.refill.no_refill),
                (refill, no_refill),
                "{flags:?}"
            );
        }
        let cli =
            parse(&["keys", "credits", "add", "key_abc", "9", "--tenant", "t"]).expect("valid arguments");
        let Command::Keys(KeysCommand::Credits(CreditsCommand::Add(add))) = cli.command else {
            panic!("expected keys credits add");
        };
        assert_eq!((add.key.id.as_str(), add.amount), ("key_abc", 9));
        let cli = parse(&["keys", "credits", "remove", "key_abc", "--tenant", "t"]).expect("valid arguments");
        assert!(matches!(
            cli.command,
            Command::Keys(KeysCommand::Credits(CreditsCommand::Remove(_)))
        ));
    }

    #[test]
    fn rotation_flags() {
        let cases: [(&[&str], Option<Rotation>); 4] = [
            (&[], None),
            (
                &["--grace", "2h"],
                Some(Rotation::Grace(Duration::from_secs(7200))),
            ),
            (&["--immediate"], Some(Rotation::Immediate)),
            (&["--two-step"], Some(Rotation::TwoStep)),
        ];
        for (flags, expected) in cases {
            let mut args = vec!["keys", "rotate", "key_abc", "--tenant", "t"];
            args.extend_from_slice(flags);
            let cli = parse(&args).expect("valid arguments");
            let Command::Keys(KeysCommand::Rotate(rotate)) = cli.command else {
                panic!("expected keys rotate for {flags:?}");
            };
            assert_eq!(rotate.rotation.rotation(), expected, "{flags:?}");
        }
    }

    #[test]
    fn audit_takes_filters_or_prune() {
        let cli = parse(&[
            "audit",
            "--tenant",
            "t",
            "--key",
            "key_abc",
            "--since",
            "24h",
            "--until",
            "2026-12-01T00:00:00Z",
            "--path",
            "/api/",
            "--limit",
            "10000",
        ])
        .expect("valid arguments");
        let Command::Audit(AuditArgs {
            command: None,
            filter: Some(filter),
        }) = cli.command
        else {
            panic!("expected the audit log, got {:?}", cli.command);
        };
        assert_eq!(filter.tenant.as_str(), "t");
        assert_eq!(filter.key.as_ref().map(KeyId::as_str), Some("key_abc"));
        assert_eq!(filter.since, Some(When::Ago(Duration::from_secs(86_400))));
        assert_eq!(
            filter.until,
            Some(When::At("2026-12-01T00:00:00Z".parse().expect("a time")))
        );
        assert_eq!(filter.path_prefix.as_deref(), Some("/api/"));
        assert_eq!(filter.limit, Some(10_000));

        let cli = parse(&["audit", "prune", "--older-than", "90d"]).expect("valid arguments");
        let Command::Audit(AuditArgs {
            command: Some(AuditCommand::Prune(prune)),
            filter: None,
        }) = cli.command
        else {
            panic!("expected audit prune, got {:?}", cli.command);
        };
        assert_eq!(prune.older_than, Duration::from_secs(90 * 86_400));
    }

    #[test]
    fn bad_audit_values_are_usage_errors() {
        let cases: [(&str, &[&str], ErrorKind); 8] = [
            ("no tenant", &["audit"], ErrorKind::MissingRequiredArgument),
            (
                "filters without a tenant",
                &["audit", "--limit", "5"],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                "bad since",
                &["audit", "--tenant", "t", "--since", "yesterday"],
                ErrorKind::ValueValidation,
            ),
            (
                "zero limit",
                &["audit", "--tenant", "t", "--limit", "0"],
                ErrorKind::ValueValidation,
            ),
            (
                "limit over the maximum",
                &["audit", "--tenant", "t", "--limit", "10001"],
                ErrorKind::ValueValidation,
            ),
            (
                "filters with prune",
                &["audit", "--tenant", "t", "prune", "--older-than", "1d"],
                ErrorKind::ArgumentConflict,
            ),
            (
                "prune without a duration",
                &["audit", "prune"],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                "usage without a tenant",
                &["usage"],
                ErrorKind::MissingRequiredArgument,
            ),
        ];
        assert_usage_errors(&cases);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let cases: [(&str, &[&str], ErrorKind); 9] = [
            (
                "tenant with a space",
                &["keys", "list", "--tenant", "a b"],
                ErrorKind::ValueValidation,
            ),
            (
                "missing tenant",
                &["keys", "list"],
                ErrorKind::MissingRequiredArgument,
            ),
            (
                "bad scope",
                &["keys", "create", "--tenant", "t", "--scopes", "Bad"],
                ErrorKind::ValueValidation,
            ),
            (
                "bad duration",
                &["keys", "create", "--tenant", "t", "--expires", "soon"],
                ErrorKind::ValueValidation,
            ),
            (
                "zero duration",
                &["keys", "create", "--tenant", "t", "--expires", "0s"],
                ErrorKind::ValueValidation,
            ),
            (
                "bad tier",
                &["keys", "create", "--tenant", "t", "--tier", "P R O"],
                ErrorKind::ValueValidation,
            ),
            (
                "bad kind",
                &["keys", "create", "--tenant", "t", "--kind", "public"],
                ErrorKind::InvalidValue,
            ),
            (
                "bad key id",
                &["keys", "show", "nope", "--tenant", "t"],
                ErrorKind::ValueValidation,
            ),
            (
                "two rotation modes",
                &[
                    "keys",
                    "rotate",
                    "key_a",
                    "--tenant",
                    "t",
                    "--immediate",
                    "--two-step",
                ],
                ErrorKind::ArgumentConflict,
            ),
        ];
        assert_usage_errors(&cases);
    }
}
