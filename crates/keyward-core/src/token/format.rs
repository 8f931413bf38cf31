//! [`TokenFormat`]: what a family of tokens looks like, how to mint and parse them.

use std::fmt::Write as _;

use rand::rngs::OsRng;
use rand::{Rng, TryRngCore};

use super::alphabet::{CHECKSUM_LEN, checksum_chars};
use super::spec::FormatSpec;
use super::{Alphabet, FormatError, ParsedToken, PlaintextToken, TokenError};
use crate::lookup::MAX_PREFIX;
use crate::{Environment, KeyKind};

const MAX_SECRET: usize = 128;
const MIN_SECRET_BITS: f64 = 128.0;

/// The shape of a family of tokens.
///
/// Layout: `namespace_[environment_][kind_][prefix_]secret[checksum]`. Every part has a fixed
/// length, so [`parse`](Self::parse) refuses anything of the wrong length before it looks at a
/// single character, and never allocates.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "FormatSpec", try_from = "FormatSpec")]
pub struct TokenFormat {
    pub(super) namespace: Box<str>,
    pub(super) environment: bool,
    pub(super) kind_labels: Option<(Box<str>, Box<str>)>,
    pub(super) prefix_len: usize,
    pub(super) secret_len: usize,
    pub(super) alphabet: Alphabet,
    pub(super) checksum: bool,
}

impl Default for TokenFormat {
    /// keyward's own format: `kw_live_<8-char prefix>_<32-char base62 secret><6-char checksum>`,
    /// 190 bits of secret entropy, looked up by prefix, checksummed.
    fn default() -> Self {
        Self::builder("kw")
            .environment()
            .public_prefix(8)
            .secret(32, Alphabet::Base62)
            .checksum()
            .build()
            .expect("the default format is valid")
    }
}

impl TokenFormat {
    /// Starts a format whose tokens begin with `namespace_`.
    pub fn builder(namespace: &str) -> TokenFormatBuilder {
        TokenFormatBuilder {
            namespace: namespace.to_owned(),
            environment: false,
            kind_labels: None,
            prefix_len: 0,
            secret_len: 32,
            alphabet: Alphabet::Base62,
            checksum: false,
        }
    }

    /// The namespace, without its separator.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether tokens carry a public prefix (and are looked up by it rather than by their hash).
    pub fn has_prefix(&self) -> bool {
        self.prefix_len > 0
    }

    /// Whether tokens end with a checksum.
    pub fn has_checksum(&self) -> bool {
        self.checksum
    }

    /// Whether tokens carry a key-kind segment.
    pub fn has_kind_segment(&self) -> bool {
        self.kind_labels.is_some()
    }

    /// Bits of entropy in the secret part.
    pub fn secret_bits(&self) -> f64 {
        self.secret_len as f64 * self.alphabet.bits_per_char()
    }

    /// The longest token of this format, in bytes: anything longer is refused at once.
    pub fn max_len(&self) -> usize {
        let kind = self
            .kind_labels
            .as_ref()
            .map_or(0, |(p, s)| p.len().max(s.len()) + 1);
        self.namespace.len() + 1 + self.env_len() + kind + self.tail_len()
    }

    fn env_len(&self) -> usize {
        if self.environment { 5 } else { 0 }
    }

    fn tail_len(&self) -> usize {
        let prefix = if self.prefix_len > 0 {
            self.prefix_len + 1
        } else {
            0
        };
        prefix + self.secret_len + if self.checksum { CHECKSUM_LEN } else { 0 }
    }

    fn kind_label(&self, kind: KeyKind) -> Option<&str> {
        self.kind_labels.as_ref().map(|(publishable, secret)| match kind {
            KeyKind::Publishable => &**publishable,
            KeyKind::Secret => &**secret,
        })
    }

    /// Mints a new token from the operating system's CSPRNG.
    ///
    /// `environment` and `kind` are written into the token when the format has those segments.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails.
    pub fn mint(&self, environment: Environment, kind: KeyKind) -> PlaintextToken {
        let mut rng = OsRng.unwrap_err();
        let chars = self.alphabet.chars();
        let mut text = String::with_capacity(self.max_len());
        text.push_str(&self.namespace);
        text.push('_');
        if self.environment {
            text.push_str(environment.as_str());
            text.push('_');
        }
        if let Some(label) = self.kind_label(kind) {
            text.push_str(label);
            text.push('_');
        }
        let mut draw = |count: usize, text: &mut String| {
            for _ in 0..count {
                text.push(chars[rng.random_range(0..chars.len())] as char);
            }
        };
        if self.prefix_len > 0 {
            draw(self.prefix_len, &mut text);
            text.push('_');
        }
        let visible = text.len();
        draw(self.secret_len, &mut text);
        if self.checksum {
            let sum = checksum_chars(crc32fast::hash(text.as_bytes()));
            text.extend(sum.iter().map(|&b| b as char));
        }
        PlaintextToken::new(text, visible)
    }

