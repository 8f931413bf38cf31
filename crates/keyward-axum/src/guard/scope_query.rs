//! [`ScopeQuery`]: which scopes satisfy a route, as all of some, any of some, or a nesting of both.

use keyward_core::scope::InvalidScope;
use keyward_core::{Scope, ScopeSet};

/// A combination of scopes a key must hold: one scope, all of several, any of several, nested.
///
/// What a refused key is told ([`missing`](Self::missing), the `scope` attribute of the 403's
/// `WWW-Authenticate`) is what granting would satisfy the query: for [`All`](Self::All), what each
/// unmet member needs; for an unmet [`Any`](Self::Any), every alternative, so that the client
/// learns each scope it could ask for (any one of them, or of its alternatives' scopes, suffices).
/// An empty `All` is satisfied by every key, an empty `Any` by none.
///
/// ```
/// use keyward_axum::guard::ScopeQuery;
/// use keyward_core::ScopeSet;
///
/// // reports:read, and one of analytics:read or analytics:export.
/// let query = ScopeQuery::All(vec![
///     ScopeQuery::scope("reports:read")?,
///     ScopeQuery::any_of(["analytics:read", "analytics:export"])?,
/// ]);
/// let granted: ScopeSet = "reports:read analytics:export".parse()?;
/// assert!(query.is_satisfied_by(&granted));
/// let partial: ScopeSet = "analytics:*".parse()?;
/// assert_eq!(query.missing(&partial), ["reports:read"]);
/// let none: ScopeSet = "billing:read".parse()?;
/// assert_eq!(query.missing(&none), ["reports:read", "analytics:read", "analytics:export"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeQuery {
    /// This scope (granted by itself, its `resource:*` or `*`).
    Scope(Scope),
    /// Every one of these.
    All(Vec<ScopeQuery>),
    /// At least one of these.
    Any(Vec<ScopeQuery>),
}

impl ScopeQuery {
    /// One scope.
    ///
    /// ```
    /// use keyward_axum::guard::ScopeQuery;
    ///
    /// let query = ScopeQuery::scope("reports:read")?;
    /// assert!(query.is_satisfied_by(&"reports:*".parse()?));
    /// assert!(ScopeQuery::scope("Reports Read").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidScope`] when `scope` is not `resource:action`, `resource:*` or `*`.
    pub fn scope(scope: &str) -> Result<Self, InvalidScope> {
        Scope::new(scope).map(Self::Scope)
    }

    /// Every scope of `scopes`.
    ///
    /// ```
    /// use keyward_axum::guard::ScopeQuery;
    ///
    /// let query = ScopeQuery::all_of(["a:read", "b:read"])?;
    /// assert!(!query.is_satisfied_by(&"a:read".parse()?));
    /// assert!(query.is_satisfied_by(&"a:read b:read".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first [`InvalidScope`].
    pub fn all_of<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        leaves(scopes).map(Self::All)
    }

    /// At least one scope of `scopes`.
    ///
    /// ```
    /// use keyward_axum::guard::ScopeQuery;
    ///
    /// let query = ScopeQuery::any_of(["a:read", "b:read"])?;
    /// assert!(query.is_satisfied_by(&"b:read".parse()?));
    /// assert!(!query.is_satisfied_by(&"c:read".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first [`InvalidScope`].
    pub fn any_of<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        leaves(scopes).map(Self::Any)
    }

    /// Whether a key granted `granted` satisfies the query.
    ///
    /// ```
    /// use keyward_axum::guard::ScopeQuery;
    /// use keyward_core::ScopeSet;
    ///
    /// let query = ScopeQuery::any_of(["a:read", "b:read"])?;
    /// assert!(query.is_satisfied_by(&ScopeSet::unrestricted()));
    /// assert!(!query.is_satisfied_by(&ScopeSet::empty()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_satisfied_by(&self, granted: &ScopeSet) -> bool {
        match self {
            Self::Scope(scope) => granted.allows(scope.as_str()),
            Self::All(members) => members.iter().all(|member| member.is_satisfied_by(granted)),
            Self::Any(members) => members.iter().any(|member| member.is_satisfied_by(granted)),
        }
    }

    /// What a key granted `granted` would need for the query, in the query's order, each scope
    /// once (see the type's documentation for `Any`); empty when it is satisfied, and for an empty
    /// `Any`, which nothing satisfies and which names nothing.
    ///
    /// ```
    /// use keyward_axum::guard::ScopeQuery;
    ///
    /// let query = ScopeQuery::all_of(["a:read", "b:read", "a:read"])?;
    /// assert_eq!(query.missing(&"c:read".parse()?), ["a:read", "b:read"]);
    /// assert!(query.missing(&"a:read b:read".parse()?).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn missing(&self, granted: &ScopeSet) -> Vec<&str> {
        let mut missing = Vec::new();
        self.unmet(granted, &mut missing);
        let mut seen = Vec::with_capacity(missing.len());
        missing.retain(|scope| {
            let first = !seen.contains(scope);
            seen.push(*scope);
            first
        });
        missing
    }

    /// Every scope the query names, in order.
    ///
    /// ```
    /// use keyward_axum::guard::ScopeQuery;
    ///
    /// let query = ScopeQuery::Any(vec![ScopeQuery::all_of(["a:read", "b:read"])?, ScopeQuery::scope("*")?]);
    /// assert_eq!(query.scopes().collect::<Vec<_>>(), ["a:read", "b:read", "*"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        let mut pending = vec![self];
        std::iter::from_fn(move || {
            while let Some(query) = pending.pop() {
                match query {
                    Self::Scope(scope) => return Some(scope.as_str()),
                    Self::All(members) | Self::Any(members) => pending.extend(members.iter().rev()),
                }
            }
            None
        })
    }

    /// Pushes what `granted` lacks for this query onto `missing`; whether it is satisfied. An
    /// `Any` with one satisfied member takes back what its other members pushed.
    fn unmet<'a>(&'a self, granted: &ScopeSet, missing: &mut Vec<&'a str>) -> bool {
        match self {
            Self::Scope(scope) => {
                let allowed = granted.allows(scope.as_str());
                if !allowed {
                    missing.push(scope.as_str());
                }
                allowed
            }
            Self::All(members) => {
                // Every member, satisfied or not, so that each unmet one is named.
                let mut all = true;
                for member in members {
                    all &= member.unmet(granted, missing);
                }
                all
            }
            Self::Any(members) => {
                let start = missing.len();
                // Stops at the first satisfied member: what the others pushed is taken back.
                let any = members.iter().any(|member| member.unmet(granted, missing));
                if any {
                    missing.truncate(start);
                }
                any
            }
        }
    }
}

