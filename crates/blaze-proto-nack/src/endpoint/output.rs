//! Output: datagrams to send and the next deadline.

use blaze_wire::{Destination, Instant, Seq, SeqRange, Transmit};

use super::{
    Endpoint, MAX_BATCH, MAX_NACK_RANGES, QOS_BEST_EFFORT, QOS_RELIABLE, QOS_RELIABLE_FEC, Timer,
    earliest,
};
use crate::frames::{self, AckOut, DataOut, Envelope, HeartbeatOut, MarkOut, MsgOut};
use crate::send_window::{Held, SendWindow};

impl<const PEERS: usize, const W: usize> Endpoint<'_, PEERS, W> {
    /// The next deadline, for [`handle_timeout`](Self::handle_timeout).
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if let Some(deadline) = self.deadline {
            return deadline;
        }
        let next_send = self.window.next_send();
        let timeout = self.cfg.peer_timeout;
        let mut best = None;
        for &t in &self.timers {
            best = earliest(best, t);
        }
        for p in self.live_peers() {
            if let Some(rx) = &p.rx {
                best = earliest(best, rx.next_timeout());
                let hold_max = self.cfg.heartbeat_interval + p.rtt.timeout(self.cfg.min_timeout);
                best = earliest(best, p.fec.deadline(rx, hold_max));
            }
            if p.tracking().is_some_and(|n| n < next_send) {
                best = earliest(best, Some(p.last_heard + timeout));
            }
        }
        self.deadline = Some(best);
        best
    }

    /// The next datagram to send, written at the start of `buf` (at least
    /// `mtu` bytes). Call until `None`.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.deadline = None;
        self.release(now);
        let mtu = buf.len().min(usize::from(self.cfg.mtu.get()));
        let out = buf.get_mut(..mtu)?;
        let env = Envelope {
            group: self.group.raw(),
            sender: self.id,
        };
        let t = self
            .transmit_ack(now, &env, out)
            .or_else(|| self.transmit_nack(now, &env, out))
            .or_else(|| self.transmit_loss_report(&env, out))
            .or_else(|| self.transmit_repair(now, &env, out))
            .or_else(|| self.transmit_parity(now, &env, out))
            .or_else(|| self.transmit_data(now, &env, out))
            .or_else(|| self.transmit_heartbeat(now, &env, out));
        if t.is_some() {
            self.stats.datagrams_sent += 1;
        }
        t
    }

    fn transmit_ack(&mut self, now: Instant, env: &Envelope, out: &mut [u8]) -> Option<Transmit> {
        for p in self.peers.iter_mut().flatten() {
            let (Some(addr), Some(rx)) = (p.addr, p.rx.as_mut()) else {
                continue;
            };
            if !rx.wants_ack() {
                continue;
            }
            let stream = rx.stream;
            let next = rx.take_ack(now)?;
            let ack = AckOut {
                target: p.id,
                next_seq: next.raw(),
                stream,
            };
            let len = env.emit_ack(out, &ack).ok()?;
            return Some(Transmit {
                to: Destination::Peer(addr),
                len,
            });
        }
        None
    }

    fn transmit_nack(&mut self, now: Instant, env: &Envelope, out: &mut [u8]) -> Option<Transmit> {
        let mtu = out.len();
        for i in 0..PEERS {
            if !self
                .peers
                .get(i)
                .and_then(Option::as_ref)
                .and_then(|p| p.rx.as_ref())
                .is_some_and(|rx| rx.wants_nack())
            {
                continue;
            }
            let fec = self.fec_nack_fields(i);
            let Some(p) = self.peers.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            let Some(rx) = p.rx.as_mut() else { continue };
            let stream = rx.stream;
            let mut ranges = [(0u64, 0u64); MAX_NACK_RANGES];
            let mut size = env.nack_len(p.id, stream, &[]);
            let n = rx.take_nack(now, &p.rtt, &self.cfg, &mut ranges, |r| {
                size += frames::nack_range_share(r);
                size <= mtu
            });
            if n == 0 {
                continue;
            }
            let mut wire = [SeqRange::default(); MAX_NACK_RANGES];
            for (w, r) in wire.iter_mut().zip(ranges.get(..n)?) {
                *w = SeqRange {
                    start: r.0,
                    end: r.1,
                };
            }
            let len = env.emit_nack(out, p.id, stream, wire.get(..n)?, fec).ok()?;
            p.fec.reported();
            trace!("NACK to {} ranges {}", p.id, n);
            return Some(Transmit {
                to: Destination::Group,
                len,
            });
        }
        None
    }

    /// Sizes a batch from `first`: `(messages, messages_len, stopped_by_mtu)`.
    fn data_header(&self, first: Seq, repair: bool) -> DataOut<'static> {
        DataOut {
            stream: self.cfg.stream,
            topic: "",
            first_seq: first.raw(),
            qos: if self.cfg.fec_shape().is_some() {
                QOS_RELIABLE_FEC
            } else if self.reliable() {
                QOS_RELIABLE
            } else {
                QOS_BEST_EFFORT
            },
            repair,
            window_start: self.window.start().raw(),
        }
    }

    fn transmit_repair(
        &mut self,
        now: Instant,
        env: &Envelope,
        out: &mut [u8],
    ) -> Option<Transmit> {
        let (first, run) = self.window.repair_run()?;
        let mut hdr = self.data_header(first, true);
        let mut msgs = [MsgOut::default(); MAX_BATCH];
        let (n, len, _) = size_batch(&self.window, env, &mut hdr, run, out.len(), &mut msgs);
        if n == 0 {
            return None;
        }
        let len = len as u64;
        if !self.repair_bucket.try_take(now, len) {
            let at = self.repair_bucket.ready_at(now, len);
            self.set_timer(Timer::Repair, Some(at));
            return None;
        }
        if let Some(b) = self.data_bucket.as_mut()
            && !b.try_take(now, len)
        {
            let at = b.ready_at(now, len);
            self.set_timer(Timer::Pace, Some(at));
            return None;
        }
        let len = env.emit_data(out, &hdr, msgs.get(..n)?).ok()?;
        for k in 0..n {
            self.window.mark_repaired(first + k as u64, now);
        }
        self.stats.send.repairs += n as u64;
        self.stats.send.repair_datagrams += 1;
        Some(Transmit {
            to: Destination::Group,
            len,
        })
    }

    fn transmit_data(&mut self, now: Instant, env: &Envelope, out: &mut [u8]) -> Option<Transmit> {
        let unsent = self.window.unsent();
        if unsent == 0 {
            return None;
        }
        let first = self.window.next_send();
        let mut max = unsent;
        if self.reliable()
            && let Some(floor) = self.min_ack()
        {
            let limit = floor + u64::from(self.cfg.flow_window.get());
            max = max.min(usize::try_from(limit.distance_from(first)).unwrap_or(0));
            // And no more bytes than a receiver's ring holds.
            max = self.window.within_bytes(
                floor,
                first,
                max.min(MAX_BATCH),
                self.cfg.flow_bytes() as u64,
            );
        }
        if max == 0 {
            return None;
        }
        let mut hdr = self.data_header(first, false);
        let mut msgs = [MsgOut::default(); MAX_BATCH];
        let (n, frame_len, by_mtu) =
            size_batch(&self.window, env, &mut hdr, max, out.len(), &mut msgs);
        if n == 0 {
            return None;
        }
        let full = by_mtu || n < unsent;
        if let Some(t) = self
            .last_data_tx
            .map(|t| t + self.cfg.linger)
            .filter(|&t| !full && now < t)
        {
            self.set_timer(Timer::Linger, Some(t));
            return None;
        }
        let frame_len = frame_len as u64;
        if let Some(b) = self.data_bucket.as_mut()
            && !b.try_take(now, frame_len)
        {
            let at = b.ready_at(now, frame_len);
            self.set_timer(Timer::Pace, Some(at));
            return None;
        }
        let len = env.emit_data(out, &hdr, msgs.get(..n)?).ok()?;
        self.window.mark_sent(n);
        self.fec_sent(first, n);
        self.sent_any = true;
        if !self.reliable() {
            let upto = self.window.next_send();
            self.window.evict_below(upto);
        }
        self.stats.send.data_datagrams += 1;
        self.stats.send.data_bytes += len as u64;
        self.last_data_tx = Some(now);
        self.data_since_hb = true;
        self.hb_interval = self.cfg.heartbeat_interval;
        self.set_timer(Timer::Heartbeat, Some(now + self.hb_interval));
        self.set_timer(Timer::Linger, None);
        Some(Transmit {
            to: Destination::Group,
            len,
        })
    }

    fn transmit_heartbeat(
        &mut self,
        now: Instant,
        env: &Envelope,
        out: &mut [u8],
    ) -> Option<Transmit> {
        if !self.hb_pending {
            return None;
        }
        if self.fec.encoder.blocks.has_open() {
            // The stream went idle: its partial block gets parity first.
            self.fec_idle();
            if let Some(t) = self.transmit_parity(now, env, out) {
                return Some(t);
            }
        }
        self.hb_pending = false;
        let next_send = self.window.next_send();
        let mark = MarkOut {
            stream: self.cfg.stream,
            high_seq: next_send.prev().raw(),
            window_start: self.window.start().raw(),
            empty: !self.sent_any,
        };
        let echo = self
            .peers
            .iter_mut()
            .flatten()
            .filter(|p| p.echo.is_some())
            .min_by_key(|p| p.echo.map(|e| e.1));
        let mut hb = HeartbeatOut {
            mark: Some(mark),
            timestamp_us: now.total_micros(),
            ..HeartbeatOut::default()
        };
        if let Some(p) = echo
            && let Some((ts, at)) = p.echo.take()
        {
            hb.echo_to = Some(p.id);
            hb.echo_timestamp_us = ts;
            hb.echo_delay_us = (now - at).total_micros();
        }
        let quiet = !self.data_since_hb
            && self.window.unsent() == 0
            && self.min_ack().is_none_or(|a| a >= next_send);
        self.hb_interval = if quiet {
            (self.hb_interval * 2).min(self.cfg.heartbeat_max)
        } else {
            self.cfg.heartbeat_interval
        };
        self.data_since_hb = false;
        self.set_timer(Timer::Heartbeat, Some(now + self.hb_interval));
        let len = env.emit_heartbeat(out, &hb).ok()?;
        self.stats.send.heartbeats += 1;
        Some(Transmit {
            to: Destination::Group,
            len,
        })
    }
}

