//! Message storage in caller buffers: a ring of slot headers and their
//! bytes indexed by a local absolute position, so the messages of an old
//! ring and of the next one can share it, and the send queue's bytes.

use blaze_wire::MemberId;

use crate::ConfigError;

/// The header of one stored message (its bytes live in
/// [`Buffers::bytes`]); opaque to the caller, who provides
/// [`Buffers::slots_needed`] of them, all [`Slot::EMPTY`].
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Absolute position of the message; meaningful when `present`.
    pub(crate) abs: u64,
    pub(crate) present: bool,
    pub(crate) safe: bool,
    pub(crate) sender: MemberId,
    /// Sequence number on the ring it was sent on.
    pub(crate) seq: u64,
    /// Already re-sent on a new ring during recovery.
    pub(crate) recovered: bool,
    /// Length of the topic at the front of the slot's bytes.
    pub(crate) topic_len: u8,
    /// Length of the payload after the topic.
    pub(crate) len: u16,
}

impl Slot {
    /// An empty slot, to fill the caller's slot buffer with.
    pub const EMPTY: Self = Slot {
        abs: 0,
        present: false,
        safe: false,
        sender: MemberId::NIL,
        seq: 0,
        recovered: false,
        topic_len: 0,
        len: 0,
    };
}

impl Default for Slot {
    fn default() -> Self {
        Slot::EMPTY
    }
}

/// Storage lent to a [`Totem`](crate::Totem) for its messages: one slot
/// header per message of the window and the bytes of the window's and
/// the send queue's messages. A `Totem<N, W, P, Q>` needs exactly
/// [`slots_needed(W)`](Buffers::slots_needed) slots and at least
/// [`bytes_needed(W, P, Q)`](Buffers::bytes_needed) bytes; the machine
/// hands them back with [`Totem::into_buffers`](crate::Totem::into_buffers).
///
/// A large window costs its bytes here, not in the machine, so a caller
/// with a heap can keep them there (and the machine small enough to build
/// on the stack).
///
/// ```
/// use blaze_proto_totem::{Buffers, Slot};
/// let mut slots = [Slot::EMPTY; Buffers::slots_needed(64)];
/// let mut bytes = [0u8; Buffers::bytes_needed(64, 96, 8)];
/// let buffers = Buffers { slots: &mut slots, bytes: &mut bytes };
/// assert_eq!(buffers.bytes.len(), (64 + 8) * 96);
/// ```
#[derive(Debug)]
pub struct Buffers<'a> {
    /// Slot headers of the window, [`Buffers::slots_needed`] of them.
    pub slots: &'a mut [Slot],
    /// Message bytes (topic then payload, a slot of `P` bytes each) of
    /// the window and the send queue: [`Buffers::bytes_needed`] or more.
    pub bytes: &'a mut [u8],
}

impl Buffers<'_> {
    /// Entries of [`slots`](Buffers::slots) needed by a window of
    /// `window` messages (a `Totem<N, W, P, Q>` with `W = window`).
    pub const fn slots_needed(window: usize) -> usize {
        window
    }

    /// Bytes of [`bytes`](Buffers::bytes) needed by a window of `window`
    /// messages and a send queue of `queue` ones, each in a slot of
    /// `slot` bytes (a `Totem<N, W, P, Q>`: `(W + Q) * P`).
    pub const fn bytes_needed(window: usize, slot: usize, queue: usize) -> usize {
        (window + queue) * slot
    }
}

/// A stored message, read from the window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Msg<'s> {
    pub(crate) safe: bool,
    pub(crate) sender: MemberId,
    pub(crate) seq: u64,
    pub(crate) recovered: bool,
    topic_len: u8,
    len: u16,
    data: &'s [u8],
}

impl<'s> Msg<'s> {
    /// The topic.
    pub(crate) fn topic(&self) -> &'s str {
        topic_of(self.data, self.topic_len)
    }

    /// The payload.
    pub(crate) fn payload(&self) -> &'s [u8] {
        payload_of(self.data, self.topic_len, self.len)
    }
}

