//! The event queue: a priority queue of (time, sequence number, action).

use blaze_wire::Instant;
use core::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// An entry; ordered by time, then by the order of scheduling.
pub(crate) struct Entry<A> {
    pub(crate) time: Instant,
    pub(crate) seq: u64,
    pub(crate) action: A,
}

impl<A> PartialEq for Entry<A> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<A> Eq for Entry<A> {}
impl<A> PartialOrd for Entry<A> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<A> Ord for Entry<A> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// A deterministic min-queue: equal times pop in scheduling order.
pub(crate) struct Schedule<A> {
    heap: BinaryHeap<Reverse<Entry<A>>>,
    next_seq: u64,
}

impl<A> Schedule<A> {
    pub(crate) fn new() -> Self {
        Schedule {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn push(&mut self, time: Instant, action: A) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { time, seq, action }));
    }

    pub(crate) fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    pub(crate) fn pop(&mut self) -> Option<Entry<A>> {
        self.heap.pop().map(|Reverse(e)| e)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_pop_in_push_order() {
        let mut s = Schedule::new();
        s.push(Instant::from_micros(5), 'c');
        s.push(Instant::from_micros(1), 'a');
        s.push(Instant::from_micros(5), 'd');
        s.push(Instant::from_micros(1), 'b');
        let order: Vec<char> = std::iter::from_fn(|| s.pop().map(|e| e.action)).collect();
        assert_eq!(order, ['a', 'b', 'c', 'd']);
    }
}
