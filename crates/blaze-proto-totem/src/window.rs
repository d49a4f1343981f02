//! Message storage in caller buffers: a ring of slot headers and their
//! bytes indexed by a local absolute position, so the messages of an old
//! ring and of the next one can share it, and the send queue's bytes.
//!
//! A message of up to [`INLINE`] bytes (topic and payload) lives in its
//! slot's own bytes; a larger one in a pool of full-size slots shared by
//! the window and the queue, so a window of many small messages costs
//! little memory while the pool bounds how many large ones are held.

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
    /// Pool slot holding the bytes, or [`NO_POOL`] for the inline bytes.
    pub(crate) pooled: u16,
}

/// Bytes of a message (topic and payload) stored inline in its window or
/// queue slot; a larger one takes a slot of the pool.
pub const INLINE: usize = 128;
/// A slot whose bytes are inline.
const NO_POOL: u16 = u16::MAX;
/// Bytes before each pool slot's message: the owner (see `Owner`).
const POOL_HEADER: usize = 8;
/// Pool owner tag of a slot held by the send queue.
const OWNER_QUEUE: u64 = u64::MAX - 1;
/// Pool owner tag of a free slot.
const OWNER_FREE: u64 = u64::MAX;

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
        pooled: NO_POOL,
    };
}

impl Default for Slot {
    fn default() -> Self {
        Slot::EMPTY
    }
}

/// Storage lent to a [`Totem`](crate::Totem) for its messages: one slot
/// header per message of the window, the window's and the send queue's
/// inline bytes ([`INLINE`] bytes a message, or `P` when `P` is smaller),
/// and, when `P` is larger, a pool of full `P`-byte slots for the
/// messages that do not fit inline. A `Totem<N, W, P, Q>` needs exactly
/// [`slots_needed(W)`](Buffers::slots_needed) slots and at least
/// [`bytes_with_pool(W, P, Q, 2)`](Buffers::bytes_with_pool) bytes;
/// [`bytes_needed(W, P, Q)`](Buffers::bytes_needed) gives every message
/// a pool slot. The bytes beyond the inline ones are the pool. The
/// machine hands them back with
/// [`Totem::into_buffers`](crate::Totem::into_buffers).
///
/// A large window costs its bytes here, not in the machine, so a caller
/// with a heap can keep them there (and the machine small enough to build
/// on the stack). With a pool smaller than the window, a member whose
/// pool is full drops a large message it receives (it asks for it again
/// on the token, counted in [`Stats::oversized`](crate::Stats::oversized))
/// or makes room by dropping another member's message that follows a gap
/// (asked for again later); its own large messages leave a pool slot free
/// for that, so the gap is always filled.
///
/// ```
/// use blaze_proto_totem::{Buffers, Slot};
/// let mut slots = [Slot::EMPTY; Buffers::slots_needed(64)];
/// let mut bytes = [0u8; Buffers::bytes_needed(64, 96, 8)];
/// let buffers = Buffers { slots: &mut slots, bytes: &mut bytes };
/// // Messages of up to 96 bytes all fit inline.
/// assert_eq!(buffers.bytes.len(), (64 + 8) * 96);
/// // 1 KiB messages: 128 bytes inline each, and 100 pool slots.
/// assert_eq!(
///     Buffers::bytes_with_pool(1024, 1024, 64, 100),
///     (1024 + 64) * 128 + 100 * (8 + 1024)
/// );
/// ```
#[derive(Debug)]
pub struct Buffers<'a> {
    /// Slot headers of the window, [`Buffers::slots_needed`] of them.
    pub slots: &'a mut [Slot],
    /// Message bytes (topic then payload) of the window and the send
    /// queue, inline and in the pool: at least
    /// [`Buffers::bytes_with_pool`] with a pool of 2.
    pub bytes: &'a mut [u8],
}

