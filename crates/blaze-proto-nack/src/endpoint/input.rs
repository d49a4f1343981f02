//! Input: datagrams and timeouts.

use core::net::SocketAddr;

use blaze_wire::{BatchMessages, Duration, Frame, Instant, Seq};

use super::{Endpoint, MAX_NACK_RANGES, QOS_BEST_EFFORT, QOS_RELIABLE, QOS_RELIABLE_FEC, Timer};
use crate::config::LateJoin;
use crate::event::CutReason;
use crate::fec::{self, Stream};
use crate::frames::{self, AckIn, BodyIn, DataIn, FrameIn, HeartbeatIn, MsgIn, NackIn, ParityIn};
use crate::peer::{Flow, Peer};
use crate::receiver::{Receiver, Stored};
use crate::send_window::RepairRequest;

/// Messages of a batch decoded into a buffer on the stack: a batch of
/// small messages in one datagram (about 20 of 64 bytes at the default
/// MTU) is decoded once; the messages after these are decoded a second
/// time, when used.
const DECODED: usize = 32;

impl<const PEERS: usize, const W: usize> Endpoint<'_, PEERS, W> {
    /// A datagram arrived from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        match frames::parse(datagram) {
            Ok(frame) => self.on_frame(now, from, frame),
            Err(_) => {
                self.begin_input(now);
                self.stats.drops.malformed += 1;
            }
        }
    }

    /// A datagram arrived from `from` that the caller has decoded with
    /// [`Frame::parse_deferred`] (a router reading its header): as
    /// [`handle_datagram`](Endpoint::handle_datagram) with its bytes,
    /// without decoding the header again. The batch's `messages` are
    /// decoded here, once, and all checked before anything changes.
    ///
    /// ```
    /// # use blaze_proto_nack::{Buffers, Config, Endpoint, Identity, RxSlot, SendSlot};
    /// # use blaze_wire::{Frame, GroupId, Instant, MemberId};
    /// # let mut cfg = Config::lan();
    /// # cfg.flow_window = core::num::NonZeroU32::new(16).unwrap();
    /// # let mut idx = vec![SendSlot::EMPTY; 16];
    /// # let mut out = vec![0u8; 64 * 1024];
    /// # let mut rb = vec![0u8; Buffers::recv_bytes_needed(&cfg, 2, 16)];
    /// # let mut rs = vec![RxSlot::EMPTY; Buffers::recv_slots_needed(2, 16)];
    /// # let mut asm = vec![0u8; 16 * 1024];
    /// # let ident = Identity { member: MemberId::from_u128(1), group: GroupId::from_name("g"), seed: 1 };
    /// # let bufs = Buffers { send_index: &mut idx, send_bytes: &mut out, recv_bytes: &mut rb, recv_slots: &mut rs, reassembly: &mut asm };
    /// # let mut ep = Endpoint::<2, 16>::new(Instant::ZERO, cfg, ident, bufs).unwrap();
    /// # let datagram = [0x08, 0x01];
    /// let from = "10.0.0.2:7400".parse().unwrap();
    /// if let Ok((frame, messages)) = Frame::parse_deferred(&datagram) {
    ///     ep.handle_frame(Instant::ZERO, from, frame, messages);
    /// }
    /// assert_eq!(ep.stats().datagrams_received, 1);
    /// ```
    pub fn handle_frame(
        &mut self,
        now: Instant,
        from: SocketAddr,
        frame: Frame<'_>,
        messages: BatchMessages<'_>,
    ) {
        self.on_frame(now, from, frames::view(frame, messages));
    }

    /// What every datagram does first.
    fn begin_input(&mut self, now: Instant) {
        self.deadline = None;
        self.release(now);
        self.stats.datagrams_received += 1;
    }

    fn on_frame(&mut self, now: Instant, from: SocketAddr, frame: FrameIn<'_>) {
        self.begin_input(now);
        if frame.version != frames::VERSION {
            self.stats.drops.version += 1;
            return;
        }
        if frame.group != self.group.raw() {
            self.stats.drops.wrong_group += 1;
            return;
        }
        if frame.sender == self.id {
            self.stats.drops.own += 1;
            return;
        }
        if frame.sender.is_nil() {
            self.stats.drops.malformed += 1;
            return;
        }
        if matches!(frame.body, BodyIn::Other) {
            self.stats.drops.foreign_body += 1;
            return;
        }
        // A batch's messages are decoded once, here, and all checked
        // before anything changes: a malformed one drops the whole frame.
        // Filled for a data frame only (other frames skip the zeroing).
        let mut decoded;
        let mut batch = None;
        if let BodyIn::Data(d) = &frame.body {
            decoded = [MsgIn::default(); DECODED];
            match d.decode(&mut decoded) {
                Ok((n, rest)) => batch = Some((decoded.get(..n).unwrap_or(&[]), rest)),
                Err(_) => {
                    self.stats.drops.malformed += 1;
                    return;
                }
            }
        }
        let known = self.find(frame.sender);
        let Some(i) = known.or_else(|| self.admit(frame.sender, now)) else {
            return;
        };
        if let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) {
            p.addr = Some(from);
            p.last_heard = now;
        }
        match frame.body {
            BodyIn::Data(d) => {
                if let Some((msgs, rest)) = batch {
                    self.on_data(now, i, &d, msgs.iter().copied().chain(rest));
                }
            }
            BodyIn::Nack(n) => self.on_nack(now, i, &n),
            BodyIn::Heartbeat(h) => self.on_heartbeat(now, i, &h),
            BodyIn::Ack(a) => self.on_ack(i, a),
            BodyIn::Parity(p) if cfg!(feature = "fec") => self.on_parity(now, i, &p),
            // A build without FEC cannot use parity: NACKs ask for plain
            // retransmission (`parity_wanted` 0).
            BodyIn::Parity(_) => self.fec.stats.parity_dropped += 1,
            BodyIn::Other => {}
        }
    }

    /// A data batch, whose `messages` were decoded and checked.
    fn on_data<'m>(
        &mut self,
        now: Instant,
        i: usize,
        d: &DataIn<'_>,
        messages: impl Iterator<Item = MsgIn<'m>>,
    ) {
        let reliable = match d.qos {
            QOS_RELIABLE | QOS_RELIABLE_FEC => true,
            QOS_BEST_EFFORT => false,
            _ => {
                self.stats.drops.foreign_body += 1;
                return;
            }
        };
        let frag = self.cfg.fragment_size();
        let region_len = self.cfg.recv_region_len();
        let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let first = Seq::new(d.first_seq);
        let ws = Seq::new(d.window_start);
        if let Some(r) = self.receiving.get_mut(i) {
            *r = true;
        }
        let rx = p.rx.get_or_insert_with(|| {
            let next = match self.cfg.late_join {
                LateJoin::Oldest if reliable && ws <= first => ws,
                _ => first,
            };
            Receiver::new(d.stream, reliable, next)
        });
        if rx.stream != d.stream {
            self.stats.drops.unknown_stream += 1;
            return;
        }
        rx.reliable = reliable;
        rx.stats.datagrams += 1;
        rx.saw_window_start(ws);
        let (Some(region), Some(slots)) = (
            self.recv_bytes
                .get_mut(i * region_len..(i + 1) * region_len),
            self.recv_slots.get_mut(i * W..(i + 1) * W),
        ) else {
            return;
        };
        let high_before = rx.high_end;
        let mut originals = 0u32;
        for (k, m) in messages.enumerate() {
            let seq = first + k as u64;
            let stored = rx.store(seq, &m, region, slots, frag);
            // A first transmission overtaken by parity still arrived.
            if !d.repair
                && (stored == Stored::New || stored == Stored::Duplicate && p.fec.take_rebuilt(seq))
            {
                originals += 1;
            }
            if stored == Stored::New
                && d.repair
                && let Some(sample) = rx.repaired(now, seq)
            {
                p.rtt.sample(sample);
            }
        }
        p.fec.active = cfg!(feature = "fec") && d.qos == QOS_RELIABLE_FEC;
        if p.fec.active {
            let advance = u32::try_from(rx.high_end.distance_from(high_before)).unwrap_or(0);
            p.fec.observe(originals, advance);
            p.fec.update_hold(rx, now);
            let Peer { rx, fec, rtt, .. } = p;
            if let Some(rx) = rx.as_mut() {
                let mut s = Stream {
                    rx,
                    fec,
                    rtt,
                    region,
                    slots,
                    fragment: frag,
                    peer: u16::try_from(i).unwrap_or(u16::MAX),
                    scratch_used: false,
                };
                fec::after_data(
                    now,
                    &mut s,
                    &mut self.fec.pool,
                    self.fec.scratch,
                    &mut self.fec.stats,
                );
                if s.scratch_used {
                    self.fec.encoder.scratch_lent();
                }
            }
        }
        if let Some(rx) = p.rx.as_mut() {
            rx.schedule_nack(now, &p.rtt, &self.cfg, &mut self.rng);
        }
    }

    fn on_parity(&mut self, now: Instant, i: usize, par: &ParityIn<'_>) {
        let frag = self.cfg.fragment_size();
        let region_len = self.cfg.recv_region_len();
        let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        let (Some(region), Some(slots)) = (
            self.recv_bytes
                .get_mut(i * region_len..(i + 1) * region_len),
            self.recv_slots.get_mut(i * W..(i + 1) * W),
        ) else {
            return;
        };
        let Peer { rx, fec, rtt, .. } = p;
        // Parity before any data: the stream is learnt from its data.
        let Some(rx) = rx
            .as_mut()
            .filter(|rx| rx.stream == par.stream && rx.reliable)
        else {
            self.fec.stats.parity_dropped += 1;
            return;
        };
        let mut s = Stream {
            rx,
            fec,
            rtt,
            region,
            slots,
            fragment: frag,
            peer: u16::try_from(i).unwrap_or(u16::MAX),
            scratch_used: false,
        };
        fec::on_parity(
            now,
            &mut s,
            par,
            &mut self.fec.pool,
            self.fec.scratch,
            &mut self.fec.stats,
        );
        if s.scratch_used {
            self.fec.encoder.scratch_lent();
        }
        s.rx.schedule_nack(now, s.rtt, &self.cfg, &mut self.rng);
    }

    fn on_nack(&mut self, now: Instant, i: usize, n: &NackIn<'_>) {
        let Some(target) = n.target else {
            self.stats.drops.malformed += 1;
            return;
        };
        if target == self.id {
            if n.stream != self.cfg.stream {
                self.stats.drops.unknown_stream += 1;
                return;
            }
            self.stats.send.nacks_received += 1;
            if !self.reliable() {
                return;
            }
            let rtt = self
                .peers
                .get(i)
                .and_then(Option::as_ref)
                .map_or(self.cfg.initial_rtt, |p| p.rtt.srtt());
            let mut tally = self.fec_nack_begin(n);
            for (a, b) in n.ranges() {
                let (mut a, mut b) = (Seq::new(a), Seq::new(b));
                if b < a {
                    self.stats.drops.invalid_seq += 1;
                    continue;
                }
                if a < self.window.start() {
                    self.stats.send.nacks_unrecoverable += 1;
                    self.hb_pending = true;
                    a = self.window.start();
                }
                let next_send = self.window.next_send();
                if b >= next_send {
                    if a >= next_send {
                        self.stats.drops.invalid_seq += 1;
                        continue;
                    }
                    b = next_send.prev();
                }
                if a > b {
                    continue;
                }
                let count = b.distance_from(a) as u64 + 1;
                for k in 0..count {
                    if self.fec_nack_seq(&mut tally, a + k) {
                        continue;
                    }
                    if self.window.request_repair(a + k, now, rtt) == RepairRequest::Ignored {
                        self.stats.send.nacks_ignored += 1;
                    }
                }
            }
            self.fec_nack_end(&tally, n, now, rtt);
            return;
        }
        // Someone else's NACK for a stream we also receive: suppression.
        let Some(j) = self.find(target) else { return };
        if let Some(p) = self.peers.get_mut(j).and_then(Option::as_mut)
            && let Some(rx) = p.rx.as_mut().filter(|rx| rx.stream == n.stream)
        {
            let mut ranges = [(0u64, 0u64); MAX_NACK_RANGES];
            let mut k = 0;
            for (slot, r) in ranges.iter_mut().zip(n.ranges()) {
                *slot = r;
                k += 1;
            }
            let ranges = ranges.get(..k).unwrap_or(&[]);
            rx.overheard_nack(now, &p.rtt, &self.cfg, ranges.iter().copied());
        }
    }

    fn on_heartbeat(&mut self, now: Instant, i: usize, h: &HeartbeatIn<'_>) {
        let late_join = self.cfg.late_join;
        let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        if h.timestamp_us != 0 {
            p.echo = Some((h.timestamp_us, now));
        }
        if h.echo_to == Some(self.id) && h.echo_timestamp_us != 0 {
            let rtt = now
                .total_micros()
                .checked_sub(h.echo_timestamp_us)
                .and_then(|d| d.checked_sub(h.echo_delay_us));
            if let Some(rtt) = rtt {
                p.rtt.sample(Duration::from_micros(rtt));
            }
        }
        for mark in h.marks() {
            if let Some(r) = self.receiving.get_mut(i) {
                *r = true;
            }
            let ws = Seq::new(mark.window_start);
            let high_end = Seq::new(mark.high_seq).next();
            let rx = p.rx.get_or_insert_with(|| {
                let next = match late_join {
                    LateJoin::Oldest => ws,
                    _ if mark.empty => ws,
                    _ => high_end,
                };
                Receiver::new(mark.stream, true, next)
            });
            if rx.stream != mark.stream {
                self.stats.drops.unknown_stream += 1;
                continue;
            }
            if !mark.empty {
                rx.saw_end(high_end);
            }
            rx.saw_window_start(ws);
            rx.maybe_reack(now, ws, &p.rtt, &self.cfg);
            rx.schedule_nack(now, &p.rtt, &self.cfg, &mut self.rng);
        }
    }

    fn on_ack(&mut self, i: usize, a: AckIn) {
        if a.target != Some(self.id) || a.stream != self.cfg.stream {
            self.stats.drops.unknown_stream += 1;
            return;
        }
        if !self.reliable() {
            return;
        }
        let seq = Seq::new(a.next_seq);
        let (start, next_send) = (self.window.start(), self.window.next_send());
        if seq > next_send {
            self.stats.drops.invalid_seq += 1;
            return;
        }
        self.stats.send.acks_received += 1;
        let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
            return;
        };
        p.flow = match p.flow {
            Flow::Untracked => Flow::Tracking {
                next: seq.max_serial(start),
            },
            Flow::Released if seq >= start => Flow::Tracking { next: seq },
            Flow::Released => Flow::Released,
            Flow::Tracking { next } => Flow::Tracking {
                next: next.max_serial(seq),
            },
        };
    }

    /// A deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.deadline = None;
        self.release(now);
        for (k, t) in self.timers.iter_mut().enumerate() {
            if t.is_some_and(|t| t <= now) {
                *t = None;
                if k == Timer::Heartbeat as usize {
                    self.hb_pending = true;
                }
            }
        }
        let next_send = self.window.next_send();
        let timeout = self.cfg.peer_timeout;
        for i in 0..PEERS {
            let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if let Some(rx) = p.rx.as_mut() {
                rx.handle_timeout(now);
                let hold_max = self.cfg.heartbeat_interval + p.rtt.timeout(self.cfg.min_timeout);
                if cfg!(feature = "fec") && p.fec.handle_timeout(rx, now, hold_max) {
                    rx.schedule_nack(now, &p.rtt, &self.cfg, &mut self.rng);
                }
            }
            if p.tracking().is_some_and(|n| n < next_send) && now >= p.last_heard + timeout {
                self.cut(i, CutReason::Silent);
            }
        }
    }
}
