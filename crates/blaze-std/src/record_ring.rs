//! A bounded single-producer single-consumer ring of fixed-capacity byte
//! records, lock-free and allocation-free after construction: the data
//! path of [`Publisher`](crate::Publisher) and [`Inbox`](crate::Inbox).
//!
//! Every slot is a run of `AtomicU64` words (a small header, then the
//! payload), so the ring needs no `unsafe`: the producer writes a slot's
//! words with relaxed stores and publishes it with a release store of the
//! tail; the consumer reads after an acquire load of the tail and frees
//! the slot with a release store of the head, which the producer loads
//! with acquire before it writes the slot again.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The largest payload of one record, in bytes.
pub const RECORD_CAPACITY: usize = 1024;

/// Header words of a slot (the owner's metadata: length, sender, ...).
pub(crate) const HEADER_WORDS: usize = 4;
const PAYLOAD_WORDS: usize = RECORD_CAPACITY.div_ceil(8);
const SLOT_WORDS: usize = HEADER_WORDS + PAYLOAD_WORDS;

/// The ring. Only one thread at a time may push (the owner of the
/// producing handle) and only one may pop; the handles that wrap it
/// enforce that with `&mut self`. Misuse cannot cause undefined
/// behaviour (every access is atomic), only garbled records.
#[derive(Debug)]
pub(crate) struct RecordRing {
    words: Box<[AtomicU64]>,
    /// Next slot to read (written by the consumer only).
    head: AtomicUsize,
    /// Next slot to write (written by the producer only).
    tail: AtomicUsize,
    /// Slots, a power of two.
    slots: usize,
}

impl RecordRing {
    /// A ring of at least `slots` records (rounded up to a power of two).
    pub(crate) fn new(slots: usize) -> Self {
        let slots = slots.max(1).next_power_of_two();
        RecordRing {
            words: (0..slots * SLOT_WORDS).map(|_| AtomicU64::new(0)).collect(),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            slots,
        }
    }

    /// Records waiting (a snapshot).
    pub(crate) fn len(&self) -> usize {
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(self.head.load(Ordering::Acquire))
    }

    /// Whether the producer can append a record now (a snapshot).
    pub(crate) fn has_room(&self) -> bool {
        self.len() < self.slots
    }

    fn slot(&self, index: usize) -> &[AtomicU64] {
        let at = (index & (self.slots - 1)) * SLOT_WORDS;
        self.words.get(at..at + SLOT_WORDS).unwrap_or(&[])
    }

    /// Producer: appends a record. Returns false (nothing written) when
    /// the ring is full or `payload` is over [`RECORD_CAPACITY`].
    pub(crate) fn push(&self, header: [u64; HEADER_WORDS], payload: &[u8]) -> bool {
        if payload.len() > RECORD_CAPACITY {
            return false;
        }
        let tail = self.tail.load(Ordering::Relaxed);
        if tail.wrapping_sub(self.head.load(Ordering::Acquire)) >= self.slots {
            return false;
        }
        let slot = self.slot(tail);
        let (head_words, body) = slot.split_at(HEADER_WORDS.min(slot.len()));
        for (w, h) in head_words.iter().zip(header) {
            w.store(h, Ordering::Relaxed);
        }
        let mut chunks = payload.chunks_exact(8);
        let mut words = body.iter();
        for (chunk, w) in chunks.by_ref().zip(words.by_ref()) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        let rest = chunks.remainder();
        if !rest.is_empty()
            && let Some(w) = words.next()
        {
            let mut b = [0u8; 8];
            b.get_mut(..rest.len())
                .unwrap_or(&mut [])
                .copy_from_slice(rest);
            w.store(u64::from_le_bytes(b), Ordering::Relaxed);
        }
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        true
    }