impl Buffers<'_> {
    /// Entries of [`slots`](Buffers::slots) needed by a window of
    /// `window` messages (a `Totem<N, W, P, Q>` with `W = window`).
    pub const fn slots_needed(window: usize) -> usize {
        window
    }

    /// Bytes of [`bytes`](Buffers::bytes) of a window of `window`
    /// messages and a send queue of `queue` ones, messages of up to
    /// `slot` bytes, where every message may be large (a pool slot each):
    /// `(W + Q) * P` when `P` is at most [`INLINE`], else
    /// [`bytes_with_pool(W, P, Q, W + Q)`](Buffers::bytes_with_pool).
    pub const fn bytes_needed(window: usize, slot: usize, queue: usize) -> usize {
        Self::bytes_with_pool(window, slot, queue, window + queue)
    }

    /// Bytes of [`bytes`](Buffers::bytes) with `pool` slots for messages
    /// larger than [`INLINE`] bytes (none when `slot` is at most
    /// [`INLINE`]): `(W + Q) * min(P, INLINE)` inline bytes plus `pool *
    /// (8 + P)`.
    pub const fn bytes_with_pool(window: usize, slot: usize, queue: usize, pool: usize) -> usize {
        let inline = if slot < INLINE { slot } else { INLINE };
        let pooled = if slot > INLINE {
            pool * (POOL_HEADER + slot)
        } else {
            0
        };
        (window + queue) * inline + pooled
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

/// A message waiting in the send queue (its bytes in the queue's slot or
/// in a pool slot).
#[derive(Debug, Clone, Copy)]
struct Queued {
    safe: bool,
    topic_len: u8,
    len: u16,
    pooled: u16,
}

impl Default for Queued {
    fn default() -> Self {
        Queued {
            safe: false,
            topic_len: 0,
            len: 0,
            pooled: NO_POOL,
        }
    }
}

/// `W` message slots (positions below `base` are free) and a send queue
/// of `Q` more, in the caller's buffers: the window's inline bytes first,
/// then the queue's, then the pool.
pub(crate) struct Window<'a, const W: usize, const P: usize, const Q: usize> {
    slots: &'a mut [Slot],
    bytes: &'a mut [u8],
    base: u64,
    queue: [Queued; Q],
    /// Queue slot of the oldest queued message.
    head: usize,
    queued: usize,
    /// Pool slots in `bytes` after the inline ones.
    pool: usize,
    /// Where the search for a free pool slot starts.
    pool_cursor: usize,
    /// This member: its own messages are never dropped to make room.
    me: MemberId,
    /// Messages dropped from the pool to make room (see `pool_evict`).
    evictions: u64,
    /// Queued messages in pool slots.
    queued_large: usize,
}

impl<'a, const W: usize, const P: usize, const Q: usize> Window<'a, W, P, Q> {
    /// Inline bytes per message.
    const INLINE: usize = if P < INLINE { P } else { INLINE };
    /// Bytes before the pool.
    const POOL_START: usize = (W + Q) * Self::INLINE;
    /// Bytes of one pool slot.
    const POOL_SLOT: usize = POOL_HEADER + P;

