//! This member's own requests in flight, and the locks it holds.

use crate::{FLAG_OWNER_ONLY, FLAG_RELEASE_LOCK_ON_EXIT, FLAG_REMOVE_ON_EXIT, WriteError};
use blaze_wire::{Duration, Instant, MemberId};
use heapless::Vec;

/// Most requests of one member in flight at once by default (a replica's
/// `PENDING`).
pub const MAX_PENDING: usize = 16;
/// Most locks one member holds at once.
pub const MAX_HELD: usize = 8;

/// Options of a write.
///
/// ```
/// use blaze_map::WriteOptions;
/// use blaze_wire::Duration;
/// let o = WriteOptions { owner_only: true, ttl: Duration::from_secs(5), ..WriteOptions::default() };
/// assert!(o.release_lock_on_exit && !o.remove_on_exit);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Only the entry's owner (the member that created it) may change or
    /// remove it; otherwise any member may (shared writes).
    pub owner_only: bool,
    /// Time to live; the coordinator expires the entry after it
    /// ([`Duration::ZERO`] = forever).
    pub ttl: Duration,
    /// Remove the entry when its owner leaves the view.
    pub remove_on_exit: bool,
    /// Revoke the key's lock when its holder leaves the view (default on).
    pub release_lock_on_exit: bool,
    /// The fencing token of this member's lock on the key (0 = none). A
    /// write with a token is refused unless the key's current grant has it.
    pub fence: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            owner_only: false,
            ttl: Duration::ZERO,
            remove_on_exit: false,
            release_lock_on_exit: true,
            fence: 0,
        }
    }
}

impl WriteOptions {
    pub(crate) fn flags(&self) -> u32 {
        let mut f = 0;
        if self.owner_only {
            f |= FLAG_OWNER_ONLY;
        }
        if self.remove_on_exit {
            f |= FLAG_REMOVE_ON_EXIT;
        }
        if self.release_lock_on_exit {
            f |= FLAG_RELEASE_LOCK_ON_EXIT;
        }
        f
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReqKind {
    Put,
    PutIfAbsent,
    Cas,
    Remove,
    Acquire,
    Release,
    Renew,
}

impl ReqKind {
    pub(crate) const fn is_lock(self) -> bool {
        matches!(self, ReqKind::Acquire | ReqKind::Release | ReqKind::Renew)
    }
}

/// The sequenced outcome of a request, decided when applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Version (map ops) or fencing token (grants).
    Ok(u64),
    Err(WriteError),
}

/// A request of this member, resent until its operation is seen in the
/// order and then held until that operation is committed.
#[derive(Debug, Clone)]
pub(crate) struct Pending<const K: usize, const V: usize> {
    pub(crate) id: u64,
    /// The id the application knows (stays when a lock request is retried
    /// under a fresh wire id).
    pub(crate) public_id: u64,
    pub(crate) kind: ReqKind,
    pub(crate) map: u8,
    pub(crate) key: Vec<u8, K>,
    pub(crate) value: Vec<u8, V>,
    pub(crate) expected: u64,
    pub(crate) ttl_us: u64,
    pub(crate) flags: u32,
    pub(crate) fence: u64,
    pub(crate) lease_us: u64,
    /// First send of the current wire id (a lease counts from here).
    pub(crate) first_sent: Option<Instant>,
    pub(crate) next_send: Instant,
    pub(crate) deadline: Instant,
    /// Order and outcome once the operation was applied here.
    pub(crate) seen: Option<(u64, Outcome)>,
    /// Lock: the last denial named this holder.
    pub(crate) denied_by: Option<MemberId>,
    /// Lock: take a fresh wire id at the next send (after a denial).
    pub(crate) renew_id: bool,
    /// Whether the application hears about the outcome.
    pub(crate) report: bool,
}

impl<const K: usize, const V: usize> Pending<K, V> {
    /// A request of `kind` on `key` of `map` under the fresh id `id`,
    /// first sent at once, reported to the application, given up at
    /// `deadline`; no value, options or lease.
    pub(crate) fn new(
        id: u64,
        kind: ReqKind,
        map: u8,
        key: Vec<u8, K>,
        now: Instant,
        deadline: Instant,
    ) -> Self {
        Pending {
            id,
            public_id: id,
            kind,
            map,
            key,
            value: Vec::new(),
            expected: 0,
            ttl_us: 0,
            flags: 0,
            fence: 0,
            lease_us: 0,
            first_sent: None,
            next_send: now,
            deadline,
            seen: None,
            denied_by: None,
            renew_id: false,
            report: true,
        }
    }
}

/// A lock this member holds.
#[derive(Debug, Clone)]
pub(crate) struct Held<const K: usize> {
    pub(crate) map: u8,
    pub(crate) key: Vec<u8, K>,
    pub(crate) fence: u64,
    pub(crate) deadline: Instant,
}
