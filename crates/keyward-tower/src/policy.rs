//! Per-route rules (public routes, costs, routes open to publishable keys) and the tenant gate.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

use futures_util::future::BoxFuture;
use keyward_core::ApiKey;

use crate::Rejection;

/// A path pattern: `/v1/customers` matches that path and every path below it; a segment `*` or
/// `{name}` matches any one segment (`/v1/api/messages/{id}/render`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PathPattern(Vec<Box<str>>);

impl PathPattern {
    pub(crate) fn new(pattern: &str) -> Self {
        Self(
            pattern
                .split('/')
                .filter(|s| !s.is_empty())
                .map(Into::into)
                .collect(),
        )
    }

    #[inline]
    fn matches(&self, path: &str) -> bool {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        self.0.iter().all(|pattern| {
            segments.next().is_some_and(|segment| {
                &**pattern == segment
                    || &**pattern == "*"
                    || (pattern.starts_with('{') && pattern.ends_with('}'))
            })
        })
    }
}

#[derive(Clone, Debug)]
struct Rule {
    pattern: PathPattern,
    action: Action,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Public,
    Cost(NonZeroU32),
    AllowPublishable,
}

/// The rules of the routes: which need no key, what each costs, which accept publishable keys.
#[derive(Clone, Default)]
pub(crate) struct RouteRules {
    rules: Vec<Rule>,
}

impl fmt::Debug for RouteRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteRules").field("rules", &self.rules).finish()
    }
}

/// What the rules say of one request's route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RouteClass {
    pub(crate) public: bool,
    pub(crate) cost: NonZeroU32,
    pub(crate) publishable: bool,
}

impl RouteRules {
    pub(crate) fn public(&mut self, pattern: &str) {
        self.push(pattern, Action::Public);
    }

    pub(crate) fn cost(&mut self, pattern: &str, cost: NonZeroU32) {
        self.push(pattern, Action::Cost(cost));
    }

    pub(crate) fn allow_publishable(&mut self, pattern: &str) {
        self.push(pattern, Action::AllowPublishable);
    }

    fn push(&mut self, pattern: &str, action: Action) {
        self.rules.push(Rule {
            pattern: PathPattern::new(pattern),
            action,
        });
    }

    /// Costs are the highest of the matching rules; public and publishable if any rule says so.
    #[inline]
    pub(crate) fn classify(&self, path: &str) -> RouteClass {
        let mut class = RouteClass {
            public: false,
            cost: NonZeroU32::MIN,
            publishable: false,
        };
        for rule in &self.rules {
            if rule.pattern.matches(path) {
                match rule.action {
                    Action::Public => class.public = true,
                    Action::Cost(cost) => class.cost = class.cost.max(cost),
                    Action::AllowPublishable => class.publishable = true,
                }
            }
        }
        class
    }
}

/// An async check of the key's tenant after authentication: plan, billing, API access switched
/// off (Toksta answers 403 for each). Runs on every authenticated request, so cache what it reads.
///
/// Closures `Fn(&ApiKey) -> BoxFuture<Result<(), Rejection>>` implement it.
pub trait TenantGate: Send + Sync + 'static {
    /// `Ok` to let the request through; a [`Rejection`] (usually [`Rejection::Forbidden`]) to refuse.
    fn check<'a>(&'a self, key: &'a ApiKey) -> BoxFuture<'a, Result<(), Rejection>>;
}

impl<F> TenantGate for F
where
    F: for<'a> Fn(&'a ApiKey) -> BoxFuture<'a, Result<(), Rejection>> + Send + Sync + 'static,
{
    fn check<'a>(&'a self, key: &'a ApiKey) -> BoxFuture<'a, Result<(), Rejection>> {
        self(key)
    }
}

impl Rejection {
    /// A 403 `forbidden` with this message.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Forbidden(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let cases = [
            ("/v1/customers", "/v1/customers", true),
            ("/v1/customers", "/v1/customers/42", true),
            ("/v1/customers", "/v1/customersx", false),
            ("/v1/customers", "/v1", false),
            ("/api/", "/api/app/info", true),
            ("/api/", "/v1/api/banners", false),
            ("/v1/api/messages/{id}/render", "/v1/api/messages/7/render", true),
            ("/v1/api/messages/*/render", "/v1/api/messages/7/other", false),
            ("/", "/anything", true),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                PathPattern::new(pattern).matches(path),
                expected,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn classify_combines_rules() {
        let mut rules = RouteRules::default();
        rules.public("/api/");
        rules.cost("/v1/customers", NonZeroU32::new(3).unwrap());
        rules.cost("/v1", NonZeroU32::new(2).unwrap());
        rules.allow_publishable("/v1/api/banners");
        assert!(rules.classify("/api/app/info").public);
        assert_eq!(rules.classify("/v1/customers").cost.get(), 3);
        assert_eq!(rules.classify("/v1/other").cost.get(), 2);
        assert_eq!(rules.classify("/elsewhere").cost.get(), 1);
        assert!(rules.classify("/v1/api/banners").publishable);
        assert!(!rules.classify("/v1/api/analytics/overview").publishable);
    }
}
