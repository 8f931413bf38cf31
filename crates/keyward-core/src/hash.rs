//! Hashing secrets (SHA-256, or HMAC-SHA256 with a server pepper), constant-time comparison, and
//! fingerprints for logs.
//!
//! ```
//! use keyward_core::hash::Hasher;
//!
//! let hasher = Hasher::sha256();
//! let stored = hasher.hash("kw_live_abcdefgh_secret");
//! assert!(stored.verify(&hasher.hash("kw_live_abcdefgh_secret")));
//! assert!(!stored.verify(&hasher.hash("kw_live_abcdefgh_secreT")));
//! // Logs name a key by fingerprint, never by token or hash.
//! assert!(stored.fingerprint().to_string().starts_with("fp_"));
//! ```

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The SHA-256 (or HMAC-SHA256) of a whole token: what stores keep instead of the secret.
///
/// `Debug` prints the [`Fingerprint`] only. Compare with [`verify`](Self::verify), which runs in
/// constant time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Wraps 32 hash bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 hash bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, for storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters.
    ///
    /// # Errors
    ///
    /// When `text` is not 64 hex characters.
    pub fn from_hex(text: &str) -> Result<Self, hex::FromHexError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes)?;
        Ok(Self(bytes))
    }

    /// Compares with `other` in constant time (four 64-bit words, no early exit).
    #[inline]
    pub fn verify(&self, other: &SecretHash) -> bool {
        self.words()[..].ct_eq(&other.words()[..]).into()
    }

    #[inline]
    fn words(&self) -> [u64; 4] {
        let mut words = [0u64; 4];
        for (word, chunk) in words.iter_mut().zip(self.0.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().expect("chunks of eight bytes"));
        }
        words
    }

    /// A short, non-reversible name for the key, for logs and audit records.
    pub fn fingerprint(&self) -> Fingerprint {
        let digest = Sha256::new()
            .chain_update(b"keyward-fingerprint:")
            .chain_update(self.0)
            .finalize();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        Fingerprint(bytes)
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({})", self.fingerprint())
    }
}

/// A key's name in logs and audit records: `fp_` and 16 hex characters derived from its hash.
///
/// It identifies a key without revealing its secret or its stored hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl fmt::Display for Fingerprint {
    /// `fp_` and 16 lowercase hex digits, written at once (audit rows and logs write many).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = *b"fp_0000000000000000";
        hex::encode_to_slice(self.0, &mut text[3..]).map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = hex::FromHexError;

    /// Parses `fp_` and 16 hex characters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix("fp_")
            .ok_or(hex::FromHexError::InvalidStringLength)?;
        let mut bytes = [0u8; 8];
        hex::decode_to_slice(hex, &mut bytes)?;
        Ok(Self(bytes))
    }
}

impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Turns tokens into [`SecretHash`]es: plain SHA-256, or HMAC-SHA256 keyed with a server pepper so
/// that a stolen database alone cannot be used to test guesses.
///
/// The HMAC is keyed once, when the hasher is built: each hash starts from a copy of the keyed
/// state instead of hashing the pepper again. The pepper itself is zeroed once keyed.
#[derive(Clone, Default)]
pub struct Hasher {
    keyed: Option<Arc<Hmac<Sha256>>>,
}

impl Hasher {
    /// Plain SHA-256 (what Atribu and Toksta document).
    pub fn sha256() -> Self {
        Self { keyed: None }
    }

    /// HMAC-SHA256 keyed with `pepper`, a server secret kept outside the store.
    pub fn hmac_sha256(pepper: impl Into<Vec<u8>>) -> Self {
        let pepper = Zeroizing::new(pepper.into());
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(&pepper).expect("HMAC accepts keys of any length");
        Self {
            keyed: Some(Arc::new(keyed)),
        }
    }

    /// Hashes a whole token.
    #[inline]
    pub fn hash(&self, token: &str) -> SecretHash {
        let bytes: [u8; 32] = match &self.keyed {
            None => Sha256::digest(token.as_bytes()).into(),
            Some(keyed) => {
                let mut mac = Hmac::<Sha256>::clone(keyed);
                mac.update(token.as_bytes());
                mac.finalize().into_bytes().into()
            }
        };
        SecretHash(bytes)
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithm = if self.keyed.is_some() {
            "hmac-sha256"
        } else {
            "sha256"
        };
        f.debug_struct("Hasher").field("algorithm", &algorithm).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_vector() {
        let hash = Hasher::sha256().hash("abc");
        assert_eq!(
            hash.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(SecretHash::from_hex(&hash.to_hex()).unwrap(), hash);
        assert!(SecretHash::from_hex("zz").is_err());
    }

    #[test]
    fn hmac_matches_rfc_4231_and_is_stable_across_calls() {
        let hasher = Hasher::hmac_sha256(b"Jefe".to_vec());
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        for _ in 0..2 {
            assert_eq!(hasher.hash("what do ya want for nothing?").to_hex(), expected);
        }
    }

    #[test]
    fn pepper_changes_the_hash() {
        let plain = Hasher::sha256().hash("token");
        let peppered = Hasher::hmac_sha256(b"pepper".to_vec()).hash("token");
        assert!(!plain.verify(&peppered));
        assert!(peppered.verify(&Hasher::hmac_sha256(b"pepper".to_vec()).hash("token")));
        assert!(!peppered.verify(&Hasher::hmac_sha256(b"other".to_vec()).hash("token")));
    }

    #[test]
    fn debug_shows_fingerprint_only() {
        let hash = Hasher::sha256().hash("abc");
        let debug = format!("{hash:?}");
        assert!(!debug.contains(&hash.to_hex()[..16]), "{debug}");
        assert!(debug.contains("fp_"));
        let hasher = format!("{:?}", Hasher::hmac_sha256(b"sekrit-pepper".to_vec()));
        assert!(!hasher.contains("sekrit"), "{hasher}");
    }

    #[test]
    fn a_fingerprint_reads_as_fp_and_sixteen_lowercase_hex_digits() {
        let fingerprint = Hasher::sha256().hash("abc").fingerprint();
        let text = fingerprint.to_string();
        assert_eq!(text.len(), 19, "{text}");
        assert!(
            text.strip_prefix("fp_").is_some_and(|hex| hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))),
            "{text}"
        );
        assert_eq!(text.parse::<Fingerprint>().unwrap(), fingerprint);
        let parsed: Fingerprint = "fp_00a1B2c3d4e5f6ff".parse().unwrap();
        assert_eq!(parsed.to_string(), "fp_00a1b2c3d4e5f6ff");
        assert_eq!(format!("{parsed:?}"), "fp_00a1b2c3d4e5f6ff");
    }
}
