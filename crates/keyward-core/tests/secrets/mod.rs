//! What must never be shown of a key, and the check that it is not: neither the token, nor its
//! secret part (nor any 12-character piece of it), nor the stored hex hash (nor any 16-character
//! piece of it).
//!
//! Shared by keyward-core's redaction tests and keyward-tower's (which include this file).
#![allow(dead_code, reason = "each test binary uses a part of it")]

use std::error::Error;

use keyward_core::hash::Hasher;
use keyward_core::token::PlaintextToken;

/// What must stay hidden about one key.
pub struct Secrets {
    token: String,
    secret: String,
    hash_hex: String,
}

impl Secrets {
    /// The secrets of `token`, whose stored hash `hasher` makes.
    pub fn of(token: &PlaintextToken, hasher: &Hasher) -> Self {
        Self {
            token: token.expose().to_owned(),
            secret: token.expose()[token.redacted().len()..].to_owned(),
            hash_hex: hasher.hash(token.expose()).to_hex(),
        }
    }

    /// The stored hash, in hex.
    pub fn hash_hex(&self) -> &str {
        &self.hash_hex
    }

    /// Fails when `text` (described by `what`) shows any of the secrets.
    pub fn assert_hidden_in(&self, what: &str, text: &str) {
        assert!(!text.contains(&self.token), "{what} shows the token: {text}");
        let secret = self.secret.as_bytes();
        for piece in secret.windows(12.min(secret.len())) {
            let piece = std::str::from_utf8(piece).expect("tokens are ASCII");
            assert!(
                !text.contains(piece),
                "{what} shows part of the secret ({piece}): {text}"
            );
        }
        for piece in self.hash_hex.as_bytes().windows(16) {
            let piece = std::str::from_utf8(piece).expect("hex is ASCII");
            assert!(
                !text.contains(piece),
                "{what} shows part of the hash ({piece}): {text}"
            );
        }
    }

    /// Checks an error's `Display`, its `Debug`, and every error in its `source` chain.
    pub fn assert_hidden_in_error(&self, what: &str, error: &(dyn Error + 'static)) {
        let mut current = Some(error);
        while let Some(error) = current {
            self.assert_hidden_in(what, &error.to_string());
            self.assert_hidden_in(what, &format!("{error:?}"));
            current = error.source();
        }
    }
}
