//! [`KeyView`]: a key as the command line shows it, and [`UsageView`], its use as `keyward usage`
//! shows it. Neither has a field for a secret or a hash.

use keyward_core::credits::CreditsView;
use keyward_core::time::Timestamp;
use keyward_core::{ApiKey, Environment, KeyId, KeyKind, KeyStatus, KeyspaceName, ScopeSet, TenantId, Tier};
use serde::Serialize;

/// What `show`, `list`, `revoke`, `create` and `rotate` print about a key.
///
/// Built field by field from an [`ApiKey`], so a field added to the record (a hash, say) is shown
/// only once it is added here.
#[derive(Debug, Serialize)]
pub(crate) struct KeyView {
    pub(crate) id: KeyId,
    pub(crate) tenant: TenantId,
    pub(crate) keyspace: KeyspaceName,
    pub(crate) name: String,
    pub(crate) display_prefix: String,
    pub(crate) kind: KeyKind,
    pub(crate) environment: Environment,
    pub(crate) scopes: ScopeSet,
    pub(crate) tier: Tier,
    pub(crate) status: KeyStatus,
    pub(crate) created_at: Timestamp,
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) revoked_at: Option<Timestamp>,
    pub(crate) last_used_at: Option<Timestamp>,
    pub(crate) request_count: u64,
    pub(crate) lineage: KeyId,
    pub(crate) rotated_from: Option<KeyId>,
    pub(crate) grace_until: Option<Timestamp>,
    /// The lineage's credits as they stand; `None`: its requests are not counted.
    pub(crate) credits: Option<CreditsView>,
}

impl KeyView {
    /// The view of `key`, its status taken at `now`.
    pub(crate) fn new(key: &ApiKey, now: Timestamp) -> Self {
        Self {
            id: key.id.clone(),
            tenant: key.tenant.clone(),
            keyspace: key.keyspace.clone(),
            name: key.name.clone(),
            display_prefix: key.display_prefix.clone(),
            kind: key.kind,
            environment: key.environment,
            scopes: key.scopes.clone(),
            tier: key.tier.clone(),
            status: key.status(now),
            created_at: key.created_at,
            expires_at: key.expires_at,
            revoked_at: key.revoked_at,
            last_used_at: key.last_used_at,
            request_count: key.request_count,
            lineage: key.lineage.clone(),
            rotated_from: key.rotated_from.clone(),
            grace_until: key.grace_until,
            credits: key.credits.map(|credits| credits.view(now)),
        }
    }

    /// The credits left, `-` when the key's requests are not counted (`keys list`).
    pub(crate) fn credits_text(&self) -> String {
        remaining(self.credits.as_ref())
    }

    /// The scopes as `--scopes` takes them.
    pub(crate) fn scopes_text(&self) -> String {
        scope_list(&self.scopes)
    }

    /// The status as its JSON name (`active`, `revoked`, `expired`, `grace_over`).
    pub(crate) fn status_text(&self) -> &'static str {
        self.status.as_str()
    }

    /// `field: value` pairs in the order `show` prints them; absent values are `-`.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let time = |t: Option<Timestamp>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
        let id = |id: Option<&KeyId>| id.map_or_else(|| "-".to_owned(), KeyId::to_string);
        vec![
            ("id", self.id.to_string()),
            ("tenant", self.tenant.to_string()),
            ("keyspace", self.keyspace.to_string()),
            (
                "name",
                if self.name.is_empty() {
                    "-".to_owned()
                } else {
                    self.name.clone()
                },
            ),
            ("display_prefix", self.display_prefix.clone()),
            ("kind", self.kind.to_string()),
            ("environment", self.environment.to_string()),
            ("scopes", self.scopes_text()),
            ("tier", self.tier.to_string()),
            ("status", self.status_text().to_owned()),
            ("created_at", self.created_at.to_string()),
            ("expires_at", time(self.expires_at)),
            ("revoked_at", time(self.revoked_at)),
            ("last_used_at", time(self.last_used_at)),
            ("request_count", self.request_count.to_string()),
            ("lineage", self.lineage.to_string()),
            ("rotated_from", id(self.rotated_from.as_ref())),
            ("grace_until", time(self.grace_until)),
            ("credits", self.credits_text()),
            (
                "refill",
                self.credits
                    .and_then(|c| c.refill)
                    .map_or_else(|| "-".to_owned(), |refill| refill.to_string()),
            ),
            ("next_refill_at", next_refill(self.credits.as_ref())),
        ]
    }
}

