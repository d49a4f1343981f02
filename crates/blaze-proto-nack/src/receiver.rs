//! One remote sender's stream as received here: the receive window, its
//! gap tracker, NACK timing with suppression, acknowledgements, and the
//! in-order delivery cursor (with reassembly of fragmented messages).

use blaze_wire::{Duration, Instant, Rng, Seq};

use crate::config::{Config, MAX_TOPIC_LEN};
use crate::frames::MsgIn;
use crate::gaps::Gaps;
use crate::rtt::RttEstimator;
use crate::stats::RecvStats;

/// Holes tracked per remote stream.
pub(crate) const HOLES: usize = 32;

/// A timer acknowledgement waits for a pause of `ack_delay` in the stream,
/// but no longer than this many `ack_delay`s after the progress it reports.
const ACK_STRETCH: u64 = 4;

/// Longest NACK retry back-off, as a power of two of the retry timeout.
const MAX_RETRY_SHIFT: u32 = 6;

/// One entry of a remote stream's receive window: where a received
/// message (or fragment) lies in the stream's ring of receive bytes. The
/// caller provides a slice of these, `PEERS * W` for an
/// `Endpoint<PEERS, W>` ([`Buffers::recv_slots_needed`](crate::Buffers::recv_slots_needed)),
/// e.g. `[RxSlot::EMPTY; 4 * 8]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxSlot {
    /// Where the record starts in the stream's ring, as a position in the
    /// ring's byte stream (the offset is `pos % ring length`).
    pos: u64,
    /// Payload bytes (after the topic).
    len: u32,
    /// Topic bytes, stored before the payload (first fragments only).
    topic_len: u8,
    fragment_index: u32,
    fragment_count: u32,
    total_len: u64,
}

impl RxSlot {
    /// An unused entry.
    pub const EMPTY: RxSlot = RxSlot {
        pos: 0,
        len: 0,
        topic_len: 0,
        fragment_index: 0,
        fragment_count: 0,
        total_len: 0,
    };
}

/// A message being reassembled (or discarded, when it cannot be).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reasm {
    first: Seq,
    count: u32,
    next_index: u32,
    filled: u64,
    total: u64,
    /// True when the bytes are not kept (no buffer, or too large): the
    /// message is reported unrecoverable when its last fragment passes.
    discard: bool,
    /// The message's topic (from its first fragment).
    topic: [u8; MAX_TOPIC_LEN],
    topic_len: u8,
}

/// What storing one received message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    New,
    Duplicate,
    Dropped,
}

/// One step of in-order delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Deliver the slot at `next` (`len` bytes at `offset` of the region,
    /// after its `topic_len`-byte topic).
    Slot {
        seq: Seq,
        offset: usize,
        len: usize,
        topic_len: usize,
    },
    /// Deliver the reassembly buffer's first `len` bytes.
    Reassembled { seq: Seq, len: usize },
    /// Report `from..=to` lost.
    Lost { from: Seq, to: Seq },
    /// Nothing deliverable now.
    Stalled,
}

/// The reassembly buffer, shared by all remote streams, one message at a
/// time.
#[derive(Debug)]
pub(crate) struct ReasmBuf<'b> {
    pub(crate) bytes: &'b mut [u8],
    pub(crate) owner: Option<usize>,
    /// The topic of the message last reassembled.
    pub(crate) topic: [u8; MAX_TOPIC_LEN],
    pub(crate) topic_len: u8,
}

