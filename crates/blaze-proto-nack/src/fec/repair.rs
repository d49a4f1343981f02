//! The receiving side: parity symbols in, rebuilt and verified blocks
//! out, and when to hold a NACK back because parity may still come.
#![cfg_attr(
    not(feature = "fec"),
    allow(
        clippy::modulo_one,
        reason = "tables of one entry without the fec feature"
    )
)]

use blaze_fec::{Codec, Crc32c, decode_scratch_len};
use blaze_wire::{Duration, Instant, Seq};

use crate::fec::pool::{Meta, Pool};
use crate::fec::{FecStats, symbol};
use crate::frames::ParityIn;
use crate::receiver::{Receiver, RxSlot, Stored};
use crate::rtt::RttEstimator;

/// Halve the loss counters past this many sequence numbers (a sliding
/// estimate).
const LOSS_SPAN: u32 = 4096;

/// FEC state of one remote stream.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FecRx {
    /// The stream is an FEC stream (its data says so).
    pub(crate) active: bool,
    /// End of the newest block whose parity arrived.
    parity_end: Option<Seq>,
    /// Largest block size seen.
    k: u8,
    /// The last arrival under a hold.
    hold_since: Option<Instant>,
    /// The hold was lifted (parity did not come in time).
    lifted: bool,
    /// Holes below this are NACKed for plain retransmission (a block
    /// failed its check here).
    plain_below: Option<Seq>,
    /// Sequence numbers seen and originals received (loss estimate).
    span: u32,
    got: u32,
    /// Sequence numbers seen since the last loss report.
    since_report: u32,
    /// The last sequence numbers rebuilt here (raw), so that their first
    /// transmission, arriving after the parity that rebuilt them, does
    /// not count as lost.
    rebuilt: [Option<u64>; REBUILT_KEPT],
    rebuilt_next: usize,
}

/// Sequence numbers observed before the loss estimate is reported.
const MIN_SPAN: u32 = 128;

/// Rebuilt sequence numbers remembered for the loss estimate (none is
/// ever rebuilt without the `fec` feature).
const REBUILT_KEPT: usize = if cfg!(feature = "fec") { 8 } else { 1 };

/// A receiver reports its loss rate to the sender at least every this
/// many sequence numbers (with its NACKs, or alone).
pub(crate) const REPORT_EVERY: u32 = 256;

/// One remote stream, as the decoder sees it.
pub(crate) struct Stream<'x, const W: usize> {
    pub(crate) rx: &'x mut Receiver<W>,
    pub(crate) fec: &'x mut FecRx,
    pub(crate) rtt: &'x mut RttEstimator,
    pub(crate) region: &'x mut [u8],
    /// The stream's `W` receive window entries.
    pub(crate) slots: &'x mut [RxSlot],
    pub(crate) fragment: usize,
    pub(crate) peer: u16,
    /// Set when the decoder wrote into the scratch (the encoder's cached
    /// symbols are gone).
    pub(crate) scratch_used: bool,
}

impl FecRx {
    /// Data arrived: `originals` new first transmissions over `advance`
    /// newly seen sequence numbers.
    pub(crate) fn observe(&mut self, originals: u32, advance: u32) {
        self.since_report = self.since_report.saturating_add(advance);
        self.span = self.span.saturating_add(advance.max(originals));
        self.got = self.got.saturating_add(originals).min(self.span);
        if self.span > LOSS_SPAN {
            self.span /= 2;
            self.got /= 2;
        }
    }

    /// Notes that `seq` was rebuilt here.
    fn rebuilt(&mut self, seq: Seq) {
        if let Some(slot) = self.rebuilt.get_mut(self.rebuilt_next % REBUILT_KEPT) {
            *slot = Some(seq.raw());
        }
        self.rebuilt_next = self.rebuilt_next.wrapping_add(1);
    }

    /// True (once) when `seq` was rebuilt here.
    pub(crate) fn take_rebuilt(&mut self, seq: Seq) -> bool {
        match self.rebuilt.iter_mut().find(|r| **r == Some(seq.raw())) {
            Some(r) => {
                *r = None;
                true
            }
            None => false,
        }
    }

    /// True when a loss report is due (none went out with a NACK lately).
    pub(crate) fn report_due(&self) -> bool {
        cfg!(feature = "fec") && self.active && self.since_report >= REPORT_EVERY
    }

    /// A loss report went out (alone or in a NACK).
    pub(crate) fn reported(&mut self) {
        self.since_report = 0;
    }

    /// Measured loss of first transmissions, parts per million.
    pub(crate) fn loss_ppm(&self) -> u32 {
        // Too few samples say nothing yet.
        if self.span < MIN_SPAN {
            return 0;
        }
        let lost = u64::from(self.span - self.got.min(self.span));
        u32::try_from(lost * 1_000_000 / u64::from(self.span)).unwrap_or(u32::MAX)
    }

