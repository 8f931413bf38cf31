//! Scopes as types: [`RequiredScope`] names one scope, [`ScopeList`] a list of them (a tuple of
//! scope types, or one alone, all required; [`AnyOf`] a tuple, one required), checked when
//! [`AuthedKey`](crate::AuthedKey) is extracted.
//!
//! Declare a scope with [`scope!`](crate::scope!), or implement [`RequiredScope`] by hand:
//!
//! ```
//! use keyward_axum::{RequiredScope, ScopeList, scope};
//!
//! scope!(pub AnalyticsRead = "analytics:read");
//!
//! struct CustomersRead;
//! impl RequiredScope for CustomersRead {
//!     const SCOPE: &'static str = "customers:read";
//! }
//!
//! assert_eq!(<(AnalyticsRead, CustomersRead)>::SCOPES, ["analytics:read", "customers:read"]);
//! assert_eq!(AnalyticsRead::SCOPES, ["analytics:read"]);
//! assert!(<()>::SCOPES.is_empty());
//! ```
//!
//! A scope literal that is not a valid scope fails to compile:
//!
//! ```compile_fail
//! keyward_axum::scope!(pub Bad = "Analytics Read");
//! ```

use std::marker::PhantomData;

use keyward_core::ScopeSet;

/// One scope a route requires, named by a type: `AuthedKey<Tenant, (AnalyticsRead,)>`.
///
/// [`scope!`](crate::scope!) declares such a type and checks the scope at compile time.
pub trait RequiredScope {
    /// The scope, as `resource:action`, `resource:*` or `*`.
    const SCOPE: &'static str;
}

/// A list of required scopes: `()` (none), one [`RequiredScope`] type, a tuple of up to eight
/// (all of them), or [`AnyOf`] such a tuple (one of them).
pub trait ScopeList {
    /// The scopes, in the order they were listed.
    const SCOPES: &'static [&'static str];

    /// What a key granted `granted` lacks: empty when it may pass. By default every scope of
    /// [`SCOPES`](Self::SCOPES) is required, and the missing ones are named.
    ///
    /// ```
    /// use keyward_axum::{AnyOf, ScopeList, scope};
    ///
    /// scope!(pub A = "a:read");
    /// scope!(pub B = "b:read");
    /// let granted = "a:read".parse()?;
    /// assert_eq!(<(A, B)>::missing(&granted), ["b:read"]);
    /// assert!(<AnyOf<(A, B)>>::missing(&granted).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn missing(granted: &ScopeSet) -> Vec<&'static str> {
        granted.missing(Self::SCOPES)
    }
}

/// One scope of a tuple suffices: `AuthedKey<Tenant, AnyOf<(ReportsRead, AnalyticsRead)>>`. A key
/// with none of them is refused with 403 `insufficient_scope` naming every alternative (as
/// [`RequireScopes::any_of`](crate::guard::RequireScopes::any_of)).
///
/// ```
/// use keyward_axum::{AnyOf, ScopeList, scope};
///
/// scope!(pub ReportsRead = "reports:read");
/// scope!(pub AnalyticsRead = "analytics:read");
/// type Either = AnyOf<(ReportsRead, AnalyticsRead)>;
/// assert_eq!(Either::SCOPES, ["reports:read", "analytics:read"]);
/// assert!(Either::missing(&"analytics:*".parse()?).is_empty());
/// assert_eq!(Either::missing(&"billing:read".parse()?), ["reports:read", "analytics:read"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AnyOf<Scopes>(PhantomData<fn() -> Scopes>);

impl ScopeList for () {
    const SCOPES: &'static [&'static str] = &[];
}

impl<A: RequiredScope> ScopeList for A {
    const SCOPES: &'static [&'static str] = &[A::SCOPE];
}

