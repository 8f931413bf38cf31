//! [`Drift`]: what declaring a keyspace does when the store keeps a different policy.

/// What [`KeyManagerBuilder::declare`](crate::manager::KeyManagerBuilder::declare) does when the
/// store already keeps the keyspace with another policy. A different token format is always
/// refused ([`ManagerError::FormatMismatch`](crate::ManagerError::FormatMismatch)): tokens already
/// issued would stop parsing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Drift {
    /// Refuse to start, naming the rules that differ
    /// ([`ManagerError::PolicyMismatch`](crate::ManagerError::PolicyMismatch)). The default:
    /// two processes never apply two policies to one keyspace without someone deciding it.
    #[default]
    Refuse,
    /// Replace the stored policy with the declared one, logged as a warning (target
    /// `keyward::lifecycle`); every process on the store applies it within a second.
    Overwrite,
    /// Apply the stored policy, as changed with the `keyward keyspace set` command, and log
    /// which rules differ from the code's.
    KeepStored,
}