    /// Recomputes the NACK hold: once the block grid is known (from the
    /// newest parity and the largest `k`), holes in the block being
    /// filled wait until data past its end, or its parity, arrives (or
    /// the hold times out): its proactive parity may heal them, and on
    /// demand one NACK per block gathers all its losses.
    pub(crate) fn update_hold<const W: usize>(&mut self, rx: &mut Receiver<W>, now: Instant) {
        let hold = match self.parity_end {
            Some(end) if !self.lifted && self.k > 0 => {
                let k = u64::from(self.k);
                let beyond = u64::try_from(rx.high_end.distance_from(end)).unwrap_or(0);
                Some(end + beyond.saturating_sub(1) / k * k)
            }
            _ => None,
        };
        // The hold times out only when the stream stalls: every arrival
        // restarts it.
        rx.nack_hold = hold;
        self.hold_since = hold.map(|_| now);
    }

    /// When a hold that keeps holes back must be lifted.
    pub(crate) fn deadline<const W: usize>(
        &self,
        rx: &Receiver<W>,
        max: Duration,
    ) -> Option<Instant> {
        let hold = rx.nack_hold?;
        (hold < rx.high_end).then_some(self.hold_since? + max)
    }

    /// Lifts an expired hold; true when it did (NACKs may be due).
    pub(crate) fn handle_timeout<const W: usize>(
        &mut self,
        rx: &mut Receiver<W>,
        now: Instant,
        max: Duration,
    ) -> bool {
        if self.deadline(rx, max).is_some_and(|t| t <= now) {
            self.lifted = true;
            rx.nack_hold = None;
            self.hold_since = None;
            return true;
        }
        false
    }

    /// `Nack.parity_wanted` for a NACK of this stream now: the most
    /// parity any block still lacks (at least 1), or 0 to ask for plain
    /// retransmission (no pool, or a block failed its check).
    pub(crate) fn parity_wanted<const W: usize>(
        &self,
        rx: &Receiver<W>,
        pool: &Pool<'_>,
        peer: u16,
    ) -> u32 {
        if pool.slots() == 0 || self.plain_below.is_some_and(|p| p > rx.next) {
            return 0;
        }
        let k = u64::from(self.k.max(1));
        let mut most = 0u64;
        // Blocks with parity held here: what they still lack.
        let mut from = rx.next;
        for i in 0..pool.slots() {
            let Some(m) = pool.meta(i).filter(|m| m.peer == peer) else {
                continue;
            };
            let start = Seq::new(m.block);
            let missing = (0..u64::from(m.k))
                .filter(|&j| rx.is_missing(start + j) == Some(true))
                .count() as u64;
            let held = pool.of_block(peer, m.block).count() as u64;
            most = most.max(missing.saturating_sub(held));
            from = from.max_serial(start + u64::from(m.k));
        }
        // Beyond them: the holes of each block-sized run.
        let mut run = 0u64;
        let mut s = from;
        let end = rx.high_end.min_serial(rx.next + W as u64);
        while s < end {
            if rx.is_missing(s) == Some(true) {
                run += 1;
            }
            s = s.next();
            if (s.distance_from(from) as u64).is_multiple_of(k) {
                most = most.max(run);
                run = 0;
            }
        }
        most = most.max(run);
        u32::try_from(most.clamp(1, 255)).unwrap_or(255)
    }
}

/// A parity frame for `s` arrived.
pub(crate) fn on_parity<const W: usize>(
    now: Instant,
    s: &mut Stream<'_, W>,
    p: &ParityIn<'_>,
    pool: &mut Pool<'_>,
    scratch: &mut [u8],
    stats: &mut FecStats,
) {
    stats.parity_received += 1;
    let (Ok(k), Some(row)) = (u8::try_from(p.k), p.index.checked_sub(p.k)) else {
        stats.parity_dropped += 1;
        return;
    };
    let len = p.symbol.len();
    let ok = k >= 1
        && p.index < 255
        && len > 0
        && len <= pool.symbol_capacity()
        && p.lengths.len() == usize::from(k)
        && p.lengths.iter().all(|l| l as usize <= len);
    let (Ok(row), Ok(len16), true) = (u8::try_from(row), u16::try_from(len), ok) else {
        stats.parity_dropped += 1;
        return;
    };
    let start = Seq::new(p.block);
    let end = start + u64::from(k);
    if end <= s.rx.next {
        stats.parity_unneeded += 1;
        return;
    }
    if end.distance_from(s.rx.next) > W as i64 {
        // Beyond anything this receiver could hold: not trusted.
        stats.parity_dropped += 1;
        return;
    }
    s.fec.k = s.fec.k.max(k);
    if s.fec.parity_end.is_none_or(|e| end > e) {
        s.fec.parity_end = Some(end);
    }
    s.fec.lifted = false;
    s.rx.saw_end(end);
    s.fec.update_hold(s.rx, now);
    let missing = (0..u64::from(k)).any(|j| s.rx.is_missing(start + j) != Some(false));
    if !missing {
        stats.parity_unneeded += 1;
        return;
    }
    let meta = Meta {
        peer: s.peer,
        block: p.block,
        k,
        row,
        len: len16,
        crc: p.block_crc,
    };
    if !pool.insert(meta, p.lengths.iter(), p.symbol) {
        stats.parity_dropped += 1;
        return;
    }
    decode(now, s, pool, scratch, stats, p.block);
}

