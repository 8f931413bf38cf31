//! A token that passed the format's checks, borrowed from the request.

use std::fmt;

use crate::{Environment, KeyKind};

/// A syntactically valid token: right namespace, segments, lengths, alphabet and checksum.
///
/// It borrows the request's bytes; nothing is allocated. `Debug` shows the public parts only.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ParsedToken<'a> {
    pub(crate) raw: &'a str,
    pub(crate) environment: Option<Environment>,
    pub(crate) kind: Option<KeyKind>,
    pub(crate) prefix: Option<&'a str>,
}

impl<'a> ParsedToken<'a> {
    /// The whole token, as sent. This is the secret: hash it, never log it.
    pub fn as_secret_str(&self) -> &'a str {
        self.raw
    }

    /// The environment segment, for formats that have one.
    pub fn environment(&self) -> Option<Environment> {
        self.environment
    }

    /// The key-kind segment, for formats that have one.
    pub fn kind(&self) -> Option<KeyKind> {
        self.kind
    }

    /// The public prefix, for formats that have one.
    pub fn prefix(&self) -> Option<&'a str> {
        self.prefix
    }
}

impl fmt::Debug for ParsedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedToken")
            .field("environment", &self.environment)
            .field("kind", &self.kind)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}
