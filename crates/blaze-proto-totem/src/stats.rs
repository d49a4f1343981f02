//! Counters of what a member did and dropped.

/// Counters of a [`Totem`](crate::Totem) member; dropped input is counted
/// by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams that did not decode.
    pub malformed: u64,
    /// Frames of another group or wire version.
    pub foreign: u64,
    /// Frames for another ring, or data outside the receive window.
    pub wrong_ring: u64,
    /// Duplicate data messages and tokens.
    pub duplicates: u64,
    /// Tokens and joins read just after this process stalled past its
    /// token timeout: they may have waited out the stall (see
    /// [`Totem::handle_datagram`](crate::Totem::handle_datagram)).
    pub stale: u64,
    /// Messages dropped because they do not fit a slot or the window (or
    /// the pool of large messages is full: asked for again later).
    pub oversized: u64,
    /// Large messages held after a gap, dropped from a full pool to store
    /// an earlier one (asked for again later; see
    /// [`Buffers`](crate::Buffers)).
    pub pool_evictions: u64,
    /// Tokens received and accepted.
    pub tokens: u64,
    /// Tokens retransmitted (no evidence the successor got them).
    pub token_retransmits: u64,
    /// Times the token was declared lost.
    pub token_losses: u64,
    /// Messages multicast for the first time.
    pub broadcasts: u64,
    /// Messages multicast again to answer a retransmission request.
    pub retransmits: u64,
    /// Token requests heard from other members (an idle token held here
    /// then goes on at once).
    pub token_requests: u64,
    /// Rings installed.
    pub rings: u64,
    /// `send` calls refused with `WouldBlock`.
    pub would_block: u64,
    /// Messages of an old ring that could not be recovered from any member
    /// of the new one, so were never delivered here.
    pub unrecoverable: u64,
}
