//! What the application learns from [`Endpoint::poll_event`](crate::Endpoint::poll_event).

use blaze_wire::{MemberId, Seq};

/// Why a receiver stopped holding back the local stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CutReason {
    /// It lagged more than [`Config::max_lag`](crate::Config::max_lag)
    /// messages behind when the window was full.
    Lagging,
    /// Nothing was heard from it for
    /// [`Config::peer_timeout`](crate::Config::peer_timeout).
    Silent,
}

/// An event, borrowing the endpoint's storage: a message payload is a view
/// into the receive slot or the reassembly buffer, valid until the next
/// call on the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event<'a> {
    /// A message, delivered exactly once and in the sender's order.
    Message {
        /// Who sent it.
        sender: MemberId,
        /// The sender's stream.
        stream: u32,
        /// Sequence number of the message (of its first fragment).
        seq: Seq,
        /// The message's topic (empty for [`Endpoint::send`](crate::Endpoint::send)).
        topic: &'a str,
        /// The whole message.
        payload: &'a [u8],
    },
    /// Sequence numbers `from..=to` of `sender`'s stream will never be
    /// delivered (the sender no longer holds them, or a message could not
    /// be reassembled); delivery continues after `to`.
    Unrecoverable {
        /// Whose stream.
        sender: MemberId,
        /// The sender's stream.
        stream: u32,
        /// First sequence number lost.
        from: Seq,
        /// Last sequence number lost (inclusive).
        to: Seq,
    },
    /// The local stream no longer waits for `member`: it will catch up
    /// from the window start, with an `Unrecoverable` for what it missed.
    ReceiverCutLoose {
        /// The receiver.
        member: MemberId,
        /// Why.
        reason: CutReason,
    },
}