    /// Consumer: copies the oldest record's header, and its first `len`
    /// payload bytes into `buf` (as many as fit), without removing it.
    /// `len` is read from the header by `len_of`. Returns the header.
    pub(crate) fn peek(
        &self,
        buf: &mut [u8],
        len_of: impl FnOnce(&[u64; HEADER_WORDS]) -> usize,
    ) -> Option<[u64; HEADER_WORDS]> {
        let head = self.head.load(Ordering::Relaxed);
        if self.tail.load(Ordering::Acquire) == head {
            return None;
        }
        let slot = self.slot(head);
        let (head_words, body) = slot.split_at(HEADER_WORDS.min(slot.len()));
        let mut header = [0u64; HEADER_WORDS];
        for (h, w) in header.iter_mut().zip(head_words) {
            *h = w.load(Ordering::Relaxed);
        }
        let len = len_of(&header).min(buf.len()).min(RECORD_CAPACITY);
        // Whole words first (each a single 8-byte store), then the tail.
        let mut chunks = buf.get_mut(..len).unwrap_or(&mut []).chunks_exact_mut(8);
        let mut words = body.iter();
        for (chunk, w) in chunks.by_ref().zip(words.by_ref()) {
            chunk.copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty()
            && let Some(w) = words.next()
        {
            let b = w.load(Ordering::Relaxed).to_le_bytes();
            rest.copy_from_slice(b.get(..rest.len()).unwrap_or(&[]));
        }
        Some(header)
    }

    /// Consumer: removes the oldest record (after [`peek`](Self::peek)).
    pub(crate) fn advance(&self) {
        let head = self.head.load(Ordering::Relaxed);
        if self.tail.load(Ordering::Acquire) != head {
            self.head.store(head.wrapping_add(1), Ordering::Release);
        }
    }

    /// Consumer: [`peek`](Self::peek) and [`advance`](Self::advance).
    pub(crate) fn pop(
        &self,
        buf: &mut [u8],
        len_of: impl FnOnce(&[u64; HEADER_WORDS]) -> usize,
    ) -> Option<[u64; HEADER_WORDS]> {
        let header = self.peek(buf, len_of)?;
        self.advance();
        Some(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn len0(h: &[u64; HEADER_WORDS]) -> usize {
        h[0] as usize
    }

    #[test]
    fn records_come_out_in_order_and_a_full_ring_refuses() {
        let ring = RecordRing::new(3);
        // Rounded up to 4 slots.
        for n in 0..4u64 {
            let payload: Vec<u8> = (0..n * 5).map(|b| b as u8).collect();
            assert!(ring.push([payload.len() as u64, n, 0, 0], &payload));
        }
        assert!(!ring.push([0; HEADER_WORDS], b""));
        assert!(!RecordRing::new(1).push([0; 4], &[0; RECORD_CAPACITY + 1]));
        let mut buf = [0u8; 64];
        for n in 0..4u64 {
            let h = ring.pop(&mut buf, len0).unwrap();
            assert_eq!(h[1], n);
            let expect: Vec<u8> = (0..n * 5).map(|b| b as u8).collect();
            assert_eq!(&buf[..h[0] as usize], &expect[..]);
        }
        assert!(ring.pop(&mut buf, len0).is_none());
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn a_producer_and_a_consumer_on_two_threads_agree() {
        let ring = Arc::new(RecordRing::new(8));
        let producer = Arc::clone(&ring);
        let total = 20_000u64;
        let t = std::thread::spawn(move || {
            let mut n = 0u64;
            while n < total {
                let len = (n % 300) as usize;
                let payload: Vec<u8> = (0..len).map(|i| (n as usize + i) as u8).collect();
                if producer.push([len as u64, n, 0, 0], &payload) {
                    n += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        });
        let mut buf = [0u8; RECORD_CAPACITY];
        let mut n = 0u64;
        while n < total {
            let Some(h) = ring.pop(&mut buf, len0) else {
                std::thread::yield_now();
                continue;
            };
            assert_eq!(h[1], n);
            for (i, b) in buf[..h[0] as usize].iter().enumerate() {
                assert_eq!(*b, (n as usize + i) as u8);
            }
            n += 1;
        }
        t.join().unwrap();
    }
}