impl ReasmBuf<'_> {
    /// The topic of the message last reassembled.
    pub(crate) fn topic(&self) -> &str {
        self.topic
            .get(..usize::from(self.topic_len))
            .and_then(|t| core::str::from_utf8(t).ok())
            .unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Receiver<const W: usize> {
    pub(crate) stream: u32,
    pub(crate) reliable: bool,
    /// Next sequence number to deliver; the window's base.
    pub(crate) next: Seq,
    first: usize,
    gaps: Gaps<HOLES>,
    /// One past the highest sequence number known to exist.
    pub(crate) high_end: Seq,
    /// The sender no longer holds anything below this.
    pub(crate) give_up_below: Seq,
    nack_at: Option<Instant>,
    retry_at: Option<Instant>,
    retries: u32,
    nacked_until: Seq,
    nack_pending: Option<Seq>,
    rtt_probe: Option<(Seq, Instant)>,
    acked: Seq,
    ack_at: Option<Instant>,
    /// When the oldest progress not yet acknowledged was made.
    unacked_since: Option<Instant>,
    ack_due: bool,
    last_ack_at: Option<Instant>,
    reasm: Option<Reasm>,
    /// Ring position where the next record goes.
    head_pos: u64,
    /// Ring position of the oldest record that may still be held (records
    /// below it are delivered); refreshed when the ring looks full.
    tail_pos: u64,
    /// Bytes delivered since the last acknowledgement.
    unacked_bytes: u64,
    /// FEC streams: holes at or past this are not NACKed yet (their
    /// block's parity may still come).
    pub(crate) nack_hold: Option<Seq>,
    pub(crate) stats: RecvStats,
}

/// Where a record of `len` bytes goes in a ring of `cap` bytes whose next
/// free position is `head`: a record never wraps, so one that does not fit
/// before the end starts at the next turn. Returns `(start, end)` positions.
fn ring_place(cap: u64, head: u64, len: u64) -> (u64, u64) {
    let off = head % cap.max(1);
    let start = if off + len > cap {
        head + (cap - off)
    } else {
        head
    };
    (start, start + len)
}

fn pct(d: Duration, pct: u64) -> Duration {
    Duration::from_micros(d.total_micros().saturating_mul(pct) / 100)
}

impl<const W: usize> Receiver<W> {
    pub(crate) fn new(stream: u32, reliable: bool, next: Seq) -> Self {
        Receiver {
            stream,
            reliable,
            next,
            first: 0,
            gaps: Gaps::new(),
            high_end: next,
            give_up_below: next,
            nack_at: None,
            retry_at: None,
            retries: 0,
            nacked_until: next,
            nack_pending: None,
            rtt_probe: None,
            acked: next,
            ack_at: None,
            unacked_since: None,
            ack_due: false,
            last_ack_at: None,
            reasm: None,
            head_pos: 0,
            tail_pos: 0,
            unacked_bytes: 0,
            nack_hold: None,
            stats: RecvStats::default(),
        }
    }

    fn offset(&self, seq: Seq) -> Option<u64> {
        u64::try_from(seq.distance_from(self.next)).ok()
    }

    fn slot_index(&self, off: u64) -> usize {
        (self.first + (off as usize % W.max(1))) % W.max(1)
    }

    /// End of what can be NACKed now: `min(high_end, next + W)`, and not
    /// past the FEC hold.
    fn window_end(&self) -> Seq {
        let cap = self.next + W as u64;
        let end = self.high_end.min_serial(cap);
        match self.nack_hold {
            Some(h) => end.min_serial(h.max_serial(self.next)),
            None => end,
        }
    }

    /// Whether `seq` is missing here: `Some(true)` for a hole in the
    /// window, `Some(false)` when held or already delivered, `None`
    /// beyond the window.
    pub(crate) fn is_missing(&self, seq: Seq) -> Option<bool> {
        if seq < self.next {
            return Some(false);
        }
        let off = self.offset(seq)?;
        (off < W as u64).then(|| !self.gaps.contains(off))
    }

    /// The message stored for `seq`, also after delivery as long as its
    /// slot and its bytes in the ring have not been reused (for rebuilding
    /// an FEC block). A slot reused by an unrecoverable skip is not
    /// detected here: the block CRC is.
    pub(crate) fn held_msg<'r>(
        &self,
        seq: Seq,
        region: &'r [u8],
        slots: &[RxSlot],
    ) -> Option<MsgIn<'r>> {
        let idx = if seq < self.next {
            let back = u64::try_from(self.next.distance_from(seq)).ok()?;
            if back > W as u64 || self.gaps.contains(W as u64 - back) {
                return None;
            }
            (self.first + W - back as usize) % W.max(1)
        } else {
            let off = self.offset(seq)?;
            if off >= W as u64 || !self.gaps.contains(off) {
                return None;
            }
            self.slot_index(off)
        };
        let slot = slots.get(idx)?;
        let cap = region.len() as u64;
        // Bytes written since the record was stored may have reached it.
        if self.head_pos > slot.pos.saturating_add(cap) {
            return None;
        }
        let start = usize::try_from(slot.pos % cap.max(1)).ok()?;
        let body = start + usize::from(slot.topic_len);
        Some(MsgIn {
            topic: core::str::from_utf8(region.get(start..body)?).ok()?,
            payload: region.get(body..body + slot.len as usize)?,
            fragment_index: slot.fragment_index,
            fragment_count: slot.fragment_count,
            total_len: slot.total_len,
        })
    }

    /// Received but not yet delivered entries.
    pub(crate) fn held(&self) -> usize {
        self.gaps.runs().map(|(s, e)| (e - s) as usize).sum()
    }

    /// Notes that `end - 1` exists.
    pub(crate) fn saw_end(&mut self, end: Seq) {
        self.high_end = self.high_end.max_serial(end);
    }

    /// The sender holds nothing below `start` any more.
    pub(crate) fn saw_window_start(&mut self, start: Seq) {
        if self.reliable && start > self.give_up_below {
            self.give_up_below = start;
            self.saw_end(start);
        }
    }

    /// Stores one received message; `region` is this stream's ring of
    /// bytes and `slots` its `W` window entries.
    pub(crate) fn store(
        &mut self,
        seq: Seq,
        msg: &MsgIn<'_>,
        region: &mut [u8],
        slots: &mut [RxSlot],
        fragment: usize,
    ) -> Stored {
        self.saw_end(seq.next());
        let Some(mut off) = self.offset(seq) else {
            self.stats.duplicates += 1;
            return Stored::Duplicate;
        };
        if off >= W as u64 {
            if self.reliable {
                self.stats.beyond_window += 1;
                return Stored::Dropped;
            }
            // Best effort: slide the window forward, losing what is skipped.
            let skip = off - (W as u64 - 1);
            self.skip_best_effort(skip);
            off = W as u64 - 1;
        }
        if self.gaps.contains(off) {
            self.stats.duplicates += 1;
            return Stored::Duplicate;
        }
        // Only a message's first fragment carries its topic.
        let topic = if msg.fragment_index == 0 {
            msg.topic.as_bytes()
        } else {
            &[]
        };
        if topic.len() > MAX_TOPIC_LEN || msg.payload.len() + topic.len() > fragment {
            self.stats.oversized += 1;
            return Stored::Dropped;
        }
        let len = (topic.len() + msg.payload.len()) as u64;
        // The next message in sequence may use the whole ring; the others
        // leave two fragments free for it, so that a hole can always be
        // filled (and delivery go on) however full the ring is.
        let reserve = if off == 0 { 0 } else { 2 * fragment as u64 };
        let cap = region.len() as u64;
        let pos = match self.allocate(slots, cap, len, reserve) {
            Some(pos) => pos,
            None if off == 0 => {
                // Records delivered out of their arrival order left the
                // ring too fragmented for the message delivery waits for:
                // forget what is held (it is NACKed again) and start over.
                self.stats.ring_full += 1;
                self.gaps.clear();
                self.tail_pos = self.head_pos;
                self.nacked_until = self.next;
                match self.allocate(slots, cap, len, 0) {
                    Some(pos) => pos,
                    None => return Stored::Dropped,
                }
            }
            None => {
                self.stats.ring_full += 1;
                return Stored::Dropped;
            }
        };
        if self.gaps.insert(off, off + 1).is_err() {
            self.stats.holes_full += 1;
            return Stored::Dropped;
        }
        self.head_pos = pos + len;
        let idx = self.slot_index(off);
        let start = (pos % (region.len() as u64).max(1)) as usize;
        if let Some((t, p)) = region
            .get_mut(start..start + topic.len() + msg.payload.len())
            .and_then(|dst| dst.split_at_mut_checked(topic.len()))
        {
            t.copy_from_slice(topic);
            p.copy_from_slice(msg.payload);
        }
        if let Some(slot) = slots.get_mut(idx) {
            *slot = RxSlot {
                pos,
                len: msg.payload.len() as u32,
                topic_len: topic.len() as u8,
                fragment_index: msg.fragment_index,
                fragment_count: msg.fragment_count,
                total_len: msg.total_len,
            };
        }
        Stored::New
    }

    /// The ring position for a `len`-byte record that leaves `reserve`
    /// bytes free, if there is room (the head is not moved).
    fn allocate(&mut self, slots: &[RxSlot], cap: u64, len: u64, reserve: u64) -> Option<u64> {
        let fits = |tail: u64, head: u64| {
            let (start, end) = ring_place(cap, head, len);
            (end - tail + reserve <= cap).then_some(start)
        };
        if let Some(start) = fits(self.tail_pos, self.head_pos) {
            return Some(start);
        }
        self.refresh_tail(slots);
        fits(self.tail_pos, self.head_pos)
    }

    /// Moves the tail to the oldest record still held (or to the head when
    /// nothing is).
    fn refresh_tail(&mut self, slots: &[RxSlot]) {
        let mut tail = self.head_pos;
        for (s, e) in self.gaps.runs() {
            for off in s..e {
                if let Some(slot) = slots.get(self.slot_index(off)) {
                    tail = tail.min(slot.pos);
                }
            }
        }
        self.tail_pos = tail;
    }

    fn skip_best_effort(&mut self, n: u64) {
        let held = self
            .gaps
            .runs()
            .map(|(s, e)| e.min(n).saturating_sub(s))
            .sum::<u64>();
        self.stats.best_effort_lost += n - held;
        self.reasm = None;
        self.consume(n);
    }

    /// Moves the base forward by `n`.
    pub(crate) fn consume(&mut self, n: u64) {
        self.gaps.advance(n);
        self.first = (self.first + (n % W.max(1) as u64) as usize) % W.max(1);
        self.next += n;
        self.high_end = self.high_end.max_serial(self.next);
        self.nacked_until = self.nacked_until.max_serial(self.next);
        self.give_up_below = self.give_up_below.max_serial(self.next);
    }

    /// Records a delivered message and schedules an acknowledgement: at
    /// once every quarter of the flow window (messages or bytes), else
    /// once the stream has paused for `ack_delay`, and no later than
    /// [`ACK_STRETCH`] times `ack_delay` after the oldest progress not yet
    /// acknowledged. A stream of messages closer together than `ack_delay`
    /// (request and reply, a steady trickle) is thus acknowledged by
    /// count, not by a timer after nearly every few messages, each timer
    /// acknowledgement a datagram and a wake-up of both ends of its own.
    pub(crate) fn after_consume(&mut self, now: Instant, cfg: &Config) {
        if !self.reliable || self.next == self.acked {
            return;
        }
        let threshold = u64::from(cfg.flow_window.get() / 4).max(1);
        if self.next.distance_from(self.acked) >= threshold as i64
            || self.unacked_bytes >= (cfg.flow_bytes() / 4) as u64
        {
            self.ack_due = true;
        } else {
            let since = *self.unacked_since.get_or_insert(now);
            self.ack_at = Some((now + cfg.ack_delay).min(since + cfg.ack_delay * ACK_STRETCH));
        }
    }

    /// The first missing sequence number in `[from, window_end)`.
    fn first_missing_from(&self, from: Seq) -> Option<Seq> {
        let from_off = self.offset(from.max_serial(self.next))?;
        let end_off = self.offset(self.window_end())?;
        self.gaps
            .missing(end_off)
            .find(|&(_, e)| e > from_off)
            .map(|(s, _)| self.next + s.max(from_off))
    }

    /// True when every missing sequence number in `[from, to)` lies in one
    /// of the inclusive `ranges`.
    fn covered(
        &self,
        from: Seq,
        to: Seq,
        ranges: impl Iterator<Item = (u64, u64)> + Clone,
    ) -> bool {
        let (Some(from_off), Some(to_off)) =
            (self.offset(from.max_serial(self.next)), self.offset(to))
        else {
            return true;
        };
        self.gaps.missing(to_off).all(|(s, e)| {
            let (s, e) = (s.max(from_off), e);
            if s >= e {
                return true;
            }
            let (first, last) = (self.next + s, self.next + (e - 1));
            ranges
                .clone()
                .any(|(a, b)| Seq::new(a) <= first && last <= Seq::new(b))
        })
    }

    /// Arms the NACK back-off when a hole not yet asked for appeared.
    pub(crate) fn schedule_nack(
        &mut self,
        now: Instant,
        rtt: &RttEstimator,
        cfg: &Config,
        rng: &mut Rng,
    ) {
        if !self.reliable || self.nack_at.is_some() || self.nack_pending.is_some() {
            return;
        }
        if self.first_missing_from(self.nacked_until).is_none() {
            return;
        }
        let srtt = rtt.srtt();
        let min = pct(srtt, u64::from(cfg.nack_delay_min_pct));
        let spread = pct(srtt, u64::from(cfg.nack_delay_spread_pct));
        let jitter = Duration::from_micros(rng.below(spread.total_micros().saturating_add(1)));
        self.nack_at = Some(now + min + jitter);
    }

    /// The retry timeout after `retries` unanswered NACKs.
    fn retry_timeout(&self, rtt: &RttEstimator, cfg: &Config) -> Duration {
        let base = rtt.timeout(cfg.min_timeout);
        (base * (1u64 << self.retries.min(MAX_RETRY_SHIFT))).min(cfg.nack_retry_max)
    }

    /// Fires due timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.nack_at.is_some_and(|t| t <= now) {
            self.nack_at = None;
            if self.first_missing_from(self.nacked_until).is_some() {
                let from = self
                    .nack_pending
                    .map_or(self.nacked_until, |p| p.min_serial(self.nacked_until));
                self.nack_pending = Some(from);
            }
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            if self
                .first_missing_from(self.next)
                .is_some_and(|s| s < self.nacked_until)
            {
                self.nack_pending = Some(self.next);
                self.retries = self.retries.saturating_add(1);
                // Karn: an answer may now be to either request.
                self.rtt_probe = None;
            }
        }
        if self.ack_at.is_some_and(|t| t <= now) {
            self.ack_at = None;
            self.ack_due = true;
        }
    }

    /// Earliest deadline of this stream.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let mut t = self.nack_at;
        for other in [self.retry_at, self.ack_at] {
            t = match (t, other) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        t
    }

    /// True when a NACK or an acknowledgement waits to be sent.
    pub(crate) fn wants_nack(&self) -> bool {
        self.nack_pending.is_some()
    }

    /// Writes the ranges of the pending NACK into `out` (inclusive, raw),
    /// as many as `fits` accepts; returns how many, and commits the NACK.
    pub(crate) fn take_nack(
        &mut self,
        now: Instant,
        rtt: &RttEstimator,
        cfg: &Config,
        out: &mut [(u64, u64)],
        mut fits: impl FnMut((u64, u64)) -> bool,
    ) -> usize {
        let Some(from) = self.nack_pending.take() else {
            return 0;
        };
        let (Some(from_off), Some(end_off)) = (
            self.offset(from.max_serial(self.next)),
            self.offset(self.window_end()),
        ) else {
            return 0;
        };
        let mut n = 0;
        let mut covered_to = self.window_end();
        for (s, e) in self.gaps.missing(end_off) {
            let s = s.max(from_off);
            if s >= e {
                continue;
            }
            let r = ((self.next + s).raw(), (self.next + (e - 1)).raw());
            match out.get_mut(n) {
                Some(slot) if fits(r) => {
                    *slot = r;
                    n += 1;
                }
                _ => {
                    covered_to = self.next + s;
                    break;
                }
            }
        }
        if n == 0 {
            return 0;
        }
        if self.retries == 0 && self.rtt_probe.is_none() {
            self.rtt_probe = out.first().map(|r| (Seq::new(r.0), now));
        }
        self.nacked_until = self.nacked_until.max_serial(covered_to);
        // A fresh NACK never postpones the retry of older holes.
        let t = now + self.retry_timeout(rtt, cfg);
        self.retry_at = Some(self.retry_at.map_or(t, |r| r.min(t)));
        self.stats.nacks_sent += 1;
        n
    }

    /// Another receiver NACKed `ranges` of this stream.
    pub(crate) fn overheard_nack(
        &mut self,
        now: Instant,
        rtt: &RttEstimator,
        cfg: &Config,
        ranges: impl Iterator<Item = (u64, u64)> + Clone,
    ) {
        if !self.reliable {
            return;
        }
        if let Some((probe, _)) = self.rtt_probe
            && ranges
                .clone()
                .any(|(a, b)| Seq::new(a) <= probe && probe <= Seq::new(b))
        {
            // Karn: a repair may now answer either NACK.
            self.rtt_probe = None;
        }
        for (_, end) in ranges.clone() {
            let end = Seq::new(end).next();
            if end > self.next && end.distance_from(self.next) <= W as i64 {
                self.saw_end(end);
            }
        }
        let wend = self.window_end();
        let waiting = self.nack_at.is_some() || self.nack_pending.is_some();
        if waiting {
            let from = self
                .nack_pending
                .map_or(self.nacked_until, |p| p.min_serial(self.nacked_until));
            if self.covered(from, wend, ranges.clone()) {
                self.nack_at = None;
                self.nack_pending = None;
                self.nacked_until = wend;
                self.stats.nacks_suppressed += 1;
                let t = now + self.retry_timeout(rtt, cfg);
                self.retry_at = Some(self.retry_at.map_or(t, |r| r.min(t)));
                return;
            }
        }
        if self.retry_at.is_some() && self.covered(self.next, self.nacked_until, ranges) {
            let t = now + self.retry_timeout(rtt, cfg);
            self.retry_at = self.retry_at.map(|r| r.max(t));
        }
    }

    /// A repair for `seq` filled a hole: returns an RTT sample when it
    /// answers this receiver's first NACK.
    pub(crate) fn repaired(&mut self, now: Instant, seq: Seq) -> Option<Duration> {
        self.stats.repairs_received += 1;
        self.retries = 0;
        match self.rtt_probe {
            Some((s, t)) if s == seq => {
                self.rtt_probe = None;
                Some(now - t)
            }
            Some((s, _)) if s < self.next => {
                self.rtt_probe = None;
                None
            }
            _ => None,
        }
    }

    /// Called after input: re-acknowledge when the sender still holds what
    /// was consumed here and the last acknowledgement is old.
    pub(crate) fn maybe_reack(
        &mut self,
        now: Instant,
        sender_start: Seq,
        rtt: &RttEstimator,
        cfg: &Config,
    ) {
        if self.reliable
            && sender_start < self.next
            && self
                .last_ack_at
                .is_none_or(|t| now >= t + rtt.timeout(cfg.min_timeout))
        {
            self.ack_due = true;
        }
    }

    /// The acknowledgement to send now, if one is due: the next sequence
    /// number needed.
    pub(crate) fn take_ack(&mut self, now: Instant) -> Option<Seq> {
        if !self.ack_due {
            return None;
        }
        self.ack_due = false;
        self.ack_at = None;
        self.unacked_since = None;
        self.acked = self.next;
        self.unacked_bytes = 0;
        self.last_ack_at = Some(now);
        self.stats.acks_sent += 1;
        Some(self.next)
    }

    /// True when an acknowledgement waits to be sent.
    pub(crate) fn wants_ack(&self) -> bool {
        self.ack_due
    }

    fn lost(&mut self, from: Seq, to: Seq) -> Step {
        self.stats.unrecoverable_ranges += 1;
        self.stats.unrecoverable_seqs += to.distance_from(from) as u64 + 1;
        Step::Lost { from, to }
    }

    /// Abandons the message being reassembled; returns its first seq.
    fn abort_reasm(&mut self, buf: &mut ReasmBuf<'_>, me: usize) -> Option<Seq> {
        let r = self.reasm.take()?;
        if buf.owner == Some(me) {
            buf.owner = None;
        }
        Some(r.first)
    }

    /// Advances delivery as far as possible without handing out data:
    /// fragments are copied into the reassembly buffer. Returns what to
    /// deliver or report next. `me` is this stream's index (buffer owner).
    pub(crate) fn step(
        &mut self,
        region: &[u8],
        slots: &[RxSlot],
        buf: &mut ReasmBuf<'_>,
        me: usize,
        max_len: u64,
    ) -> Step {
        loop {
            if self.gaps.front() == 0 {
                // The next sequence number is missing.
                if self.reliable && self.next < self.give_up_below {
                    let run_end = self.gaps.next_received(0).map_or(self.give_up_below, |o| {
                        (self.next + o).min_serial(self.give_up_below)
                    });
                    let from = self.abort_reasm(buf, me).unwrap_or(self.next);
                    let n = run_end.distance_from(self.next) as u64;
                    self.consume(n);
                    return self.lost(from, run_end.prev());
                }
                if !self.reliable
                    && let Some(o) = self.gaps.next_received(0)
                {
                    self.abort_reasm(buf, me);
                    self.stats.best_effort_lost += o;
                    self.consume(o);
                    continue;
                }
                return Step::Stalled;
            }
            let idx = self.first;
            let slot = slots.get(idx).copied().unwrap_or_default();
            let seq = self.next;
            let tl = usize::from(slot.topic_len);
            let off = (slot.pos % (region.len() as u64).max(1)) as usize + tl;
            let len = slot.len as usize;
            if slot.fragment_count <= 1 {
                if let Some(from) = self.abort_reasm(buf, me) {
                    // A whole message inside a fragmented one: the sender broke it.
                    return self.lost(from, seq.prev());
                }
                return Step::Slot {
                    seq,
                    offset: off,
                    len,
                    topic_len: tl,
                };
            }
            match self.reasm {
                Some(mut r) => {
                    let fits = r.filled + len as u64 <= r.total;
                    if slot.fragment_index != r.next_index
                        || slot.fragment_count != r.count
                        || !fits
                    {
                        let from = self.abort_reasm(buf, me).unwrap_or(seq);
                        return self.lost(from, seq.prev());
                    }
                    if !r.discard {
                        let at = r.filled as usize;
                        if let (Some(dst), Some(src)) =
                            (buf.bytes.get_mut(at..at + len), region.get(off..off + len))
                            && dst.len() == src.len()
                        {
                            dst.copy_from_slice(src);
                        }
                    }
                    r.filled += len as u64;
                    r.next_index += 1;
                    self.consume(1);
                    if r.next_index == r.count {
                        self.reasm = None;
                        if r.discard || r.filled != r.total {
                            if buf.owner == Some(me) {
                                buf.owner = None;
                            }
                            return self.lost(r.first, seq);
                        }
                        // The buffer stays owned until the event is released.
                        self.reasm = Some(r);
                        buf.topic = r.topic;
                        buf.topic_len = r.topic_len;
                        return Step::Reassembled {
                            seq: r.first,
                            len: r.filled as usize,
                        };
                    }
                    self.reasm = Some(r);
                }
                None if slot.fragment_index == 0 => {
                    let total = slot.total_len;
                    let storable = total <= max_len && total <= buf.bytes.len() as u64;
                    if storable && buf.owner.is_some_and(|o| o != me) {
                        // Another stream is using the buffer: wait for it.
                        return Step::Stalled;
                    }
                    if !storable {
                        self.stats.oversized += 1;
                    } else {
                        buf.owner = Some(me);
                    }
                    let mut topic = [0u8; MAX_TOPIC_LEN];
                    let topic_len = tl.min(MAX_TOPIC_LEN);
                    if let (Some(dst), Some(src)) = (
                        topic.get_mut(..topic_len),
                        region.get(off - tl..off - tl + topic_len),
                    ) {
                        dst.copy_from_slice(src);
                    }
                    self.reasm = Some(Reasm {
                        topic,
                        topic_len: topic_len as u8,
                        first: seq,
                        count: slot.fragment_count,
                        next_index: 0,
                        filled: 0,
                        total,
                        discard: !storable,
                    });
                }
                None => {
                    // A fragment whose message start was lost.
                    self.consume(1);
                    return self.lost(seq, seq);
                }
            }
        }
    }

    /// The delivered event has been consumed by the application.
    pub(crate) fn release(
        &mut self,
        step: Step,
        buf: &mut ReasmBuf<'_>,
        me: usize,
        now: Instant,
        cfg: &Config,
    ) {
        match step {
            Step::Slot { len, topic_len, .. } => {
                self.unacked_bytes += (len + topic_len) as u64;
                self.consume(1);
            }
            Step::Reassembled { .. } => {
                self.reasm = None;
                if buf.owner == Some(me) {
                    buf.owner = None;
                }
            }
            Step::Lost { .. } | Step::Stalled => {}
        }
        self.stats.delivered += 1;
        self.after_consume(now, cfg);
    }

    /// The pending NACK state, for tests.
    #[cfg(test)]
    pub(crate) fn nack_armed(&self) -> bool {
        self.nack_at.is_some() || self.nack_pending.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(p: &[u8]) -> MsgIn<'_> {
        MsgIn {
            payload: p,
            ..MsgIn::default()
        }
    }

    #[test]
    fn acknowledgements_wait_for_a_pause_a_count_or_the_stretch() {
        let cfg = Config::lan();
        let delay = cfg.ack_delay;
        let threshold = u64::from(cfg.flow_window.get() / 4);
        let step = Duration::from_micros(delay.total_micros() / 2);
        let mut r: Receiver<4> = Receiver::new(0, true, Seq::new(0));
        let t0 = Instant::from_micros(1_000);
        // Messages closer together than the delay: the timer follows the
        // stream, up to the stretch after the first.
        let mut now = t0;
        for _ in 0..3 {
            r.next += 1;
            r.after_consume(now, &cfg);
            assert_eq!(r.next_timeout(), Some(now + delay));
            now += step;
        }
        let cap = t0 + delay * ACK_STRETCH;
        while now + delay <= cap {
            r.next += 1;
            r.after_consume(now, &cfg);
            now += step;
        }
        r.next += 1;
        r.after_consume(now, &cfg);
        assert_eq!(r.next_timeout(), Some(cap));
        assert!(!r.wants_ack());
        r.handle_timeout(cap);
        assert_eq!(r.take_ack(cap), Some(r.next));
        assert_eq!(r.next_timeout(), None);
        // After that acknowledgement the stretch counts afresh; a pause of
        // the delay acknowledges what came since.
        let t1 = cap + step;
        r.next += 1;
        r.after_consume(t1, &cfg);
        assert_eq!(r.next_timeout(), Some(t1 + delay));
        r.handle_timeout(t1 + delay);
        assert_eq!(r.take_ack(t1 + delay), Some(r.next));
        // A quarter of the window in a row is acknowledged at once.
        let t2 = t1 + delay * 10;
        for k in 0..threshold {
            r.next += 1;
            r.after_consume(t2, &cfg);
            assert_eq!(r.wants_ack(), k + 1 == threshold);
        }
        assert_eq!(r.take_ack(t2), Some(r.next));
        assert_eq!(r.stats.acks_sent, 3);
    }

    #[test]
    fn suppression_by_an_overheard_nack() {
        let cfg = Config::lan();
        let rtt = RttEstimator::new(cfg.initial_rtt);
        let mut rng = Rng::new(1);
        let mut region = [0u8; 4 * 16];
        let mut slots = [RxSlot::EMPTY; 4];
        let mut r: Receiver<4> = Receiver::new(0, true, Seq::new(10));
        let t0 = Instant::from_micros(100);
        r.store(Seq::new(12), &msg(b"c"), &mut region, &mut slots, 16);
        r.schedule_nack(t0, &rtt, &cfg, &mut rng);
        assert!(r.nack_armed());
        r.overheard_nack(t0, &rtt, &cfg, [(10u64, 11u64)].into_iter());
        assert!(!r.nack_armed());
        assert_eq!(r.stats.nacks_suppressed, 1);
        // A partial overheard NACK does not suppress.
        r.store(Seq::new(14), &msg(b"e"), &mut region, &mut slots, 16);
        r.schedule_nack(t0, &rtt, &cfg, &mut rng);
        r.overheard_nack(t0, &rtt, &cfg, [(10u64, 11u64)].into_iter());
        assert!(r.nack_armed());
    }

    #[test]
    fn unrecoverable_runs_and_delivery() {
        let cfg = Config::lan();
        let mut region = [0u8; 4 * 16];
        let mut store = [0u8; 64];
        let mut buf = ReasmBuf {
            bytes: &mut store,
            owner: None,
            topic: [0; MAX_TOPIC_LEN],
            topic_len: 0,
        };
        let mut slots = [RxSlot::EMPTY; 4];
        let mut r: Receiver<4> = Receiver::new(0, true, Seq::new(0));
        r.store(Seq::new(2), &msg(b"two"), &mut region, &mut slots, 16);
        assert_eq!(r.step(&region, &slots, &mut buf, 0, 64), Step::Stalled);
        r.saw_window_start(Seq::new(2));
        assert_eq!(
            r.step(&region, &slots, &mut buf, 0, 64),
            Step::Lost {
                from: Seq::new(0),
                to: Seq::new(1)
            }
        );
        let s = r.step(&region, &slots, &mut buf, 0, 64);
        assert_eq!(
            s,
            Step::Slot {
                seq: Seq::new(2),
                offset: 0,
                len: 3,
                topic_len: 0,
            }
        );
        r.release(s, &mut buf, 0, Instant::ZERO, &cfg);
        assert_eq!(r.next, Seq::new(3));
        assert_eq!(r.stats.unrecoverable_seqs, 2);
    }

    #[test]
    fn reassembly_and_orphans() {
        let cfg = Config::lan();
        let mut region = [0u8; 4 * 4];
        let mut store = [0u8; 16];
        let mut buf = ReasmBuf {
            bytes: &mut store,
            owner: None,
            topic: [0; MAX_TOPIC_LEN],
            topic_len: 0,
        };
        let mut slots = [RxSlot::EMPTY; 4];
        let mut r: Receiver<4> = Receiver::new(0, true, Seq::new(0));
        let f = |p: &'static [u8], i, t| MsgIn {
            topic: "",
            payload: p,
            fragment_index: i,
            fragment_count: 3,
            total_len: t,
        };
        r.store(Seq::new(0), &f(b"abcd", 0, 10), &mut region, &mut slots, 4);
        r.store(Seq::new(1), &f(b"efgh", 1, 0), &mut region, &mut slots, 4);
        assert_eq!(r.step(&region, &slots, &mut buf, 0, 64), Step::Stalled);
        r.store(Seq::new(2), &f(b"ij", 2, 0), &mut region, &mut slots, 4);
        let s = r.step(&region, &slots, &mut buf, 0, 64);
        assert_eq!(
            s,
            Step::Reassembled {
                seq: Seq::new(0),
                len: 10
            }
        );
        assert_eq!(&buf.bytes[..10], b"abcdefghij");
        assert_eq!(buf.owner, Some(0));
        r.release(s, &mut buf, 0, Instant::ZERO, &cfg);
        assert_eq!(buf.owner, None);
        // An orphan middle fragment is reported, not delivered.
        r.store(Seq::new(3), &f(b"zz", 1, 0), &mut region, &mut slots, 4);
        assert_eq!(
            r.step(&region, &slots, &mut buf, 0, 64),
            Step::Lost {
                from: Seq::new(3),
                to: Seq::new(3)
            }
        );
    }

    #[test]
    fn ring_holds_small_records_and_keeps_room_for_the_next() {
        let mut region = [0u8; 64];
        let mut slots = [RxSlot::EMPTY; 64];
        let mut r: Receiver<64> = Receiver::new(0, true, Seq::new(0));
        // Small records cost their size, not a fragment each.
        for i in 1..=8u64 {
            assert_eq!(
                r.store(Seq::new(i), &msg(b"abc"), &mut region, &mut slots, 16),
                Stored::New
            );
        }
        // Out-of-order records leave two fragments free: more are refused.
        for i in 9..=16u64 {
            r.store(Seq::new(i), &msg(&[7u8; 8]), &mut region, &mut slots, 16);
        }
        assert!(r.stats.ring_full > 0);
        // The message delivery waits for always fits.
        assert_eq!(
            r.store(Seq::new(0), &msg(&[1u8; 16]), &mut region, &mut slots, 16),
            Stored::New
        );
        assert_eq!(
            r.held_msg(Seq::new(0), &region, &slots).map(|m| m.payload),
            Some(&[1u8; 16][..])
        );
        assert_eq!(
            r.held_msg(Seq::new(3), &region, &slots).map(|m| m.payload),
            Some(&b"abc"[..])
        );
    }
}
