//! What the replica tells the application, and the bounded queue that
//! holds it until [`Replica::poll_event`](crate::Replica::poll_event).

use crate::WriteError;
use blaze_wire::{Instant, MemberId};
use heapless::{Deque, Vec};

/// Most events waiting for `poll_event` by default (a replica's
/// `EVENTS`; at least 4). Operations are applied only while
/// the queue has room, so a slow reader delays application, never loses
/// an event.
pub const EVENT_QUEUE: usize = 16;

/// Names one write or lock request of this member (echoed by its outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// What happened to an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// A new key.
    Inserted,
    /// A new value for an existing key.
    Updated,
    /// Removed by a member (or on its owner's exit).
    Removed,
    /// Its time to live ran out.
    Expired,
}

/// A change of one entry, at every member, in the total order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change<'a> {
    /// What happened.
    pub kind: ChangeKind,
    /// Map name.
    pub map: &'a str,
    /// Key.
    pub key: &'a [u8],
    /// The value before, if any.
    pub old: Option<&'a [u8]>,
    /// The value after, if any.
    pub new: Option<&'a [u8]>,
    /// The order number of the change (the entry's new version).
    pub version: u64,
    /// The member that caused it (the coordinator for expiry and exits).
    pub cause: MemberId,
}

/// Why this member no longer holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockLostReason {
    /// The lease ran out on this member's clock before a renewal.
    Expired,
    /// The coordinator took it away (renewal refused, or a merge this side
    /// lost).
    Revoked,
}

/// An event; fields borrow the replica until the next `poll_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An entry changed (every member sees every change, in order).
    Changed(Change<'a>),
    /// A write of this member is ordered and replicated at every member of
    /// the view.
    WriteDone {
        /// The request.
        request: RequestId,
        /// The entry's new version (0 for a remove).
        version: u64,
    },
    /// A write of this member failed.
    WriteFailed {
        /// The request.
        request: RequestId,
        /// Why.
        error: WriteError,
    },
    /// This member holds the lock until `deadline` (on its own clock)
    /// unless it renews it.
    LockAcquired {
        /// The request.
        request: RequestId,
        /// Map name.
        map: &'a str,
        /// Key.
        key: &'a [u8],
        /// Fencing token: pass it with writes to the key.
        fence: u64,
        /// End of the lease.
        deadline: Instant,
    },
    /// A lock request failed.
    LockFailed {
        /// The request.
        request: RequestId,
        /// Why.
        error: WriteError,
    },
    /// A renewal went through: the lease now ends at `deadline`.
    LockRenewed {
        /// Map name.
        map: &'a str,
        /// Key.
        key: &'a [u8],
        /// Fencing token (unchanged).
        fence: u64,
        /// New end of the lease.
        deadline: Instant,
    },
    /// This member no longer holds a lock it held (not after its own
    /// `unlock`).
    LockLost {
        /// Map name.
        map: &'a str,
        /// Key.
        key: &'a [u8],
        /// The fencing token of the lost grant.
        fence: u64,
        /// Why.
        reason: LockLostReason,
    },
    /// A new view named a new coordinator (or none).
    CoordinatorChanged {
        /// The view.
        view: u64,
        /// The coordinator.
        coordinator: Option<MemberId>,
    },
    /// The view reached (`true`) or fell below (`false`) the quorum.
    QuorumChanged {
        /// Whether writes are possible.
        present: bool,
    },
    /// This member's state was replaced by a snapshot (joining, lagging
    /// past the log, or losing a merge). Pending writes were aborted.
    StateInstalled {
        /// Order number the snapshot reflects.
        as_of: u64,
    },
    /// A merged view was reconciled; `won` says whether this member's side
    /// kept its state.
    ///
    /// Sides are compared as they were before the merge, whatever part of
    /// them the merged view holds (membership may bring a side back one
    /// view at a time): the side whose last view of its own had more
    /// members wins; between sides of equal size, the side formed in the
    /// later view (then: by the higher coordinator id). So a member that
    /// lost with `own_size == winner_size` lost the tie-break. A member of
    /// the winning side that arrives in a later step of the merge reports
    /// `won` too, though it takes a snapshot of the merged state.
    Merged {
        /// The merged view.
        view: u64,
        /// Whether this member's side was the base.
        won: bool,
        /// The winning side's size before the merge.
        winner_size: u64,
        /// This member's side's size before the merge.
        own_size: u64,
    },
    /// At the coordinator, merge policy [`Ask`](crate::MergePolicy::Ask): a
    /// losing side's entry differs from the base. Answer with
    /// [`Replica::resolve_merge`](crate::Replica::resolve_merge).
    MergeConflict {
        /// Map name.
        map: &'a str,
        /// Key.
        key: &'a [u8],
        /// The base value, if the base has the key.
        ours: Option<&'a [u8]>,
        /// The losing side's value.
        theirs: &'a [u8],
        /// The losing side's version.
        their_version: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Changed(ChangeKind),
    WriteDone,
    WriteFailed(WriteError),
    LockAcquired,
    LockFailed(WriteError),
    LockRenewed,
    LockLost(LockLostReason),
    Coordinator,
    Quorum(bool),
    Installed,
    Merged {
        won: bool,
        winner_size: u64,
        own_size: u64,
    },
    Conflict,
}

/// An event as queued: owned copies of the bytes it shows.
#[derive(Debug, Clone)]
pub(crate) struct Slot<const K: usize, const V: usize> {
    pub(crate) tag: Tag,
    pub(crate) map: u8,
    pub(crate) key: Vec<u8, K>,
    pub(crate) old: Option<Vec<u8, V>>,
    pub(crate) new: Option<Vec<u8, V>>,
    pub(crate) number: u64,
    pub(crate) member: Option<MemberId>,
    pub(crate) request: u64,
    pub(crate) at: Instant,
}

impl<const K: usize, const V: usize> Slot<K, V> {
    pub(crate) fn new(tag: Tag) -> Self {
        Slot {
            tag,
            map: 0,
            key: Vec::new(),
            old: None,
            new: None,
            number: 0,
            member: None,
            request: 0,
            at: Instant::ZERO,
        }
    }
}

/// The bounded event queue with borrowed hand-out: the event returned by
/// `next` stays at the head until the following call.
#[derive(Debug)]
pub(crate) struct Queue<const K: usize, const V: usize, const N: usize> {
    q: Deque<Slot<K, V>, N>,
    head_out: bool,
}

impl<const K: usize, const V: usize, const N: usize> Queue<K, V, N> {
    pub(crate) fn new() -> Self {
        Queue {
            q: Deque::new(),
            head_out: false,
        }
    }

    /// Free places, counting a handed-out head as free.
    pub(crate) fn room(&self) -> usize {
        N - self.q.len() + usize::from(self.head_out)
    }

    /// Drops the handed-out head, if any.
    pub(crate) fn release_head(&mut self) {
        if self.head_out {
            self.q.pop_front();
            self.head_out = false;
        }
    }

    /// Queues `e`; hands it back when full.
    #[allow(
        clippy::result_large_err,
        reason = "the event is handed back by value, as heapless does; there is no heap to box it on"
    )]
    pub(crate) fn push(&mut self, e: Slot<K, V>) -> Result<(), Slot<K, V>> {
        self.release_head();
        self.q.push_back(e)
    }

    /// Queues an event of kind `tag` with every other field empty and
    /// hands it out to be filled in place; `None` when full (counted in
    /// `dropped`).
    pub(crate) fn push_new(&mut self, tag: Tag, dropped: &mut u64) -> Option<&mut Slot<K, V>> {
        if self.push(Slot::new(tag)).is_err() {
            *dropped += 1;
            return None;
        }
        self.q.back_mut()
    }

    pub(crate) fn next(&mut self) -> Option<&Slot<K, V>> {
        self.release_head();
        let head = self.q.front()?;
        self.head_out = true;
        Some(head)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.q.len() == usize::from(self.head_out)
    }
}

