//! Negative acknowledgements.

use crate::{MemberId, Repeated};

message! {
    /// An inclusive range of sequence numbers (`blaze.v1.SeqRange`).
    pub struct SeqRange {
        /// First sequence number of the range.
        1 => start: u64,
        /// Last sequence number of the range, inclusive.
        2 => end: u64,
    }
}

message! {
    /// A receiver asks a sender for messages again (`blaze.v1.Nack`).
    pub struct Nack<'a> {
        /// The member whose stream has the gaps.
        1 => target: Option<MemberId>,
        /// The stream within that member.
        2 => stream: u32,
        /// The missing ranges, ascending.
        3 => ranges: Repeated<'a, SeqRange>,
        /// For FEC streams: parity symbols wanted per block.
        4 => parity_wanted: u32,
        /// The receiver's measured loss rate, parts per million.
        5 => loss_ppm: u32,
    }
}
