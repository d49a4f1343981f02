//! Counters of what a replica did and dropped.

/// Counters, for monitoring and tests. Dropped input is counted by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams accepted as ours.
    pub frames_in: u64,
    /// Datagrams written by `poll_transmit`.
    pub frames_out: u64,
    /// Dropped: not a frame, wrong version or group, or not a map body.
    pub dropped_malformed: u64,
    /// Dropped: from a member that is not in the view.
    pub dropped_stranger: u64,
    /// Dropped: a sequenced operation of another epoch or leader.
    pub dropped_stale: u64,
    /// Dropped: an operation too far ahead of the log window.
    pub dropped_window: u64,
    /// Dropped: a map name that does not fit the table.
    pub dropped_map_name: u64,
    /// Dropped: a request while not an active coordinator, or while
    /// sequencing is paused (the requester resends).
    pub dropped_request: u64,
    /// Operations this replica sequenced as coordinator.
    pub sequenced: u64,
    /// Operations applied in order.
    pub applied: u64,
    /// Operations resent from the log.
    pub retransmitted: u64,
    /// Re-requests sent.
    pub nacks_sent: u64,
    /// Fail-over synchronisations completed as coordinator.
    pub syncs: u64,
    /// Snapshots installed.
    pub snapshots_installed: u64,
    /// Snapshot sessions served to the end.
    pub snapshots_served: u64,
    /// Snapshot pulls started over (the server was busy or its state moved).
    pub snapshot_restarts: u64,
    /// Dropped: a snapshot record out of sequence (a gap or a duplicate).
    pub dropped_snapshot: u64,
    /// A replica could not apply an operation the coordinator accepted (its
    /// storage is smaller than the coordinator's); the entry was skipped.
    pub apply_failures: u64,
    /// Own writes a losing coordinator kept to re-apply after a merge, then
    /// gave up because the winning side's state filled the map.
    pub merge_dropped: u64,
    /// Events dropped because the queue was full (should stay 0).
    pub events_dropped: u64,
}
