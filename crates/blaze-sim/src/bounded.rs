//! The bounded-memory checker.

use crate::{Machine, Violation, ViolationKind, World};

/// Checks that every node's peak [`occupancy`](Machine::occupancy) (sampled
/// after every drive, across restarts) stayed within `bound`, and that the
/// simulator's own queues stayed within theirs.
///
/// ```
/// use blaze_sim::{Machine, World, check_bounded};
/// use blaze_wire::{Instant, Transmit};
/// use core::net::SocketAddr;
/// struct Idle;
/// impl Machine for Idle {
///     type Event = ();
///     fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: &[u8]) {}
///     fn handle_timeout(&mut self, _: Instant) {}
///     fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<Transmit> { None }
///     fn poll_timeout(&mut self) -> Option<Instant> { None }
///     fn poll_event(&mut self, _: Instant) -> Option<()> { None }
///     fn occupancy(&self) -> usize { 10 }
/// }
/// let world = World::new(0, 2, |_| Idle);
/// assert!(check_bounded(&world, 10).is_ok());
/// assert!(check_bounded(&world, 9).is_err());
/// ```
pub fn check_bounded<M: Machine>(world: &World<M>, bound: usize) -> Result<(), Violation> {
    for (i, n) in world.stats().nodes.iter().enumerate() {
        check_bound(Some(i), "occupancy", n.peak_occupancy, bound)?;
    }
    let cfg = world.config();
    check_bound(
        None,
        "copies in flight",
        world.stats().peak_in_flight,
        cfg.max_in_flight,
    )?;
    check_bound(
        None,
        "held datagrams",
        world.stats().peak_held,
        cfg.pause_buffer,
    )
}

/// Checks one sampled quantity against its bound.
///
/// ```
/// use blaze_sim::check_bound;
/// assert!(check_bound(Some(1), "window", 8, 8).is_ok());
/// let v = check_bound(Some(1), "window", 9, 8).unwrap_err();
/// assert_eq!(v.to_string(), "bound exceeded at node 1: window reached 9, bound 8");
/// ```
pub fn check_bound(
    node: Option<usize>,
    what: &str,
    value: usize,
    bound: usize,
) -> Result<(), Violation> {
    if value > bound {
        return Err(Violation::new(
            ViolationKind::OverBound,
            node,
            format!("{what} reached {value}, bound {bound}"),
        ));
    }
    Ok(())
}
