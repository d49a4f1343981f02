//! Heartbeats: liveness, tail-loss detection and round-trip measurement.

use crate::{MemberId, Repeated};

message! {
    /// High-water mark of one stream (`blaze.v1.StreamMark`).
    pub struct StreamMark {
        /// The stream id.
        1 => stream: u32,
        /// Highest sequence number sent on the stream.
        2 => high_seq: u64,
        /// Oldest sequence number still held for retransmission.
        3 => window_start: u64,
        /// True when nothing was ever sent on the stream.
        4 => empty: bool,
    }
}

message! {
    /// Periodic liveness message (`blaze.v1.Heartbeat`).
    pub struct Heartbeat<'a> {
        /// The sender's streams.
        1 => streams: Repeated<'a, StreamMark>,
        /// The view id the sender is in.
        2 => view_id: u64,
        /// The sender's clock, microseconds.
        3 => timestamp_us: u64,
        /// Echo of a peer's `timestamp_us`.
        4 => echo_timestamp_us: u64,
        /// Whose timestamp is echoed.
        5 => echo_to: Option<MemberId>,
        /// Time between receiving the echoed heartbeat and sending this one.
        6 => echo_delay_us: u64,
        /// The sender's incarnation.
        7 => incarnation: u64,
        /// The sender's services, as in its `Join` (membership's
        /// heartbeats; [`SERVICE_MAP`](crate::SERVICE_MAP)).
        8 => services: u32,
    }
}