/// The topic stored at the front of `data` (only ever written from a
/// `&str`, so the fallback to "" is unreachable).
fn topic_of(data: &[u8], topic_len: u8) -> &str {
    data.get(..usize::from(topic_len))
        .and_then(|t| core::str::from_utf8(t).ok())
        .unwrap_or("")
}

/// The payload stored after the topic in `data`.
fn payload_of(data: &[u8], topic_len: u8, len: u16) -> &[u8] {
    let start = usize::from(topic_len);
    data.get(start..start + usize::from(len)).unwrap_or(&[])
}

/// Writes `topic` then `payload` into `data`; `None` when they do not fit
/// (a topic of at most 255 bytes, both together at most `data.len()`).
fn store(data: &mut [u8], topic: &str, payload: &[u8]) -> Option<(u8, u16)> {
    let topic_len = u8::try_from(topic.len()).ok()?;
    let len = u16::try_from(payload.len()).ok()?;
    if topic.len() + payload.len() > data.len() {
        return None;
    }
    let (t, rest) = data.split_at_mut_checked(topic.len())?;
    t.copy_from_slice(topic.as_bytes());
    rest.get_mut(..payload.len())?.copy_from_slice(payload);
    Some((topic_len, len))
}

/// Why a message was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Below the base (already freed) or already present.
    Duplicate,
    /// Beyond `base + W`, or the payload does not fit a slot.
    NoRoom,
}

/// A message waiting in the send queue (its bytes in the queue's slot).
#[derive(Debug, Clone, Copy, Default)]
struct Queued {
    safe: bool,
    topic_len: u8,
    len: u16,
}

/// `W` message slots of `P` bytes (positions below `base` are free) and
/// a send queue of `Q` more, in the caller's buffers: the window's bytes
/// first, then the queue's.
pub(crate) struct Window<'a, const W: usize, const P: usize, const Q: usize> {
    slots: &'a mut [Slot],
    bytes: &'a mut [u8],
    base: u64,
    queue: [Queued; Q],
    /// Queue slot of the oldest queued message.
    head: usize,
    queued: usize,
}

impl<'a, const W: usize, const P: usize, const Q: usize> Window<'a, W, P, Q> {
    /// Storage in `buffers`, emptied.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Buffers`] when there are not exactly
    /// `slots_needed(W)` slots or fewer than `bytes_needed(W, P, Q)`
    /// bytes; the buffers come back with it.
    pub(crate) fn new(buffers: Buffers<'a>) -> Result<Self, (ConfigError, Buffers<'a>)> {
        if buffers.slots.len() != Buffers::slots_needed(W)
            || buffers.bytes.len() < Buffers::bytes_needed(W, P, Q)
        {
            return Err((ConfigError::Buffers, buffers));
        }
        buffers.slots.fill(Slot::EMPTY);
        Ok(Window {
            slots: buffers.slots,
            bytes: buffers.bytes,
            base: 1,
            queue: [Queued::default(); Q],
            head: 0,
            queued: 0,
        })
    }

