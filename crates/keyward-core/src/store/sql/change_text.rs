//! A [`Change`] as one line of text, the form it travels in between processes: a PostgreSQL
//! notification's payload, a row of SQLite's change log.
//!
//! A key change is `<key id> <lookup>` (the lookup as [`LookupKey`]'s text form), a keyspace
//! change `keyspace <name>`; key ids start with `key_`, so the two never meet.

use crate::store::{Change, KeyChange};
use crate::{KeyId, KeyspaceName, LookupKey};

const KEYSPACE: &str = "keyspace";

/// The text of `change`.
pub(crate) fn encode(change: &Change) -> String {
    match change {
        Change::Key(change) => format!("{} {}", change.key_id, change.lookup),
        Change::Keyspace(name) => format!("{KEYSPACE} {name}"),
    }
}

/// Reads a text made by [`encode`].
pub(crate) fn decode(text: &str) -> Option<Change> {
    let (head, tail) = text.split_once(' ')?;
    if head == KEYSPACE {
        return tail.parse::<KeyspaceName>().ok().map(Change::Keyspace);
    }
    Some(Change::Key(KeyChange {
        key_id: head.parse::<KeyId>().ok()?,
        lookup: tail.parse::<LookupKey>().ok()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip() {
        let key_id = KeyId::generate();
        let key = Change::Key(KeyChange {
            key_id: key_id.clone(),
            lookup: "p:a1b2c3d4".parse().unwrap(),
        });
        assert_eq!(encode(&key), format!("{key_id} p:a1b2c3d4"));
        assert_eq!(decode(&encode(&key)), Some(key));
        let keyspace = Change::Keyspace("adtarget".parse().unwrap());
        assert_eq!(encode(&keyspace), "keyspace adtarget");
        assert_eq!(decode("keyspace adtarget"), Some(keyspace));
    }

    #[test]
    fn malformed_texts_are_refused() {
        for bad in [
            "",
            "key_abc",
            "key_abc p:",
            "nokey p:abc",
            "key_abc x:abc",
            "key_abc p:abc extra",
            "keyspace",
            "keyspace Bad Name",
            "keyspace ",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
