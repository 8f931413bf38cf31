//! Scopes as types: [`RequiredScope`] names one scope, [`ScopeList`] a list of them (a tuple of
//! scope types, or one alone), checked when [`AuthedKey`](crate::AuthedKey) is extracted.
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

/// One scope a route requires, named by a type: `AuthedKey<Tenant, (AnalyticsRead,)>`.
///
/// [`scope!`](crate::scope!) declares such a type and checks the scope at compile time.
pub trait RequiredScope {
    /// The scope, as `resource:action`, `resource:*` or `*`.
    const SCOPE: &'static str;
}

/// A list of required scopes: `()` (none), one [`RequiredScope`] type, or a tuple of up to eight.
pub trait ScopeList {
    /// The scopes, in the order they were listed.
    const SCOPES: &'static [&'static str];
}

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
    fn lists_keep_their_order() {
        assert_eq!(<(Two, One)>::SCOPES, ["two:*", "one:read"]);
        assert_eq!(<(One,)>::SCOPES, ["one:read"]);
        assert_eq!(One::SCOPES, ["one:read"]);
    }
}
