//! Why a command is refused at once, and why a write or lock fails later.

use blaze_wire::MemberId;
use core::fmt;

/// A command refused on the spot. The replica's state did not change and
/// nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// No view has been installed, or this member is still receiving its
    /// state: there is no coordinator to send the request to.
    NoCoordinator,
    /// The current view has fewer members than [`Config::quorum`](crate::Config::quorum).
    QuorumLost,
    /// The key or value is longer than the replica's capacity.
    TooLarge,
    /// Too many requests are in flight ([`MAX_PENDING`](crate::MAX_PENDING)).
    TooManyPending,
    /// The map name is longer than [`MAX_MAP_NAME`](crate::MAX_MAP_NAME) or
    /// the table of map names ([`MAX_MAPS`](crate::MAX_MAPS)) is full.
    TooManyMaps,
    /// `unlock` or `renew` of a lock this member does not hold.
    NotHeld,
    /// `lock` or `try_lock` of a lock this member already holds or is
    /// already waiting for.
    AlreadyHeld,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandError::NoCoordinator => "no coordinator",
            CommandError::QuorumLost => "quorum lost",
            CommandError::TooLarge => "key or value too large",
            CommandError::TooManyPending => "too many requests in flight",
            CommandError::TooManyMaps => "map name too long or too many maps",
            CommandError::NotHeld => "lock not held",
            CommandError::AlreadyHeld => "lock already held or requested",
        })
    }
}

impl core::error::Error for CommandError {}

/// Why a write or lock request failed (reported by an event).
///
/// The first group (`Owned` to `Held`) is definite: the coordinator
/// sequenced the refusal in the total order and nothing was written. The
/// last group (`Timeout`, `QuorumLost`, `Aborted`) is indeterminate: the
/// request may or may not have been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The entry is owner-only and owned by this member.
    Owned(MemberId),
    /// The key is locked by this member and the write carried no (or another)
    /// fencing token.
    Locked(MemberId),
    /// The write carried a fencing token that is not the key's current grant.
    StaleFence,
    /// Compare-and-set: the entry's version is `current` (0 = absent).
    VersionMismatch {
        /// The entry's version when the request was sequenced.
        current: u64,
    },
    /// Put-if-absent: the key exists.
    Exists,
    /// Remove: the key does not exist.
    NotFound,
    /// The replicated map has no free entry.
    MapFull,
    /// Lock: held by this member and the wait ran out.
    Held(MemberId),
    /// No outcome within [`Config::request_timeout`](crate::Config::request_timeout).
    Timeout,
    /// The view lost its quorum while the request was in flight.
    QuorumLost,
    /// This member's state was replaced (a merge it lost, or a snapshot)
    /// while the request was in flight.
    Aborted,
}

impl WriteError {
    /// Whether the request certainly had no effect.
    pub const fn is_definite(&self) -> bool {
        !matches!(
            self,
            WriteError::Timeout | WriteError::QuorumLost | WriteError::Aborted
        )
    }

    pub(crate) const fn code(&self) -> u32 {
        match self {
            WriteError::Owned(_) => 1,
            WriteError::Locked(_) => 2,
            WriteError::StaleFence => 3,
            WriteError::VersionMismatch { .. } => 4,
            WriteError::Exists => 5,
            WriteError::NotFound => 6,
            WriteError::MapFull => 7,
            WriteError::Held(_) => 8,
            WriteError::Timeout => 9,
            WriteError::QuorumLost => 10,
            WriteError::Aborted => 11,
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Owned(m) => write!(f, "owned by {m}"),
            WriteError::Locked(m) => write!(f, "locked by {m}"),
            WriteError::StaleFence => f.write_str("stale fencing token"),
            WriteError::VersionMismatch { current } => {
                write!(f, "version mismatch (current {current})")
            }
            WriteError::Exists => f.write_str("key exists"),
            WriteError::NotFound => f.write_str("key not found"),
            WriteError::MapFull => f.write_str("map full"),
            WriteError::Held(m) => write!(f, "lock held by {m}"),
            WriteError::Timeout => f.write_str("timed out"),
            WriteError::QuorumLost => f.write_str("quorum lost"),
            WriteError::Aborted => f.write_str("aborted by a state transfer"),
        }
    }
}

impl core::error::Error for WriteError {}
