//! What the runner did.

/// Counters of a [`Runner`](crate::Runner), read through
/// [`Blaze::stats`](crate::Blaze::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Turns of the runner's loop.
    pub turns: u64,
    /// Datagrams received and handed to the machine.
    pub datagrams_received: u64,
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Calls to `handle_timeout`.
    pub timeouts: u64,
    /// Datagrams longer than the receive buffer, dropped.
    pub dropped_truncated: u64,
    /// Datagrams the stack refused to send (no route, too large), dropped.
    pub dropped_send_error: u64,
    /// Transmits longer than the send buffer they were written into,
    /// dropped.
    pub dropped_oversized: u64,
    /// Transmits to a peer that is not IPv4 (the adapter speaks IPv4
    /// only), dropped.
    pub dropped_not_ipv4: u64,
    /// Unicast datagrams dropped because the unicast socket's queue was
    /// full (typically while the stack resolves the peer's address).
    pub dropped_queue_full: u64,
    /// Failed attempts to join the multicast group (retried).
    pub join_retries: u64,
}
