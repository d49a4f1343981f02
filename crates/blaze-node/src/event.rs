//! What a [`Node`](crate::Node) tells the application.

#[cfg(feature = "map")]
use blaze_map::{Change, LockLostReason, RequestId, WriteError};
use blaze_membership::Delivery;
use blaze_proto_nack::CutReason;
#[cfg(feature = "total-order")]
use blaze_proto_totem::ConfigurationKind;
#[cfg(feature = "map")]
use blaze_wire::Instant;
#[cfg(feature = "total-order")]
use blaze_wire::RingId;
use blaze_wire::{GroupId, MemberId, Seq};

use crate::Qos;

/// One event of a [`Node`](crate::Node). Fields borrow the machine that
/// produced the event until the next call on the node: delivery copies
/// nothing.
///
/// `X` is the event type of the node's custom protocol
/// ([`NoCustom`](crate::NoCustom) has none).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Event<'a, X = core::convert::Infallible> {
    /// A message published on a topic of `group`, delivered as its QoS
    /// promises (reliable: exactly once and in the sender's order).
    Message {
        /// The group.
        group: GroupId,
        /// The topic.
        topic: &'a str,
        /// Who published it.
        sender: MemberId,
        /// The message.
        payload: &'a [u8],
        /// The channel it came on.
        qos: Qos,
    },
    /// Messages `from..=to` of `sender`'s reliable stream in `group` will
    /// never be delivered (the sender no longer holds them); delivery
    /// continues after `to`.
    Unrecoverable {
        /// The group.
        group: GroupId,
        /// Whose stream.
        sender: MemberId,
        /// First sequence number lost.
        from: Seq,
        /// Last sequence number lost (inclusive).
        to: Seq,
    },
    /// This member's reliable stream in `group` stopped waiting for
    /// `member` (it lagged or went silent).
    ReceiverCutLoose {
        /// The group.
        group: GroupId,
        /// The receiver.
        member: MemberId,
        /// Why.
        reason: CutReason,
    },
    /// A new view of `group` was installed; per-member events follow.
    ViewChanged {
        /// The group.
        group: GroupId,
        /// The view id (increasing).
        view_id: u64,
        /// Number of members.
        members: usize,
        /// True when the view merges formerly partitioned sides.
        merge: bool,
    },
    /// Partitions of `group` healed: their views were merged into
    /// `view_id` (after the [`ViewChanged`](Event::ViewChanged) with
    /// `merge` set).
    Merged {
        /// The group.
        group: GroupId,
        /// The merged view.
        view_id: u64,
    },
    /// A member entered the view of `group`.
    MemberJoined {
        /// The group.
        group: GroupId,
        /// The member.
        member: MemberId,
    },
    /// A member left `group` gracefully.
    MemberLeft {
        /// The group.
        group: GroupId,
        /// The member.
        member: MemberId,
    },
    /// A member of `group` was declared failed and removed from the view.
    MemberFailed {
        /// The group.
        group: GroupId,
        /// The member.
        member: MemberId,
    },
    /// The coordinator (master) of `group` changed.
    CoordinatorChanged {
        /// The group.
        group: GroupId,
        /// The new coordinator.
        coordinator: MemberId,
        /// The previous one.
        previous: Option<MemberId>,
    },
    /// This member's leave of `group` is complete.
    Left {
        /// The group.
        group: GroupId,
    },
    /// A point-to-point message ([`Node::send_to`](crate::Node::send_to)).
    Direct {
        /// The sender.
        from: MemberId,
        /// The payload.
        payload: &'a [u8],
    },
    /// A request; answer with [`Node::reply`](crate::Node::reply).
    Request {
        /// The requester.
        from: MemberId,
        /// Its correlation id.
        correlation: u64,
        /// Set when addressed to any member of a group.
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
    /// A request got no reply in time.
    RequestTimedOut {
        /// The request's correlation id.
        correlation: u64,
    },
    /// A queue message for this consumer; acknowledge it with
    /// [`Node::queue_ack`](crate::Node::queue_ack).
    QueueMessage {
        /// The handle to acknowledge.
        delivery: Delivery,
        /// The queue.
        queue: &'a str,
        /// An earlier delivery was not acknowledged: it may have been
        /// processed already.
        redelivered: bool,
        /// The payload.
        payload: &'a [u8],
    },
    /// A queue message sent by this member was acknowledged by a consumer.
    QueueAcked {
        /// The group.
        group: GroupId,
        /// The id [`Node::queue_send`](crate::Node::queue_send) returned.
        correlation: u64,
    },
    /// An entry of a replicated map of `group` changed (seen by every
    /// member, in the same order). Feature `map`.
    #[cfg(feature = "map")]
    MapChanged {
        /// The group.
        group: GroupId,
        /// The change.
        change: Change<'a>,
    },
    /// A map write of this member is replicated. Feature `map`.
    #[cfg(feature = "map")]
    WriteDone {
        /// The group.
        group: GroupId,
        /// The request.
        request: RequestId,
        /// The entry's new version (0 for a remove).
        version: u64,
    },
    /// A map write of this member failed. Feature `map`.
    #[cfg(feature = "map")]
    WriteFailed {
        /// The group.
        group: GroupId,
        /// The request.
        request: RequestId,
        /// Why.
        error: WriteError,
    },
    /// This member holds a lock until `deadline` unless it renews it. Feature `map`.
    #[cfg(feature = "map")]
    LockGranted {
        /// The group.
        group: GroupId,
        /// The request.
        request: RequestId,
        /// Map name.
        map: &'a str,
        /// Key.
        key: &'a [u8],
        /// Fencing token.
        fence: u64,
        /// End of the lease on this member's clock.
        deadline: Instant,
    },
    /// A lock request failed. Feature `map`.
    #[cfg(feature = "map")]
    LockFailed {
        /// The group.
        group: GroupId,
        /// The request.
        request: RequestId,
        /// Why.
        error: WriteError,
    },
    /// This member lost a lock it held (lease expired or revoked). Feature `map`.
    #[cfg(feature = "map")]
    LockLost {
        /// The group.
        group: GroupId,
        /// Map name.
        map: &'a str,
        /// Key.
        key: &'a [u8],
        /// The lost grant's fencing token.
        fence: u64,
        /// Why.
        reason: LockLostReason,
    },
    /// Any other event of `group`'s replicated map (lock renewed, quorum,
    /// state installed, merge outcome or conflict, map coordinator). Feature `map`.
    #[cfg(feature = "map")]
    Map {
        /// The group.
        group: GroupId,
        /// The map's event.
        event: blaze_map::Event<'a>,
    },
    /// An event of the custom channel of `group`.
    Custom {
        /// The group.
        group: GroupId,
        /// The custom protocol's event.
        event: X,
    },
    /// A new configuration of `group`'s total-order ring (extended
    /// virtual synchrony): [`Qos::Agreed`] and [`Qos::Safe`] messages that
    /// follow were delivered in it. A transitional configuration (the
    /// members coming from the same old ring) precedes each regular one.
    /// Feature `total-order`.
    #[cfg(feature = "total-order")]
    RingChanged {
        /// The group.
        group: GroupId,
        /// Regular or transitional.
        kind: ConfigurationKind,
        /// The ring (for a transitional configuration, the new ring it
        /// leads to).
        ring: RingId,
        /// The members, in ascending id order.
        members: &'a [MemberId],
    },
}
