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

/// Splits records into one list per node, in record order, keeping what
/// `pick` returns (for example the `(sender, seq)` of delivery events, for
/// the checkers). Records of nodes `>= nodes` are ignored.
///
/// ```
/// use blaze_sim::{EventRecord, per_node};
/// use blaze_wire::Instant;
/// let r = |node, event| EventRecord { time: Instant::ZERO, node, incarnation: 0, event };
/// let records = [r(0, 'a'), r(1, 'b'), r(0, 'c')];
/// let lists = per_node(&records, 2, |rec| Some(rec.event));
/// assert_eq!(lists, vec![vec!['a', 'c'], vec!['b']]);
/// ```
pub fn per_node<E, T>(
    records: &[EventRecord<E>],
    nodes: usize,
    mut pick: impl FnMut(&EventRecord<E>) -> Option<T>,
) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..nodes).map(|_| Vec::new()).collect();
    for rec in records {
        if let Some(list) = out.get_mut(rec.node)
            && let Some(item) = pick(rec)
        {
            list.push(item);
        }
    }
    out
}
