//! [`Keyspace`]: a named policy (token format and lifecycle rules), and the document a store
//! keeps it as.

use serde::{Deserialize, Serialize};

use super::KeyspaceName;
use crate::KeyPolicy;
use crate::token::TokenFormat;

/// The version of the stored document's shape.
const DOCUMENT_VERSION: u32 = 1;

/// A named policy: the token format keys are minted in and the rules of their life (default and
/// allowed scopes, tiers, the limit of active keys per tenant, rotation and grace, default
/// lifetime).
///
/// An app declares its keyspace in code
/// ([`KeyManagerBuilder::declare`](crate::manager::KeyManagerBuilder::declare)); the store keeps
/// it, so that the `keyward` CLI, the management router and every other process opened on that
/// store apply the same rules. Several keyspaces can share a store; every key records its own.
///
/// ```
/// use keyward_core::keyspace::Keyspace;
/// use keyward_core::token::TokenFormat;
/// use keyward_core::{KeyPolicy, KeyspaceName};
///
/// let keyspace = Keyspace::new(KeyspaceName::new("api")?, TokenFormat::default(), KeyPolicy::default());
/// let stored = keyspace.to_document();
/// assert_eq!(Keyspace::from_document(keyspace.name.clone(), &stored)?, keyspace);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyspace {
    /// Its name.
    pub name: KeyspaceName,
    /// How its tokens look.
    pub format: TokenFormat,
    /// The rules of its keys' life.
    pub policy: KeyPolicy,
}

/// A stored keyspace document that does not parse: written by hand or by another version.
#[derive(Debug, thiserror::Error)]
#[error("the stored keyspace `{name}` is not a valid keyspace document: {reason}")]
pub struct InvalidDocument {
    name: KeyspaceName,
    reason: String,
}

/// The stored shape: `{"version":1,"format":{…},"policy":{…}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u32,
    format: TokenFormat,
    policy: KeyPolicy,
}

impl Keyspace {
    /// A keyspace of this name, format and policy.
    pub fn new(name: KeyspaceName, format: TokenFormat, policy: KeyPolicy) -> Self {
        Self { name, format, policy }
    }

    /// The JSON document a store keeps (the name is its key, not part of it).
    pub fn to_document(&self) -> String {
        let document = Document {
            version: DOCUMENT_VERSION,
            format: self.format.clone(),
            policy: self.policy.clone(),
        };
        serde_json::to_string(&document).expect("a keyspace document always serializes")
    }

    /// Reads a document written by [`to_document`](Self::to_document).
    ///
    /// # Errors
    ///
    /// [`InvalidDocument`] when the text is not such a document, is of another version, or holds
    /// a format or policy that the builders refuse.
    pub fn from_document(name: KeyspaceName, text: &str) -> Result<Self, InvalidDocument> {
        let invalid = |reason: String| InvalidDocument {
            name: name.clone(),
            reason,
        };
        let document: Document = serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
        if document.version != DOCUMENT_VERSION {
            return Err(invalid(format!(
                "version {} (this keyward reads version {DOCUMENT_VERSION})",
                document.version
            )));
        }
        document
            .policy
            .validate()
            .map_err(|error| invalid(error.to_string()))?;
        Ok(Self {
            name,
            format: document.format,
            policy: document.policy,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> KeyspaceName {
        KeyspaceName::new("api").expect("valid")
    }

    #[test]
    fn bad_documents_are_refused_with_the_name() {
        let keyspace = Keyspace::new(name(), TokenFormat::default(), KeyPolicy::default());
        let good = keyspace.to_document();
        let cases = [
            "".to_owned(),
            "{}".to_owned(),
            good.replace("\"version\":1", "\"version\":2"),
            good.replace("\"max_active_keys\":null", "\"max_active_keys\":0"),
            good.replace("\"namespace\":\"kw\"", "\"namespace\":\"KW\""),
        ];
        for text in cases {
            let error = Keyspace::from_document(name(), &text).expect_err("refused");
            assert!(error.to_string().contains("`api`"), "{error}");
        }
    }
}
