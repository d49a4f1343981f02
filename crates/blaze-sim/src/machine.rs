//! The five verbs the simulator drives, and what a fresh machine is told.

use blaze_wire::{Instant, Transmit};
use core::net::SocketAddr;

/// A sans-IO state machine as the simulator sees it: the same five verbs a
/// real adapter drives, plus an occupancy getter for the bounded-memory
/// checker.
///
/// The [`World`](crate::World) drives a machine exactly like an adapter:
/// after every input (`handle_datagram`, `handle_timeout`, or a command
/// through [`World::command`](crate::World::command)) it drains
/// [`poll_transmit`](Machine::poll_transmit) into one reused buffer, drains
/// [`poll_event`](Machine::poll_event), then re-reads
/// [`poll_timeout`](Machine::poll_timeout). Time only moves forward, and a
/// `handle_timeout` may come when no deadline has passed (a spurious call
/// must be a no-op).
///
/// Protocol crates whose events borrow the machine implement this trait in a
/// thin test wrapper that copies each event into an owned record.
pub trait Machine {
    /// Owned record of one delivered event, for checkers and traces.
    type Event: Clone + core::fmt::Debug;
    /// A datagram arrived from `from`.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]);
    /// A deadline passed (or a spurious wake-up).
    fn handle_timeout(&mut self, now: Instant);
    /// Writes the next datagram to send into `buf`, if any.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit>;
    /// The next deadline, if any.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// The next event for the application, if any.
    fn poll_event(&mut self, now: Instant) -> Option<Self::Event>;
    /// Bytes or items of the machine's bounded storage in use (for the
    /// bounded-memory checker).
    fn occupancy(&self) -> usize {
        0
    }
}

/// What the factory is told when the [`World`](crate::World) makes a machine
/// (at start and at every restart).
///
/// ```
/// use blaze_sim::{Spawn, node_addr};
/// let s = Spawn { index: 2, addr: node_addr(2), seed: 99, incarnation: 0 };
/// assert_eq!(s.addr.to_string(), "127.0.0.3:7400");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spawn {
    /// The node's index, `0..n`.
    pub index: usize,
    /// The node's virtual address, [`node_addr(index)`](crate::node_addr).
    pub addr: SocketAddr,
    /// A seed for the machine's own [`Rng`](blaze_wire::Rng), drawn from the
    /// world's generator (so it follows from the world's seed).
    pub seed: u64,
    /// 0 for the first machine of this node, +1 for each restart.
    pub incarnation: u32,
}