/// Data arrived for `s`: frees parity of blocks delivered meanwhile, and
/// retries the blocks whose parity waits here.
pub(crate) fn after_data<const W: usize>(
    now: Instant,
    s: &mut Stream<'_, W>,
    pool: &mut Pool<'_>,
    scratch: &mut [u8],
    stats: &mut FecStats,
) {
    let (peer, next) = (s.peer, s.rx.next);
    pool.free_where(|m| m.peer == peer && Seq::new(m.block) + u64::from(m.k) <= next);
    // Each block once: the first slot of each holds the lowest index.
    for i in 0..pool.slots() {
        let Some(m) = pool.meta(i).filter(|m| m.peer == peer) else {
            continue;
        };
        if pool.of_block(peer, m.block).next() == Some(i) {
            decode(now, s, pool, scratch, stats, m.block);
        }
    }
}

/// Rebuilds block `block` of `s` when enough symbols are here, checks its
/// CRC and stores the rebuilt messages.
fn decode<const W: usize>(
    now: Instant,
    s: &mut Stream<'_, W>,
    pool: &mut Pool<'_>,
    scratch: &mut [u8],
    stats: &mut FecStats,
    block: u64,
) {
    let peer = s.peer;
    let mut rows = [0u16; 255];
    let mut n = 0;
    let mut meta: Option<Meta> = None;
    let mut consistent = true;
    for i in pool.of_block(peer, block) {
        let Some(m) = pool.meta(i) else { continue };
        let first = *meta.get_or_insert(m);
        consistent &= (first.k, first.len, first.crc) == (m.k, m.len, m.crc);
        if let Some(r) = rows.get_mut(n) {
            *r = u16::try_from(i).unwrap_or(u16::MAX);
            n += 1;
        }
    }
    let Some(meta) = meta else { return };
    let drop_block = |pool: &mut Pool<'_>| pool.free_where(|m| m.peer == peer && m.block == block);
    if !consistent {
        stats.parity_dropped += n as u64;
        drop_block(pool);
        return;
    }
    let (k, len) = (usize::from(meta.k), usize::from(meta.len));
    let start = Seq::new(block);
    let mut missing = [false; 255];
    let mut e = 0;
    for (j, miss) in missing.iter_mut().enumerate().take(k) {
        match s.rx.is_missing(start + j as u64) {
            Some(true) => {
                *miss = true;
                e += 1;
            }
            Some(false) => {}
            None => return, // beyond the window: wait
        }
    }
    if e == 0 {
        drop_block(pool);
        return;
    }
    if n < e {
        return;
    }
    let slot0 = rows.first().map_or(0, |&r| usize::from(r));
    let need = k * len + decode_scratch_len(k, e);
    let Some((syms, work)) = scratch
        .get_mut(..need)
        .and_then(|b| b.split_at_mut_checked(k * len))
    else {
        stats.parity_dropped += n as u64;
        drop_block(pool);
        return;
    };
    s.scratch_used = true;
    // The symbols held here, rebuilt from the receive slots.
    for (j, chunk) in syms.chunks_exact_mut(len).enumerate().take(k) {
        if missing.get(j).copied().unwrap_or(true) {
            continue;
        }
        let written =
            s.rx.held_msg(start + j as u64, s.region, s.slots)
                .and_then(|m| symbol::write(&symbol::of(&m), chunk));
        if written.is_none() || written != pool.length(slot0, j) {
            // A slot was reused or differs: this block cannot be rebuilt here.
            stats.blocks_unusable += 1;
            fail(s, pool, peer, block, k);
            return;
        }
    }
    let mut max_row = 0;
    for &i in rows.iter().take(n) {
        if let Some(m) = pool.meta(usize::from(i)) {
            max_row = max_row.max(usize::from(m.row));
        }
    }
    let m = max_row + 1;
    let Ok(codec) = Codec::new(k, m) else {
        stats.parity_dropped += n as u64;
        drop_block(pool);
        return;
    };
    {
        let mut received: [Option<&[u8]>; 255] = [None; 255];
        let mut lost: [&mut [u8]; 255] = core::array::from_fn(|_| &mut [][..]);
        let mut nl = 0;
        for (j, chunk) in syms.chunks_exact_mut(len).enumerate().take(k) {
            if missing.get(j).copied().unwrap_or(false) {
                if let Some(l) = lost.get_mut(nl) {
                    *l = chunk;
                    nl += 1;
                }
            } else if let Some(r) = received.get_mut(j) {
                let chunk: &[u8] = chunk;
                *r = Some(chunk);
            }
        }
        for &i in rows.iter().take(n) {
            let i = usize::from(i);
            if let (Some(m), Some(sym)) = (pool.meta(i), pool.symbol(i))
                && let Some(r) = received.get_mut(k + usize::from(m.row))
            {
                *r = Some(sym);
            }
        }
        let (Some(received), Some(lost)) = (received.get(..k + m), lost.get_mut(..nl)) else {
            return;
        };
        if codec.decode(received, lost, work).is_err() {
            stats.parity_dropped += n as u64;
            drop_block(pool);
            return;
        }
    }
    // The block check: nothing rebuilt is delivered unless it matches.
    let mut crc = Crc32c::new();
    for (j, chunk) in syms.chunks_exact(len).enumerate().take(k) {
        let l = pool.length(slot0, j).unwrap_or(usize::MAX);
        match chunk.get(..l) {
            Some(b) => crc.update(b),
            None => {
                stats.crc_failures += 1;
                fail(s, pool, peer, block, k);
                return;
            }
        }
    }
    if crc.finish() != meta.crc {
        stats.crc_failures += 1;
        fail(s, pool, peer, block, k);
        return;
    }
    for (j, chunk) in syms.chunks_exact(len).enumerate().take(k) {
        if !missing.get(j).copied().unwrap_or(false) {
            continue;
        }
        let seq = start + j as u64;
        let l = pool.length(slot0, j).unwrap_or(0);
        let Some(msg) = chunk.get(..l).and_then(symbol::read) else {
            continue;
        };
        if s.rx.store(seq, &msg, s.region, s.slots, s.fragment) == Stored::New {
            stats.symbols_recovered += 1;
            s.fec.rebuilt(seq);
            if let Some(sample) = s.rx.repaired(now, seq) {
                s.rtt.sample(sample);
            }
        }
    }
    stats.blocks_recovered += 1;
    drop_block(pool);
}