/// The messages of a data frame with header `hdr` (from its
/// `first_seq`, at most `max` of them and [`MAX_BATCH`]) that fit `mtu`
/// bytes, read from `window` once into `msgs`. The first message's topic
/// becomes the batch's (`hdr.topic`), so that the messages on it (in a
/// stream on one topic, all of them) do not repeat it. Returns how many,
/// the frame's length, and whether the MTU was the limit.
fn size_batch<'w>(
    window: &'w SendWindow<'_>,
    env: &Envelope,
    hdr: &mut DataOut<'w>,
    max: usize,
    mtu: usize,
    msgs: &mut [MsgOut<'w>; MAX_BATCH],
) -> (usize, usize, bool) {
    let first = Seq::new(hdr.first_seq);
    hdr.topic = window.get(first).map_or("", |h| h.topic);
    let sizer = env.data_sizer(hdr);
    let mut total = 0;
    for (k, m) in msgs.iter_mut().take(max).enumerate() {
        let Some(h) = window.get_on(first + k as u64, hdr.topic) else {
            return (k, sizer.len(total), false);
        };
        let Some(out) = msg_out(&h, hdr.topic) else {
            // Its empty topic would read as the batch's: it starts the
            // next batch.
            return (k, sizer.len(total), false);
        };
        let share = frames::batch_share(&out);
        if sizer.len(total + share) > mtu {
            return (k, sizer.len(total), true);
        }
        *m = out;
        total += share;
    }
    (max.min(MAX_BATCH), sizer.len(total), false)
}

