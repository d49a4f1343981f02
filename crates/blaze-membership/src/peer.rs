//! What one member knows about another: liveness, claims, channel state.

use crate::{Metadata, Name};
use blaze_wire::{Instant, MemberId};
use core::net::SocketAddr;

/// Pending unicast frames to one peer, per group (bits of `Peer::due`).
pub(crate) const DUE_HEARTBEAT: u8 = 1;
pub(crate) const DUE_JOIN: u8 = 2;
pub(crate) const DUE_LEAVE: u8 = 4;
pub(crate) const DUE_VIEW: u8 = 8;

/// One known member.
#[derive(Debug, Clone)]
pub(crate) struct Peer<const G: usize> {
    pub(crate) id: MemberId,
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) name: Name,
    pub(crate) weight: u32,
    pub(crate) incarnation: u64,
    /// Whether `incarnation` was learnt (frames without one do not tell).
    pub(crate) incarnation_known: bool,
    pub(crate) metadata: Metadata,
    /// Last time we had evidence the member was alive.
    pub(crate) last_heard: Instant,
    /// Set once declared failed (a tombstone).
    pub(crate) dead_since: Option<Instant>,
    /// Next probe round while silent.
    pub(crate) next_probe: Instant,
    /// Per local group slot: the view id the member last claimed (0 = joining).
    pub(crate) claims: [Option<u64>; G],
    /// Per local group slot: pending unicast frames (`DUE_*` bits).
    pub(crate) due: [u8; G],
    /// Point-to-point: first sequence number of this channel's life (a
    /// random start, so that a peer that reset its side is recognised).
    pub(crate) tx_start: u64,
    /// Point-to-point: next sequence number to send.
    pub(crate) tx_next: u64,
    /// Point-to-point: whether the peer acknowledged `tx_start`; until then
    /// only the first message is sent, so the peer can take its number as
    /// the start of the channel.
    pub(crate) tx_synced: bool,
    /// Point-to-point: next sequence number expected (`None`: take the
    /// next one received as the start).
    pub(crate) rx_next: Option<u64>,
    /// Point-to-point: a cumulative ack is owed.
    pub(crate) ack_due: bool,
}

impl<const G: usize> Peer<G> {
    pub(crate) fn new(id: MemberId, now: Instant, start: u64) -> Self {
        Peer {
            id,
            addr: None,
            name: Name::default(),
            weight: 0,
            incarnation: 0,
            incarnation_known: false,
            metadata: Metadata::default(),
            last_heard: now,
            dead_since: None,
            next_probe: now,
            claims: [None; G],
            due: [0; G],
            tx_start: start,
            tx_next: start,
            tx_synced: false,
            rx_next: None,
            ack_due: false,
        }
    }

    pub(crate) fn alive(&self) -> bool {
        self.dead_since.is_none()
    }

    /// Forget everything tied to the previous life of the member.
    pub(crate) fn reset(&mut self, now: Instant, start: u64) {
        self.dead_since = None;
        self.last_heard = now;
        self.next_probe = now;
        self.claims = [None; G];
        self.due = [0; G];
        self.tx_start = start;
        self.tx_next = start;
        self.tx_synced = false;
        self.rx_next = None;
        self.ack_due = false;
    }
}

/// A random first sequence number in `1..2^62` (no wrap-around in a life).
pub(crate) fn channel_start(rng: &mut blaze_wire::Rng) -> u64 {
    (rng.next_u64() >> 2) | 1
}

/// How far `a` is ahead of `b` in serial-number order.
pub(crate) fn serial_diff(a: u64, b: u64) -> i64 {
    a.wrapping_sub(b) as i64
}

/// Sequence numbers further apart than this belong to different lives of
/// a channel.
pub(crate) const SEQ_WINDOW: i64 = 1 << 32;