    /// Storage in `buffers` for member `me`, emptied.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Buffers`] when there are not exactly
    /// `slots_needed(W)` slots or fewer than `bytes_with_pool(W, P, Q, 2)`
    /// bytes (for `P` at most [`INLINE`], `bytes_needed(W, P, Q)`); the
    /// buffers come back with it.
    pub(crate) fn new(
        buffers: Buffers<'a>,
        me: MemberId,
    ) -> Result<Self, (ConfigError, Buffers<'a>)> {
        if buffers.slots.len() != Buffers::slots_needed(W)
            || buffers.bytes.len() < Buffers::bytes_with_pool(W, P, Q, 2)
        {
            return Err((ConfigError::Buffers, buffers));
        }
        buffers.slots.fill(Slot::EMPTY);
        let pool = if P > INLINE {
            ((buffers.bytes.len() - Self::POOL_START) / Self::POOL_SLOT).min(usize::from(NO_POOL))
        } else {
            0
        };
        let mut w = Window {
            slots: buffers.slots,
            bytes: buffers.bytes,
            base: 1,
            queue: [Queued::default(); Q],
            head: 0,
            queued: 0,
            pool,
            pool_cursor: 0,
            me,
            evictions: 0,
            queued_large: 0,
        };
        for k in 0..pool {
            w.set_owner(k, OWNER_FREE);
        }
        Ok(w)
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

    /// The byte range of the message bytes of pool slot `k`.
    fn pool_range(k: usize) -> core::ops::Range<usize> {
        let start = Self::POOL_START + k * Self::POOL_SLOT + POOL_HEADER;
        start..start + P
    }

    /// The owner of pool slot `k`: the window position holding it,
    /// [`OWNER_QUEUE`] or [`OWNER_FREE`].
    fn owner(&self, k: usize) -> u64 {
        let start = Self::POOL_START + k * Self::POOL_SLOT;
        self.bytes
            .get(start..start + POOL_HEADER)
            .and_then(|b| b.try_into().ok())
            .map_or(OWNER_FREE, u64::from_le_bytes)
    }

    fn set_owner(&mut self, k: usize, owner: u64) {
        let start = Self::POOL_START + k * Self::POOL_SLOT;
        if let Some(b) = self.bytes.get_mut(start..start + POOL_HEADER) {
            b.copy_from_slice(&owner.to_le_bytes());
        }
    }

    /// The window position whose held message is in pool slot `k`, if
    /// any (a slot whose message was freed or replaced is free).
    fn pool_holder(&self, k: usize) -> Option<u64> {
        let abs = self.owner(k);
        if abs == OWNER_FREE || abs == OWNER_QUEUE {
            return None;
        }
        let held = self.slots.get(Self::index(abs)).is_some_and(|s| {
            s.present && s.abs == abs && abs >= self.base && usize::from(s.pooled) == k
        });
        held.then_some(abs)
    }

    fn pool_free(&self, k: usize) -> bool {
        let owner = self.owner(k);
        owner != OWNER_QUEUE && (owner == OWNER_FREE || self.pool_holder(k).is_none())
    }

    /// A free pool slot, leaving at least `keep` others free; `None` when
    /// there is none.
    fn pool_find(&mut self, keep: usize) -> Option<usize> {
        let mut found = None;
        let mut free = 0;
        for step in 0..self.pool {
            let k = (self.pool_cursor + step) % self.pool;
            if self.pool_free(k) {
                if found.is_none() {
                    found = Some(k);
                }
                free += 1;
                if free > keep {
                    break;
                }
            }
        }
        let k = found.filter(|_| free > keep)?;
        self.pool_cursor = (k + 1) % self.pool.max(1);
        Some(k)
    }

    /// Makes room for a large message at `abs` by dropping the message
    /// furthest after it that another member sent (it follows a gap, so it
    /// is asked for again); `None` when there is none.
    fn pool_evict(&mut self, abs: u64) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for k in 0..self.pool {
            if let Some(held) = self.pool_holder(k)
                && held > abs
                && best.is_none_or(|(b, _)| held > b)
                && self
                    .slots
                    .get(Self::index(held))
                    .is_some_and(|s| s.sender != self.me)
            {
                best = Some((held, k));
            }
        }
        let (held, k) = best?;
        if let Some(s) = self.slots.get_mut(Self::index(held)) {
            s.present = false;
        }
        self.evictions += 1;
        Some(k)
    }

    /// The byte range of window slot `i`'s message: its inline part, or
    /// pool slot `pooled`.
    fn slot_range(i: usize, pooled: u16) -> core::ops::Range<usize> {
        if pooled == NO_POOL {
            i * Self::INLINE..(i + 1) * Self::INLINE
        } else {
            Self::pool_range(usize::from(pooled))
        }
    }