    /// Checks that `token` is a well-formed token of this format.
    ///
    /// Cheap and strict: a length cap first, then the segments, the exact alphabet, and the
    /// checksum. It never panics and never allocates.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] naming the first rule that failed.
    pub fn parse<'a>(&self, token: &'a str) -> Result<ParsedToken<'a>, TokenError> {
        if token.len() > self.max_len() {
            return Err(TokenError::TooLong);
        }
        let rest = token
            .strip_prefix(&*self.namespace)
            .and_then(|r| r.strip_prefix('_'))
            .ok_or(TokenError::Namespace)?;
        let (environment, rest) = if self.environment {
            if let Some(r) = rest.strip_prefix("live_") {
                (Some(Environment::Live), r)
            } else if let Some(r) = rest.strip_prefix("test_") {
                (Some(Environment::Test), r)
            } else {
                return Err(TokenError::Environment);
            }
        } else {
            (None, rest)
        };
        let (kind, rest) = match &self.kind_labels {
            None => (None, rest),
            Some((publishable, secret)) => {
                let strip = |label: &str| rest.strip_prefix(label).and_then(|r| r.strip_prefix('_'));
                if let Some(r) = strip(publishable) {
                    (Some(KeyKind::Publishable), r)
                } else if let Some(r) = strip(secret) {
                    (Some(KeyKind::Secret), r)
                } else {
                    return Err(TokenError::Kind);
                }
            }
        };
        if rest.len() != self.tail_len() {
            return Err(TokenError::WrongLength);
        }
        let bytes = rest.as_bytes();
        let (prefix, secret_start) = if self.prefix_len > 0 {
            if bytes[self.prefix_len] != b'_' {
                return Err(TokenError::Separator);
            }
            (Some(&rest[..self.prefix_len]), self.prefix_len + 1)
        } else {
            (None, 0)
        };
        let secret_end = secret_start + self.secret_len;
        let prefix_ok = self.alphabet.contains_all(&bytes[..self.prefix_len]);
        if !(prefix_ok & self.alphabet.contains_all(&bytes[secret_start..secret_end])) {
            return Err(TokenError::Charset);
        }
        if self.checksum {
            let body = &token[..token.len() - CHECKSUM_LEN];
            let expected = checksum_chars(crc32fast::hash(body.as_bytes()));
            if bytes[secret_end..] != expected {
                return Err(TokenError::Checksum);
            }
        }
        Ok(ParsedToken {
            raw: token,
            environment,
            kind,
            prefix,
        })
    }

    /// A regular expression that matches tokens of this format, for secret scanners
    /// (`gitleaks`, `trufflehog`, `grep -E`).
    pub fn scan_pattern(&self) -> String {
        let class = match self.alphabet {
            Alphabet::Base62 => "[0-9A-Za-z]",
            Alphabet::LowerAlphanumeric => "[0-9a-z]",
            Alphabet::LowerHex => "[0-9a-f]",
        };
        let mut pattern = format!("\\b{}_", self.namespace);
        if self.environment {
            pattern.push_str("(live|test)_");
        }
        if let Some((publishable, secret)) = &self.kind_labels {
            let _ = write!(pattern, "({publishable}|{secret})_");
        }
        if self.prefix_len > 0 {
            let _ = write!(pattern, "{class}{{{}}}_", self.prefix_len);
        }
        let _ = write!(pattern, "{class}{{{}}}", self.secret_len);
        if self.checksum {
            // The checksum is base62 whatever the secret's alphabet.
            let _ = write!(pattern, "[0-9A-Za-z]{{{CHECKSUM_LEN}}}");
        }
        pattern.push_str("\\b");
        pattern
    }
}

/// Builds a [`TokenFormat`]; see [`TokenFormat::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct TokenFormatBuilder {
    namespace: String,
    environment: bool,
    kind_labels: Option<(String, String)>,
    prefix_len: usize,
    secret_len: usize,
    alphabet: Alphabet,
    checksum: bool,
}

impl TokenFormatBuilder {
    /// Adds a `live`/`test` environment segment after the namespace.
    pub fn environment(mut self) -> Self {
        self.environment = true;
        self
    }

    /// Adds a key-kind segment (`tolk_pub_…` / `tolk_sec_…`) with these two labels.
    pub fn kind_segment(mut self, publishable: &str, secret: &str) -> Self {
        self.kind_labels = Some((publishable.to_owned(), secret.to_owned()));
        self
    }

    /// Adds a public prefix of `len` characters (at most 32), shown in dashboards and used for lookup.
    pub fn public_prefix(mut self, len: usize) -> Self {
        self.prefix_len = len;
        self
    }

    /// The secret: `len` characters drawn from `alphabet`.
    pub fn secret(mut self, len: usize, alphabet: Alphabet) -> Self {
        self.secret_len = len;
        self.alphabet = alphabet;
        self
    }

    /// Ends tokens with a six-character base62 CRC32 of everything before it.
    pub fn checksum(mut self) -> Self {
        self.checksum = true;
        self
    }

    /// Checks the parts and builds the format.
    ///
    /// # Errors
    ///
    /// A [`FormatError`] when a label is not 1–16 lowercase ASCII letters or digits, the kind labels
    /// are equal, the prefix is over 32 characters, or the secret has under 128 bits of entropy.
    pub fn build(self) -> Result<TokenFormat, FormatError> {
        let label_ok = |l: &str| {
            (1..=16).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if !label_ok(&self.namespace) {
            return Err(FormatError::Label(self.namespace));
        }
        if let Some((publishable, secret)) = &self.kind_labels {
            for label in [publishable, secret] {
                if !label_ok(label) || label == "live" || label == "test" {
                    return Err(FormatError::Label(label.clone()));
                }
            }
            if publishable == secret {
                return Err(FormatError::SameKindLabels);
            }
        }
        if self.prefix_len > MAX_PREFIX {
            return Err(FormatError::PrefixTooLong(self.prefix_len));
        }
        if self.secret_len > MAX_SECRET {
            return Err(FormatError::SecretTooLong(self.secret_len));
        }
        let bits = self.secret_len as f64 * self.alphabet.bits_per_char();
        if bits < MIN_SECRET_BITS {
            return Err(FormatError::WeakSecret(bits as u32));
        }
        Ok(TokenFormat {
            namespace: self.namespace.into(),
            environment: self.environment,
            kind_labels: self.kind_labels.map(|(p, s)| (p.into(), s.into())),
            prefix_len: self.prefix_len,
            secret_len: self.secret_len,
            alphabet: self.alphabet,
            checksum: self.checksum,
        })
    }
}