/// A block failed here: its parity is dropped and its holes go to plain
/// retransmission.
fn fail<const W: usize>(
    s: &mut Stream<'_, W>,
    pool: &mut Pool<'_>,
    peer: u16,
    block: u64,
    k: usize,
) {
    pool.free_where(|m| m.peer == peer && m.block == block);
    let end = Seq::new(block) + k as u64;
    s.fec.plain_below = Some(s.fec.plain_below.map_or(end, |p| p.max_serial(end)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_estimate_slides() {
        let mut f = FecRx::default();
        assert_eq!(f.loss_ppm(), 0);
        f.observe(90, 100);
        assert_eq!(f.loss_ppm(), 0, "too few samples yet");
        f.observe(90, 100);
        assert_eq!(f.loss_ppm(), 100_000);
        for _ in 0..100 {
            f.observe(100, 100);
        }
        assert!(f.loss_ppm() < 10_000, "{}", f.loss_ppm());
    }

    #[test]
    fn hold_follows_the_block_grid_and_times_out() {
        let mut rx: Receiver<64> = Receiver::new(0, true, Seq::new(100));
        let mut f = FecRx::default();
        let t0 = Instant::from_micros(1_000);
        f.update_hold(&mut rx, t0);
        assert_eq!(rx.nack_hold, None, "no grid known yet");
        f.parity_end = Some(Seq::new(108));
        f.k = 8;
        rx.saw_end(Seq::new(111));
        f.update_hold(&mut rx, t0);
        assert_eq!(
            rx.nack_hold,
            Some(Seq::new(108)),
            "the block 108..116 waits"
        );
        rx.saw_end(Seq::new(117));
        f.update_hold(&mut rx, t0);
        assert_eq!(
            rx.nack_hold,
            Some(Seq::new(116)),
            "data past 116: 108..116 may be NACKed"
        );
        let max = Duration::from_micros(500);
        assert_eq!(f.deadline(&rx, max), Some(t0 + max));
        assert!(!f.handle_timeout(&mut rx, t0, max));
        assert!(f.handle_timeout(&mut rx, t0 + max, max));
        assert_eq!(rx.nack_hold, None);
    }
}