    /// The bytes of window slot `i`.
    fn data(&self, i: usize) -> &[u8] {
        let pooled = self.slots.get(i).map_or(NO_POOL, |s| s.pooled);
        self.bytes.get(Self::slot_range(i, pooled)).unwrap_or(&[])
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

    /// Checks that a new message may go to `abs`.
    fn claim(&self, abs: u64) -> Result<(), Refused> {
        if abs < self.base || self.has(abs) {
            return Err(Refused::Duplicate);
        }
        if !self.fits(abs) {
            return Err(Refused::NoRoom);
        }
        Ok(())
    }

    /// Stores a message; a large one takes a pool slot, made free if
    /// need be by dropping another member's message after it when
    /// `may_evict` (not while an old ring's messages are recovered: the
    /// ring counts on every message it was told is held).
    pub(crate) fn insert(
        &mut self,
        abs: u64,
        seq: u64,
        sender: MemberId,
        safe: bool,
        msg: (&str, &[u8]),
        may_evict: bool,
    ) -> Result<(), Refused> {
        let (topic, payload) = msg;
        if topic.len() + payload.len() > P {
            return Err(Refused::NoRoom);
        }
        self.claim(abs)?;
        let i = Self::index(abs);
        let n = topic.len() + payload.len();
        let pooled = if n <= Self::INLINE {
            NO_POOL
        } else {
            let k = match self.pool_find(0) {
                Some(k) => k,
                None if may_evict => self.pool_evict(abs).ok_or(Refused::NoRoom)?,
                None => return Err(Refused::NoRoom),
            };
            u16::try_from(k).map_err(|_| Refused::NoRoom)?
        };
        let data = self
            .bytes
            .get_mut(Self::slot_range(i, pooled))
            .ok_or(Refused::NoRoom)?;
        let (topic_len, len) = store(data, topic, payload).ok_or(Refused::NoRoom)?;
        if pooled != NO_POOL {
            self.set_owner(usize::from(pooled), abs);
        }
        *self.slots.get_mut(i).ok_or(Refused::NoRoom)? = Slot {
            abs,
            present: true,
            safe,
            sender,
            seq,
            recovered: false,
            topic_len,
            len,
            pooled,
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

    /// Slots of the pool of large messages (0 when every message fits
    /// inline).
    pub(crate) fn pool(&self) -> usize {
        self.pool
    }

    /// The oldest queued message's length (topic and payload) and
    /// whether it is large (in a pool slot).
    pub(crate) fn front(&self) -> Option<(usize, bool)> {
        if self.queued == 0 {
            return None;
        }
        let q = self.queue.get(self.head)?;
        Some((
            usize::from(q.topic_len) + usize::from(q.len),
            q.pooled != NO_POOL,
        ))
    }

    /// Messages dropped from the pool so far to make room.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Messages in the send queue.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// The inline byte range of queue slot `k` (after the window's).
    fn queue_range(k: usize) -> core::ops::Range<usize> {
        (W + k) * Self::INLINE..(W + k + 1) * Self::INLINE
    }

    /// Queues a message; `false` (nothing queued) when the queue is full,
    /// the message does not fit a slot, or it is large and a quarter of
    /// the pool is queued already or taking a pool slot would leave none
    /// free (one stays free for a message received after a gap).
    pub(crate) fn push_queued(&mut self, safe: bool, topic: &str, payload: &[u8]) -> bool {
        if self.queued >= Q {
            return false;
        }
        let k = (self.head + self.queued) % Q;
        let n = topic.len() + payload.len();
        let (pooled, range) = if n <= Self::INLINE {
            (NO_POOL, Self::queue_range(k))
        } else {
            // At most a quarter of the pool queued (what may go out at
            // once), so that the rest holds the others' messages.
            if self.queued_large >= (self.pool / 4).max(1) {
                return false;
            }
            let Some(p) = self.pool_find(1) else {
                return false;
            };
            let Ok(pooled) = u16::try_from(p) else {
                return false;
            };
            (pooled, Self::pool_range(p))
        };
        let Some(data) = self.bytes.get_mut(range) else {
            return false;
        };
        let Some((topic_len, len)) = store(data, topic, payload) else {
            return false;
        };
        if pooled != NO_POOL {
            self.set_owner(usize::from(pooled), OWNER_QUEUE);
            self.queued_large += 1;
        }
        if let Some(q) = self.queue.get_mut(k) {
            *q = Queued {
                safe,
                topic_len,
                len,
                pooled,
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
        if self.claim(abs).is_err() {
            return None;
        }
        if q.pooled == NO_POOL {
            let from = Self::queue_range(self.head).start;
            let n = usize::from(q.topic_len) + usize::from(q.len);
            let (win, queue) = self.bytes.split_at_mut_checked(W * Self::INLINE)?;
            let src = queue.get(from - W * Self::INLINE..from - W * Self::INLINE + n)?;
            win.get_mut(Self::slot_range(i, NO_POOL))?
                .get_mut(..n)?
                .copy_from_slice(src);
        } else {
            // The pool slot passes to the window as it is.
            self.set_owner(usize::from(q.pooled), abs);
            self.queued_large = self.queued_large.saturating_sub(1);
        }
        *self.slots.get_mut(i)? = Slot {
            abs,
            present: true,
            safe: q.safe,
            sender,
            seq,
            recovered: false,
            topic_len: q.topic_len,
            len: q.len,
            pooled: q.pooled,
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
        let mut w: Window<'_, 4, 8, 1> =
            Window::new(buffers::<4, 8, 1>(), MemberId::from_u128(1)).unwrap();
        let m = MemberId::from_u128(7);
        assert_eq!(w.insert(1, 1, m, false, ("", b"a"), true), Ok(()));
        assert_eq!(
            w.insert(1, 1, m, false, ("", b"a"), true),
            Err(Refused::Duplicate)
        );
        assert_eq!(
            w.insert(5, 5, m, false, ("", b"e"), true),
            Err(Refused::NoRoom)
        );
        assert_eq!(w.insert(4, 4, m, true, ("top", b"d"), true), Ok(()));
        assert_eq!(w.get(4).map(|s| s.payload()), Some(&b"d"[..]));
        assert_eq!(w.get(4).map(|s| s.topic()), Some("top"));
        assert_eq!(
            w.insert(2, 2, m, false, ("", &[0; 9]), true),
            Err(Refused::NoRoom)
        );
        assert_eq!(
            w.insert(2, 2, m, false, ("abcd", &[0; 5]), true),
            Err(Refused::NoRoom)
        );
        assert_eq!(w.insert(2, 2, m, false, ("abcd", &[0; 4]), true), Ok(()));
        w.set_base(3);
        assert!(!w.has(1));
        assert_eq!(
            w.insert(1, 1, m, false, ("", b"a"), true),
            Err(Refused::Duplicate)
        );
        assert_eq!(w.insert(6, 6, m, false, ("", b"f"), true), Ok(()));
        assert_eq!(w.occupancy(), 2);
        w.set_base(100);
        assert_eq!(w.occupancy(), 0);
    }

    #[test]
    fn queue_moves_into_the_window_in_order() {
        let mut w: Window<'_, 4, 8, 2> =
            Window::new(buffers::<4, 8, 2>(), MemberId::from_u128(1)).unwrap();
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

    /// Storage of a window of 8, a queue of 2 and `pool` slots for
    /// messages of up to 200 bytes (128 inline).
    fn pooled(pool: usize) -> Window<'static, 8, 200, 2> {
        let buffers = Buffers {
            slots: std::vec![Slot::EMPTY; Buffers::slots_needed(8)].leak(),
            bytes: std::vec![0; Buffers::bytes_with_pool(8, 200, 2, pool)].leak(),
        };
        Window::new(buffers, MemberId::from_u128(1)).unwrap()
    }

    #[test]
    fn small_messages_stay_inline_and_large_ones_take_the_pool() {
        let mut w = pooled(2);
        let other = MemberId::from_u128(2);
        for a in 1..=8 {
            assert_eq!(
                w.insert(a, a, other, false, ("t", &[a as u8; 100]), true),
                Ok(())
            );
        }
        w.set_base(3);
        assert_eq!(w.insert(9, 9, other, false, ("", &[9; 200]), true), Ok(()));
        assert_eq!(
            w.insert(10, 10, other, false, ("", &[10; 129]), true),
            Ok(())
        );
        // Both pool slots held, nothing after 11 to drop: refused.
        assert_eq!(
            w.insert(11, 11, other, false, ("", &[11; 150]), true),
            Err(Refused::NoRoom)
        );
        assert_eq!(w.get(9).map(|m| m.payload()), Some(&[9u8; 200][..]));
        assert_eq!(w.get(10).map(|m| m.payload()), Some(&[10u8; 129][..]));
        assert_eq!(w.get(8).map(|m| m.payload()), Some(&[8u8; 100][..]));
        // Freeing 9 frees its pool slot.
        w.set_base(10);
        assert_eq!(
            w.insert(11, 11, other, false, ("", &[11; 150]), true),
            Ok(())
        );
        assert_eq!(w.get(11).map(|m| m.payload()), Some(&[11u8; 150][..]));
        assert!(
            w.insert(12, 12, other, false, ("", &[0; 201]), true)
                .is_err()
        );
    }

    #[test]
    fn a_full_pool_drops_a_later_message_of_another_member_for_an_earlier_one() {
        let mut w = pooled(3);
        let me = MemberId::from_u128(1);
        let other = MemberId::from_u128(2);
        assert_eq!(w.insert(3, 3, me, false, ("", &[3; 150]), true), Ok(()));
        assert_eq!(w.insert(4, 4, other, false, ("", &[4; 150]), true), Ok(()));
        assert_eq!(w.insert(5, 5, other, false, ("", &[5; 150]), true), Ok(()));
        // Not while recovering, and never for a later message.
        assert_eq!(
            w.insert(2, 2, other, false, ("", &[2; 150]), false),
            Err(Refused::NoRoom)
        );
        assert_eq!(
            w.insert(6, 6, other, false, ("", &[6; 150]), true),
            Err(Refused::NoRoom)
        );
        // The gap at 2 is filled: the last of the other member's goes.
        assert_eq!(w.insert(2, 2, other, false, ("", &[2; 150]), true), Ok(()));
        assert!(!w.has(5));
        assert!(w.has(4) && w.has(3));
        assert_eq!(w.insert(1, 1, other, false, ("", &[1; 150]), true), Ok(()));
        assert!(!w.has(4));
        // This member's own message is never dropped.
        assert_eq!(
            w.insert(8, 8, other, false, ("", &[8; 150]), true),
            Err(Refused::NoRoom)
        );
        assert!(w.has(3));
        assert_eq!(w.get(2).map(|m| m.payload()), Some(&[2u8; 150][..]));
    }

    #[test]
    fn a_large_queued_message_keeps_a_pool_slot_free_and_moves_without_copy() {
        let mut w = pooled(2);
        let me = MemberId::from_u128(1);
        assert!(w.push_queued(false, "big", &[7; 180]));
        // A second would leave no pool slot free.
        assert!(!w.push_queued(false, "big", &[8; 180]));
        assert!(w.push_queued(true, "small", b"s"));
        assert_eq!(w.take_queued(1, 1, me), Some(()));
        assert_eq!(w.take_queued(2, 2, me), Some(()));
        assert_eq!(
            w.get(1).map(|m| (m.topic(), m.payload())),
            Some(("big", &[7u8; 180][..]))
        );
        assert_eq!(
            w.get(2).map(|m| (m.topic(), m.payload(), m.safe)),
            Some(("small", &b"s"[..], true))
        );
        // The other pool slot is still free for a received message.
        let other = MemberId::from_u128(2);
        assert_eq!(w.insert(3, 3, other, false, ("", &[3; 180]), true), Ok(()));
        assert!(!w.push_queued(false, "big", &[8; 180]));
        // Freeing 1 leaves one pool slot free: still kept back.
        w.set_base(2);
        assert!(!w.push_queued(false, "big", &[8; 180]));
        w.set_base(4);
        assert!(w.push_queued(false, "big", &[8; 180]));
    }

    #[test]
    fn buffers_are_checked() {
        let short = Buffers {
            slots: std::vec![Slot::EMPTY; 3].leak(),
            bytes: std::vec![0; Buffers::bytes_needed(4, 8, 1)].leak(),
        };
        assert!(matches!(
            Window::<4, 8, 1>::new(short, MemberId::from_u128(1)),
            Err((ConfigError::Buffers, _))
        ));
        let few = Buffers {
            slots: std::vec![Slot::EMPTY; 4].leak(),
            bytes: std::vec![0; Buffers::bytes_needed(4, 8, 1) - 1].leak(),
        };
        assert!(Window::<4, 8, 1>::new(few, MemberId::from_u128(1)).is_err());
    }
}
