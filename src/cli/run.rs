//! The command line's entry point: parse, run, and turn the outcome into an exit code.

use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use keyward_core::store::Migrations;
use tracing_subscriber::EnvFilter;

use super::args::{Cli, Command};
use super::error::{CliError, SUCCESS, USAGE, single_line};
use super::output::Printer;
use super::{audit, keys, keyspace, patterns, store, usage};

/// Runs `keyward` with the process's arguments.
///
/// Failures print one `error: …` line on stderr and exit with the code of their class (see
/// [`EXIT_CODES_HELP`](super::error::EXIT_CODES_HELP)).
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    init_tracing();
    let mut printer = Printer::stdio(cli.json);
    match execute(cli, &mut printer) {
        Ok(()) => ExitCode::from(SUCCESS),
        Err(error) => {
            let _ = writeln!(io::stderr(), "error: {}", error.one_line());
            ExitCode::from(error.exit_code())
        }
    }
}

fn execute<O: Write, E: Write>(cli: Cli, printer: &mut Printer<O, E>) -> Result<(), CliError> {
    match cli.command {
        Command::Migrate => block_on(store::migrate(&cli.store, printer)),
        Command::Patterns => block_on(async {
            let store = store::open(&cli.store, Migrations::RequireCurrent).await?;
            patterns::run(store, printer).await
        }),
        Command::Keys(command) => block_on(async {
            let store = store::open(&cli.store, Migrations::RequireCurrent).await?;
            keys::run(command, store, cli.keyspace.as_ref(), printer).await
        }),
        Command::Keyspace(command) => block_on(async {
            let store = store::open(&cli.store, Migrations::RequireCurrent).await?;
            keyspace::run(command, store, cli.keyspace.as_ref(), printer).await
        }),
        Command::Audit(args) => block_on(async {
            let store = store::open(&cli.store, Migrations::RequireCurrent).await?;
            audit::run(args, store, printer).await
        }),
        Command::Usage(args) => block_on(async {
            let store = store::open(&cli.store, Migrations::RequireCurrent).await?;
            usage::run(args, store, cli.keyspace.as_ref(), printer).await
        }),
    }
}

/// Runs `task` on a single-threaded runtime: one command, one store connection at a time.
fn block_on(task: impl Future<Output = Result<(), CliError>>) -> Result<(), CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?
        .block_on(task)
}

/// Help and version go to stdout as clap prints them; usage errors become one `error: …` line.
fn clap_exit(error: &clap::Error) -> ExitCode {
    let code = u8::try_from(error.exit_code()).unwrap_or(USAGE);
    if !error.use_stderr() {
        let _ = error.print();
        return ExitCode::from(code);
    }
    let _ = writeln!(io::stderr(), "{}", clap_one_line(&error.render().to_string()));
    ExitCode::from(code)
}

/// clap's message (`error: …`, its details and tips) without the usage and help pointer, on one
/// line: a line that continues the one before (after a `:`, or a `[possible values: …]`) is joined
/// with a space, others (tips) with `; `.
fn clap_one_line(rendered: &str) -> String {
    let mut line = String::new();
    let message = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .map(str::trim)
        .filter(|part| !part.is_empty());
    for part in message {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') || part.starts_with('[') {
                " "
            } else {
                "; "
            });
        }
        line.push_str(part);
    }
    single_line(&line)
}

/// Logs go to stderr, filtered by `RUST_LOG` (warnings only by default).
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_fold_to_one_line() {
        let cases: [(&[&str], &str); 5] = [
            (
                &["keys", "list"],
                "error: the following required arguments were not provided: --tenant <TENANT>",
            ),
            (
                &["keys", "list", "--tenant", "a b"],
                "error: invalid value 'a b' for '--tenant <TENANT>': invalid tenant: expected 1 to 128 visible ASCII characters",
            ),
            (&["nope"], "error: unrecognized subcommand 'nope'"),
            (
                &["keys", "lst"],
                "error: unrecognized subcommand 'lst'; tip: a similar subcommand exists: 'list'",
            ),
            (
                &["keys", "create", "--tenant", "t", "--env", "x"],
                "error: invalid value 'x' for '--env <ENV>' [possible values: live, test]",
            ),
        ];
        for (args, expected) in cases {
            let Err(error) = Cli::try_parse_from(std::iter::once("keyward").chain(args.iter().copied()))
            else {
                panic!("{args:?} parsed");
            };
            let line = clap_one_line(&error.render().to_string());
            assert!(line.starts_with(expected), "{args:?}: {line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }
}
