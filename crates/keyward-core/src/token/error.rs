//! Why a token or a token format was refused.

/// Why a string is not a token of the configured format.
///
/// The messages name the rule that failed, never the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than any token of the format; refused before any other work.
    #[error("token is too long")]
    TooLong,
    /// Not the length the format prescribes.
    #[error("token has the wrong length")]
    WrongLength,
    /// Does not start with the format's namespace.
    #[error("token has the wrong namespace")]
    Namespace,
    /// The environment segment is neither `live` nor `test`.
    #[error("token has an unknown environment segment")]
    Environment,
    /// The key-kind segment is not one of the format's labels.
    #[error("token has an unknown key-kind segment")]
    Kind,
    /// A separator is missing where the format puts one.
    #[error("token is missing a separator")]
    Separator,
    /// A character outside the format's alphabet.
    #[error("token has a character outside its alphabet")]
    Charset,
    /// The checksum does not match: a typo or a made-up token.
    #[error("token checksum does not match")]
    Checksum,
}

/// Why a [`TokenFormat`](super::TokenFormat) could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The namespace or a kind label is empty, too long, or not lowercase ASCII letters and digits.
    #[error("`{0}` must be 1 to 16 lowercase ASCII letters or digits")]
    Label(String),
    /// The two kind labels are the same.
    #[error("the publishable and secret kind labels must differ")]
    SameKindLabels,
    /// The public prefix is longer than 32 characters.
    #[error("the public prefix may be at most 32 characters, not {0}")]
    PrefixTooLong(usize),
    /// The secret carries fewer than 128 bits of entropy.
    #[error("the secret carries {0} bits of entropy; at least 128 are required")]
    WeakSecret(u32),
    /// The secret is longer than 128 characters.
    #[error("the secret may be at most 128 characters, not {0}")]
    SecretTooLong(usize),
}
