//! What the application learns from [`poll_event`](crate::Membership::poll_event).

use blaze_wire::{GroupId, MemberId};

/// A handle on one queue delivery, given back to
/// [`ack`](crate::Membership::ack) once the message is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delivery {
    /// The group the queue belongs to.
    pub group: GroupId,
    /// The coordinator that dispatched the message.
    pub coordinator: MemberId,
    /// The coordinator's id of the message.
    pub id: u64,
    pub(crate) queue: crate::Name,
}

/// One event. Payloads borrow the machine's storage until the next call
/// on the machine.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A new view of `group` was installed. Per-member events follow it.
    ViewInstalled {
        /// The group.
        group: GroupId,
        /// Its view id (strictly increasing).
        view_id: u64,
        /// Number of members.
        members: usize,
        /// True when the view merges views of two or more partitions.
        merge: bool,
    },
    /// A member entered the view.
    MemberJoined {
        /// The group.
        group: GroupId,
        /// The member.
        member: MemberId,
    },
    /// A member left the view gracefully.
    MemberLeft {
        /// The group.
        group: GroupId,
        /// The member.
        member: MemberId,
    },
    /// A member was suspected and removed from the view.
    MemberFailed {
        /// The group.
        group: GroupId,
        /// The member.
        member: MemberId,
    },
    /// The coordinator of `group` changed.
    CoordinatorChanged {
        /// The group.
        group: GroupId,
        /// The new coordinator.
        coordinator: MemberId,
        /// The previous one, if any.
        previous: Option<MemberId>,
    },
    /// Partitions healed: views were merged into `view_id`.
    Merged {
        /// The group.
        group: GroupId,
        /// The merged view.
        view_id: u64,
    },
    /// This member's leave of `group` is complete.
    Left {
        /// The group.
        group: GroupId,
    },
    /// A point-to-point message.
    Message {
        /// The sender.
        from: MemberId,
        /// The payload.
        payload: &'a [u8],
    },
    /// A request; answer with [`reply`](crate::Membership::reply).
    Request {
        /// The requester.
        from: MemberId,
        /// Its correlation id.
        correlation: u64,
        /// Set when the request was addressed to any member of a group.
        group: Option<GroupId>,
        /// The payload.
        payload: &'a [u8],
    },
    /// A reply to one of this member's requests.
    Reply {
        /// The responder.
        from: MemberId,
        /// The request's correlation id.
        correlation: u64,
        /// The responder's error code (0 = ok).
        error: u32,
        /// The payload.
        payload: &'a [u8],
    },
    /// A request got no reply in time (a later reply is dropped and counted).
    RequestTimedOut {
        /// The request's correlation id.
        correlation: u64,
    },
    /// A queue message for this consumer; acknowledge it with
    /// [`ack`](crate::Membership::ack).
    QueueMessage {
        /// The delivery handle.
        delivery: Delivery,
        /// The queue name.
        queue: &'a str,
        /// True when an earlier delivery of this message was not
        /// acknowledged (its consumer failed or left, or the coordinator
        /// changed): the message may have been processed already.
        redelivered: bool,
        /// The payload.
        payload: &'a [u8],
    },
    /// A queue message sent by this member was acknowledged by a consumer.
    QueueAcked {
        /// The group.
        group: GroupId,
        /// The id [`send_queue`](crate::Membership::send_queue) returned.
        correlation: u64,
    },
}
