//! The `keyward` command line, one concept per module.

mod args;
mod error;
mod keys;
mod keyspace;
mod keyspace_view;
mod output;
mod patterns;
mod run;
mod store;
mod view;

pub(crate) use run::main;
