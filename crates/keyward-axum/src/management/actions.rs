//! What a caller may do to its tenant's keys, for the JSON API (the caller is a key) and the key
//! page (the caller is a signed-in user) alike: create, revoke and rotate, each bounded by what
//! the caller may hand out.

use http::StatusCode;
use keyward_core::{ApiKey, CreatedKey, Environment, Expiry, KeyId, NewKey, Scope, ScopeSet, TenantId, Tier};

use super::ManagementApi;
use super::failure::{Failure, not_found};
use super::input::{CreateInput, Fields, rotation};
use crate::ApiError;

/// Who is acting, as the refusals name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Who {
    /// A key calling the JSON API.
    Key,
    /// A user of the key page.
    Page,
}

/// The caller: its tenant, the name its actions are logged under, and what it may hand out.
#[derive(Debug)]
pub(crate) struct Actor<'a> {
    pub(crate) who: Who,
    pub(crate) tenant: &'a TenantId,
    /// Logged as `actor`: a key id, or the page user's label (never a secret).
    pub(crate) label: &'a str,
    /// The scopes the caller may grant.
    pub(crate) scopes: &'a ScopeSet,
    /// The tier of the keys it creates unless told otherwise, and the one it may always grant.
    pub(crate) tier: &'a Tier,
    /// A test caller may not hand out live keys; the environment of new keys by default.
    pub(crate) environment: Environment,
    /// A key with credits: it may not create keys, whose requests its credits would not count.
    pub(crate) metered: bool,
}

/// What a caller is handing out a key for.
#[derive(Clone, Copy, Debug)]
enum Grant {
    Create,
    Rotate,
}

impl ManagementApi {
    /// Creates the key the body `fields` describes, for the caller's tenant.
    pub(crate) async fn create_key(
        &self,
        actor: &Actor<'_>,
        fields: Option<Fields>,
    ) -> Result<CreatedKey, Failure> {
        let input = CreateInput::parse(fields)?;
        let scopes = match input.scopes {
            Some(scopes) => scopes,
            None => self.manager.current_policy().await?.default_scopes.clone(),
        };
        let tier = input.tier.unwrap_or_else(|| actor.tier.clone());
        let environment = input.environment.unwrap_or(actor.environment);
        self.may_grant(Grant::Create, actor, &scopes, &tier, environment)?;
        let mut new = NewKey::new(actor.tenant.clone())
            .name(input.name)
            .scopes(scopes)
            .tier(tier)
            .environment(environment);
        if let Some(kind) = input.kind {
            new = new.kind(kind);
        }
        if let Some(lifetime) = input.expires_in {
            new = new.expires(Expiry::In(lifetime));
        }
        let created = self.manager.create(new).await?;
        tracing::info!(target: "keyward::management", actor = %actor.label, key_id = %created.key.id, tenant = %actor.tenant, "API key created");
        Ok(created)
    }

    /// Revokes the caller's tenant's key `id` at once.
    pub(crate) async fn revoke_key(&self, actor: &Actor<'_>, id: &KeyId) -> Result<ApiKey, Failure> {
        let revoked = self.manager.revoke(actor.tenant, id).await?;
        tracing::info!(target: "keyward::management", actor = %actor.label, key_id = %revoked.id, tenant = %actor.tenant, "API key revoked");
        Ok(revoked)
    }

    /// Rotates the caller's tenant's key `id` by the body's rule, else the manager's policy.
    pub(crate) async fn rotate_key(
        &self,
        actor: &Actor<'_>,
        id: &KeyId,
        fields: Option<Fields>,
    ) -> Result<CreatedKey, Failure> {
        let rotation = rotation(fields)?;
        let target = self.manager.get(actor.tenant, id).await?.ok_or_else(not_found)?;
        self.may_grant(
            Grant::Rotate,
            actor,
            &target.scopes,
            &target.tier,
            target.environment,
        )?;
        let created = match rotation {
            Some(rotation) => self.manager.rotate_with(actor.tenant, id, rotation).await?,
            None => self.manager.rotate(actor.tenant, id).await?,
        };
        tracing::info!(target: "keyward::management", actor = %actor.label, key_id = %created.key.id, rotated_from = %id, tenant = %actor.tenant, "API key rotated");
        Ok(created)
    }

    /// Whether `actor` may hand out a key with these scopes, tier and environment.
    fn may_grant(
        &self,
        grant: Grant,
        actor: &Actor<'_>,
        scopes: &ScopeSet,
        tier: &Tier,
        environment: Environment,
    ) -> Result<(), Failure> {
        let forbidden = |code: &'static str, param: &'static str, message: String| {
            let error = ApiError::new(StatusCode::FORBIDDEN, code, message);
            Err(match grant {
                Grant::Create => error.with_param(param).into(),
                Grant::Rotate => error.into(),
            })
        };
        let (creator, verb) = match (actor.who, grant) {
            (Who::Key, Grant::Create) => ("This key", "create"),
            (Who::Key, Grant::Rotate) => ("This key", "rotate"),
            (Who::Page, Grant::Create) => ("This page", "create"),
            (Who::Page, Grant::Rotate) => ("This page", "rotate"),
        };
        if matches!(grant, Grant::Create) && actor.metered {
            return forbidden(
                "forbidden",
                "credits",
                "A key with credits cannot create keys: their requests would not be counted".into(),
            );
        }
        let lacking: Vec<&str> = scopes
            .iter()
            .map(Scope::as_str)
            .filter(|scope| !actor.scopes.allows(scope))
            .collect();
        if !lacking.is_empty() {
            let what = match (actor.who, grant) {
                (Who::Key, Grant::Create) => "A key can only grant scopes it holds; this key lacks",
                (Who::Key, Grant::Rotate) => {
                    "A key can only rotate keys whose scopes it holds; this key lacks"
                }
                (Who::Page, _) => "This page cannot grant the scopes",
            };
            return forbidden(
                "insufficient_scope",
                "scopes",
                format!("{what}: {}", lacking.join(", ")),
            );
        }
        if tier != actor.tier && !self.assignable_tiers.contains(tier) {
            return forbidden(
                "forbidden",
                "tier",
                format!("{creator} cannot {verb} keys of the tier `{tier}`"),
            );
        }
        if environment == Environment::Live && actor.environment == Environment::Test {
            return forbidden(
                "forbidden",
                "environment",
                format!("A test key cannot {verb} live keys"),
            );
        }
        Ok(())
    }
}
