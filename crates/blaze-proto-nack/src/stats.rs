//! Counters.

/// Counters of the local (sending) stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct SendStats {
    /// Messages accepted by `send`.
    pub messages_sent: u64,
    /// Data datagrams sent for the first time.
    pub data_datagrams: u64,
    /// Data bytes (datagram sizes) sent for the first time.
    pub data_bytes: u64,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// NACKs for this stream received.
    pub nacks_received: u64,
    /// Sequence numbers asked for again within one RTT of their last repair
    /// (or while a repair was already pending), and ignored.
    pub nacks_ignored: u64,
    /// NACKs that asked for data no longer held (answered by advertising
    /// the window start, which the receiver reports as unrecoverable).
    pub nacks_unrecoverable: u64,
    /// Repair datagrams sent.
    pub repair_datagrams: u64,
    /// Messages (sequence numbers) repaired.
    pub repairs: u64,
    /// Acknowledgements received.
    pub acks_received: u64,
    /// `send` calls refused with `WouldBlock`.
    pub would_block: u64,
    /// Receivers cut loose (too slow or silent).
    pub receivers_cut_loose: u64,
}

/// Counters of one remote sender's stream, as received here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct RecvStats {
    /// Data datagrams received (originals and repairs).
    pub datagrams: u64,
    /// Messages delivered to the application.
    pub delivered: u64,
    /// NACK frames sent.
    pub nacks_sent: u64,
    /// NACKs not sent because another receiver's NACK covered them.
    pub nacks_suppressed: u64,
    /// Repaired messages that filled a hole here.
    pub repairs_received: u64,
    /// Messages received again (already held or delivered).
    pub duplicates: u64,
    /// [`Event::Unrecoverable`](crate::Event::Unrecoverable) ranges reported.
    pub unrecoverable_ranges: u64,
    /// Sequence numbers inside those ranges.
    pub unrecoverable_seqs: u64,
    /// Messages beyond the receive window, dropped (they are NACKed later).
    pub beyond_window: u64,
    /// Messages dropped because the gap tracker had no room for a new hole.
    pub holes_full: u64,
    /// Messages whose fragment did not fit a receive slot, dropped.
    pub oversized: u64,
    /// Messages dropped because the stream's receive ring was full (they
    /// are NACKed later).
    pub ring_full: u64,
    /// Best-effort messages skipped over.
    pub best_effort_lost: u64,
    /// Acknowledgements sent.
    pub acks_sent: u64,
}

/// Input dropped before it reached a stream, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Drops {
    /// The datagram did not decode.
    pub malformed: u64,
    /// Unsupported frame version.
    pub version: u64,
    /// Frame of another group.
    pub wrong_group: u64,
    /// Our own frame, looped back.
    pub own: u64,
    /// A body this machine does not handle (membership, map, ...).
    pub foreign_body: u64,
    /// A frame for a stream id other than the sender's first one.
    pub unknown_stream: u64,
    /// A new peer of an open endpoint, but the peer table is full.
    pub peer_table_full: u64,
    /// A frame from a sender that is not a peer of a closed endpoint
    /// (never added with `add_peer`, or removed).
    pub unknown_peer: u64,
    /// A NACK or acknowledgement naming sequence numbers never sent.
    pub invalid_seq: u64,
}

/// All counters of an [`Endpoint`](crate::Endpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// The local stream.
    pub send: SendStats,
    /// Dropped input.
    pub drops: Drops,
    /// Datagrams handed to `handle_datagram`.
    pub datagrams_received: u64,
    /// Datagrams produced by `poll_transmit`.
    pub datagrams_sent: u64,
}

impl RecvStats {
    /// Adds `other` to `self`, field by field (for totals over senders).
    pub fn accumulate(&mut self, other: &RecvStats) {
        self.datagrams += other.datagrams;
        self.delivered += other.delivered;
        self.nacks_sent += other.nacks_sent;
        self.nacks_suppressed += other.nacks_suppressed;
        self.repairs_received += other.repairs_received;
        self.duplicates += other.duplicates;
        self.unrecoverable_ranges += other.unrecoverable_ranges;
        self.unrecoverable_seqs += other.unrecoverable_seqs;
        self.beyond_window += other.beyond_window;
        self.holes_full += other.holes_full;
        self.oversized += other.oversized;
        self.ring_full += other.ring_full;
        self.best_effort_lost += other.best_effort_lost;
        self.acks_sent += other.acks_sent;
    }
}
