//! Where an outgoing datagram goes.

use core::net::SocketAddr;

/// The destination of a datagram produced by a `poll_transmit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// The group: the adapter sends to the group's multicast address, or to
    /// every known member by unicast when the group runs without multicast.
    Group,
    /// One peer, by unicast.
    Peer(SocketAddr),
}

/// A datagram written into the caller's buffer by a `poll_transmit`.
///
/// The first `len` bytes of the buffer hold one encoded `Frame`.
#[must_use = "a Transmit describes bytes that must be sent"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transmit {
    /// Where to send it.
    pub to: Destination,
    /// Number of bytes written at the start of the buffer.
    pub len: usize,
}