    /// The buffers back.
    pub(crate) fn into_buffers(self) -> Buffers<'a> {
        Buffers {
            slots: self.slots,
            bytes: self.bytes,
        }
    }

    fn index(abs: u64) -> usize {
        // W is a usize, so the remainder fits one.
        usize::try_from(abs % W as u64).unwrap_or(0)
    }

    /// The bytes of window slot `i`.
    fn data(&self, i: usize) -> &[u8] {
        self.bytes.get(i * P..(i + 1) * P).unwrap_or(&[])
    }

    /// The message at `abs`, if held.
    pub(crate) fn get(&self, abs: u64) -> Option<Msg<'_>> {
        let i = Self::index(abs);
        let s = self
            .slots
            .get(i)
            .filter(|s| s.present && s.abs == abs && abs >= self.base)?;
        Some(Msg {
            safe: s.safe,
            sender: s.sender,
            seq: s.seq,
            recovered: s.recovered,
            topic_len: s.topic_len,
            len: s.len,
            data: self.data(i),
        })
    }

    /// The header of the message at `abs`, mutably, if held.
    pub(crate) fn get_mut(&mut self, abs: u64) -> Option<&mut Slot> {
        let base = self.base;
        self.slots
            .get_mut(Self::index(abs))
            .filter(|s| s.present && s.abs == abs && abs >= base)
    }

    /// True when `abs` is held.
    pub(crate) fn has(&self, abs: u64) -> bool {
        self.slots
            .get(Self::index(abs))
            .is_some_and(|s| s.present && s.abs == abs && abs >= self.base)
    }

    /// True when a message at `abs` could be stored now.
    pub(crate) fn fits(&self, abs: u64) -> bool {
        abs >= self.base && abs - self.base < W as u64
    }

    /// The slot for a new message at `abs`, with its bytes.
    fn claim(&mut self, abs: u64) -> Result<(&mut Slot, &mut [u8]), Refused> {
        if abs < self.base || self.has(abs) {
            return Err(Refused::Duplicate);
        }
        if !self.fits(abs) {
            return Err(Refused::NoRoom);
        }
        let i = Self::index(abs);
        let slot = self.slots.get_mut(i).ok_or(Refused::NoRoom)?;
        let data = self
            .bytes
            .get_mut(i * P..(i + 1) * P)
            .ok_or(Refused::NoRoom)?;
        Ok((slot, data))
    }

    /// Stores a message.
    pub(crate) fn insert(
        &mut self,
        abs: u64,
        seq: u64,
        sender: MemberId,
        safe: bool,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), Refused> {
        let (slot, data) = self.claim(abs)?;
        let (topic_len, len) = store(data, topic, payload).ok_or(Refused::NoRoom)?;
        *slot = Slot {
            abs,
            present: true,
            safe,
            sender,
            seq,
            recovered: false,
            topic_len,
            len,
        };
        Ok(())
    }

    /// Frees every position below `abs` (never moves back).
    pub(crate) fn set_base(&mut self, abs: u64) {
        if abs <= self.base {
            return;
        }
        if abs - self.base >= W as u64 {
            for s in self.slots.iter_mut() {
                s.present = false;
            }
        } else {
            for a in self.base..abs {
                if let Some(s) = self.slots.get_mut(Self::index(a))
                    && s.abs == a
                {
                    s.present = false;
                }
            }
        }
        self.base = abs;
    }

    /// The lowest position that may still be held.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// Messages held.
    pub(crate) fn occupancy(&self) -> usize {
        self.slots.iter().filter(|s| s.present).count()
    }

    /// Messages in the send queue.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// The byte range of queue slot `k` (after the window's bytes).
    fn queue_range(k: usize) -> core::ops::Range<usize> {
        (W + k) * P..(W + k + 1) * P
    }

    /// Queues a message; `false` (nothing queued) when the queue is full
    /// or the message does not fit a slot.
    pub(crate) fn push_queued(&mut self, safe: bool, topic: &str, payload: &[u8]) -> bool {
        if self.queued >= Q {
            return false;
        }
        let k = (self.head + self.queued) % Q;
        let Some(data) = self.bytes.get_mut(Self::queue_range(k)) else {
            return false;
        };
        let Some((topic_len, len)) = store(data, topic, payload) else {
            return false;
        };
        if let Some(q) = self.queue.get_mut(k) {
            *q = Queued {
                safe,
                topic_len,
                len,
            };
            self.queued += 1;
            return true;
        }
        false
    }

    /// Moves the oldest queued message into the window at `abs`, sent by
    /// `sender` as `seq`; `None` when the queue is empty or the window
    /// refuses it (then it stays queued).
    pub(crate) fn take_queued(&mut self, abs: u64, seq: u64, sender: MemberId) -> Option<()> {
        if self.queued == 0 {
            return None;
        }
        let q = *self.queue.get(self.head)?;
        let i = Self::index(abs);
        let from = Self::queue_range(self.head).start;
        if self.claim(abs).is_err() {
            return None;
        }
        let (win, queue) = self.bytes.split_at_mut_checked(W * P)?;
        let n = usize::from(q.topic_len) + usize::from(q.len);
        let src = queue.get(from - W * P..from - W * P + n)?;
        win.get_mut(i * P..i * P + n)?.copy_from_slice(src);
        *self.slots.get_mut(i)? = Slot {
            abs,
            present: true,
            safe: q.safe,
            sender,
            seq,
            recovered: false,
            topic_len: q.topic_len,
            len: q.len,
        };
        self.head = (self.head + 1) % Q;
        self.queued -= 1;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffers<const W: usize, const P: usize, const Q: usize>() -> Buffers<'static> {
        Buffers {
            slots: std::vec![Slot::EMPTY; Buffers::slots_needed(W)].leak(),
            bytes: std::vec![0; Buffers::bytes_needed(W, P, Q)].leak(),
        }
    }

    #[test]
    fn stores_frees_and_refuses() {
        let mut w: Window<'_, 4, 8, 1> = Window::new(buffers::<4, 8, 1>()).unwrap();
        let m = MemberId::from_u128(7);
        assert_eq!(w.insert(1, 1, m, false, "", b"a"), Ok(()));
        assert_eq!(w.insert(1, 1, m, false, "", b"a"), Err(Refused::Duplicate));
        assert_eq!(w.insert(5, 5, m, false, "", b"e"), Err(Refused::NoRoom));
        assert_eq!(w.insert(4, 4, m, true, "top", b"d"), Ok(()));
        assert_eq!(w.get(4).map(|s| s.payload()), Some(&b"d"[..]));
        assert_eq!(w.get(4).map(|s| s.topic()), Some("top"));
        assert_eq!(w.insert(2, 2, m, false, "", &[0; 9]), Err(Refused::NoRoom));
        assert_eq!(
            w.insert(2, 2, m, false, "abcd", &[0; 5]),
            Err(Refused::NoRoom)
        );
        assert_eq!(w.insert(2, 2, m, false, "abcd", &[0; 4]), Ok(()));
        w.set_base(3);
        assert!(!w.has(1));
        assert_eq!(w.insert(1, 1, m, false, "", b"a"), Err(Refused::Duplicate));
        assert_eq!(w.insert(6, 6, m, false, "", b"f"), Ok(()));
        assert_eq!(w.occupancy(), 2);
        w.set_base(100);
        assert_eq!(w.occupancy(), 0);
    }

    #[test]
    fn queue_moves_into_the_window_in_order() {
        let mut w: Window<'_, 4, 8, 2> = Window::new(buffers::<4, 8, 2>()).unwrap();
        let m = MemberId::from_u128(3);
        assert!(w.push_queued(true, "t", b"one"));
        assert!(w.push_queued(false, "", b"two"));
        assert!(!w.push_queued(false, "", b"three"));
        assert!(!w.push_queued(false, "", &[0; 9]));
        assert_eq!(w.queued(), 2);
        assert_eq!(w.take_queued(1, 1, m), Some(()));
        // A position the window refuses leaves the message queued.
        assert_eq!(w.take_queued(9, 9, m), None);
        assert_eq!(w.queued(), 1);
        assert!(w.push_queued(true, "x", b"3"));
        assert_eq!(w.take_queued(2, 2, m), Some(()));
        assert_eq!(w.take_queued(3, 3, m), Some(()));
        assert_eq!(w.take_queued(4, 4, m), None);
        let got: std::vec::Vec<_> = (1..=3)
            .map(|a| w.get(a).map(|s| (s.topic(), s.payload(), s.safe, s.seq)))
            .collect();
        assert_eq!(
            got,
            [
                Some(("t", &b"one"[..], true, 1)),
                Some(("", &b"two"[..], false, 2)),
                Some(("x", &b"3"[..], true, 3)),
            ]
        );
    }

    #[test]
    fn buffers_are_checked() {
        let short = Buffers {
            slots: std::vec![Slot::EMPTY; 3].leak(),
            bytes: std::vec![0; Buffers::bytes_needed(4, 8, 1)].leak(),
        };
        assert!(matches!(
            Window::<4, 8, 1>::new(short),
            Err((ConfigError::Buffers, _))
        ));
        let few = Buffers {
            slots: std::vec![Slot::EMPTY; 4].leak(),
            bytes: std::vec![0; Buffers::bytes_needed(4, 8, 1) - 1].leak(),
        };
        assert!(Window::<4, 8, 1>::new(few).is_err());
    }
}