pub(crate) fn to_event<'a, const K: usize, const V: usize>(
    s: &'a Slot<K, V>,
    map: &'a str,
) -> Event<'a> {
    let key = s.key.as_slice();
    let request = RequestId(s.request);
    match s.tag {
        Tag::Changed(kind) => Event::Changed(Change {
            kind,
            map,
            key,
            old: s.old.as_ref().map(|v| v.as_slice()),
            new: s.new.as_ref().map(|v| v.as_slice()),
            version: s.number,
            cause: s.member.unwrap_or(MemberId::NIL),
        }),
        Tag::WriteDone => Event::WriteDone {
            request,
            version: s.number,
        },
        Tag::WriteFailed(error) => Event::WriteFailed { request, error },
        Tag::LockAcquired => Event::LockAcquired {
            request,
            map,
            key,
            fence: s.number,
            deadline: s.at,
        },
        Tag::LockFailed(error) => Event::LockFailed { request, error },
        Tag::LockRenewed => Event::LockRenewed {
            map,
            key,
            fence: s.number,
            deadline: s.at,
        },
        Tag::LockLost(reason) => Event::LockLost {
            map,
            key,
            fence: s.number,
            reason,
        },
        Tag::Coordinator => Event::CoordinatorChanged {
            view: s.number,
            coordinator: s.member,
        },
        Tag::Quorum(present) => Event::QuorumChanged { present },
        Tag::Installed => Event::StateInstalled { as_of: s.number },
        Tag::Merged {
            won,
            winner_size,
            own_size,
        } => Event::Merged {
            view: s.number,
            won,
            winner_size,
            own_size,
        },
        Tag::Conflict => Event::MergeConflict {
            map,
            key,
            ours: s.old.as_ref().map(|v| v.as_slice()),
            theirs: s.new.as_ref().map_or(&[], |v| v.as_slice()),
            their_version: s.number,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_head_stays_until_next_call() {
        let mut q: Queue<4, 4, EVENT_QUEUE> = Queue::new();
        let mut a = Slot::new(Tag::WriteDone);
        a.number = 1;
        let mut b = Slot::new(Tag::WriteDone);
        b.number = 2;
        q.push(a).unwrap();
        q.push(b).unwrap();
        assert_eq!(q.next().map(|s| s.number), Some(1));
        assert_eq!(q.room(), EVENT_QUEUE - 1);
        assert_eq!(q.next().map(|s| s.number), Some(2));
        assert!(q.next().is_none());
        assert!(q.is_empty());
    }

    #[test]
    fn full_queue_hands_the_event_back() {
        let mut q: Queue<1, 1, EVENT_QUEUE> = Queue::new();
        for _ in 0..EVENT_QUEUE {
            q.push(Slot::new(Tag::Installed)).unwrap();
        }
        assert!(q.push(Slot::new(Tag::Installed)).is_err());
        assert_eq!(q.room(), 0);
    }
}
