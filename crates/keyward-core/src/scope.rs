//! Scopes: `resource:action` permissions, wildcards, and scope sets.
//!
//! ```
//! use keyward_core::{Scope, ScopeSet};
//!
//! let granted: ScopeSet = "analytics:read,campaigns:*".parse()?;
//! assert!(granted.allows("analytics:read"));
//! assert!(granted.allows("campaigns:write"));
//! assert!(!granted.allows("customers:read"));
//! assert!(ScopeSet::unrestricted().allows("anything:at-all"));
//! assert!(Scope::new("Bad Scope").is_err());
//! # Ok::<(), keyward_core::scope::InvalidScope>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MAX_SCOPE_LEN: usize = 64;

/// One permission: `resource:action` (`analytics:read`), `resource:*`, or `*` for everything.
///
/// Resources and actions are lowercase ASCII letters, digits, `_`, `-` and `.`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(Box<str>);

/// The text is not a valid scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid scope `{0}`: expected `resource:action`, `resource:*` or `*` (lowercase letters, digits, `_`, `-`, `.`)"
)]
pub struct InvalidScope(pub String);

/// A non-empty run of lowercase ASCII letters, digits, `_`, `-` and `.`.
const fn is_word(part: &[u8]) -> bool {
    if part.is_empty() {
        return false;
    }
    let mut i = 0;
    while i < part.len() {
        let b = part[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')) {
            return false;
        }
        i += 1;
    }
    true
}

impl Scope {
    /// Validates and wraps a scope.
    ///
    /// # Errors
    ///
    /// [`InvalidScope`] when the text is not `resource:action`, `resource:*` or `*`.
    pub fn new(text: &str) -> Result<Self, InvalidScope> {
        if Self::is_valid(text) {
            Ok(Self(text.into()))
        } else {
            Err(InvalidScope(text.chars().take(MAX_SCOPE_LEN).collect()))
        }
    }

    /// Whether `text` is a valid scope, the rule [`Scope::new`] applies: `*`, `resource:*` or
    /// `resource:action`, where resource and action are non-empty runs of lowercase ASCII letters,
    /// digits, `_`, `-` and `.`, and the whole is at most 64 bytes.
    ///
    /// A `const fn`, so a scope literal can be checked at compile time (keyward-axum's `scope!`
    /// does):
    ///
    /// ```
    /// use keyward_core::Scope;
    ///
    /// const ANALYTICS_READ: &str = "analytics:read";
    /// const _: () = assert!(Scope::is_valid(ANALYTICS_READ));
    /// assert!(Scope::is_valid("campaigns:*"));
    /// assert!(!Scope::is_valid("Analytics Read"));
    /// ```
    pub const fn is_valid(text: &str) -> bool {
        let bytes = text.as_bytes();
        if bytes.len() > MAX_SCOPE_LEN {
            return false;
        }
        if let [b'*'] = bytes {
            return true;
        }
        // Split at the first `:`; a second one makes the action invalid.
        let mut colon = 0;
        while colon < bytes.len() {
            if bytes[colon] == b':' {
                let (resource, rest) = bytes.split_at(colon);
                let action = rest.split_at(1).1;
                return is_word(resource) && (matches!(action, [b'*']) || is_word(action));
            }
            colon += 1;
        }
        false
    }

    /// The scope text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether holding this scope grants `required`.
    pub fn grants(&self, required: &str) -> bool {
        let granted = self.as_str();
        if granted == "*" || granted == required {
            return true;
        }
        granted
            .strip_suffix('*')
            .is_some_and(|resource| required.len() > resource.len() && required.starts_with(resource))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl FromStr for Scope {
    type Err = InvalidScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// The scopes a key holds: sorted, without duplicates.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// An empty set: the key may call only routes that require no scope.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// `*`: a key whose scopes are not restricted.
    pub fn unrestricted() -> Self {
        Self(vec![Scope("*".into())])
    }

    /// Validates each scope and builds the set.
    ///
    /// # Errors
    ///
    /// The first [`InvalidScope`].
    pub fn parse_all<I, S>(scopes: I) -> Result<Self, InvalidScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        scopes.into_iter().map(|s| Scope::new(s.as_ref())).collect()
    }

    /// Whether the set holds `*`.
    pub fn is_unrestricted(&self) -> bool {
        self.0.iter().any(|s| s.as_str() == "*")
    }

    /// Whether some scope in the set grants `required`.
    pub fn allows(&self, required: &str) -> bool {
        self.0.iter().any(|granted| granted.grants(required))
    }

    /// The scopes of `required` that this set does not grant, in order.
    pub fn missing<'a, S: AsRef<str> + ?Sized>(&self, required: &'a [&'a S]) -> Vec<&'a str> {
        required
            .iter()
            .map(|s| s.as_ref())
            .filter(|s| !self.allows(s))
            .collect()
    }

    /// Whether every scope of `other` is granted by this set.
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other.0.iter().all(|s| self.allows(s.as_str()))
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        let mut scopes: Vec<Scope> = iter.into_iter().collect();
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }
}

impl FromStr for ScopeSet {
    type Err = InvalidScope;

    /// Parses a comma- or space-separated list; the empty string is the empty set.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_all(s.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()))
    }
}

impl fmt::Display for ScopeSet {
    /// Space-separated, as OAuth's `scope` parameter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(Scope::as_str))
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let scopes = Vec::<String>::deserialize(deserializer)?;
        Self::parse_all(&scopes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        for good in ["*", "analytics:read", "analytics:*", "a.b-c_d:e.f"] {
            assert!(Scope::new(good).is_ok(), "{good} should be valid");
        }
        for bad in [
            "",
            ":",
            "read",
            "analytics:",
            ":read",
            "Analytics:read",
            "a:b:c",
            "a :b",
            "*:read",
            "a:r*",
        ] {
            assert!(Scope::new(bad).is_err(), "{bad} should be invalid");
        }
        assert!(
            Scope::new(&format!("a:{}", "b".repeat(64))).is_err(),
            "over 64 chars"
        );
    }

    #[test]
    fn wildcards_grant_within_their_resource_only() {
        let set: ScopeSet = "analytics:*".parse().unwrap();
        assert!(set.allows("analytics:read"));
        assert!(set.allows("analytics:*"));
        assert!(!set.allows("analyticsx:read"));
        assert!(!set.allows("campaigns:read"));
        assert!(!set.allows("*"));
        assert!(!set.is_unrestricted());
    }

    #[test]
    fn missing_and_covers() {
        let set: ScopeSet = "b:read a:read a:read".parse().unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.to_string(), "a:read b:read");
        assert_eq!(
            set.missing(&["a:read", "c:read", "b:write"]),
            vec!["c:read", "b:write"]
        );
        assert!(set.covers(&"a:read".parse().unwrap()));
        assert!(!set.covers(&"a:read c:read".parse().unwrap()));
        assert!(ScopeSet::unrestricted().covers(&set));
    }

    #[test]
    fn serde_as_list() {
        let set: ScopeSet = "a:read,b:read".parse().unwrap();
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["a:read","b:read"]"#);
        assert_eq!(
            serde_json::from_str::<ScopeSet>(r#"["b:read","a:read"]"#).unwrap(),
            set
        );
        assert!(serde_json::from_str::<ScopeSet>(r#"["NOPE"]"#).is_err());
    }
}
