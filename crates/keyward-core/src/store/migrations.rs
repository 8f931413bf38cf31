//! [`Migrations`]: whether opening a SQL store brings its schema up to date, or only checks it.

/// What opening a SQL store does with its schema.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Migrations {
    /// Applies the migrations the store lacks: what an app does when it starts.
    #[default]
    Apply,
    /// Refuses a store whose schema is older than this version of keyward
    /// ([`StoreError::SchemaOutdated`](super::StoreError::SchemaOutdated)) and writes nothing;
    /// a database with no keyward schema yet is set up. What a tool beside a running app (the
    /// `keyward` CLI) does, so that the schema changes only when its operator says so.
    RequireCurrent,
}
