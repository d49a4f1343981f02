//! What the channels hand to the application: owned copies of the node's
//! borrowed events.

use blaze_node::{Delivery, GroupId, MemberId, Qos};

/// A message published on a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The group it was published in.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// Who published it.
    pub sender: MemberId,
    /// The message.
    pub payload: Vec<u8>,
    /// The channel it came on.
    pub qos: Qos,
}

/// A message lent to a handler that runs on the channel's task
/// ([`Channel::subscribe_inline`](crate::Channel::subscribe_inline)): the
/// borrowed counterpart of [`Message`], valid for the call only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// The group it was published in (its name, or empty if this member
    /// has left it).
    pub group: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// Who published it.
    pub sender: MemberId,
    /// The message.
    pub payload: &'a [u8],
    /// The channel it came on.
    pub qos: Qos,
}

/// What [`Inbox::recv_into`](crate::Inbox::recv_into) tells about the
/// message it copied: the allocation-free counterpart of [`Message`]
/// (the payload is in the caller's buffer; the group is its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageMeta {
    /// The group it was published in.
    pub group: GroupId,
    /// Who published it.
    pub sender: MemberId,
    /// The channel it came on.
    pub qos: Qos,
    /// Its length: the bytes copied to the front of the buffer (all of
    /// them when the buffer holds [`RECORD_CAPACITY`](crate::RECORD_CAPACITY)).
    pub len: usize,
}

/// A point-to-point message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Direct {
    /// The sender.
    pub from: MemberId,
    /// The message.
    pub payload: Vec<u8>,
}

/// A request from another member; answer it with
/// [`GroupChannel::reply`](crate::GroupChannel::reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The requester.
    pub from: MemberId,
    /// The requester's correlation id.
    pub correlation: u64,
    /// The request.
    pub payload: Vec<u8>,
}

/// A queue message for this consumer; acknowledge it with
/// [`GroupChannel::ack`](crate::GroupChannel::ack) once processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The group of the queue.
    pub group: String,
    /// The queue.
    pub queue: String,
    /// An earlier delivery was not acknowledged: it may have been
    /// processed already.
    pub redelivered: bool,
    /// The message.
    pub payload: Vec<u8>,
    pub(crate) delivery: Delivery,
}

/// A member as a view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: MemberId,
    /// Its name.
    pub name: String,
    /// Its unicast address, when known.
    pub address: Option<std::net::SocketAddr>,
}

/// A held write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockGrant {
    /// The fencing token: pass it with writes made under the lock.
    pub fence: u64,
    /// How long the lease lasts from when it was granted, unless renewed.
    pub lease: std::time::Duration,
}

/// How a map entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A new key.
    Inserted,
    /// A new value for a key.
    Updated,
    /// A key removed.
    Removed,
    /// A key whose time to live ran out, or whose owner left.
    Expired,
}

/// A change of a replicated map entry, seen in the same order by every
/// member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapChange {
    /// The group of the map.
    pub group: String,
    /// The map.
    pub map: String,
    /// The key.
    pub key: Vec<u8>,
    /// How it changed.
    pub kind: ChangeKind,
    /// The value before.
    pub old: Option<Vec<u8>>,
    /// The value after.
    pub new: Option<Vec<u8>>,
    /// The member whose write (or departure) made the change.
    pub cause: MemberId,
}

/// Something that happened to a group, its members or its map.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupEvent {
    /// A new view of the group.
    ViewChanged {
        /// The group.
        group: String,
        /// The view id (increasing).
        view_id: u64,
        /// Number of members.
        members: usize,
        /// True when the view merges formerly partitioned sides (a
        /// [`Merged`](GroupEvent::Merged) follows).
        merge: bool,
    },
    /// Partitions of the group healed: their views were merged into
    /// `view_id`. Membership may merge the sides over several views, each
    /// reported.
    Merged {
        /// The group.
        group: String,
        /// The merged view.
        view_id: u64,
    },
    /// The replicated map of a merged view was reconciled by its merge
    /// policy. Sides are compared as they were before the merge: the side
    /// whose last view of its own had more members wins; between sides of
    /// equal size, the one formed later.
    MapMerged {
        /// The group.
        group: String,
        /// The merged view.
        view_id: u64,
        /// Whether this member's side kept its state (otherwise it took
        /// the winning side's state, plus what the policy re-applied).
        won: bool,
        /// The winning side's size before the merge.
        winner_size: u64,
        /// This member's side's size before the merge (equal to
        /// `winner_size` when the loss was a tie-break).
        own_size: u64,
    },
    /// A member entered the group.
    MemberJoined {
        /// The group.
        group: String,
        /// The member.
        member: MemberId,
    },
    /// A member left the group gracefully.
    MemberLeft {
        /// The group.
        group: String,
        /// The member.
        member: MemberId,
    },
    /// A member was declared failed and removed.
    MemberFailed {
        /// The group.
        group: String,
        /// The member.
        member: MemberId,
    },
    /// The coordinator (master) of the group changed.
    CoordinatorChanged {
        /// The group.
        group: String,
        /// The new coordinator.
        coordinator: MemberId,
        /// The previous one.
        previous: Option<MemberId>,
    },
    /// This member's leave of the group is complete.
    Left {
        /// The group.
        group: String,
    },
    /// A map entry changed.
    MapChanged(MapChange),
    /// This member lost a lock it held.
    LockLost {
        /// The group.
        group: String,
        /// The map.
        map: String,
        /// The key.
        key: Vec<u8>,
        /// The lost grant's fencing token.
        fence: u64,
    },
    /// Messages of a sender's reliable stream will never be delivered
    /// (the sender no longer holds them).
    Unrecoverable {
        /// The group.
        group: String,
        /// Whose stream.
        sender: MemberId,
    },
    /// The group's total-order ring got a new configuration (extended
    /// virtual synchrony): the agreed and safe messages that follow were
    /// delivered in it, to its members only. A transitional configuration
    /// (the members coming on together from the same old ring) precedes
    /// each regular one. A regular ring with fewer members than the view
    /// means the ring split: messages sent meanwhile reach only its members.
    RingChanged {
        /// The group.
        group: String,
        /// True for a transitional configuration, false for a regular ring.
        transitional: bool,
        /// The ring's sequence number (for a transitional configuration,
        /// of the new ring it leads to).
        ring_seq: u64,
        /// The ring's representative (its lowest member id).
        representative: Option<MemberId>,
        /// The members, in ascending id order.
        members: Vec<MemberId>,
    },
}

impl GroupEvent {
    /// The group the event belongs to.
    pub fn group(&self) -> &str {
        match self {
            GroupEvent::ViewChanged { group, .. }
            | GroupEvent::Merged { group, .. }
            | GroupEvent::MapMerged { group, .. }
            | GroupEvent::MemberJoined { group, .. }
            | GroupEvent::MemberLeft { group, .. }
            | GroupEvent::MemberFailed { group, .. }
            | GroupEvent::CoordinatorChanged { group, .. }
            | GroupEvent::Left { group }
            | GroupEvent::LockLost { group, .. }
            | GroupEvent::Unrecoverable { group, .. }
            | GroupEvent::RingChanged { group, .. } => group,
            GroupEvent::MapChanged(change) => &change.group,
        }
    }
}
