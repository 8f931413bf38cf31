//! [`KeyspaceView`]: a keyspace as the command line shows it.

use std::time::Duration;

use keyward_core::{KeyPolicy, Keyspace, KeyspaceName};
use serde::Serialize;

use super::view::scope_list as scopes;

/// What `keyspace list`, `show` and `set` print about a keyspace.
#[derive(Debug, Serialize)]
pub(crate) struct KeyspaceView {
    pub(crate) name: KeyspaceName,
    pub(crate) namespace: String,
    /// The regular expression that matches its tokens.
    pub(crate) pattern: String,
    pub(crate) policy: KeyPolicy,
}

impl KeyspaceView {
    pub(crate) fn new(keyspace: &Keyspace) -> Self {
        Self {
            name: keyspace.name.clone(),
            namespace: keyspace.format.namespace().to_owned(),
            pattern: keyspace.format.scan_pattern(),
            policy: keyspace.policy.clone(),
        }
    }

    /// `field: value` pairs in the order `show` prints them.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let policy = &self.policy;
        let list =
            |items: Option<Vec<String>>| items.map_or_else(|| "any".to_owned(), |items| items.join(","));
        vec![
            ("keyspace", self.name.to_string()),
            ("pattern", self.pattern.clone()),
            ("default_scopes", scopes(&policy.default_scopes)),
            (
                "allowed_scopes",
                list(policy.allowed_scopes.as_ref().map(|s| vec![scopes(s)])),
            ),
            ("default_tier", policy.default_tier.to_string()),
            (
                "tiers",
                list(
                    policy
                        .tiers
                        .as_ref()
                        .map(|tiers| tiers.iter().map(ToString::to_string).collect()),
                ),
            ),
            (
                "default_lifetime",
                policy
                    .default_lifetime
                    .map_or_else(|| "never expires".to_owned(), duration),
            ),
            (
                "max_active_keys",
                policy
                    .max_active_keys
                    .map_or_else(|| "no limit".to_owned(), |max| max.to_string()),
            ),
            ("rotation", self.rotation_text()),
            (
                "rotation_locked",
                if policy.rotation_locked { "yes" } else { "no" }.to_owned(),
            ),
        ]
    }

    /// The row of `keyspace list`: name, key limit, rotation, pattern.
    pub(crate) fn columns(&self) -> [String; 4] {
        [
            self.name.to_string(),
            self.policy
                .max_active_keys
                .map_or_else(|| "-".to_owned(), |max| max.to_string()),
            self.rotation_text(),
            self.pattern.clone(),
        ]
    }

    /// The rotation rule: `grace 2days`, `immediate` or `two-step`.
    pub(crate) fn rotation_text(&self) -> String {
        self.policy.rotation.to_string()
    }
}

fn duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}
