//! The command line's grammar: commands, options and how their values are parsed.
//!
//! Values are validated here, while parsing, so a bad tenant, scope, tier, key id or duration is a
//! usage error (exit code 2) reported before any store is opened.

use std::fmt;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use keyward_core::{Environment, KeyId, KeyKind, Rotation, ScopeSet, TenantId, Tier};

use super::error::EXIT_CODES_HELP;
use super::store::redact;

/// Manage keyward API keys in a key store.
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
            .field("json", &self.json)
            .field("command", &self.command)
            .finish()
    }
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, list, show, revoke and rotate keys.
    #[command(subcommand, arg_required_else_help = false)]
    Keys(KeysCommand),
    /// Open the store, which applies its schema migrations, and report success.
    Migrate,
    /// Print the regular expressions that match keyward tokens, one per line, for secret scanners
    /// (`grep -E`, gitleaks, trufflehog).
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
    /// List a tenant's keys, oldest first.
    List(TenantArg),
    /// Show one key.
    Show(KeyArgs),
    /// Revoke a key at once.
    Revoke(KeyArgs),
    /// Create a successor of a key and print its token once; the old key keeps working for the
    /// grace period (48 hours unless told otherwise), stops at once (`--immediate`), or works until
    /// it is revoked (`--two-step`).
    ///
    /// Output as for `create`; `--json` adds the old key as `previous`.
    Rotate(RotateArgs),
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

/// `keyward keys create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub(crate) tenant: TenantArg,

    /// A name for the key's owner (at most 100 characters).
    #[arg(long)]
    pub(crate) name: Option<String>,

    /// Comma-separated scopes (`analytics:read,campaigns:*`); `*` for everything. Default: `*`.
    #[arg(long)]
    pub(crate) scopes: Option<ScopeSet>,

    /// Secret keys stay on servers; publishable keys may be shipped to browsers and apps.
    #[arg(long, value_enum, default_value_t = KindArg::Secret)]
    pub(crate) kind: KindArg,

    /// The key's rate-limit tier. Default: `default`.
    #[arg(long)]
    pub(crate) tier: Option<Tier>,

    /// Lifetime (`90d`, `12h`, `1y`); without it the key never expires.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) expires: Option<Duration>,

    /// Refuse to create the key when the tenant already has this many active keys (a key and the
    /// successor it is rotating to count once). Default: no limit.
    #[arg(long, env = "KEYWARD_MAX_ACTIVE_KEYS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_active_keys: Option<u32>,

    /// Production (`live`) or sandbox (`test`) key; written into the token.
    #[arg(long = "env", value_name = "ENV", value_enum, default_value_t = EnvArg::Live)]
    pub(crate) environment: EnvArg,
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
    /// Keep the old key working for this long (`48h`, `7d`). This is the default, for 48 hours.
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
    /// The rotation asked for; `None` for the manager's default.
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
fn parse_duration(text: &str) -> Result<Duration, String> {
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
        for (what, args, kind) in cases {
            match parse(args) {
                Ok(cli) => panic!("{what}: parsed as {cli:?}"),
                Err(error) => {
                    assert_eq!(error.kind(), kind, "{what}");
                    assert_eq!(error.exit_code(), 2, "{what}");
                }
            }
        }
    }
}