/// A held message as written in a batch on `batch_topic`: without its
/// topic when it is the batch's (or when it is not a first fragment,
/// whose topic is not read). `None` for the empty topic in a batch on
/// another one, which the message cannot say.
fn msg_out<'b>(h: &Held<'b>, batch_topic: &str) -> Option<MsgOut<'b>> {
    // Read on the batch's topic, a message on it holds that very string.
    let topic = if h.fragment_index != 0 || core::ptr::eq(h.topic, batch_topic) {
        ""
    } else if h.topic.is_empty() {
        return None;
    } else {
        h.topic
    };
    Some(MsgOut {
        payload: h.payload,
        topic,
        fragment_index: h.fragment_index,
        fragment_count: h.fragment_count,
        total_len: h.total_len,
        recovered: None,
    })
}

#[cfg(test)]
mod tests {
    use core::num::NonZeroU32;
    use std::vec;
    use std::vec::Vec;

    use blaze_wire::{Duration, GroupId, Instant, MemberId};

    use crate::{Buffers, Config, Endpoint, Identity, RxSlot, SendSlot};

    type Store = (Vec<SendSlot>, Vec<u8>, Vec<u8>, Vec<RxSlot>, Vec<u8>);

    fn config() -> Config {
        let mut c = Config::lan();
        c.flow_window = NonZeroU32::new(16).unwrap();
        c.max_lag = NonZeroU32::new(24);
        c
    }

