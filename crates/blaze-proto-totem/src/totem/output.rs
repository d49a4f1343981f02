//! Output: datagrams serialised from pending state, and borrowed events.

use blaze_wire::{DataMessage, Destination, Instant, MemberId, RecoveredMessage, Transmit};

use super::{MAX_BATCH, OutMsg, State, Step, Timer, Totem};
use crate::frames::{DataOut, Envelope, batch_share};
use crate::window::Msg;
use crate::{ConfigurationKind, Event};

impl<const N: usize, const W: usize, const P: usize, const Q: usize> Totem<'_, N, W, P, Q> {
    fn envelope(&self) -> Envelope {
        Envelope {
            group: self.group,
            sender: self.me,
        }
    }

    fn dest(&self, to: MemberId) -> Destination {
        self.addr_of(to)
            .map_or(Destination::Group, Destination::Peer)
    }

    /// Writes the next datagram into `buf`: pending data first (so the
    /// successor has it before the token), then a join, a commit token,
    /// the token.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.take_token_in(now);
        if self.token_held.is_some()
            && self.timers.due(Timer::TokenHold, now)
            && !self.timers.due(Timer::TokenLoss, now)
        {
            // The held token is wanted (a message queued here, a request
            // heard): use it now rather than at the next `handle_timeout`
            // (unless the ring is overdue: a stalled process must not take
            // its old token for a new visit before it notices the loss).
            self.timers.stop(Timer::TokenHold);
            self.on_timer(now, Timer::TokenHold);
        }
        while !self.outq.is_empty() {
            if let Some(len) = self.emit_data(buf) {
                return Some(Transmit {
                    to: Destination::Group,
                    len,
                });
            }
        }
        let env = self.envelope();
        if self.join_pending {
            self.join_pending = false;
            if self.state == State::Gather
                && let Ok(len) = env.emit_join(
                    buf,
                    &self.proc_set,
                    &self.fail_set,
                    self.max_ring_seq,
                    self.config.services,
                )
            {
                return Some(Transmit {
                    to: Destination::Group,
                    len,
                });
            }
        }
        if self.merge_pending || self.request_pending {
            // A ring announcement is an empty data batch on the ring with
            // `first_seq` 0; a token request the same with the sequence
            // number after this member's aru (never 0). The request goes
            // first when both are due; the announcement at the next call.
            let request = self.request_pending;
            if request {
                self.request_pending = false;
            } else {
                self.merge_pending = false;
            }
            let hdr = DataOut {
                ring: self.tag,
                first_seq: if request {
                    self.pos.my_aru.saturating_add(1)
                } else {
                    0
                },
                safe: false,
                repair: false,
                recovered_from: None,
            };
            if self.state == State::Operational
                && let Ok(len) = env.emit_data(buf, self.me, &hdr, &[])
            {
                return Some(Transmit {
                    to: Destination::Group,
                    len,
                });
            }
        }
        if self.commit_out {
            self.commit_out = false;
            if let Some(c) = &self.commit {
                let n = c.members.len() as u64;
                let idx = usize::try_from(c.hop % n.max(1)).unwrap_or(0);
                let target = c.members.get(idx).copied().unwrap_or(self.me);
                let hop = c.hop;
                if let Ok(len) = env.emit_commit(buf, c) {
                    if self.commit_fwd != Some(hop) {
                        self.commit_fwd = Some(hop);
                        self.arm_retransmit(now);
                    }
                    return Some(Transmit {
                        to: self.dest(target),
                        len,
                    });
                }
            }
        }
        if let Some(t) = self.token_out.take()
            && let Ok(len) = env.emit_token(buf, &t)
        {
            let to = self.dest(t.next);
            let fresh = self
                .token_fwd
                .as_ref()
                .is_none_or(|f| f.token_seq != t.token_seq);
            if fresh {
                self.arm_retransmit(now);
            }
            self.token_fwd = Some(t);
            return Some(Transmit { to, len });
        }
        None
    }

    /// Emits one batch from the front of `outq`; `None` when the front
    /// entry had to be dropped.
    fn emit_data(&mut self, buf: &mut [u8]) -> Option<usize> {
        let env = self.envelope();
        let first = *self.outq.front()?;
        match first {
            OutMsg::Regular { abs, repair } => {
                let Some(slot) = self.window.get(abs) else {
                    let _ = self.outq.pop_front();
                    return None;
                };
                let hdr = DataOut {
                    ring: self.tag,
                    first_seq: slot.seq,
                    safe: slot.safe,
                    repair,
                    recovered_from: None,
                };
                let origin = slot.sender;
                let mut msgs = [DataMessage::default(); MAX_BATCH];
                let mut count = 0usize;
                let mut share = 0usize;
                for (i, m) in self.outq.iter().enumerate() {
                    let OutMsg::Regular { abs: a, repair: r } = *m else {
                        break;
                    };
                    let Some(s) = self.window.get(a) else { break };
                    let consecutive = a == abs + i as u64;
                    let add = batch_share(s.topic().len(), s.payload().len(), None);
                    if !consecutive
                        || r != repair
                        || s.sender != origin
                        || s.safe != hdr.safe
                        || count >= MAX_BATCH
                        || env.data_len(&hdr, share + add) > buf.len()
                    {
                        break;
                    }
                    if let Some(slot) = msgs.get_mut(count) {
                        *slot = DataMessage {
                            payload: s.payload(),
                            topic: s.topic(),
                            ..DataMessage::default()
                        };
                    }
                    count += 1;
                    share += add;
                }
                let out = msgs.get(..count).unwrap_or(&[]);
                let len = if count == 0 {
                    None
                } else {
                    env.emit_data(buf, origin, &hdr, out).ok()
                };
                for _ in 0..count.max(1) {
                    let _ = self.outq.pop_front();
                }
                if len.is_none() {
                    self.stats.oversized += 1;
                }
                len
            }
            OutMsg::Recovered { new_seq, .. } => {
                let hdr = DataOut {
                    ring: self.tag,
                    first_seq: new_seq,
                    safe: false,
                    repair: false,
                    recovered_from: Some(self.recovery.old_tag),
                };
                let mut msgs = [DataMessage::default(); MAX_BATCH];
                let mut count = 0usize;
                let mut share = 0usize;
                for (i, m) in self.outq.iter().enumerate() {
                    let OutMsg::Recovered {
                        new_seq: s,
                        old_abs,
                    } = *m
                    else {
                        break;
                    };
                    let Some(slot) = self.window.get(old_abs) else {
                        break;
                    };
                    let origin = RecoveredMessage {
                        sender: Some(slot.sender),
                        seq: slot.seq,
                        safe: slot.safe,
                    };
                    let add = batch_share(slot.topic().len(), slot.payload().len(), Some(&origin));
                    if s != new_seq + i as u64
                        || count >= MAX_BATCH
                        || env.data_len(&hdr, share + add) > buf.len()
                    {
                        break;
                    }
                    if let Some(m) = msgs.get_mut(count) {
                        *m = DataMessage {
                            payload: slot.payload(),
                            topic: slot.topic(),
                            recovered: Some(origin),
                            ..DataMessage::default()
                        };
                    }
                    count += 1;
                    share += add;
                }
                let out = msgs.get(..count).unwrap_or(&[]);
                let len = if count == 0 {
                    None
                } else {
                    env.emit_data(buf, self.me, &hdr, out).ok()
                };
                for _ in 0..count.max(1) {
                    let _ = self.outq.pop_front();
                }
                if len.is_none() {
                    self.stats.oversized += 1;
                }
                len
            }
        }
    }

    /// The event [`poll_event`](Self::poll_event) would give now, without
    /// taking it (for a caller that must know what comes before it
    /// borrows the member for it). `None` is also given at the end of a
    /// planned delivery (a recovery's, or the ring's before a
    /// configuration change) and when the next planned message is lost
    /// (`poll_event` goes on past them); an event given is exactly the
    /// next one.
    #[must_use]
    pub fn peek_event(&self) -> Option<Event<'_>> {
        let s = match self.plan.front().copied() {
            Some(Step::Config(kind)) => return Some(self.configuration(kind)),
            Some(Step::Deliver { from, to }) if from <= to => self.window.get(from)?,
            // A planned delivery done: `poll_event` goes on to the next step.
            Some(Step::Deliver { .. }) => return None,
            None if self.state == State::Operational => {
                let next = self.pos.delivered + 1;
                let s = self.window.get(self.pos.offset + next)?;
                if s.safe && next > self.pos.safe_upto {
                    return None;
                }
                s
            }
            None => return None,
        };
        Some(delivery(s))
    }

    /// The next event: deliveries in total order and configuration changes
    /// (see [`Event`]), borrowed from the member's storage.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        while let Some(step) = self.plan.front().copied() {
            match step {
                Step::Deliver { from, to } => {
                    let mut a = from;
                    while a <= to && !self.window.has(a) {
                        self.stats.unrecoverable += 1;
                        a += 1;
                    }
                    if a > to {
                        let _ = self.plan.pop_front();
                        continue;
                    }
                    if let Some(f) = self.plan.front_mut() {
                        *f = Step::Deliver { from: a + 1, to };
                    }
                    self.window.set_base(a);
                    return self.window.get(a).map(delivery);
                }
                Step::Config(kind) => {
                    let _ = self.plan.pop_front();
                    return Some(self.configuration(kind));
                }
            }
        }
        if self.state != State::Operational {
            return None;
        }
        let pos = self.pos;
        self.window
            .set_base(pos.offset + pos.delivered.min(pos.safe_upto) + 1);
        let next = pos.delivered + 1;
        let s = self.window.get(pos.offset + next)?;
        if s.safe && next > pos.safe_upto {
            return None;
        }
        self.pos.delivered = next;
        self.window.get(pos.offset + next).map(delivery)
    }

    /// The configuration-change event of a planned step of `kind`.
    fn configuration(&self, kind: ConfigurationKind) -> Event<'_> {
        let members: &[MemberId] = match kind {
            ConfigurationKind::Transitional => &self.trans_members,
            ConfigurationKind::Regular => &self.members,
        };
        Event::ConfigurationChange {
            kind,
            ring: self.plan_ring,
            members,
        }
    }
}

/// The delivery event of a stored message.
fn delivery(s: Msg<'_>) -> Event<'_> {
    Event::Deliver {
        sender: s.sender,
        seq: s.seq,
        safe: s.safe,
        topic: s.topic(),
        payload: s.payload(),
    }
}
