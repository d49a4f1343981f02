//! The FEC side of the endpoint: NACKs answered with parity, parity
//! frames out, blocks closed as data goes out.

use blaze_wire::{Destination, Duration, Instant, Seq, Transmit};

use super::{Endpoint, Timer};
use crate::fec::MAX_BLOCKS;
use crate::frames::{Envelope, NackIn};
use crate::send_window::RepairRequest;

/// Sequence numbers of one NACK per block (by ring position).
pub(super) struct Tally {
    counts: [u8; MAX_BLOCKS],
    on: bool,
}

impl<const PEERS: usize, const W: usize> Endpoint<'_, PEERS, W> {
    /// A NACK for the local stream arrived: notes its loss report.
    pub(super) fn fec_nack_begin(&mut self, n: &NackIn<'_>) -> Tally {
        let on = self.cfg.fec_shape().is_some();
        if on {
            self.fec.encoder.report(n.loss_ppm);
        }
        Tally {
            counts: [0; MAX_BLOCKS],
            on,
        }
    }

    /// Counts a NACKed `seq` against its block; false when it is not in a
    /// block (plain retransmission).
    pub(super) fn fec_nack_seq(&mut self, t: &mut Tally, seq: Seq) -> bool {
        let (true, Some(f)) = (t.on, self.cfg.fec_shape()) else {
            return false;
        };
        let enc = &mut self.fec.encoder;
        if enc.blocks.in_open(seq) {
            // A NACK into the block being filled: close it now.
            enc.close(
                &f,
                &self.window,
                self.fec.scratch,
                true,
                &mut self.fec.stats,
            );
        }
        let Some(pos) = self.fec.encoder.blocks.find(seq) else {
            return false;
        };
        if let Some(c) = t.counts.get_mut(pos) {
            *c = c.saturating_add(1);
        }
        true
    }

    /// Answers the NACKed blocks: with new parity rows, as many as the
    /// receiver lacks (within one round: only the excess), or by
    /// retransmitting what the NACK named when the block has no rows
    /// left or the receiver asked for plain repair.
    pub(super) fn fec_nack_end(&mut self, t: &Tally, n: &NackIn<'_>, now: Instant, rtt: Duration) {
        let wanted = u8::try_from(n.parity_wanted).unwrap_or(u8::MAX);
        for (pos, &count) in t.counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let Some(b) = self.fec.encoder.blocks.get_mut(pos) else {
                continue;
            };
            if !b.nacked {
                self.fec.stats.blocks_nacked += 1;
            }
            b.nacked = true;
            let held = b.start >= self.window.start();
            if held && wanted > 0 && b.request(count.min(wanted), now, rtt) {
                self.fec.stats.nacked_seqs_to_parity += u64::from(count);
                continue;
            }
            let (start, end) = (b.start, b.start + u64::from(b.k));
            for (a, z) in n.ranges() {
                let a = Seq::new(a).max_serial(start);
                let z = Seq::new(z).next().min_serial(end);
                let mut s = a;
                while s < z {
                    if self.window.request_repair(s, now, rtt) == RepairRequest::Ignored {
                        self.stats.send.nacks_ignored += 1;
                    }
                    s = s.next();
                }
            }
        }
    }

    /// `n` data sequence numbers from `first` went out: full blocks close.
    pub(super) fn fec_sent(&mut self, first: Seq, n: usize) {
        let Some(f) = self.cfg.fec_shape() else {
            return;
        };
        self.fec.encoder.blocks.sent(first, n);
        self.fec.encoder.close(
            &f,
            &self.window,
            self.fec.scratch,
            false,
            &mut self.fec.stats,
        );
    }

    /// The stream went idle: the partial block closes (its parity covers
    /// the tail).
    pub(super) fn fec_idle(&mut self) {
        let Some(f) = self.cfg.fec_shape() else {
            return;
        };
        self.fec.encoder.close(
            &f,
            &self.window,
            self.fec.scratch,
            true,
            &mut self.fec.stats,
        );
    }

    /// The next parity frame of the local stream.
    pub(super) fn transmit_parity(
        &mut self,
        now: Instant,
        env: &Envelope,
        out: &mut [u8],
    ) -> Option<Transmit> {
        self.cfg.fec_shape()?;
        let (pos, len, proactive) =
            self.fec
                .encoder
                .prepare(&self.window, self.fec.scratch, env, self.cfg.stream, out)?;
        let cost = len as u64;
        if !proactive && !self.repair_bucket.try_take(now, cost) {
            let at = self.repair_bucket.ready_at(now, cost);
            self.set_timer(Timer::Repair, Some(at));
            return None;
        }
        if let Some(b) = self.data_bucket.as_mut()
            && !b.try_take(now, cost)
        {
            let at = b.ready_at(now, cost);
            self.set_timer(Timer::Pace, Some(at));
            return None;
        }
        self.fec.encoder.commit(pos);
        if proactive {
            self.fec.stats.proactive_parity += 1;
        } else {
            self.fec.stats.on_demand_parity += 1;
        }
        Some(Transmit {
            to: Destination::Group,
            len,
        })
    }

    /// A loss report, alone, to the sender of an FEC stream that has not
    /// needed a NACK for a while (so that adaptive parity can follow the
    /// loss that parity healed silently).
    pub(super) fn transmit_loss_report(
        &mut self,
        env: &Envelope,
        out: &mut [u8],
    ) -> Option<Transmit> {
        let i = (0..PEERS).find(|&i| {
            self.peers
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|p| p.addr.is_some() && p.rx.is_some() && p.fec.report_due())
        })?;
        let loss = self.fec_nack_fields(i).1;
        let p = self.peers.get_mut(i).and_then(Option::as_mut)?;
        let (addr, stream) = (p.addr?, p.rx.as_ref()?.stream);
        p.fec.reported();
        let len = env.emit_nack(out, p.id, stream, &[], (0, loss)).ok()?;
        self.fec.stats.loss_reports += 1;
        Some(Transmit {
            to: Destination::Peer(addr),
            len,
        })
    }

    /// `(parity_wanted, loss_ppm)` for a NACK of peer `i`'s stream.
    pub(super) fn fec_nack_fields(&self, i: usize) -> (u32, u32) {
        let Some(p) = self.peers.get(i).and_then(Option::as_ref) else {
            return (0, 0);
        };
        match &p.rx {
            Some(rx) if cfg!(feature = "fec") && p.fec.active => (
                p.fec
                    .parity_wanted(rx, &self.fec.pool, u16::try_from(i).unwrap_or(u16::MAX)),
                p.fec.loss_ppm(),
            ),
            _ => (0, 0),
        }
    }
}
