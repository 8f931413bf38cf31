//! What every validated name type (a tier, a keyspace) shares: its shape ([`is_name`]) and the
//! traits [`text_name!`] implements from its `new(&str)` and its text.

/// Implements `Display` and `Debug` (the text), `FromStr` (through `new`), and `Serialize` and
/// `Deserialize` (as a string, checked by `new`) for `$name`, a tuple struct over `Arc<str>` with
/// `fn new(&str) -> Result<Self, $error>`.
macro_rules! text_name {
    ($name:ident, $error:ident) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(deserializer)?;
                Self::new(&name).map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use text_name;

/// Whether `text` is 1 to `max` lowercase ASCII letters, digits, `_` or `-`: the shape of every
/// name keyward stores (tiers, keyspaces).
pub(crate) fn is_name(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}
