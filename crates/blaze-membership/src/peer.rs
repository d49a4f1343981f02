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
    pub(crate) services: u32,
    /// Whether its name, weight, services and metadata were learnt (from
    /// its `Join` or a view that lists it); a joiner is admitted only then.
    pub(crate) described: bool,
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
    /// Point-to-point: the epoch of this side's channel to the peer (sent
    /// as `Request.p2p_epoch`); every reset starts a greater one, and
    /// sequence numbers count from 1 within an epoch.
    pub(crate) tx_epoch: u64,
    /// Point-to-point: next sequence number to send.
    pub(crate) tx_next: u64,
    /// Point-to-point: whether the peer acknowledged a message of
    /// `tx_epoch`; until then only message 1 is sent, so the peer can take
    /// it as the start of the epoch.
    pub(crate) tx_synced: bool,
    /// Point-to-point: the peer's epoch being received and the next
    /// sequence number expected in it (`None`: take the next message of any
    /// epoch as the start).
    pub(crate) rx: Option<(u64, u64)>,
    /// Point-to-point: a cumulative ack is owed.
    pub(crate) ack_due: bool,
}

impl<const G: usize> Peer<G> {
    pub(crate) fn new(id: MemberId, now: Instant, epoch: u64) -> Self {
        Peer {
            id,
            addr: None,
            name: Name::default(),
            weight: 0,
            services: 0,
            described: false,
            incarnation: 0,
            incarnation_known: false,
            metadata: Metadata::default(),
            last_heard: now,
            dead_since: None,
            next_probe: now,
            claims: [None; G],
            due: [0; G],
            tx_epoch: epoch,
            tx_next: 1,
            tx_synced: false,
            rx: None,
            ack_due: false,
        }
    }

    pub(crate) fn alive(&self) -> bool {
        self.dead_since.is_none()
    }

    /// Forget everything tied to the previous life of the member.
    pub(crate) fn reset(&mut self, now: Instant, epoch: u64) {
        self.dead_since = None;
        self.last_heard = now;
        self.next_probe = now;
        self.claims = [None; G];
        self.due = [0; G];
        self.tx_epoch = epoch;
        self.tx_next = 1;
        self.tx_synced = false;
        self.rx = None;
        self.ack_due = false;
        // A new life describes itself again (its `Join`).
        self.described = false;
    }
}

/// The first point-to-point channel epoch of a process: the incarnation in
/// the high 32 bits, so a restarted process starts above its predecessor.
pub(crate) fn first_epoch(incarnation: u64) -> u64 {
    (incarnation << 32) | 1
}
