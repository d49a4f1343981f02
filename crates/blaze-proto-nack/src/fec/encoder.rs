//! The sending side: closing blocks, and parity symbols into frames.

use blaze_fec::{Codec, Crc32c};
use blaze_wire::{Message, Parity, Repeated, Seq};

use crate::fec::block::{Block, Blocks, proactive_parity};
use crate::fec::{FecConfig, FecStats, symbol};
use crate::frames::{Envelope, MsgIn, MsgOut};
use crate::send_window::{Held, SendWindow};

/// The sender's FEC state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Encoder {
    pub(crate) blocks: Blocks,
    /// The block whose symbols sit in the scratch: `(start, k, len)`.
    gathered: Option<(Seq, u8, u16)>,
    /// Largest loss (ppm) reported in the current and the previous
    /// window of [`LOSS_WINDOW`] blocks.
    loss_now: u32,
    loss_prev: u32,
    window_blocks: u32,
}

/// Blocks per window of loss reports: the estimate is the largest report
/// of the last one to two windows.
const LOSS_WINDOW: u32 = 32;

fn msg_of<'b>(h: &Held<'b>) -> MsgOut<'b> {
    symbol::of(&MsgIn {
        topic: h.topic,
        payload: h.payload,
        fragment_index: h.fragment_index,
        fragment_count: h.fragment_count,
        total_len: h.total_len,
    })
}

impl Encoder {
    /// Forgets the cached symbols (the scratch is used by the decoder).
    pub(crate) fn scratch_lent(&mut self) {
        self.gathered = None;
    }

    /// A receiver reported its loss rate.
    pub(crate) fn report(&mut self, loss_ppm: u32) {
        self.loss_now = self.loss_now.max(loss_ppm.min(1_000_000));
    }

    /// The loss estimate (ppm).
    fn loss_ppm(&self) -> u32 {
        self.loss_now.max(self.loss_prev)
    }

    /// The current proactive parity per block.
    pub(crate) fn parity(&self, cfg: &FecConfig) -> u8 {
        proactive_parity(cfg, self.loss_ppm())
    }

    /// Writes the `k` symbols of the block at `start` into the scratch:
    /// `(len, crc)`, `None` when they do not fit.
    fn gather(
        &mut self,
        window: &SendWindow<'_>,
        scratch: &mut [u8],
        start: Seq,
        k: u8,
    ) -> Option<(u16, u32)> {
        self.gathered = None;
        let mut len = 0;
        for j in 0..u64::from(k) {
            len = len.max(msg_of(&window.get(start + j)?).encoded_len());
        }
        let len16 = u16::try_from(len).ok()?;
        if len == 0 || (usize::from(k) + 1).checked_mul(len)? > scratch.len() {
            return None;
        }
        let mut crc = Crc32c::new();
        for (j, chunk) in scratch
            .chunks_exact_mut(len)
            .take(usize::from(k))
            .enumerate()
        {
            let h = window.get(start + j as u64)?;
            let n = symbol::write(&msg_of(&h), chunk)?;
            crc.update(chunk.get(..n)?);
        }
        self.gathered = Some((start, k, len16));
        Some((len16, crc.finish()))
    }

    /// Closes the blocks that are due (`force`: also the partial open
    /// one), queueing their proactive parity.
    pub(crate) fn close(
        &mut self,
        cfg: &FecConfig,
        window: &SendWindow<'_>,
        scratch: &mut [u8],
        force: bool,
        stats: &mut FecStats,
    ) {
        while let Some((start, k)) = self.blocks.take_closable(cfg.k, force) {
            let (len, crc) = self.gather(window, scratch, start, k).unwrap_or((0, 0));
            let parity = if len == 0 { 0 } else { self.parity(cfg) };
            self.blocks.push(Block {
                start,
                k,
                len,
                crc,
                sent: 0,
                pending: parity.min(FecConfig::parity_capacity(k)),
                proactive: true,
                round: 0,
                round_at: None,
                nacked: false,
            });
            stats.blocks += 1;
            stats.current_parity = u64::from(parity);
            // Reports age out: a window without any lowers the estimate.
            self.window_blocks += 1;
            if self.window_blocks >= LOSS_WINDOW {
                self.loss_prev = self.loss_now;
                self.loss_now = 0;
                self.window_blocks = 0;
            }
        }
    }

    /// Writes the next parity frame into `out`: `(position, len,
    /// proactive)`. Nothing is committed until [`Encoder::commit`].
    pub(crate) fn prepare(
        &mut self,
        window: &SendWindow<'_>,
        scratch: &mut [u8],
        env: &Envelope,
        stream: u32,
        out: &mut [u8],
    ) -> Option<(usize, usize, bool)> {
        self.blocks.drop_below(window.start());
        loop {
            let (pos, b) = self.blocks.next_pending()?;
            match self.write(window, scratch, env, stream, out, &b) {
                Some(len) => return Some((pos, len, b.proactive)),
                None => {
                    // Cannot be served with parity: NACKs retransmit.
                    if let Some(b) = self.blocks.get_mut(pos) {
                        b.pending = 0;
                        b.len = 0;
                    }
                }
            }
        }
    }

    fn write(
        &mut self,
        window: &SendWindow<'_>,
        scratch: &mut [u8],
        env: &Envelope,
        stream: u32,
        out: &mut [u8],
        b: &Block,
    ) -> Option<usize> {
        if b.len == 0 || b.start < window.start() {
            return None;
        }
        let (k, len) = (usize::from(b.k), usize::from(b.len));
        if self.gathered != Some((b.start, b.k, b.len)) {
            let (l, crc) = self.gather(window, scratch, b.start, b.k)?;
            if l != b.len || crc != b.crc {
                return None;
            }
        }
        let mut lengths = [0u32; 255];
        for (j, l) in lengths.iter_mut().take(k).enumerate() {
            *l = u32::try_from(msg_of(&window.get(b.start + j as u64)?).encoded_len()).ok()?;
        }
        let (data, rest) = scratch.split_at_mut_checked(k * len)?;
        let out_sym = rest.get_mut(..len)?;
        let mut syms: [&[u8]; 255] = [&[]; 255];
        for (s, chunk) in syms.iter_mut().zip(data.chunks_exact(len)) {
            *s = chunk;
        }
        let codec = Codec::new(k, usize::from(b.capacity())).ok()?;
        codec
            .encode_one(usize::from(b.sent), syms.get(..k)?, out_sym)
            .ok()?;
        let p = Parity {
            stream,
            block: b.start.raw(),
            k: u32::from(b.k),
            m: u32::from(b.capacity()),
            index: u32::from(b.k) + u32::from(b.sent),
            symbol: out_sym,
            lengths: Repeated::from_slice(lengths.get(..k)?),
            block_crc: b.crc,
        };
        if env.parity_len(&p) > out.len() {
            return None;
        }
        env.emit_parity(out, &p).ok()
    }

    /// The frame prepared for `pos` went out.
    pub(crate) fn commit(&mut self, pos: usize) {
        if let Some(b) = self.blocks.get_mut(pos) {
            b.sent = b.sent.saturating_add(1);
            b.pending = b.pending.saturating_sub(1);
        }
    }

    /// Forgets every block (the stream restarted).
    pub(crate) fn clear(&mut self) {
        self.blocks.clear();
        self.gathered = None;
    }
}