/// Credits left, `-` for none.
fn remaining(credits: Option<&CreditsView>) -> String {
    credits.map_or_else(|| "-".to_owned(), |c| c.remaining.to_string())
}

/// When the credits are next refilled, `-` without credits or a refill.
fn next_refill(credits: Option<&CreditsView>) -> String {
    credits
        .and_then(|c| c.next_refill_at)
        .map_or_else(|| "-".to_owned(), |at| at.to_string())
}

/// Scopes as `--scopes` takes them: comma-separated, `(none)` for the empty set.
pub(crate) fn scope_list(scopes: &ScopeSet) -> String {
    if scopes.is_empty() {
        return "(none)".to_owned();
    }
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
}

/// What `keyward usage` prints about a key: who it is and how much it was used.
#[derive(Debug, Serialize)]
pub(crate) struct UsageView {
    pub(crate) id: KeyId,
    pub(crate) name: String,
    pub(crate) display_prefix: String,
    pub(crate) status: KeyStatus,
    pub(crate) last_used_at: Option<Timestamp>,
    pub(crate) request_count: u64,
    /// The lineage's credits as they stand; `None`: its requests are not counted.
    pub(crate) credits: Option<CreditsView>,
}

impl UsageView {
    /// The usage of `key`, its status taken at `now`.
    pub(crate) fn new(key: &ApiKey, now: Timestamp) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            display_prefix: key.display_prefix.clone(),
            status: key.status(now),
            last_used_at: key.last_used_at,
            request_count: key.request_count,
            credits: key.credits.map(|credits| credits.view(now)),
        }
    }

    /// The table row: id, status, display prefix, last use (`never`), requests, credits left and
    /// the next refill (`-`), name (`-`).
    pub(crate) fn columns(&self) -> [String; 8] {
        [
            self.id.to_string(),
            self.status.as_str().to_owned(),
            self.display_prefix.clone(),
            self.last_used_at
                .map_or_else(|| "never".to_owned(), |at| at.to_string()),
            self.request_count.to_string(),
            remaining(self.credits.as_ref()),
            next_refill(self.credits.as_ref()),
            if self.name.is_empty() {
                "-".to_owned()
            } else {
                self.name.clone()
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use keyward_core::{KeyManager, MemoryStore, NewKey};

    use super::*;

    #[tokio::test]
    async fn shows_no_secret_and_the_status_at_now() {
        let manager = KeyManager::new(MemoryStore::new());
        let tenant = TenantId::new("site_1").expect("valid tenant");
        let created = manager
            .create(
                NewKey::new(tenant)
                    .scopes("a:read,b:*".parse().expect("valid scopes"))
                    .expires(keyward_core::Expiry::In(Duration::from_secs(60))),
            )
            .await
            .expect("created");
        let now = manager.now();
        let view = KeyView::new(&created.key, now);
        let json = serde_json::to_string(&view).expect("serializable");
        let hash = created.key.secret_hash.to_hex();
        for text in [json.clone(), format!("{:?}", view.fields())] {
            assert!(!text.contains(created.token.expose()), "{text}");
            assert!(!text.contains(&hash), "{text}");
        }
        assert_eq!(view.status, KeyStatus::Active);
        assert_eq!(view.scopes_text(), "a:read,b:*");
        assert!(json.contains(r#""status":"active""#), "{json}");

        let later = KeyView::new(&created.key, now.plus(Duration::from_secs(61)));
        assert_eq!(later.status_text(), "expired");
    }
}
