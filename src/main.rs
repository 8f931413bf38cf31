//! The `keyward` command line: create, list, show, revoke and rotate API keys in a key store
//! (SQLite, PostgreSQL), read the keys' usage and audit log and prune it, apply the store's
//! migrations, and print the patterns that find leaked tokens. `keyward --help` lists the commands
//! and the exit codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
