//! The Totem token.

use crate::{MemberId, Repeated, SeqRange};

message! {
    /// Totem ring identifier (`blaze.v1.RingId`).
    pub struct RingId {
        /// The ring representative.
        1 => rep: Option<MemberId>,
        /// Monotonic ring sequence number.
        2 => seq: u64,
    }
}

message! {
    /// The token that circulates on a Totem ring (`blaze.v1.Token`).
    pub struct Token<'a> {
        /// The ring.
        1 => ring: Option<RingId>,
        /// Token sequence number.
        2 => token_seq: u64,
        /// Highest message sequence number broadcast on the ring.
        3 => seq: u64,
        /// All-received-up-to.
        4 => aru: u64,
        /// The member that last lowered `aru`.
        5 => aru_id: Option<MemberId>,
        /// Retransmission requests.
        6 => rtr: Repeated<'a, SeqRange>,
        /// Messages broadcast during the last rotation.
        7 => fcc: u32,
        /// Messages waiting to be sent at all members.
        8 => backlog: u32,
        /// The member the token is addressed to.
        9 => next: Option<MemberId>,
    }
}
