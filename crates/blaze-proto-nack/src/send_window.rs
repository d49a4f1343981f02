//! The sender's retransmit window, in caller storage.

use blaze_wire::{Duration, Instant, Seq};

/// One entry of the retransmit window: where a message (or fragment) lies
/// in the send bytes, and its repair state. The caller provides a slice of
/// these (one per sequence number the window can hold), e.g.
/// `[SendSlot::EMPTY; 1024]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendSlot {
    /// Bytes pushed before this entry since the window began (for flow
    /// control in bytes).
    cum: u64,
    offset: usize,
    len: u32,
    fragment_index: u32,
    fragment_count: u32,
    total_len: u64,
    /// Bytes of the topic stored before the payload (first piece only).
    topic_len: u8,
    repaired_at: Option<Instant>,
    repair_pending: bool,
}

impl SendSlot {
    /// An unused entry.
    pub const EMPTY: SendSlot = SendSlot {
        cum: 0,
        offset: 0,
        len: 0,
        fragment_index: 0,
        fragment_count: 0,
        total_len: 0,
        topic_len: 0,
        repaired_at: None,
        repair_pending: false,
    };
}

/// Payload bytes of piece `i` of a `len`-byte message whose first piece
/// also carries a `topic_len`-byte topic: the first piece holds
/// `fragment - topic_len` payload bytes, the others `fragment`.
fn piece_sizes(topic_len: usize, len: usize, fragment: usize) -> impl Iterator<Item = usize> {
    let first = fragment.saturating_sub(topic_len).min(len);
    let rest = len - first;
    core::iter::once(first).chain((0..rest.div_ceil(fragment.max(1))).map(move |k| {
        let done = k * fragment;
        (rest - done).min(fragment)
    }))
}

/// Number of pieces of a `len`-byte message with a `topic_len`-byte topic.
pub(crate) fn piece_count(topic_len: usize, len: usize, fragment: usize) -> usize {
    piece_sizes(topic_len, len, fragment).count()
}

/// What became of one NACKed sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RepairRequest {
    /// A repair is now pending.
    Queued,
    /// Already pending, or repaired less than one RTT ago.
    Ignored,
    /// Not held (below the window or never sent).
    NotHeld,
}

/// A held message or fragment, as read back for (re)transmission.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held<'b> {
    pub(crate) topic: &'b str,
    pub(crate) payload: &'b [u8],
    pub(crate) fragment_index: u32,
    pub(crate) fragment_count: u32,
    pub(crate) total_len: u64,
}

/// The retransmit window: entries `start .. start + count` are held, the
/// first `sent` of them have been transmitted. Payload bytes live in a ring
/// where every allocation is contiguous (an allocation that does not fit
/// before the end starts over at offset 0).
#[derive(Debug)]
pub(crate) struct SendWindow<'a> {
    slots: &'a mut [SendSlot],
    bytes: &'a mut [u8],
    start: Seq,
    first: usize,
    count: usize,
    sent: usize,
    head: usize,
    tail: usize,
    held_bytes: usize,
    pending_repairs: usize,
    /// Bytes pushed since the window began.
    pushed: u64,
}

/// Where the next allocation of `len` bytes goes: `(offset, new_head)`.
fn place(
    cap: usize,
    head: usize,
    tail: usize,
    held: usize,
    len: usize,
) -> Option<(usize, usize, usize)> {
    if len == 0 {
        return Some((head, head, tail));
    }
    if held == 0 {
        return (len <= cap).then_some((0, len, 0));
    }
    if head > tail {
        if cap - head >= len {
            Some((head, head + len, tail))
        } else if tail >= len {
            Some((0, len, tail))
        } else {
            None
        }
    } else if head < tail {
        (tail - head >= len).then_some((head, head + len, tail))
    } else {
        None
    }
}

impl<'a> SendWindow<'a> {
    pub(crate) fn new(slots: &'a mut [SendSlot], bytes: &'a mut [u8], start: Seq) -> Self {
        SendWindow {
            slots,
            bytes,
            start,
            first: 0,
            count: 0,
            sent: 0,
            head: 0,
            tail: 0,
            held_bytes: 0,
            pending_repairs: 0,
            pushed: 0,
        }
    }

    /// Gives the storage back.
    pub(crate) fn into_parts(self) -> (&'a mut [SendSlot], &'a mut [u8]) {
        (self.slots, self.bytes)
    }

    /// Empties the window and starts it at `start`.
    pub(crate) fn restart(&mut self, start: Seq) {
        self.start = start;
        self.first = 0;
        self.count = 0;
        self.sent = 0;
        self.head = 0;
        self.tail = 0;
        self.held_bytes = 0;
        self.pending_repairs = 0;
        self.pushed = 0;
    }

