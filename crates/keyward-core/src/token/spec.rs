//! [`FormatSpec`]: a [`TokenFormat`] as data, the form in which a keyspace stores it.

use serde::{Deserialize, Serialize};

use super::{Alphabet, FormatError, TokenFormat};

/// Every part of a [`TokenFormat`], serialized as a keyspace document holds it:
/// `{"namespace":"atk","environment":true,"kind_labels":null,"prefix_len":8,"secret_len":32,
/// "alphabet":"lower_alphanumeric","checksum":false}`. Turned back into a format through
/// [`TokenFormat::builder`], so a stored format obeys the same rules as one built in code.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FormatSpec {
    namespace: String,
    environment: bool,
    kind_labels: Option<(String, String)>,
    prefix_len: usize,
    secret_len: usize,
    alphabet: Alphabet,
    checksum: bool,
}

impl From<TokenFormat> for FormatSpec {
    fn from(format: TokenFormat) -> Self {
        Self {
            namespace: format.namespace.into(),
            environment: format.environment,
            kind_labels: format.kind_labels.map(|(p, s)| (p.into(), s.into())),
            prefix_len: format.prefix_len,
            secret_len: format.secret_len,
            alphabet: format.alphabet,
            checksum: format.checksum,
        }
    }
}

impl TryFrom<FormatSpec> for TokenFormat {
    type Error = FormatError;

    fn try_from(spec: FormatSpec) -> Result<Self, Self::Error> {
        let mut builder = TokenFormat::builder(&spec.namespace)
            .public_prefix(spec.prefix_len)
            .secret(spec.secret_len, spec.alphabet);
        if spec.environment {
            builder = builder.environment();
        }
        if let Some((publishable, secret)) = &spec.kind_labels {
            builder = builder.kind_segment(publishable, secret);
        }
        if spec.checksum {
            builder = builder.checksum();
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_through_json() {
        let formats = [
            TokenFormat::default(),
            TokenFormat::builder("tolk")
                .kind_segment("pub", "sec")
                .secret(40, Alphabet::LowerHex)
                .build()
                .expect("valid"),
        ];
        for format in formats {
            let json = serde_json::to_string(&format).expect("serializable");
            let back: TokenFormat = serde_json::from_str(&json).expect("parses back");
            assert_eq!(back, format, "{json}");
        }
    }

    #[test]
    fn stored_formats_obey_the_builder_rules() {
        let weak = r#"{"namespace":"kw","environment":false,"kind_labels":null,"prefix_len":0,
            "secret_len":8,"alphabet":"lower_hex","checksum":false}"#;
        let error = serde_json::from_str::<TokenFormat>(weak).expect_err("weak secret");
        assert!(error.to_string().contains("bits of entropy"), "{error}");
        let unknown = r#"{"namespace":"kw","environment":false,"kind_labels":null,"prefix_len":0,
            "secret_len":32,"alphabet":"base62","checksum":false,"extra":1}"#;
        assert!(serde_json::from_str::<TokenFormat>(unknown).is_err());
    }
}