    fn store() -> Store {
        (
            vec![SendSlot::EMPTY; 32],
            vec![0; 64 * 1024],
            vec![0; crate::Buffers::recv_bytes_needed(&config(), 3, 16)],
            vec![RxSlot::EMPTY; crate::Buffers::recv_slots_needed(3, 16)],
            vec![0; 16 * 1024],
        )
    }

    fn endpoint(id: u128, s: &mut Store) -> Endpoint<'_, 3, 16> {
        let identity = Identity {
            member: MemberId::from_u128(id),
            group: GroupId::from_name("g"),
            seed: id as u64,
        };
        let buffers = Buffers {
            send_index: &mut s.0,
            send_bytes: &mut s.1,
            recv_bytes: &mut s.2,
            recv_slots: &mut s.3,
            reassembly: &mut s.4,
        };
        Endpoint::new(Instant::ZERO, config(), identity, buffers).unwrap()
    }

    /// The deadline `poll_timeout` hands out equals the one it computes
    /// afresh.
    fn check(e: &mut Endpoint<'_, 3, 16>) {
        let kept = e.poll_timeout();
        e.deadline = None;
        assert_eq!(kept, e.poll_timeout());
    }

    #[test]
    fn the_kept_deadline_is_the_one_computed_afresh() {
        let (mut sa, mut sb) = (store(), store());
        let (mut a, mut b) = (endpoint(1, &mut sa), endpoint(2, &mut sb));
        let mut now = Instant::from_micros(10);
        // A silent third receiver: `a` cuts it loose while sending.
        for id in [2, 3] {
            a.add_peer(now, MemberId::from_u128(id)).unwrap();
        }
        b.add_peer(now, MemberId::from_u128(1)).unwrap();
        let from = "10.0.0.1:5000".parse().unwrap();
        let mut buf = [0u8; 1500];
        let mut n = 0u32;
        for step in 0..400u32 {
            for _ in 0..3 {
                let _ = a.send_topic(now, "t", &step.to_le_bytes());
                check(&mut a);
            }
            while let Some(t) = a.poll_transmit(now, &mut buf) {
                check(&mut a);
                n += 1;
                // Every seventh datagram is lost: NACKs and repairs.
                if !n.is_multiple_of(7) {
                    b.handle_datagram(now, from, &buf[..t.len]);
                    check(&mut b);
                }
            }
            while let Some(t) = b.poll_transmit(now, &mut buf) {
                check(&mut b);
                a.handle_datagram(now, from, &buf[..t.len]);
                check(&mut a);
            }
            if step.is_multiple_of(3) {
                while b.poll_event(now).is_some() {
                    check(&mut b);
                }
            }
            now += Duration::from_micros(700);
            for e in [&mut a, &mut b] {
                if e.poll_timeout().is_some_and(|d| d <= now) {
                    e.handle_timeout(now);
                }
                check(e);
            }
        }
        assert!(
            a.stats().send.receivers_cut_loose > 0,
            "the laggard was cut"
        );
        assert!(a.stats().send.nacks_received > 0, "losses were repaired");
    }
}
