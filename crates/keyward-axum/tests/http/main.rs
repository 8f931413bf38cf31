//! keyward-axum over real HTTP: an axum app served on loopback, spoken to with reqwest.

mod app_errors;
mod bad_input;
mod extractor;
mod guards;
mod host;
mod logs;
mod management;
mod page;
mod page_app;
mod page_browser;
mod placement;
mod raw;
mod scope_queries;
mod support;
