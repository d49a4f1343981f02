//! Fixed storage slots for message payloads and their bookkeeping.

use crate::Name;
use blaze_wire::{GroupId, Instant, MemberId, QueueOp};

/// The header fields of a point-to-point `Request` frame (its epoch and
/// sequence number come from the channel when it is sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) group: GroupId,
    pub(crate) correlation: u64,
    pub(crate) target: Option<MemberId>,
    pub(crate) timeout_us: u64,
    pub(crate) queue: Name,
    pub(crate) redelivered: bool,
    pub(crate) one_way: bool,
    /// The role of the message in queue messaging.
    pub(crate) queue_op: QueueOp,
}

/// What a received payload is, for `poll_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inbound {
    Message {
        from: MemberId,
    },
    Request {
        from: MemberId,
        correlation: u64,
        group: Option<GroupId>,
    },
    Reply {
        from: MemberId,
        correlation: u64,
        error: u32,
    },
    Queue {
        delivery: crate::Delivery,
        redelivered: bool,
    },
}

/// Where a coordinator's queue message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueState {
    Pending,
    InFlight { consumer: MemberId },
}

/// The state of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    Free,
    /// A point-to-point message awaiting its ack.
    Outgoing {
        to: MemberId,
        seq: u64,
        next_tx: Instant,
        header: Header,
        sent: bool,
    },
    /// A reply awaiting the requester's ack.
    Reply {
        to: MemberId,
        correlation: u64,
        error: u32,
        next_tx: Instant,
        tries: u8,
    },
    /// A received payload awaiting `poll_event`.
    Inbound(Inbound),
    /// The coordinator's copy of a queue message (the only copy when the
    /// coordinator produced it itself).
    Queued {
        slot_group: usize,
        queue: Name,
        id: u64,
        producer: MemberId,
        producer_correlation: u64,
        redelivered: bool,
        state: QueueState,
    },
    /// A producer's copy of a queue message until a consumer acked it.
    Produced {
        slot_group: usize,
        queue: Name,
        correlation: u64,
        /// The coordinator it was handed to; `None` while it must be sent
        /// (again) to the current one.
        coordinator: Option<MemberId>,
        /// Sent before to a coordinator that is gone.
        redelivered: bool,
    },
}

/// One slot: state and payload.
#[derive(Debug, Clone)]
pub(crate) struct Slot<const B: usize> {
    pub(crate) state: SlotState,
    pub(crate) len: usize,
    pub(crate) data: [u8; B],
}

impl<const B: usize> Slot<B> {
    pub(crate) const FREE: Self = Slot {
        state: SlotState::Free,
        len: 0,
        data: [0; B],
    };

    pub(crate) fn payload(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or(&[])
    }
}

/// Takes a free slot, fills it, returns its index.
pub(crate) fn alloc<const B: usize>(
    slots: &mut [Slot<B>],
    state: SlotState,
    payload: &[u8],
) -> Option<usize> {
    if payload.len() > B {
        return None;
    }
    let (i, slot) = slots
        .iter_mut()
        .enumerate()
        .find(|(_, s)| s.state == SlotState::Free)?;
    slot.data.get_mut(..payload.len())?.copy_from_slice(payload);
    slot.len = payload.len();
    slot.state = state;
    Some(i)
}
