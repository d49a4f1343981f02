//! Point-to-point messages, request/reply and acknowledgements.

use crate::MemberId;

message! {
    /// A request to one member or any member (`blaze.v1.Request`).
    pub struct Request<'a> {
        /// Correlation id chosen by the requester.
        1 => correlation: u64,
        /// Target member; `None` means any member of the group.
        2 => target: Option<MemberId>,
        /// Time-out the requester applies, microseconds.
        3 => timeout_us: u64,
        /// Payload.
        4 => payload: &'a [u8],
        /// Queue name, for queue messages.
        5 => queue: &'a str,
        /// True for a redelivery.
        6 => redelivered: bool,
        /// Point-to-point sequence number.
        7 => p2p_seq: u64,
        /// True for a one-way message that expects no reply.
        8 => one_way: bool,
    }
}

message! {
    /// A reply to a request (`blaze.v1.Reply`).
    pub struct Reply<'a> {
        /// Correlation id of the request.
        1 => correlation: u64,
        /// The requester.
        2 => target: Option<MemberId>,
        /// Payload.
        3 => payload: &'a [u8],
        /// Error code (0 = ok).
        4 => error: u32,
    }
}

message! {
    /// Acknowledgement of point-to-point or queue messages, or of a
    /// multicast stream (`blaze.v1.Ack`).
    pub struct Ack<'a> {
        /// The member whose messages are acknowledged.
        1 => target: Option<MemberId>,
        /// Cumulative point-to-point sequence acknowledged.
        2 => p2p_seq: u64,
        /// Queue message acknowledged.
        3 => correlation: u64,
        /// Queue name.
        4 => queue: &'a str,
        /// True when this acknowledges a multicast stream.
        5 => stream_ack: bool,
        /// The acknowledged stream of `target`, when `stream_ack`.
        6 => stream: u32,
        /// Next sequence number needed on that stream, when `stream_ack`.
        7 => next_seq: u64,
    }
}
