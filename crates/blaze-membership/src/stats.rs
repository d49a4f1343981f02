//! Counters of dropped input and protocol activity.

/// Counters; dropped input is counted by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Datagrams that did not decode (or had another wire version).
    pub malformed: u64,
    /// Frames sent by this member itself (multicast loopback).
    pub own_frames: u64,
    /// Frames from members declared failed less than a time-out ago.
    pub stale_frames: u64,
    /// Frames from an unknown member when the member table was full.
    pub table_full: u64,
    /// Frames for a group this member is not in.
    pub other_group: u64,
    /// Views refused (older than the installed one, or from a non-member).
    pub views_refused: u64,
    /// Coordinators of older views that still listed this member, passed on
    /// to its own coordinator (unicast discovery only).
    pub coordinators_introduced: u64,
    /// Point-to-point messages received twice or out of order (acked, dropped).
    pub p2p_duplicates: u64,
    /// Point-to-point messages dropped because no storage slot was free.
    pub p2p_no_storage: u64,
    /// Point-to-point messages retransmitted.
    pub p2p_retransmits: u64,
    /// Point-to-point message, request, reply and acknowledgement frames
    /// dropped because this build leaves messaging out (feature
    /// `messaging`).
    pub messaging_dropped: u64,
    /// Replies that arrived after their request timed out (dropped).
    pub late_replies: u64,
    /// Replies for unknown correlation ids (duplicates; dropped).
    pub unknown_replies: u64,
    /// Queue messages refused because this member is not the coordinator.
    pub queue_not_coordinator: u64,
    /// Queue acknowledgements for deliveries the coordinator no longer holds.
    pub queue_stale_acks: u64,
    /// Queue messages redelivered after their consumer left or failed.
    pub queue_redeliveries: u64,
    /// Events dropped because the event queue was full.
    pub events_dropped: u64,
    /// Control frames dropped because the control queue was full.
    pub control_dropped: u64,
    /// Frames not sent because the caller's buffer was too small.
    pub buffer_too_small: u64,
    /// Probe rounds started (a member was silent for half the time-out).
    pub probe_rounds: u64,
    /// Members declared failed.
    pub failures_declared: u64,
    /// Views installed.
    pub views_installed: u64,
}