impl From<Scope> for ScopeQuery {
    fn from(scope: Scope) -> Self {
        Self::Scope(scope)
    }
}

fn leaves<I, S>(scopes: I) -> Result<Vec<ScopeQuery>, InvalidScope>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    scopes
        .into_iter()
        .map(|scope| ScopeQuery::scope(scope.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(scopes: &str) -> ScopeSet {
        scopes.parse().unwrap()
    }

    #[test]
    fn empty_queries() {
        assert!(ScopeQuery::All(vec![]).is_satisfied_by(&set("a:read")));
        assert!(!ScopeQuery::Any(vec![]).is_satisfied_by(&ScopeSet::unrestricted()));
        assert!(ScopeQuery::Any(vec![]).missing(&set("a:read")).is_empty());
    }

    #[test]
    fn nested_any_in_all_and_all_in_any() {
        // (a:read and b:read) or c:*
        let query = ScopeQuery::Any(vec![
            ScopeQuery::all_of(["a:read", "b:read"]).unwrap(),
            ScopeQuery::scope("c:*").unwrap(),
        ]);
        assert!(query.is_satisfied_by(&set("a:read b:read")));
        assert!(query.is_satisfied_by(&set("c:*")));
        assert!(query.is_satisfied_by(&ScopeSet::unrestricted()));
        assert!(!query.is_satisfied_by(&set("a:read c:read")));
        assert_eq!(query.missing(&set("a:read")), ["b:read", "c:*"]);
        assert!(query.missing(&set("c:*")).is_empty());

        // a:read and (b:read or a:read): a:read named once.
        let query = ScopeQuery::All(vec![
            ScopeQuery::scope("a:read").unwrap(),
            ScopeQuery::any_of(["b:read", "a:read"]).unwrap(),
        ]);
        assert_eq!(query.missing(&set("z:read")), ["a:read", "b:read"]);
        assert!(query.missing(&set("a:*")).is_empty());
    }

    #[test]
    fn satisfaction_and_missing_agree() {
        let query = ScopeQuery::All(vec![
            ScopeQuery::any_of(["a:read", "b:read"]).unwrap(),
            ScopeQuery::Any(vec![
                ScopeQuery::scope("c:read").unwrap(),
                ScopeQuery::all_of(["d:read", "e:read"]).unwrap(),
            ]),
        ]);
        let grants = [
            "",
            "a:read",
            "b:read c:read",
            "a:read d:read",
            "a:read d:read e:read",
            "*",
        ];
        for grant in grants {
            let granted = if grant.is_empty() {
                ScopeSet::empty()
            } else {
                set(grant)
            };
            assert_eq!(
                query.is_satisfied_by(&granted),
                query.missing(&granted).is_empty(),
                "{grant:?}"
            );
        }
    }
}
