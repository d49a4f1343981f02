//! What the world keeps of each event a machine produced.

use blaze_wire::Instant;

/// One event drained from a machine's `poll_event`, with when and where.
///
/// ```
/// use blaze_sim::EventRecord;
/// use blaze_wire::Instant;
/// let r = EventRecord { time: Instant::ZERO, node: 1, incarnation: 0, event: "hello" };
/// assert_eq!(r.node, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord<E> {
    /// Virtual time of the drain.
    pub time: Instant,
    /// Index of the node.
    pub node: usize,
    /// Which incarnation of the node (0, then +1 per restart).
    pub incarnation: u32,
    /// The event.
    pub event: E,
}
