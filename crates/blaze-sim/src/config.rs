//! Settings of a [`World`](crate::World) that are fixed at creation.

/// The largest UDP payload over IPv4, the largest `mtu` a world accepts.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Settings of a [`World`](crate::World) fixed at creation; the network model
/// itself ([`LinkConfig`](crate::LinkConfig)) can change at any time.
///
/// ```
/// use blaze_sim::Config;
/// let c = Config { mtu: 9000, ..Config::default() };
/// assert_eq!(c.mtu, 9000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Size of the one reused buffer handed to `poll_transmit` (default
    /// 1500, at most [`MAX_UDP_PAYLOAD`]).
    pub mtu: usize,
    /// Whether a multicast also reaches its sender (like
    /// `IP_MULTICAST_LOOP`; default `false`).
    pub multicast_loopback: bool,
    /// Datagrams held for a paused node; more are dropped as
    /// [`PauseOverflow`](crate::DropReason::PauseOverflow) (default 1024).
    pub pause_buffer: usize,
    /// Copies in flight at once in the whole world; more are dropped as
    /// [`SimFull`](crate::DropReason::SimFull) (default 1 000 000).
    pub max_in_flight: usize,
    /// Whether drained events are kept in [`World::events`](crate::World::events)
    /// (default `true`). They always go into the trace hash.
    pub record_events: bool,
    /// Steps at one virtual instant before the world declares a livelock
    /// and panics (a machine whose deadline never moves; default 1 000 000).
    pub max_steps_per_instant: u64,
    /// How many readable trace lines to keep (the tail of the run, for a
    /// failure report; see [`World::trace_tail`](crate::World::trace_tail);
    /// default 0, off).
    pub trace_lines: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mtu: 1500,
            multicast_loopback: false,
            pause_buffer: 1024,
            max_in_flight: 1_000_000,
            record_events: true,
            max_steps_per_instant: 1_000_000,
            trace_lines: 0,
        }
    }
}
