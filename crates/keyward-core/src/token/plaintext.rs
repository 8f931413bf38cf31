//! The plaintext token, shown once.

use std::fmt;

use zeroize::Zeroizing;

/// A freshly minted token: the only time the secret exists outside the client.
///
/// It is returned by create and rotate and must be shown to the user once. It is not `Clone`, its
/// memory is zeroed on drop, and `Debug`/`Display` print only the non-secret head
/// (`atk_live_a1b2c3d4_…`); call [`expose`](Self::expose) to read it.
pub struct PlaintextToken {
    text: Zeroizing<String>,
    visible: usize,
}

impl PlaintextToken {
    pub(crate) fn new(text: String, visible: usize) -> Self {
        Self {
            text: Zeroizing::new(text),
            visible,
        }
    }

    /// The whole token, secret included. Show it to its owner once; never log it.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The part that is not secret: namespace, environment, kind and public prefix.
    pub fn redacted(&self) -> &str {
        &self.text[..self.visible]
    }
}

impl fmt::Debug for PlaintextToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlaintextToken({}…)", self.redacted())
    }
}

impl fmt::Display for PlaintextToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.redacted())
    }
}