    /// Oldest held sequence number (the next to be assigned when empty).
    pub(crate) fn start(&self) -> Seq {
        self.start
    }

    /// Next sequence number to transmit for the first time.
    pub(crate) fn next_send(&self) -> Seq {
        self.start + self.sent as u64
    }

    /// Next sequence number `push` assigns.
    pub(crate) fn end(&self) -> Seq {
        self.start + self.count as u64
    }

    /// Held entries.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Held entries not yet transmitted.
    pub(crate) fn unsent(&self) -> usize {
        self.count - self.sent
    }

    /// Capacity in entries.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Capacity in bytes.
    pub(crate) fn byte_capacity(&self) -> usize {
        self.bytes.len()
    }

    fn index(&self, seq: Seq) -> Option<usize> {
        let off = usize::try_from(seq.distance_from(self.start)).ok()?;
        if off >= self.count {
            return None;
        }
        Some((self.first + off) % self.slots.len())
    }

    /// The held entry for `seq`.
    pub(crate) fn get(&self, seq: Seq) -> Option<Held<'_>> {
        self.get_on(seq, "")
    }

    /// The held entry for `seq`, whose topic is `known` itself (not
    /// checked as UTF-8 again) when its bytes are `known`'s: the entries
    /// of a batch are read on the batch's topic.
    pub(crate) fn get_on<'s>(&'s self, seq: Seq, known: &'s str) -> Option<Held<'s>> {
        let slot = self.slots.get(self.index(seq)?)?;
        let end = slot.offset.checked_add(slot.len as usize)?;
        let body = slot.offset + usize::from(slot.topic_len);
        let topic = self.bytes.get(slot.offset..body)?;
        Some(Held {
            topic: if topic == known.as_bytes() {
                known
            } else {
                core::str::from_utf8(topic).unwrap_or("")
            },
            payload: self.bytes.get(body..end)?,
            fragment_index: slot.fragment_index,
            fragment_count: slot.fragment_count,
            total_len: slot.total_len,
        })
    }

    /// True when a `len`-byte message without topic (cut into
    /// `fragment`-byte pieces) fits now.
    #[cfg(test)]
    pub(crate) fn fits(&self, len: usize, fragment: usize) -> bool {
        self.fits_topic(0, len, fragment)
    }

    /// True when a `len`-byte message with a `topic_len`-byte topic fits
    /// now (see [`piece_sizes`]).
    pub(crate) fn fits_topic(&self, topic_len: usize, len: usize, fragment: usize) -> bool {
        let pieces = piece_count(topic_len, len, fragment);
        if pieces > self.slots.len() - self.count {
            return false;
        }
        let (mut head, mut tail, mut held) = (self.head, self.tail, self.held_bytes);
        for (i, n) in piece_sizes(topic_len, len, fragment).enumerate() {
            let n = if i == 0 { n + topic_len } else { n };
            match place(self.bytes.len(), head, tail, held, n) {
                Some((_, h, t)) => {
                    head = h;
                    tail = t;
                    held += n;
                }
                None => return false,
            }
        }
        true
    }

    /// Appends a message without topic.
    #[cfg(test)]
    pub(crate) fn push(&mut self, message: &[u8], fragment: usize) -> Option<Seq> {
        self.push_topic("", message, fragment)
    }

    /// Appends a message on `topic` (at most 255 bytes), cut into pieces
    /// (see [`piece_sizes`]); the topic is stored before the first piece.
    /// The caller has checked [`SendWindow::fits_topic`]. Returns the
    /// first sequence number.
    pub(crate) fn push_topic(
        &mut self,
        topic: &str,
        message: &[u8],
        fragment: usize,
    ) -> Option<Seq> {
        let topic_len = u8::try_from(topic.len()).ok()?;
        if !self.fits_topic(topic.len(), message.len(), fragment) {
            return None;
        }
        let first_seq = self.end();
        let pieces = piece_count(topic.len(), message.len(), fragment);
        let count = if pieces > 1 {
            u32::try_from(pieces).ok()?
        } else {
            0
        };
        let mut at = 0;
        for (i, n) in piece_sizes(topic.len(), message.len(), fragment).enumerate() {
            let chunk = message.get(at..at + n)?;
            at += n;
            let (head_bytes, tl): (&[u8], u8) = if i == 0 {
                (topic.as_bytes(), topic_len)
            } else {
                (&[], 0)
            };
            let stored = head_bytes.len() + chunk.len();
            let (offset, head, tail) = place(
                self.bytes.len(),
                self.head,
                self.tail,
                self.held_bytes,
                stored,
            )?;
            let dst = self.bytes.get_mut(offset..offset + stored)?;
            let (t, p) = dst.split_at_mut_checked(head_bytes.len())?;
            t.copy_from_slice(head_bytes);
            p.copy_from_slice(chunk);
            self.head = head;
            self.tail = tail;
            self.held_bytes += stored;
            let idx = (self.first + self.count) % self.slots.len();
            let slot = self.slots.get_mut(idx)?;
            *slot = SendSlot {
                cum: self.pushed,
                offset,
                len: u32::try_from(stored).ok()?,
                fragment_index: if pieces > 1 {
                    u32::try_from(i).ok()?
                } else {
                    0
                },
                fragment_count: count,
                total_len: if pieces > 1 && i == 0 {
                    message.len() as u64
                } else {
                    0
                },
                topic_len: tl,
                repaired_at: None,
                repair_pending: false,
            };
            self.pushed += stored as u64;
            self.count += 1;
        }
        Some(first_seq)
    }

    /// Bytes pushed before `seq` (the total pushed when `seq` is past the
    /// end; the oldest held entry's position when it is below the start).
    fn cum(&self, seq: Seq) -> u64 {
        if seq < self.start {
            return self.slots.get(self.first).map_or(self.pushed, |s| {
                if self.count > 0 { s.cum } else { self.pushed }
            });
        }
        self.index(seq)
            .and_then(|i| self.slots.get(i))
            .map_or(self.pushed, |s| s.cum)
    }

    /// How many of the `max` entries from `first` on can be transmitted
    /// while the bytes from `floor` to the last of them stay within
    /// `budget`.
    pub(crate) fn within_bytes(&self, floor: Seq, first: Seq, max: usize, budget: u64) -> usize {
        let base = self.cum(floor);
        let mut n = 0;
        while n < max {
            let end = self.cum(first + (n as u64 + 1));
            if end.saturating_sub(base) > budget {
                break;
            }
            n += 1;
        }
        n
    }

    /// Records that `n` more entries were transmitted.
    pub(crate) fn mark_sent(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.count);
    }

    /// Forgets the oldest entry if it has been transmitted.
    pub(crate) fn evict_one(&mut self) -> bool {
        if self.sent == 0 {
            return false;
        }
        let Some(slot) = self.slots.get_mut(self.first) else {
            return false;
        };
        if slot.repair_pending {
            slot.repair_pending = false;
            self.pending_repairs -= 1;
        }
        self.held_bytes -= slot.len as usize;
        self.first = (self.first + 1) % self.slots.len();
        self.start = self.start.next();
        self.count -= 1;
        self.sent -= 1;
        if self.held_bytes == 0 {
            self.head = 0;
            self.tail = 0;
        } else {
            // The new tail is the oldest entry that holds bytes.
            for i in 0..self.count {
                if let Some(s) = self.slots.get((self.first + i) % self.slots.len())
                    && s.len > 0
                {
                    self.tail = s.offset;
                    break;
                }
            }
        }
        true
    }

    /// Forgets transmitted entries below `upto`.
    pub(crate) fn evict_below(&mut self, upto: Seq) {
        while self.start < upto && self.evict_one() {}
    }

    /// A receiver asks for `seq` again.
    pub(crate) fn request_repair(
        &mut self,
        seq: Seq,
        now: Instant,
        rtt: Duration,
    ) -> RepairRequest {
        if seq >= self.next_send() {
            return RepairRequest::NotHeld;
        }
        let Some(idx) = self.index(seq) else {
            return RepairRequest::NotHeld;
        };
        let Some(slot) = self.slots.get_mut(idx) else {
            return RepairRequest::NotHeld;
        };
        if slot.repair_pending || slot.repaired_at.is_some_and(|t| now < t + rtt) {
            return RepairRequest::Ignored;
        }
        slot.repair_pending = true;
        self.pending_repairs += 1;
        RepairRequest::Queued
    }

    /// True when some repair is pending.
    #[cfg(test)]
    pub(crate) fn has_repairs(&self) -> bool {
        self.pending_repairs > 0
    }

    /// The first run of consecutive pending repairs: `(first, count)`.
    pub(crate) fn repair_run(&self) -> Option<(Seq, usize)> {
        if self.pending_repairs == 0 {
            return None;
        }
        let cap = self.slots.len();
        let pending = |i: usize| {
            self.slots
                .get((self.first + i) % cap)
                .is_some_and(|s| s.repair_pending)
        };
        let first = (0..self.sent).find(|&i| pending(i))?;
        let n = (first..self.sent).take_while(|&i| pending(i)).count();
        Some((self.start + first as u64, n))
    }

    /// Records that `seq` was just repaired.
    pub(crate) fn mark_repaired(&mut self, seq: Seq, now: Instant) {
        let Some(idx) = self.index(seq) else { return };
        if let Some(slot) = self.slots.get_mut(idx) {
            if slot.repair_pending {
                slot.repair_pending = false;
                self.pending_repairs -= 1;
            }
            slot.repaired_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

    #[test]
    fn fragments_and_wraps() {
        let mut slots = [SendSlot::EMPTY; 8];
        let mut bytes = [0u8; 100];
        let mut w = SendWindow::new(&mut slots, &mut bytes, Seq::new(u64::MAX - 1));
        let msg: Vec<u8> = (0..70).collect();
        let s = w.push(&msg, 30).unwrap();
        assert_eq!(s, Seq::new(u64::MAX - 1));
        assert_eq!(w.len(), 3);
        assert_eq!(w.get(s + 2).unwrap().payload, &msg[60..]);
        assert_eq!(w.get(s).unwrap().total_len, 70);
        assert_eq!(w.get(s + 1).unwrap().fragment_index, 1);
        assert!(!w.fits(40, 30), "only 30 bytes left");
        assert!(!w.evict_one(), "nothing transmitted yet");
        w.mark_sent(3);
        w.evict_below(s + 2);
        assert_eq!(w.start(), s + 2);
        // 60 bytes free at the front: a 50-byte message wraps there.
        let t = w.push(&[9; 50], 100).unwrap();
        assert_eq!(w.get(t).unwrap().payload, &[9; 50]);
        assert_eq!(w.get(s + 2).unwrap().payload, &msg[60..]);
    }

    #[test]
    fn repairs_are_deduplicated_within_rtt() {
        let mut slots = [SendSlot::EMPTY; 4];
        let mut bytes = [0u8; 64];
        let mut w = SendWindow::new(&mut slots, &mut bytes, Seq::new(0));
        for _ in 0..3 {
            w.push(b"x", 16).unwrap();
        }
        let rtt = Duration::from_micros(100);
        let t0 = Instant::from_micros(1_000);
        assert_eq!(
            w.request_repair(Seq::new(1), t0, rtt),
            RepairRequest::NotHeld,
            "not sent yet"
        );
        w.mark_sent(3);
        assert_eq!(
            w.request_repair(Seq::new(1), t0, rtt),
            RepairRequest::Queued
        );
        assert_eq!(
            w.request_repair(Seq::new(2), t0, rtt),
            RepairRequest::Queued
        );
        assert_eq!(
            w.request_repair(Seq::new(1), t0, rtt),
            RepairRequest::Ignored
        );
        assert_eq!(w.repair_run(), Some((Seq::new(1), 2)));
        w.mark_repaired(Seq::new(1), t0);
        w.mark_repaired(Seq::new(2), t0);
        assert!(!w.has_repairs());
        assert_eq!(
            w.request_repair(Seq::new(1), t0 + Duration::from_micros(50), rtt),
            RepairRequest::Ignored
        );
        assert_eq!(
            w.request_repair(Seq::new(1), t0 + rtt, rtt),
            RepairRequest::Queued
        );
        assert_eq!(
            w.request_repair(Seq::new(7), t0, rtt),
            RepairRequest::NotHeld
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]
        /// Against a queue of owned messages: everything held reads back intact.
        #[test]
        fn matches_a_queue(ops in proptest::collection::vec((0usize..90, any::<bool>()), 1..60)) {
            let mut slots = [SendSlot::EMPTY; 6];
            let mut bytes = [0u8; 128];
            let mut w = SendWindow::new(&mut slots, &mut bytes, Seq::new(u64::MAX - 3));
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            let mut tag = 0u8;
            for (len, evict) in ops {
                if evict {
                    w.mark_sent(w.unsent());
                    if w.evict_one() { model.pop_front(); }
                } else {
                    tag = tag.wrapping_add(1);
                    let msg = std::vec![tag; len];
                    let fits = w.fits(len, 40);
                    let r = w.push(&msg, 40);
                    prop_assert_eq!(r.is_some(), fits);
                    if fits {
                        for c in msg.chunks(40) { model.push_back(c.to_vec()); }
                        if msg.is_empty() { model.push_back(Vec::new()); }
                    }
                }
                prop_assert_eq!(w.len(), model.len());
                for (i, m) in model.iter().enumerate() {
                    prop_assert_eq!(w.get(w.start() + i as u64).unwrap().payload, &m[..]);
                }
                // An empty window always fits a message as large as the ring.
                if w.len() == 0 { prop_assert!(w.fits(128, 40)); }
            }
        }
    }
}