macro_rules! tuple_scope_list {
    ($($ty:ident),+) => {
        impl<$($ty: RequiredScope),+> ScopeList for ($($ty,)+) {
            const SCOPES: &'static [&'static str] = &[$($ty::SCOPE),+];
        }

        impl<$($ty: RequiredScope),+> ScopeList for AnyOf<($($ty,)+)> {
            const SCOPES: &'static [&'static str] = &[$($ty::SCOPE),+];

            fn missing(granted: &ScopeSet) -> Vec<&'static str> {
                if Self::SCOPES.iter().any(|scope| granted.allows(scope)) {
                    Vec::new()
                } else {
                    Self::SCOPES.to_vec()
                }
            }
        }
    };
}

tuple_scope_list!(A);
tuple_scope_list!(A, B);
tuple_scope_list!(A, B, C);
tuple_scope_list!(A, B, C, D);
tuple_scope_list!(A, B, C, D, E);
tuple_scope_list!(A, B, C, D, E, F);
tuple_scope_list!(A, B, C, D, E, F, G);
tuple_scope_list!(A, B, C, D, E, F, G, H);

/// Declares scope types: a unit struct per scope implementing [`RequiredScope`], the scope text
/// checked at compile time.
///
/// ```
/// use keyward_axum::{RequiredScope, scope};
///
/// scope!(pub AnalyticsRead = "analytics:read");
/// scope! {
///     /// Customer records, with personal data.
///     pub CustomersRead = "customers:read";
///     pub(crate) CampaignsAll = "campaigns:*";
/// }
/// assert_eq!(CustomersRead::SCOPE, "customers:read");
/// ```
#[macro_export]
macro_rules! scope {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $scope:literal);+ $(;)?) => {
        $(
            $(#[$meta])*
            #[doc = concat!("The scope `", $scope, "`.")]
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
            $vis struct $name;

            const _: () = ::core::assert!(
                $crate::__private::Scope::is_valid($scope),
                concat!(
                    "invalid scope `", $scope,
                    "`: expected `resource:action`, `resource:*` or `*` (lowercase letters, digits, `_`, `-`, `.`)"
                ),
            );

            impl $crate::RequiredScope for $name {
                const SCOPE: &'static str = $scope;
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    use keyward_core::Scope;

    use super::*;

    #[test]
    fn const_validation_agrees_with_core() {
        let cases = [
            "*",
            "analytics:read",
            "analytics:*",
            "a.b-c_d:e.f",
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
            "a:**",
            "**",
            "a:*x",
        ];
        for case in cases {
            assert_eq!(
                Scope::is_valid(case),
                Scope::new(case).is_ok(),
                "`{case}`: the compile-time check must agree with keyward-core"
            );
        }
        let long = format!("a:{}", "b".repeat(62));
        assert_eq!(Scope::is_valid(&long), Scope::new(&long).is_ok(), "64 bytes");
        let too_long = format!("a:{}", "b".repeat(63));
        assert!(!Scope::is_valid(&too_long), "65 bytes is over the limit");
    }

    crate::scope! {
        pub(crate) One = "one:read";
        pub(crate) Two = "two:*";
    }

    #[test]
    fn any_of_passes_with_one_and_names_all_without() {
        let one: ScopeSet = "one:read".parse().unwrap();
        let two_all: ScopeSet = "two:*".parse().unwrap();
        let neither: ScopeSet = "two:write".parse().unwrap();
        assert!(<AnyOf<(One, Two)>>::missing(&one).is_empty());
        assert!(<AnyOf<(One, Two)>>::missing(&two_all).is_empty());
        assert_eq!(<AnyOf<(One, Two)>>::missing(&neither), ["one:read", "two:*"]);
        assert_eq!(<AnyOf<(One,)>>::missing(&neither), ["one:read"]);
        assert_eq!(<(One, Two)>::missing(&one), ["two:*"]);
    }

    #[test]
    fn lists_keep_their_order() {
        assert_eq!(<(Two, One)>::SCOPES, ["two:*", "one:read"]);
        assert_eq!(<(One,)>::SCOPES, ["one:read"]);
        assert_eq!(One::SCOPES, ["one:read"]);
    }
}
