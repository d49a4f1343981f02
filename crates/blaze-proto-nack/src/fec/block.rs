//! The sender's table of blocks: which sequence numbers form each block,
//! its symbol length and CRC, and how much parity it owes.
#![cfg_attr(
    not(feature = "fec"),
    allow(
        clippy::modulo_one,
        reason = "tables of one entry without the fec feature"
    )
)]

use blaze_wire::{Duration, Instant, Seq};

use crate::fec::FecConfig;

/// Closed blocks remembered; an older block is forgotten (its NACKs are
/// then answered by retransmission). One without the `fec` feature (no
/// block is ever opened then): the table costs no RAM.
pub(crate) const MAX_BLOCKS: usize = if cfg!(feature = "fec") { 64 } else { 1 };

/// One closed block of the local stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    /// Sequence number of the first data symbol.
    pub(crate) start: Seq,
    /// Data symbols.
    pub(crate) k: u8,
    /// Symbol length; 0 when the block cannot carry parity (its symbols
    /// do not fit the scratch or a datagram).
    pub(crate) len: u16,
    /// CRC-32C of the unpadded data symbols.
    pub(crate) crc: u32,
    /// Parity rows sent so far (the next row is fresh).
    pub(crate) sent: u8,
    /// Rows still to send.
    pub(crate) pending: u8,
    /// The pending rows are proactive (else they answer NACKs).
    pub(crate) proactive: bool,
    /// Rows granted in the current on-demand round, and when it began.
    pub(crate) round: u8,
    pub(crate) round_at: Option<Instant>,
    /// Some NACK named this block.
    pub(crate) nacked: bool,
}

impl Block {
    /// True when `seq` belongs to the block.
    pub(crate) fn contains(&self, seq: Seq) -> bool {
        seq >= self.start && seq.distance_from(self.start) < i64::from(self.k)
    }

    /// The most parity rows a block of `k` can have.
    pub(crate) fn capacity(&self) -> u8 {
        FecConfig::parity_capacity(self.k)
    }

    /// A receiver asked for `need` rows. Within one RTT of the round's
    /// start only the excess over the round is added (one repair heals the
    /// largest loss, and every smaller one). Returns false when the block
    /// cannot give that many more rows (the caller retransmits instead).
    pub(crate) fn request(&mut self, need: u8, now: Instant, rtt: Duration) -> bool {
        self.nacked = true;
        if self.len == 0 {
            return false;
        }
        let in_round = self.round_at.is_some_and(|t| now < t + rtt);
        let add = if in_round {
            need.saturating_sub(self.round)
        } else {
            need.saturating_sub(self.pending)
        };
        let room = self
            .capacity()
            .saturating_sub(self.sent)
            .saturating_sub(self.pending);
        if add > room {
            return false;
        }
        if in_round {
            self.round = self.round.max(need);
        } else {
            self.round = need;
            self.round_at = Some(now);
        }
        if add > 0 {
            self.proactive = false;
            self.pending += add;
        }
        true
    }
}

/// The table: a ring of closed blocks, oldest first, and the open block.
#[derive(Debug, Clone)]
pub(crate) struct Blocks {
    recs: [Option<Block>; MAX_BLOCKS],
    head: usize,
    len: usize,
    /// The block being filled: first sequence number and count sent.
    open: Option<(Seq, u32)>,
}

impl Default for Blocks {
    fn default() -> Self {
        Blocks {
            recs: [None; MAX_BLOCKS],
            head: 0,
            len: 0,
            open: None,
        }
    }
}

impl Blocks {
    /// Records `n` data sequence numbers sent from `first`.
    pub(crate) fn sent(&mut self, first: Seq, n: usize) {
        let (start, count) = self.open.unwrap_or((first, 0));
        self.open = Some((start, count.saturating_add(n as u32)));
    }

    /// The next block to close: a full one (`k` sent), or with `force`
    /// whatever the open block holds. The caller closes it with `push`.
    pub(crate) fn take_closable(&mut self, k: u8, force: bool) -> Option<(Seq, u8)> {
        let (start, count) = self.open?;
        if count == 0 {
            self.open = None;
            return None;
        }
        let k32 = u32::from(k.max(1));
        if count < k32 && !force {
            return None;
        }
        let take = count.min(k32);
        let rest = count - take;
        self.open = (rest > 0).then_some((start + u64::from(take), rest));
        Some((start, u8::try_from(take).unwrap_or(u8::MAX)))
    }

    /// True when a block is being filled.
    pub(crate) fn has_open(&self) -> bool {
        self.open.is_some_and(|(_, c)| c > 0)
    }

    /// True when `seq` is in the open block.
    pub(crate) fn in_open(&self, seq: Seq) -> bool {
        self.open
            .is_some_and(|(s, c)| seq >= s && seq.distance_from(s) < i64::from(c))
    }

    /// Adds a closed block, forgetting the oldest when full.
    pub(crate) fn push(&mut self, b: Block) {
        if self.len == MAX_BLOCKS {
            self.pop();
        }
        let i = (self.head + self.len) % MAX_BLOCKS;
        if let Some(r) = self.recs.get_mut(i) {
            *r = Some(b);
        }
        self.len += 1;
    }

    fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        if let Some(r) = self.recs.get_mut(self.head) {
            *r = None;
        }
        self.head = (self.head + 1) % MAX_BLOCKS;
        self.len -= 1;
    }

    /// Forgets blocks whose data the window no longer holds.
    pub(crate) fn drop_below(&mut self, window_start: Seq) {
        while let Some(b) = self.recs.get(self.head).copied().flatten() {
            if b.start >= window_start || self.len == 0 {
                break;
            }
            self.pop();
        }
        if let Some((s, c)) = self.open
            && s < window_start
        {
            let gone = u32::try_from(window_start.distance_from(s)).unwrap_or(u32::MAX);
            self.open = (c > gone).then(|| (window_start, c - gone));
        }
    }

    /// Position (in the ring) of the block holding `seq`.
    pub(crate) fn find(&self, seq: Seq) -> Option<usize> {
        (0..self.len)
            .map(|i| (self.head + i) % MAX_BLOCKS)
            .find(|&i| {
                self.recs
                    .get(i)
                    .copied()
                    .flatten()
                    .is_some_and(|b| b.contains(seq))
            })
    }

    pub(crate) fn get_mut(&mut self, pos: usize) -> Option<&mut Block> {
        self.recs.get_mut(pos).and_then(Option::as_mut)
    }

    /// The oldest block with parity to send, and its position.
    pub(crate) fn next_pending(&self) -> Option<(usize, Block)> {
        (0..self.len)
            .map(|i| (self.head + i) % MAX_BLOCKS)
            .find_map(|i| {
                let b = self.recs.get(i).copied().flatten()?;
                (b.pending > 0).then_some((i, b))
            })
    }

    /// Forgets everything (the stream restarted).
    pub(crate) fn clear(&mut self) {
        *self = Blocks::default();
    }
}

/// The proactive parity for a loss rate of `loss_ppm`: the expected
/// losses `k p` of a block plus three standard deviations (`3 sqrt(k p)`,
/// Poisson), rounded up, within the configured bounds (fixed when not
/// adaptive). Three deviations keep the share of blocks that some
/// receiver must NACK small even with several receivers.
pub(crate) fn proactive_parity(cfg: &FecConfig, loss_ppm: u32) -> u8 {
    if !cfg.adaptive {
        return cfg.parity;
    }
    // In millionths of a symbol.
    let mean = u64::from(cfg.k) * u64::from(loss_ppm.min(1_000_000));
    let sd = (mean * 1_000_000).isqrt();
    let want = (mean + 3 * sd).div_ceil(1_000_000);
    u8::try_from(want)
        .unwrap_or(u8::MAX)
        .clamp(cfg.min_parity, cfg.max_parity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(start: u64, k: u8) -> Block {
        Block {
            start: Seq::new(start),
            k,
            len: 10,
            crc: 0,
            sent: 0,
            pending: 0,
            proactive: true,
            round: 0,
            round_at: None,
            nacked: false,
        }
    }

    #[test]
    fn open_blocks_close_at_k_or_when_forced() {
        let mut b = Blocks::default();
        b.sent(Seq::new(u64::MAX - 2), 5);
        assert_eq!(b.take_closable(4, false), Some((Seq::new(u64::MAX - 2), 4)));
        assert_eq!(b.take_closable(4, false), None);
        assert!(b.in_open(Seq::new(1)));
        assert_eq!(b.take_closable(4, true), Some((Seq::new(1), 1)));
        assert_eq!(b.take_closable(4, true), None);
    }

    #[test]
    fn rounds_grant_the_largest_need() {
        let t = Instant::from_micros(1000);
        let rtt = Duration::from_micros(100);
        let mut b = block(0, 16);
        assert!(b.request(3, t, rtt));
        assert_eq!(b.pending, 3);
        assert!(
            b.request(2, t, rtt),
            "smaller loss: healed by the same rows"
        );
        assert_eq!(b.pending, 3);
        assert!(b.request(5, t, rtt));
        assert_eq!(b.pending, 5);
        b.sent = 5;
        b.pending = 0;
        assert!(b.request(2, t + rtt, rtt), "a new round");
        assert_eq!(b.pending, 2);
        let mut full = block(0, 250);
        assert!(!full.request(6, t, rtt), "only 5 rows exist");
    }

    #[test]
    #[cfg(feature = "fec")]
    fn ring_forgets_the_oldest_and_evicted() {
        let mut b = Blocks::default();
        for i in 0..(MAX_BLOCKS as u64 + 2) {
            b.push(block(i * 4, 4));
        }
        assert_eq!(b.find(Seq::new(0)), None);
        assert!(b.find(Seq::new(9)).is_some());
        b.drop_below(Seq::new(20));
        assert_eq!(b.find(Seq::new(16)), None);
        assert!(b.find(Seq::new(21)).is_some());
    }

    #[test]
    fn adaptive_parity_follows_loss() {
        let cfg = FecConfig::adaptive(16, 1, 8);
        assert_eq!(proactive_parity(&cfg, 0), 1);
        // 0.16 + 3 * 0.4 = 1.36
        assert_eq!(proactive_parity(&cfg, 10_000), 2);
        // 0.8 + 3 * 0.89 = 3.48
        assert_eq!(proactive_parity(&cfg, 50_000), 4);
        // 1.6 + 3 * 1.26 = 5.39
        assert_eq!(proactive_parity(&cfg, 100_000), 6);
        assert_eq!(proactive_parity(&cfg, 300_000), 8);
        assert_eq!(proactive_parity(&FecConfig::proactive(16, 4), 300_000), 4);
    }
}
