//! [`GithubKeys`]: the public keys GitHub signs its secret-scanning alerts with, and the check of
//! an alert's signature.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

/// The longest key identifier looked up; GitHub's are 64 hex digits.
const MAX_IDENTIFIER: usize = 256;
/// The longest base64 signature decoded: a DER ECDSA P-256 signature is at most 72 bytes.
const MAX_SIGNATURE: usize = 256;

/// The key set GitHub publishes at `https://api.github.com/meta/public_keys/secret_scanning`:
/// `{"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…","is_current":true}]}`.
///
/// The application gives the document (from a file, its configuration, or its own fetch: keyward
/// makes no request); every key in it is accepted, current or not, so that alerts signed just
/// before GitHub rotates its key still verify.
///
/// ```
/// use keyward_axum::leak::GithubKeys;
///
/// let keys = GithubKeys::from_json(r#"{"public_keys":[{
///     "key_identifier": "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
///     "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n",
///     "is_current": true
/// }]}"#)?;
/// assert_eq!(keys.identifiers().collect::<Vec<_>>().len(), 1);
/// assert!(GithubKeys::from_json(r#"{"public_keys":[]}"#).is_err());
/// # Ok::<(), keyward_axum::leak::KeySetError>(())
/// ```
#[derive(Clone)]
pub struct GithubKeys {
    keys: Vec<(String, VerifyingKey)>,
}

impl fmt::Debug for GithubKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubKeys")
            .field("identifiers", &self.identifiers().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a key-set document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// Not a JSON document of the published shape.
    #[error("the key set is not GitHub's public-key document: {0}")]
    Json(#[from] serde_json::Error),
    /// The document holds no key.
    #[error("the key set holds no key")]
    Empty,
    /// A key is not a PEM P-256 public key, or its identifier is empty or too long.
    #[error(
        "the key `{key_identifier}` of the key set is not a PEM P-256 public key with a valid identifier"
    )]
    Key {
        /// The key's identifier, at most 64 characters of it.
        key_identifier: String,
    },
}

#[derive(Deserialize)]
struct Document {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

impl GithubKeys {
    /// Parses the published key-set document.
    ///
    /// # Errors
    ///
    /// [`KeySetError`]: not of the published shape, no key, or a key that is not a PEM P-256
    /// public key.
    pub fn from_json(document: &str) -> Result<Self, KeySetError> {
        let document: Document = serde_json::from_str(document)?;
        if document.public_keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        let keys = document
            .public_keys
            .into_iter()
            .map(|published| {
                let refused = || KeySetError::Key {
                    key_identifier: published.key_identifier.chars().take(64).collect(),
                };
                if published.key_identifier.is_empty() || published.key_identifier.len() > MAX_IDENTIFIER {
                    return Err(refused());
                }
                let key = VerifyingKey::from_public_key_pem(published.key.trim()).map_err(|_| refused())?;
                Ok((published.key_identifier, key))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// The identifiers of the keys, in the document's order.
    pub fn identifiers(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(identifier, _)| identifier.as_str())
    }

    /// Checks that `signature` (base64 of an ASN.1 DER ECDSA P-256 / SHA-256 signature) signs
    /// `body` with the key named `identifier`.
    pub(crate) fn verify(
        &self,
        identifier: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let key = self
            .keys
            .iter()
            .find(|(known, _)| known == identifier)
            .map(|(_, key)| key)
            .ok_or(SignatureError::UnknownKey)?;
        if signature.len() > MAX_SIGNATURE {
            return Err(SignatureError::Malformed);
        }
        let der = STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureError::Malformed)?;
        let signature = Signature::from_der(&der).map_err(|_| SignatureError::Malformed)?;
        key.verify(body, &signature).map_err(|_| SignatureError::Invalid)
    }

    /// Whether `identifier` is of a length a key identifier can have.
    pub(crate) fn plausible_identifier(identifier: &str) -> bool {
        !identifier.is_empty() && identifier.len() <= MAX_IDENTIFIER
    }
}

/// Why an alert's signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignatureError {
    /// No key of the set has the identifier.
    UnknownKey,
    /// Not base64 of a DER ECDSA signature.
    Malformed,
    /// A signature, but not of this body by this key.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's published key set, as its documentation's samples use it.
    const PUBLISHED: &str = r#"{"public_keys":[
        {"key_identifier":"90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
         "key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq\nkCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==\n-----END PUBLIC KEY-----\n",
         "is_current":false},
        {"key_identifier":"bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c",
         "key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n",
         "is_current":true}]}"#;

    #[test]
    fn githubs_documented_samples_verify() {
        let keys = GithubKeys::from_json(PUBLISHED).expect("the published key set");
        let current = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
        let body = br#"[{"source":"commit","token":"some_token","type":"some_type","url":"https://example.com/base-repo-url/"}]"#;
        let signature = "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/AO1RtBY66YcAdjxji410VQV4xg==";
        assert_eq!(keys.verify(current, signature, body), Ok(()));
        // The earlier sample, signed with the key that is no longer current.
        let earlier = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";
        let body = br#"[{"token":"some_token","type":"some_type","url":"some_url"}]"#;
        let signature = "MEUCIQDKZokqnCjrRtw0tni+2Ltvl/uiMJ1EGumEsp1BsNr32AIgQY1YXD2nlj+XNfGK4rBfkMJ1JDOQcYXxa2sY8FNkrKc=";
        assert_eq!(keys.verify(earlier, signature, body), Ok(()));
        // The same signature under the other key, or over another body, is refused.
        assert_eq!(
            keys.verify(current, signature, body),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            keys.verify(earlier, signature, b"[]"),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn refusals() {
        let keys = GithubKeys::from_json(PUBLISHED).expect("the published key set");
        let id = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
        assert_eq!(
            keys.verify("nope", "MEQ=", b"[]"),
            Err(SignatureError::UnknownKey)
        );
        assert_eq!(
            keys.verify(id, "not base64!", b"[]"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(keys.verify(id, "aGVsbG8=", b"[]"), Err(SignatureError::Malformed));
        assert_eq!(
            keys.verify(id, &"A".repeat(300), b"[]"),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn documents_that_are_not_key_sets_are_refused() {
        let cases = [
            ("not JSON", "{"),
            ("no list", r#"{"keys":[]}"#),
            ("empty", r#"{"public_keys":[]}"#),
            (
                "not PEM",
                r#"{"public_keys":[{"key_identifier":"a","key":"xyz","is_current":true}]}"#,
            ),
            (
                "empty identifier",
                r#"{"public_keys":[{"key_identifier":"","key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\nAjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n-----END PUBLIC KEY-----\n"}]}"#,
            ),
        ];
        for (what, document) in cases {
            assert!(GithubKeys::from_json(document).is_err(), "{what}");
        }
    }
}
