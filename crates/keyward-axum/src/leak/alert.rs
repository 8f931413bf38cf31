//! What GitHub sends (a list of [`Match`]es) and what it is answered ([`Label`]led
//! [`Feedback`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One token GitHub found in public. `Debug` leaves the token out.
#[derive(Deserialize)]
pub(crate) struct Match {
    /// The text that matched the registered pattern: a secret, when it is a real key.
    pub(crate) token: String,
    /// The name the pattern was registered under.
    #[serde(rename = "type")]
    pub(crate) token_type: String,
    /// Where it was found; may be empty.
    #[serde(default)]
    pub(crate) url: String,
    /// What it was found in (`content`, `commit`, `issue_comment`, `npm`, …); older alerts have
    /// none.
    #[serde(default)]
    pub(crate) source: Option<String>,
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Match")
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Whether a reported token is one of the keyspace's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Label {
    /// A key of the keyspace (active, revoked or expired).
    TruePositive,
    /// Not a token of the keyspace's format, or no key has it.
    FalsePositive,
}

/// The answer about one [`Match`]: the token by its SHA-256 only, never in the clear.
#[derive(Debug, Serialize)]
pub(crate) struct Feedback {
    /// Lowercase hex SHA-256 of the token as reported.
    pub(crate) token_hash: String,
    /// The reported type, as it came.
    pub(crate) token_type: String,
    /// The verdict.
    pub(crate) label: Label,
}

impl Feedback {
    /// The feedback about `reported`.
    pub(crate) fn new(reported: &Match, label: Label) -> Self {
        Self {
            token_hash: hex::encode(Sha256::digest(reported.token.as_bytes())),
            token_type: reported.token_type.clone(),
            label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_names_the_token_by_its_sha256() {
        let reported: Vec<Match> =
            serde_json::from_str(r#"[{"token":"some_token","type":"some_type","url":"some_url"}]"#)
                .expect("a match");
        let json =
            serde_json::to_value(Feedback::new(&reported[0], Label::FalsePositive)).expect("serializable");
        assert_eq!(
            json,
            serde_json::json!({
                // printf some_token | sha256sum
                "token_hash": "9a45520a1213f15016d2d768b5fb3d904492a44ee274b44d4de8803e00fb536a",
                "token_type": "some_type",
                "label": "false_positive",
            })
        );
        assert!(!format!("{:?}", reported[0]).contains("some_token"));
    }
}
