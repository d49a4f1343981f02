//! Counters: datagrams and bytes sent, delivered and dropped by reason.

use core::fmt;

/// Why the network dropped a copy of a datagram.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Uniform random loss.
    Loss,
    /// Loss in a Gilbert–Elliott burst model.
    BurstLoss,
    /// The sender and receiver were in different partitions (at send or at
    /// arrival).
    Partition,
    /// The bandwidth queue was full (tail drop).
    QueueFull,
    /// The receiver was down, or restarted while the copy was in flight.
    Crashed,
    /// The receiver was paused and its pause buffer was full.
    PauseOverflow,
    /// A unicast to an address that is no node of the world.
    NoRoute,
    /// The simulator's own in-flight limit was reached.
    SimFull,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 8] = [
        DropReason::Loss,
        DropReason::BurstLoss,
        DropReason::Partition,
        DropReason::QueueFull,
        DropReason::Crashed,
        DropReason::PauseOverflow,
        DropReason::NoRoute,
        DropReason::SimFull,
    ];

    fn slot(self) -> usize {
        match self {
            DropReason::Loss => 0,
            DropReason::BurstLoss => 1,
            DropReason::Partition => 2,
            DropReason::QueueFull => 3,
            DropReason::Crashed => 4,
            DropReason::PauseOverflow => 5,
            DropReason::NoRoute => 6,
            DropReason::SimFull => 7,
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Loss => "loss",
            DropReason::BurstLoss => "burst loss",
            DropReason::Partition => "partition",
            DropReason::QueueFull => "queue full",
            DropReason::Crashed => "crashed",
            DropReason::PauseOverflow => "pause overflow",
            DropReason::NoRoute => "no route",
            DropReason::SimFull => "simulator full",
        })
    }
}

/// Drop counters, one per [`DropReason`].
///
/// ```
/// use blaze_sim::{DropReason, Drops};
/// let mut d = Drops::default();
/// d.add(DropReason::Loss);
/// assert_eq!(d.get(DropReason::Loss), 1);
/// assert_eq!(d.total(), 1);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drops {
    counts: [u64; 8],
}

impl Drops {
    /// Count one drop.
    pub fn add(&mut self, reason: DropReason) {
        if let Some(c) = self.counts.get_mut(reason.slot()) {
            *c = c.saturating_add(1);
        }
    }

    /// Drops for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts.get(reason.slot()).copied().unwrap_or(0)
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn merge(&mut self, other: &Drops) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a = a.saturating_add(b);
        }
    }
}

impl fmt::Display for Drops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for r in DropReason::ALL {
            let n = self.get(r);
            if n > 0 {
                if !first {
                    f.write_str(", ")?;
                }
                write!(f, "{r}: {n}")?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Counters of one node. A multicast counts once in `sent` and once per
/// receiver copy in the receivers' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Datagrams the machine emitted.
    pub sent: u64,
    /// Bytes the machine emitted.
    pub sent_bytes: u64,
    /// Datagrams handed to the machine.
    pub delivered: u64,
    /// Bytes handed to the machine.
    pub delivered_bytes: u64,
    /// Extra copies the network made of this node's datagrams.
    pub duplicated: u64,
    /// Copies of this node's datagrams that the network dropped.
    pub dropped_outbound: Drops,
    /// Copies addressed to this node that the network dropped.
    pub dropped_inbound: Drops,
    /// Timer expiries handed to the machine.
    pub timeouts: u64,
    /// Events drained from the machine.
    pub events: u64,
    /// Times the node crashed.
    pub crashes: u64,
    /// Times the node restarted.
    pub restarts: u64,
    /// Largest [`occupancy`](crate::Machine::occupancy) seen.
    pub peak_occupancy: usize,
}

/// Counters of a whole [`World`](crate::World).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Per node, by index.
    pub nodes: Vec<NodeStats>,
    /// Most copies in flight at once (bounded by
    /// [`Config::max_in_flight`](crate::Config::max_in_flight)).
    pub peak_in_flight: usize,
    /// Most datagrams held for one paused node (bounded by
    /// [`Config::pause_buffer`](crate::Config::pause_buffer)).
    pub peak_held: usize,
    /// Most entries in the event queue (copies in flight, at most one live
    /// timer per node plus stale ones, scripted steps).
    pub peak_pending: usize,
}

impl Stats {
    /// Sum of every node's counters (`peak_occupancy` is the largest).
    pub fn total(&self) -> NodeStats {
        let mut t = NodeStats::default();
        for n in &self.nodes {
            t.sent += n.sent;
            t.sent_bytes += n.sent_bytes;
            t.delivered += n.delivered;
            t.delivered_bytes += n.delivered_bytes;
            t.duplicated += n.duplicated;
            t.dropped_outbound.merge(&n.dropped_outbound);
            t.dropped_inbound.merge(&n.dropped_inbound);
            t.timeouts += n.timeouts;
            t.events += n.events;
            t.crashes += n.crashes;
            t.restarts += n.restarts;
            t.peak_occupancy = t.peak_occupancy.max(n.peak_occupancy);
        }
        t
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.nodes.iter().enumerate() {
            writeln!(
                f,
                "node {i}: sent {} ({} B), delivered {} ({} B), dup {}, dropped out [{}], in [{}], timeouts {}, events {}, crashes {}, peak occupancy {}",
                n.sent,
                n.sent_bytes,
                n.delivered,
                n.delivered_bytes,
                n.duplicated,
                n.dropped_outbound,
                n.dropped_inbound,
                n.timeouts,
                n.events,
                n.crashes,
                n.peak_occupancy
            )?;
        }
        Ok(())
    }
}
