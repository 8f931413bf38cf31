//! The `keyward` command line, one concept per module.

mod args;
mod audit;
mod credits;
mod error;
mod event_view;
mod keys;
mod keyspace;
mod keyspace_view;
mod output;
mod patterns;
mod run;
mod store;
mod usage;
mod view;
mod when;

pub(crate) use run::main;
